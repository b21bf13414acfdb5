package abi

import (
	"strconv"
	"strings"
	"testing"
)

// TestParseHeaderNames_Limit pins ABI.md, section 12: at most 64 distinct
// names (a repeated name, in any case, counts once); a 65th is an error,
// which refuses the module at load. "*" alone means every header.
func TestParseHeaderNames_Limit(t *testing.T) {
	t.Parallel()
	names := func(n int) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = "x-h" + strconv.Itoa(i)
		}
		return l
	}
	if got, all, err := ParseHeaderNames([]byte(strings.Join(names(64), ", "))); err != nil || all || len(got) != 64 {
		t.Errorf("64 names: %d names, all %v, err %v; want 64, false, nil", len(got), all, err)
	}
	dup := append(names(64), "X-H0", "x-h63")
	if got, _, err := ParseHeaderNames([]byte(strings.Join(dup, " "))); err != nil || len(got) != 64 {
		t.Errorf("64 names and 2 repeats: %d names, err %v; want 64, nil", len(got), err)
	}
	if _, _, err := ParseHeaderNames([]byte(strings.Join(names(65), ","))); err == nil || !strings.Contains(err.Error(), "more than 64 names") {
		t.Errorf("65 names: err %v, want one saying more than 64 names", err)
	}
	if got, all, err := ParseHeaderNames([]byte("cookie, *")); err != nil || !all || got != nil {
		t.Errorf(`"cookie, *": %q, all %v, err %v; want nil, true, nil`, got, all, err)
	}
}
