// Command bodyattack measures a gateway's memory under the slow-body
// attack: conns connections each send a request head declaring a
// Content-Length of length bytes and no body, hold them for hold, then
// close them. Meanwhile it samples the gateway process's VmRSS
// (/proc/PID/status) and prints the value before the attack and the peak
// while it held, with how many connections the gateway had answered.
//
// It only targets loopback addresses and is bounded: at most 5,000
// connections, held at most a minute.
//
//	go run ./cmd/flowcache/testdata/bodyattack -addr 127.0.0.1:8080 -pid PID \
//		-method POST -conns 2000 -length 10485760 -hold 5s
//
// (testdata: the go command ignores it in ./... patterns, so it is neither
// built nor tested with the module.)
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bodyattack:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "the gateway's data-plane address (loopback only)")
	pid := flag.Int("pid", 0, "the gateway's process id, for its VmRSS")
	method := flag.String("method", "POST", "request method")
	conns := flag.Int("conns", 200, "connections (at most 5000)")
	length := flag.Int("length", 10<<20, "Content-Length each head declares")
	hold := flag.Duration("hold", 5*time.Second, "how long the connections are held (at most 1m)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: only loopback IP addresses are allowed", *addr)
	}
	if *conns < 1 || *conns > 5000 || *hold <= 0 || *hold > time.Minute || *pid <= 0 {
		return errors.New("want 1 <= -conns <= 5000, 0 < -hold <= 1m and a -pid")
	}
	before, err := rss(*pid)
	if err != nil {
		return err
	}
	head := fmt.Sprintf("%s /attack HTTP/1.1\r\nHost: attack.test\r\nContent-Length: %d\r\n\r\n", *method, *length)
	end := time.Now().Add(*hold)
	var (
		wg       sync.WaitGroup
		opened   atomic.Int64
		answered sync.Map // status line -> *atomic.Int64
	)
	for range *conns {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("after %d connections: %w", opened.Load(), err)
		}
		opened.Add(1)
		if _, err := c.Write([]byte(head)); err != nil {
			c.Close()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			// Whatever the gateway answers before the hold ends.
			_ = c.SetReadDeadline(end) // a conn that cannot take a deadline just waits for the close below
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil && line == "" {
				return
			}
			v, _ := answered.LoadOrStore(strings.TrimSpace(line), new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}()
	}
	var peak int64
	for time.Now().Before(end) {
		if v, err := rss(*pid); err == nil && v > peak {
			peak = v
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	after, err := rss(*pid)
	if err != nil {
		return err
	}
	fmt.Printf("%s x %d, Content-Length %d, held %v\n", *method, opened.Load(), *length, *hold)
	fmt.Printf("VmRSS before %s, peak while held %s, after close %s\n", mib(before), mib(peak), mib(after))
	answered.Range(func(k, v any) bool {
		fmt.Printf("answered %q: %d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	return nil
}

// rss returns the VmRSS of process pid, in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v)) // "123456 kB"
			if len(f) == 2 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("pid %d: no VmRSS", pid)
}

func mib(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }
