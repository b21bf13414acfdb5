#!/usr/bin/env bash
# Builds src/normalize.c (or the C file given as the second argument) into
# the file given as the first argument (default: normalize-c.wasm in the
# current directory) with clang's wasm32 target and wasm-ld (Debian: clang
# lld). No libc, no imports.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-normalize-c.wasm}
src=${2:-$here/src/normalize.c}
exec "${CLANG:-clang}" --target=wasm32 -nostdlib -O2 -mbulk-memory -Wall -Wextra -Werror \
	-Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all \
	-I "$here/../../wasm/c" -o "$out" "$src"
