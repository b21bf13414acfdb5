package abi

// ExportError is the optional export through which a module explains its
// last failure: `() -> i64`, the packed range of a UTF-8 message, or 0 for
// none (ABI.md, section 11). The host calls it right after flowcache_init
// returned non-zero, or flowcache_key or flowcache_decide returned -1.
const ExportError = "flowcache_error"

// MaxErrorLen is the longest message the host reads from ExportError; a
// longer one is cut.
const MaxErrorLen = 1024
