package plugins

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/flowcache/flowcache/internal/keypath"
	"github.com/flowcache/flowcache/internal/units"
)

// Config is one `[policies.NAME]` section of config.toml. Omitted keys take
// the values of [DefaultConfig]. A Config is not modified by this package.
type Config struct {
	// Module is the path of the policy's .wasm file.
	Module string `toml:"module"`
	// Config is passed to the module's flowcache_init export as a JSON
	// object ({} when empty).
	Config map[string]any `toml:"config"`
	// MaxMemory bounds the linear memory of each instance (rounded down to
	// whole 64KiB pages). A module whose minimum memory is larger is refused;
	// memory.grow beyond it fails. Default 32MiB.
	MaxMemory units.Size `toml:"max_memory"`
	// Fuel is the CPU budget of one Key or Decide call, in units of about
	// one simple instruction: each instruction costs its weight (1 for most,
	// 2 for a multiplication, 6 to 10 for a division or square root, 32 for
	// a function entry, 12 for an indirect call), memory.fill and
	// memory.copy 1 per 4 bytes, memory.grow 1 per 4 bytes of the memory it
	// asks for. Default 2,000,000: about a millisecond of CPU whatever the
	// instructions (0.15 to 0.9 ms for hostile loops and recursions on the
	// reference machine; loads that miss every cache, which instructions do
	// not show, 16 to 24 ms). The budget also bounds how long a Go
	// stop-the-world pause can wait for a call: compiled guest code cannot
	// be preempted.
	Fuel int64 `toml:"fuel"`
	// CallTimeout is the wall-clock backstop of one call, for what the fuel
	// does not see (a call descheduled by the OS, memory that misses every
	// cache, a host function): a call still running after it is stopped at
	// its next fuel charge (within 10ms more), the request uses the
	// fallback policy and the instance is discarded. Default 50ms.
	CallTimeout units.Duration `toml:"call_timeout"`
	// MaxModuleSize bounds the size of the .wasm file. Default 16MiB.
	MaxModuleSize units.Size `toml:"max_module_size"`
	// MemoizeKey, when positive, remembers up to that many flowcache_key
	// results (rounded up to a power of two; at most [MaxMemoizeKey]), keyed
	// by the encoded request blob (method, scheme, host, path, query, route
	// and the headers the module declared): a request encoded the same as
	// an earlier one gets the earlier key without a guest call. Only correct
	// when the module's key derivation is deterministic and stateless (the
	// same encoded request always gives the same key), which the host cannot
	// check. Errors are never remembered. Each entry holds a copy of the
	// encoded request and of the key (entries over 4KiB are not kept).
	// Default 0: off.
	MemoizeKey int `toml:"memoize_key"`
}

// Defaults and bounds of [Config].
const (
	DefaultMaxMemory     = 32 << 20
	DefaultFuel          = 2_000_000
	DefaultCallTimeout   = 50 * time.Millisecond
	DefaultMaxModuleSize = 16 << 20

	pageSize      = 64 << 10
	maxMemoryCap  = 4 << 30 // wasm32's address space
	maxModuleCap  = 256 << 20
	initFuel      = 1 << 28 // budget of _initialize, flowcache_init, flowcache_headers
	minBufferSize = 64 << 10
)

// DefaultConfig returns the defaults of a `[policies.NAME]` section (Module
// empty: it is required).
func DefaultConfig() Config {
	return Config{
		MaxMemory:     DefaultMaxMemory,
		Fuel:          DefaultFuel,
		CallTimeout:   units.Duration(DefaultCallTimeout),
		MaxModuleSize: DefaultMaxModuleSize,
	}
}

// Validate reports every problem in c, joined with errors.Join, each a
// *keypath.Error at its key ("max_memory: ..."); the caller puts them under
// the section with keypath.Under("policies.NAME", err).
func (c *Config) Validate() error {
	var errs []error
	if c.Module == "" {
		errs = append(errs, keypath.Errorf("module", "required (path of the policy's .wasm file)"))
	}
	if err := c.validateLimits(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.initJSON(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateLimits checks everything but Module.
func (c *Config) validateLimits() error {
	var errs []error
	if c.MaxMemory < pageSize || c.MaxMemory > maxMemoryCap {
		errs = append(errs, keypath.Errorf("max_memory", "%v is outside [64KiB, 4GiB]", c.MaxMemory))
	}
	if c.Fuel <= 0 {
		errs = append(errs, keypath.Errorf("fuel", "%d must be positive", c.Fuel))
	}
	if c.CallTimeout < 0 || c.CallTimeout.D() > time.Minute || (c.CallTimeout != 0 && c.CallTimeout.D() < time.Millisecond) {
		errs = append(errs, keypath.Errorf("call_timeout", "%v is outside [1ms, 1m]", c.CallTimeout))
	}
	if c.MaxModuleSize <= 0 || c.MaxModuleSize > maxModuleCap {
		errs = append(errs, keypath.Errorf("max_module_size", "%v is outside (0, 256MiB]", c.MaxModuleSize))
	}
	if c.MemoizeKey < 0 || c.MemoizeKey > MaxMemoizeKey {
		errs = append(errs, keypath.Errorf("memoize_key", "%d is outside [0, %d]", c.MemoizeKey, MaxMemoizeKey))
	}
	return errors.Join(errs...)
}

// initJSON returns the bytes passed to flowcache_init.
func (c *Config) initJSON() ([]byte, error) {
	if len(c.Config) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(c.Config)
	if err != nil {
		return nil, keypath.Errorf("config", "not representable as JSON: %w", err)
	}
	return b, nil
}

// callTimeout returns CallTimeout, or its default when zero.
func (c *Config) callTimeout() time.Duration {
	if c.CallTimeout == 0 {
		return DefaultCallTimeout
	}
	return c.CallTimeout.D()
}

// memoryPages returns MaxMemory in whole pages.
func (c *Config) memoryPages() uint32 { return uint32(c.MaxMemory / pageSize) } //nolint:gosec // MaxMemory is at most 4GiB (Validate): 65536 pages
