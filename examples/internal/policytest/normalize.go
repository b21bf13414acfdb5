package policytest

import (
	"context"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/plugins"
)

// BadConfig is a configuration a policy must refuse, and a part of the
// reason its load error must give.
type BadConfig struct {
	Config map[string]any
	Want   string
}

// NormalizeBadConfigs are the configurations every version of the normalize
// policy (examples/normalize in Go, normalize-c, normalize-as) refuses: its
// only option is "drop", an array of 0 to 32 non-empty strings of at most
// 64 bytes.
var NormalizeBadConfigs = []BadConfig{
	{map[string]any{"other": 1}, "unknown key"},
	{map[string]any{"drop": []any{"utm_*"}, "dorp": []any{}}, "unknown key"},
	{map[string]any{"drop": "utm_*"}, "drop: want an array"},
	{map[string]any{"drop": []any{1}}, "non-empty string"},
	{map[string]any{"drop": []any{""}}, "non-empty string"},
	{map[string]any{"drop": []any{strings.Repeat("a", 65)}}, "non-empty string"},
	{map[string]any{"drop": make33()}, "at most 32 patterns"},
}

func make33() []any {
	l := make([]any, 33)
	for i := range l {
		l[i] = "p"
	}
	return l
}

// CheckBadConfigs loads wasm with each configuration of cases and fails the
// test unless every load fails with an error containing the case's Want.
func CheckBadConfigs(t *testing.T, wasm []byte, cases []BadConfig) {
	t.Helper()
	ctx := context.Background()
	rt, err := plugins.NewRuntime(plugins.Options{CacheDir: CacheDir(t)})
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(ctx); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	for _, c := range cases {
		cfg := plugins.DefaultConfig()
		cfg.Config = c.Config
		m, err := rt.LoadBytes(ctx, t.Name(), wasm, &cfg)
		if err == nil {
			if err := m.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			t.Errorf("config %v: loaded, want an error mentioning %q", c.Config, c.Want)
			continue
		}
		if !strings.Contains(err.Error(), c.Want) {
			t.Errorf("config %v: error %q, want it to mention %q", c.Config, err, c.Want)
		}
	}
}
