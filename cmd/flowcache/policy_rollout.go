package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// rolloutUsage lists the rollout subcommands in `flowcache policy help`.
const rolloutUsage = "\nRollouts (push -shadow, -sample SHARE, -canary SHARE, -vectors FILE):\n\n" +
	"  shadow NAME [-cluster] [-sample S]   what the shadow version found (or set its sample)\n" +
	"  canary NAME SHARE                    serve SHARE (\"25%\") of the requests with the candidate\n" +
	"  promote NAME                         make the candidate the active version\n" +
	"  discard NAME                         drop the candidate\n" +
	"  delete NAME                          delete the policy on every node (a tombstone)\n"

// pushRollout holds push's rollout flags.
type pushRollout struct {
	shadow  *bool
	sample  *string
	canary  *string
	vectors *string
}

// addRolloutFlags adds push's rollout flags to fs.
func addRolloutFlags(fs *flag.FlagSet) *pushRollout {
	return &pushRollout{
		shadow:  fs.Bool("shadow", false, "stage the version in shadow mode: compared on a sample of live requests, never used"),
		sample:  fs.String("sample", "", "the shadow's sample of the requests (default 10%)"),
		canary:  fs.String("canary", "", "stage the version as a canary serving this share of the requests (\"5%\")"),
		vectors: fs.String("vectors", "", "golden vectors (VECTORS.json) the version must pass; stored with it"),
	}
}

// request returns the path, content type and body of the upload of wasm
// (with configJSON, "" for none) to path.
func (ro *pushRollout) request(path string, wasm []byte, configJSON string) (string, string, []byte, error) {
	q := url.Values{}
	switch {
	case *ro.shadow && *ro.canary != "":
		return "", "", nil, errors.New("-shadow and -canary: choose one")
	case *ro.sample != "" && !*ro.shadow:
		return "", "", nil, errors.New("-sample is the shadow's sample: give -shadow too")
	case *ro.shadow:
		q.Set("mode", "shadow")
		if *ro.sample != "" {
			q.Set("sample", *ro.sample)
		}
	case *ro.canary != "":
		q.Set("mode", "canary")
		q.Set("share", *ro.canary)
	}
	if configJSON != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(configJSON), &obj); err != nil || obj == nil {
			return "", "", nil, fmt.Errorf("-config: want a JSON object, got %q", configJSON)
		}
	}
	if *ro.vectors == "" {
		if configJSON != "" {
			q.Set("config", configJSON)
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		return path, "application/wasm", wasm, nil
	}
	vectors, err := os.ReadFile(*ro.vectors) //nolint:gosec // G304: the file the operator named
	if err != nil {
		return "", "", nil, fmt.Errorf("-vectors: %w", err)
	}
	if !json.Valid(vectors) {
		return "", "", nil, fmt.Errorf("-vectors: %s is not JSON", *ro.vectors)
	}
	w := map[string]any{"module": wasm, "vectors": json.RawMessage(vectors)}
	if configJSON != "" {
		w["config"] = json.RawMessage(configJSON)
	}
	body, err := json.Marshal(w)
	if err != nil {
		return "", "", nil, err
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path, "application/json", body, nil
}

// pushResult is the answer of a push, staged or not.
type pushResult struct {
	versionResult
	Mode  string `json:"mode"`
	Share string `json:"share"`
}

// print reports the push's outcome.
func (r *pushResult) print(w io.Writer) error {
	if r.Mode != "" {
		_, err := fmt.Fprintf(w, "%s: version %s staged as %s at %s beside %s\n", r.Name, short(r.Version), r.Mode, r.Share, short(r.Previous))
		return err
	}
	_, err := fmt.Fprintf(w, "%s: version %s active (previous %s)\n", r.Name, short(r.Version), short(r.Previous))
	return err
}

// rolloutCandidate is a policy's staged version as GET /policies shows it.
type rolloutCandidate struct {
	Version struct {
		ID string `json:"id"`
	} `json:"version"`
	Mode      string `json:"mode"`
	Share     string `json:"share"`
	Calls     uint64 `json:"calls"`
	Failures  uint64 `json:"failures"`
	Fallbacks uint64 `json:"fallbacks"`
}

// String is the CANDIDATE column of `policy list`: "canary ID 25%", or "-".
func (c *rolloutCandidate) String() string {
	if c == nil {
		return "-"
	}
	return c.Mode + " " + short(c.Version.ID) + " " + c.Share
}

// policyView is GET /policies/NAME as the rollout commands read it.
type policyView struct {
	Name         string            `json:"name"`
	Active       string            `json:"active"`
	Previous     string            `json:"previous"`
	Candidate    *rolloutCandidate `json:"candidate"`
	LastRollback *struct {
		Version string `json:"version"`
		Stage   string `json:"stage"`
		Reason  string `json:"reason"`
	} `json:"last_rollback"`
}

func (v *policyView) print(w io.Writer) error {
	fmt.Fprintf(w, "%s: active %s", v.Name, short(v.Active))
	if c := v.Candidate; c != nil {
		fmt.Fprintf(w, ", %s %s at %s (%d calls, %d failed, %d fallbacks here)", c.Mode, short(c.Version.ID), c.Share, c.Calls, c.Failures, c.Fallbacks)
	} else {
		fmt.Fprint(w, ", no candidate")
	}
	if rb := v.LastRollback; rb != nil {
		fmt.Fprintf(w, "\nlast automatic rollback: %s (%s): %s", short(rb.Version), rb.Stage, rb.Reason)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// runPolicyRolloutCommand runs a rollout subcommand: sub NAME [SHARE].
func runPolicyRolloutCommand(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	type spec struct {
		synopsis, doc string
		share         bool
	}
	specs := map[string]spec{
		"canary": {"NAME SHARE [-admin URL]", "Serve SHARE (\"25%\") of the requests of policy NAME with its candidate (a\n" +
			"shadow becomes a canary): the requests whose host and path hash into it,\n" +
			"the same ones on every node.", true},
		"promote": {"NAME [-admin URL]", "Make the candidate of policy NAME its active version (under the candidate's\n" +
			"key namespace: what the canary cached stays valid). The promoted version is\n" +
			"watched for [rollout] window and rolled back automatically if it fails.", false},
		"discard": {"NAME [-admin URL]", "Drop the candidate (shadow or canary) of policy NAME.", false},
		"delete": {"NAME [-admin URL]", "Delete policy NAME and every version of it. With Redis, a tombstone reaches\n" +
			"every node, and no node brings the policy back. Refused while a route of the\n" +
			"node uses it.", false},
	}
	sp := specs[sub]
	fs, admin := policyFlags(sub, sp.synopsis, sp.doc, stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	n := 1
	if sp.share {
		n = 2
	}
	if err := wantArgs(fs, pos, n, n); err != nil {
		return err
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	path := "/policies/" + url.PathEscape(pos[0])
	if sub == "delete" {
		if err := c.do(ctx, http.MethodDelete, path, "", nil, nil); err != nil {
			return fmt.Errorf("policy delete %s: %w", pos[0], err)
		}
		_, err := fmt.Fprintf(stdout, "%s: deleted\n", pos[0])
		return err
	}
	var body []byte
	if sp.share {
		body, _ = json.Marshal(map[string]string{"share": pos[1]}) // a map of strings always marshals
	}
	var v policyView
	if err := c.do(ctx, http.MethodPost, path+"/"+sub, "application/json", body, &v); err != nil {
		return fmt.Errorf("policy %s %s: %w", sub, pos[0], err)
	}
	return v.print(stdout)
}

// shadowNode is one node's counters (or their sum) in a cluster report.
type shadowNode struct {
	Node          string  `json:"node"`
	Calls         uint64  `json:"calls"`
	KeyDiffs      uint64  `json:"key_diffs"`
	DecisionDiffs uint64  `json:"decision_diffs"`
	Errors        uint64  `json:"errors"`
	Dropped       uint64  `json:"dropped"`
	NsPerCall     float64 `json:"ns_per_call"`
	FuelPerCall   float64 `json:"fuel_per_call"`
}

// shadowReport is GET /policies/NAME/shadow.
type shadowReport struct {
	Policy        string  `json:"policy"`
	Active        string  `json:"active"`
	Candidate     string  `json:"candidate"`
	Sample        string  `json:"sample"`
	Sampled       uint64  `json:"sampled"`
	Dropped       uint64  `json:"dropped"`
	Calls         uint64  `json:"calls"`
	KeyCalls      uint64  `json:"key_calls"`
	DecideCalls   uint64  `json:"decide_calls"`
	KeyDiffs      uint64  `json:"key_diffs"`
	DecisionDiffs uint64  `json:"decision_diffs"`
	Errors        uint64  `json:"errors"`
	ActiveErrors  uint64  `json:"active_errors"`
	NsPerCall     float64 `json:"ns_per_call"`
	FuelPerCall   float64 `json:"fuel_per_call"`
	FuelMax       uint64  `json:"fuel_max"`
	Cluster       *struct {
		Nodes []shadowNode `json:"nodes"`
		Total shadowNode   `json:"total"`
	} `json:"cluster"`
	Samples []struct {
		Kind    string            `json:"kind"`
		Method  string            `json:"method"`
		Host    string            `json:"host"`
		Path    string            `json:"path"`
		Query   string            `json:"query"`
		Headers map[string]string `json:"headers"`
		Status  int               `json:"status"`
		Active  json.RawMessage   `json:"active_key"`
		Cand    json.RawMessage   `json:"candidate_key"`
		ActiveD json.RawMessage   `json:"active_decision"`
		CandD   json.RawMessage   `json:"candidate_decision"`
		Error   string            `json:"error"`
	} `json:"samples"`
}

func runPolicyShadow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, admin := policyFlags("shadow", "NAME [-sample SHARE] [-cluster] [-admin URL]",
		"Report what the shadow version of policy NAME found on this node's live\n"+
			"traffic: calls, key and decision differences, errors, time per call, and the\n"+
			"latest differing requests (header values redacted unless a version declared\n"+
			"them). -cluster adds every node's counters (with [redis]); -sample changes\n"+
			"the share of requests the shadow sees.", stderr)
	sample := fs.String("sample", "", "set the shadow's sample of the requests (\"10%\")")
	cluster := fs.Bool("cluster", false, "add every node's counters (with [redis])")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 1); err != nil {
		return err
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	path := "/policies/" + url.PathEscape(pos[0]) + "/shadow"
	if *sample != "" {
		body, _ := json.Marshal(map[string]string{"sample": *sample}) // a map of strings always marshals
		var v policyView
		if err := c.do(ctx, http.MethodPost, path, "application/json", body, &v); err != nil {
			return fmt.Errorf("policy shadow %s: %w", pos[0], err)
		}
		return v.print(stdout)
	}
	var r shadowReport
	if *cluster {
		path += "?scope=cluster"
	}
	if err := c.do(ctx, http.MethodGet, path, "", nil, &r); err != nil {
		return fmt.Errorf("policy shadow %s: %w", pos[0], err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "policy\t%s\nactive\t%s\nshadow\t%s (sample %s)\n", r.Policy, short(r.Active), short(r.Candidate), r.Sample)
	fmt.Fprintf(tw, "calls\t%d (key %d, decide %d; %d sampled, %d dropped)\n", r.Calls, r.KeyCalls, r.DecideCalls, r.Sampled, r.Dropped)
	fmt.Fprintf(tw, "key differences\t%d\ndecision differences\t%d\nerrors\t%d (active version failed: %d)\nns per call\t%.0f\nfuel per call\t%.0f (max %d)\n",
		r.KeyDiffs, r.DecisionDiffs, r.Errors, r.ActiveErrors, r.NsPerCall, r.FuelPerCall, r.FuelMax)
	if r.Cluster != nil {
		t := &r.Cluster.Total
		fmt.Fprintf(tw, "\ncluster (%d nodes)\tcalls %d, key differences %d, decision differences %d, errors %d, dropped %d, ns per call %.0f, fuel per call %.0f\n",
			len(r.Cluster.Nodes), t.Calls, t.KeyDiffs, t.DecisionDiffs, t.Errors, t.Dropped, t.NsPerCall, t.FuelPerCall)
		for _, n := range r.Cluster.Nodes {
			fmt.Fprintf(tw, "  node %s\tcalls %d, key differences %d, decision differences %d, errors %d, dropped %d\n",
				n.Node, n.Calls, n.KeyDiffs, n.DecisionDiffs, n.Errors, n.Dropped)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Samples {
		target := s.Path
		if s.Query != "" {
			target += "?" + s.Query
		}
		fmt.Fprintf(stdout, "\n%s difference: %s %s%s\n", s.Kind, s.Method, s.Host, target)
		if len(s.Headers) > 0 {
			hs := make([]string, 0, len(s.Headers))
			for k, v := range s.Headers {
				hs = append(hs, k+": "+v)
			}
			slices.Sort(hs)
			fmt.Fprintf(stdout, "  headers   %s\n", strings.Join(hs, "; "))
		}
		switch s.Kind {
		case "key":
			fmt.Fprintf(stdout, "  active    %s\n  shadow    %s\n", s.Active, s.Cand)
		case "decision":
			fmt.Fprintf(stdout, "  status    %d\n  active    %s\n  shadow    %s\n", s.Status, s.ActiveD, s.CandD)
		default:
			fmt.Fprintf(stdout, "  error     %s\n", s.Error)
		}
	}
	return nil
}
