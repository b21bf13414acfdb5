package gateway_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/gateway/gatewaytest"
)

// patternReader yields n bytes of a repeating pattern without holding them.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if rest := r.n - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	for i := range p {
		p[i] = byte('a' + (r.off+int64(i))%26)
	}
	r.off += int64(len(p))
	return len(p), nil
}

// TestGateway_StreamLargeObject: a response larger than max_object_size
// is streamed through with bounded memory (never buffered whole) and not
// stored, with a Content-Length and without one (chunked).
//
// Not parallel: it measures the process's heap.
func TestGateway_StreamLargeObject(t *testing.T) {
	const size = 64 << 20
	tests := []struct {
		name   string
		length int // the origin's Content-Length; -1 = chunked
	}{
		{"content-length", size},
		{"chunked", -1},
	}
	o := gatewaytest.StartOrigin(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Cache-Control", "max-age=600")
		n := size
		if string(ctx.Path()) == "/chunked" {
			n = -1
		}
		ctx.SetBodyStream(&patternReader{n: size}, n)
	})
	g := gatewaytest.StartGateway(t, gatewaytest.Config(o.URL), gateway.Options{}) // max_object_size 256KiB
	client := &fasthttp.HostClient{Addr: g.Addr, StreamResponseBody: true, ReadTimeout: time.Minute}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for round := 1; round <= 2; round++ {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base := ms.HeapInuse
				req := fasthttp.AcquireRequest()
				req.SetRequestURI("/" + tc.name)
				req.Header.SetHost("example.test")
				resp := fasthttp.AcquireResponse()
				if err := client.Do(req, resp); err != nil {
					t.Fatal(err)
				}
				if got := string(resp.Header.Peek("X-Cache")); got != "MISS" {
					t.Errorf("round %d: X-Cache %q, want MISS (too large to store)", round, got)
				}
				if got := string(resp.Header.Peek("Cache-Status")); got != "flowcache; fwd=uri-miss; fwd-status=200; detail=too-large" {
					t.Errorf("round %d: Cache-Status %q", round, got)
				}
				var total, peak int64
				var want patternReader
				want.n = size
				buf, exp := make([]byte, 64<<10), make([]byte, 64<<10)
				body := resp.BodyStream()
				for next := int64(0); ; {
					n, err := body.Read(buf)
					if n > 0 {
						_, _ = want.Read(exp[:n]) // a patternReader never fails
						if !bytes.Equal(buf[:n], exp[:n]) {
							t.Fatalf("round %d: body differs near byte %d", round, total)
						}
						total += int64(n)
					}
					if total >= next {
						runtime.ReadMemStats(&ms)
						peak = max(peak, int64(ms.HeapInuse)-int64(base))
						next += 4 << 20
					}
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("round %d: read body: %v", round, err)
					}
				}
				if err := resp.CloseBodyStream(); err != nil {
					t.Errorf("close body: %v", err)
				}
				fasthttp.ReleaseResponse(resp)
				fasthttp.ReleaseRequest(req)
				if total != size {
					t.Errorf("round %d: got %d bytes, want %d", round, total, size)
				}
				if peak > 16<<20 {
					t.Errorf("round %d: heap in use grew by %d MiB while streaming %d MiB", round, peak>>20, size>>20)
				}
				t.Logf("round %d: peak heap growth %d KiB for a %d MiB body", round, peak>>10, size>>20)
			}
		})
	}
	if got := o.Requests(); got != 4 {
		t.Errorf("origin saw %d requests, want 4 (nothing stored)", got)
	}
}
