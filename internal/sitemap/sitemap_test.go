package sitemap

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

const urlset = `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://example.com/a</loc><lastmod>2026-01-01</lastmod></url>
  <url><loc> https://example.com/b?x=1&amp;y=2 </loc></url>
</urlset>`

func TestParse(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(urlset)) // a bytes.Buffer does not fail
	_ = zw.Close()                  // idem
	tests := []struct {
		name     string
		src      string
		urls     []string
		sitemaps []string
		wantErr  string
	}{
		{name: "urlset", src: urlset, urls: []string{"https://example.com/a", "https://example.com/b?x=1&y=2"}},
		{name: "gzip", src: gz.String(), urls: []string{"https://example.com/a", "https://example.com/b?x=1&y=2"}},
		{name: "index", src: `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://example.com/s1.xml</loc></sitemap></sitemapindex>`, sitemaps: []string{"https://example.com/s1.xml"}},
		{name: "list", src: "\ufeff# pages\nhttps://example.com/a\n\n  http://example.com/b  \r\n", urls: []string{"https://example.com/a", "http://example.com/b"}},
		{name: "empty", src: ""},
		{name: "relative", src: "/a\n", wantErr: `line 1: "/a" is not an absolute http or https URL`},
		{name: "xml_relative", src: `<urlset><url><loc>a.html</loc></url></urlset>`, wantErr: "<urlset> entry 1"},
		{name: "other_root", src: `<html></html>`, wantErr: "root element <html>"},
		{name: "broken_xml", src: `<urlset><url>`, wantErr: "not a sitemap"},
		{name: "too_large", src: strings.Repeat("https://example.com/\n", 10), wantErr: "over the size limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limit := int64(1 << 20)
			if tt.name == "too_large" {
				limit = 100
			}
			d, err := Parse(strings.NewReader(tt.src), limit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.URLs, tt.urls) || !slices.Equal(d.Sitemaps, tt.sitemaps) {
				t.Errorf("Parse = %q, %q; want %q, %q", d.URLs, d.Sitemaps, tt.urls, tt.sitemaps)
			}
		})
	}
}

// docs is an Open over an in-memory set of documents.
type docs map[string]string

func (m docs) open(_ context.Context, loc string) (io.ReadCloser, error) {
	s, ok := m[loc]
	if !ok {
		return nil, fmt.Errorf("%s: %w", loc, os.ErrNotExist)
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

func index(locs ...string) string {
	var b strings.Builder
	b.WriteString("<sitemapindex>")
	for _, l := range locs {
		b.WriteString("<sitemap><loc>" + l + "</loc></sitemap>")
	}
	return b.String() + "</sitemapindex>"
}

func set(locs ...string) string {
	var b strings.Builder
	b.WriteString("<urlset>")
	for _, l := range locs {
		b.WriteString("<url><loc>" + l + "</loc></url>")
	}
	return b.String() + "</urlset>"
}

func TestCollect(t *testing.T) {
	t.Parallel()
	m := docs{
		"root":              index("http://s/1.xml", "http://s/idx2.xml", "http://s/1.xml"),
		"http://s/1.xml":    set("http://p/a", "http://p/b"),
		"http://s/idx2.xml": index("http://s/2.xml", "http://s/idx2.xml"),
		"http://s/2.xml":    set("http://p/b", "http://p/c"),
	}
	got, err := Collect(t.Context(), "root", m.open, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://p/a", "http://p/b", "http://p/c"}; !slices.Equal(got, want) {
		t.Errorf("Collect = %q, want %q", got, want)
	}
	for name, tt := range map[string]struct {
		lim  Limits
		want error
	}{
		"depth": {Limits{MaxDepth: 2}, ErrTooDeep},
		"urls":  {Limits{MaxURLs: 2}, ErrTooMany},
	} {
		if _, err := Collect(t.Context(), "root", m.open, tt.lim); !errors.Is(err, tt.want) {
			t.Errorf("%s: Collect = %v, want %v", name, err, tt.want)
		}
	}
	if _, err := Collect(t.Context(), "root", m.open, Limits{MaxDocuments: 3}); err == nil || !strings.Contains(err.Error(), "more than 3 documents") {
		t.Errorf("documents: Collect = %v", err)
	}
	m["http://s/2.xml"] = "<urlset><url>"
	if _, err := Collect(t.Context(), "root", m.open, Limits{}); err == nil || !strings.HasPrefix(err.Error(), "http://s/2.xml: ") {
		t.Errorf("broken nested sitemap: Collect = %v, want an error naming it", err)
	}
}

// FuzzParse: no input makes Parse panic or return a URL that is not
// absolute http(s).
func FuzzParse(f *testing.F) {
	for _, s := range []string{urlset, index("http://s/1.xml"), "https://a/\n#c\n", "<urlset><url><loc>", "\x1f\x8b", "<!DOCTYPE x [<!ENTITY a 'b'>]><urlset/>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(bytes.NewReader(b), 1<<16)
		if err != nil {
			return
		}
		for _, u := range append(d.URLs, d.Sitemaps...) {
			if checkURL(u) != nil {
				t.Errorf("Parse accepted %q", u)
			}
		}
	})
}
