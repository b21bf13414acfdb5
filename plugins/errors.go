package plugins

import (
	"errors"
	"strconv"
)

// Load error kinds. A [*LoadError] wraps exactly one of them; test with
// errors.Is. Suggested HTTP statuses for the admin API are in brackets.
var (
	// ErrTooLarge: the module exceeds max_module_size [413].
	ErrTooLarge = errors.New("module too large")
	// ErrMalformed: not a WebAssembly module, or one that does not validate or
	// compile [400].
	ErrMalformed = errors.New("malformed module")
	// ErrImport: an import other than the allowed WASI preview 1 functions
	// [422].
	ErrImport = errors.New("forbidden import")
	// ErrExport: a required export is missing, or an export has the wrong
	// kind or signature [422].
	ErrExport = errors.New("bad export")
	// ErrABIVersion: flowcache_abi_version returned an unsupported version
	// [422].
	ErrABIVersion = errors.New("unsupported ABI version")
	// ErrMemory: the module's memory does not fit max_memory, or is imported
	// or missing [422].
	ErrMemory = errors.New("memory limit")
	// ErrInit: instantiation, _initialize, flowcache_init or
	// flowcache_headers failed (trap, exit, fuel, non-zero result) [422].
	ErrInit = errors.New("initialisation failed")
	// ErrConfig: the policy's Config is invalid, or its module file cannot
	// be read [400].
	ErrConfig = errors.New("invalid policy config")
)

// LoadError reports why a policy module was refused. Its message names the
// policy, the module file (if any) and the reason.
type LoadError struct {
	// Policy is the policy name ([policies.NAME]).
	Policy string
	// Module is the module path from the config, empty for uploaded bytes.
	Module string
	// Err wraps one of the ErrXxx kinds with the details.
	Err error
}

// Error implements error.
func (e *LoadError) Error() string {
	s := "plugins: policy " + strconv.Quote(e.Policy)
	if e.Module != "" {
		s += " (" + e.Module + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *LoadError) Unwrap() error { return e.Err }

// Call failure kinds. A [*CallError] wraps exactly one of them.
var (
	// ErrTrap: the guest trapped (unreachable, out-of-bounds access, stack
	// overflow, ...).
	ErrTrap = errors.New("trap")
	// ErrFuel: the call ran out of its CPU budget (the policy's fuel).
	ErrFuel = errors.New("fuel exhausted")
	// ErrBackstop: the call ran longer than its wall-clock backstop (the
	// policy's call_timeout) and was stopped.
	ErrBackstop = errors.New("stopped")
	// ErrExit: the guest called proc_exit (a Go guest that panicked does).
	ErrExit = errors.New("exit")
	// ErrResult: the guest returned a malformed result, or could not
	// allocate its input buffer.
	ErrResult = errors.New("bad result")
	// ErrGuest: the guest returned the ABI's error result (-1).
	ErrGuest = errors.New("guest error")
	// ErrClosed: the Module was closed.
	ErrClosed = errors.New("plugins: module closed")
)

// CallError reports a failed Key or Decide call. The gateway answers the
// request with its fallback policy; the error is for metrics and logs.
type CallError struct {
	// Policy is the policy name.
	Policy string
	// Version is the first 12 characters of the version id, empty for a
	// module loaded outside a Store.
	Version string
	// Op is "key" or "decide".
	Op string
	// Err wraps one of the call failure kinds with the details.
	Err error
}

// Error implements error.
func (e *CallError) Error() string {
	s := "plugins: policy " + strconv.Quote(e.Policy)
	if e.Version != "" {
		s += " version " + e.Version
	}
	return s + ": " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *CallError) Unwrap() error { return e.Err }
