package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Test_run_policyRollout drives a rollout through the CLI: a shadow push
// and its report, a canary step, a promotion, a push refused by its
// vectors, a delete.
func Test_run_policyRollout(t *testing.T) {
	t.Parallel()
	_, listen, admin := servePolicies(t, "")
	adminURL := "http://" + admin
	dir := t.TempDir()
	wasm, err := os.ReadFile("testdata/policies/tagged.wasm")
	if err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(dir, "v1.wasm")
	if err := os.WriteFile(v1, bytes.Replace(wasm, []byte("v0000000"), []byte("v0000001"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	vectors := filepath.Join(dir, "vectors.json")
	if err := os.WriteFile(vectors, []byte(`[{"name": "keeps the query", "request": {"host": "h.test", "path": "/a", "query": "q=1"}, "key": {"host": "h.test", "target": "/a?q=1"}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(t.Context(), append([]string{"policy"}, args...), &out, &errb)
		if err != nil {
			return out.String() + errb.String() + err.Error(), err
		}
		return out.String() + errb.String(), nil
	}
	must := func(want string, args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("policy %s = %q, %v; want %q", strings.Join(args, " "), out, err, want)
		}
		return out
	}
	mustFail := func(want string, args ...string) {
		t.Helper()
		out, err := cli(args...)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("policy %s = %q, %v; want an error with %q", strings.Join(args, " "), out, err, want)
		}
	}

	must("staged as shadow at 100% beside", "push", "-admin", adminURL, "-shadow", "-sample", "100%", "tagged", v1)
	for _, p := range []string{"/a", "/b", "/c"} {
		if status, _, body := get(t, "http://"+listen+p); status != 200 || body != "v0000000" {
			t.Fatalf("GET %s under a shadow = %d %q, want the active version's answer", p, status, body)
		}
	}
	var out string
	for range 100 { // the shadow's worker runs beside: bounded wait for its count
		out = must("key differences", "shadow", "-admin", adminURL, "tagged")
		if strings.Contains(out, "key difference: GET") {
			break
		}
	}
	if !strings.Contains(out, "key difference: GET") || !strings.Contains(out, "?tag=v0000001") {
		t.Errorf("shadow report:\n%s\nwant the differing keys", out)
	}
	mustFail("scope=cluster needs [redis]", "shadow", "-admin", adminURL, "-cluster", "tagged")
	must("canary", "canary", "-admin", adminURL, "tagged", "50%")
	if out := must("CANDIDATE", "list", "-admin", adminURL); !strings.Contains(out, "canary ") || !strings.Contains(out, " 50%") {
		t.Errorf("list with a canary:\n%s\nwant its mode and share", out)
	}
	must("no candidate", "promote", "-admin", adminURL, "tagged")
	if status, _, body := get(t, "http://"+listen+"/d"); status != 200 || body != "v0000001" {
		t.Errorf("GET after promote = %d %q, want the promoted version", status, body)
	}
	mustFail("golden vectors failed: 1 of 1 cases", "push", "-admin", adminURL, "-vectors", vectors, "tagged", v1)
	mustFail(`key.target: want "/a?q=1", got "/a?tag=v0000001"`, "push", "-admin", adminURL, "-vectors", vectors, "tagged", v1)
	mustFail("-sample is the shadow's sample", "push", "-admin", adminURL, "-sample", "5%", "tagged", v1)
	mustFail("409 Conflict", "discard", "-admin", adminURL, "tagged")
	mustFail("no active version to stage", "push", "-admin", adminURL, "-canary", "5%", "extra", v1)
	must("extra: version", "push", "-admin", adminURL, "extra", v1)
	mustFail("used by routes api", "delete", "-admin", adminURL, "tagged")
	must("extra: deleted", "delete", "-admin", adminURL, "extra")
	if out := must("NAME", "list", "-admin", adminURL); strings.Contains(out, "extra") {
		t.Errorf("list after delete:\n%s", out)
	}
}

// TestConfig_rollout: the [rollout] keys are validated with their path.
func TestConfig_rollout(t *testing.T) {
	t.Parallel()
	_, err := decodeConfig("c.toml", []byte("[rollout]\nmax_failure_rate = 2\nwindow = \"48h\"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "rollout.max_failure_rate") || !strings.Contains(err.Error(), "rollout.window") {
		t.Errorf("decodeConfig = %v, want errors naming rollout.max_failure_rate and rollout.window", err)
	}
	src := "[[routes]]\nname = \"r\"\nupstreams = [\"http://127.0.0.1:1\"]\n[rollout]\nmin_calls = 50\nmax_fallback_rate = 0.1\nwindow = \"1m\"\n"
	if _, err := decodeConfig("c.toml", []byte(src), nil); err != nil {
		t.Errorf("valid [rollout]: %v", err)
	}
}
