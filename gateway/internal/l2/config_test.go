package l2

import (
	"crypto/tls"
	"testing"
	"time"
)

// TestConfig_UniversalOptions: the one constructor of go-redis options
// carries every connection setting, the sentinels' credentials included,
// for each mode.
func TestConfig_UniversalOptions(t *testing.T) {
	t.Parallel()
	base := Config{
		Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, MasterName: "m",
		Username: "u", Password: "p", SentinelUsername: "su", SentinelPassword: "sp",
		DB: 3, TLS: &tls.Config{MinVersion: tls.VersionTLS12}, PoolSize: 7, ReadTimeout: time.Second,
	}
	tests := []struct {
		mode   string
		addrs  int
		master string
		db     int
		cl     bool
	}{
		{mode: ModeStandalone, addrs: 1, db: 3},
		{mode: ModeSentinel, addrs: 2, master: "m", db: 3},
		{mode: ModeCluster, addrs: 2, cl: true},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			c := base
			c.Mode = tc.mode
			o := c.UniversalOptions("name")
			if o.ClientName != "name" || o.Username != "u" || o.Password != "p" ||
				o.SentinelUsername != "su" || o.SentinelPassword != "sp" || o.TLSConfig != c.TLS ||
				o.PoolSize != 7 || o.ReadTimeout != time.Second || o.DialTimeout != DefaultConfig().DialTimeout ||
				!o.ContextTimeoutEnabled || o.MaintNotificationsConfig == nil {
				t.Errorf("UniversalOptions(%s) = %+v: a connection setting is missing", tc.mode, o)
			}
			if len(o.Addrs) != tc.addrs || o.MasterName != tc.master || o.DB != tc.db || o.IsClusterMode != tc.cl {
				t.Errorf("UniversalOptions(%s): addrs %v, master %q, db %d, cluster %t; want %d addrs, %q, %d, %t",
					tc.mode, o.Addrs, o.MasterName, o.DB, o.IsClusterMode, tc.addrs, tc.master, tc.db, tc.cl)
			}
		})
	}
}
