package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// Access log formats ([log] access).
const (
	accessOff      = "off"
	accessJSON     = "json"
	accessCombined = "combined"
)

// validateAccess checks the access log keys of [log].
func (c *LogConfig) validateAccess(add func(key, format string, args ...any)) {
	switch c.Access {
	case accessOff, accessJSON, accessCombined:
	default:
		add("log.access", "must be off, json or combined; got %q", c.Access)
	}
	if !(c.AccessSample > 0 && c.AccessSample <= 1) {
		add("log.access_sample", "must be in (0, 1]; got %v", c.AccessSample)
	}
	if c.AccessFile != "" && c.Access == accessOff {
		add("log.access_file", "set while log.access is off")
	}
}

// accessLines bounds the lines waiting for the writer: there are that
// many line buffers, allocated once, and a request that finds none free is
// not logged but counted (flowcache_access_log_dropped_total): a slow disk
// must not slow requests, nor grow memory.
const accessLines = 1024

// accessLineSize is the capacity of a line buffer. A longer line grows its
// buffer, which is kept up to accessLineMax and replaced beyond.
const (
	accessLineSize = 1 << 10
	accessLineMax  = 16 << 10
)

// accessLog writes one line per request (a sample of them with
// access_sample < 1), in the JSON or combined format, to standard error
// or access_file. A request formats its line into a pooled buffer and
// queues it; one goroutine writes the queue through a buffered writer,
// flushed whenever the queue is empty. Buffers go back and forth between
// free and lines. Its methods are safe for concurrent
// use.
type accessLog struct {
	json    bool
	sample  float64
	lines   chan *[]byte // formatted, waiting for the writer
	free    chan *[]byte // line buffers not in use
	dropped *metrics.Counter
	log     *slog.Logger

	mu   sync.Mutex // guards w, f (the writer goroutine and reopen)
	path string     // "" for out
	out  io.Writer
	f    *os.File
	w    *bufio.Writer

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// newAccessLog returns the access log of c, nil when it is off. out is
// where lines go without access_file.
func newAccessLog(c *LogConfig, out io.Writer, set *metrics.Set, log *slog.Logger) (*accessLog, error) {
	if c.Access == accessOff || c.Access == "" {
		return nil, nil
	}
	a := &accessLog{
		json:    c.Access == accessJSON,
		sample:  c.AccessSample,
		lines:   make(chan *[]byte, accessLines),
		free:    make(chan *[]byte, accessLines),
		dropped: set.NewCounter("flowcache_access_log_dropped_total"),
		log:     log,
		path:    c.AccessFile,
		out:     out,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for range accessLines {
		b := make([]byte, 0, accessLineSize)
		a.free <- &b
	}
	if err := a.open(); err != nil {
		return nil, err
	}
	go a.run()
	return a, nil
}

// open points the writer at access_file, opened for appending (created
// 0640 when missing), or at out; the caller holds a.mu or owns a.
func (a *accessLog) open() error {
	if a.path == "" {
		a.w = bufio.NewWriterSize(a.out, 64<<10)
		return nil
	}
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log.access_file: %w", err)
	}
	a.f, a.w = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// reopen closes access_file and opens it again: after logrotate moved it
// (SIGUSR1 in cmd). On error the old file is kept.
func (a *accessLog) reopen() error {
	if a.path == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old, oldW := a.f, a.w
	if err := a.open(); err != nil {
		a.f, a.w = old, oldW
		return err
	}
	err := oldW.Flush()
	if cerr := old.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("log.access_file: close the rotated file: %w", err)
	}
	return nil
}

// run writes queued lines until close.
func (a *accessLog) run() {
	defer close(a.done)
	for {
		select {
		case b := <-a.lines:
			a.write(b)
		case <-a.stop:
			for {
				select {
				case b := <-a.lines:
					a.write(b)
				default:
					a.flush()
					return
				}
			}
		}
	}
}

// write writes one line, and flushes when no other line waits.
func (a *accessLog) write(b *[]byte) {
	a.mu.Lock()
	_, err := a.w.Write(*b)
	if err == nil && len(a.lines) == 0 {
		err = a.w.Flush()
	}
	a.mu.Unlock()
	a.release(b)
	if err != nil {
		a.log.LogAttrs(context.Background(), slog.LevelError, "access_log_write_failed", slog.String("error", err.Error()))
	}
}

func (a *accessLog) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.w.Flush(); err != nil {
		a.log.LogAttrs(context.Background(), slog.LevelError, "access_log_write_failed", slog.String("error", err.Error()))
	}
}

// close writes what is queued and closes access_file. Lines queued after
// close are not written.
func (a *accessLog) close() error {
	first := false
	a.stopOnce.Do(func() { first = true; close(a.stop) })
	<-a.done
	if !first {
		return nil
	}
	if a.f != nil {
		return a.f.Close()
	}
	return nil
}

// release returns a line buffer to the free list, a fresh one in place of
// one a long line grew beyond accessLineMax.
func (a *accessLog) release(b *[]byte) {
	if cap(*b) > accessLineMax {
		nb := make([]byte, 0, accessLineSize)
		b = &nb
	}
	a.free <- b
}

// upstreamTookKey is the RequestCtx user value holding the time a request
// spent in upstream exchanges (time.Duration), set by upstreamPool.do
// when the access log is on.
const upstreamTookKey = "flowcache.upstream_took"

// logAccess queues the access log line of a request the handler answered.
// rt is nil for a request that matched no route. It formats the line into
// a free line buffer (and allocates only to grow one for a line longer than
// any before), or drops it when every buffer waits for the writer.
func (a *accessLog) logAccess(g *Gateway, ctx *fasthttp.RequestCtx, rt *route) {
	if a.sample < 1 && rand.Float64() >= a.sample { //nolint:gosec // sampling, not security
		return
	}
	var b *[]byte
	select {
	case b = <-a.free:
	default:
		a.dropped.Inc()
		return
	}
	if a.json {
		*b = a.appendJSON((*b)[:0], g, ctx, rt)
	} else {
		*b = a.appendCombined((*b)[:0], g, ctx, rt)
	}
	// Never blocks: lines has room for every buffer.
	a.lines <- b
}

// accessFields are the values of one line; the byte slices point into the
// request and response and are valid only until the handler returns.
type accessFields struct {
	start            time.Time
	method, host     []byte
	target, xcache   []byte
	route, policy    []byte
	routePolicy      string // the route's policy name, when policy is empty
	status           int
	bytes            int64 // -1: unknown (a streamed body of unknown length)
	took, upstream   time.Duration
	upstreamMeasured bool
}

var dash = []byte("-")

func fieldsOf(ctx *fasthttp.RequestCtx, rt *route) accessFields {
	resp := &ctx.Response
	f := accessFields{
		start:  ctx.Time(),
		method: ctx.Request.Header.Method(),
		host:   ctx.Request.Header.Host(),
		target: ctx.Request.Header.RequestURI(),
		xcache: resp.Header.PeekBytes(headerXCache),
		status: resp.StatusCode(),
		route:  dash,
		policy: resp.Header.PeekBytes(s2bPolicy),
	}
	f.took = time.Since(f.start)
	if rt != nil {
		f.route = rt.name
		// Flowcache-Policy names the version that keyed the answer;
		// without it, the route's policy (name only: "default", or a
		// WebAssembly policy that did not key this request).
		f.routePolicy = rt.cfg.Policy
	} else if len(f.policy) == 0 {
		f.policy = dash
	}
	f.bytes = responseBytes(ctx)
	if d, ok := ctx.UserValue(upstreamTookKey).(time.Duration); ok {
		f.upstream, f.upstreamMeasured = d, true
	}
	return f
}

// appendJSON appends one JSON object and a newline:
//
//	{"time":"2026-12-04T18:40:00.123Z","client":"192.0.2.1","method":"GET",
//	"host":"example.com","target":"/a?b=c","status":200,"bytes":512,
//	"duration":0.000081,"upstream_duration":null,"cache":"HIT",
//	"route":"api","policy":"default"}
func (a *accessLog) appendJSON(b []byte, g *Gateway, ctx *fasthttp.RequestCtx, rt *route) []byte {
	f := fieldsOf(ctx, rt)
	b = append(b, `{"time":"`...)
	b = f.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","client":"`...)
	client, _ := g.client(ctx)
	b = client.AppendTo(b)
	b = append(b, `","method":`...)
	b = appendJSONString(b, f.method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, f.host)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, f.target)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(f.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, f.bytes, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendFloat(b, f.took.Seconds(), 'f', 6, 64)
	b = append(b, `,"upstream_duration":`...)
	if f.upstreamMeasured {
		b = strconv.AppendFloat(b, f.upstream.Seconds(), 'f', 6, 64)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"cache":`...)
	b = appendJSONString(b, f.xcache)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, f.route)
	b = append(b, `,"policy":`...)
	if len(f.policy) == 0 {
		// Policy names are 1 to 64 of [a-z0-9_]: nothing to escape.
		b = append(append(append(b, '"'), f.routePolicy...), '"')
	} else {
		b = appendJSONString(b, f.policy)
	}
	return append(b, "}\n"...)
}

// appendCombined appends the Apache/nginx combined format followed by
// key=value fields, one line:
//
//	192.0.2.1 - - [04/Dec/2026:18:40:00 +0000] "GET /a HTTP/1.1" 200 512 "-" "curl/8.5.0"
//	host=example.com cache=HIT route=api policy=default duration=0.000081 upstream_duration=-
func (a *accessLog) appendCombined(b []byte, g *Gateway, ctx *fasthttp.RequestCtx, rt *route) []byte {
	f := fieldsOf(ctx, rt)
	client, _ := g.client(ctx)
	b = client.AppendTo(b)
	b = append(b, " - - ["...)
	b = f.start.UTC().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = appendEscaped(b, f.method)
	b = append(b, ' ')
	b = appendEscaped(b, f.target)
	b = append(b, ' ')
	b = appendEscaped(b, ctx.Request.Header.Protocol())
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(f.status), 10)
	b = append(b, ' ')
	if f.bytes < 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, f.bytes, 10)
	}
	b = append(b, ` "`...)
	b = appendEscapedOrDash(b, ctx.Request.Header.Referer())
	b = append(b, `" "`...)
	b = appendEscapedOrDash(b, ctx.Request.Header.UserAgent())
	b = append(b, `" host=`...)
	b = appendEscapedOrDash(b, f.host)
	b = append(b, " cache="...)
	b = appendEscapedOrDash(b, f.xcache)
	b = append(b, " route="...)
	b = appendEscaped(b, f.route)
	b = append(b, " policy="...)
	if len(f.policy) == 0 {
		b = append(b, f.routePolicy...) // [a-z0-9_]: nothing to escape
	} else {
		b = appendEscaped(b, f.policy)
	}
	b = append(b, " duration="...)
	b = strconv.AppendFloat(b, f.took.Seconds(), 'f', 6, 64)
	b = append(b, " upstream_duration="...)
	if f.upstreamMeasured {
		b = strconv.AppendFloat(b, f.upstream.Seconds(), 'f', 6, 64)
	} else {
		b = append(b, '-')
	}
	return append(b, '\n')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return append(b, '"')
}

// appendEscaped appends s with quotes, backslashes, spaces, control and
// non-ASCII bytes as \xHH, as nginx writes its access log: one field
// never spans a separator.
func appendEscaped(b, s []byte) []byte {
	for _, c := range s {
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

func appendEscapedOrDash(b, s []byte) []byte {
	if len(s) == 0 {
		return append(b, '-')
	}
	return appendEscaped(b, s)
}

// ReopenAccessLog closes and reopens [log] access_file, for log rotation
// (cmd calls it on SIGUSR1). It does nothing when the access log is off or
// goes to standard error. It is safe for concurrent use.
func (g *Gateway) ReopenAccessLog() error {
	if g.access == nil {
		return nil
	}
	return g.access.reopen()
}
