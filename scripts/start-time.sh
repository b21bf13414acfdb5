#!/usr/bin/env bash
# Times a flowcache node from process start to its data plane listening
# (a TCP connect succeeds) and to /readyz answering 200, N times, and
# prints min/median/max in milliseconds for three set-ups:
#
#   none   no policy (one route, the default policy)
#   cold   five routes, each with one of the five example policies, and a
#          compilation cache emptied before every start (compiling from
#          nothing)
#   warm   the same five routes, the compilation cache kept from a first,
#          uncounted start (admin.data_dir unset: the default cache)
#   data   as warm, with admin.data_dir set (the cache in DATA_DIR/wasm-cache)
#   early  as warm, with server.listen_while_loading: listening comes before
#          the policies are loaded, ready after
#   early-cold  as early, compiling from nothing (the cache emptied)
#
# From the repository root (bash, curl and Go; wat2wasm if installed):
#
#   scripts/start-time.sh [-n 10] [-only none|cold|warm|data|early|early-cold] [-keep DIR]
#
# It builds bin/flowcache and the example modules (examples/build.sh) into
# a temporary directory unless FLOWCACHE and POLICIES name them, and listens
# on two free loopback ports (or START_PORT, START_ADMIN_PORT). The
# cache directory is passed as XDG_CACHE_HOME, so the default
# (admin.data_dir unset) is what is measured. Timing is polled every ~1 ms
# with bash's /dev/tcp, so figures are within a millisecond or two; quote
# the median, and run it on a quiet machine.
set -euo pipefail

n=10
only=""
keep=""
while (($#)); do
	case "$1" in
	-n) n=$2; shift 2 ;;
	-only) only=$2; shift 2 ;;
	-keep) keep=$2; shift 2 ;;
	*) echo "usage: $0 [-n RUNS] [-only none|cold|warm|data|early|early-cold] [-keep DIR]" >&2; exit 2 ;;
	esac
done
((n >= 1 && n <= 100)) || { echo "-n: 1..100" >&2; exit 2; }

cd "$(dirname "$0")/.."
work=${keep:-$(mktemp -d -t flowcache-start-XXXXXX)}
mkdir -p "$work"
pid=""
cleanup() {
	if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	[[ -n "$keep" ]] || rm -rf "$work"
}
trap cleanup EXIT

bin=${FLOWCACHE:-}
if [[ -z "$bin" ]]; then
	bin=$work/flowcache
	echo "building $bin" >&2
	go build -trimpath -ldflags '-s -w' -o "$bin" ./cmd/flowcache
fi
pol=${POLICIES:-}
if [[ -z "$pol" ]]; then
	pol=$work/policies
	echo "building the example policies into $pol" >&2
	./examples/build.sh "$pol" >&2
fi
# freeport: a port in [20000, 32000) nothing on 127.0.0.1 answers on: below
# the ephemeral range, where polling a port with no listener can connect the
# socket to itself (TCP simultaneous open) and take the port.
freeport() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port" >&2; exit 1
}
port=${START_PORT:-$(freeport)}
admin=${START_ADMIN_PORT:-$(freeport)}

# One config per set-up. The policies' configs are those of their READMEs
# (admission, ttlrules) or none.
header() {
	cat <<TOML
[server]
listen = "127.0.0.1:$port"
shutdown_timeout = "1s"
[admin]
listen = "127.0.0.1:$admin"
${1:+data_dir = \"$1\"}
[log]
level = "warn"
TOML
}
header >"$work/none.toml"
cat >>"$work/none.toml" <<TOML
[[routes]]
name = "r0"
host = "*"
path_prefix = "/"
upstreams = ["http://127.0.0.1:9"]
TOML
header >"$work/five.toml"
i=0
for p in admission device normalize normalize-wat ttlrules; do
	[[ -f "$pol/$p.wasm" ]] || { echo "missing $pol/$p.wasm" >&2; exit 1; }
	cat >>"$work/five.toml" <<TOML
[[routes]]
name = "r$i"
host = "*"
path_prefix = "/$p"
upstreams = ["http://127.0.0.1:9"]
policy = "${p//-/_}"
TOML
	i=$((i + 1))
done
for p in admission device normalize normalize-wat ttlrules; do
	echo "[policies.${p//-/_}]" >>"$work/five.toml"
	echo "module = \"$pol/$p.wasm\"" >>"$work/five.toml"
	case $p in
	admission) echo 'config = { min_hits = 2, max_object_size = 1048576, width = 8192, reset_after = 81920 }' >>"$work/five.toml" ;;
	ttlrules) echo 'config = { rules = [ { path = "/static/*", ttl = "24h" } ] }' >>"$work/five.toml" ;;
	esac
done
{ header "$work/data"; sed '1,/^level = /d' "$work/five.toml"; } >"$work/data.toml"
sed 's/^shutdown_timeout = .*/&\nlisten_while_loading = true/' "$work/five.toml" >"$work/early.toml"

ms() { # milliseconds since $1 (an $EPOCHREALTIME), one decimal
	local now=${EPOCHREALTIME/./} then=${1/./}
	local us=$((now - then))
	printf '%d.%d' $((us / 1000)) $((us % 1000 / 100))
}

exec 9<> <(:) # read -t on this times out: see once
# readyz: whether /readyz answers 200, through bash's /dev/tcp: polling
# with a curl process every millisecond would take a processor from the
# node being measured (with listen_while_loading, while it loads).
readyz() {
	local status=""
	{ exec 4<>"/dev/tcp/127.0.0.1/$admin"; } 2>/dev/null || return 1
	printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&4
	read -rt 2 -u 4 status || :
	exec 4<&-
	[[ $status == "HTTP/1."?" 200"* ]]
}
# once CONFIG [settle]: starts flowcache, prints "LISTEN_MS READY_MS", stops
# it. With settle, it first waits (30 s at most) until no policy runs on the
# interpreter (flowcache_policy_interpreted, admin.tiered_compilation): the
# background compiles have reached the compilation cache.
once() {
	local start listen="" ready="" i
	start=$EPOCHREALTIME
	"$bin" serve -config "$1" 2>>"$work/serve.log" &
	pid=$!
	for ((i = 0; i < 30000; i++)); do # ~30 s at most
		if [[ -z "$listen" ]] && { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
			listen=$(ms "$start")
			exec 3<&-
		fi
		if [[ -n "$listen" ]] && readyz; then
			ready=$(ms "$start")
			break
		fi
		kill -0 "$pid" 2>/dev/null || { echo "flowcache exited; see $work/serve.log" >&2; tail -5 "$work/serve.log" >&2; exit 1; }
		read -rt 0.001 -u 9 || : # a 1 ms pause without a fork
	done
	if [[ -n "$ready" && ${2:-} == settle ]]; then
		for ((i = 0; i < 300; i++)); do
			curl -fsS "http://127.0.0.1:$admin/metrics" 2>/dev/null | grep -q '^flowcache_policy_interpreted{.*} 1' || break
			sleep 0.1
		done
	fi
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	[[ -n "$ready" ]] || { echo "not ready after 30 s" >&2; exit 1; }
	echo "$listen $ready"
}

# stats: min/median/max of the numbers on stdin.
stats() {
	sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%8.1f %8.1f %8.1f", v[1], m, v[NR]}'
}

run() { # run NAME CONFIG CACHE_MODE(keep|empty)
	local name=$1 cfg=$2 mode=$3 out=$work/$1.times
	: >"$out"
	export XDG_CACHE_HOME=$work/cache-$name
	rm -rf "$XDG_CACHE_HOME"
	if [[ $mode == keep ]]; then once "$cfg" settle >/dev/null; fi # fills the cache; not counted
	for ((r = 0; r < n; r++)); do
		[[ $mode == empty ]] && rm -rf "$XDG_CACHE_HOME"
		once "$cfg" >>"$out"
	done
	printf '%-10s %4d | %s | %s\n' "$name" "$n" "$(cut -d' ' -f1 "$out" | stats)" "$(cut -d' ' -f2 "$out" | stats)"
}

echo "flowcache start time, ms (n runs each; $(nproc) cores; $(date -u +%FT%TZ))"
echo "setup         n | listen:  min   median      max | ready:   min   median      max"
for s in none cold warm data early early-cold; do
	[[ -z "$only" || "$only" == "$s" ]] || continue
	case $s in
	none) run none "$work/none.toml" empty ;;
	cold) run cold "$work/five.toml" empty ;;
	warm) run warm "$work/five.toml" keep ;;
	data) rm -rf "$work/data"; run data "$work/data.toml" keep ;;
	early) run early "$work/early.toml" keep ;;
	early-cold) run early-cold "$work/early.toml" empty ;;
	esac
done
