package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// defaultAdminURL is where the policy commands find the admin API.
const defaultAdminURL = "http://127.0.0.1:9090"

// adminTokenEnv names the environment variable holding the admin token.
const adminTokenEnv = "FLOWCACHE_ADMIN_TOKEN"

// policyClient talks to a gateway's admin API.
type policyClient struct {
	base  string
	token string
	hc    *http.Client
}

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "push|list|rollback|key|test|bench|replay [flags] ..."
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "push":
		return runPolicyPush(ctx, args, stdout, stderr)
	case "list":
		return runPolicyList(ctx, args, stdout, stderr)
	case "rollback":
		return runPolicyRollback(ctx, args, stdout, stderr)
	case "shadow":
		return runPolicyShadow(ctx, args, stdout, stderr)
	case "canary", "promote", "discard", "delete":
		return runPolicyRolloutCommand(ctx, sub, args, stdout, stderr)
	case "test":
		return runPolicyTest(ctx, args, stdout, stderr)
	case "key":
		return runPolicyKey(ctx, args, stdout, stderr)
	case "bench":
		return runPolicyBench(ctx, args, stdout, stderr)
	case "replay":
		return runPolicyReplay(ctx, args, stdout, stderr)
	case "-h", "-help", "--help", "help":
		policyUsage(stdout, synopsis)
		return nil
	}
	if sub == "" {
		fmt.Fprintln(stderr, "flowcache policy: missing subcommand")
	} else {
		fmt.Fprintf(stderr, "flowcache policy: unknown subcommand %q\n", sub)
	}
	policyUsage(stderr, synopsis)
	return errUsage
}

func policyUsage(w io.Writer, synopsis string) {
	fmt.Fprintf(w, "Usage: flowcache policy %s\n\n"+
		"Manage the WebAssembly policies of a running gateway through its admin API:\n\n"+
		"  push NAME FILE.wasm [-config JSON]  upload a new version and activate it\n"+
		"  list                                 every policy, its active version and routes\n"+
		"  rollback NAME [VERSION]              activate the previous (or the given) version\n"+
		"  key NAME URL [-H 'Name: value']...   the key and decision a version computes for URL\n\n"+
		"Author tooling, run locally on the gateway's own host (no admin API):\n\n"+
		"  test MODULE.wasm VECTORS.json        run golden vectors, diff each failing case\n"+
		"  bench MODULE.wasm [VECTORS.json]     ns, fuel, allocations per call vs the native policy\n"+
		"  replay MODULE.wasm [-against M2] LOG distinct keys and hit ratio of an access log's requests\n\n"+
		"Every admin subcommand takes -admin URL (default %s); the bearer token,\n"+
		"if the admin API needs one, is read from $%s.\n", synopsis, defaultAdminURL, adminTokenEnv)
	fmt.Fprint(w, rolloutUsage)
}

// policyFlags returns the flag set of a policy subcommand with -admin.
func policyFlags(name, synopsis, description string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := newFlagSet("policy "+name, synopsis, description, stderr)
	admin := fs.String("admin", defaultAdminURL, "admin API base URL; token from $"+adminTokenEnv)
	return fs, admin
}

// parseInterleaved parses flags given before, between or after the
// positional arguments (flag stops at the first non-flag), and returns the
// positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func wantArgs(fs *flag.FlagSet, pos []string, lo, hi int) error {
	if len(pos) < lo || len(pos) > hi {
		fmt.Fprintf(fs.Output(), "flowcache %s: %d arguments, want %d to %d\n", fs.Name(), len(pos), lo, hi)
		fs.Usage()
		return errUsage
	}
	return nil
}

func newPolicyClient(admin string) (*policyClient, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-admin: invalid URL %q (want http://host:port)", admin)
	}
	return &policyClient{
		base:  strings.TrimRight(admin, "/"),
		token: os.Getenv(adminTokenEnv),
		hc:    &http.Client{Timeout: 2 * time.Minute},
	}, nil
}

// do sends a request to the admin API and decodes a 2xx JSON answer into
// out; any other answer is an error with the API's message.
func (c *policyClient) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		msg := apiMessage(b)
		if resp.StatusCode == http.StatusForbidden {
			msg += " (set $" + adminTokenEnv + " to the admin token)"
		}
		return fmt.Errorf("admin API: %s %s: %s: %s", method, path, resp.Status, msg)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("admin API: %s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// apiMessage is the "error" member of a JSON error answer b, or b
// itself.
func apiMessage(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b))
}

// versionResult is the answer of a push or rollback.
type versionResult struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Previous string `json:"previous"`
}

func short(id string) string {
	if id == "" {
		return "none"
	}
	return id[:min(12, len(id))]
}

func runPolicyPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, admin := policyFlags("push", "NAME FILE.wasm [-config JSON] [-admin URL]",
		"Upload FILE.wasm as a new version of policy NAME. The gateway validates it,\n"+
			"runs it on a sample request, and activates it for every route using NAME;\n"+
			"a rejected module changes nothing. -config is the JSON object given to the\n"+
			"module's flowcache_init (default: the config of [policies.NAME]).", stderr)
	config := fs.String("config", "", "JSON object passed to the module's flowcache_init")
	ro := addRolloutFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 2, 2); err != nil {
		return err
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	name, file := pos[0], pos[1]
	wasm, err := os.ReadFile(file) //nolint:gosec // G304: the file the operator named
	if err != nil {
		return fmt.Errorf("policy push: %w", err)
	}
	path, contentType, body, err := ro.request("/policies/"+url.PathEscape(name), wasm, *config)
	if err != nil {
		return fmt.Errorf("policy push: %w", err)
	}
	var res pushResult
	if err := c.do(ctx, http.MethodPut, path, contentType, body, &res); err != nil {
		return fmt.Errorf("policy push %s: %w", name, err)
	}
	return res.print(stdout)
}

func runPolicyRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, admin := policyFlags("rollback", "NAME [VERSION] [-admin URL]",
		"Activate VERSION of policy NAME (a full id or a unique prefix of at least 6\n"+
			"characters), or without VERSION the version active before the current one.", stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 2); err != nil {
		return err
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	var body []byte
	if len(pos) == 2 {
		body, _ = json.Marshal(map[string]string{"version": pos[1]}) // a map of strings always marshals
	}
	var res versionResult
	if err := c.do(ctx, http.MethodPost, "/policies/"+url.PathEscape(pos[0])+"/rollback", "application/json", body, &res); err != nil {
		return fmt.Errorf("policy rollback %s: %w", pos[0], err)
	}
	_, err = fmt.Fprintf(stdout, "%s: version %s active (previous %s)\n", res.Name, short(res.Version), short(res.Previous))
	return err
}

func runPolicyList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, admin := policyFlags("list", "[-admin URL]",
		"List every policy of the gateway: its active version, how many versions are\n"+
			"stored, the routes using it, and its call and error counters.", stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 0); err != nil {
		return err
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	var list struct {
		Policies []struct {
			Name     string            `json:"name"`
			Active   string            `json:"active"`
			Versions []json.RawMessage `json:"versions"`
			Routes   []string          `json:"routes"`
			Calls    uint64            `json:"calls"`
			Errors   uint64            `json:"errors"`
			// Candidate is policy_rollout.go's view of a staged version.
			Candidate *rolloutCandidate `json:"candidate"`
		} `json:"policies"`
	}
	if err := c.do(ctx, http.MethodGet, "/policies", "", nil, &list); err != nil {
		return fmt.Errorf("policy list: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tACTIVE\tVERSIONS\tROUTES\tCALLS\tERRORS\tCANDIDATE")
	for _, p := range list.Policies {
		routes := strings.Join(p.Routes, ",")
		if routes == "" {
			routes = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", p.Name, short(p.Active), len(p.Versions), routes, p.Calls, p.Errors, p.Candidate.String())
	}
	return errors.Join(tw.Flush())
}
