package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flowcache/flowcache/plugins"
	"github.com/flowcache/flowcache/policy"
)

// replayStats is what one policy made of the replayed requests.
type replayStats struct {
	name                       string
	keyed, bypassed, errs      int
	keys                       map[string]int32 // key -> requests
	firstErr                   string
	p                          policy.Policy
	key                        policy.Key
	lastKey                    string
	lastBypass, lastErrorFallb bool
}

func newReplayStats(name string, p policy.Policy) *replayStats {
	return &replayStats{name: name, p: p, keys: map[string]int32{}}
}

// add keys r with s's policy; a failed call uses the native default's
// key, as the gateway does.
func (s *replayStats) add(r *policy.Request) {
	s.key.Reset()
	s.lastErrorFallb = false
	if err := s.p.Key(r, &s.key); err != nil {
		s.errs++
		if s.firstErr == "" {
			s.firstErr = err.Error()
		}
		s.key.Reset()
		_ = policy.Default{}.Key(r, &s.key) // the native default never fails
		s.lastErrorFallb = true
	}
	s.lastBypass = s.key.Bypass
	if s.key.Bypass {
		s.bypassed++
		s.lastKey = "bypass"
		return
	}
	s.keyed++
	s.lastKey = fmt.Sprintf("host %q target %q variant %q", s.key.Host, s.key.Target, s.key.Variant)
	s.keys[string(s.key.Host)+"\x00"+string(s.key.Target)+"\x00"+string(s.key.Variant)]++
}

// hitRatio is the share of keyed requests an infinite cache would answer:
// every request but the first of each key.
func (s *replayStats) hitRatio() (hits int, ratio float64) {
	hits = s.keyed - len(s.keys)
	if s.keyed == 0 {
		return 0, 0
	}
	return hits, float64(hits) / float64(s.keyed)
}

func runPolicyReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy replay", "MODULE.wasm [-against MODULE2.wasm] LOG [-host HOST] [-show N] [-max LINES] [-config JSON|@FILE] [-c config.toml -policy NAME]",
		"Replay the requests of an access log through MODULE.wasm's key function, on\n"+
			"the gateway's own host: how many distinct keys they make, and the hit ratio an\n"+
			"infinite cache would reach (every keyed request but the first of its key; GET\n"+
			"and HEAD only, as the gateway keys), beside the native default policy. With\n"+
			"-against, the requests whose keys differ between the two modules.\n\n"+
			"LOG is the gateway's access log ([log] access = \"json\" or \"combined\"), or\n"+
			"an Apache/nginx common or combined log (\"-\" reads standard input); lines\n"+
			"without a host (common format) take -host. User-Agent and Referer, when the\n"+
			"log has them, are replayed; other request headers are not in a log. Paths are\n"+
			"replayed as logged.", stderr)
	mf := addModuleFlags(fs)
	against := fs.String("against", "", "a second module to compare keys with (same -config and -fuel)")
	host := fs.String("host", "", "host of the lines that name none (common log format)")
	show := fs.Int("show", 10, "requests with differing keys to show")
	maxLines := fs.Int("max", 10_000_000, "stop after this many lines")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 2, 2); err != nil {
		return err
	}
	if *maxLines < 1 || *show < 0 {
		return errors.New("-max must be positive and -show not negative")
	}
	in := io.Reader(os.Stdin)
	if pos[1] != "-" {
		f, err := os.Open(pos[1])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	m, err := loadLocal(ctx, pos[0], mf, stderr, plugins.Options{})
	if err != nil {
		return err
	}
	defer m.Close(ctx)
	a := newReplayStats(m.Name(), m.Module)
	def := newReplayStats("default", policy.Default{})
	var b *replayStats
	if *against != "" {
		m2, err := loadLocal(ctx, *against, mf, stderr, plugins.Options{})
		if err != nil {
			return err
		}
		defer m2.Close(ctx)
		name := m2.Name()
		if name == a.name {
			name += "(2)"
		}
		b = newReplayStats(name, m2.Module)
	}

	var lines, requests, skipped, unkeyed, differ int
	firstSkip := ""
	var samples []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var r policy.Request
	for sc.Scan() && lines < *maxLines {
		lines++
		e, err := parseAccessLine(sc.Bytes())
		if errors.Is(err, errLogEmpty) {
			continue
		}
		if err == nil && e.Host == "" {
			e.Host = *host
			if e.Host == "" {
				err = errors.New("no host in the line (give -host)")
			}
		}
		if err != nil {
			skipped++
			if firstSkip == "" {
				firstSkip = fmt.Sprintf("line %d: %v", lines, err)
			}
			continue
		}
		requests++
		if e.Method != "GET" && e.Method != "HEAD" {
			unkeyed++
			continue
		}
		replayRequest(&r, &e)
		a.add(&r)
		def.add(&r)
		if b == nil {
			continue
		}
		b.add(&r)
		if a.lastKey != b.lastKey {
			differ++
			if len(samples) < *show {
				samples = append(samples, fmt.Sprintf("  line %d: %s %s%s\n      %-10s %s\n      %-10s %s",
					lines, e.Method, r.Host, e.Target, a.name+":", a.lastKey, b.name+":", b.lastKey))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", pos[1], lines+1, err)
	}
	if requests == 0 {
		return fmt.Errorf("%s: no request in %d lines (%d skipped; %s)", pos[1], lines, skipped, orNone(firstSkip))
	}
	fmt.Fprintf(stdout, "log       %s: %d lines, %d requests, %d not GET/HEAD (not keyed), %d lines skipped", pos[1], lines, requests, unkeyed, skipped)
	if firstSkip != "" {
		fmt.Fprintf(stdout, " (first: %s)", firstSkip)
	}
	fmt.Fprintln(stdout)
	printReplay(stdout, pos[0], a)
	printReplay(stdout, "native default policy", def)
	if b != nil {
		printReplay(stdout, *against, b)
		fmt.Fprintf(stdout, "differ    %d of %d GET and HEAD requests (%.1f%%) get different keys from %s and %s\n",
			differ, a.keyed+a.bypassed, pct(differ, a.keyed+a.bypassed), a.name, b.name)
		for _, s := range samples {
			fmt.Fprintln(stdout, s)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func printReplay(w io.Writer, label string, s *replayStats) {
	hits, ratio := s.hitRatio()
	fmt.Fprintf(w, "%-9s %s: %d distinct keys from %d keyed requests (%d bypassed, %d errors); an infinite cache would hit %.1f%% (%d)\n",
		s.name, label, len(s.keys), s.keyed, s.bypassed, s.errs, 100*ratio, hits)
	if s.firstErr != "" {
		fmt.Fprintf(w, "          first error: %s (the gateway would use the default policy's key)\n", s.firstErr)
	}
}

// replayRequest fills r, the view a policy gets, from a log entry: the
// host in the gateway's form (lower case, no port, no trailing dot),
// target split into path and query, and the header fields the log keeps.
func replayRequest(r *policy.Request, e *logEntry) {
	r.Reset()
	path, query, _ := strings.Cut(e.Target, "?")
	r.Method, r.Scheme = []byte(e.Method), []byte("https")
	r.Host = []byte(replayHost(e.Host))
	r.Path, r.Query, r.Route = []byte(path), []byte(query), []byte(e.Route)
	r.Headers = append(r.Headers, policy.Header{Name: []byte("Host"), Value: []byte(e.Host)})
	if e.UserAgent != "" {
		r.Headers = append(r.Headers, policy.Header{Name: []byte("User-Agent"), Value: []byte(e.UserAgent)})
	}
	if e.Referer != "" {
		r.Headers = append(r.Headers, policy.Header{Name: []byte("Referer"), Value: []byte(e.Referer)})
	}
}

// replayHost is h lower-cased, without port and trailing dot.
func replayHost(h string) string {
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end > 0 {
			return h[:end+1]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}
