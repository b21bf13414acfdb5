package gateway

import (
	"testing"
	"time"
)

// TestSessionStore: a session ends at its expiry, with a token change and
// when closed; the store keeps at most adminSessionMax.
func TestSessionStore(t *testing.T) {
	t.Parallel()
	var s sessionStore
	now := time.Unix(1e9, 0)
	id, sess := s.open("tok", now)
	if got := s.get([]byte(id), "tok", now.Add(time.Hour)); got != sess {
		t.Fatalf("live session not found")
	}
	if got := s.get([]byte(id), "new-token", now); got != nil {
		t.Errorf("session honoured after a token change")
	}
	if got := s.get([]byte(id), "tok", now); got != nil {
		t.Errorf("session kept after it was refused for another token")
	}
	id, _ = s.open("tok", now)
	if got := s.get([]byte(id), "tok", now.Add(adminSessionTTL)); got != nil {
		t.Errorf("session honoured at its expiry")
	}
	id, _ = s.open("tok", now)
	s.close([]byte(id))
	if got := s.get([]byte(id), "tok", now); got != nil {
		t.Errorf("session honoured after logout")
	}
	first, _ := s.open("tok", now)
	for i := range adminSessionMax {
		s.open("tok", now.Add(time.Duration(i+1)*time.Second))
	}
	if len(s.m) != adminSessionMax || s.get([]byte(first), "tok", now) != nil {
		t.Errorf("%d sessions, oldest kept: %v; want %d, the oldest gone", len(s.m), s.get([]byte(first), "tok", now) != nil, adminSessionMax)
	}
}
