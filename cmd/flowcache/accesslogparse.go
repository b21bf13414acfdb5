package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// logEntry is the part of an access log line that policy replay needs.
type logEntry struct {
	Method, Host, Target, Route string
	UserAgent, Referer          string
	Status                      int // 0 when the line has none
}

// Access log parse errors.
var (
	errLogEmpty   = errors.New("empty line")
	errLogRequest = errors.New("no request line (\"METHOD TARGET PROTOCOL\")")
)

// parseAccessLine reads one access log line in any of the formats replay
// takes: the gateway's JSON lines ([log] access = "json"), and the common
// and combined formats of Apache and nginx, with the gateway's key=value
// fields after them ([log] access = "combined": host=, route=). Escapes
// (\xHH as nginx and the gateway write them, \" and \\ as Apache does)
// are decoded. A target in absolute form gives the host.
func parseAccessLine(line []byte) (logEntry, error) {
	line = bytes.TrimRight(line, "\r\n")
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return logEntry{}, errLogEmpty
	}
	var e logEntry
	var err error
	if line[0] == '{' {
		e, err = parseJSONLine(line)
	} else {
		e, err = parseCombinedLine(string(line))
	}
	if err != nil {
		return logEntry{}, err
	}
	return e, splitAbsolute(&e)
}

func parseJSONLine(line []byte) (logEntry, error) {
	var j struct {
		Method string `json:"method"`
		Host   string `json:"host"`
		Target string `json:"target"`
		Route  string `json:"route"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(line, &j); err != nil {
		return logEntry{}, fmt.Errorf("JSON line: %w", err)
	}
	if j.Method == "" || j.Target == "" {
		return logEntry{}, errors.New("JSON line: no method or target")
	}
	if !isToken(j.Method) {
		return logEntry{}, fmt.Errorf("JSON line: method %q is not a token", j.Method)
	}
	if j.Route == "-" {
		j.Route = ""
	}
	return logEntry{Method: j.Method, Host: j.Host, Target: j.Target, Route: j.Route, Status: j.Status}, nil
}

// parseCombinedLine reads
//
//	client ident user [time] "METHOD TARGET PROTO" status bytes ["referer" "agent"] [key=value ...]
func parseCombinedLine(s string) (logEntry, error) {
	var e logEntry
	open := strings.IndexByte(s, '[')
	if open < 0 {
		return e, errors.New("no [time]")
	}
	end := strings.IndexByte(s[open:], ']')
	if end < 0 {
		return e, errors.New("no end of [time]")
	}
	rest := strings.TrimLeft(s[open+end+1:], " ")
	reqLine, rest, ok := quoted(rest)
	if !ok {
		return e, errLogRequest
	}
	parts := strings.Fields(reqLine) // escaped: a space in the target is \x20
	if len(parts) < 2 || len(parts) > 3 || !isToken(parts[0]) {
		return e, errLogRequest
	}
	e.Method, e.Target = parts[0], unescapeLog(parts[1])
	fields := strings.Fields(rest)
	if len(fields) > 0 {
		if st, err := strconv.Atoi(fields[0]); err == nil && st >= 100 && st <= 999 {
			e.Status = st
		}
	}
	// Skip status and bytes, then the optional quoted referer and agent.
	for i := 0; i < 2 && rest != ""; i++ {
		rest = strings.TrimLeft(rest, " ")
		if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			rest = rest[sp:]
		} else {
			rest = ""
		}
	}
	rest = strings.TrimLeft(rest, " ")
	if ref, r, ok := quoted(rest); ok {
		e.Referer, rest = dashEmpty(unescapeLog(ref)), strings.TrimLeft(r, " ")
		if ua, r, ok := quoted(rest); ok {
			e.UserAgent, rest = dashEmpty(unescapeLog(ua)), r
		}
	}
	for _, kv := range strings.Fields(rest) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "-" {
			continue
		}
		switch k {
		case "host":
			e.Host = unescapeLog(v)
		case "route":
			e.Route = unescapeLog(v)
		}
	}
	return e, nil
}

func dashEmpty(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// quoted reads a "..." field at the start of s, still escaped, and
// returns it with what follows.
func quoted(s string) (field, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped byte (or the x of \xHH) is not the end
		case '"':
			return s[1:i], s[i+1:], true
		}
	}
	return "", s, false
}

// unescapeLog decodes \xHH, \" and \\; any other backslash is kept.
func unescapeLog(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch n := s[i+1]; {
			case n == 'x' && i+3 < len(s) && isHex(s[i+2]) && isHex(s[i+3]):
				v, _ := strconv.ParseUint(s[i+2:i+4], 16, 8) // two hex digits, checked
				b.WriteByte(byte(v))
				i += 3
				continue
			case n == '"' || n == '\\':
				b.WriteByte(n)
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// splitAbsolute turns an absolute-form target into host and origin form,
// and checks the target.
func splitAbsolute(e *logEntry) error {
	t := e.Target
	for _, scheme := range []string{"http://", "https://"} {
		if len(t) > len(scheme) && strings.EqualFold(t[:len(scheme)], scheme) {
			rest := t[len(scheme):]
			slash := strings.IndexAny(rest, "/?")
			if slash < 0 {
				e.Host, e.Target = rest, "/"
			} else {
				e.Host, e.Target = rest[:slash], rest[slash:]
				if e.Target[0] == '?' {
					e.Target = "/" + e.Target
				}
			}
			break
		}
	}
	if !strings.HasPrefix(e.Target, "/") {
		return fmt.Errorf("target %q is not origin-form", e.Target)
	}
	if i := strings.IndexByte(e.Target, '#'); i >= 0 {
		e.Target = e.Target[:i]
	}
	return nil
}
