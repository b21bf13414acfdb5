package main

import "testing"

func TestKeyIndex_Line(t *testing.T) {
	t.Parallel()
	const src = `# comment [not.a.table]
top = 1
[server]
listen = "a" # trailing
"quoted.key" = 2
dotted.inner = 3

[[routes]]
name = "a"
upstreams = ["x", "y"]

[[routes]]
name = """
b = "not a key"
"""
upstreams = [
  "x", # one
  'y',
  [1, 2],
]
meta = {k = "v", n = {m = 1}}

[routes.extra]
z = 1

[[routes]]
name = 'c'
`
	ix := scanKeys(src)
	tests := []struct {
		path string
		want int
	}{
		{"top", 2},
		{"server", 3},
		{"server.listen", 4},
		{"server.quoted.key", 5},
		{"server.dotted.inner", 6},
		{"server.read_timeout", 3}, // not in the file: its table
		{"routes", 8},
		{"routes[0]", 8},
		{"routes[0].name", 9},
		{"routes[0].upstreams[1]", 10},
		{"routes[1]", 12},
		{"routes[1].name", 13},
		{"routes[1].upstreams", 16},
		{"routes[1].upstreams[0]", 17},
		{"routes[1].upstreams[1]", 18},
		{"routes[1].upstreams[2]", 19},
		{"routes[1].upstreams[2][1]", 19},
		{"routes[1].upstreams[7]", 16}, // no such element: the array
		{"routes[1].meta.n.m", 21},
		{"routes[1].extra", 23},
		{"routes[1].extra.z", 24},
		{"routes[2].name", 27},
		{"routes[2].upstreams", 26},
		{"b", 0},
		{"cache.l1_size", 0},
	}
	for _, tt := range tests {
		if got := ix.line(tt.path); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

func TestKeyIndex_Resolve(t *testing.T) {
	t.Parallel()
	const src = "[[routes]]\ntimeout = 1\n[[routes]]\nname = 'b'\n\ntimeout = 2\n"
	ix := scanKeys(src)
	tests := []struct {
		plain    string
		line     int
		wantPath string
		wantLine int
	}{
		{"routes.timeout", 6, "routes[1].timeout", 6},
		{"routes.timeout", 2, "routes[0].timeout", 2},
		{"routes.timeout", 0, "routes[0].timeout", 2},
		{"routes.timeout", 5, "routes[0].timeout", 2},
		{"routes.name", 4, "routes[1].name", 4},
		{"server.listen", 3, "server.listen", 3},
	}
	for _, tt := range tests {
		path, line := ix.resolve(tt.plain, tt.line)
		if path != tt.wantPath || line != tt.wantLine {
			t.Errorf("resolve(%q, %d) = %q, %d, want %q, %d", tt.plain, tt.line, path, line, tt.wantPath, tt.wantLine)
		}
	}
}

func TestKeyIndex_Broken(t *testing.T) {
	t.Parallel()
	// The scanner stops at what it does not understand and keeps what it
	// found before.
	for _, src := range []string{
		"a = 1\n[b\nc = 2\n",
		"a = 1\n= 2\n",
		"a = 1\nb = [1, 2\n",
		"a = 1\nb = \"open\n",
		"a = 1\nb = '''open\n",
		"a = 1\nb = {c = 1\n",
		"a = 1\nb = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]\n",
		"a = 1\n\"\\",
	} {
		ix := scanKeys(src)
		if got := ix.line("a"); got != 1 {
			t.Errorf("scanKeys(%q).line(\"a\") = %d, want 1", src, got)
		}
	}
}

func TestParentPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"routes[2].upstreams[0]", "routes[2].upstreams"},
		{"routes[2].upstreams", "routes[2]"},
		{"routes[2]", "routes"},
		{"routes", ""},
		{"server.listen", "server"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := parentPath(tt.in); got != tt.want {
			t.Errorf("parentPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
