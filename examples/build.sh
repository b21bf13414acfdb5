#!/usr/bin/env bash
# Builds every example policy module into the directory given as the first
# argument (default: bin/policies), from the repository root:
#
#   examples/build.sh bin/policies
#
# Go policies are built with the standard toolchain (GOOS=wasip1
# GOARCH=wasm go build -buildmode=c-shared), without the symbol table and
# debug information (-ldflags='-s -w': 2% smaller, nothing the host reads)
# and without local paths (-trimpath); C and AssemblyScript policies by the
# build.sh beside their source (clang --target=wasm32, asc); the WAT policy
# is assembled with wat2wasm when it is installed, else its committed .wasm
# is copied.
set -euo pipefail

out=${1:-bin/policies}
cd "$(dirname "$0")/.."
mkdir -p "$out"

for dir in examples/*/; do
	name=$(basename "$dir")
	case "$name" in
	origin | internal | kvbench | e2ebench) continue ;; # not policies
	esac
	if [[ -f "$dir/main.go" ]]; then
		echo "go    $out/$name.wasm"
		GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -buildmode=c-shared -o "$out/$name.wasm" "./$dir"
	elif [[ -x "$dir/build.sh" ]]; then # C and AssemblyScript: their own recipe
		echo "sh    $out/$name.wasm"
		"$dir/build.sh" "$out/$name.wasm"
	elif compgen -G "$dir*.wat" >/dev/null; then
		for wat in "$dir"*.wat; do
			wasm="$out/$name.wasm"
			if command -v wat2wasm >/dev/null; then
				echo "wat   $wasm"
				wat2wasm -o "$wasm" "$wat"
			else
				echo "copy  $wasm (wat2wasm not installed)"
				cp "${wat%.wat}.wasm" "$wasm"
			fi
		done
	fi
done
