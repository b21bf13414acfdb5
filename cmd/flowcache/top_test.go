package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Test_run_top: `flowcache top` prints the hottest URLs of a running
// gateway once when stdout is not a terminal; a bad flag value is the
// admin API's error.
func Test_run_top(t *testing.T) {
	t.Parallel()
	listen, admin := serveSimple(t, t.TempDir(), "")
	for range 300 {
		get(t, "http://"+listen+"/hot")
	}
	get(t, "http://"+listen+"/cold")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"top", "-admin", "http://" + admin, "-n", "1"}, &out, &errb); err != nil {
		t.Fatalf("top: %v\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "flowcache top: all routes by requests, half-life 60s") ||
		!strings.HasPrefix(lines[2], "COUNT") || !strings.HasSuffix(lines[3], "api    127.0.0.1/hot") { // the host without its port, as normalised
		t.Errorf("top output:\n%s", out.String())
	}
	t.Logf("flowcache top -n 1:\n%s", out.String())
	err := run(context.Background(), []string{"top", "-admin", "http://" + admin, "-by", "latency"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "by: must be requests, bytes or misses") {
		t.Errorf("top -by latency: %v", err)
	}
}
