#!/usr/bin/env bash
# The one-voter default against the old lone broker (perf/cluster.md):
#  1. start-to-ready: ms from exec of `spate broker` on a fresh data dir to
#     its "data directory" line (printed once Start returned, i.e. once a
#     one-voter broker is registered and unfenced), STARTS alternated runs
#     of each;
#  2. the headline spate bench produce against each, PAIRS alternated
#     pairs (which runs first flips every pair), every run on a fresh data
#     dir (the last one deleted first: kept pages make the next run's
#     page-cache writes slow on this VM).
# "lone" is the broker built from OLD (default e3e1fc3, before every broker
# was a cluster member), "onevoter" the working tree's. Both run with no
# cluster keys and log.direct.write.bytes=0.
# Usage: perf/cluster/onevoter.sh [OUTDIR]   (default perf/cluster/onevoter)
# Env:   OLD (commit), PAIRS (default 4: each variant first twice), STARTS
#        (default 10), DURATION (5s).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-perf/cluster/onevoter}
old=${OLD:-e3e1fc3}
pairs=${PAIRS:-4}
starts=${STARTS:-10}
dur=${DURATION:-5s}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
work=$(mktemp -d)
pid=
ms=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out" "$work/old"
go build -o "$work/onevoter" ./cmd/spate
git archive "$old" | tar -x -C "$work/old"
(cd "$work/old" && go build -o "$work/lone" ./cmd/spate)
{
	machine_lines "$work"
	echo "lone:     spate broker built from $old"
	echo "produce:  spate bench produce --partitions 1 --record-size 100 --batch-size 1MiB --acks 1 --duration $dur; PAIRS=$pairs"
} | tee "$out/machine.txt"

start() { # variant: starts a broker on a fresh dir; sets pid and ms (to ready)
	rm -rf "$work/data"
	local t0 t1
	t0=$(date +%s%N)
	"$work/$1" broker --data-dir "$work/data" --addr 127.0.0.1:29592 --kafka-addr "" --admin-addr "" --set log.direct.write.bytes=0 >"$work/broker.log" 2>&1 &
	pid=$!
	for _ in $(seq 3000); do grep -q "data directory" "$work/broker.log" 2>/dev/null && break; sleep 0.002; done
	t1=$(date +%s%N)
	grep -q "data directory" "$work/broker.log" || { cat "$work/broker.log" >&2; exit 1; }
	ms=$(((t1 - t0) / 1000000))
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
bench() {
	"$work/onevoter" bench produce -b 127.0.0.1:29592 --topic ab --partitions 1 --record-size 100 --batch-size 1MiB --acks 1 \
		--duration "$dur" --quiet --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["records_per_sec"]))'
}
: >"$out/start.tsv"
for i in $(seq "$starts"); do
	for v in lone onevoter; do
		start $v; stop
		printf '%s\t%s\t%s\n' "$i" "$v" "$ms" | tee -a "$out/start.tsv"
	done
done
: >"$out/produce.tsv"
for p in $(seq "$pairs"); do
	# The order flips every pair: the second run of a pair takes the pages
	# the first just freed, which this VM hands back slowly.
	order="lone onevoter"
	[ $((p % 2)) -eq 0 ] && order="onevoter lone"
	for v in $order; do
		start $v
		rps=$(bench); stop
		printf '%s\t%s\t%s\n' "$p" "$v" "$rps" | tee -a "$out/produce.tsv"
	done
done
python3 - "$out/start.tsv" "$out/produce.tsv" <<'PY' | tee "$out/summary.md"
import statistics, sys
def load(path):
    by = {}
    for l in open(path):
        if l.strip():
            _, v, x = l.split("\t")
            by.setdefault(v, []).append(int(x))
    return by
s, p = load(sys.argv[1]), load(sys.argv[2])
print("| broker | start to ready, ms min / median / max | produce, records/s min / median / max |")
print("|---|---|---|")
for v in ("lone", "onevoter"):
    a, b = s[v], p[v]
    print(f"| {v} | {min(a)} / {statistics.median(a):.0f} / {max(a)} | {min(b):,} / {statistics.median(b):,.0f} / {max(b):,} |")
print(f"\none-voter / lone, produce medians: {statistics.median(p['onevoter']) / statistics.median(p['lone']):.1%}")
PY
