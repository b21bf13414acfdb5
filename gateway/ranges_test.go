package gateway

import (
	"testing"
)

func TestParseRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		size int64
		want []httpRange
		res  rangeResult
	}{
		{"bytes=0-0", 10, []httpRange{{0, 0}}, rangeOK},
		{"bytes=2-", 10, []httpRange{{2, 9}}, rangeOK},
		{"bytes=-3", 10, []httpRange{{7, 9}}, rangeOK},
		{"bytes=-30", 10, []httpRange{{0, 9}}, rangeOK},
		{"bytes=5-99999999999999999999999", 10, []httpRange{{5, 9}}, rangeOK},
		{"bytes= 0-1 , ,4-5", 10, []httpRange{{0, 1}, {4, 5}}, rangeOK},
		{"bytes=10-", 10, nil, rangeUnsatisfiable},
		{"bytes=-0", 10, nil, rangeUnsatisfiable},
		{"bytes=0-0", 0, nil, rangeUnsatisfiable},
		{"bytes=-5", 0, nil, rangeUnsatisfiable},
		{"bytes=20-30, 0-1", 10, []httpRange{{0, 1}}, rangeOK},
		{"bytes=3-2", 10, nil, rangeIgnore},
		{"bytes=", 10, nil, rangeIgnore},
		{"bytes=,", 10, nil, rangeIgnore},
		{"bytes=1", 10, nil, rangeIgnore},
		{"bytes=-", 10, nil, rangeIgnore},
		{"bytes=0-1-2", 10, nil, rangeIgnore},
		{"bytes=+1-2", 10, nil, rangeIgnore},
		{"items=0-1", 10, nil, rangeIgnore},
		{"0-1", 10, nil, rangeIgnore},
		{"bytes=0-4,4-5", 10, nil, rangeIgnore},
		{"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15", 20, nil, rangeOK},
		{"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15,16-16", 20, nil, rangeIgnore},
	}
	for _, tc := range tests {
		got, res := parseRange([]byte(tc.in), tc.size, nil)
		if res != tc.res {
			t.Errorf("parseRange(%q, %d) result %d, want %d", tc.in, tc.size, res, tc.res)
			continue
		}
		if tc.want != nil && (len(got) != len(tc.want) || string(rangesText(got)) != string(rangesText(tc.want))) {
			t.Errorf("parseRange(%q, %d) = %v, want %v", tc.in, tc.size, got, tc.want)
		}
	}
}

func rangesText(r []httpRange) []byte {
	var b []byte
	for _, x := range r {
		b = append(b, byte(x.first), byte(x.last), ',')
	}
	return b
}

func TestIfRangeHolds(t *testing.T) {
	t.Parallel()
	const lm = "Mon, 02 Jan 2006 15:04:05 GMT"
	tests := []struct {
		v, etag, lm string
		want        bool
	}{
		{`"e1"`, `"e1"`, "", true},
		{` "e1" `, `"e1"`, "", true},
		{`"e2"`, `"e1"`, "", false},
		{`W/"e1"`, `"e1"`, "", false},
		{`"e1"`, `W/"e1"`, "", false},
		{`"e1"`, "", lm, false},
		{lm, `"e1"`, lm, true},
		{"Monday, 02-Jan-06 15:04:05 GMT", "", lm, true},
		{"Tue, 03 Jan 2006 15:04:05 GMT", "", lm, false},
		{lm, `"e1"`, "", false},
		{"junk", `"e1"`, lm, false},
	}
	for _, tc := range tests {
		if got := ifRangeHolds([]byte(tc.v), []byte(tc.etag), []byte(tc.lm)); got != tc.want {
			t.Errorf("ifRangeHolds(%q, %q, %q) = %v, want %v", tc.v, tc.etag, tc.lm, got, tc.want)
		}
	}
	if !ifRangeHolds(nil, nil, nil) {
		t.Error("ifRangeHolds(nil) = false, want true (no If-Range)")
	}
}

// FuzzParseRange: any Range value and size give ranges within the
// representation, at most maxRanges, in the order asked, never
// overlapping, and unsatisfiable only with no range.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=3-", "bytes=0-1,4-5", "bytes=5-2", "items=1-2", "bytes=,,1-1,", "bytes=99999999999999999999-"} {
		f.Add([]byte(s), int64(10))
	}
	f.Fuzz(func(t *testing.T, v []byte, size int64) {
		if size < 0 {
			size = -size
		}
		size %= 1 << 40
		got, res := parseRange(v, size, nil)
		if res != rangeOK && len(got) != 0 && res != rangeUnsatisfiable {
			t.Fatalf("parseRange(%q, %d) = %v with result %d", v, size, got, res)
		}
		if res == rangeUnsatisfiable && len(got) != 0 {
			t.Fatalf("parseRange(%q, %d): unsatisfiable with ranges %v", v, size, got)
		}
		if len(got) > maxRanges {
			t.Fatalf("parseRange(%q, %d): %d ranges", v, size, len(got))
		}
		for i, r := range got {
			if r.first < 0 || r.first > r.last || r.last >= size {
				t.Fatalf("parseRange(%q, %d): range %v outside the representation", v, size, r)
			}
			for _, o := range got[i+1:] {
				if r.first <= o.last && o.first <= r.last {
					t.Fatalf("parseRange(%q, %d): %v and %v overlap", v, size, r, o)
				}
			}
		}
	})
}
