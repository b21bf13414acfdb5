#!/usr/bin/env bash
# Measures how long an uploaded policy version takes to become active: on
# the node that received the upload (PUT /policies/NAME until its answer,
# which comes once the version is active there) and on a second node that
# shares a Redis with it (until its GET /policies/NAME shows the version
# active). Both nodes and a redis-server run on loopback; each node has its
# own compilation cache, as separate machines would. Every upload is a new
# version of the examples/normalize module (2.3 MB): the module with a
# custom section holding the upload's number, so nothing is cached from an
# earlier upload. Prints p50/p95/max in milliseconds.
#
# From the repository root (bash, curl, Go, redis-server):
#
#   scripts/upload-latency.sh [-n 20] [-one] [-keep DIR]
#
# -one starts node a alone (with its Redis): on a machine of few cores the
# second node's compilation takes processors from the first, as it would
# not on separate machines.
#
# FLOWCACHE and MODULE name a built binary and module to use instead of
# building them. Figures are wall-clock times on a possibly busy machine:
# quote the median, and the load average printed with them.
set -euo pipefail

n=20
keep=""
one=""
while (($#)); do
	case "$1" in
	-n) n=$2; shift 2 ;;
	-keep) keep=$2; shift 2 ;;
	-one) one=1; shift ;;
	*) echo "usage: $0 [-n UPLOADS] [-one] [-keep DIR]" >&2; exit 2 ;;
	esac
done
((n >= 1 && n <= 100)) || { echo "-n: 1..100" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }

cd "$(dirname "$0")/.."
work=${keep:-$(mktemp -d -t flowcache-upload-XXXXXX)}
mkdir -p "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[[ -n "$keep" ]] || rm -rf "$work"
}
trap cleanup EXIT

bin=${FLOWCACHE:-}
if [[ -z "$bin" ]]; then
	bin=$work/flowcache
	echo "building $bin" >&2
	go build -trimpath -ldflags '-s -w' -o "$bin" ./cmd/flowcache
fi
mod=${MODULE:-}
if [[ -z "$mod" ]]; then
	mod=$work/normalize.wasm
	echo "building $mod" >&2
	GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -buildmode=c-shared -o "$mod" ./examples/normalize
fi

# freeport: a port in [20000, 32000), below the ephemeral range, that
# nothing on 127.0.0.1 answers on.
freeport() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "no free port" >&2; exit 1
}
waitport() { # waitport PORT: until something listens (about 60 s at most)
	local i
	for ((i = 0; i < 600; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return; fi
		sleep 0.1
	done
	echo "nothing listens on $1" >&2; exit 1
}

rport=$(freeport)
redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
waitport "$rport"

# node NAME: writes NAME.toml and starts the node; sets ADMIN_<NAME>.
node() {
	local name=$1 listen admin
	listen=$(freeport)
	admin=$(freeport)
	cat >"$work/$name.toml" <<TOML
[server]
listen = "127.0.0.1:$listen"
shutdown_timeout = "1s"
[admin]
listen = "127.0.0.1:$admin"
[log]
level = "warn"
[redis]
addrs = ["127.0.0.1:$rport"]
[[routes]]
name = "api"
upstreams = ["http://127.0.0.1:9"]
policy = "norm"
[policies.norm]
module = "$mod"
TOML
	XDG_CACHE_HOME=$work/cache-$name "$bin" serve -config "$work/$name.toml" 2>"$work/$name.log" &
	pids+=($!)
	waitport "$listen"
	printf -v "ADMIN_$name" '%s' "127.0.0.1:$admin"
}
node a
[[ -n "$one" ]] || node b

ms() { # milliseconds since $1 (an $EPOCHREALTIME)
	local now=${EPOCHREALTIME/./} then=${1/./}
	echo $(((now - then) / 1000))
}

# settle: waits (30 s at most) until no node runs the policy on the
# interpreter (flowcache_policy_interpreted, admin.tiered_compilation): an
# upload is measured alone, not beside the background compiles of the one
# before it, as uploads at a person's pace would be.
settle() {
	local a i
	for a in "$ADMIN_a" ${ADMIN_b:+"$ADMIN_b"}; do
		for ((i = 0; i < 300; i++)); do
			curl -fsS "http://$a/metrics" 2>/dev/null | grep -q '^flowcache_policy_interpreted{.*} 1' || break
			sleep 0.1
		done
	done
}

exec 9<> <(:) # read -t on this times out: a pause without a fork
: >"$work/a.times"
: >"$work/b.times"
echo "uploading $n versions of $(basename "$mod") ($(wc -c <"$mod") bytes) to node a" >&2
for ((i = 1; i <= n; i++)); do
	v=$work/v.wasm
	# A custom section (id 0, 10 bytes: name "fc-lat", 3 digits): a new
	# module, a new version id, nothing cached.
	{ cat "$mod"; printf '\x00\x0a\x06fc-lat%03d' "$i"; } >"$v"
	settle
	start=$EPOCHREALTIME
	out=$(curl -fsS -X PUT -H 'Content-Type: application/wasm' --data-binary "@$v" "http://$ADMIN_a/policies/norm") ||
		{ echo "upload $i failed: $out" >&2; tail -3 "$work/a.log" >&2; exit 1; }
	ms "$start" >>"$work/a.times"
	id=$(sed -n 's/.*"version":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
	[[ -n "$id" ]] || { echo "no version in $out" >&2; exit 1; }
	[[ -z "$one" ]] || continue
	for ((j = 0; j < 30000; j++)); do # ~60 s at most
		if curl -fsS "http://$ADMIN_b/policies/norm" 2>/dev/null | grep -q "\"active\":\"$id\""; then
			ms "$start" >>"$work/b.times"
			break
		fi
		read -rt 0.001 -u 9 || :
	done
	((j < 30000)) || { echo "node b never activated $id" >&2; tail -3 "$work/b.log" >&2; exit 1; }
done

stats() { # p50 p95 max of the numbers on stdin
	sort -n | awk '{v[NR]=$1} END {p50 = v[int((NR+1)/2)]; i = int(NR*0.95+0.999); if (i < 1) i = 1; printf "%6d %6d %6d", p50, v[i], v[NR]}'
}
echo "upload -> active, ms, n=$n ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ))"
echo "node                     p50    p95    max"
echo "a (uploaded to)       $(stats <"$work/a.times")"
[[ -n "$one" ]] || echo "b (through Redis)     $(stats <"$work/b.times")"
