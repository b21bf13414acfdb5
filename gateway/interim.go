package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// # Why a transport of our own?
//
// A proxy forwards the interim (1xx) responses it receives (RFC 9110,
// Section 15.2): a 103 Early Hints lets the client preload while the
// origin works. fasthttp v1.77's client reads and discards every interim
// response but 101 inside Response.ReadLimitBody, before HostClient.Do
// returns, with no hook. Its RoundTripper (HostClient.Transport) is the
// one place to see them: interimTransport does the exchange of a request
// that has a relay (see upstreamPool.relay) with fasthttp's exported
// pieces (AcquireConn, AcquireWriter, AcquireReader, ResponseHeader.Read),
// hands each interim head to the relay, and streams the final response's
// body itself (Content-Length, chunked with net/http's chunked reader, or
// until close), returning the connection to the pool only after a body
// read to its end. Every other request takes fasthttp.DefaultTransport.
//
// Only a 103's Link fields are relayed, with RequestCtx.EarlyHints, the
// one interim response fasthttp's server can send; a 100 Continue belongs
// to the upstream hop (the gateway sends bodies without Expect), and 102
// (deprecated) or 104 are dropped. Interim responses are never stored.

// maxInterim bounds the interim responses read before a final one, as
// fasthttp does.
const maxInterim = 100

// maxTrailer bounds the trailer section of a chunked body.
const maxTrailer = 16 << 10

var errTooManyInterim = errors.New("gateway: too many 1xx responses from upstream")

// interimTransport is the HostClient.Transport of an upstream pool's
// targets.
type interimTransport struct {
	pool *upstreamPool
}

// RoundTrip implements fasthttp.RoundTripper.
func (t *interimTransport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	relay, ok := t.pool.relays.Load(req)
	if !ok || !resp.StreamBody {
		return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	}
	f, _ := relay.(func(*fasthttp.ResponseHeader))
	return t.pool.roundTrip(hc, req, resp, f)
}

// roundTrip sends req on a pooled connection and reads the answer into
// resp, calling relay with each interim response head. retry says whether
// fasthttp may try again (the request may not have been processed), as
// fasthttp's own transport does.
func (p *upstreamPool) roundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response, relay func(*fasthttp.ResponseHeader)) (retry bool, err error) {
	deadline := time.Now().Add(p.timeout)
	cc, err := hc.AcquireConn(p.timeout, req.ConnectionClose())
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	resp.ParseNetConn(conn)
	if err := conn.SetWriteDeadline(deadline); err != nil {
		hc.CloseConn(cc)
		return true, err
	}
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		hc.CloseConn(cc)
		if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
			err = fasthttp.ErrTimeout
		}
		return true, err
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		hc.CloseConn(cc)
		return true, err
	}
	resp.Header.DisableNormalizing()
	br := hc.AcquireReader(conn)
	fail := func(err error) (bool, error) {
		hc.ReleaseReader(br)
		hc.CloseConn(cc)
		return true, err
	}
	for n := 0; ; n++ {
		if err := resp.Header.Read(br); err != nil {
			return fail(err)
		}
		if s := resp.Header.StatusCode(); s >= 200 || s < 100 || s == fasthttp.StatusSwitchingProtocols {
			break
		}
		if n >= maxInterim {
			return fail(errTooManyInterim)
		}
		relay(&resp.Header)
	}
	b := &relayedBody{
		hc: hc, conn: conn, br: br, cl: resp.Header.ContentLength(),
		keep: func() { hc.ReleaseConn(cc) }, drop: func() { hc.CloseConn(cc) },
		// A 101 hands the connection to another protocol: never reused.
		closeConn: req.ConnectionClose() || resp.ConnectionClose() || resp.StatusCode() == fasthttp.StatusSwitchingProtocols,
	}
	status := resp.StatusCode()
	if resp.SkipBody || req.Header.IsHead() || status < 200 || status == fasthttp.StatusNoContent || status == fasthttp.StatusNotModified {
		b.done = true
		b.release()
		return false, nil
	}
	switch {
	case b.cl == 0:
		b.done = true
		b.r = io.LimitReader(br, 0)
	case b.cl > 0:
		b.r = io.LimitReader(br, int64(b.cl))
	case b.cl == -1:
		b.r = httputil.NewChunkedReader(br)
	default: // until the connection closes: never reused
		b.r, b.closeConn = br, true
	}
	resp.SetBodyStream(b, b.cl)
	return false, nil
}

// relayedBody streams the body of a response read by roundTrip and
// releases its connection when closed: back to the pool after a body read
// to its end, else closed. A body cut short ends with
// io.ErrUnexpectedEOF, never io.EOF.
type relayedBody struct {
	hc   *fasthttp.HostClient
	conn net.Conn
	keep func() // returns the connection to the pool
	drop func() // closes it
	br   *bufio.Reader
	r    io.Reader
	cl   int   // Content-Length, -1 chunked, -2 until close
	n    int64 // bytes read

	mu        sync.Mutex
	done      bool // read to its end, trailer included
	closeConn bool
	released  bool
}

func (b *relayedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return 0, io.ErrClosedPipe
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.cl >= 0 && b.n == int64(b.cl) {
		b.done = true // all of it: a reader that stops at the length sees no io.EOF
	}
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	switch {
	case b.cl >= 0 && b.n < int64(b.cl):
		return n, io.ErrUnexpectedEOF
	case b.cl == -1:
		if terr := skipTrailer(b.br); terr != nil {
			return n, io.ErrUnexpectedEOF
		}
	}
	b.done = true
	return n, io.EOF
}

// skipTrailer reads the trailer section after a chunked body's last chunk,
// up to its empty line (RFC 9112, Section 7.1.2).
func skipTrailer(br *bufio.Reader) error {
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if total += len(line); total > maxTrailer {
			return errors.New("gateway: upstream trailer too large")
		}
		if len(line) == 2 && line[0] == '\r' || len(line) == 1 {
			return nil
		}
	}
}

// Close releases the connection; later calls do nothing. A Read blocked on
// the network is interrupted by closing the connection.
func (b *relayedBody) Close() error {
	if !b.mu.TryLock() {
		_ = b.conn.Close() // interrupts the Read holding the lock; the connection is not reused
		b.mu.Lock()
		b.closeConn = true
	}
	defer b.mu.Unlock()
	b.release()
	return nil
}

// release returns the reader and the connection; the caller holds b.mu or
// is the only user of b.
func (b *relayedBody) release() {
	if b.released {
		return
	}
	b.released = true
	b.hc.ReleaseReader(b.br)
	if b.done && !b.closeConn {
		b.keep()
	} else {
		b.drop()
	}
}
