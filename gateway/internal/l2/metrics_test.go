package l2

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/flowcache/flowcache/gateway/internal/l2/redistest"
)

func TestTier_RegisterMetrics(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	tr := newTier(t, ModeStandalone, []string{r.Addr}, nil, Deps{})
	set := metrics.NewSet()
	tr.RegisterMetrics(set)
	setSync(t, tr, "k", "v", time.Minute, Index{})
	if _, err := get(t, tr, "k"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, want := range []string{
		"flowcache_l2_hits_total 1\n",
		"flowcache_l2_writes_total 1\n",
		"flowcache_l2_breaker_state 0\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}
