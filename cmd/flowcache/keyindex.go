package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyIndex tells on which line of a TOML document each key is defined, so that
// every config error can name a line as well as a key path.
//
// # Why a second scanner?
//
// BurntSushi/toml records key positions but does not export them, and its
// keys for arrays of tables carry no index ("routes.timeout" for every
// [[routes]] entry). Validate's errors name indexed paths
// ("routes[2].upstreams[0]"). keyIndex maps both forms to lines by scanning
// the same bytes the decoder parsed. It is a tolerant scanner, not a parser:
// on input it does not understand it stops and knows fewer keys, and it never
// fails.
type keyIndex struct {
	lineStart []int          // byte offset at which each line starts
	lines     []string       // the source lines, for snippets
	byPath    map[string]int // indexed path ("routes[1].upstreams[0]") -> line
	entries   []keyEntry     // in document order
}

// keyEntry is one key, table header or array element found in the document.
type keyEntry struct {
	path  string // indexed path: routes[1].timeout
	plain string // toml.Key form, no indexes: routes.timeout ("" for array elements)
	line  int    // 1-based
}

// maxScanDepth bounds the nesting of arrays and inline tables the scanner
// follows; deeper input is left unindexed.
const maxScanDepth = 64

// scanKeys indexes the keys of src.
func scanKeys(src string) *keyIndex {
	ix := &keyIndex{
		lineStart: []int{0},
		lines:     strings.Split(src, "\n"),
		byPath:    map[string]int{},
	}
	for off := 0; ; {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
		ix.lineStart = append(ix.lineStart, off)
	}
	s := &keyScanner{src: src, ix: ix, arrays: map[string]int{}}
	s.document()
	return ix
}

// lineAt returns the 1-based line of byte offset off.
func (ix *keyIndex) lineAt(off int) int {
	return sort.Search(len(ix.lineStart), func(i int) bool { return ix.lineStart[i] > off })
}

func (ix *keyIndex) add(path, plain string, off int) {
	line := ix.lineAt(off)
	ix.entries = append(ix.entries, keyEntry{path: path, plain: plain, line: line})
	if _, dup := ix.byPath[path]; !dup {
		ix.byPath[path] = line
	}
}

// line returns the line defining path, or, when path is not in the document
// (a default value), the line of its nearest enclosing key or table. It
// returns 0 when no part of path is in the document.
func (ix *keyIndex) line(path string) int {
	for path != "" {
		if l, ok := ix.byPath[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last element of an indexed path:
// "a[1].b[2]" -> "a[1].b" -> "a[1]" -> "a" -> "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// resolve finds the indexed path of a key known only in plain form (as the
// decoder reports it) at line, or near it: the entry with that plain form on
// that line, else the last one before it, else the first one anywhere. It
// returns plain itself and line when the document has no such key.
func (ix *keyIndex) resolve(plain string, line int) (string, int) {
	var before, first *keyEntry
	for i := range ix.entries {
		e := &ix.entries[i]
		if e.plain != plain {
			continue
		}
		if e.line == line {
			return e.path, e.line
		}
		if first == nil {
			first = e
		}
		if line > 0 && e.line < line {
			before = e
		}
	}
	switch {
	case before != nil:
		return before.path, before.line
	case first != nil && line == 0:
		return first.path, first.line
	}
	return plain, line
}

// keyLine returns the line defining path, or, for a table only implied
// by a deeper header ([policies.x] implies "policies"), the line of the
// first key under it; 0 when the document has neither.
func (ix *keyIndex) keyLine(path string) int {
	if l, ok := ix.byPath[path]; ok {
		return l
	}
	for _, e := range ix.entries {
		if rest, ok := strings.CutPrefix(e.path, path); ok && rest != "" && (rest[0] == '.' || rest[0] == '[') {
			return e.line
		}
	}
	return 0
}

// snippet returns line n of the document formatted for an error message, as
// toml.ParseError.ErrorWithPosition does, or "" if there is no such line.
func (ix *keyIndex) snippet(n int) string {
	if n < 1 || n > len(ix.lines) {
		return ""
	}
	l := strings.TrimRight(strings.ReplaceAll(ix.lines[n-1], "\t", "    "), "\r")
	return fmt.Sprintf("%7d | %s", n, l)
}

// keyScanner walks a TOML document and records keys into a keyIndex.
type keyScanner struct {
	src    string
	i      int
	ix     *keyIndex
	arrays map[string]int // indexed path of an array of tables -> elements seen
	table  string         // indexed path of the current table
	plain  toml.Key       // plain path of the current table
}

func (s *keyScanner) eof() bool { return s.i >= len(s.src) }

// stop abandons the scan: whatever was not indexed yet stays unknown.
func (s *keyScanner) stop() { s.i = len(s.src) }

func (s *keyScanner) document() {
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		if s.src[s.i] == '[' {
			s.header()
			continue
		}
		start := s.i
		keys := s.key()
		if keys == nil || !s.expect('=') {
			s.stop()
			return
		}
		path, plain := join(s.table, s.plain, keys)
		s.ix.add(path, plain.String(), start)
		s.value(path, plain, true, 0)
	}
}

// header reads [table] or [[array.of.tables]].
func (s *keyScanner) header() {
	start := s.i
	double := strings.HasPrefix(s.src[s.i:], "[[")
	s.i++
	if double {
		s.i++
	}
	keys := s.key()
	if keys == nil || !s.expect(']') || double && !s.expect(']') {
		s.stop()
		return
	}
	// Resolve every prefix that names an array of tables to its last
	// element: [routes.x] after [[routes]] is routes[N-1].x.
	path := ""
	for i, k := range keys {
		path = joinPath(path, k)
		if n, ok := s.arrays[path]; ok && (i < len(keys)-1 || !double) {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	if double {
		n := s.arrays[path]
		s.arrays[path] = n + 1
		if n == 0 {
			s.ix.add(path, keys.String(), start)
		}
		path += "[" + strconv.Itoa(n) + "]"
	}
	s.table, s.plain = path, keys
	s.ix.add(path, keys.String(), start)
}

// value skips one value, recording the keys of inline tables and the
// elements of arrays. Keys inside arrays have no plain form (keyed is
// false): the decoder never reports them on their own.
func (s *keyScanner) value(path string, plain toml.Key, keyed bool, depth int) {
	s.skipSpace(false)
	if s.eof() {
		return
	}
	if depth > maxScanDepth {
		s.stop()
		return
	}
	switch s.src[s.i] {
	case '"', '\'':
		s.str()
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.i++
				return
			}
			elem := path + "[" + strconv.Itoa(n) + "]"
			s.ix.add(elem, "", s.i)
			s.value(elem, nil, false, depth+1)
			s.skipSpace(true)
			switch {
			case s.eof():
				return
			case s.src[s.i] == ',':
				s.i++
			case s.src[s.i] == ']':
				s.i++
				return
			default:
				s.stop()
				return
			}
		}
	case '{':
		s.i++
		for {
			s.skipSpace(false)
			if s.eof() {
				return
			}
			if s.src[s.i] == '}' {
				s.i++
				return
			}
			start := s.i
			keys := s.key()
			if keys == nil || !s.expect('=') {
				s.stop()
				return
			}
			p, pl := join(path, plain, keys)
			if keyed {
				s.ix.add(p, pl.String(), start)
			} else {
				s.ix.add(p, "", start)
			}
			s.value(p, pl, keyed, depth+1)
			s.skipSpace(false)
			switch {
			case s.eof():
				return
			case s.src[s.i] == ',':
				s.i++
			case s.src[s.i] == '}':
				s.i++
				return
			default:
				s.stop()
				return
			}
		}
	default:
		for !s.eof() && !strings.ContainsRune(" \t\r\n,]}#", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// join appends the dotted key keys to a table's indexed path and plain key.
func join(path string, plain, keys toml.Key) (string, toml.Key) {
	for _, k := range keys {
		path = joinPath(path, k)
	}
	full := make(toml.Key, 0, len(plain)+len(keys))
	return path, append(append(full, plain...), keys...)
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// key reads a possibly dotted key; nil if there is none.
func (s *keyScanner) key() toml.Key {
	var keys toml.Key
	for {
		s.skipSpace(false)
		if s.eof() {
			return nil
		}
		var k string
		switch c := s.src[s.i]; {
		case c == '"' || c == '\'':
			start := s.i
			s.str()
			raw := s.src[start:s.i]
			if c == '"' {
				if u, err := strconv.Unquote(raw); err == nil {
					k = u
					break
				}
			}
			k = strings.Trim(raw, `"'`)
		case isBare(c):
			start := s.i
			for !s.eof() && isBare(s.src[s.i]) {
				s.i++
			}
			k = s.src[start:s.i]
		default:
			return nil
		}
		keys = append(keys, k)
		s.skipSpace(false)
		if s.eof() || s.src[s.i] != '.' {
			return keys
		}
		s.i++
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// expect skips blanks and consumes c, reporting whether it was there.
func (s *keyScanner) expect(c byte) bool {
	s.skipSpace(false)
	if s.eof() || s.src[s.i] != c {
		return false
	}
	s.i++
	return true
}

// str skips a basic or literal string, single- or multi-line.
func (s *keyScanner) str() {
	q := s.src[s.i]
	delim := string(q)
	if strings.HasPrefix(s.src[s.i:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	s.i += len(delim)
	for !s.eof() {
		if q == '"' && s.src[s.i] == '\\' {
			s.i += 2
			continue
		}
		if strings.HasPrefix(s.src[s.i:], delim) {
			s.i += len(delim)
			// A multi-line string may end with up to two extra quotes.
			for n := 0; len(delim) == 3 && n < 2 && !s.eof() && s.src[s.i] == q; n++ {
				s.i++
			}
			return
		}
		if len(delim) == 1 && s.src[s.i] == '\n' {
			return
		}
		s.i++
	}
	if s.i > len(s.src) {
		s.i = len(s.src)
	}
}

// skipSpace skips blanks and comments, and newlines too when newlines is set.
func (s *keyScanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			if !newlines {
				return
			}
			s.i++
		case '#':
			if n := strings.IndexByte(s.src[s.i:], '\n'); n >= 0 {
				s.i += n
			} else {
				s.i = len(s.src)
			}
		default:
			return
		}
	}
}
