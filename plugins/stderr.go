package plugins

import "sync"

// stderrTailSize is how much of a guest's stderr is kept for the failure log.
const stderrTailSize = 1 << 10

// tailWriter keeps the last stderrTailSize bytes written to a module's
// stderr (all its instances), so that a failure log can show, e.g., a Go
// guest's panic message. Write is O(1) in the length written: a guest cannot
// make the host copy its whole memory.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer.
func (w *tailWriter) Write(p []byte) (int, error) {
	n := len(p)
	if n > stderrTailSize {
		p = p[n-stderrTailSize:]
	}
	w.mu.Lock()
	if over := len(w.buf) + len(p) - stderrTailSize; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	return n, nil
}

// take returns and clears what was kept.
func (w *tailWriter) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := string(w.buf)
	w.buf = w.buf[:0]
	return s
}
