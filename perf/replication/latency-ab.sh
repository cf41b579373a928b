#!/usr/bin/env bash
# Issue 13's one-record row as an A/B: RF=3 acks=all with one record in
# flight, each run on a fresh `spate cluster up -n 3` right after a 100-byte
# TCP ping-pong, as perf/replication/run.sh runs it, alternating the
# variants PAIRS times. A variant is NAME=BINARY[:EXTRA CLUSTER FLAGS], e.g.
#   perf/replication/latency-ab.sh main=/tmp/spate-main lat=/tmp/spate-lat \
#       'lat-1loop=/tmp/spate-lat:--set num.event.loops=1'
# Each run holds /tmp/spate-bench.lock (other engineers benchmark on the same
# machine), one line per run: p50/p99, the ping-pong's, their p99 ratio and
# the load average; then per variant min/median/max of each.
# Env: PAIRS (default 3), DURATION (default 4s), OUT (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=${PAIRS:-3}
dur=${DURATION:-4s}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
work=$(mktemp -d)
out=${OUT:-$work/raw}
mkdir -p "$out"
cpid=
cleanup() {
	[ -n "$cpid" ] && kill -INT "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	rm -rf "$work/c"
}
trap cleanup EXIT
go build -o "$work/rawlimits" ./perf/peers/rawlimits
machine_lines "$work"
b=127.0.0.1:29592
# one NAME BINARY EXTRA P: one run into $out/NAME-P-{ping,lat}.json.
one() {
	local name=$1 spate=$2 extra=$3 p=$4
	rm -rf "$work/c"
	# shellcheck disable=SC2086 # extra is a list of flags
	"$spate" cluster up -n 3 --data-dir "$work/c" --base-port 29592 --kafka-base-port 0 --set log.direct.write.bytes=0 $extra >"$work/c.log" 2>&1 &
	cpid=$!
	for _ in $(seq 600); do grep -q "brokers alive" "$work/c.log" && break; sleep 0.1; done
	"$work/rawlimits" ping -duration "$dur" >"$out/$name-$p-ping.json"
	for _ in $(seq 50); do
		"$spate" topic create lat -b $b --partitions 1 --replication-factor 3 --config min.insync.replicas=2 >/dev/null 2>"$work/topic.err" && break
		sleep 0.2
	done
	"$spate" bench produce -b $b --quiet --json --topic lat --record-size 100 --batch-size 256 --linger 0 \
		--max-in-flight 1 --buffer 256 --acks all --duration "$dur" >"$out/$name-$p-lat.json"
	kill -INT "$cpid"; wait "$cpid" 2>/dev/null || true; cpid=
	echo "$(cut -d' ' -f1 /proc/loadavg)" >"$out/$name-$p-load"
}
for p in $(seq "$pairs"); do
	for v in "$@"; do
		name=${v%%=*} rest=${v#*=}
		bin=${rest%%:*} extra=
		[ "$rest" != "$bin" ] && extra=${rest#*:}
		exec 9>>/tmp/spate-bench.lock
		flock 9
		one "$name" "$bin" "$extra" "$p"
		flock -u 9
		python3 - "$out" "$name" "$p" <<-'PY'
			import json, sys
			out, name, p = sys.argv[1:]
			first = lambda d: d[0] if isinstance(d, list) else d
			l = first(json.load(open(f"{out}/{name}-{p}-lat.json")))
			g = first(json.load(open(f"{out}/{name}-{p}-ping.json")))
			load = open(f"{out}/{name}-{p}-load").read().strip()
			print(f"{p}  {name:<12} p50 {l['p50_ms']:.3f}  p99 {l['p99_ms']:.3f}  ping p50 {g['p50_ms']:.3f}  p99 {g['p99_ms']:.3f}"
			      f"  p99/ping p99 {l['p99_ms'] / g['p99_ms']:5.2f}x  load {load}")
		PY
	done
done
python3 - "$out" "$pairs" "$@" <<-'PY'
	import json, statistics, sys
	out, pairs, variants = sys.argv[1], int(sys.argv[2]), [v.split("=")[0] for v in sys.argv[3:]]
	first = lambda d: d[0] if isinstance(d, list) else d
	print("| variant | p50 ms min / median / max | p99 ms min / median / max | ping p99 ms median | p99 / ping p99, median of runs |")
	print("|---|---|---|---|---|")
	for v in variants:
	    l = [first(json.load(open(f"{out}/{v}-{p}-lat.json"))) for p in range(1, pairs + 1)]
	    g = [first(json.load(open(f"{out}/{v}-{p}-ping.json"))) for p in range(1, pairs + 1)]
	    f = lambda xs: f"{min(xs):.3f} / {statistics.median(xs):.3f} / {max(xs):.3f}"
	    r = [a["p99_ms"] / b["p99_ms"] for a, b in zip(l, g)]
	    print(f"| {v} | {f([x['p50_ms'] for x in l])} | {f([x['p99_ms'] for x in l])} | {statistics.median(x['p99_ms'] for x in g):.3f} | {statistics.median(r):.2f}x |")
PY
