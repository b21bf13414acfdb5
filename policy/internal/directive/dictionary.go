package directive

import "github.com/flowcache/flowcache/internal/httplex"

// itemType is the type of a Structured Field value (RFC 8941, Section 3).
type itemType uint8

const (
	typeInteger itemType = iota + 1
	typeDecimal
	typeString
	typeToken
	typeBytes
	typeBoolean
	typeInnerList
)

// item is a parsed dictionary member value: its type, and for an Integer
// its value (clamped to MaxDelta, negative kept as -1), for a Boolean its
// truth.
type item struct {
	typ  itemType
	n    int64
	bool bool
}

// ParseDictionary parses one field value of a targeted cache-control field
// (RFC 9213: CDN-Cache-Control and the like), a Structured Field Dictionary
// (RFC 8941, Section 3.2), and applies its members to d in order (a
// repeated key: the last one wins, Section 3.2). It reports false when the
// value is not a valid Dictionary, or when a directive this cache knows
// has a value of the wrong type (max-age=1.5, no-store="yes"): RFC 9213,
// Section 2.1 then wants the whole field ignored, and the caller falls
// back to Cache-Control. d is then in an unspecified state.
//
// The delta-seconds directives (max-age, s-maxage, stale-while-revalidate,
// stale-if-error, max-stale, min-fresh) take a non-negative Integer; the
// flags (no-store, public, must-revalidate, proxy-revalidate, no-transform,
// only-if-cached, immutable, must-understand) a Boolean, "?0" clearing
// them; no-cache and private a Boolean, or a String or Inner List of field
// names for their qualified forms; max-stale also a Boolean (any
// staleness). Unknown directives may have any valid value. Parameters are
// parsed and ignored. It does not allocate.
func ParseDictionary(d *Directives, v []byte) bool {
	v = httplex.TrimRightOWS(v)
	i, n := skipSP(v, 0), len(v)
	for i < n {
		ks := i
		var ok bool
		if i, ok = parseKey(v, i); !ok {
			return false
		}
		key := v[ks:i]
		it := item{typ: typeBoolean, bool: true}
		if i < n && v[i] == '=' {
			i++
			if i < n && v[i] == '(' {
				if i, ok = parseInnerList(v, i); !ok {
					return false
				}
				it = item{typ: typeInnerList}
			} else if it, i, ok = parseBareItem(v, i); !ok {
				return false
			}
		}
		if i, ok = parseParams(v, i); !ok {
			return false
		}
		if !apply(d, key, it) {
			return false
		}
		i = httplex.SkipOWS(v, i)
		if i == n {
			return true
		}
		if v[i] != ',' {
			return false
		}
		if i = httplex.SkipOWS(v, i+1); i == n {
			return false // a trailing comma
		}
	}
	return true
}

// apply sets the directive key of d from it; false: a known directive with
// a value of the wrong type.
func apply(d *Directives, key []byte, it item) bool {
	delta := func(dst *int64) bool {
		if it.typ != typeInteger || it.n < 0 {
			return false
		}
		*dst = it.n
		return true
	}
	flag := func(dst *bool) bool {
		if it.typ != typeBoolean {
			return false
		}
		*dst = it.bool
		return true
	}
	qualified := func(plain, fields *bool) bool {
		switch it.typ {
		case typeBoolean:
			*plain = it.bool
		case typeString, typeInnerList:
			*fields = true
		default:
			return false
		}
		return true
	}
	switch string(key) {
	case "max-age":
		return delta(&d.MaxAge)
	case "s-maxage":
		return delta(&d.SMaxAge)
	case "stale-while-revalidate":
		return delta(&d.StaleWhileRevalidate)
	case "stale-if-error":
		return delta(&d.StaleIfError)
	case "min-fresh":
		return delta(&d.MinFresh)
	case "max-stale":
		if it.typ == typeBoolean {
			d.MaxStaleAny = it.bool
			return true
		}
		return delta(&d.MaxStale)
	case "no-store":
		return flag(&d.NoStore)
	case "no-cache":
		return qualified(&d.NoCache, &d.NoCacheFields)
	case "private":
		return qualified(&d.Private, &d.PrivateFields)
	case "public":
		return flag(&d.Public)
	case "must-revalidate":
		return flag(&d.MustRevalidate)
	case "proxy-revalidate":
		return flag(&d.ProxyRevalidate)
	case "no-transform":
		return flag(&d.NoTransform)
	case "only-if-cached":
		return flag(&d.OnlyIfCached)
	case "immutable":
		return flag(&d.Immutable)
	case "must-understand":
		return flag(&d.MustUnderstand)
	}
	return true
}

// parseKey reads a key (RFC 8941, Section 3.1.2): ( lcalpha / "*" )
// *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func parseKey(v []byte, i int) (int, bool) {
	if i >= len(v) || !(v[i] >= 'a' && v[i] <= 'z' || v[i] == '*') {
		return i, false
	}
	for i++; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
	}
	return i, true
}

// parseParams reads parameters (Section 3.1.2): *( ";" *SP key [ "="
// bare-item ] ).
func parseParams(v []byte, i int) (int, bool) {
	for i < len(v) && v[i] == ';' {
		var ok bool
		if i, ok = parseKey(v, skipSP(v, i+1)); !ok {
			return i, false
		}
		if i < len(v) && v[i] == '=' {
			if _, i, ok = parseBareItem(v, i+1); !ok {
				return i, false
			}
		}
	}
	return i, true
}

// parseInnerList reads an inner list (Section 3.1.1) with its parameters.
func parseInnerList(v []byte, i int) (int, bool) {
	i++ // '('
	for {
		i = skipSP(v, i)
		if i >= len(v) {
			return i, false
		}
		if v[i] == ')' {
			return parseParams(v, i+1)
		}
		var ok bool
		if _, i, ok = parseBareItem(v, i); !ok {
			return i, false
		}
		if i, ok = parseParams(v, i); !ok {
			return i, false
		}
		if i < len(v) && v[i] != ' ' && v[i] != ')' {
			return i, false
		}
	}
}

// parseBareItem reads an Integer, Decimal, String, Token, Byte Sequence or
// Boolean (Section 3.3).
func parseBareItem(v []byte, i int) (item, int, bool) {
	if i >= len(v) {
		return item{}, i, false
	}
	switch c := v[i]; {
	case c == '-' || c >= '0' && c <= '9':
		return parseNumber(v, i)
	case c == '"':
		for i++; i < len(v); i++ {
			switch c := v[i]; {
			case c == '\\':
				if i+1 >= len(v) || v[i+1] != '"' && v[i+1] != '\\' {
					return item{}, i, false
				}
				i++
			case c == '"':
				return item{typ: typeString}, i + 1, true
			case c < 0x20 || c > 0x7e:
				return item{}, i, false
			}
		}
		return item{}, i, false
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		for i++; i < len(v) && (httplex.IsTchar(v[i]) || v[i] == ':' || v[i] == '/'); i++ {
		}
		return item{typ: typeToken}, i, true
	case c == ':':
		for i++; i < len(v); i++ {
			switch c := v[i]; {
			case c == ':':
				return item{typ: typeBytes}, i + 1, true
			case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='):
				return item{}, i, false
			}
		}
		return item{}, i, false
	case c == '?':
		if i+1 < len(v) && (v[i+1] == '0' || v[i+1] == '1') {
			return item{typ: typeBoolean, bool: v[i+1] == '1'}, i + 2, true
		}
		return item{}, i, false
	}
	return item{}, i, false
}

// parseNumber reads an Integer (at most 15 digits) or a Decimal (at most 12
// integer digits, 1 to 3 fractional ones), Section 4.2.4. A negative
// Integer is returned as -1; a large one is clamped to MaxDelta.
func parseNumber(v []byte, i int) (item, int, bool) {
	neg := v[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + int64(v[i]-'0') // at most 15 digits: no overflow
		if i-start >= 15 {
			return item{}, i, false
		}
	}
	digits := i - start
	if digits == 0 {
		return item{}, i, false
	}
	if i < len(v) && v[i] == '.' {
		if digits > 12 {
			return item{}, i, false
		}
		i++
		fs := i
		for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		}
		if f := i - fs; f < 1 || f > 3 {
			return item{}, i, false
		}
		return item{typ: typeDecimal}, i, true
	}
	switch {
	case neg:
		n = -1
	case n > MaxDelta:
		n = MaxDelta
	}
	return item{typ: typeInteger, n: n}, i, true
}

func skipSP(v []byte, i int) int {
	for i < len(v) && v[i] == ' ' {
		i++
	}
	return i
}
