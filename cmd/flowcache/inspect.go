package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// inspection is the part of GET /cache/lookup's answer inspect prints.
type inspection struct {
	URL         string `json:"url"`
	Route       string `json:"route"`
	Policy      string `json:"policy"`
	RecordKey   string `json:"record_key"`
	InL1        bool   `json:"in_l1"`
	InL2        bool   `json:"in_l2"`
	Answer      string `json:"answer"`
	CacheStatus string `json:"cache_status"`
	Key         struct {
		Host, Target, Variant string
		Bypass                bool
	} `json:"key"`
	Vary     []string `json:"vary"`
	Variants []struct {
		VaryValues   map[string]string `json:"vary_values"`
		Variant      string            `json:"variant"`
		Matches      bool              `json:"matches"`
		InL1         bool              `json:"in_l1"`
		InL2         bool              `json:"in_l2"`
		Status       int               `json:"status"`
		StoredAt     time.Time         `json:"stored_at"`
		Age          float64           `json:"age_seconds"`
		TTLLeft      float64           `json:"ttl_left_seconds"`
		SWR          float64           `json:"stale_while_revalidate_seconds"`
		SIE          float64           `json:"stale_if_error_seconds"`
		Size         int64             `json:"size"`
		Tags         string            `json:"tags"`
		ETag         string            `json:"etag"`
		LastModified string            `json:"last_modified"`
		Invalidated  bool              `json:"invalidated"`
	} `json:"variants"`
}

// runInspect prints what the cache holds for a URL (GET /cache/lookup),
// without asking the upstream or changing anything.
func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", "[-admin URL] [-H 'Name: value']... [-json] URL",
		"Show what a running gateway holds for URL: its route, policy and key, whether\n"+
			"L1 and L2 hold it, every stored variant (Vary values, age, TTL left, stale\n"+
			"windows, size, tags, validators) and the answer a GET would get. Nothing is\n"+
			"fetched from the upstream and nothing stored changes. -H adds a request field\n"+
			"(e.g. one the responses vary on). The bearer token, if the admin API needs\n"+
			"one, is read from $"+adminTokenEnv+".", stderr)
	admin := fs.String("admin", defaultAdminURL, "admin API base URL")
	headers := headerList{}
	fs.Var(headers, "H", "request header field `'Name: value'` (repeatable)")
	raw := fs.Bool("json", false, "print the admin API's JSON answer")
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
	q := url.Values{"url": {pos[0]}}
	for name, value := range headers {
		q.Add("header", name+": "+value)
	}
	var body json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/cache/lookup?"+q.Encode(), "", nil, &body); err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	if *raw {
		_, err := fmt.Fprintf(stdout, "%s\n", body)
		return err
	}
	var in inspection
	if err := json.Unmarshal(body, &in); err != nil {
		return fmt.Errorf("inspect: bad answer: %w", err)
	}
	return printInspection(stdout, &in)
}

func printInspection(w io.Writer, in *inspection) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(tw, "url\t%s\n", in.URL)
	fmt.Fprintf(tw, "route\t%s\npolicy\t%s\n", in.Route, in.Policy)
	if in.Key.Bypass {
		fmt.Fprintf(tw, "key\tbypass: the request would not use the cache\n")
	} else {
		fmt.Fprintf(tw, "key\t%s %s", in.Key.Host, in.Key.Target)
		if in.Key.Variant != "" {
			fmt.Fprintf(tw, " variant %q", in.Key.Variant)
		}
		fmt.Fprintf(tw, "\nrecord\t%s  (L1: %s, L2: %s)\n", in.RecordKey, yes[in.InL1], yes[in.InL2])
	}
	fmt.Fprintf(tw, "answer\t%s", in.Answer)
	if in.CacheStatus != "" {
		fmt.Fprintf(tw, "  (Cache-Status: %s)", in.CacheStatus)
	}
	fmt.Fprintln(tw)
	if len(in.Vary) > 0 {
		fmt.Fprintf(tw, "vary\t%s\n", strings.Join(in.Vary, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(in.Variants) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tVARIANT\tL1\tL2\tSTATUS\tAGE\tTTL LEFT\tSWR\tSIE\tSIZE\tTAGS\tETAG\tSTORED AT")
	for _, v := range in.Variants {
		mark := ""
		if v.Matches {
			mark = "*"
		}
		names := make([]string, 0, len(v.VaryValues))
		for n := range v.VaryValues {
			names = append(names, n)
		}
		sort.Strings(names)
		var variant []string
		if v.Variant != "" {
			variant = append(variant, fmt.Sprintf("key=%q", v.Variant))
		}
		for _, n := range names {
			variant = append(variant, n+"="+v.VaryValues[n])
		}
		if len(variant) == 0 {
			variant = append(variant, "-")
		}
		ttl := fmt.Sprintf("%.0fs", v.TTLLeft)
		if v.Invalidated {
			ttl += " (purged)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.0fs\t%s\t%.0fs\t%.0fs\t%d\t%s\t%s\t%s\n", mark, strings.Join(variant, " "),
			yes[v.InL1], yes[v.InL2], v.Status, v.Age, ttl, v.SWR, v.SIE, v.Size, dashIfEmpty(v.Tags), dashIfEmpty(v.ETag),
			v.StoredAt.Format(time.RFC3339))
	}
	return errors.Join(tw.Flush())
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
