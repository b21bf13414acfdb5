package main

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/flowcache/flowcache/gateway"
)

// envPrefix starts every environment variable that sets a config key.
const envPrefix = "FLOWCACHE_"

// fileSuffix, appended to the variable of a secret, names a file holding
// the secret (as Docker and Kubernetes secrets are mounted).
const fileSuffix = "_FILE"

// The environment mapping, derived from the toml tags of gateway.Config:
//
//   - a key's variable is envPrefix + its key path upper-cased, "." → "_":
//     server.listen is FLOWCACHE_SERVER_LISTEN;
//   - an entry of an array of tables is named by its index:
//     routes[0].upstreams is FLOWCACHE_ROUTES_0_UPSTREAMS; an index one past
//     the last entry adds one (indices must be contiguous);
//   - an entry of a table of tables is named by its key, upper-cased:
//     policies.normalize.module is FLOWCACHE_POLICIES_NORMALIZE_MODULE (the
//     name is lower-cased back; it ends before the first key that matches);
//   - values are written as on a command line: strings bare, arrays
//     comma-separated, durations and sizes as in the file ("5s", "8MiB"),
//     booleans true/false, a free-form table (policies.NAME.config) as a
//     JSON object;
//   - a key tagged secret:"true" may instead be read from the file named by
//     the variable + fileSuffix (FLOWCACHE_ADMIN_TOKEN_FILE), one trailing
//     newline removed;
//   - an empty value is the same as an unset variable.

// envSetting is one variable of the environment applied to a config.
type envSetting struct {
	name  string   // the variable, e.g. FLOWCACHE_ROUTES_0_UPSTREAMS
	path  []string // TOML key path: field names, array indices, table keys
	value string
}

// keyPath formats a key path as Validate does: routes[0].upstreams.
func keyPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// envSettings resolves every FLOWCACHE_ variable of environ (KEY=value
// entries, as os.Environ) against the config type t: the settings to apply,
// and a problem for each variable that names no key or whose file cannot
// be read. Settings are sorted by array index, so that routes[1] is added
// after routes[0].
func envSettings(t reflect.Type, environ []string) ([]envSetting, []problem) {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, envPrefix) {
			vars[k] = v
		}
	}
	var out []envSetting
	var problems []problem
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		value := vars[name]
		rest := name[len(envPrefix):]
		if path, _, ok := resolveEnv(t, rest); ok {
			if value != "" {
				out = append(out, envSetting{name: name, path: path, value: value})
			}
			continue
		}
		if base, isFile := strings.CutSuffix(rest, fileSuffix); isFile {
			if path, leaf, ok := resolveEnv(t, base); ok {
				s, p := secretFromFile(name, path, leaf, value, vars[envPrefix+base])
				if p != nil {
					problems = append(problems, *p)
				} else if s.value != "" {
					out = append(out, *s)
				}
				continue
			}
		}
		msg := "no config key has this name"
		if hint := suggestEnv(t, rest); hint != "" {
			msg += fmt.Sprintf(" (did you mean %s%s?)", envPrefix, hint)
		}
		problems = append(problems, problem{env: name, msg: msg})
	}
	slices.SortStableFunc(out, func(a, b envSetting) int { return compareIndices(a.path, b.path) })
	return out, problems
}

// compareIndices orders key paths by their numeric segments only.
func compareIndices(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, errX := strconv.Atoi(a[i])
		y, errY := strconv.Atoi(b[i])
		if errX == nil && errY == nil && x != y {
			return x - y
		}
	}
	return 0
}

// secretFromFile reads the secret of the variable name (…_FILE) from the
// file named by value. direct is the value of the variable without the
// suffix, which must not be set too.
func secretFromFile(name string, path []string, leaf *reflect.StructField, value, direct string) (*envSetting, *problem) {
	base := strings.TrimSuffix(name, fileSuffix)
	if leaf == nil || leaf.Tag.Get("secret") != "true" {
		return nil, &problem{env: name, msg: fmt.Sprintf("%s is not a secret: only secrets are read from a file (set $%s)", keyPath(path), base)}
	}
	if direct != "" {
		return nil, &problem{env: name, msg: fmt.Sprintf("$%s is set too: give one of them", base)}
	}
	if value == "" {
		return &envSetting{}, nil
	}
	b, err := os.ReadFile(value) //nolint:gosec // G304: the file the operator named
	if err != nil {
		return nil, &problem{env: name, msg: err.Error()}
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return nil, &problem{env: name, msg: fmt.Sprintf("file %s is empty", value)}
	}
	return &envSetting{name: name, path: path, value: s}, nil
}

// resolveEnv finds the key that rest (a variable name without envPrefix)
// names in a value of type t. It returns the key path and, when the key is
// a struct field, the field (for its tags).
func resolveEnv(t reflect.Type, rest string) (path []string, leaf *reflect.StructField, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name := tomlName(&f)
			if name == "" {
				continue
			}
			up := strings.ToUpper(name)
			if rest == up && envLeaf(f.Type) {
				return []string{name}, &f, true
			}
			if sub, ok := strings.CutPrefix(rest, up+"_"); ok && !envLeaf(f.Type) {
				if p, l, ok := resolveEnv(f.Type, sub); ok {
					return append([]string{name}, p...), l, true
				}
			}
		}
	case reflect.Slice:
		digits, sub, ok := strings.Cut(rest, "_")
		n, err := strconv.Atoi(digits)
		if !ok || err != nil || n < 0 || n > maxEnvIndex || strconv.Itoa(n) != digits {
			return nil, nil, false
		}
		if p, l, ok := resolveEnv(t.Elem(), sub); ok {
			return append([]string{digits}, p...), l, true
		}
	case reflect.Map:
		// The table key is the shortest prefix after which the rest
		// names a key of the entry.
		for i := 1; i < len(rest); i++ {
			if rest[i] != '_' {
				continue
			}
			key := strings.ToLower(rest[:i])
			if p, l, ok := resolveEnv(t.Elem(), rest[i+1:]); ok && key != "" {
				return append([]string{key}, p...), l, true
			}
		}
	}
	return nil, nil, false
}

// maxEnvIndex bounds the array index a variable may name.
const maxEnvIndex = 9999

// textUnmarshaler is the type of values decoded from their text form
// (durations, sizes).
var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// envLeaf reports whether a value of type t is set by one variable: a
// scalar, a text-decoded value, an array of scalars or a free-form table.
func envLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshaler) || t.Implements(textUnmarshaler) {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return envLeaf(t.Elem())
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Struct && envLeaf(t.Elem())
	case reflect.Map:
		return t.Elem().Kind() == reflect.Interface
	case reflect.Struct:
		return false
	}
	return true
}

// Placeholders of envNames: an array index, a table key.
const (
	indexPlaceholder = "<N>"
	keyPlaceholder   = "<NAME>"
)

// envNames lists the variable names (without envPrefix) of every key under
// a value of type t, with indexPlaceholder for array indices and
// keyPlaceholder for table keys.
func envNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var out []string
		for i := range t.NumField() {
			f := t.Field(i)
			name := strings.ToUpper(tomlName(&f))
			if name == "" {
				continue
			}
			if envLeaf(f.Type) {
				out = append(out, name)
				continue
			}
			for _, sub := range envNames(f.Type) {
				out = append(out, name+"_"+sub)
			}
		}
		return out
	case reflect.Slice, reflect.Map:
		seg := indexPlaceholder
		if t.Kind() == reflect.Map {
			seg = keyPlaceholder
		}
		var out []string
		for _, sub := range envNames(t.Elem()) {
			out = append(out, seg+"_"+sub)
		}
		return out
	}
	return nil
}

// envVariables lists every variable of the mapping for the config type t
// (array indices <N>, table keys <NAME>).
func envVariables(t reflect.Type) []string {
	names := envNames(t)
	for i := range names {
		names[i] = envPrefix + names[i]
	}
	return names
}

// suggestEnv returns the variable name (without envPrefix) closest to the
// unknown rest, with rest's own array indices and table keys, or "".
func suggestEnv(t reflect.Type, rest string) string {
	// Compare with the indices and names of rest replaced, so that
	// ROUTES_3_UPSTREAM finds ROUTES_0_UPSTREAMS, then put them back.
	best, bestDist := "", 4
	for _, cand := range envNames(t) {
		filled, ok := fillPlaceholders(cand, rest)
		if !ok {
			continue
		}
		if d := editDistance(rest, filled); d < bestDist {
			best, bestDist = filled, d
		}
	}
	return best
}

// fillPlaceholders replaces the placeholder segments of cand with the
// segments at the same places in rest.
func fillPlaceholders(cand, rest string) (string, bool) {
	cs := strings.Split(cand, "_")
	rs := strings.Split(rest, "_")
	for i, c := range cs {
		if c != indexPlaceholder && c != keyPlaceholder {
			continue
		}
		if i >= len(rs) {
			return "", false
		}
		cs[i] = rs[i]
	}
	return strings.Join(cs, "_"), true
}

// applyEnvironment sets the keys of cfg that the FLOWCACHE_ variables of
// environ name. It returns the key paths it set, each with its variable,
// and a problem for each variable that names no key or whose value does
// not decode.
func applyEnvironment(cfg *gateway.Config, environ []string) (map[string]string, []problem) {
	settings, problems := envSettings(configType, environ)
	paths := map[string]string{}
	v := reflect.ValueOf(cfg).Elem()
	for _, s := range settings {
		kp := keyPath(s.path)
		if err := setPath(v, s.path, s.value); err != nil {
			problems = append(problems, problem{env: s.name, path: kp, msg: err.Error()})
			continue
		}
		paths[kp] = s.name
	}
	return paths, problems
}

// envName is the variable of the key at path (as Validate names it:
// routes[0].upstreams), or "" if no variable sets that key.
func envName(path string) string {
	r := strings.NewReplacer(".", "_", "[", "_", "]", "")
	name := strings.ToUpper(r.Replace(path))
	if _, _, ok := resolveEnv(configType, name); !ok {
		return ""
	}
	return envPrefix + name
}

// envVariable returns the variable that set the key at path (as Validate
// names it: routes[0].upstreams[1]) or one of its parents, or "".
func envVariable(envPaths map[string]string, path string) string {
	for path != "" {
		if v, ok := envPaths[path]; ok {
			return v
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return ""
}

func setPath(v reflect.Value, path []string, value string) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if len(path) == 0 {
		return setLeaf(v, value)
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if tomlName(&f) == path[0] {
				return setPath(v.Field(i), path[1:], value)
			}
		}
	case reflect.Slice:
		n, _ := strconv.Atoi(path[0]) // resolveEnv gave digits
		switch {
		case n < v.Len():
		case n == v.Len():
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		default:
			return fmt.Errorf("index %d skips index %d: entries must be numbered from 0 without gaps", n, v.Len())
		}
		return setPath(v.Index(n), path[1:], value)
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		key := reflect.ValueOf(path[0]).Convert(v.Type().Key())
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		}
		if err := setPath(elem, path[1:], value); err != nil {
			return err
		}
		v.SetMapIndex(key, elem)
		return nil
	}
	return fmt.Errorf("cannot set %v", v.Type()) // resolveEnv only names settable keys
}

func setLeaf(v reflect.Value, value string) error {
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			return u.UnmarshalText([]byte(value))
		}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", value)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid integer %q", value)
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid number %q", value)
		}
		v.SetFloat(f)
	case reflect.Slice:
		parts := strings.Split(value, ",")
		s := reflect.MakeSlice(v.Type(), 0, len(parts))
		for i, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" {
				return fmt.Errorf("element %d is empty (elements are separated by commas)", i)
			}
			e := reflect.New(v.Type().Elem()).Elem()
			if err := setLeaf(e, p); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
			s = reflect.Append(s, e)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.New(v.Type())
		if err := json.Unmarshal([]byte(value), m.Interface()); err != nil || m.Elem().IsNil() {
			return fmt.Errorf("want a JSON object, got %q", value)
		}
		v.Set(m.Elem())
	default:
		return fmt.Errorf("cannot set a %v from the environment", v.Type())
	}
	return nil
}
