#!/usr/bin/env bash
# make bench: the headline comparison on this machine, unattended, in one
# run: raw limits (loopback TCP, sequential disk writes into deleted and
# into kept files, fresh-memory first touches, TCP ping-pong), Spate (spate
# bench, on its batch path and on its per-record path), franz-go's kfake
# driven by a franz-go producer, the same producer and a franz-go consumer
# against Spate's Kafka port (with the broker's CPU per record, Kafka port
# vs native port, and an strace of the Kafka port's Fetch), replication
# (RF=3 acks=all against RF=1 acks=1 on 3-broker clusters, one record in
# flight with acks=all: perf/replication/run.sh), and NATS JetStream (file
# storage, one server; and an R3 stream on a 3-node cluster) with the nats
# CLI's bench, at the same record size and batch sizes. Every process it
# starts is stopped on exit.
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
kfakepid=$!
pids+=($kfakepid)
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
	# write+fdatasync loop (limit-disksync) of the same 1 MiB size, run
	# right before it: this VM's disk moves by 2x within minutes
	# (perf/durable.md), so the pair shares one moment. Four batches fly at
	# once so that group commit has the next batch to write while the
	# current fdatasync runs; with one (the client's default window) the
	# round trip alone keeps Spate under 80% of the loop (perf/durable.md).
	# The producer stays idempotent (the client allows it up to 5).
	"$work/rawlimits" disk-sync -dir "$work" -duration "$dur" >"$out/raw/limit-disksync-$r.json"
	"$work/spate" topic create -b 127.0.0.1:29192 dur$r --config flush.policy=always >/dev/null
	sb produce --topic dur$r --record-size "$rsize" --batch-size 1MiB --acks all --max-in-flight-per-partition 4 \
		--buffer 8MiB --duration "$dur" >"$out/raw/spate-durable-$r.json"
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

echo "== Kafka protocol: franz-go against Spate's Kafka port and kfake, alternated; broker CPU per record"
# A second broker serves both protocols, so the franz-go producer (Kafka
# port) and spate bench (native port) load the same process, whose CPU time
# is read from /proc around each run. The headline broker above stays as it
# was (Kafka port off), so the rows above do not change.
"$work/spate" broker --data-dir "$work/spate-kafka-data" --addr 127.0.0.1:29193 --kafka-addr 127.0.0.1:29093 \
	--admin-addr 127.0.0.1:29194 >"$work/spate-kafka.log" 2>&1 &
kbroker=$!
pids+=($kbroker)
wait_port 127.0.0.1:29193
wait_port 127.0.0.1:29093
ks() { "$work/spate" "$@" -b 127.0.0.1:29193; }
# cpu_ns PID: the process's user+system CPU time so far (all threads), in ns,
# from /proc/PID/stat's utime and stime (fields 14 and 15, in clock ticks).
tck=$(getconf CLK_TCK)
cpu_ns() {
	local f
	read -ra f <<<"$(sed 's/^.*) //' "/proc/$1/stat")"
	echo $(( (f[11] + f[12]) * 1000000000 / tck ))
}
# produce_requests: produce requests the Kafka-section broker has answered on
# either port, from its /metrics; with the records written this tells the
# batch size the broker saw on each path.
produce_requests() {
	curl -s http://127.0.0.1:29194/metrics |
		awk '/^spate_(kafka_)?requests_total\{api="Produce"\}/ {n += $2} END {printf "%d\n", n}'
}
hwm() { ks topic describe --json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["partitions"][0]["high_watermark"])'; }
# cpu_run PATH TOPIC CMD...: runs CMD against a fresh one-partition TOPIC and
# writes raw/kafka-cpu-PATH-$r.json: the broker CPU it cost and the records
# written (the topic's high watermark: every record acknowledged, warm-up
# included, as the CPU is).
cpu_run() {
	local path=$1 topic=$2 c0 q0 c1 q1
	shift 2
	ks topic create "$topic" --partitions 1 >/dev/null
	c0=$(cpu_ns "$kbroker") q0=$(produce_requests)
	"$@"
	c1=$(cpu_ns "$kbroker") q1=$(produce_requests)
	printf '{"path": "%s", "broker_cpu_ns": %d, "records": %d, "produce_requests": %d}\n' \
		"$path" $((c1 - c0)) "$(hwm "$topic")" $((q1 - q0)) >"$out/raw/kafka-cpu-$path-$r.json"
	ks topic delete "$topic" >/dev/null
}
kspate() { GOMAXPROCS=1 "$work/kfakebench" produce -brokers 127.0.0.1:29093 -target spate-kafka+franz-go -keep "$@"; }
for r in $(seq "$reps"); do
	cpu_run kafka kafka$r kspate -topic kafka$r -record-size "$rsize" -batch-size 1048576 -duration "$dur" \
		>"$out/raw/kafka-spate-$r.json"
	kb -topic kafka$r -record-size "$rsize" -batch-size 1048576 -duration "$dur" >"$out/raw/kafka-kfake-$r.json"
	cpu_run native native$r ks bench produce --topic native$r --record-size "$rsize" --batch-size 1MiB --acks 1 \
		--duration "$dur" --quiet --json >"$out/raw/kafka-native-$r.json"
	# CPU per record also depends on the load (at full speed the load
	# generator competes with the broker for the 2 cores; below it the
	# broker wakes up more often for the same bytes). So the native path
	# runs again, paced at the rate the franz-go producer reached, with a
	# linger long enough that its batches still fill to 1 MiB.
	rate=$(python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["records_per_sec"]))' \
		"$out/raw/kafka-spate-$r.json")
	cpu_run paced paced$r ks bench produce --topic paced$r --record-size "$rsize" --batch-size 1MiB --acks 1 \
		--rate "$rate" --linger 50ms --duration "$dur" --quiet --json >"$out/raw/kafka-paced-$r.json"
done
# Spate's Kafka port against kfake under the heavier load: one franz-go
# producer on one OS thread is the bottleneck of the rows above whichever
# broker it drives (perf/kafka/bench-reduced-run.md), so here four kgo
# clients, each on its own partition of a fresh 4-partition topic, share
# every core (no GOMAXPROCS cap) and drive each broker in turn with the
# same load. Around each run the broker's CPU is read from /proc, and
# divided by every record acknowledged (records_total, warm-up included):
# how much each broker spends per record, whether or not the clients are
# still what caps records/s on a 2-core machine.
kproducers=4
kmulti() { "$work/kfakebench" produce -producers "$kproducers" -record-size "$rsize" -batch-size 1048576 -duration "$dur" "$@"; }
# multi_run NAME PID OUT BROKER...: runs kmulti against BROKER and writes
# raw/kafka-multi-cpu-NAME-$r.json: PID's CPU over the run and the records
# it acknowledged.
multi_run() {
	local name=$1 pid=$2 res=$3 c0 c1
	shift 3
	c0=$(cpu_ns "$pid")
	kmulti "$@" >"$res"
	c1=$(cpu_ns "$pid")
	python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(json.dumps({"path": sys.argv[2], "broker_cpu_ns": int(sys.argv[3]), "records": r["records_total"]}))' \
		"$res" "$name" $((c1 - c0)) >"$out/raw/kafka-multi-cpu-$name-$r.json"
}
for r in $(seq "$reps"); do
	multi_run spate "$kbroker" "$out/raw/kafka-multi-spate-$r.json" -brokers 127.0.0.1:29093 -target spate-kafka+franz-go -topic kmulti$r
	multi_run kfake "$kfakepid" "$out/raw/kafka-multi-kfake-$r.json" -brokers 127.0.0.1:29092 -topic kmulti$r
done
# A franz-go consumer reads 10 M records from offset 0 through the Kafka
# port; spate bench writes them (the quicker way to fill the topic).
ks topic create kcons --partitions 1 >/dev/null
ks bench produce --topic kcons --record-size "$rsize" --batch-size 1MiB --acks 1 --warmup 0 --duration 0 \
	--records 10000000 --quiet --json >"$out/raw/kafka-consume-fill.json"
for r in $(seq "$reps"); do
	GOMAXPROCS=1 "$work/kfakebench" consume -brokers 127.0.0.1:29093 -topic kcons -records 10000000 \
		>"$out/raw/kafka-consume-$r.json"
done
ks topic delete kcons >/dev/null
# The evidence that the Kafka port's Fetch copies no record byte into user
# space: its own traced broker, kcat producing and reading back 20 MiB twice.
if command -v kcat >/dev/null && command -v strace >/dev/null; then
	perf/kafka-fetch-strace.sh 20 2 >"$out/raw/kafka-fetch-strace.txt" 2>&1 ||
		echo "perf/kafka-fetch-strace.sh failed" >>"$out/raw/kafka-fetch-strace.txt"
else
	echo "not run: kcat and strace are needed" >"$out/raw/kafka-fetch-strace.txt"
fi

echo "== replication: 3-broker clusters, RF=3 acks=all against RF=1 acks=1, one record in flight"
# Fresh `spate cluster up -n 3` per run, alternated (perf/replication/run.sh,
# which also runs on its own); its raw files land in $out/replication/raw.
SPATE="$work/spate" RAWLIMITS="$work/rawlimits" PAIRS="$reps" DURATION="$dur" RECORD_SIZE="$rsize" \
	bash perf/replication/run.sh "$out/replication"

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

# The replicated peer: an R3 file stream on a 3-node nats-server cluster, all
# on 127.0.0.1 with separate store dirs, same record size.
r3pids=()
for i in 1 2 3; do
	routes=
	for j in 1 2 3; do
		if [ "$j" != "$i" ]; then routes+="${routes:+,}nats://127.0.0.1:$((29240 + j))"; fi
	done
	nats-server -js -sd "$work/nats-r3-$i" -a 127.0.0.1 -p $((29230 + i)) -n "r3n$i" --cluster_name benchr3 \
		--cluster "nats://127.0.0.1:$((29240 + i))" --routes "$routes" >"$work/nats-r3-$i.log" 2>&1 &
	r3pids+=($!)
	pids+=($!)
done
for i in 1 2 3; do wait_port 127.0.0.1:$((29230 + i)); done
N3="nats -s nats://127.0.0.1:29231"
# The stream needs a JetStream meta leader, which the cluster elects after start.
for _ in $(seq 100); do $N3 stream add benchr3 --subjects 'r3.>' --storage file --replicas 3 --defaults >/dev/null 2>&1 && break; sleep 0.2; done
for r in $(seq "$reps"); do
	$N3 bench js pub async "r3.h$r" --stream benchr3 --msgs 300000 --size "$rsize" --no-progress 2>&1 | grep 'stats:' >"$out/raw/nats-r3-$r.txt" || true
done
kill "${r3pids[@]}" 2>/dev/null || true

echo "== summary"
python3 perf/summarize.py "$out" | tee "$out/summary.md"
