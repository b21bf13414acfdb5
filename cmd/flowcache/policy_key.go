package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// headerFlag collects repeated "Name: value" flags.
type headerFlag map[string]string

func (h headerFlag) String() string { return "" }

// Set implements flag.Value.
func (h headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want \"Name: value\", got %q", s)
	}
	if _, dup := h[name]; dup {
		return fmt.Errorf("%s given twice (write a list in one value)", name)
	}
	h[name] = strings.TrimSpace(value)
	return nil
}

func runPolicyKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, admin := policyFlags("key", "NAME URL [-X METHOD] [-H 'Name: value']... [-version ID] [-status N] [-R 'Name: value']... [-json] [-admin URL]",
		"Show the key and the decision that the active version of policy NAME (or\n"+
			"-version, a full id or a unique prefix) computes for a request to URL on a\n"+
			"running gateway, for debugging in production (POST /policies/NAME/key).\n"+
			"Nothing is fetched or stored. The decision is for a response with -status and\n"+
			"the -R header fields (default: a 200 without any), starting from the native\n"+
			"default policy's decision, as the gateway does.", stderr)
	method := fs.String("X", "GET", "request method")
	reqHeaders := headerFlag{}
	fs.Var(reqHeaders, "H", "request header field `Name: value` (repeatable)")
	version := fs.String("version", "", "version id or unique prefix (default: the active version)")
	status := fs.Int("status", 200, "status of the response the decision is for")
	bodySize := fs.Int64("body-size", 0, "body size of that response (-1: unknown)")
	respHeaders := headerFlag{}
	fs.Var(respHeaders, "R", "response header field `Name: value` (repeatable)")
	asJSON := fs.Bool("json", false, "print the admin API's JSON answer")
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
	name := pos[0]
	body := map[string]any{
		"url": pos[1], "method": *method, "headers": map[string]string(reqHeaders),
		"response": map[string]any{"status": *status, "headers": map[string]string(respHeaders), "body_size": *bodySize},
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	path := "/policies/" + url.PathEscape(name) + "/key"
	if *version != "" {
		path += "?version=" + url.QueryEscape(*version)
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodPost, path, "application/json", b, &raw); err != nil {
		return fmt.Errorf("policy key %s: %w", name, err)
	}
	if *asJSON {
		_, err := fmt.Fprintf(stdout, "%s\n", raw)
		return err
	}
	var a struct {
		Policy, Version, Route string
		Request                struct{ Method, Scheme, Host, Path, Query string }
		Key                    struct {
			Bypass                bool
			Host, Target, Variant string
			Fallback              bool
		}
		KeyError string `json:"key_error"`
		Response struct {
			Status   int
			BodySize int64 `json:"body_size"`
		}
		Decision struct {
			Store, Admit   bool
			MustRevalidate bool `json:"must_revalidate"`
			NoCache        bool `json:"no_cache"`
			Tier           string
			TTL, SWR, SIE  string
			Fallback       bool
		}
		DecisionError string `json:"decision_error"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("policy key %s: bad answer: %w", name, err)
	}
	route := a.Route
	if route == "" {
		route = "(no route matches)"
	}
	target := a.Request.Path
	if a.Request.Query != "" {
		target += "?" + a.Request.Query
	}
	fmt.Fprintf(stdout, "policy    %s version %s, route %s\n", a.Policy, short(a.Version), route)
	fmt.Fprintf(stdout, "request   %s %s://%s%s\n", a.Request.Method, a.Request.Scheme, a.Request.Host, target)
	switch {
	case a.KeyError != "":
		fmt.Fprintf(stdout, "key       error: %s\n          the gateway falls back to the default policy: ", a.KeyError)
	default:
		fmt.Fprint(stdout, "key       ")
	}
	if a.Key.Bypass {
		fmt.Fprintln(stdout, "bypass (the cache is not used)")
	} else {
		fmt.Fprintf(stdout, "host %q target %q variant %q\n", a.Key.Host, a.Key.Target, a.Key.Variant)
	}
	fmt.Fprintf(stdout, "response  %d, body %d bytes\n", a.Response.Status, a.Response.BodySize)
	if a.Key.Bypass {
		_, err = fmt.Fprintln(stdout, "decision  none: the gateway does not store what bypasses the cache")
		return err
	}
	if a.DecisionError != "" {
		fmt.Fprintf(stdout, "decision  error: %s\n          the default policy's decision is kept: ", a.DecisionError)
	} else {
		fmt.Fprint(stdout, "decision  ")
	}
	d := a.Decision
	_, err = fmt.Fprintf(stdout, "store=%t admit=%t tier=%s ttl=%s swr=%s sie=%s must_revalidate=%t no_cache=%t\n",
		d.Store, d.Admit, d.Tier, d.TTL, d.SWR, d.SIE, d.MustRevalidate, d.NoCache)
	return err
}
