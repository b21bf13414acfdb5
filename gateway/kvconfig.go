package gateway

import (
	"maps"
	"net"
	"regexp"
	"slices"
	"time"

	"github.com/flowcache/flowcache/internal/keypath"
	"github.com/flowcache/flowcache/internal/units"
)

// KVConfig is the [kv] section: the look-aside API, values that services
// read and write over HTTP on the gateway's own tiers (see kv.go). It has
// its own listener, off by default.
type KVConfig struct {
	// Listen is the look-aside API's address, host:port; empty (the
	// default) turns the API off.
	Listen string `toml:"listen"`
	// Namespaces are the [kv.namespaces.NAME] sections: the key spaces
	// served at /kv/NAME/.
	Namespaces map[string]KVNamespaceConfig `toml:"namespaces"`
}

// KVNamespaceConfig is one [kv.namespaces.NAME] section. Omitted (zero)
// keys take the defaults documented on each field.
type KVNamespaceConfig struct {
	// Token is the bearer token every request to the namespace needs. It
	// may be empty only when [kv] listen is a loopback address: then only
	// loopback clients with a loopback Host are answered, as for the admin
	// API.
	Token string `toml:"token"`
	// DefaultTTL is the life of a value written without ?ttl= or
	// Cache-Control: max-age. Default 1h.
	DefaultTTL units.Duration `toml:"default_ttl"`
	// MaxTTL bounds the life a writer may ask for. Default 24h.
	MaxTTL units.Duration `toml:"max_ttl"`
	// MaxValueSize bounds a value; larger writes get 413. Default 1MiB.
	MaxValueSize units.Size `toml:"max_value_size"`
	// Tier is where values live: "both" (default: L1 on every node that
	// reads them, and Redis), "l1" (this node only) or "l2" (Redis only).
	// Without [redis] addrs, "both" is "l1" and "l2" is refused.
	Tier string `toml:"tier"`
	// LeaseTTL is how long a lease (GET ?lease=1) lets its holder fill a
	// missing value before another caller may take it. Default 10s.
	LeaseTTL units.Duration `toml:"lease_ttl"`
}

// Defaults of [kv.namespaces.NAME] and bounds of the look-aside API.
const (
	kvDefaultTTL      = time.Hour
	kvDefaultMaxTTL   = 24 * time.Hour
	kvDefaultMaxValue = 1 << 20
	kvDefaultLeaseTTL = 10 * time.Second
	// kvMaxKey bounds a key, in bytes after percent-decoding.
	kvMaxKey = 1024
	// kvMaxValueSize bounds max_value_size.
	kvMaxValueSize = 64 << 20
)

// kvNamespaceName is what a namespace may be called: it is a path segment
// of every request and a metric label.
var kvNamespaceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// withDefaults returns c with its zero fields set to their defaults.
func (c KVNamespaceConfig) withDefaults() KVNamespaceConfig {
	if c.DefaultTTL == 0 {
		c.DefaultTTL = units.Duration(kvDefaultTTL)
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = units.Duration(kvDefaultMaxTTL)
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = kvDefaultMaxValue
	}
	if c.Tier == "" {
		c.Tier = "both"
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = units.Duration(kvDefaultLeaseTTL)
	}
	return c
}

// validate reports every problem of the [kv] section, each a *FieldError;
// redis says whether [redis] addrs is set.
func (c *KVConfig) validate(redis bool) []error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, keypath.Errorf(path, format, args...))
	}
	if c.Listen == "" {
		if len(c.Namespaces) > 0 {
			add("kv.listen", "required when [kv.namespaces] are declared")
		}
		return errs
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("kv.listen", "invalid address %q (want host:port)", c.Listen)
	}
	if len(c.Namespaces) == 0 {
		add("kv.namespaces", "at least one [kv.namespaces.NAME] is required when kv.listen is set")
	}
	loopback := loopbackListen(c.Listen)
	for _, name := range slices.Sorted(maps.Keys(c.Namespaces)) {
		p := "kv.namespaces." + name
		if !kvNamespaceName.MatchString(name) {
			add(p, "invalid namespace name %q (1 to 64 of a-z, 0-9, _, ., -; starting with a letter or digit)", name)
			continue
		}
		ns := c.Namespaces[name].withDefaults()
		if ns.Token == "" && !loopback {
			add(p+".token", "required: kv.listen %q takes connections from beyond loopback", c.Listen)
		}
		if ns.DefaultTTL < 0 || ns.MaxTTL < 0 || ns.LeaseTTL < 0 {
			add(p, "default_ttl, max_ttl and lease_ttl must not be negative")
		}
		if ns.DefaultTTL.D() < time.Second && ns.DefaultTTL > 0 {
			add(p+".default_ttl", "must be at least 1s, got %s", ns.DefaultTTL)
		}
		if ns.DefaultTTL > ns.MaxTTL {
			add(p+".default_ttl", "%s is over max_ttl (%s)", ns.DefaultTTL, ns.MaxTTL)
		}
		if ns.MaxValueSize < 0 || ns.MaxValueSize > kvMaxValueSize {
			add(p+".max_value_size", "must be between 1B and %s, got %s", units.Size(kvMaxValueSize), ns.MaxValueSize)
		}
		switch ns.Tier {
		case "both", "l1":
		case "l2":
			if !redis {
				add(p+".tier", "\"l2\" needs [redis] addrs")
			}
		default:
			add(p+".tier", "must be both, l1 or l2; got %q", ns.Tier)
		}
	}
	return errs
}
