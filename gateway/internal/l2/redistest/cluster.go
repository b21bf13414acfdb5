package redistest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters only (no replicas) started by
// [StartCluster]: each node is a [Server] with cluster mode enabled,
// and the slots are spread over all of them by redis-cli --cluster create.
type Cluster struct {
	// Nodes are the masters, in the order they were created.
	Nodes []*Server
	// Addrs are the nodes' host:port addresses, for a cluster client.
	Addrs []string
}

// StartCluster starts n redis-server nodes (n >= 3, as Redis Cluster
// requires) in cluster mode on free loopback ports, joins them with
// redis-cli --cluster create --cluster-replicas 0, and returns when every
// node reports cluster_state:ok with all 16384 slots assigned. Everything is
// killed in t.Cleanup.
//
// If redis-server or redis-cli is missing the test fails when CI is set and
// is skipped otherwise.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	if n < 3 {
		tb.Fatalf("redistest: a Redis Cluster needs at least 3 masters, got %d", n)
	}
	bin := redisBinary(tb, "redis-server")
	cli := redisBinary(tb, "redis-cli")
	dir := tb.TempDir()
	c := &Cluster{}
	for i := range n {
		var r *Server
		for attempt := 0; ; attempt++ {
			port, busPort := freePort(tb), freePort(tb)
			r = newRedis(tb, bin, dir, port, []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes-" + strconv.Itoa(port) + ".conf",
				"--cluster-port", strconv.Itoa(busPort),
				"--cluster-node-timeout", "5000",
			})
			err := r.start()
			if err == nil {
				break
			}
			r.Kill()
			if attempt == 2 {
				tb.Fatalf("redistest: start cluster node %d: %v", i, err)
			}
		}
		tb.Cleanup(r.Kill)
		c.Nodes = append(c.Nodes, r)
		c.Addrs = append(c.Addrs, r.Addr)
	}

	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(redisStartTimeout); err != nil {
		tb.Fatalf("redistest: %v\nredis-cli said:\n%s", err, out)
	}
	return c
}

// waitOK waits until every node reports cluster_state:ok, all slots
// assigned, and knows every other node.
func (c *Cluster) waitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := "cluster_known_nodes:" + strconv.Itoa(len(c.Nodes))
	for {
		var last string
		ok := true
		for _, r := range c.Nodes {
			info, err := r.Do("CLUSTER", "INFO")
			if err != nil {
				ok, last = false, r.Addr+": "+err.Error()
				break
			}
			if !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_slots_assigned:16384") ||
				!strings.Contains(info, want) {
				ok, last = false, r.Addr+": "+info
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ok after %v; last CLUSTER INFO from %s", timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NodeFor returns the node that serves key's hash slot, as the cluster
// itself reports it (CLUSTER KEYSLOT, CLUSTER SHARDS are not needed: the
// node that owns the slot answers the key without a MOVED redirect).
func (c *Cluster) NodeFor(tb testing.TB, key string) *Server {
	tb.Helper()
	for _, r := range c.Nodes {
		// GET on the owner answers (maybe nil); others answer -MOVED.
		if _, err := r.Do("GET", key); err == nil {
			return r
		} else if !strings.HasPrefix(err.Error(), "MOVED") {
			tb.Fatalf("redistest: GET %q on %s: %v", key, r.Addr, err)
		}
	}
	tb.Fatalf("redistest: no node owns the slot of %q", key)
	return nil
}
