package plugins

import (
	"strings"
	"testing"
)

func TestTailWriter(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", stderrTailSize-1) + "END"
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"short", []string{"panic: ", "boom\n"}, "panic: boom\n"},
		{"one long write keeps its end", []string{big}, big[len(big)-stderrTailSize:]},
		{"many writes keep the last KiB", []string{"old", big}, big[len(big)-stderrTailSize:]},
		{"tail of old plus new", []string{big, "new"}, (big + "new")[len(big)+3-stderrTailSize:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var w tailWriter
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v, want %d, nil", n, err, len(s))
				}
			}
			if got := w.take(); got != tt.want {
				t.Errorf("take() = %.20q... (%d bytes), want %.20q... (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
			if got := w.take(); got != "" {
				t.Errorf("second take() = %q, want empty", got)
			}
		})
	}
}
