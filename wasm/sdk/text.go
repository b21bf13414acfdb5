package sdk

import "github.com/flowcache/flowcache/wasm/abi"

// EqualFold reports whether b equals the ASCII string s, ignoring ASCII case.
// It does not allocate.
func EqualFold(b []byte, s string) bool { return abi.EqualFold(b, s) }

// HasPrefixFold reports whether b begins with the ASCII string prefix,
// ignoring ASCII case. It does not allocate.
func HasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && abi.EqualFold(b[:len(prefix)], prefix)
}

// ContainsFold reports whether the ASCII string s occurs in b, ignoring ASCII
// case; an empty s is always found. It does not allocate. It is meant for
// short needles such as User-Agent tokens ("mobile", "ipad").
func ContainsFold(b []byte, s string) bool {
	if len(s) == 0 {
		return true
	}
	first := lower(s[0])
	for i := 0; i+len(s) <= len(b); i++ {
		if lower(b[i]) != first {
			continue
		}
		j := 1
		for j < len(s) && lower(b[i+j]) == lower(s[j]) {
			j++
		}
		if j == len(s) {
			return true
		}
	}
	return false
}

// HasToken reports whether the comma-separated list (a header value such as
// Cache-Control or Vary) holds token, ignoring ASCII case, white space and a
// "=value" argument: HasToken([]byte("public, max-age=60"), "max-age") is
// true. It does not allocate.
func HasToken(list []byte, token string) bool {
	for len(list) > 0 {
		end := 0
		for end < len(list) && list[end] != ',' {
			end++
		}
		item := list[:end]
		if end < len(list) {
			list = list[end+1:]
		} else {
			list = nil
		}
		// Trim white space, then cut at '='.
		i, j := 0, len(item)
		for i < j && (item[i] == ' ' || item[i] == '\t') {
			i++
		}
		for k := i; k < j; k++ {
			if item[k] == '=' {
				j = k
				break
			}
		}
		for j > i && (item[j-1] == ' ' || item[j-1] == '\t') {
			j--
		}
		if abi.EqualFold(item[i:j], token) {
			return true
		}
	}
	return false
}

// lower returns c lower-cased if it is an ASCII upper-case letter.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
