package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/flowcache/flowcache/gateway"
	"github.com/flowcache/flowcache/internal/keypath"
)

// exampleOrigin is the upstream of the embedded default configuration: the
// example origin of the quick start (examples/origin).
const exampleOrigin = "http://127.0.0.1:9000"

// embeddedConfig is the configuration serve runs on when no -config is given
// and ./config.toml does not exist: gateway.DefaultConfig plus one catch-all
// route to the example origin.
func embeddedConfig() gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.Routes = []gateway.RouteConfig{{Name: "default", Upstreams: []string{exampleOrigin}}}
	for i := range cfg.Routes {
		gateway.RouteDefaults(&cfg.Routes[i])
	}
	return cfg
}

// loadConfig reads, decodes and validates the config file at path, with
// the FLOWCACHE_ variables of the environment applied on top (env.go).
// Every problem found is reported, each with its key path and line, or
// with the variable that set it.
func loadConfig(path string) (gateway.Config, error) {
	src, err := os.ReadFile(path) //nolint:gosec // G304: reading the file the operator named
	if err != nil {
		return gateway.Config{}, fmt.Errorf("read config: %w", err)
	}
	return decodeConfig(path, src, os.Environ())
}

// decodeConfig decodes src, the contents of the file name, strictly onto
// gateway.DefaultConfig, applies the FLOWCACHE_ variables of environ, fills
// route defaults and validates the result. Every problem is reported in one
// error: values of the wrong type or format, unknown keys, variables that
// do not apply, and what Validate finds; only a syntax error stops the
// decoding (decode.go).
//
// # Why not toml.DecodeFile?
//
// It would read the file a second time: the lines named in errors are found by
// scanning src, so the bytes decoded and the bytes scanned must be the same.
func decodeConfig(name string, src []byte, environ []string) (gateway.Config, error) {
	cfg := gateway.DefaultConfig()
	ix := scanKeys(string(src))
	problems, bad, err := decodeFields(string(src), ix, &cfg)
	if err != nil {
		return gateway.Config{}, &configError{file: name, problems: []problem{syntaxProblem(ix, err)}}
	}
	return finishConfig(name, filepath.Dir(name), ix, &cfg, environ, problems, bad)
}

// envSource names the configuration in errors and logs when there is no
// file: the environment alone.
const envSource = "environment"

// envConfig is the configuration of a process without a config file:
// gateway.DefaultConfig with the FLOWCACHE_ variables of environ applied,
// plus, unless they declare routes, the embedded catch-all route to the
// example origin. Relative paths are relative to the working directory.
// set reports whether any variable was applied.
func envConfig(environ []string) (cfg gateway.Config, set bool, err error) {
	cfg = gateway.DefaultConfig()
	settings, _ := envSettings(configType, environ)
	if !slices.ContainsFunc(settings, func(s envSetting) bool { return s.path[0] == "routes" }) {
		cfg.Routes = embeddedConfig().Routes
	}
	cfg, err = finishConfig(envSource, ".", scanKeys(""), &cfg, environ, nil, nil)
	var ce *configError
	if errors.As(err, &ce) {
		// No file to point at: name the variable that would set the key.
		for i := range ce.problems {
			if p := &ce.problems[i]; p.env == "" && p.path != "" {
				if v := envName(p.path); v != "" {
					p.env, p.msg = v, p.path+" (unset): "+p.msg
					p.path = ""
				}
			}
		}
	}
	return cfg, len(settings) > 0, err
}

// finishConfig applies the environment to a decoded cfg, fills the
// defaults (paths relative to dir) and validates it, reporting problems
// (those found so far, and any new one) as a *configError of source.
// Validate's problems at or under a path of bad (values that did not
// decode) are left out: they are about the default the value kept.
func finishConfig(source, dir string, ix *keyIndex, cfg *gateway.Config, environ []string, problems []problem, bad []string) (gateway.Config, error) {
	envPaths, envProblems := applyEnvironment(cfg, environ)
	problems = append(problems, envProblems...)
	for i := range cfg.Routes {
		gateway.RouteDefaults(&cfg.Routes[i])
	}
	policyDefaults(dir, cfg)
	problems = append(problems, validateProblems(ix, envPaths, bad, cfg.Validate())...)
	// In the order of the file, as a compiler lists errors; those of the
	// environment, which have no line, last.
	slices.SortStableFunc(problems, func(a, b problem) int { return cmp.Compare(lineOrLast(a.line), lineOrLast(b.line)) })
	if len(problems) > 0 {
		return gateway.Config{}, &configError{file: source, problems: problems}
	}
	return *cfg, nil
}

// configError is every problem found in one config file.
type configError struct {
	file     string
	problems []problem
}

// problem is one thing wrong in a config file.
type problem struct {
	line    int    // 1-based; 0 when the file has no line for it
	env     string // the environment variable that set the key; "" if none
	path    string // key path, e.g. routes[1].upstreams[0]; "" if unknown
	msg     string
	context string // where, as lines of the file; may be empty
}

// Error formats every problem as "file:line: key.path: message", followed
// by the lines of the file it is about.
func (e *configError) Error() string {
	var b strings.Builder
	if len(e.problems) > 1 {
		fmt.Fprintf(&b, "%s: %d problems\n", e.file, len(e.problems))
	}
	for i, p := range e.problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.env != "" {
			b.WriteString("$" + p.env + ": ")
		} else {
			b.WriteString(e.file)
			if p.line > 0 {
				b.WriteString(":" + strconv.Itoa(p.line))
			}
			b.WriteString(": ")
		}
		if p.path != "" {
			b.WriteString(p.path + ": ")
		}
		b.WriteString(p.msg)
		if c := strings.TrimRight(p.context, "\n"); c != "" {
			b.WriteString("\n" + c)
		}
	}
	return b.String()
}

// syntaxProblem is the problem of a document that does not parse.
func syntaxProblem(ix *keyIndex, err error) problem {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return problem{msg: err.Error()}
	}
	p := problem{line: pe.Position.Line, msg: pe.Message}
	if pe.LastKey != "" {
		p.path, _ = ix.resolve(pe.LastKey, pe.Position.Line)
	}
	p.context = positionContext(ix, &pe)
	return p
}

// positionContext returns the location part of pe.ErrorWithPosition: "At
// line L, column C:" and the lines around it. The message itself is left
// out: it is already in the first line of ours.
//
// ErrorWithPosition panics on some positions the parser reports (column 0
// for an unterminated escape at the end of the file: FuzzLoadConfig found
// it), so it is called only on positions inside the file, and a panic in it
// falls back to a plain snippet of the line.
func positionContext(ix *keyIndex, pe *toml.ParseError) (s string) {
	pos := pe.Position
	if pos.Line < 1 || pos.Line > len(ix.lines) || pos.Col < 1 || pos.Len < 0 {
		return ix.snippet(pos.Line)
	}
	defer func() {
		if recover() != nil {
			s = ix.snippet(pos.Line)
		}
	}()
	s = pe.ErrorWithPosition()
	if _, rest, ok := strings.Cut(s, "\n\n"); ok {
		s = rest
	}
	return s
}

// configType is the type config files decode into.
var configType = reflect.TypeFor[gateway.Config]()

// suggest returns the known key closest to the unknown key k within an edit
// distance of 2, or "".
func suggest(k toml.Key) string {
	best, bestDist := "", 3
	for _, name := range knownKeys(configType, k[:len(k)-1]) {
		if d := editDistance(k[len(k)-1], name); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// knownKeys lists the TOML keys of the table at path in a config of type t.
func knownKeys(t reflect.Type, path []string) []string {
	for _, p := range path {
		t = elemType(t)
		if t.Kind() == reflect.Map {
			t = t.Elem() // p is a map key
			continue
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByTag(t, p)
		if !ok {
			return nil
		}
		t = f.Type
	}
	t = elemType(t)
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := tomlName(&f); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

func elemType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); tomlName(&f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tomlName(f *reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// policyDefaults fills the omitted limits of every [policies.NAME] section
// and makes relative module paths, admin.data_dir and routes' tls_ca_file
// relative to dir, the config file's directory.
func policyDefaults(dir string, cfg *gateway.Config) {
	if d := cfg.Admin.DataDir; d != "" && !filepath.IsAbs(d) {
		cfg.Admin.DataDir = filepath.Join(dir, d)
	}
	for i := range cfg.Routes {
		if f := cfg.Routes[i].TLSCAFile; f != "" && !filepath.IsAbs(f) {
			cfg.Routes[i].TLSCAFile = filepath.Join(dir, f)
		}
	}
	for name, pc := range cfg.Policies {
		gateway.PolicyDefaults(&pc)
		if pc.Module != "" && !filepath.IsAbs(pc.Module) {
			pc.Module = filepath.Join(dir, pc.Module)
		}
		cfg.Policies[name] = pc
	}
}

// validateProblems lists the *gateway.FieldError problems joined in err
// (Validate's) with the line of each in the file, or the variable that set
// it (envPaths maps key paths set by the environment to their variables).
// Those at or under a path of bad are left out.
func validateProblems(ix *keyIndex, envPaths map[string]string, bad []string, err error) []problem {
	errs := keypath.Leaves(err)
	out := make([]problem, 0, len(errs))
	for _, e := range errs {
		var fe *gateway.FieldError
		if !errors.As(e, &fe) || fe.Path == "" {
			out = append(out, problem{msg: e.Error()})
			continue
		}
		path, msg := fe.Path, fe.Err.Error()
		if v := envVariable(envPaths, path); v != "" {
			out = append(out, problem{env: v, path: path, msg: msg})
			continue
		}
		if covered(bad, path) {
			continue
		}
		line := ix.line(path)
		out = append(out, problem{line: line, path: path, msg: msg, context: ix.snippet(line)})
	}
	return out
}
