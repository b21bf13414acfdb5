#!/usr/bin/env bash
# Builds src/normalize.c (or the C file given as the second argument) into
# the file given as the first argument (default: normalize-c.wasm in the
# current directory) with clang's wasm32 target and wasm-ld (Debian: clang
# lld). No libc, no imports.
#
# Compiled and linked in two steps: clang's driver runs binaryen's
# wasm-opt after linking when one is in PATH and -O is given, and before
# clang 17 it passes wasm-opt none of the module's features, so that
# wasm-opt refuses the bulk-memory instructions (-mbulk-memory) the code
# uses. Linking without -O never runs it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-normalize-c.wasm}
src=${2:-$here/src/normalize.c}
obj=$(mktemp -t normalize-c-XXXXXX.o)
trap 'rm -f "$obj"' EXIT
"${CLANG:-clang}" --target=wasm32 -O2 -mbulk-memory -Wall -Wextra -Werror \
	-I "$here/../../wasm/c" -c -o "$obj" "$src"
"${CLANG:-clang}" --target=wasm32 -nostdlib \
	-Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all -o "$out" "$obj"
