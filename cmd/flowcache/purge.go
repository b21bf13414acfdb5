package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// tagList is the repeatable -tag flag: each value one tag or several,
// comma-separated.
type tagList []string

func (l *tagList) String() string { return strings.Join(*l, ",") }

func (l *tagList) Set(v string) error {
	for t := range strings.SplitSeq(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			*l = append(*l, t)
		}
	}
	return nil
}

func runPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("purge", "[-admin URL] [-soft [-refresh]] URL... | -tag TAG... | -prefix /PATH [-host HOST] | -all",
		"Purge a running gateway's cache through its admin API (POST /purge): every\n"+
			"variant of each URL given (absolute: https://api.example.com/users/42), the\n"+
			"responses tagged with a -tag (Surrogate-Key; repeat it or separate with\n"+
			"commas), the URLs of -host whose path starts with -prefix (without -host: the\n"+
			"host of every route), or everything (-all). The purge reaches every node that\n"+
			"shares the gateway's Redis. -soft marks the entries stale instead: they are\n"+
			"revalidated before being served fresh again; with -refresh, those this node\n"+
			"holds are revalidated at once, in the background. Prints how many stored\n"+
			"responses were purged. The bearer token, if the admin API needs one, is read\n"+
			"from $"+adminTokenEnv+".", stderr)
	admin := fs.String("admin", defaultAdminURL, "admin API base URL; token from $"+adminTokenEnv)
	var tags tagList
	fs.Var(&tags, "tag", "purge the responses tagged `TAG` (repeatable, or comma-separated)")
	prefix := fs.String("prefix", "", "purge the URLs whose path (and query) starts with `PATH`")
	host := fs.String("host", "", "the `HOST` of -prefix (default: the host of every route)")
	all := fs.Bool("all", false, "purge everything")
	soft := fs.Bool("soft", false, "mark stale instead of removing")
	refresh := fs.Bool("refresh", false, "with -soft: revalidate the hot purged entries in the background")
	urls, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	body, err := purgeBody(fs, urls, tags, *prefix, *host, *all, *soft, *refresh)
	if err != nil {
		return err
	}
	c, err := newPolicyClient(*admin)
	if err != nil {
		return err
	}
	var res struct {
		Purged  int `json:"purged"`
		Refresh *struct {
			ID   string `json:"id"`
			URLs int    `json:"urls"`
		} `json:"refresh"`
	}
	if err := c.do(ctx, http.MethodPost, "/purge", "application/json", body, &res); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	what := "purged"
	if *soft {
		what = "marked stale"
	}
	if _, err := fmt.Fprintf(stdout, "%s: %d\n", what, res.Purged); err != nil {
		return err
	}
	switch r := res.Refresh; {
	case r != nil && r.ID != "":
		_, err = fmt.Fprintf(stdout, "refreshing: %d URLs (GET /warm/%s)\n", r.URLs, r.ID)
	case r != nil:
		_, err = fmt.Fprintln(stdout, "refreshing: 0 URLs (none of them in this node's cache)")
	}
	return err
}

// purgeBody builds the POST /purge body of the command line, which must
// name exactly one form.
func purgeBody(fs *flag.FlagSet, urls, tags []string, prefix, host string, all, soft, refresh bool) ([]byte, error) {
	forms := 0
	for _, given := range []bool{len(urls) > 0, len(tags) > 0, prefix != "", all} {
		if given {
			forms++
		}
	}
	usage := func(msg string) error {
		fmt.Fprintf(fs.Output(), "flowcache purge: %s\n", msg)
		fs.Usage()
		return errUsage
	}
	switch {
	case forms != 1:
		return nil, usage("give exactly one of: URLs, -tag, -prefix, -all")
	case host != "" && prefix == "":
		return nil, usage("-host goes with -prefix")
	case refresh && !soft:
		return nil, usage("-refresh goes with -soft")
	}
	req := map[string]any{}
	switch {
	case len(urls) > 0:
		for _, u := range urls {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				return nil, usage(fmt.Sprintf("%q is not an absolute http:// or https:// URL", u))
			}
		}
		req["urls"] = urls
	case len(tags) > 0:
		req["tags"] = tags
	case prefix != "":
		req["prefix"] = prefix
		if host != "" {
			req["host"] = host
		}
	default:
		req["all"] = true
	}
	if soft {
		req["soft"] = true
	}
	if refresh {
		req["refresh"] = true
	}
	return json.Marshal(req)
}
