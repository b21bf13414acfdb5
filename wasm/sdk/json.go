package sdk

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// JSON is a parsed JSON value: the configuration [Policy].Init receives. It
// exists because encoding/json links package os, whose file reads
// (fd_read) a policy module may not import: a module built with it is
// refused at load. ParseJSON allocates; call it in Init only.
type JSON struct {
	// Kind says which of the fields below holds the value.
	Kind JSONKind
	// Str holds a string.
	Str string
	// Num holds a number.
	Num float64
	// Bool holds a boolean.
	Bool bool
	// Items holds an array's elements.
	Items []JSON
	// Keys and Values hold an object's members, in order.
	Keys   []string
	Values []JSON
}

// JSONKind is the type of a [JSON] value.
type JSONKind uint8

// JSON kinds.
const (
	JSONNull JSONKind = iota
	JSONBool
	JSONNumber
	JSONString
	JSONArray
	JSONObject
)

// String returns the kind's JSON name.
func (k JSONKind) String() string {
	switch k {
	case JSONBool:
		return "boolean"
	case JSONNumber:
		return "number"
	case JSONString:
		return "string"
	case JSONArray:
		return "array"
	case JSONObject:
		return "object"
	}
	return "null"
}

// Get returns the member key of an object and true, or a null value and
// false.
func (v *JSON) Get(key string) (*JSON, bool) {
	for i, k := range v.Keys {
		if k == key {
			return &v.Values[i], true
		}
	}
	return &JSON{}, false
}

// ParseJSON parses one JSON value (RFC 8259), with nothing but white space
// after it. Errors name the byte offset.
func ParseJSON(b []byte) (JSON, error) {
	p := jsonParser{b: b}
	v, err := p.value(0)
	if err != nil {
		return JSON{}, err
	}
	p.space()
	if p.i != len(p.b) {
		return JSON{}, p.err("data after the value")
	}
	return v, nil
}

// maxJSONDepth bounds nesting, so that a hostile configuration cannot
// exhaust the guest's stack.
const maxJSONDepth = 100

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) err(msg string) error {
	return errors.New("sdk: json: at offset " + strconv.Itoa(p.i) + ": " + msg)
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *jsonParser) value(depth int) (JSON, error) {
	if depth > maxJSONDepth {
		return JSON{}, p.err("nested too deeply")
	}
	p.space()
	if p.i >= len(p.b) {
		return JSON{}, p.err("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return JSON{Kind: JSONString, Str: s}, err
	case p.literal("true"):
		return JSON{Kind: JSONBool, Bool: true}, nil
	case p.literal("false"):
		return JSON{Kind: JSONBool}, nil
	case p.literal("null"):
		return JSON{}, nil
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return JSON{}, p.err("unexpected byte " + strconv.QuoteRune(rune(p.b[p.i])))
}

func (p *jsonParser) object(depth int) (JSON, error) {
	v := JSON{Kind: JSONObject}
	p.i++ // '{'
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return JSON{}, p.err("want a member name")
		}
		k, err := p.str()
		if err != nil {
			return JSON{}, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return JSON{}, p.err("want ':'")
		}
		p.i++
		m, err := p.value(depth + 1)
		if err != nil {
			return JSON{}, err
		}
		v.Keys, v.Values = append(v.Keys, k), append(v.Values, m)
		done, err := p.next('}')
		if err != nil {
			return JSON{}, err
		}
		if done {
			return v, nil
		}
	}
}

// next reads what follows a member or an element: ',' (more follow) or
// the closing byte (done); anything else is an error.
func (p *jsonParser) next(closing byte) (done bool, err error) {
	p.space()
	if p.i >= len(p.b) {
		return false, p.err("unexpected end")
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.err("want ',' or '" + string(closing) + "'")
}

func (p *jsonParser) array(depth int) (JSON, error) {
	v := JSON{Kind: JSONArray, Items: []JSON{}}
	p.i++ // '['
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return v, nil
	}
	for {
		e, err := p.value(depth + 1)
		if err != nil {
			return JSON{}, err
		}
		v.Items = append(v.Items, e)
		done, err := p.next(']')
		if err != nil {
			return JSON{}, err
		}
		if done {
			return v, nil
		}
	}
}

func (p *jsonParser) str() (string, error) {
	p.i++ // '"'
	var out []byte
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", p.err("control character in string")
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++ // '\\'
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.err("bad \\u escape")
			}
			if 0xd800 <= r && r < 0xdc00 && p.literal("\\u") { // surrogate pair
				if r2, ok := p.hex4(); ok && 0xdc00 <= r2 && r2 < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", p.err("bad escape")
		}
	}
	return "", p.err("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func (p *jsonParser) number() (JSON, error) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		p.i++
	}
	s := string(p.b[start:p.i])
	if !validNumber(s) {
		p.i = start
		return JSON{}, p.err("bad number " + strconv.Quote(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		p.i = start
		return JSON{}, p.err("bad number " + strconv.Quote(s))
	}
	return JSON{Kind: JSONNumber, Num: f}, nil
}

// validNumber checks the JSON number grammar, which is stricter than
// strconv's ("01", "+1", ".5", "1." and hex are not JSON).
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}
