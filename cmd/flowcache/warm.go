package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/internal/sitemap"
)

// headerList is the repeatable -H flag: "Name: value".
type headerList map[string]string

func (h headerList) String() string { return fmt.Sprint(map[string]string(h)) }

func (h headerList) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	h[name] = strings.TrimSpace(value)
	return nil
}

// warmPoll is how often warm asks the gateway how its job is doing.
const warmPoll = 200 * time.Millisecond

func runWarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("warm", "[-admin URL] [-concurrency N] [-rate R] [-H 'Name: value']... FILE|SITEMAP-URL | -from URL [-limit N]",
		"Fill a gateway's cache: request every URL of FILE (a sitemap.xml, a sitemap\n"+
			"index, gzip-compressed or not, or a list of URLs, one a line) or of the\n"+
			"sitemap at SITEMAP-URL, with the sitemaps that indexes list (3 levels, 100,000\n"+
			"URLs at most), or the URLs another node holds, the most recently stored first\n"+
			"(-from its admin API URL). The gateway requests them through its own data plane (POST\n"+
			"/warm on the admin API), so each is keyed, coalesced and stored as a client's\n"+
			"request would be. -H adds a header to every request (a Vary variant: run once\n"+
			"per variant). Shows a progress bar (plain lines when standard output is not a\n"+
			"terminal), then what was stored, already cached, not cacheable, or failed;\n"+
			"exits 1 if any request failed. Ctrl-C cancels the job. The bearer token, if\n"+
			"the admin API needs one, is read from $"+adminTokenEnv+".", stderr)
	admin := fs.String("admin", defaultAdminURL, "admin API base URL; token from $"+adminTokenEnv)
	concurrency := fs.Int("concurrency", 4, "requests in flight (1 to 64)")
	rate := fs.Float64("rate", 0, "at most this many requests a second (0: no cap)")
	headers := headerList{}
	fs.Var(headers, "H", "add the header `'Name: value'` to every request (repeatable)")
	from := fs.String("from", "", "warm from the hot URLs of the node whose admin API is at `URL` (instead of FILE)")
	limit := fs.Int("limit", 10000, "with -from: at most this many of its URLs, the most recently stored first")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *from == "" {
		err = wantArgs(fs, pos, 1, 1)
	} else {
		err = wantArgs(fs, pos, 0, 0)
	}
	if err != nil {
		return err
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	urls, source, err := warmSource(ctx, pos, *from, *limit)
	if err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	if len(urls) == 0 {
		return fmt.Errorf("warm: %s lists no URL", source)
	}
	body, err := json.Marshal(map[string]any{"urls": urls, "headers": headers, "concurrency": *concurrency, "rate": *rate})
	if err != nil {
		return err
	}
	var st gateway.WarmStatus
	if err := c.do(ctx, http.MethodPost, "/warm", "application/json", body, &st); err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	p := newProgress(stdout, st.Total)
	for st.State == "running" {
		select {
		case <-ctx.Done():
			// Cancel the job: the gateway would go on without us.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := c.do(dctx, http.MethodDelete, "/warm/"+st.ID, "", nil, &st)
			cancel()
			p.finish()
			printWarmSummary(stdout, &st)
			return errors.Join(errors.New("warm: cancelled"), err)
		case <-time.After(warmPoll):
		}
		if err := c.do(ctx, http.MethodGet, "/warm/"+st.ID, "", nil, &st); err != nil && ctx.Err() == nil {
			return fmt.Errorf("warm: %w", err)
		}
		p.set(st.Done)
	}
	p.finish()
	printWarmSummary(stdout, &st)
	switch {
	case st.State != "done":
		return fmt.Errorf("warm: job %s %s", st.ID, st.State)
	case st.Errors > 0:
		return fmt.Errorf("warm: %d requests failed (last: %s)", st.Errors, st.LastError)
	}
	return nil
}

// warmSource collects the URLs to warm: from the sitemap or list pos[0],
// or from the hot URLs of the node whose admin API is at from.
func warmSource(ctx context.Context, pos []string, from string, limit int) (urls []string, source string, err error) {
	if from == "" {
		urls, err = sitemap.Collect(ctx, pos[0], openSource, sitemap.Limits{})
		return urls, pos[0], err
	}
	src, err := newPolicyClient(from)
	if err != nil {
		return nil, from, fmt.Errorf("-from: %w", err)
	}
	var hot struct {
		URLs []string `json:"urls"`
	}
	err = src.do(ctx, http.MethodGet, "/warm/hot?limit="+strconv.Itoa(limit), "", nil, &hot)
	return hot.URLs, from, err
}

// openSource opens a sitemap or URL list: a URL is fetched (30s, status
// 200), anything else is a file.
func openSource(ctx context.Context, loc string) (io.ReadCloser, error) {
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		return os.Open(loc) //nolint:gosec // G304: the file the operator named
	}
	if _, err := url.Parse(loc); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, http.NoBody)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s: %s", loc, resp.Status)
	}
	return cancelOnClose{resp.Body, cancel}, nil
}

// cancelOnClose releases a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

func printWarmSummary(w io.Writer, st *gateway.WarmStatus) {
	elapsed := time.Since(st.Started)
	if !st.Finished.IsZero() {
		elapsed = st.Finished.Sub(st.Started)
	}
	perSec := 0.0
	if elapsed > 0 {
		perSec = float64(st.Done) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "warm %s: %d of %d URLs in %v (%.0f/s): stored %d, already cached %d, not cacheable %d, errors %d\n",
		st.State, st.Done, st.Total, elapsed.Round(10*time.Millisecond), perSec, st.Stored, st.Cached, st.NotCacheable, st.Errors)
}

// progress shows a job's progress: a bar with rate and ETA on a terminal,
// else a plain line every plainEvery.
type progress struct {
	bar       *progressbar.ProgressBar // nil: plain lines
	w         io.Writer
	total     int64
	start     time.Time
	lastPrint time.Time
}

const plainEvery = 2 * time.Second

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, start: time.Now()}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("warming"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("URL"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
		_ = p.bar.RenderBlank() // starts the bar's clock now, for its rate; see set
	}
	return p
}

func (p *progress) set(done int64) {
	if p.bar != nil {
		_ = p.bar.Set64(done) // a write to the terminal that fails only loses a frame
		return
	}
	now := time.Now()
	if now.Sub(p.lastPrint) < plainEvery {
		return
	}
	p.lastPrint = now
	elapsed := now.Sub(p.start)
	rate := float64(done) / elapsed.Seconds()
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "warming: %d/%d (%.0f%%) %.0f URL/s, ETA %s\n", done, p.total, 100*float64(done)/float64(max(p.total, 1)), rate, eta)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish() // see set
		fmt.Fprintln(p.w)
	}
}
