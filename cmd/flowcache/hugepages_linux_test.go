package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestStartHugePages: under the kernel setting "madvise", the range set
// aside is marked for huge pages (VmFlags "hg" in /proc/self/smaps) and,
// once the loads end, marked back ("nh").
func TestStartHugePages(t *testing.T) {
	mode, err := os.ReadFile(thpMode)
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) {
		t.Skipf("transparent huge pages are %q here, not madvise: nothing to set aside", bytes.TrimSpace(mode))
	}
	start, n, ok := setAsideHugePages()
	if !ok || n < hugeGrow-hugePageSize || start%hugePageSize != 0 {
		t.Fatalf("setAsideHugePages = %#x, %d, %v", start, n, ok)
	}
	if got := vmFlags(t, start, n); !strings.Contains(got, " hg") {
		t.Errorf("VmFlags of the range after setting aside: %q, want hg", got)
	}
	if err := madvise(start, n, madvNoHugePage); err != nil {
		t.Fatal(err)
	}
	if got := vmFlags(t, start, n); !strings.Contains(got, " nh") || strings.Contains(got, " hg") {
		t.Errorf("VmFlags of the range after the end: %q, want nh and no hg", got)
	}
}

// vmFlags returns the VmFlags lines of the mappings that overlap
// [start, start+n), joined.
func vmFlags(t *testing.T, start, n uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, found := strings.Cut(strings.Fields(line + " x")[0], "-"); found {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uintptr(a) < start+n && uintptr(b) > start
				continue
			}
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			out = append(out, strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no mapping overlaps [%#x, +%d)", start, n)
	}
	return strings.Join(out, " |")
}
