package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

// runTop shows the gateway's hot keys (GET /cache/hot), refreshed every
// -interval on a terminal, like varnishtop; printed once when stdout is
// not a terminal or with -once.
func runTop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("top", "[-admin URL] [-by requests|bytes|misses] [-n 20] [-route NAME] [-interval 2s] [-once]",
		"Show the most requested URLs of a running gateway (by requests, bytes served or\n"+
			"misses; decayed counts), refreshed like varnishtop. The bearer token, if the\n"+
			"admin API needs one, is read from $"+adminTokenEnv+".", stderr)
	admin := fs.String("admin", defaultAdminURL, "admin API base URL")
	by := fs.String("by", "requests", "rank by requests, bytes or misses")
	n := fs.Int("n", 20, "how many URLs (1 to 128)")
	route := fs.String("route", "", "only this route's URLs")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval on a terminal")
	once := fs.Bool("once", false, "print once and exit, even on a terminal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *interval < 100*time.Millisecond {
		return fmt.Errorf("top: -interval %v: must be at least 100ms", *interval)
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	q := url.Values{"by": {*by}, "n": {strconv.Itoa(*n)}}
	if *route != "" {
		q.Set("route", *route)
	}
	path := "/cache/hot?" + q.Encode()
	tty := isTerminal(stdout)
	for {
		var b bytes.Buffer
		if err := topFrame(ctx, c, path, &b); err != nil {
			return fmt.Errorf("top: %w", err)
		}
		if tty && !*once {
			// Home and clear, then the frame: the screen shows the latest.
			_, _ = io.WriteString(stdout, "\x1b[H\x1b[2J") // a terminal write error shows on the terminal
		}
		if _, err := stdout.Write(b.Bytes()); err != nil || !tty || *once {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// topFrame writes one table of hot keys.
func topFrame(ctx context.Context, c *policyClient, path string, w io.Writer) error {
	var hot struct {
		By       string  `json:"by"`
		Route    string  `json:"route"`
		HalfLife float64 `json:"half_life_seconds"`
		Keys     []struct {
			Route string `json:"route"`
			Key   string `json:"key"`
			Count int64  `json:"count"`
			Error int64  `json:"error"`
		} `json:"keys"`
	}
	if err := c.do(ctx, http.MethodGet, path, "", nil, &hot); err != nil {
		return err
	}
	scope := "all routes"
	if hot.Route != "" {
		scope = "route " + hot.Route
	}
	fmt.Fprintf(w, "flowcache top: %s by %s, half-life %gs, %s\n\n", scope, hot.By, hot.HalfLife, time.Now().Format(time.TimeOnly))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNT\t±\tROUTE\tURL")
	for _, k := range hot.Keys {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", k.Count, k.Error, k.Route, k.Key)
	}
	if len(hot.Keys) == 0 {
		fmt.Fprintln(tw, "-\t-\t-\t(no requests counted yet)")
	}
	return errors.Join(tw.Flush())
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) //nolint:gosec // G115: a file descriptor fits an int
}
