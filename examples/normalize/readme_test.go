//go:build !wasip1

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/flowcache/flowcache/examples/internal/policytest"
	"github.com/flowcache/flowcache/policy"
)

// readmeConfig is a policy configuration shown in a README: the policy's
// name (which names its example, examples/NAME), the configuration, and
// where it was found.
type readmeConfig struct {
	policy string
	config map[string]any
	where  string
}

var (
	// A fenced TOML block.
	tomlBlock = regexp.MustCompile("(?s)```toml\n(.*?)```")
	// FLOWCACHE_POLICIES_NAME_CONFIG={...}, the environment form.
	envConfig = regexp.MustCompile(`FLOWCACHE_POLICIES_([A-Z0-9_]+)_CONFIG=(\{[^|` + "`" + `]*\})`)
	// flowcache policy push NAME FILE ... -config '{...}'.
	pushConfig = regexp.MustCompile(`policy push ([a-z0-9_]+) \S+.*-config '(\{[^']*\})'`)
)

// readmeConfigs returns every policy configuration of the README at path:
// the config of each [policies.NAME] section of its TOML blocks, and the
// JSON configurations of its environment and policy push examples.
func readmeConfigs(t *testing.T, path string) []readmeConfig {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var out []readmeConfig
	for _, m := range tomlBlock.FindAllStringSubmatch(text, -1) {
		if !strings.Contains(m[1], "[policies.") {
			continue
		}
		var doc struct {
			Policies map[string]map[string]any `toml:"policies"`
		}
		if _, err := toml.Decode(m[1], &doc); err != nil {
			t.Errorf("%s: a TOML example does not parse: %v\n%s", path, err, m[1])
			continue
		}
		for name, sec := range doc.Policies {
			c, _ := sec["config"].(map[string]any)
			if _, ok := sec["config"]; ok && c == nil {
				t.Errorf("%s: [policies.%s] config is not a table", path, name)
				continue
			}
			out = append(out, readmeConfig{policy: name, config: c, where: path + ": [policies." + name + "]"})
		}
	}
	for _, m := range envConfig.FindAllStringSubmatch(text, -1) {
		out = append(out, jsonConfig(t, strings.ToLower(m[1]), m[2], path+": "+m[0]))
	}
	for _, m := range pushConfig.FindAllStringSubmatch(text, -1) {
		out = append(out, jsonConfig(t, m[1], m[2], path+": "+m[0]))
	}
	return out
}

func jsonConfig(t *testing.T, name, text, where string) readmeConfig {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		t.Errorf("%s: not a JSON object: %v", where, err)
	}
	return readmeConfig{policy: name, config: c, where: where}
}

// TestREADMEConfigs checks that every policy configuration the READMEs
// show (README.md and the examples') works as written: the policy it
// configures is an example module, and that module's flowcache_init
// accepts the configuration (the Go examples refuse members they do not
// read) and then keys a request.
func TestREADMEConfigs(t *testing.T) {
	t.Parallel()
	readmes, err := filepath.Glob("../*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	readmes = append(readmes, "../../README.md")
	n := 0
	for _, path := range readmes {
		for _, c := range readmeConfigs(t, path) {
			n++
			dir := filepath.Join("..", c.policy)
			if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
				t.Errorf("%s: the policy %q is not a Go example (examples/%s/main.go)", c.where, c.policy, c.policy)
				continue
			}
			m := policytest.Load(t, policytest.Build(t, dir), c.config)
			r := &policy.Request{
				Method: []byte("GET"), Scheme: []byte("https"), Host: []byte("example.com"),
				Path: []byte("/p"), Query: []byte("utm_source=x&a=1"), Route: []byte("r"),
			}
			var k policy.Key
			if err := m.Key(r, &k); err != nil {
				t.Errorf("%s: Key with this configuration: %v", c.where, err)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d policy configurations in the READMEs, want at least 3 (README.md shows three)", n)
	}
}
