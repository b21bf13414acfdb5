package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deployEnv reads the FLOWCACHE_ variables a deployment file sets: the
// Kubernetes form (- name: X / value: Y) and the compose form (X: Y).
// Secrets read from files (…_FILE) get a temporary file holding a valid
// secret.
func deployEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*(?:- name: (FLOWCACHE_[A-Z0-9_]+)\n\s+value: |(FLOWCACHE_[A-Z0-9_]+): )(.*)$`)
	env := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		name := m[1] + m[2]
		v := strings.Trim(strings.TrimSpace(m[3]), `"`)
		if strings.HasSuffix(name, fileSuffix) {
			f := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(f, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			v = f
		}
		env[name] = v
	}
	if len(env) == 0 {
		t.Fatalf("%s sets no FLOWCACHE_ variable", path)
	}
	return env
}

// TestDeploy_Environment: the Kubernetes Deployment and the compose file
// configure flowcache from the environment alone, and what they set is a
// valid configuration (every variable a key, every value valid).
// The Deployment gives the drain time to happen: a drain_delay of at least
// two readiness periods, and a grace period longer than drain_delay plus
// shutdown_timeout.
func TestDeploy_Environment(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"../../deploy/kubernetes/deployment.yaml", "../../deploy/compose/compose.yaml"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			env := deployEnv(t, path)
			var environ []string
			for k, v := range env {
				environ = append(environ, k+"="+v)
			}
			cfg, set, err := envConfig(environ)
			if err != nil || !set {
				t.Fatalf("%s: envConfig = %v", path, err)
			}
			if cfg.Server.Listen != "0.0.0.0:8080" || cfg.Admin.Listen != "0.0.0.0:9090" || cfg.Admin.Token == "" || len(cfg.Redis.Addrs) == 0 || cfg.Routes[0].Upstreams[0] == exampleOrigin {
				t.Errorf("%s: listen %s, admin %s, token set %v, redis %v, upstreams %v", path, cfg.Server.Listen, cfg.Admin.Listen, cfg.Admin.Token != "", cfg.Redis.Addrs, cfg.Routes[0].Upstreams)
			}
			if cfg.Server.DrainDelay == 0 {
				t.Errorf("%s: no drain_delay", path)
			}
			if !strings.HasSuffix(path, "deployment.yaml") {
				return
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			num := func(re string) time.Duration {
				m := regexp.MustCompile(re).FindStringSubmatch(string(src))
				if m == nil {
					t.Fatalf("%s: no match for %s", path, re)
				}
				n, err := strconv.Atoi(m[1])
				if err != nil {
					t.Fatal(err)
				}
				return time.Duration(n) * time.Second
			}
			grace := num(`terminationGracePeriodSeconds: (\d+)`)
			period := num(`readinessProbe:\n(?:\s+.*\n)*?\s+periodSeconds: (\d+)`)
			if d := cfg.Server.DrainDelay.D(); d < 2*period {
				t.Errorf("drain_delay %v is less than two readiness periods (%v)", d, period)
			}
			if need := cfg.Server.DrainDelay.D() + cfg.Server.ShutdownTimeout.D(); grace <= need {
				t.Errorf("terminationGracePeriodSeconds %v does not cover drain_delay + shutdown_timeout (%v)", grace, need)
			}
		})
	}
}
