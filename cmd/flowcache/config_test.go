package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
)

var update = flag.Bool("update", false, "rewrite the .golden files (checkGolden)")

// TestLoadConfig_Errors checks the message of every broken file in
// testdata/config against its .golden file. Run with -update to rewrite them.
func TestLoadConfig_Errors(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/config/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/config/*.toml")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(file)
			if err == nil {
				t.Fatalf("loadConfig(%q) = nil error, want one", file)
			}
			checkGolden(t, file, "loadConfig(%q) error", err)
		})
	}
}

// checkGolden compares err's message with the .golden file beside file
// (rewritten instead with -update); what names the call in a failure.
func checkGolden(t *testing.T, file, what string, err error) {
	t.Helper()
	got := err.Error() + "\n"
	golden := strings.TrimSuffix(file, ".toml") + ".golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf(what+":\n%s\nwant:\n%s", file, got, want)
	}
}

func TestLoadConfig_Valid(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/valid/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The documented example at the root of the repository must load.
	files = append(files, filepath.Join("..", "..", "config.toml"))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(file)
			if err != nil {
				t.Fatalf("loadConfig(%q): %v", file, err)
			}
			for i, r := range cfg.Routes {
				if r.Policy == "" || r.PathPrefix == "" || r.Timeout == 0 {
					t.Errorf("routes[%d] = %+v, want route defaults filled", i, r)
				}
			}
		})
	}
}

func TestLoadConfig_Values(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig("testdata/valid/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	def := gateway.DefaultConfig()
	tests := []struct {
		name      string
		got, want any
	}{
		{"server.listen", cfg.Server.Listen, "0.0.0.0:8080"},
		{"server.read_header_timeout", cfg.Server.ReadHeaderTimeout.D(), 5 * time.Second},
		{"server.read_timeout (default)", cfg.Server.ReadTimeout, def.Server.ReadTimeout},
		{"server.max_header_size", int64(cfg.Server.MaxHeaderSize), int64(32 << 10)},
		{"server.max_body_size", int64(cfg.Server.MaxBodySize), int64(1 << 20)},
		{"server.max_conns (default, finite)", cfg.Server.MaxConns, 10000},
		{"admin.token", cfg.Admin.Token, "s3cret # not a comment"},
		{"cache.l1_size", int64(cfg.Cache.L1Size), int64(1 << 30)},
		{"cache.honor_client_no_cache (default)", cfg.Cache.HonorClientNoCache, true},
		{"cache.stale_if_error", cfg.Cache.StaleIfError.D(), time.Hour},
		{"routes[0].stale_if_error (unset)", cfg.Routes[0].StaleIfError == nil, true},
		{"log.format", cfg.Log.Format, "json"},
		{"len(routes)", len(cfg.Routes), 2},
		{"routes[0].upstreams[1]", cfg.Routes[0].Upstreams[1], "http://10.0.0.2:8080"},
		{"routes[0].default_ttl", cfg.Routes[0].DefaultTTL.D(), time.Minute},
		{"routes[1].host (default)", cfg.Routes[1].Host, "*"},
		{"routes[1].no_cache", cfg.Routes[1].NoCache, true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadConfig_Missing(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Fatalf("loadConfig(missing) = %v, want a not-exist error", err)
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestEmbeddedConfig(t *testing.T) {
	t.Parallel()
	cfg := embeddedConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("embeddedConfig().Validate() = %v", err)
	}
	if len(cfg.Routes) != 1 || cfg.Routes[0].Upstreams[0] != exampleOrigin || cfg.Routes[0].PathPrefix != "/" {
		t.Errorf("embeddedConfig().Routes = %+v, want one catch-all route to %s", cfg.Routes, exampleOrigin)
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"listen", "listen", 0},
		{"listn", "listen", 1},
		{"upstream", "upstreams", 1},
		{"max_fail", "max_fails", 1},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzLoadConfig checks that no input makes config loading panic, and that
// every rejected input is reported with the file name.
func FuzzLoadConfig(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.toml") // a bad pattern is a programmer error caught by the seeds being empty
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("[[routes]]\nname = \"a\"\nupstreams = [[\"x\"]]\n"))
	f.Add([]byte("a = {b = {c = [1, {d = 2}]}}\n[a.\"b c\"]\n'x' = '''\n[y]\n'''\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, err := decodeConfig("fuzz.toml", src, nil)
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.toml") {
			t.Errorf("decodeConfig error %q does not start with the file name", err)
		}
	})
}

func TestKnownKeys(t *testing.T) {
	t.Parallel()
	type policy struct {
		Module string         `toml:"module"`
		Config map[string]any `toml:"config"`
		Any    any            `toml:"any"`
	}
	type cfg struct {
		Policies map[string]policy `toml:"policies"`
	}
	typ := reflect.TypeFor[cfg]()
	if got := knownKeys(typ, []string{"policies", "norm"}); strings.Join(got, ",") != "module,config,any" {
		t.Errorf("knownKeys(policies.norm) = %q, want module, config, any", got)
	}
}

// TestLoadConfig_EveryProblem: one run reports every kind of problem of a
// file, each at its line: values of the wrong type (a scalar, an array, an
// element of an array, a table), of the wrong format, unknown keys and
// what Validate finds; and nothing about the defaults that the values
// which did not decode kept (routes[0] has no upstream left, but that is
// not reported twice).
func TestLoadConfig_EveryProblem(t *testing.T) {
	t.Parallel()
	_, err := loadConfig("testdata/config/several_kinds.toml")
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("loadConfig error = %v, want a *configError", err)
	}
	want := []struct {
		line int
		path string
		msg  string
	}{
		{5, "server.max_conns", `want an integer, got the string "many"`},
		{6, "server.listen", `invalid address "8080" (want host:port)`},
		{9, "cache.l1_size", `invalid size "256 megabytes": want e.g. "512KiB", "8MiB", "1GB"`},
		{10, "cache.default_tll", `unknown key (did you mean "default_ttl"?)`},
		{14, "routes[0].upstreams", `want an array, got the string "http://127.0.0.1:9000"`},
		{15, "routes[0].timeout", `invalid duration "5 seconds" (want e.g. "500ms", "5s", "1h")`},
		{16, "routes[0].path_prefix", `must start with "/"; got "api"`},
		{20, "routes[1].upstreams[1]", "want a string, got the integer 42"},
		{23, "log.level", `must be one of debug, info, warn, error; got "verbose"`},
		{24, "log.access", "want a string, got a table"},
	}
	if len(ce.problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ce.problems), len(want), err)
	}
	for i := range min(len(ce.problems), len(want)) {
		got, w := ce.problems[i], want[i]
		if got.line != w.line || got.path != w.path || got.msg != w.msg {
			t.Errorf("problem %d = line %d %s: %s\nwant line %d %s: %s", i, got.line, got.path, got.msg, w.line, w.path, w.msg)
		}
	}
}

func TestMismatchWords(t *testing.T) {
	t.Parallel()
	wants := []struct {
		v    any
		want string
	}{
		{"", "a string"},
		{0, "an integer"},
		{uint8(0), "an integer"},
		{0.5, "a number"},
		{false, "a boolean (true or false)"},
		{[]string{}, "an array"},
		{map[string]any{}, "a table"},
		{gateway.RouteConfig{}, "a table"},
		{gateway.DefaultConfig().Server.ReadTimeout, "a string"}, // a duration, decoded from text
		{new(int), "an integer"},
	}
	for _, tt := range wants {
		if got := tomlWant(reflect.TypeOf(tt.v)); got != tt.want {
			t.Errorf("tomlWant(%T) = %q, want %q", tt.v, got, tt.want)
		}
	}
	values := []struct {
		v    any
		want string
	}{
		{"many", `the string "many"`},
		{strings.Repeat("x", 41), "a string"},
		{int64(42), "the integer 42"},
		{1.5, "the number 1.5"},
		{true, "the boolean true"},
		{[]any{1}, "an array"},
		{[]map[string]any{{}}, "an array"},
		{map[string]any{}, "a table"},
		{time.Time{}, "a date or time"},
	}
	for _, tt := range values {
		if got := tomlValue(tt.v); got != tt.want {
			t.Errorf("tomlValue(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
