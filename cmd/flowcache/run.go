package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the release of this binary, set at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

var (
	// errUsage reports a command line the flag package has already
	// explained on stderr.
	errUsage = errors.New("invalid usage (see -h)")
	// errHelp reports that -h was given and the help printed: not a failure.
	errHelp = errors.New("help requested")
)

// command is one subcommand of flowcache.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the gateway", runServe},
		{"check", "validate a config file and exit", runCheck},
		{"config", "print the effective configuration (TOML, secrets redacted)", runConfig},
		{"version", "print the version and exit", runVersion},
		{"policy", "push, list, roll back, query policies (admin API); test, bench, replay them locally", runPolicy},
		{"top", "show the hottest URLs, refreshed (admin API)", runTop},
		{"inspect", "show what the cache holds for a URL (admin API)", runInspect},
		{"purge", "purge URLs, tags, a prefix or everything (admin API)", runPurge},
		{"warm", "fill the cache from a sitemap or a list of URLs (admin API)", runWarm},
		{"healthcheck", "exit 0 if a gateway's /readyz answers 200 (for containers)", runHealthcheck},
		{"kv", "get, put, delete values of the look-aside API", runKV},
	}
}

// run is the whole program: main only adds os.Args, the standard streams,
// signals and the exit code. It returns nil after -h.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flowcache", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs.Output()) }
	err := parseFlags(fs, args)
	if err == nil {
		err = dispatch(ctx, fs, stdout, stderr)
	}
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, fs *flag.FlagSet, stdout, stderr io.Writer) error {
	if fs.NArg() == 0 {
		usage(stderr)
		return errUsage
	}
	name := fs.Arg(0)
	if name == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, fs.Args()[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "flowcache: unknown command %q\n\n", name)
	usage(stderr)
	return errUsage
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Flow Cache, an HTTP edge cache.\n\nUsage:\n\n  flowcache <command> [flags]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'flowcache <command> -h' for the flags of a command.\n")
	_, _ = io.WriteString(w, b.String()) // nothing useful to do if the terminal is gone
}

// newFlagSet returns a flag set for a subcommand whose -h prints synopsis,
// the description and every flag.
func newFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: flowcache %s %s\n\n%s\n", name, synopsis, description)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, mapping -h to errHelp and any other mistake (already
// printed by the flag package) to errUsage. Positional arguments are refused
// by subcommands that take none.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	return nil
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "flowcache %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", "Print the version of this binary, the Go release that built it, and the platform.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "flowcache %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

// buildVersion is version, or the module version when built by
// "go install ...@vX" without -ldflags.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

const configHelp = "the config file (TOML)"

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "[-config FILE]",
		"Decode and validate a config file, with the FLOWCACHE_ variables of the\n"+
			"environment applied, report every problem with its key path and line (or\n"+
			"variable), load every [policies.NAME] module as serve would (validation, ABI,\n"+
			"dry run), and exit: 0 if the configuration is valid, 1 if not. Nothing is\n"+
			"started. Without -config and ./config.toml, it checks what serve would run\n"+
			"on: the environment alone, or the embedded defaults.", stderr)
	cfg, source, err := commandConfig(fs, args)
	if err != nil {
		return err
	}
	if err := checkPolicies(ctx, &cfg, source); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: ok, routes: %d\n", source, len(cfg.Routes))
	return err
}
