package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Test_run_inspect: `flowcache inspect URL` prints the route, key, tiers,
// answer and the stored entry of a URL a running gateway cached.
func Test_run_inspect(t *testing.T) {
	t.Parallel()
	listen, admin := serveSimple(t, t.TempDir(), "")
	get(t, "http://"+listen+"/page?x=1")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"inspect", "-admin", "http://" + admin, "-H", "Accept-Language: fr", "http://127.0.0.1/page?x=1"}, &out, &errb); err != nil {
		t.Fatalf("inspect: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"route   api", "key     127.0.0.1 /page?x=1", "(L1: yes, L2: no)", "answer  hit  (Cache-Status: flowcache; hit; ttl=", "*  -        yes  no  200"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("flowcache inspect:\n%s", out.String())
	out.Reset()
	if err := run(context.Background(), []string{"inspect", "-admin", "http://" + admin, "-json", "http://127.0.0.1/none"}, &out, &errb); err != nil || !strings.Contains(out.String(), `"answer":"miss"`) {
		t.Errorf("inspect -json of a URL not stored: %v %s", err, out.String())
	}
	err := run(context.Background(), []string{"inspect", "-admin", "http://" + admin, "/relative"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "absolute http or https URL") {
		t.Errorf("inspect /relative: %v", err)
	}
}
