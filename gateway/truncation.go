package gateway

import (
	"net"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// # Why track upstream connections?
//
// A chunked body ends with its last chunk ("0\r\n\r\n"); a connection that
// closes before it has delivered an incomplete message (RFC 9112, Section
// 8). fasthttp's streaming reader does not always say so: when the
// connection closes exactly between two chunks, reading the next chunk size
// meets io.EOF and the body stream returns io.EOF, as at a real end. A proxy
// that believed it would send the client a truncated body with a valid last
// chunk, and a cache would store it and serve it to everyone until it
// expires.
//
// The order of events that tells the two apart:
//
//	real end:  conn.Read returns "...0\r\n\r\n" -> stream returns io.EOF
//	cut short: conn.Read returns io.EOF         -> stream returns io.EOF
//
// So every upstream connection records whether a read from it failed, and
// exposes itself through the LocalAddr that fasthttp copies into each
// Response (Response.LocalAddr): a body stream's io.EOF on a connection whose
// read failed is a truncation. A Content-Length body is checked by counting.

// trackedConn is an upstream connection that records a failed read.
type trackedConn struct {
	net.Conn
	addr   connAddr
	failed atomic.Bool
}

// connAddr is the local address of a trackedConn, pointing back to it.
type connAddr struct {
	net.Addr
	c *trackedConn
}

// trackConn wraps c. The result's LocalAddr is a *connAddr.
func trackConn(c net.Conn) net.Conn {
	tc := &trackedConn{Conn: c}
	tc.addr = connAddr{Addr: c.LocalAddr(), c: tc}
	return tc
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.failed.Store(true)
	}
	return n, err
}

// LocalAddr returns the connection's local address as a *connAddr.
func (c *trackedConn) LocalAddr() net.Addr { return &c.addr }

// upstreamCut reports whether resp's body, which returned io.EOF after n
// bytes, was cut short by the upstream: fewer bytes than its Content-Length
// (cl >= 0), or a chunked body (cl == -1) whose connection failed a read. A
// body delimited by the connection's close (cl == -2) cannot be checked
// (RFC 9112, Section 6.3, item 8).
func upstreamCut(resp *fasthttp.Response, cl int, n int64) bool {
	switch {
	case cl >= 0:
		return n < int64(cl)
	case cl == -1:
		a, ok := resp.LocalAddr().(*connAddr)
		return ok && a.c.failed.Load()
	default:
		return false
	}
}
