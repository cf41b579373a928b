#!/usr/bin/env bash
# Issue 13's performance rows, on one fresh `spate cluster up -n 3` per run,
# alternated PAIRS times:
#  - throughput: spate bench produce, one partition, 100-byte records, 1 MiB
#    batches; replication factor 1 with --acks 1 against replication factor 3
#    (min.insync.replicas=2) with --acks all (goal: RF=3 at least 40% of RF=1);
#  - one record in flight (make bench's latency command) with --acks all on a
#    replication-factor-3 topic, right after a 100-byte TCP ping-pong (goal:
#    p99 at most 3x the ping-pong's), and the same with --acks 1 on a
#    replication-factor-1 topic of the other cluster, for comparison.
# Both variants pin the page-cache write path (three copies share one disk)
# and start from deleted data dirs. make bench (perf/run-bench.sh) runs this
# with its own binaries and folds raw/ into its summary.
# Usage: perf/replication/run.sh [OUTDIR]   (default perf/replication/latest)
# Env:   PAIRS (default 3), DURATION (default 5s), RECORD_SIZE (default 100),
#        SPATE and RAWLIMITS: binaries to use instead of building them.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-perf/replication/latest}
pairs=${PAIRS:-3}
dur=${DURATION:-5s}
rsize=${RECORD_SIZE:-100}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
work=$(mktemp -d)
cpid=
cleanup() {
	[ -n "$cpid" ] && kill -INT "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out/raw"
rm -f "$out"/raw/*.json "$out"/raw/*.err
spate=${SPATE:-$work/spate}
rawlimits=${RAWLIMITS:-$work/rawlimits}
[ -n "${SPATE:-}" ] || go build -o "$spate" ./cmd/spate
[ -n "${RAWLIMITS:-}" ] || go build -o "$rawlimits" ./perf/peers/rawlimits
{
	machine_lines "$work"
	echo "produce:  spate bench produce --partitions 1 --record-size $rsize --batch-size 1MiB --duration $dur; rf1: --replication-factor 1 --acks 1; rf3: topic with --replication-factor 3 --config min.insync.replicas=2, --acks all; PAIRS=$pairs"
	echo "latency:  spate bench produce --record-size $rsize --batch-size 256 --linger 0 --max-in-flight 1 --buffer 256 --duration $dur, after rawlimits ping -duration $dur"
} | tee "$out/machine.txt"
b=127.0.0.1:29592
# sb NAME ARGS...: one bench run into raw/NAME.json; a failed run leaves its
# error in raw/NAME.err and the rest of the runs go on.
sb() {
	local name=$1
	shift
	"$spate" bench produce -b $b --quiet --json --record-size "$rsize" --duration "$dur" "$@" \
		>"$out/raw/$name.json" 2>"$out/raw/$name.err" || echo "$name failed: $(tail -1 "$out/raw/$name.err")" >&2
	[ -s "$out/raw/$name.err" ] || rm -f "$out/raw/$name.err"
}
topic() { # name rf: retried, as a cluster that just said "brokers alive" may still be electing its controller
	local extra=()
	[ "$2" = 3 ] && extra=(--config min.insync.replicas=2)
	for _ in $(seq 50); do
		"$spate" topic create "$1" -b $b --partitions 1 --replication-factor "$2" "${extra[@]}" >/dev/null 2>"$work/topic.err" && return 0
		sleep 0.2
	done
	cat "$work/topic.err" >&2
	return 1
}
for p in $(seq "$pairs"); do
	for v in rf1 rf3; do
		rm -rf "$work/c"
		"$spate" cluster up -n 3 --data-dir "$work/c" --base-port 29592 --kafka-base-port 0 --set log.direct.write.bytes=0 >"$work/c.log" 2>&1 &
		cpid=$!
		for _ in $(seq 600); do grep -q "brokers alive" "$work/c.log" && break; sleep 0.1; done
		rf=1 acks=1
		[ $v = rf3 ] && rf=3 acks=all
		# The latency run goes first, on a cluster no throughput run has
		# loaded yet, its ping-pong floor taken right before it.
		"$rawlimits" ping -duration "$dur" >"$out/raw/ping-$v-$p.json"
		topic lat "$rf"
		sb "latency-$v-$p" --topic lat --batch-size 256 --linger 0 --max-in-flight 1 --buffer 256 --acks $acks
		topic ab "$rf"
		sb "throughput-$v-$p" --topic ab --batch-size 1MiB --acks $acks
		kill -INT "$cpid"; wait "$cpid" 2>/dev/null || true; cpid=
		python3 - "$out/raw" "$v" "$p" <<-'PY'
			import sys
			raw, v, p = sys.argv[1:]
			sys.path.insert(0, "perf")
			from benchlib import load
			t, l, g = (load(raw, f"{k}-{v}-{p}.json") or [{}] for k in ("throughput", "latency", "ping"))
			print(f"{p}\t{v}\t{round(t[0]['records_per_sec']) if t[0] else 'failed'} records/s\tone in flight p99 {l[0].get('p99_ms', 'failed')} ms\t"
			      f"ping p99 {g[0].get('p99_ms')} ms")
		PY
	done
done
{ cat "$out/machine.txt"; python3 perf/benchlib.py replication "$out/raw"; } | tee "$out/summary.md"
