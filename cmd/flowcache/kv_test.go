package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// TestKVCommands: kv put, get, mget and del against a gateway's
// look-aside API (a loopback namespace, no token).
func TestKVCommands(t *testing.T) {
	t.Parallel()
	cfg := gatewaytest.Config("http://127.0.0.1:1")
	cfg.KV.Listen = "127.0.0.1:0"
	cfg.KV.Namespaces = map[string]gateway.KVNamespaceConfig{"ns": {}}
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.ServeKV(ln) }() // ends with the gateway's Shutdown
	base := "http://localhost:" + strings.Split(ln.Addr().String(), ":")[1]
	kv := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"kv", args[0], "-kv", base}, args[1:]...), &out, &errb)
		return out.String(), err
	}
	if _, err := kv("put", "-ttl", "1m", "-type", "text/plain", "ns", "a/b", "hello"); err != nil {
		t.Fatalf("kv put: %v", err)
	}
	if out, err := kv("get", "ns", "a/b"); err != nil || out != "hello" {
		t.Fatalf("kv get = %q, %v", out, err)
	}
	out, err := kv("mget", "ns", "a/b", "nope")
	if err != nil || !strings.Contains(out, `"a/b": "hello"`) || !strings.Contains(out, `"nope": null`) {
		t.Fatalf("kv mget = %q, %v", out, err)
	}
	if _, err := kv("del", "ns", "a/b"); err != nil {
		t.Fatalf("kv del: %v", err)
	}
	if _, err := kv("get", "ns", "a/b"); !errors.Is(err, errKVMiss) {
		t.Fatalf("kv get after del: %v, want %v", err, errKVMiss)
	}
	if _, err := kv("get", "ns"); !errors.Is(err, errUsage) {
		t.Fatalf("kv get without a key: %v, want usage", err)
	}
}

// Test_run_serveKV: serve with [kv] listen answers the look-aside API
// (through kv put/get), and stops cleanly.
func Test_run_serveKV(t *testing.T) {
	t.Parallel()
	listen, admin, kvAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(`
[server]
listen = %q
shutdown_timeout = "5s"
[admin]
listen = %q
[log]
level = "warn"
[kv]
listen = %q
[kv.namespaces.users]
tier = "l1"
[[routes]]
name = "test"
upstreams = ["http://127.0.0.1:9"]
`, listen, admin, kvAddr))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr lockedBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"serve", "-config", cfg}, io.Discard, &stderr) }()
	waitListening(t, kvAddr, errc)
	base := "http://" + kvAddr
	if err := run(ctx, []string{"kv", "put", "-kv", base, "users", "42", "Ada"}, io.Discard, io.Discard); err != nil {
		t.Fatalf("kv put: %v", err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"kv", "get", "-kv", base, "users", "42"}, &out, io.Discard); err != nil || out.String() != "Ada" {
		t.Fatalf("kv get = %q, %v", out.String(), err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run(serve) = %v after cancel, want nil\nstderr:\n%s", err, stderr.String())
	}
}
