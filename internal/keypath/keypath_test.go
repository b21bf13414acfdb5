package keypath

import (
	"errors"
	"io"
	"testing"
)

func TestError_Error(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"path", Errorf("server.listen", "invalid address %q", "x"), `server.listen: invalid address "x"`},
		{"no path", &Error{Err: errors.New("boom")}, "boom"},
		{"wrapped", Errorf("a", "read: %w", io.EOF), "a: read: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(Errorf("a", "read: %w", io.EOF), io.EOF) {
		t.Error("errors.Is(Errorf(%w io.EOF), io.EOF) = false, want true")
	}
}

func TestJoin(t *testing.T) {
	t.Parallel()
	tests := []struct{ prefix, key, want string }{
		{"", "server", "server"},
		{"server", "", "server"},
		{"routes[0]", "upstreams", "routes[0].upstreams"},
		{"routes", "[0]", "routes[0]"},
		{"policies.norm", "max_memory", "policies.norm.max_memory"},
	}
	for _, tt := range tests {
		if got := Join(tt.prefix, tt.key); got != tt.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tt.prefix, tt.key, got, tt.want)
		}
	}
}

func TestUnder(t *testing.T) {
	t.Parallel()
	if Under("x", nil) != nil {
		t.Error("Under(x, nil) != nil")
	}
	inner := errors.Join(
		Errorf("max_memory", "too small"),
		errors.Join(Errorf("fuel", "negative"), errors.New("no path")),
	)
	got := Leaves(Under("policies.norm", inner))
	want := []string{"policies.norm.max_memory", "policies.norm.fuel", "policies.norm"}
	if len(got) != len(want) {
		t.Fatalf("Leaves(Under(...)) = %d errors %v, want %d", len(got), got, len(want))
	}
	for i, e := range got {
		var ke *Error
		if !errors.As(e, &ke) || ke.Path != want[i] {
			t.Errorf("leaf %d = %v, want an *Error at %q", i, e, want[i])
		}
	}
	if s := Under("a", errors.New("plain")).Error(); s != "a: plain" {
		t.Errorf("Under(a, plain) = %q, want %q", s, "a: plain")
	}
}

func TestLeaves(t *testing.T) {
	t.Parallel()
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	got := Leaves(errors.Join(a, errors.Join(b, nil, c)))
	if len(got) != 3 || !errors.Is(got[0], a) || !errors.Is(got[1], b) || !errors.Is(got[2], c) {
		t.Errorf("Leaves = %v, want [a b c]", got)
	}
	if Leaves(nil) != nil {
		t.Error("Leaves(nil) != nil")
	}
	if got := Leaves(a); len(got) != 1 || !errors.Is(got[0], a) {
		t.Errorf("Leaves(a) = %v, want [a]", got)
	}
}
