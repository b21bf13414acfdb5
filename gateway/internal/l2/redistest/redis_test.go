package redistest

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/flowcache/flowcache/internal/poll"
)

func TestStart(t *testing.T) {
	t.Parallel()
	r := Start(t)
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

func TestStartCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
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

func TestStartSentinel(t *testing.T) {
	t.Parallel()
	s := StartSentinel(t, "main")
	got, err := s.Sentinel.Do("SENTINEL", "MASTERS")
	if err != nil || !strings.Contains(got, "main") {
		t.Fatalf("SENTINEL MASTERS = %q, %v; want the master \"main\"", got, err)
	}
	if _, err := s.Master.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	// Replication is asynchronous: wait for the replica to have k, or the
	// failover may lose it (as it would in production).
	waitGet(t, s.Replica, "k", "v")
	old := s.Master
	s.Failover()
	if s.Master == old {
		t.Fatal("Failover did not swap Master and Replica")
	}
	waitInfo(t, s.Master, "role:master")
	if got, err := s.Master.Do("GET", "k"); err != nil || got != "v" {
		t.Errorf("GET k on the new master = %q, %v; want \"v\" (replicated)", got, err)
	}
}

func TestServer_KillSubscribers(t *testing.T) {
	t.Parallel()
	r := Start(t)
	// A raw subscriber connection named "sub", and one named "other".
	conns := map[string]net.Conn{}
	for _, name := range []string{"sub", "other"} {
		c, err := net.Dial("tcp", r.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() }) // closing a killed connection may fail
		cmd := "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$" + strconv.Itoa(len(name)) + "\r\n" + name + "\r\n" +
			"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n"
		if _, err := c.Write([]byte(cmd)); err != nil {
			t.Fatal(err)
		}
		conns[name] = c
	}
	waitSubs := func(want string) {
		t.Helper()
		poll.WaitFor(t, "PUBSUB NUMSUB ch to count "+want+" subscribers", func() bool {
			got, err := r.Do("PUBSUB", "NUMSUB", "ch")
			return err == nil && got == "ch\n"+want
		})
	}
	waitSubs("2")
	if n := r.KillSubscribers("sub"); n != 1 {
		t.Fatalf("KillSubscribers(sub) = %d, want 1", n)
	}
	waitSubs("1")
}

// waitGet waits until GET key on r answers want.
func waitGet(tb testing.TB, r *Server, key, want string) {
	tb.Helper()
	poll.WaitFor(tb, fmt.Sprintf("GET %s on %s to answer %q", key, r.Addr, want), func() bool {
		got, err := r.Do("GET", key)
		return err == nil && got == want
	})
}
