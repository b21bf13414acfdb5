package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"reflect"

	"github.com/BurntSushi/toml"

	"github.com/flowcache/flowcache/gateway"
)

// redacted replaces the value of a secret in a printed configuration (at
// least 16 bytes, so that the printed file validates as redis.secret).
const redacted = "(redacted secret)"

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", "[-config FILE]",
		"Print the configuration serve would run on, as TOML: the config file (or,\n"+
			"when ./config.toml does not exist and -config is not given, the\n"+
			"environment alone or the embedded defaults) with the FLOWCACHE_ variables\n"+
			"applied and every default filled in. Secrets are printed as \""+redacted+"\".\n"+
			"An invalid configuration is reported as serve and check report it.", stderr)
	cfg, source, err := commandConfig(fs, args)
	if err != nil {
		return err
	}
	return printConfig(stdout, &cfg, source)
}

// commandConfig parses the command line of a command whose only flag is
// -config, and returns the configuration serve would run on and its source
// (see serveConfig).
func commandConfig(fs *flag.FlagSet, args []string) (gateway.Config, string, error) {
	path := fs.String("config", defaultConfigPath, configHelp)
	if err := parseFlags(fs, args); err != nil {
		return gateway.Config{}, "", err
	}
	if err := noArgs(fs); err != nil {
		return gateway.Config{}, "", err
	}
	return serveConfig(*path, flagSet(fs, "config"))
}

// printConfig writes cfg as TOML, secrets redacted, after a comment naming
// its source.
func printConfig(w io.Writer, cfg *gateway.Config, source string) error {
	c := *cfg
	c.Routes = append([]gateway.RouteConfig(nil), cfg.Routes...)
	redact(reflect.ValueOf(&c).Elem())
	if _, err := fmt.Fprintf(w, "# flowcache %s: effective configuration from %s\n", buildVersion(), source); err != nil {
		return err
	}
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	return enc.Encode(&c)
}

// redact replaces every non-empty string field tagged secret:"true" under v
// (addressable; arrays of tables included) with redacted. Tables of tables
// (policies) hold no secret and are shared with the original: not walked.
func redact(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Tag.Get("secret") == "true" && f.Type.Kind() == reflect.String && v.Field(i).String() != "" {
				v.Field(i).SetString(redacted)
				continue
			}
			if f.IsExported() {
				redact(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			redact(v.Index(i))
		}
	}
}
