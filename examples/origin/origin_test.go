package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestOrigin_endpoints(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newHandler(func() time.Time { return fixedNow }))
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		method     string
		path       string
		reqHeader  map[string]string
		wantStatus int
		wantHeader map[string]string // "" value: must be absent
		wantBody   string            // substring
		wantLen    int64             // checked when checkLen
		checkLen   bool
	}{
		{name: "index", path: "/", wantStatus: 200, wantBody: "/surrogate"},
		{name: "unknown", path: "/nope", wantStatus: 404},
		{
			name: "public", path: "/public", wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "public, max-age=60", "Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT"},
		},
		{name: "public if-modified-since", path: "/public", reqHeader: map[string]string{"If-Modified-Since": "Fri, 02 Jan 2026 03:04:05 GMT"}, wantStatus: 304},
		{name: "public modified", path: "/public", reqHeader: map[string]string{"If-Modified-Since": "Fri, 02 Jan 2026 03:00:00 GMT"}, wantStatus: 200},
		{name: "short", path: "/short", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "max-age=5, stale-while-revalidate=30"}},
		{name: "s-maxage", path: "/s-maxage", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "max-age=0, s-maxage=60"}},
		{name: "no-store", path: "/no-store", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "no-store"}},
		{name: "private", path: "/private", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "private, max-age=60"}},
		{name: "no-cache", path: "/no-cache", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "no-cache", "ETag": `"v1"`}},
		{
			name: "no-cache if-none-match", path: "/no-cache", reqHeader: map[string]string{"If-None-Match": `"v0", W/"v1"`}, wantStatus: 304,
			wantHeader: map[string]string{"ETag": `"v1"`},
		},
		{name: "no-cache if-none-match star", path: "/no-cache", reqHeader: map[string]string{"If-None-Match": "*"}, wantStatus: 304},
		{name: "no-cache if-none-match other", path: "/no-cache", reqHeader: map[string]string{"If-None-Match": `"v2"`}, wantStatus: 200},
		{name: "vary default", path: "/vary", wantStatus: 200, wantHeader: map[string]string{"Vary": "Accept-Language", "Content-Language": "en"}, wantBody: "Hello"},
		{
			name: "vary fr", path: "/vary", reqHeader: map[string]string{"Accept-Language": "fr-CH, fr;q=0.9"}, wantStatus: 200,
			wantHeader: map[string]string{"Content-Language": "fr"}, wantBody: "Bonjour",
		},
		{name: "set-cookie", path: "/set-cookie", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "max-age=60"}, wantBody: "cookie"},
		{
			name: "expires", path: "/expires", wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "", "Date": "Fri, 02 Jan 2026 03:04:05 GMT", "Expires": "Fri, 02 Jan 2026 03:05:05 GMT"},
		},
		{name: "cdn", path: "/cdn", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "no-cache", "CDN-Cache-Control": "max-age=60"}},
		{
			name: "surrogate", path: "/surrogate", wantStatus: 200,
			wantHeader: map[string]string{"Surrogate-Control": "max-age=60", "Surrogate-Key": "origin surrogate"},
		},
		{name: "surrogate tags", path: "/surrogate?tags=a+b", wantStatus: 200, wantHeader: map[string]string{"Surrogate-Key": "a b"}},
		{name: "slow", path: "/slow?ms=1", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "max-age=60"}, wantBody: "took 1ms"},
		{name: "status 404", path: "/status/404", wantStatus: 404, wantHeader: map[string]string{"Cache-Control": "max-age=60"}},
		{name: "status 503", path: "/status/503", wantStatus: 503},
		{name: "status 204", path: "/status/204", wantStatus: 204, wantLen: 0, checkLen: true},
		{name: "status bad", path: "/status/99", wantStatus: 400},
		{name: "big default", path: "/big", wantStatus: 200, wantLen: 1 << 20, checkLen: true},
		{name: "big size", path: "/big?size=100000", wantStatus: 200, wantLen: 100000, checkLen: true},
		{name: "big zero", path: "/big?size=0", wantStatus: 200, wantLen: 0, checkLen: true},
		{name: "big too big", path: "/big?size=99999999999", wantStatus: 400},
		{name: "big head", method: http.MethodHead, path: "/big?size=10", wantStatus: 200, wantHeader: map[string]string{"Content-Length": "10"}},
		{
			name: "obj", path: "/obj/7?size=300", wantStatus: 200, wantLen: 300, checkLen: true,
			wantHeader: map[string]string{"Cache-Control": "public, max-age=3600", "ETag": `"7-300"`},
		},
		{name: "obj default size", path: "/obj/1", wantStatus: 200, wantLen: 1024, checkLen: true},
		{name: "obj if-none-match", path: "/obj/7?size=300", reqHeader: map[string]string{"If-None-Match": `"7-300"`}, wantStatus: 304},
		{name: "obj bad id", path: "/obj/x", wantStatus: 400},
		{name: "obj too big", path: "/obj/1?size=8388609", wantStatus: 400},
		{name: "stats", path: "/stats", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "no-store"}, wantBody: "requests="},
		{name: "time", path: "/time", wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "max-age=2"}, wantBody: "2026-01-02T03:04:05Z"},
		{name: "post", method: http.MethodPost, path: "/public", wantStatus: 204, wantHeader: map[string]string{"Cache-Control": "no-store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.reqHeader {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("%s %s status = %d, want %d", method, tt.path, resp.StatusCode, tt.wantStatus)
			}
			for k, want := range tt.wantHeader {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s %s header %s = %q, want %q", method, tt.path, k, got, want)
				}
			}
			if resp.Header.Get("X-Origin-Count") == "" {
				t.Errorf("%s %s has no X-Origin-Count", method, tt.path)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("%s %s body = %q, want it to contain %q", method, tt.path, body, tt.wantBody)
			}
			if tt.checkLen && int64(len(body)) != tt.wantLen {
				t.Errorf("%s %s body length = %d, want %d", method, tt.path, len(body), tt.wantLen)
			}
		})
	}
}

func TestOrigin_count(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newHandler(time.Now))
	t.Cleanup(srv.Close)
	for want := 1; want <= 3; want++ {
		resp, err := srv.Client().Get(srv.URL + "/time")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Origin-Count"); got != strconv.Itoa(want) {
			t.Errorf("request %d: X-Origin-Count = %q, want %d", want, got, want)
		}
	}
}

// Test_run starts the origin on a free port, requests its index, and stops it
// by cancelling the context.
func Test_run(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-addr", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listen line: %v (run: %v)", err, <-errc)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // drain: run must never block on stdout
	url := strings.TrimSpace(strings.TrimPrefix(line, "origin listening on "))
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/ = %d, want 200", url, resp.StatusCode)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run = %v after cancel, want nil", err)
	}
}

func Test_run_flags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"help", []string{"-h"}, false},
		{"unknown flag", []string{"-nope"}, true},
		{"extra argument", []string{"x"}, true},
		{"bad address", []string{"-addr", "nope"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(t.Context(), tt.args, io.Discard, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Errorf("run(%q) = %v, want error: %v", tt.args, err, tt.wantErr)
			}
		})
	}
}
