// Flowcache is an HTTP edge cache: a caching reverse proxy for HTTP APIs
// whose keying and storage rules can be programmed per route.
//
// Usage:
//
//	flowcache serve [-config FILE]   run the gateway (default ./config.toml)
//	flowcache check [-config FILE]   validate a config file and exit
//	flowcache version                print the version
//
// Every command documents its flags with -h. serve stops on SIGINT or
// SIGTERM, draining in-flight requests for at most server.shutdown_timeout.
//
// The config file is TOML, decoded strictly: an unknown key, a value of the
// wrong type or an invalid setting is an error naming the key path and the
// line, and nothing is served. When serve is started without -config and
// ./config.toml does not exist, it runs on embedded defaults: the defaults of
// every key plus one catch-all route to http://127.0.0.1:9000.
package main
