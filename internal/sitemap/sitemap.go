// Package sitemap reads the URL lists that cache warming takes: a
// sitemap.xml (https://www.sitemaps.org/protocol.html), a sitemap index
// whose entries are sitemaps in turn, gzip-compressed or not, and plain
// lists of URLs, one a line. Every read is bounded in bytes, URLs, nesting
// depth and documents.
package sitemap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits bound what Collect reads. The zero value of a field means its
// default.
type Limits struct {
	// MaxBytes bounds one document, uncompressed (default 50MiB, the
	// protocol's limit).
	MaxBytes int64
	// MaxURLs bounds the URLs collected in all (default 100,000).
	MaxURLs int
	// MaxDepth bounds the nesting of sitemap indexes: 1 reads the root
	// document only (default 3).
	MaxDepth int
	// MaxDocuments bounds the documents read in all (default 1,000).
	MaxDocuments int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 50 << 20
	}
	if l.MaxURLs <= 0 {
		l.MaxURLs = 100000
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 3
	}
	if l.MaxDocuments <= 0 {
		l.MaxDocuments = 1000
	}
	return l
}

// Document is what one document lists: page URLs (a urlset, or a plain
// list) and sitemaps (a sitemap index).
type Document struct {
	URLs     []string
	Sitemaps []string
}

// Errors of Parse and Collect.
var (
	ErrTooLarge = errors.New("sitemap: document over the size limit")
	ErrTooMany  = errors.New("sitemap: over the URL limit")
	ErrTooDeep  = errors.New("sitemap: sitemap indexes nested over the depth limit")
	ErrFormat   = errors.New("sitemap: not a sitemap, sitemap index or list of URLs")
)

// Parse reads one document from r, at most limit bytes once uncompressed
// (gzip is detected by its magic bytes): a <urlset>, a <sitemapindex>, or,
// when it does not start with "<", a list of URLs, one a line ("#" starts a
// comment line). Every URL must be absolute http or https.
func Parse(r io.Reader, limit int64) (*Document, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("sitemap: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	b, err := io.ReadAll(io.LimitReader(br, limit+1))
	if err != nil {
		return nil, fmt.Errorf("sitemap: read: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '<' {
		return parseXML(t)
	}
	return parseList(b)
}

func parseList(b []byte) (*Document, error) {
	d := &Document{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := checkURL(line); err != nil {
			return nil, fmt.Errorf("sitemap: line %d: %w", n+1, err)
		}
		d.URLs = append(d.URLs, line)
	}
	return d, nil
}

// xmlDoc decodes both root elements: the decoder matches on local names,
// whatever the namespace.
type xmlDoc struct {
	XMLName  xml.Name
	URLs     []xmlLoc `xml:"url"`
	Sitemaps []xmlLoc `xml:"sitemap"`
}

type xmlLoc struct {
	Loc string `xml:"loc"`
}

func parseXML(b []byte) (*Document, error) {
	var x xmlDoc
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	d := &Document{}
	var list *[]string
	var from []xmlLoc
	switch x.XMLName.Local {
	case "urlset":
		list, from = &d.URLs, x.URLs
	case "sitemapindex":
		list, from = &d.Sitemaps, x.Sitemaps
	default:
		return nil, fmt.Errorf("%w: root element <%s>", ErrFormat, x.XMLName.Local)
	}
	for i, l := range from {
		loc := strings.TrimSpace(l.Loc)
		if err := checkURL(loc); err != nil {
			return nil, fmt.Errorf("sitemap: <%s> entry %d: %w", x.XMLName.Local, i+1, err)
		}
		*list = append(*list, loc)
	}
	return d, nil
}

func checkURL(u string) error {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(u, "http://")
	}
	if !ok || rest == "" || rest[0] == '/' || strings.ContainsAny(u, " \t\r\x00") {
		return fmt.Errorf("%q is not an absolute http or https URL", u)
	}
	return nil
}

// Open returns the document at loc (a path or a URL, as the caller
// understands it). The caller closes it.
type Open func(ctx context.Context, loc string) (io.ReadCloser, error)

// Collect reads the document at root and, breadth first, every sitemap it
// or the indexes under it list, within lim, and returns the page URLs in
// order, each once.
func Collect(ctx context.Context, root string, open Open, lim Limits) ([]string, error) {
	lim = lim.withDefaults()
	var urls []string
	seenURL := map[string]bool{}
	seenDoc := map[string]bool{root: true}
	level := []string{root}
	docs := 0
	for depth := 1; len(level) > 0; depth++ {
		if depth > lim.MaxDepth {
			return nil, fmt.Errorf("%w (%d)", ErrTooDeep, lim.MaxDepth)
		}
		var next []string
		for _, loc := range level {
			if docs++; docs > lim.MaxDocuments {
				return nil, fmt.Errorf("sitemap: more than %d documents", lim.MaxDocuments)
			}
			d, err := read(ctx, open, loc, lim.MaxBytes)
			if err != nil {
				return nil, err
			}
			for _, u := range d.URLs {
				if !seenURL[u] {
					if len(urls) >= lim.MaxURLs {
						return nil, fmt.Errorf("%w (%d)", ErrTooMany, lim.MaxURLs)
					}
					seenURL[u] = true
					urls = append(urls, u)
				}
			}
			for _, s := range d.Sitemaps {
				if !seenDoc[s] {
					seenDoc[s] = true
					next = append(next, s)
				}
			}
		}
		level = next
	}
	return urls, nil
}

func read(ctx context.Context, open Open, loc string, limit int64) (*Document, error) {
	rc, err := open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d, err := Parse(rc, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return d, nil
}
