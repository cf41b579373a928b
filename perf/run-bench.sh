#!/usr/bin/env bash
# make bench: the headline comparison on this machine, unattended, in one
# run: raw limits (loopback TCP, sequential disk writes into deleted and
# into kept files, fresh-memory first touches, TCP ping-pong), Spate (spate
# bench, on its batch path and on its per-record path), franz-go's kfake driven by a franz-go producer, and
# NATS JetStream (file storage) with the nats CLI's bench, at the same record
# size and batch sizes. Every process it starts is stopped on exit.
#
# Usage: perf/run-bench.sh [OUTDIR]   (default perf/results/latest)
# Env:   REPS (default 3), DURATION (default 5s), BATCHES, RECORD_SIZE.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-perf/results/latest}
reps=${REPS:-3}
dur=${DURATION:-5s}
batches=${BATCHES:-1KiB,16KiB,64KiB,256KiB,1MiB}
rsize=${RECORD_SIZE:-100}
export PATH="/usr/local/go/bin:$(go env GOPATH)/bin:$PATH"
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out/raw"
rm -f "$out"/raw/*.json

echo "== building"
go build -o "$work/spate" ./cmd/spate
go build -o "$work/kfakebench" ./perf/peers/kfakebench
go build -o "$work/rawlimits" ./perf/peers/rawlimits
command -v nats-server >/dev/null || go install github.com/nats-io/nats-server/v2@v2.15.2
command -v nats >/dev/null || go install github.com/nats-io/natscli/nats@v0.5.1

{
	echo "commit:   $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!perf/results' || echo ' (plus uncommitted changes)')"
	echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go:       $(go version)"
	echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores"
	echo "kernel:   $(uname -r)"
	echo "disk:     $(df -T "$work" | awk 'NR==2 {print $2" on "$1}')"
	echo "peers:    $(nats-server --version), nats CLI $(nats --version 2>&1), franz-go $(go list -m -f '{{.Version}}' github.com/twmb/franz-go) kfake $(go list -m -f '{{.Version}}' github.com/twmb/franz-go/pkg/kfake)"
	echo "flags:    REPS=$reps DURATION=$dur BATCHES=$batches RECORD_SIZE=$rsize"
} | tee "$out/machine.txt"

# wait_port HOST:PORT waits until something accepts connections there.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listening on $1" >&2
	return 1
}

echo "== raw limits"
for r in $(seq "$reps"); do
	"$work/rawlimits" tcp -duration "$dur" >"$out/raw/limit-tcp-$r.json"
	"$work/rawlimits" disk -dir "$work" -duration "$dur" >"$out/raw/limit-disk-$r.json"
	"$work/rawlimits" disk-kept -dir "$work" -duration "$dur" >"$out/raw/limit-diskkept-$r.json"
	"$work/rawlimits" disk-direct -dir "$work" -duration "$dur" >"$out/raw/limit-diskdirect-$r.json"
	"$work/rawlimits" disk-sync -dir "$work" -duration "$dur" >"$out/raw/limit-disksync-$r.json"
	"$work/rawlimits" touch -duration "$dur" >"$out/raw/limit-touch-$r.json"
done
# Let the kernel write back what the disk runs left dirty, so that it does
# not compete with what follows.
sync

echo "== spate and kfake + franz-go, alternated"
# Both servers run side by side and each repetition runs Spate, then kfake:
# this VM's page cache and memory behave differently minute to minute
# (perf/bench.md), so alternating keeps the ratio fair. The broker runs on
# `make run`'s embedded defaults (only the ports and data directory differ);
# each run's topic is deleted after it, which keeps the disk from filling.
"$work/spate" broker --data-dir "$work/spate-data" --addr 127.0.0.1:29192 --kafka-addr "" --admin-addr "" \
	>"$work/spate.log" 2>&1 &
pids+=($!)
"$work/kfakebench" serve -addr 127.0.0.1:29092 >"$work/kfake.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1:29192
wait_port 127.0.0.1:29092
sb() { "$work/spate" bench "$@" -b 127.0.0.1:29192 --quiet --json; }
# Each run's topic is deleted after it (as the sweep does), so the next
# repetition does not start behind a gigabyte of the last one's dirty pages
# being written back.
drop() { "$work/spate" topic delete -b 127.0.0.1:29192 "$1" >/dev/null; }
# franz-go's producer gets what spate bench gives its own single producer
# by default (--procs): one OS thread for Go code (perf/bench.md §10).
kb() { GOMAXPROCS=1 "$work/kfakebench" produce -brokers 127.0.0.1:29092 "$@"; }
for r in $(seq "$reps"); do
	sb produce --topic head$r --partitions 1 --record-size "$rsize" --batch-size 1MiB --acks 1 --duration "$dur" >"$out/raw/spate-headline-$r.json"
	# One consumer reads what the headline wrote, from offset 0.
	sb consume --topic head$r --consumers 1 --duration "$dur" >"$out/raw/spate-consume-$r.json"
	drop head$r
	# Durable writes: flush.policy=always, acks=all, beside the serial
	# write+fdatasync loop (limit-disksync) of the same 1 MiB size.
	"$work/spate" topic create -b 127.0.0.1:29192 dur$r --config flush.policy=always >/dev/null
	sb produce --topic dur$r --record-size "$rsize" --batch-size 1MiB --acks all --duration "$dur" >"$out/raw/spate-durable-$r.json"
	drop dur$r
	kb -topic head$r -record-size "$rsize" -batch-size 1048576 -duration "$dur" >"$out/raw/kfake-headline-$r.json"
	sb produce --topic headrec$r --partitions 1 --record-size "$rsize" --batch-size 1MiB --acks 1 --duration "$dur" --per-record >"$out/raw/spate-headline-record-$r.json"
	drop headrec$r
	# The ping-pong floor is taken right before each latency run, so both
	# see the same machine.
	"$work/rawlimits" ping -duration "$dur" >"$out/raw/limit-ping-$r.json"
	sb produce --topic lat$r --record-size "$rsize" --batch-size 256 --linger 0 --max-in-flight 1 --buffer 256 --acks 1 --duration "$dur" >"$out/raw/spate-latency-$r.json"
	drop lat$r
done
sb sweep --topic sweep --batch-sizes "$batches" --record-size "$rsize" --duration "$dur" --chart "$out" >"$out/raw/spate-sweep.json"
for b in ${batches//,/ }; do
	bytes=$(python3 -c "import sys; s=sys.argv[1]; print(int(s[:-3])*(1024 if s.endswith('KiB') else 1048576))" "$b")
	kb -topic sweep$bytes -record-size "$rsize" -batch-size "$bytes" -duration "$dur" >"$out/raw/kfake-sweep-$bytes.json"
done

echo "== NATS JetStream (file storage)"
nats-server -js -sd "$work/nats-data" -a 127.0.0.1 -p 29222 >"$work/nats.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1:29222
N="nats -s nats://127.0.0.1:29222"
$N stream add benchstream --subjects 'bench.>' --storage file --defaults >/dev/null
for r in $(seq "$reps"); do
	$N bench js pub async "bench.h$r" --msgs 500000 --size "$rsize" --no-progress 2>&1 | grep 'stats:' >"$out/raw/nats-headline-$r.txt"
done
for b in ${batches//,/ }; do
	bytes=$(python3 -c "import sys; s=sys.argv[1]; print(int(s[:-3])*(1024 if s.endswith('KiB') else 1048576))" "$b")
	msgs=$(( bytes / rsize > 0 ? bytes / rsize : 1 ))
	$N bench js pub async "bench.s$bytes" --msgs 300000 --size "$rsize" --batch "$msgs" --no-progress 2>&1 | grep 'stats:' >"$out/raw/nats-sweep-$bytes.txt"
done

echo "== summary"
python3 perf/summarize.py "$out" | tee "$out/summary.md"
