package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Sentinel is a Redis master watched by one Sentinel, started by
// [StartSentinel], for clients in Sentinel mode.
type Sentinel struct {
	// Master is the monitored redis-server.
	Master *Server
	// Sentinel is the redis-server running in sentinel mode; its Addr is
	// what a Sentinel client is given.
	Sentinel *Server
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
	m := Start(tb)
	bin := redisBinary(tb, "redis-server")
	dir := tb.TempDir()
	_, mport, err := net.SplitHostPort(m.Addr)
	if err != nil {
		tb.Fatalf("redistest: master address %q: %v", m.Addr, err)
	}
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
			rs := &Sentinel{Master: m, Sentinel: s, MasterName: masterName}
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
