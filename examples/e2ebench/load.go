package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// workload says which requests a run sends.
type workload struct {
	name  string
	size  int // body size asked of the origin (?size=)
	objs  int // distinct objects (0: one object, id 1 or 2)
	zipfS float64
	miss  bool // every request a new URL (a unique query)
	// fill is the fixed request sequence sent before the measured runs:
	// every object once (uniform) or the same zipf draws for every target.
	fill     string // "", "seq" or "zipf"
	fillReqs int
}

// workloads are the five of the comparison, by name.
func workloads(zipfObjs, uniformObjs, zipfFill int) map[string]workload {
	return map[string]workload{
		"hot":     {name: "hot", size: 1024},
		"uniform": {name: "uniform", size: 4096, objs: uniformObjs, fill: "seq", fillReqs: uniformObjs},
		"zipf":    {name: "zipf", size: 4096, objs: zipfObjs, zipfS: 0.99, fill: "zipf", fillReqs: zipfFill},
		"miss":    {name: "miss", size: 1024, miss: true},
		"big":     {name: "big", size: 1 << 20},
	}
}

// requestSource hands out request targets. Each connection has its own (not
// safe for concurrent use).
type requestSource struct {
	wl   *workload
	z    *zipf
	rng  *rand.Rand
	tag  string
	i    int
	host string
}

// next appends the next request (a whole HTTP/1.1 GET) to dst.
func (s *requestSource) next(dst []byte) []byte {
	dst = append(dst, "GET /obj/"...)
	switch {
	case s.wl.miss:
		s.i++
		dst = strconv.AppendInt(dst, int64(s.i%100000), 10)
	case s.wl.objs == 0 && s.wl.size >= 1<<20:
		dst = append(dst, '2')
	case s.wl.objs == 0:
		dst = append(dst, '1')
	case s.z != nil:
		dst = strconv.AppendInt(dst, int64(s.z.id(s.z.rank(s.rng.Float64()))), 10)
	default:
		dst = strconv.AppendInt(dst, int64(s.rng.IntN(s.wl.objs)+1), 10)
	}
	dst = append(dst, "?size="...)
	dst = strconv.AppendInt(dst, int64(s.wl.size), 10)
	if s.wl.miss {
		dst = append(dst, "&u="...)
		dst = append(dst, s.tag...)
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, int64(s.i), 10)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, s.host...)
	return append(dst, "\r\n\r\n"...)
}

// fillTargets returns the fill pass's request ids for wl: every object
// once, in order, or fillReqs zipf draws from a fixed seed (the same
// sequence for every target, so their caches start alike).
func fillTargets(wl *workload, z *zipf) []int {
	ids := make([]int, 0, wl.fillReqs)
	if wl.fill == "seq" {
		for i := 1; i <= wl.objs; i++ {
			ids = append(ids, i)
		}
		return ids
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range wl.fillReqs {
		ids = append(ids, z.id(z.rank(rng.Float64())))
	}
	return ids
}

// errBadResponse is a response the client could not frame.
var errBadResponse = errors.New("e2ebench: malformed response")

// readResponse reads one HTTP/1.1 response from r, discarding its body, and
// returns its status and whether the server closes the connection after it.
// It understands Content-Length and chunked bodies, which is what the
// servers compared send; a response without either has no body (the run's
// requests are GETs of 200s and 304s).
func readResponse(r *bufio.Reader) (status int, closeConn bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	length, chunked := -1, false
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("%w: header line %q", errBadResponse, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(value))
			if err != nil || length < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errBadResponse, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeConn = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = discardChunked(r)
	case length > 0:
		_, err = r.Discard(length)
	}
	return status, closeConn, err
}

// discardChunked reads a chunked body and its trailers.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errBadResponse, line)
		}
		if n == 0 {
			for { // trailers, then the empty line
				line, err = r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := r.Discard(int(n)); err != nil {
			return err
		}
		if line, err = r.ReadSlice('\n'); err != nil {
			return err
		} else if len(bytes.TrimRight(line, "\r\n")) != 0 {
			return fmt.Errorf("%w: no CRLF after a chunk", errBadResponse)
		}
	}
}

// loadResult is what one load run measured.
type loadResult struct {
	requests int64 // answered 200 or 304
	errors   int64
	firstErr error
	elapsed  time.Duration
	bytes    int64 // response bytes, heads included
	lat      histogram
}

// loadSpec says how to send: where, how many connections, for how long, and
// either a workload's random stream or a fixed list of ids (the fill).
type loadSpec struct {
	addr     string
	conns    int
	duration time.Duration
	wl       *workload
	z        *zipf
	fixed    []int // when set: send these ids once each (spread over conns)
	tag      string
	seed     uint64
}

// runLoad sends requests on spec.conns keep-alive connections, one in
// flight each (as wrk does), until spec.duration is over or the fixed list
// is done. Every read and write has a 5s deadline.
func runLoad(ctx context.Context, spec *loadSpec) *loadResult {
	ctx, cancel := context.WithTimeout(ctx, spec.duration)
	defer cancel()
	var (
		mu   sync.Mutex
		res  = &loadResult{}
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for c := range spec.conns {
		wg.Go(func() {
			src := &requestSource{
				wl: spec.wl, z: spec.z, host: spec.addr, tag: spec.tag + "c" + strconv.Itoa(c),
				rng: rand.New(rand.NewPCG(spec.seed, uint64(c))),
			}
			var h histogram
			var n, errs, nbytes int64
			var firstErr error
			var conn net.Conn
			var br *bufio.Reader
			counter := &countingReader{}
			req := make([]byte, 0, 256)
			defer func() {
				if conn != nil {
					_ = conn.Close() // the run is over; nothing to report
				}
			}()
			for ctx.Err() == nil {
				req = req[:0]
				if spec.fixed != nil {
					i := next.Add(1) - 1
					if i >= int64(len(spec.fixed)) {
						break
					}
					req = append(req, "GET /obj/"...)
					req = strconv.AppendInt(req, int64(spec.fixed[i]), 10)
					req = append(req, "?size="...)
					req = strconv.AppendInt(req, int64(spec.wl.size), 10)
					req = append(req, " HTTP/1.1\r\nHost: "...)
					req = append(req, spec.addr...)
					req = append(req, "\r\n\r\n"...)
				} else {
					req = src.next(req)
				}
				if conn == nil {
					var err error
					conn, err = net.DialTimeout("tcp", spec.addr, 5*time.Second)
					if err != nil {
						errs++
						firstErr = cmpErr(firstErr, err)
						conn = nil
						if !sleepCtx(ctx, 10*time.Millisecond) {
							break
						}
						continue
					}
					counter.r = conn
					br = bufio.NewReaderSize(counter, 64<<10)
				}
				t0 := time.Now()
				_ = conn.SetDeadline(t0.Add(5 * time.Second)) // a failed set shows as a failed read
				_, err := conn.Write(req)
				var status int
				var closeConn bool
				if err == nil {
					status, closeConn, err = readResponse(br)
				}
				d := time.Since(t0)
				if err == nil && status != 200 && status != 304 {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					if ctx.Err() != nil {
						break // cut by the end of the run
					}
					errs++
					firstErr = cmpErr(firstErr, err)
					closeConn = true
				} else {
					n++
					h.record(d)
				}
				if closeConn {
					_ = conn.Close() // replaced at the next request
					conn = nil
				}
			}
			nbytes = counter.n
			mu.Lock()
			res.requests += n
			res.errors += errs
			res.bytes += nbytes
			res.lat.merge(&h)
			res.firstErr = cmpErr(res.firstErr, firstErr)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// sleepCtx waits d or until ctx is done; it reports whether ctx is still
// live. Used only to pace reconnection attempts to a server that refuses.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
