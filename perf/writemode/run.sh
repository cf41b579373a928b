#!/usr/bin/env bash
# The alternated A/B of issue 11: the headline produce run against fresh
# brokers with log.direct.write.bytes=auto (the default), =0 (page cache
# only) and =65536 (O_DIRECT from 64 KiB), one after the other, PAIRS times,
# each broker on a fresh data dir (so auto measures it at start). Prints one
# line per run (variant, the broker's "write path" start line, records/s)
# and a summary: min / median / max per variant and auto's median as a share
# of the faster fixed variant's.
#
# Usage: perf/writemode/run.sh [OUTDIR]   (default perf/writemode/latest)
# Env:   PAIRS (default 3), DURATION (default 5s), RECORD_SIZE (100), BATCH (1MiB)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-perf/writemode/latest}
pairs=${PAIRS:-3}
dur=${DURATION:-5s}
rsize=${RECORD_SIZE:-100}
batch=${BATCH:-1MiB}
export PATH="/usr/local/go/bin:$PATH"
. perf/machine.sh
work=$(mktemp -d)
bpid=
cleanup() {
	[ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"
go build -o "$work/spate" ./cmd/spate
{
	machine_lines "$work"
	echo "command:  spate bench produce --partitions 1 --record-size $rsize --batch-size $batch --acks 1 --duration $dur"
	echo "flags:    PAIRS=$pairs"
} | tee "$out/machine.txt"
: >"$out/runs.tsv"
for p in $(seq "$pairs"); do
	for v in auto 0 65536; do
		rm -rf "$work/data"
		"$work/spate" broker --data-dir "$work/data" --addr 127.0.0.1:29392 --kafka-addr "" --admin-addr "" \
			--set "log.direct.write.bytes=$v" >"$work/broker.log" 2>&1 &
		bpid=$!
		for _ in $(seq 100); do
			grep -q "write path" "$work/broker.log" 2>/dev/null && break
			sleep 0.1
		done
		path=$(grep "write path" "$work/broker.log" | sed 's/^ *write path *//')
		rps=$("$work/spate" bench produce -b 127.0.0.1:29392 --topic ab --partitions 1 --record-size "$rsize" \
			--batch-size "$batch" --acks 1 --duration "$dur" --quiet --json |
			python3 -c 'import json,sys; print(round(json.load(sys.stdin)["records_per_sec"]))')
		switches=$(grep -c "large appends now" "$work/broker.log" || true)
		kill "$bpid"
		wait "$bpid" 2>/dev/null || true
		bpid=
		printf '%s\t%s\t%s\t%s\t%s\n' "$p" "$v" "$rps" "$switches" "$path" | tee -a "$out/runs.tsv"
	done
done
python3 - "$out/runs.tsv" <<'PY' | tee "$out/summary.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for pair, v, rps, sw, path in rows:
    by.setdefault(v, []).append(int(rps))
print("| log.direct.write.bytes | records/s min / median / max |")
print("|---|---|")
for v in ("auto", "0", "65536"):
    xs = by.get(v, [])
    if xs:
        print(f"| {v} | {min(xs):,} / {statistics.median(xs):,.0f} / {max(xs):,} |")
best = max(statistics.median(by["0"]), statistics.median(by["65536"]))
print(f"\nauto median / faster fixed median: {statistics.median(by['auto']) / best:.1%} (goal: within 5%)")
PY
