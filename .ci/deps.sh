#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: gcc (cgo, for the
# race detector), redis-server and redis-cli (the Redis L2 and Redis Cluster
# tests), wat2wasm (WASM policy tests), clang and wasm-ld (the C policy
# example, examples/normalize-c), node and npm (the AssemblyScript SDK and
# example, examples/normalize-as; a node already installed is kept), chromium (the admin page's
# headless-browser test) and promtool (from Debian's prometheus package:
# /metrics and the alert rules are checked with it). Does nothing when everything is present; installs only as root,
# with apt-get. Safe to run any number of times.
set -euo pipefail

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v wat2wasm >/dev/null 2>&1 || need+=(wabt)
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v wasm-ld >/dev/null 2>&1 || need+=(lld)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${need[*]}: run 'sudo apt-get install -y ${need[*]}'." >&2
	echo "deps: tests that need them are skipped locally and fail in CI." >&2
	[ "${CI:-}" = "true" ] && exit 1
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing ${need[*]} and no apt-get to install them" >&2
	exit 1
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
