package gateway

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"
)

// StatusError is the one error type that carries an HTTP status to the
// client. Anything else reaching [Gateway.writeError] is mapped by its kind:
// upstream timeouts to 504, other upstream failures to 502, the rest to 500.
type StatusError struct {
	// Status is the HTTP status code sent to the client.
	Status int
	// Err is the cause; its text is logged, never sent to the client.
	Err error
}

// Error returns "gateway: <status>: <cause>".
func (e *StatusError) Error() string {
	if e.Err == nil {
		return "gateway: " + strconv.Itoa(e.Status)
	}
	return fmt.Sprintf("gateway: %d: %v", e.Status, e.Err)
}

// Unwrap returns the cause.
func (e *StatusError) Unwrap() error { return e.Err }

var (
	errNoRoute        = &StatusError{Status: fasthttp.StatusNotFound, Err: errors.New("gateway: no route")}
	errOnlyIfCached   = &StatusError{Status: fasthttp.StatusGatewayTimeout, Err: errors.New("gateway: only-if-cached and nothing usable is cached")}
	errNoLiveUpstream = errors.New("gateway: no live upstream")
	errFraming        = errors.New("gateway: bad request framing")
	errPanic          = errors.New("gateway: handler panic")
	errForbidden      = &StatusError{Status: fasthttp.StatusForbidden, Err: errors.New("gateway: purge not allowed")}
)

// upstreamError wraps an error that happened while talking to an upstream
// target, so that the error mapper can count it and choose 502 or 504.
type upstreamError struct {
	target string
	err    error
}

func (e *upstreamError) Error() string { return "upstream " + e.target + ": " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// errorStatus maps err to the status sent to the client and reports whether
// it is an upstream failure.
func errorStatus(err error) (status int, upstream bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status, false
	}
	var ue *upstreamError
	if errors.As(err, &ue) {
		if isTimeout(ue.err) {
			return fasthttp.StatusGatewayTimeout, true
		}
		return fasthttp.StatusBadGateway, true
	}
	if errors.Is(err, errNoLiveUpstream) {
		return fasthttp.StatusBadGateway, true
	}
	return fasthttp.StatusInternalServerError, false
}

// errorDetail names the cause of an error answer for Cache-Status: a
// token (RFC 9211, Section 2.8), never the bare status, which would read
// as an Integer: upstream-timeout, upstream-error, only-if-cached,
// no-route, else the status's reason phrase as a token (bad-request,
// request-entity-too-large, forbidden...).
func errorDetail(err error, status int, upstream bool) string {
	switch {
	case upstream && status == fasthttp.StatusGatewayTimeout:
		return "upstream-timeout"
	case upstream:
		return "upstream-error"
	case errors.Is(err, errOnlyIfCached):
		return "only-if-cached"
	case errors.Is(err, errNoRoute):
		return "no-route"
	}
	return reasonToken(status)
}

// reasonToken is the reason phrase of status, lower-case, words joined by
// "-": "Bad Request" is bad-request.
func reasonToken(status int) string {
	msg := fasthttp.StatusMessage(status)
	b := make([]byte, 0, len(msg))
	for i := 0; i < len(msg); i++ {
		switch c := msg[i]; {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9' && len(b) > 0:
			b = append(b, c)
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	for len(b) > 0 && b[len(b)-1] == '-' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "error"
	}
	return string(b)
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError is the one place an error becomes an HTTP answer: status, a
// short text body, X-Cache/Cache-Status, the metric, and one log line.
// rt may be nil (no route matched).
func (g *Gateway) writeError(ctx *fasthttp.RequestCtx, rt *route, fwd string, err error) {
	status, upstream := errorStatus(err)
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(fasthttp.StatusMessage(status) + "\n")
	xcache := xcacheMiss
	if fwd == fwdBypass || fwd == fwdMethod {
		xcache = xcacheBypass
	}
	setCacheHeaders(ctx, xcache, cacheStatusError(fwd, errorDetail(err, status, upstream)))
	m := &g.noRoute
	if rt != nil {
		m = &rt.m
	}
	switch {
	case upstream:
		m.upstreamErrors.Inc()
		g.log.LogAttrs(ctx, warnLevel, "upstream_failed", routeAttr(rt), errAttr(err), statusAttr(status))
	case status >= 500:
		m.errors.Inc()
		g.log.LogAttrs(ctx, errorLevel, "request_failed", routeAttr(rt), errAttr(err), statusAttr(status))
	default:
		m.errors.Inc()
	}
}
