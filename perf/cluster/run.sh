#!/usr/bin/env bash
# The figures of perf/cluster.md (issue 12), in one run:
#  1. controller failover after SIGKILL (10 runs), creating a 1,000-partition
#     topic over 3 brokers, Metadata request latency: three real brokers,
#     SPATE_CLUSTER_FIGURES=1 go test -run TestClusterFigures ./e2e;
#  2. metadata log restart time with 100,000 records (and 10,000):
#     go test -run TestRestartAfterLongLog ./cluster;
#  3. the headline spate bench produce against a lone broker and against
#     one broker of a 3-broker cluster (spate cluster up), alternated, PAIRS
#     times, each on fresh data dirs; the topic's one partition is led by
#     whichever broker the controller picked. Both pin the page-cache write
#     path (log.direct.write.bytes=0) so only the metadata differs. The
#     lone broker has no cluster keys: a one-voter cluster of itself since
#     the one-voter default (perf/cluster/onevoter.sh compares that with
#     the broker alone it replaced).
# Usage: perf/cluster/run.sh [OUTDIR]   (default perf/cluster/latest)
# Env:   PAIRS (default 3), DURATION (default 5s), PRODUCE_ONLY=1 skips 1 and 2.
# Every produce run starts with both variants' data dirs deleted: the pages
# a kept data dir holds would otherwise make the next run's page-cache
# writes take fresh (on this VM, cold and much slower) pages.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-perf/cluster/latest}
pairs=${PAIRS:-3}
dur=${DURATION:-5s}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"
go build -o "$work/spate" ./cmd/spate
{
	machine_lines "$work"
	echo "produce:  spate bench produce --partitions 1 --record-size 100 --batch-size 1MiB --acks 1 --duration $dur; PAIRS=$pairs"
} | tee "$out/machine.txt"

if [ -z "${PRODUCE_ONLY:-}" ]; then
	SPATE_CLUSTER_FIGURES=1 go test -count=1 -run TestClusterFigures -v ./e2e 2>&1 | grep -E "failover|1,000-partition|Metadata request|^(ok|FAIL|---)" | tee "$out/figures.txt"
	go test -count=1 -run TestRestartAfterLongLog -v ./cluster 2>&1 | grep -E "restart|wrote|^(ok|FAIL)" | tee -a "$out/figures.txt"
fi

bench() { # addr -> records/s
	"$work/spate" bench produce -b "$1" --topic ab --partitions 1 --record-size 100 --batch-size 1MiB --acks 1 \
		--duration "$dur" --quiet --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["records_per_sec"]))'
}
waitline() { # file pattern
	for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "timeout waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
: >"$out/produce.tsv"
for p in $(seq "$pairs"); do
	rm -rf "$work/lone" "$work/cluster"
	"$work/spate" broker --data-dir "$work/lone" --addr 127.0.0.1:29392 --kafka-addr "" --admin-addr "" --set log.direct.write.bytes=0 >"$work/lone.log" 2>&1 &
	pids=($!)
	waitline "$work/lone.log" "data directory"
	rps=$(bench 127.0.0.1:29392)
	kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
	printf '%s\tlone\t%s\n' "$p" "$rps" | tee -a "$out/produce.tsv"

	rm -rf "$work/lone" "$work/cluster"
	"$work/spate" cluster up -n 3 --data-dir "$work/cluster" --base-port 29492 --kafka-base-port 0 --set log.direct.write.bytes=0 >"$work/cluster.log" 2>&1 &
	pids=($!)
	waitline "$work/cluster.log" "brokers alive"
	rps=$(bench 127.0.0.1:29492)
	kill -INT "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
	printf '%s\tcluster\t%s\n' "$p" "$rps" | tee -a "$out/produce.tsv"
done
python3 - "$out/produce.tsv" <<'PY' | tee "$out/summary.md"
import statistics, sys
by = {}
for l in open(sys.argv[1]):
    if l.strip():
        p, v, rps = l.split("\t")
        by.setdefault(v, []).append(int(rps))
print("| broker | records/s min / median / max |")
print("|---|---|")
for v in ("lone", "cluster"):
    xs = by[v]
    print(f"| {v} | {min(xs):,} / {statistics.median(xs):,.0f} / {max(xs):,} |")
print(f"\none broker of a 3-broker cluster / lone broker, medians: {statistics.median(by['cluster']) / statistics.median(by['lone']):.1%} (goal: within 10%)")
PY
