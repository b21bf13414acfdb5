package policytest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// source serves loaded modules by name (gateway.PolicySource).
type source map[string]policy.Policy

func (s source) Policy(name string) (policy.Policy, bool) {
	p, ok := s[name]
	return p, ok
}

// StartGateway starts an origin serving h and a real gateway (no Redis)
// whose catch-all route uses wasm, loaded through plugins with config, as
// its policy "example". Both stop when the test ends.
func StartGateway(t testing.TB, wasm []byte, config map[string]any, h fasthttp.RequestHandler) (*gatewaytest.Gateway, *gatewaytest.Origin) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "example.wasm")
	if err := os.WriteFile(file, wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	origin := gatewaytest.StartOrigin(t, h)
	cfg := gatewaytest.Config(origin.URL)
	pc := plugins.Config{Module: file, Config: config}
	gateway.PolicyDefaults(&pc)
	cfg.Policies = map[string]plugins.Config{"example": pc}
	cfg.Routes[0].Policy = "example"
	g := gatewaytest.StartGateway(t, cfg, gateway.Options{Policies: source{"example": Load(t, wasm, config)}})
	return g, origin
}
