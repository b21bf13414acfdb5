package main

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/flowcache/flowcache/internal/keypath"
)

// fieldDecoder decodes a parsed TOML document onto a configuration one key
// at a time, collecting a problem for every key of the wrong type or format
// and every unknown key, instead of stopping at the first.
//
// # Why not md.PrimitiveDecode of the whole document?
//
// BurntSushi/toml stops at the first value that does not decode: a file with
// a string for an integer and a bad duration would need two runs of check to
// show both. The document is parsed once (a syntax error does stop
// everything: what follows it is not TOML), into a toml.Primitive; the
// decoder then walks the configuration type, splitting each table into its
// keys (map[string]toml.Primitive) and each array into its elements
// ([]toml.Primitive), and decodes every other value (scalars, durations,
// sizes, free-form tables) with the library, on its own. It knows each value's indexed key path ("routes[1].timeout"),
// so it reports unknown keys itself: md.Undecoded is not used.
type fieldDecoder struct {
	md       *toml.MetaData
	ix       *keyIndex
	problems []problem
	// bad lists the key paths whose value did not decode and kept its
	// default: what Validate then says at or under them is not reported
	// (it would be about the default, not about the file).
	bad []string
}

// decodeFields parses src and decodes it onto v (a pointer to a struct),
// key by key. err is a syntax error (a toml.ParseError), after which
// nothing is decoded; otherwise problems lists every key that did not
// decode or that no field takes (table by table, each in document order),
// and bad the key paths of the values that did not decode.
func decodeFields(src string, ix *keyIndex, v any) (problems []problem, bad []string, err error) {
	var root toml.Primitive
	md, err := toml.Decode(src, &root)
	if err != nil {
		return nil, nil, err
	}
	d := &fieldDecoder{md: &md, ix: ix}
	d.value(root, reflect.ValueOf(v).Elem(), "", nil)
	return d.problems, d.bad, nil
}

// lineOrLast orders problems with no line after those with one.
func lineOrLast(line int) int {
	if line == 0 {
		return int(^uint(0) >> 1)
	}
	return line
}

// value decodes prim, the value at path (key in plain form, as the library
// names it in metadata: no indices), onto v.
func (d *fieldDecoder) value(prim toml.Primitive, v reflect.Value, path string, key toml.Key) {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer && isTable(t.Elem()):
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(prim, v.Elem(), path, key)
	case isTable(t):
		var m map[string]toml.Primitive
		if !d.decode(prim, &m, path, key) {
			return
		}
		for _, k := range d.keys(path, m) {
			sub, subKey := keypath.Join(path, k), appendKey(key, k)
			f, ok := fieldFor(t, k)
			if !ok {
				d.unknown(sub, subKey)
				continue
			}
			d.value(m[k], v.FieldByIndex(f.Index), sub, subKey)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		// Element by element, so that a bad one is named by its index.
		var elems []toml.Primitive
		if !d.decode(prim, &elems, path, key) {
			return
		}
		s := reflect.MakeSlice(t, len(elems), len(elems))
		for i, e := range elems {
			d.value(e, s.Index(i), path+"["+strconv.Itoa(i)+"]", key)
		}
		v.Set(s)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && isTable(t.Elem()):
		var m map[string]toml.Primitive
		if !d.decode(prim, &m, path, key) {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(m)))
		}
		for _, k := range d.keys(path, m) {
			e := reflect.New(t.Elem()).Elem()
			d.value(m[k], e, keypath.Join(path, k), appendKey(key, k))
			v.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
	default:
		// A value the library decodes whole: it keeps its default when
		// it does not decode, rather than whatever part of it did.
		old := reflect.New(t).Elem()
		old.Set(v)
		if !d.decode(prim, v.Addr().Interface(), path, key) {
			v.Set(old)
		}
	}
}

// decode decodes prim onto dst with the library, and reports a problem at
// path when it fails.
func (d *fieldDecoder) decode(prim toml.Primitive, dst any, path string, key toml.Key) bool {
	err := d.md.PrimitiveDecode(prim, dst)
	if err == nil {
		return true
	}
	d.bad = append(d.bad, path)
	line := d.ix.line(path)
	p := problem{line: line, path: path, context: d.ix.snippet(line)}
	var pe toml.ParseError
	if errors.As(err, &pe) { // a value's own decoder failed (UnmarshalText: a bad duration)
		p.msg = pe.Message
		if pe.Position.Line == line {
			p.context = positionContext(d.ix, &pe)
		}
	} else {
		p.msg = d.mismatch(prim, reflect.TypeOf(dst).Elem())
	}
	d.problems = append(d.problems, p)
	return false
}

// mismatch says, in TOML's words, why prim does not decode onto a value of
// type t: "want an integer, got the string "many"".
//
// # Why not the library's message?
//
// It names Go types ("TOML value has type int64; destination has type
// slice"), and comes as a string with the line and key in front: there
// is no error type to read them from. The TOML value is decoded again,
// into an any, to say what it is.
func (d *fieldDecoder) mismatch(prim toml.Primitive, t reflect.Type) string {
	var v any
	if err := d.md.PrimitiveDecode(prim, &v); err != nil {
		return "value of the wrong type" // not reached: any value decodes into an any
	}
	return "want " + tomlWant(t) + ", got " + tomlValue(v)
}

// tomlWant names the TOML values a Go value of type t decodes from.
func tomlWant(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "a table"
	}
	return "a value of another type"
}

// tomlValue describes a decoded TOML value: its type, and a short scalar's
// text.
func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 {
			return "a string"
		}
		return fmt.Sprintf("the string %q", v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time" // toml.LocalDate, LocalTime, LocalDatetime, time.Time
}

// unknown reports the key at path (plain form key) that no field takes.
func (d *fieldDecoder) unknown(path string, key toml.Key) {
	msg := "unknown key"
	switch d.md.Type(key...) {
	case "Hash", "ArrayHash":
		msg = "unknown table"
	}
	if hint := suggest(key); hint != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", hint)
	}
	line := d.ix.keyLine(path)
	d.problems = append(d.problems, problem{line: line, path: path, msg: msg, context: d.ix.snippet(line)})
}

// keys returns the keys of the table m at path in document order (keys the
// index does not know last, by name), so that problems come in the order
// of the file.
func (d *fieldDecoder) keys(path string, m map[string]toml.Primitive) []string {
	type keyAt struct {
		key  string
		line int
	}
	ks := make([]keyAt, 0, len(m))
	for k := range m {
		ks = append(ks, keyAt{k, lineOrLast(d.ix.keyLine(keypath.Join(path, k)))})
	}
	slices.SortFunc(ks, func(a, b keyAt) int { return cmp.Or(cmp.Compare(a.line, b.line), strings.Compare(a.key, b.key)) })
	keys := make([]string, len(ks))
	for i, k := range ks {
		keys[i] = k.key
	}
	return keys
}

// appendKey returns key+k in a new slice (key is shared by siblings).
func appendKey(key toml.Key, k string) toml.Key {
	return append(key[:len(key):len(key)], k)
}

// isTable reports whether a value of type t is decoded key by key: a
// struct that does not decode itself from text.
func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshaler) &&
		t != reflect.TypeFor[toml.Primitive]()
}

// fieldFor finds the field of the struct type t that takes the TOML key k:
// the field tagged k, else one tagged k in another case (as the library
// matches keys).
func fieldFor(t reflect.Type, k string) (reflect.StructField, bool) {
	if f, ok := fieldByTag(t, k); ok {
		return f, true
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if name := tomlName(&f); name != "" && strings.EqualFold(name, k) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// covered reports whether path is one of paths or lies under one of them.
func covered(paths []string, path string) bool {
	for _, p := range paths {
		if path == p || strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[') {
			return true
		}
	}
	return false
}
