package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// options are kvbench's flags.
type options struct {
	url      string
	ns       string
	mode     string
	conns    int
	duration time.Duration
	requests int64
	keys     int
	value    int
	batch    int
	token    string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("kvbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:7070", "look-aside API base URL")
	fs.StringVar(&o.ns, "ns", "bench", "namespace")
	fs.StringVar(&o.mode, "mode", "get", "get (single keys) or mget (batches of -batch keys)")
	fs.IntVar(&o.conns, "conns", 50, "keep-alive connections, one request in flight each")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send (the bound of the run)")
	fs.Int64Var(&o.requests, "requests", 0, "stop after this many requests (0: -duration only)")
	fs.IntVar(&o.keys, "keys", 1000, "distinct keys, written before the run")
	fs.IntVar(&o.value, "value", 100, "value size in bytes")
	fs.IntVar(&o.batch, "batch", 100, "keys per _mget")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.token = os.Getenv("FLOWCACHE_KV_TOKEN")
	u, err := url.Parse(o.url)
	switch {
	case err != nil || u.Scheme != "http" || u.Host == "":
		return fmt.Errorf("-url %q: want http://host:port", o.url)
	case o.mode != "get" && o.mode != "mget":
		return fmt.Errorf("-mode %q: want get or mget", o.mode)
	case o.conns < 1 || o.keys < 1 || o.batch < 1 || o.duration <= 0:
		return errors.New("-conns, -keys, -batch and -duration must be positive")
	}
	hc := &fasthttp.HostClient{Addr: u.Host, MaxConns: o.conns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if err := fill(hc, &o); err != nil {
		return err
	}
	res := load(ctx, hc, &o)
	res.print(stdout, &o)
	if res.errors > 0 && res.requests == 0 {
		return fmt.Errorf("every request failed (%d): %w", res.errors, res.firstErr)
	}
	return nil
}

func (o *options) req(method, path string) *fasthttp.Request {
	r := fasthttp.AcquireRequest()
	r.Header.SetMethod(method)
	r.SetRequestURI("http://" + "localhost" + "/kv/" + o.ns + "/" + path)
	r.Header.SetHost("localhost")
	if o.token != "" {
		r.Header.Set("Authorization", "Bearer "+o.token)
	}
	return r
}

// fill writes the keys k0..kN-1 with -value bytes each.
func fill(hc *fasthttp.HostClient, o *options) error {
	value := make([]byte, o.value)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	for i := range o.keys {
		req := o.req("PUT", "k"+strconv.Itoa(i)+"?ttl=3600")
		req.SetBody(value)
		err := hc.DoTimeout(req, resp, 10*time.Second)
		fasthttp.ReleaseRequest(req)
		if err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		if resp.StatusCode() != fasthttp.StatusNoContent {
			return fmt.Errorf("fill: PUT k%d: %d %s", i, resp.StatusCode(), resp.Body())
		}
	}
	return nil
}

// result is what one run measured.
type result struct {
	requests, errors int64
	firstErr         error
	elapsed          time.Duration
	lat              []time.Duration
}

// maxSamples bounds the latencies kept per connection.
const maxSamples = 1 << 20

// load sends requests on o.conns connections until the duration (or the
// request count) is reached.
func load(ctx context.Context, hc *fasthttp.HostClient, o *options) *result {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var sent, errs atomic.Int64
	var mu sync.Mutex
	res := &result{}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.conns {
		wg.Go(func() {
			reqs := make([]*fasthttp.Request, 0, 64)
			for i := range 64 {
				if o.mode == "get" {
					reqs = append(reqs, o.req("GET", "k"+strconv.Itoa((w*64+i)%o.keys)))
					continue
				}
				r := o.req("POST", "_mget")
				r.Header.SetContentType("application/json")
				body := []byte(`{"keys":[`)
				for j := range o.batch {
					if j > 0 {
						body = append(body, ',')
					}
					body = append(body, `"k`+strconv.Itoa((w*64*o.batch+i*o.batch+j)%o.keys)+`"`...)
				}
				r.SetBody(append(body, "]}"...))
				reqs = append(reqs, r)
			}
			resp := fasthttp.AcquireResponse()
			lat := make([]time.Duration, 0, 4096)
			var firstErr error
			for i := 0; ctx.Err() == nil; i++ {
				if o.requests > 0 && sent.Add(1) > o.requests {
					break
				}
				t0 := time.Now()
				err := hc.Do(reqs[i%len(reqs)], resp)
				d := time.Since(t0)
				if err == nil && resp.StatusCode() != fasthttp.StatusOK {
					err = fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				}
				if err != nil {
					errs.Add(1)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				if len(lat) < maxSamples {
					lat = append(lat, d)
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.requests = int64(len(res.lat))
	res.errors = errs.Load()
	return res
}

func (r *result) print(w io.Writer, o *options) {
	slices.Sort(r.lat)
	pct := func(p float64) time.Duration {
		if len(r.lat) == 0 {
			return 0
		}
		return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
	}
	perReq := 1
	if o.mode == "mget" {
		perReq = o.batch
	}
	rps := float64(r.requests) / r.elapsed.Seconds()
	fmt.Fprintf(w, "mode=%s conns=%d value=%dB requests=%d errors=%d elapsed=%s\n", o.mode, o.conns, o.value, r.requests, r.errors, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "requests/s=%.0f keys/s=%.0f p50=%s p99=%s p99.9=%s\n", rps, rps*float64(perReq), pct(0.50), pct(0.99), pct(0.999))
	if r.firstErr != nil {
		fmt.Fprintf(w, "first error: %v\n", r.firstErr)
	}
}
