#!/usr/bin/env bash
# Replication factor 3 with acks=all against replication factor 1 with
# acks=1 (issue 13's ratio, goal >= 40%), on one fresh `spate cluster up -n 3`
# per run, alternated, PAIRS times: spate bench produce, one partition,
# 100-byte records, 1 MiB batches (RF=3 topics get min.insync.replicas=2).
# Both pin the page-cache write path; data dirs are deleted before each run.
# Usage: perf/replication/run.sh [OUTDIR]   (default perf/replication/latest)
# Env:   PAIRS (default 3), DURATION (default 5s)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-perf/replication/latest}
pairs=${PAIRS:-3}
dur=${DURATION:-5s}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
work=$(mktemp -d)
cpid=
cleanup() {
	[ -n "$cpid" ] && kill -INT "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"
go build -o "$work/spate" ./cmd/spate
{
	machine_lines "$work"
	echo "produce:  spate bench produce --partitions 1 --record-size 100 --batch-size 1MiB --duration $dur; rf1: --replication-factor 1 --acks 1; rf3: topic with --replication-factor 3 --config min.insync.replicas=2, --acks all; PAIRS=$pairs"
} | tee "$out/machine.txt"
: >"$out/runs.tsv"
for p in $(seq "$pairs"); do
	for v in rf1 rf3; do
		rm -rf "$work/c"
		"$work/spate" cluster up -n 3 --data-dir "$work/c" --base-port 29592 --kafka-base-port 0 --set log.direct.write.bytes=0 >"$work/c.log" 2>&1 &
		cpid=$!
		for _ in $(seq 600); do grep -q "brokers alive" "$work/c.log" && break; sleep 0.1; done
		if [ $v = rf1 ]; then
			"$work/spate" topic create ab -b 127.0.0.1:29592 --partitions 1 --replication-factor 1 >/dev/null
			acks=1
		else
			"$work/spate" topic create ab -b 127.0.0.1:29592 --partitions 1 --replication-factor 3 --config min.insync.replicas=2 >/dev/null
			acks=all
		fi
		rps=$("$work/spate" bench produce -b 127.0.0.1:29592 --topic ab --record-size 100 --batch-size 1MiB --acks $acks \
			--duration "$dur" --quiet --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["records_per_sec"]))')
		kill -INT "$cpid"; wait "$cpid" 2>/dev/null || true; cpid=
		printf '%s\t%s\t%s\n' "$p" "$v" "$rps" | tee -a "$out/runs.tsv"
	done
done
python3 - "$out/runs.tsv" <<'PY' | tee "$out/summary.md"
import statistics, sys
by = {}
for l in open(sys.argv[1]):
    if l.strip():
        p, v, rps = l.split("\t")
        by.setdefault(v, []).append(int(rps))
print("| run | records/s min / median / max |")
print("|---|---|")
for v, name in (("rf1", "replication factor 1, acks=1"), ("rf3", "replication factor 3, acks=all, min.insync.replicas=2")):
    xs = by[v]
    print(f"| {name} | {min(xs):,} / {statistics.median(xs):,.0f} / {max(xs):,} |")
print(f"\nRF=3 acks=all / RF=1 acks=1, medians: {statistics.median(by['rf3']) / statistics.median(by['rf1']):.1%} (goal: at least 40%)")
PY
