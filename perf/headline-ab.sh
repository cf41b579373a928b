#!/usr/bin/env bash
# The headline produce of several broker builds, alternated, with the
# broker's CPU per record (perf/headline-ab.md).
#
# Each run: a fresh `spate broker` on a deleted data dir (no cluster keys,
# embedded defaults), `perf stat -p` of the broker around the headline
# `spate bench produce` (one partition, 100-byte records, 1 MiB batches,
# acks=1, 5 s), the broker stopped. Every bench run uses the same client
# binary, so only the broker differs. The order of the builds rotates each
# round, so none always runs first (the run after another takes the pages
# the last one freed, which this VM hands back slowly).
#
# Usage: perf/headline-ab.sh OUT.tsv ROUNDS CLIENT BROKER...
#   OUT.tsv gets one line a run: broker, records/s, p50 ms, broker CPU ms
#   per million records acknowledged, context switches, futex calls and
#   CPU migrations per million, and the 1-minute load average at its start.
# Env: PORT (default 29892), DURATION (5s).
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,17p "$0" >&2; exit 2; }
out=$1 rounds=$2 client=$3
shift 3
brokers=("$@")
port=${PORT:-29892}
dur=${DURATION:-5s}
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

run() { # broker binary: one run, one line on stdout
	rm -rf "$work/data"
	"$1" broker --data-dir "$work/data" --addr "127.0.0.1:$port" --kafka-addr "" --admin-addr "" >"$work/broker.log" 2>&1 &
	pid=$!
	for _ in $(seq 3000); do grep -q "data directory" "$work/broker.log" 2>/dev/null && break; sleep 0.005; done
	grep -q "data directory" "$work/broker.log" || { cat "$work/broker.log" >&2; exit 1; }
	perf stat -x, -o "$work/stat" -e task-clock,context-switches,cpu-migrations,syscalls:sys_enter_futex -p "$pid" &
	local perfpid=$!
	sleep 0.2 # perf attached
	local load json
	load=$(cut -d' ' -f1 /proc/loadavg)
	json=$("$client" bench produce -b "127.0.0.1:$port" --topic h --partitions 1 --record-size 100 \
		--batch-size 1MiB --acks 1 --duration "$dur" --quiet --json)
	kill -INT "$perfpid"
	wait "$perfpid" 2>/dev/null || true
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	python3 - "$work/stat" "$json" "$(basename "$1")" "$load" <<'PY'
import json, sys
stat = {}
for line in open(sys.argv[1]):
    f = line.strip().split(",")
    if len(f) > 3 and not line.startswith("#"):
        try:
            stat[f[2]] = float(f[0])
        except ValueError:
            pass
j = json.loads(sys.argv[2])
per = lambda k: stat.get(k, 0) / (j["acked_total"] / 1e6)  # perf stat spans the warm-up too
print(f'{sys.argv[3]}\t{j["records_per_sec"]:.0f}\t{j["p50_ms"]}\t{per("task-clock"):.1f}\t{per("context-switches"):.0f}'
      f'\t{per("syscalls:sys_enter_futex"):.0f}\t{per("cpu-migrations"):.0f}\t{sys.argv[4]}')
PY
}

n=${#brokers[@]}
for r in $(seq "$rounds"); do
	for k in $(seq 0 $((n - 1))); do
		run "${brokers[$(((k + r) % n))]}" | tee -a "$out"
	done
done
