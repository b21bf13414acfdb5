package gateway

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// TestAuditLog_Ring: the ring keeps the newest auditRingSize events,
// newest first.
func TestAuditLog_Ring(t *testing.T) {
	t.Parallel()
	a := newAuditLog(&RedisConfig{}, "n", metrics.NewSet(), slog.New(slog.DiscardHandler))
	if got := a.local(10); len(got) != 0 {
		t.Fatalf("empty ring: %d events", len(got))
	}
	for i := range auditRingSize + 5 {
		a.record(AuditEvent{Action: "a", Count: i})
	}
	got := a.local(2 * auditRingSize)
	if len(got) != auditRingSize || got[0].Count != auditRingSize+4 || got[auditRingSize-1].Count != 5 || got[0].Node != "n" {
		t.Errorf("ring: %d events, newest %d, oldest %d; want %d, %d, 5", len(got), got[0].Count, got[len(got)-1].Count, auditRingSize, auditRingSize+4)
	}
	a.record(AuditEvent{Target: strings.Repeat("x", 2*auditTargetMax)})
	if got := a.local(1)[0].Target; len(got) != auditTargetMax+3 {
		t.Errorf("long target kept as %d bytes, want %d", len(got), auditTargetMax+3)
	}
}
