package gatewaytest

import (
	"strings"
	"testing"
)

func TestStartRedis(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	if _, err := r.Do("SET", "k", "v"); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := r.Do("GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want \"v\"", got, err)
	}
	r.Kill()
	if _, err := r.Do("PING"); err == nil {
		t.Fatal("PING after Kill succeeded")
	}
	r.Restart()
	if got, err := r.Do("GET", "k"); err != nil || got != "" {
		t.Fatalf("GET k after Restart = %q, %v; want empty (no persistence)", got, err)
	}
}

func TestStartRedisCluster(t *testing.T) {
	t.Parallel()
	c := StartRedisCluster(t, 3)
	if len(c.Addrs) != 3 {
		t.Fatalf("len(Addrs) = %d, want 3", len(c.Addrs))
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		n := c.NodeFor(t, k)
		if _, err := n.Do("SET", k, "v"); err != nil {
			t.Fatalf("SET %q on owner %s: %v", k, n.Addr, err)
		}
	}
	info, err := c.Nodes[0].Do("CLUSTER", "INFO")
	if err != nil || !strings.Contains(info, "cluster_size:3") {
		t.Fatalf("CLUSTER INFO = %q, %v; want cluster_size:3", info, err)
	}
}

func TestStartRedisSentinel(t *testing.T) {
	t.Parallel()
	s := StartRedisSentinel(t, "main")
	got, err := s.Sentinel.Do("SENTINEL", "MASTERS")
	if err != nil || !strings.Contains(got, "main") {
		t.Fatalf("SENTINEL MASTERS = %q, %v; want the master \"main\"", got, err)
	}
}
