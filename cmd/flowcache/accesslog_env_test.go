package main

import (
	"strings"
	"testing"
)

// Test_envConfig_accessLog: the [log] access keys are set from the
// environment like the others, access_sample (a float) included.
func Test_envConfig_accessLog(t *testing.T) {
	t.Parallel()
	cfg, set, err := envConfig([]string{
		"FLOWCACHE_ROUTES_0_NAME=api", "FLOWCACHE_ROUTES_0_UPSTREAMS=http://api:8080",
		"FLOWCACHE_LOG_ACCESS=combined", "FLOWCACHE_LOG_ACCESS_SAMPLE=0.25", "FLOWCACHE_LOG_ACCESS_FILE=/var/log/flowcache/access.log",
	})
	if err != nil || !set {
		t.Fatalf("envConfig = %v, set %v", err, set)
	}
	if cfg.Log.Access != "combined" || cfg.Log.AccessSample != 0.25 || cfg.Log.AccessFile != "/var/log/flowcache/access.log" {
		t.Errorf("log = %+v", cfg.Log)
	}
	_, _, err = envConfig([]string{"FLOWCACHE_ROUTES_0_NAME=api", "FLOWCACHE_ROUTES_0_UPSTREAMS=http://api:8080", "FLOWCACHE_LOG_ACCESS_SAMPLE=half"})
	if err == nil || !strings.Contains(err.Error(), `invalid number "half"`) {
		t.Errorf("access_sample=half: %v", err)
	}
}
