package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "[-admin URL] [-timeout D]",
		"Ask a gateway whether it is ready for traffic: GET /readyz on its admin\n"+
			"listener. Exit 0 when it answers 200, 1 otherwise (shutting down, not\n"+
			"listening, too slow), with the reason on standard error. Made for a\n"+
			"container's HEALTHCHECK, where there is no shell or curl. The default\n"+
			"-admin is http://127.0.0.1:PORT with the port of $FLOWCACHE_ADMIN_LISTEN\n"+
			"when it is set, else "+defaultAdminURL+".", stderr)
	admin := fs.String("admin", healthcheckURL(os.Getenv("FLOWCACHE_ADMIN_LISTEN")), "admin listener base URL")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	c, err := newPolicyClient(*admin) // validates the URL
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/readyz", http.NoBody)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: not ready: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10)) // a short body only shortens the message
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: not ready: %s/readyz answered %s %s", c.base, resp.Status, msg)
	}
	_, err = fmt.Fprintf(stdout, "ready: %s\n", msg)
	return err
}

// healthcheckURL is the admin URL for the listen address listen (host:port,
// as admin.listen): loopback, on its port; defaultAdminURL when listen is
// empty or has no port.
func healthcheckURL(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if listen == "" || err != nil || port == "" {
		return defaultAdminURL
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port)
}
