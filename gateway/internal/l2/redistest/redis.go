package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisStartTimeout bounds how long a redis-server may take to answer PING.
const redisStartTimeout = 15 * time.Second

// Server is a redis-server process started by [Start] for one test. It
// listens on a free loopback port, keeps nothing on disk (no RDB, no AOF),
// and is killed by PID when the test ends.
//
// Its methods are safe for concurrent use. Fault methods (Kill, Restart,
// Stop, Cont, Pause) act only on the process this Server started.
type Server struct {
	// Addr is the host:port the server listens on. It stays the same across
	// Restart.
	Addr string

	tb   testing.TB
	bin  string
	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a redis-server on a free loopback port and returns when
// it answers PING. The server is killed in t.Cleanup. extra are more
// redis-server arguments (e.g. "--requirepass", "secret").
//
// If redis-server is not installed the test fails when the environment
// variable CI is set and is skipped otherwise.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	return startWith(tb, extra)
}

// startWith is Start with extra redis-server arguments.
func startWith(tb testing.TB, extra []string) *Server {
	tb.Helper()
	bin := redisBinary(tb, "redis-server")
	dir := tb.TempDir()
	for attempt := 0; ; attempt++ {
		port := freePort(tb)
		r := newRedis(tb, bin, dir, port, extra)
		err := r.start()
		if err == nil {
			tb.Cleanup(r.Kill)
			return r
		}
		r.Kill()
		if attempt == 2 {
			tb.Fatalf("redistest: start redis-server: %v", err)
		}
	}
}

func newRedis(tb testing.TB, bin, dir string, port int, extra []string) *Server {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	log := filepath.Join(dir, "redis-"+strconv.Itoa(port)+".log")
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", log,
	}
	args = append(args, extra...)
	return &Server{Addr: addr, tb: tb, bin: bin, args: args, log: log}
}

// redisBinary finds name on PATH, or fails (CI) or skips (elsewhere) the test.
func redisBinary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("redistest: %s not found (install redis-server and redis-tools): %v", name, err)
	}
	tb.Skipf("redistest: %s not found; skipping (set CI=1 to make this a failure)", name)
	return ""
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: pick a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		tb.Fatalf("redistest: pick a free port: %v", err)
	}
	return port
}

// start runs the process and waits until it answers PING.
func (r *Server) start() error {
	r.mu.Lock()
	if r.cmd != nil {
		r.mu.Unlock()
		return errors.New("already running")
	}
	cmd := exec.Command(r.bin, r.args...)
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	go func() {
		// The exit status of a killed server is expected; Kill reports nothing.
		_ = cmd.Wait()
		close(done)
	}()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()

	deadline := time.Now().Add(redisStartTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server on %s exited at start: %s", r.Addr, r.logTail())
		default:
		}
		reply, err := r.Do("PING")
		if err == nil && reply == "PONG" || err != nil && strings.HasPrefix(err.Error(), "NOAUTH") {
			return nil // answering, if only to ask for a password
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not answering PING after %v: %s", r.Addr, redisStartTimeout, r.logTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Server) logTail() string {
	b, err := os.ReadFile(r.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// PID returns the process id of the running server, or 0 if it is not running.
func (r *Server) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Kill kills the server with SIGKILL (no shutdown, no goodbye to clients) and
// waits for it to exit. Killing a stopped server is a no-op.
func (r *Server) Kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd, r.done = nil, nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	// The process may already have exited; then there is nothing to kill.
	_ = cmd.Process.Kill()
	<-done
}

// Restart kills the server if it runs and starts it again on the same
// address, with an empty dataset. It fails the test if the server does not
// come back.
func (r *Server) Restart() {
	r.tb.Helper()
	r.Kill()
	if err := r.start(); err != nil {
		r.tb.Fatalf("redistest: restart redis-server: %v", err)
	}
}

// Stop freezes the server with SIGSTOP: connections stay open but nothing is
// answered, as with a hung or partitioned Redis. Cont resumes it.
func (r *Server) Stop() { r.signal(syscall.SIGSTOP) }

// Cont resumes a server frozen by Stop.
func (r *Server) Cont() { r.signal(syscall.SIGCONT) }

func (r *Server) signal(sig syscall.Signal) {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		r.tb.Fatalf("redistest: signal %v: redis-server on %s is not running", sig, r.Addr)
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.tb.Fatalf("redistest: signal %v to redis-server on %s: %v", sig, r.Addr, err)
	}
}

// Pause suspends every client for d with CLIENT PAUSE (ALL): commands are
// accepted but answered only when the pause ends.
func (r *Server) Pause(d time.Duration) {
	r.tb.Helper()
	if _, err := r.Do("CLIENT", "PAUSE", strconv.FormatInt(d.Milliseconds(), 10), "ALL"); err != nil {
		r.tb.Fatalf("redistest: CLIENT PAUSE on %s: %v", r.Addr, err)
	}
}

// KillClients closes every client connection of the given type ("normal",
// "pubsub", "replica") with CLIENT KILL TYPE, and returns how many it
// closed. Clients reconnect on their own; the server keeps running.
func (r *Server) KillClients(typ string) int {
	r.tb.Helper()
	reply, err := r.Do("CLIENT", "KILL", "TYPE", typ)
	if err != nil {
		r.tb.Fatalf("redistest: CLIENT KILL TYPE %s on %s: %v", typ, r.Addr, err)
	}
	n, _ := strconv.Atoi(reply) // reply is an integer; 0 if it is not
	return n
}

// KillSubscribers closes the pub/sub connections whose client name (CLIENT
// SETNAME) is name, leaving every other client alone, and returns how many
// it closed.
func (r *Server) KillSubscribers(name string) int {
	r.tb.Helper()
	list, err := r.Do("CLIENT", "LIST", "TYPE", "pubsub")
	if err != nil {
		r.tb.Fatalf("redistest: CLIENT LIST on %s: %v", r.Addr, err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		var id string
		named := false
		for _, f := range strings.Fields(line) {
			switch {
			case strings.HasPrefix(f, "id="):
				id = f[len("id="):]
			case f == "name="+name:
				named = true
			}
		}
		if !named || id == "" {
			continue
		}
		if reply, err := r.Do("CLIENT", "KILL", "ID", id); err == nil && reply == "1" {
			n++
		}
	}
	return n
}

// Do sends one command on a new connection and returns the reply as text:
// a status, bulk string or integer as is, a nil reply as "", an array as its
// elements joined by "\n". A Redis error reply is returned as an error.
func (r *Server) Do(args ...string) (string, error) {
	return redisDo(r.Addr, args...)
}

// redisDo speaks just enough RESP2 to send one command and read its reply.
func redisDo(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

func readReply(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty RESP line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("redistest: bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("redistest: bad array length %q", line)
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := readReply(rd)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	default:
		return "", fmt.Errorf("redistest: unexpected RESP line %q", line)
	}
}
