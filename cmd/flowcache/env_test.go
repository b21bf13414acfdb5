package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowcache/flowcache/gateway"
)

// TestEnvConfig_Values: the environment alone is a complete configuration,
// every kind of value decoded (string, list, integer, boolean, size,
// duration, optional duration, JSON table, secret from a file).
func TestEnvConfig_Values(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, set, err := envConfig([]string{
		"PATH=/usr/bin",
		"FLOWCACHE_SERVER_LISTEN=0.0.0.0:8080",
		"FLOWCACHE_SERVER_MAX_CONNS=42",
		"FLOWCACHE_SERVER_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.1",
		"FLOWCACHE_ADMIN_TOKEN_FILE=" + secret,
		"FLOWCACHE_CACHE_L1_SIZE=64MiB",
		"FLOWCACHE_CACHE_HONOR_CLIENT_NO_CACHE=false",
		"FLOWCACHE_REDIS_ADDRS=a:6379,b:6379",
		"FLOWCACHE_REDIS_MODE=cluster",
		"FLOWCACHE_ROUTES_1_NAME=web",
		"FLOWCACHE_ROUTES_1_UPSTREAMS=http://web:80",
		"FLOWCACHE_ROUTES_1_HOST=www.example.com",
		"FLOWCACHE_ROUTES_0_NAME=api",
		"FLOWCACHE_ROUTES_0_UPSTREAMS=http://api:8080,http://api2:8080",
		"FLOWCACHE_ROUTES_0_DEFAULT_TTL=1m",
		"FLOWCACHE_ROUTES_0_POLICY=norm_v2",
		"FLOWCACHE_POLICIES_NORM_V2_MODULE=/policies/normalize.wasm",
		"FLOWCACHE_POLICIES_NORM_V2_MAX_MEMORY=16MiB",
		`FLOWCACHE_POLICIES_NORM_V2_CONFIG={"drop":["utm_*"]}`,
		"FLOWCACHE_LOG_LEVEL=", // empty: unset
	})
	if err != nil || !set {
		t.Fatalf("envConfig = %v, set %v", err, set)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"server.listen", cfg.Server.Listen, "0.0.0.0:8080"},
		{"server.max_conns", cfg.Server.MaxConns, 42},
		{"server.trusted_proxies", strings.Join(cfg.Server.TrustedProxies, "|"), "10.0.0.0/8|192.168.0.1"},
		{"admin.token", cfg.Admin.Token, "file-token"},
		{"cache.l1_size", int64(cfg.Cache.L1Size), int64(64 << 20)},
		{"cache.honor_client_no_cache", cfg.Cache.HonorClientNoCache, false},
		{"redis.addrs", strings.Join(cfg.Redis.Addrs, "|"), "a:6379|b:6379"},
		{"redis.mode", cfg.Redis.Mode, "cluster"},
		{"len(routes)", len(cfg.Routes), 2},
		{"routes[0].name", cfg.Routes[0].Name, "api"},
		{"routes[0].upstreams[1]", cfg.Routes[0].Upstreams[1], "http://api2:8080"},
		{"routes[0].default_ttl", cfg.Routes[0].DefaultTTL.D(), time.Minute},
		{"routes[0].timeout (default)", cfg.Routes[0].Timeout.D(), 30 * time.Second},
		{"routes[1].host", cfg.Routes[1].Host, "www.example.com"},
		{"policies.norm_v2.module", cfg.Policies["norm_v2"].Module, "/policies/normalize.wasm"},
		{"policies.norm_v2.max_memory", int64(cfg.Policies["norm_v2"].MaxMemory), int64(16 << 20)},
		{"policies.norm_v2.fuel (default)", cfg.Policies["norm_v2"].Fuel > 0, true},
		{"policies.norm_v2.config", reflect.DeepEqual(cfg.Policies["norm_v2"].Config, map[string]any{"drop": []any{"utm_*"}}), true},
		{"log.level (default)", cfg.Log.Level, "info"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestEnvConfig_NoVariables: without variables, envConfig is the embedded
// defaults; without route variables, the embedded route is kept.
func TestEnvConfig_NoVariables(t *testing.T) {
	t.Parallel()
	cfg, set, err := envConfig([]string{"HOME=/root"})
	if err != nil || set || !reflect.DeepEqual(cfg, embeddedConfig()) {
		t.Errorf("envConfig(none) = %+v, %v, %v; want the embedded defaults", cfg, set, err)
	}
	cfg, set, err = envConfig([]string{"FLOWCACHE_SERVER_LISTEN=127.0.0.1:1"})
	if err != nil || !set || len(cfg.Routes) != 1 || cfg.Routes[0].Upstreams[0] != exampleOrigin {
		t.Errorf("envConfig(listen only) = %+v, %v, %v; want the embedded route", cfg.Routes, set, err)
	}
}

// TestDecodeConfig_EnvOverridesFile: a variable wins over the file, an
// array entry past the file's adds one, and a problem in a value set by a
// variable names the variable, not the file.
func TestDecodeConfig_EnvOverridesFile(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/valid/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := decodeConfig("full.toml", src, []string{
		"FLOWCACHE_ADMIN_TOKEN=from-env",
		"FLOWCACHE_ROUTES_1_NO_CACHE=false",
		"FLOWCACHE_ROUTES_2_NAME=third",
		"FLOWCACHE_ROUTES_2_PATH_PREFIX=/third/",
		"FLOWCACHE_ROUTES_2_UPSTREAMS=http://third:80",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Token != "from-env" || cfg.Routes[1].NoCache || len(cfg.Routes) != 3 || cfg.Routes[2].Host != "*" ||
		cfg.Routes[0].Upstreams[1] != "http://10.0.0.2:8080" {
		t.Errorf("decodeConfig with env: token %q, routes %+v", cfg.Admin.Token, cfg.Routes)
	}
	_, err = decodeConfig("full.toml", src, []string{"FLOWCACHE_ROUTES_0_UPSTREAMS=ftp://x"})
	want := "$FLOWCACHE_ROUTES_0_UPSTREAMS: routes[0].upstreams[0]: invalid upstream URL \"ftp://x\": scheme must be http or https"
	if err == nil || err.Error() != want {
		t.Errorf("decodeConfig(bad upstream from env) = %v, want %q", err, want)
	}
}

// TestEnvConfig_Errors: every problem names its variable and says what is
// wrong; all of them are reported at once.
func TestEnvConfig_Errors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"unknown", []string{"FLOWCACHE_SERVR_LISTEN=x"}, "$FLOWCACHE_SERVR_LISTEN: no config key has this name (did you mean FLOWCACHE_SERVER_LISTEN?)"},
		{"unknown_indexed", []string{"FLOWCACHE_ROUTES_3_UPSTREAM=x"}, "(did you mean FLOWCACHE_ROUTES_3_UPSTREAMS?)"},
		{"unknown_far", []string{"FLOWCACHE_COMPLETELY_DIFFERENT=1"}, "$FLOWCACHE_COMPLETELY_DIFFERENT: no config key has this name\n"},
		{"table_itself", []string{"FLOWCACHE_SERVER=x"}, "$FLOWCACHE_SERVER: no config key"},
		{"leading_zero_index", []string{"FLOWCACHE_ROUTES_00_NAME=x"}, "$FLOWCACHE_ROUTES_00_NAME: no config key"},
		{"integer", []string{"FLOWCACHE_SERVER_MAX_CONNS=many"}, `$FLOWCACHE_SERVER_MAX_CONNS: server.max_conns: invalid integer "many"`},
		{"boolean", []string{"FLOWCACHE_REDIS_TLS=yes"}, `$FLOWCACHE_REDIS_TLS: redis.tls: invalid boolean "yes" (want true or false)`},
		{"size", []string{"FLOWCACHE_CACHE_L1_SIZE=big"}, `$FLOWCACHE_CACHE_L1_SIZE: cache.l1_size: invalid size "big"`},
		{"duration", []string{"FLOWCACHE_ROUTES_0_TIMEOUT=soon"}, `$FLOWCACHE_ROUTES_0_TIMEOUT: routes[0].timeout: invalid duration "soon"`},
		{"list_element", []string{"FLOWCACHE_REDIS_ADDRS=a:1,,b:2"}, "$FLOWCACHE_REDIS_ADDRS: redis.addrs: element 1 is empty"},
		{"json", []string{"FLOWCACHE_POLICIES_P_CONFIG=[1]"}, `$FLOWCACHE_POLICIES_P_CONFIG: policies.p.config: want a JSON object, got "[1]"`},
		{"gap", []string{"FLOWCACHE_ROUTES_1_NAME=b"}, "$FLOWCACHE_ROUTES_1_NAME: routes[1].name: index 1 skips index 0"},
		{"validate", []string{"FLOWCACHE_ADMIN_LISTEN=nope"}, `$FLOWCACHE_ADMIN_LISTEN: admin.listen: invalid address "nope" (want host:port)`},
		{"unset_required", []string{"FLOWCACHE_ROUTES_0_NAME=a"}, "$FLOWCACHE_ROUTES_0_UPSTREAMS: routes[0].upstreams (unset): at least one upstream is required"},
		{"file_not_secret", []string{"FLOWCACHE_SERVER_LISTEN_FILE=/x"}, "$FLOWCACHE_SERVER_LISTEN_FILE: server.listen is not a secret"},
		{"file_and_value", []string{"FLOWCACHE_REDIS_PASSWORD=a", "FLOWCACHE_REDIS_PASSWORD_FILE=" + empty}, "$FLOWCACHE_REDIS_PASSWORD_FILE: $FLOWCACHE_REDIS_PASSWORD is set too"},
		{"file_missing", []string{"FLOWCACHE_REDIS_SECRET_FILE=" + filepath.Join(dir, "nope")}, "$FLOWCACHE_REDIS_SECRET_FILE: open "},
		{"file_empty", []string{"FLOWCACHE_ADMIN_TOKEN_FILE=" + empty}, "$FLOWCACHE_ADMIN_TOKEN_FILE: file " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := envConfig(tt.env)
			if err == nil || !strings.Contains(err.Error()+"\n", tt.want) {
				t.Errorf("envConfig(%q) = %v, want an error containing %q", tt.env, err, tt.want)
			}
		})
	}
	_, _, err := envConfig([]string{"FLOWCACHE_A=1", "FLOWCACHE_SERVER_MAX_CONNS=x", "FLOWCACHE_LOG_LEVEL=loud"})
	if err == nil || !strings.HasPrefix(err.Error(), "environment: 3 problems\n") {
		t.Errorf("envConfig(three problems) = %v, want all three", err)
	}
}

// TestEnvVariables_EveryKey: every key of the config has exactly one
// variable, derived from its toml tags, and that variable resolves back to
// the key.
func TestEnvVariables_EveryKey(t *testing.T) {
	t.Parallel()
	names := envVariables(configType)
	fill := strings.NewReplacer(indexPlaceholder, "0", keyPlaceholder, "P")
	seen := map[string]string{}
	for _, n := range names {
		name := fill.Replace(n)
		path, _, ok := resolveEnv(configType, strings.TrimPrefix(name, envPrefix))
		if !ok {
			t.Errorf("%s does not resolve", name)
			continue
		}
		kp := keyPath(path)
		if other, dup := seen[kp]; dup {
			t.Errorf("%s and %s both set %s", other, name, kp)
		}
		seen[kp] = name
		if got := envName(kp); got != name {
			t.Errorf("envName(%q) = %q, want %q", kp, got, name)
		}
	}
	for _, want := range []string{"server.listen", "admin.token", "redis.addrs", "routes[0].upstreams", "routes[0].default_ttl", "policies.p.config", "policies.p.memoize_key", "log.format"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("no variable for %s", want)
		}
	}
	// Every leaf field of the structs is reachable: count them by walking
	// the type independently of envNames.
	if got, want := len(names), countLeaves(configType); got != want {
		t.Errorf("%d variables for %d config keys", got, want)
	}
}

func countLeaves(t reflect.Type) int {
	t = elemType(t)
	if t.Kind() == reflect.Map {
		t = elemType(t.Elem())
	}
	n := 0
	for i := range t.NumField() {
		f := t.Field(i)
		if tomlName(&f) == "" {
			continue
		}
		ft := elemType(f.Type)
		if ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct {
			n += countLeaves(ft.Elem())
		} else if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(textUnmarshaler) {
			n += countLeaves(ft)
		} else {
			n++
		}
	}
	return n
}

// TestPrintConfig: the printed configuration decodes to the same
// configuration, secrets aside, and holds no secret.
func TestPrintConfig(t *testing.T) {
	t.Parallel()
	cfg, err := decodeConfig("full.toml", mustRead(t, "testdata/valid/full.toml"), []string{
		"FLOWCACHE_REDIS_PASSWORD=redis-password",
		"FLOWCACHE_REDIS_SECRET=0123456789abcdef-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printConfig(&out, &cfg, "full.toml"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"s3cret", "redis-password", "0123456789abcdef-secret"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("printed config holds the secret %q:\n%s", s, out.String())
		}
	}
	back, err := decodeConfig("printed.toml", out.Bytes(), nil)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, out.String())
	}
	if back.Admin.Token != redacted || back.Redis.Password != redacted || back.Redis.Secret != redacted {
		t.Errorf("secrets printed as %q, %q, %q; want %q", back.Admin.Token, back.Redis.Password, back.Redis.Secret, redacted)
	}
	if cfg.Admin.Token == redacted {
		t.Error("printConfig redacted the caller's configuration")
	}
	back.Admin.Token, back.Redis.Password, back.Redis.Secret = cfg.Admin.Token, cfg.Redis.Password, cfg.Redis.Secret
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("printed config decodes to\n%+v\nwant\n%+v", back, cfg)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzEnvSettings: no variable name or value makes the mapping panic; a
// name that resolves names its key back (envName), and a value that is
// accepted leaves a configuration that Validate can judge.
func FuzzEnvSettings(f *testing.F) {
	for _, s := range [][2]string{
		{"FLOWCACHE_SERVER_LISTEN", "0.0.0.0:8080"},
		{"FLOWCACHE_ROUTES_0_UPSTREAMS", "http://a:1,http://b:2"},
		{"FLOWCACHE_ROUTES_1_DEFAULT_TTL", "5s"},
		{"FLOWCACHE_POLICIES_A_B_MAX_MEMORY", "1MiB"},
		{"FLOWCACHE_POLICIES_X_CONFIG", `{"a":[1,{"b":null}]}`},
		{"FLOWCACHE_ADMIN_TOKEN_FILE", "/dev/null"},
		{"FLOWCACHE_ROUTES_9999_NAME", "x"},
		{"FLOWCACHE_ROUTES__NAME", "x"},
		{"FLOWCACHE_POLICIES__MODULE", "x"},
		{"FLOWCACHE_REDIS_TLS", "1"},
		{"FLOWCACHE_", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		if strings.ContainsAny(name, "=\x00") || strings.HasSuffix(name, fileSuffix) {
			return // not a variable name; files: not read from fuzzed paths
		}
		settings, _ := envSettings(configType, []string{name + "=" + value})
		for _, s := range settings {
			if up := strings.ToUpper(s.name); up == s.name {
				if got := envName(keyPath(s.path)); got != s.name {
					t.Errorf("%s resolves to %s, whose variable is %q", s.name, keyPath(s.path), got)
				}
			}
		}
		cfg := gateway.DefaultConfig()
		_, problems := applyEnvironment(&cfg, []string{name + "=" + value})
		for _, p := range problems {
			if p.env != name {
				t.Errorf("problem %+v does not name the variable %q", p, name)
			}
		}
		_ = cfg.Validate() // must not panic on whatever was set
	})
}

// Test_run_checkEnvironment: without a file, check validates what serve
// would run on, the environment alone, policy modules included, and a
// module that does not load is reported with its variable. (Not parallel:
// it sets the environment; the package directory has no config.toml.)
func Test_run_checkEnvironment(t *testing.T) {
	t.Setenv("FLOWCACHE_ROUTES_0_NAME", "api")
	t.Setenv("FLOWCACHE_ROUTES_0_UPSTREAMS", "http://127.0.0.1:9")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"check"}, &out, io.Discard); err != nil || out.String() != "environment: ok, routes: 1\n" {
		t.Errorf("check on the environment = %v, %q", err, out.String())
	}
	t.Setenv("FLOWCACHE_ROUTES_0_POLICY", "norm")
	t.Setenv("FLOWCACHE_POLICIES_NORM_MODULE", filepath.Join(t.TempDir(), "missing.wasm"))
	err := run(t.Context(), []string{"check"}, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "$FLOWCACHE_POLICIES_NORM_MODULE: ") {
		t.Errorf("check with a missing module = %v, want an error naming $FLOWCACHE_POLICIES_NORM_MODULE", err)
	}
}
