// Package directive holds the Cache-Control parser behind package
// policy/cachecontrol. It lives here, importing nothing from this module, so
// that package policy (whose default policy needs the parser) and package
// cachecontrol (whose ParseField takes policy.Headers) can both use it without
// an import cycle. Its documentation is that of package cachecontrol.
package directive
