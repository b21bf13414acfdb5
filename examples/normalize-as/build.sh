#!/usr/bin/env bash
# Builds the AssemblyScript policy assembly/index.ts (or the entry file given
# as the second argument) into the file given as the first argument
# (default: build/normalize-as.wasm). Installs the pinned compiler and the
# SDK (npm ci, from package-lock.json; the SDK is ../../wasm/assemblyscript,
# linked) when node_modules is missing or older than the lock file (one
# install at a time, under flock), then
# runs asc with asconfig.json's release target. Needs node and npm.
set -euo pipefail

out=${1:-build/normalize-as.wasm}
entry=${2:-assembly/index.ts}
case "$out" in
/*) ;;
*) out="$PWD/$out" ;;
esac
case "$entry" in
/* | assembly/index.ts) ;;
*) entry="$PWD/$entry" ;;
esac
cd "$(dirname "$0")"
# Builds may run side by side (the tests do): one npm ci at a time, the
# others wait for it and find node_modules ready.
exec 9>.build.lock
flock 9
if [[ ! -x node_modules/.bin/asc || package-lock.json -nt node_modules/.package-lock.json ]]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
flock -u 9
exec node_modules/.bin/asc "$entry" --target release --outFile "$out"
