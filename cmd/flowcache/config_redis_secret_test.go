package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadConfig_RedisSecret: [redis] secret comes from the file or from
// $FLOWCACHE_REDIS_SECRET, which wins over the file or fills it in; a short
// one is refused with its key path. (Not parallel: it sets the environment.)
func TestLoadConfig_RedisSecret(t *testing.T) {
	const long1, long2 = "file-secret-0123456789", "env-secret-0123456789"
	tests := []struct {
		name, file, env, want, wantErr string
	}{
		{name: "file", file: long1, want: long1},
		{name: "env_wins", file: long1, env: long2, want: long2},
		{name: "env_fills", env: long2, want: long2},
		{name: "none", want: ""},
		{name: "short", file: "short", wantErr: "redis.secret: must be at least 16 bytes"},
		{name: "short_env", env: "short", wantErr: "redis.secret: must be at least 16 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FLOWCACHE_REDIS_SECRET", tc.env)
			src := "[redis]\naddrs = [\"127.0.0.1:6379\"]\n"
			if tc.file != "" {
				src += "secret = \"" + tc.file + "\"\n"
			}
			src += "\n[[routes]]\nname = \"api\"\nupstreams = [\"http://127.0.0.1:9000\"]\n"
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadConfig = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Redis.Secret != tc.want {
				t.Errorf("redis.secret = %q, want %q", cfg.Redis.Secret, tc.want)
			}
		})
	}
}
