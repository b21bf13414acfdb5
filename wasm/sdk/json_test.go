package sdk

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// toAny converts a parsed value to what encoding/json produces, to compare.
func toAny(v *JSON) any {
	switch v.Kind {
	case JSONBool:
		return v.Bool
	case JSONNumber:
		return v.Num
	case JSONString:
		return v.Str
	case JSONArray:
		out := []any{}
		for i := range v.Items {
			out = append(out, toAny(&v.Items[i]))
		}
		return out
	case JSONObject:
		out := map[string]any{}
		for i, k := range v.Keys {
			out[k] = toAny(&v.Values[i])
		}
		return out
	}
	return nil
}

func TestParseJSON(t *testing.T) {
	t.Parallel()
	valid := []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-1.5e3`, `"a\"b\\c\/\b\f\n\r\t\u00e9\ud83d\ude00"`,
		` {"rules": [{"path": "/static/*", "ttl": "1h", "status": [200, 404], "store": false}], "n": null} `,
		`[[[]], {"a": {"b": []}}]`,
	}
	for _, s := range valid {
		v, err := ParseJSON([]byte(s))
		if err != nil {
			t.Errorf("ParseJSON(%s): %v", s, err)
			continue
		}
		var want any
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		if got := toAny(&v); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseJSON(%s) = %#v, want %#v", s, got, want)
		}
	}
	invalid := []string{``, `{`, `[1,]`, `{"a"}`, `{"a":1,}`, `01`, `1.`, `+1`, `.5`, `"\x"`, "\"a\x01\"", `tru`, `{} x`, `"abc`, `[1 2]`}
	for _, s := range invalid {
		if _, err := ParseJSON([]byte(s)); err == nil {
			t.Errorf("ParseJSON(%q) succeeded", s)
		}
	}
	deep := make([]byte, 0, 2*maxJSONDepth+4)
	for range maxJSONDepth + 2 {
		deep = append(deep, '[')
	}
	if _, err := ParseJSON(deep); err == nil {
		t.Error("ParseJSON accepted nesting beyond the limit")
	}
	v, _ := ParseJSON([]byte(`{"a": 1, "b": "x"}`))
	if a, ok := v.Get("a"); !ok || a.Num != 1 {
		t.Errorf(`Get("a") = %v, %v`, a, ok)
	}
	if c, ok := v.Get("c"); ok || c.Kind != JSONNull {
		t.Errorf(`Get("c") = %v, %v`, c, ok)
	}
}

// FuzzParseJSON checks ParseJSON against encoding/json: same verdict, same
// value.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"rules":[{"path":"/a/*","ttl":"1h"}]}`, `[1,"2",true,null]`, `"\ud800"`, `-0.0e-0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseJSON(b)
		var want any
		werr := json.Unmarshal(b, &want)
		if (err == nil) != (werr == nil) {
			// encoding/json rejects invalid UTF-8 nowhere and replaces it;
			// it also rejects numbers out of float64 range, as we do.
			t.Fatalf("ParseJSON(%q) error %v, encoding/json error %v", b, err, werr)
		}
		if err != nil {
			return
		}
		got := toAny(&v)
		if !reflect.DeepEqual(got, want) && !hasNaNOrInvalid(got) {
			t.Fatalf("ParseJSON(%q) = %#v, encoding/json %#v", b, got, want)
		}
	})
}

func hasNaNOrInvalid(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case string:
		return true // encoding/json replaces invalid UTF-8 with U+FFFD; ParseJSON keeps bytes
	case []any:
		for _, e := range x {
			if hasNaNOrInvalid(e) {
				return true
			}
		}
	case map[string]any:
		return true // duplicate keys and invalid UTF-8 keys differ by design
	}
	return false
}
