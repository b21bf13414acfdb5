package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sentinel is a Redis master watched by one Sentinel, started by
// [StartSentinel], for clients in Sentinel mode.
type Sentinel struct {
	// Master is the monitored redis-server.
	Master *Server
	// Sentinel is the redis-server running in sentinel mode; its Addr is
	// what a Sentinel client is given.
	Sentinel *Server
	// Replica replicates Master; Failover promotes it.
	Replica *Server
	// MasterName is the name the master is monitored under.
	MasterName string
}

// StartSentinel starts a master and one Sentinel (quorum 1) monitoring
// it as masterName, both on free loopback ports, and returns when the
// Sentinel reports the master's address. Both are killed in t.Cleanup.
//
// If redis-server is missing the test fails when CI is set and is skipped
// otherwise.
func StartSentinel(tb testing.TB, masterName string) *Sentinel {
	tb.Helper()
	// Full syncs start at once (the default waits 5s for more replicas).
	fast := []string{"--repl-diskless-sync-delay", "0"}
	m := startWith(tb, fast)
	bin := redisBinary(tb, "redis-server")
	dir := tb.TempDir()
	_, mport, err := net.SplitHostPort(m.Addr)
	if err != nil {
		tb.Fatalf("redistest: master address %q: %v", m.Addr, err)
	}
	// The replica is in sync before the sentinel starts, so that the
	// sentinel's first look at the master (INFO) already lists it.
	replica := startWith(tb, append(fast, "--replicaof", "127.0.0.1", mport))
	waitInfo(tb, replica, "master_link_status:up")
	for attempt := 0; ; attempt++ {
		port := freePort(tb)
		conf := filepath.Join(dir, "sentinel-"+strconv.Itoa(port)+".conf")
		// Sentinel rewrites its configuration file: it must be writable.
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
			"sentinel monitor %s 127.0.0.1 %s 1\nsentinel down-after-milliseconds %s 1000\n",
			port, dir, filepath.Join(dir, "sentinel-"+strconv.Itoa(port)+".log"), masterName, mport, masterName)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			tb.Fatalf("redistest: write sentinel config: %v", err)
		}
		s := &Server{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			tb:   tb, bin: bin, args: []string{conf, "--sentinel"},
			log: filepath.Join(dir, "sentinel-"+strconv.Itoa(port)+".log"),
		}
		err := s.start()
		if err == nil {
			tb.Cleanup(s.Kill)
			rs := &Sentinel{Master: m, Replica: replica, Sentinel: s, MasterName: masterName}
			if got, err := s.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName); err != nil || got != "127.0.0.1\n"+mport {
				tb.Fatalf("redistest: sentinel does not know master %q: %q, %v", masterName, got, err)
			}
			return rs
		}
		s.Kill()
		if attempt == 2 {
			tb.Fatalf("redistest: start sentinel: %v", err)
		}
	}
}

// Failover makes the sentinel promote the replica (SENTINEL FAILOVER) and
// returns when the sentinel names it as the master and it answers as one.
// The old master becomes its replica; the two fields are swapped.
func (s *Sentinel) Failover() {
	s.Sentinel.tb.Helper()
	tb := s.Sentinel.tb
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The sentinel refuses while it has not yet seen the replica
		// (-NOGOODSLAVE); it looks every second at most.
		_, err := s.Sentinel.Do("SENTINEL", "FAILOVER", s.MasterName)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: SENTINEL FAILOVER %s: %v", s.MasterName, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, rport, _ := net.SplitHostPort(s.Replica.Addr)
	for {
		got, err := s.Sentinel.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName)
		info, ierr := s.Replica.Do("INFO", "replication")
		if err == nil && ierr == nil && got == "127.0.0.1\n"+rport && strings.Contains(info, "role:master") {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: failover of %s not done after 30s: sentinel says %q", s.MasterName, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Master, s.Replica = s.Replica, s.Master
}

// waitInfo waits until INFO on r contains want.
func waitInfo(tb testing.TB, r *Server, want string) {
	tb.Helper()
	deadline := time.Now().Add(redisStartTimeout)
	for {
		info, err := r.Do("INFO")
		if err == nil && strings.Contains(info, want) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: INFO on %s never showed %q", r.Addr, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
