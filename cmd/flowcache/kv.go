package main

import (
	"bytes"
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
)

// defaultKVURL is where the kv commands find the look-aside API.
const defaultKVURL = "http://127.0.0.1:7070"

// kvTokenEnv names the environment variable holding a namespace's token.
const kvTokenEnv = "FLOWCACHE_KV_TOKEN" //nolint:gosec // G101: the variable's name, not a credential

// errKVMiss is the error of kv get for a key that is not stored (exit
// status 1, nothing printed on stdout).
var errKVMiss = errors.New("not found")

func runKV(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "get", "put", "del", "mget":
		return runKVSub(ctx, sub, args, stdout, stderr)
	case "-h", "-help", "--help", "help":
		kvUsage(stdout)
		return nil
	}
	if sub == "" {
		fmt.Fprintln(stderr, "flowcache kv: missing subcommand")
	} else {
		fmt.Fprintf(stderr, "flowcache kv: unknown subcommand %q\n", sub)
	}
	kvUsage(stderr)
	return errUsage
}

func kvUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: flowcache kv get|put|del|mget [flags] NAMESPACE KEY...\n\n"+
		"Read and write values through a gateway's look-aside API ([kv]):\n\n"+
		"  get NAMESPACE KEY          print the value (exit status 1 if absent)\n"+
		"  put NAMESPACE KEY [VALUE]  store VALUE, or standard input [-ttl 60s] [-tags \"a b\"] [-type text/plain]\n"+
		"  del NAMESPACE KEY          delete the value\n"+
		"  mget NAMESPACE KEY...      print {\"key\": value or null} as JSON\n\n"+
		"Every subcommand takes -kv URL (default %s); the namespace's bearer\n"+
		"token, if it needs one, is read from $%s.\n", defaultKVURL, kvTokenEnv)
}

func runKVSub(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("kv "+sub, "[flags] NAMESPACE KEY...", "See flowcache kv -h.", stderr)
	base := fs.String("kv", defaultKVURL, "look-aside API base URL; token from $"+kvTokenEnv)
	ttl := fs.Duration("ttl", 0, "put: the value's life (default: the namespace's default_ttl)")
	tags := fs.String("tags", "", "put: Surrogate-Key tags, space-separated")
	ctype := fs.String("type", "", "put: Content-Type of the value")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	lo, hi := 2, 2
	switch sub {
	case "put":
		hi = 3
	case "mget":
		hi = 1 << 20
	}
	if err := wantArgs(fs, pos, lo, hi); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-kv: invalid URL %q (want http://host:port)", *base)
	}
	c := &kvClient{
		base: strings.TrimRight(*base, "/") + "/kv/" + url.PathEscape(pos[0]) + "/", token: os.Getenv(kvTokenEnv),
		hc: &http.Client{Timeout: time.Minute},
	}
	switch sub {
	case "get":
		status, body, err := c.do(ctx, http.MethodGet, url.PathEscape(pos[1]), "", nil, nil)
		if err != nil {
			return err
		}
		if status == http.StatusNotFound {
			return errKVMiss
		}
		_, err = stdout.Write(body)
		return err
	case "put":
		var value []byte
		if len(pos) == 3 {
			value = []byte(pos[2])
		} else if value, err = io.ReadAll(os.Stdin); err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		path := url.PathEscape(pos[1])
		if *ttl > 0 {
			path += "?ttl=" + strconv.FormatInt(int64(max(*ttl/time.Second, 1)), 10)
		}
		h := map[string]string{"Content-Type": *ctype, "Surrogate-Key": *tags}
		_, _, err := c.do(ctx, http.MethodPut, path, "", value, h)
		return err
	case "del":
		status, _, err := c.do(ctx, http.MethodDelete, url.PathEscape(pos[1]), "", nil, nil)
		if err == nil && status == http.StatusNotFound {
			return errKVMiss
		}
		return err
	default: // mget
		req, _ := json.Marshal(map[string][]string{"keys": pos[1:]}) // strings always encode
		_, body, err := c.do(ctx, http.MethodPost, "_mget", "application/json", req, nil)
		if err != nil {
			return err
		}
		var got struct {
			Items []struct {
				Key   string `json:"key"`
				Found bool   `json:"found"`
				Value []byte `json:"value"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			return fmt.Errorf("kv API: bad _mget answer: %w", err)
		}
		out := make(map[string]*string, len(got.Items))
		for _, it := range got.Items {
			if it.Found {
				v := string(it.Value)
				out[it.Key] = &v
			} else {
				out[it.Key] = nil
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
}

// kvClient talks to one namespace of the look-aside API.
type kvClient struct {
	base  string // ".../kv/NAMESPACE/"
	token string
	hc    *http.Client
}

// do sends a request; a 2xx or 404 answer is returned, any other is an
// error with the API's message.
func (c *kvClient) do(ctx context.Context, method, path, contentType string, body []byte, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("kv API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("kv API: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotFound {
		return resp.StatusCode, b, nil
	}
	msg := apiMessage(b)
	if resp.StatusCode == http.StatusUnauthorized {
		msg += " (set $" + kvTokenEnv + " to the namespace's token)"
	}
	return resp.StatusCode, nil, fmt.Errorf("kv API: %s %s: %s: %s", method, path, resp.Status, msg)
}
