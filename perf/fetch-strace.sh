#!/usr/bin/env bash
# Traces a fetch-heavy run of a real broker: which syscalls carry the
# record bytes out, and whether the broker ever read(2)s a segment file
# into user space. Usage: perf/fetch-strace.sh [MiB] [passes]
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-256}
passes=${2:-4}
out=$(mktemp -d)
make build >/dev/null
go build -o "$out/fetchload" ./perf/fetchload
strace -ff -qq -y -e trace=read,pread64,readv,preadv,preadv2,write,pwrite64,writev,sendfile,copy_file_range,splice \
  -e abbrev=all -s 0 -o "$out/trace" \
  ./bin/spate broker --data-dir "$out/data" --addr 127.0.0.1:19192 --kafka-addr "" --admin-addr "" >"$out/broker.log" 2>&1 &
tracer=$!
for _ in $(seq 50); do grep -q "native protocol" "$out/broker.log" 2>/dev/null && break; sleep 0.2; done
"$out/fetchload" -brokers 127.0.0.1:19192 -mib "$mib" -passes "$passes"
pkill -TERM -f -- "--data-dir $out/data" || true
wait $tracer || true
echo "== bytes moved by the broker, per syscall and kind of descriptor (commit $(git rev-parse --short HEAD))"
python3 perf/strace-summary.py "$out"/trace.*
echo "== segment data on disk"
du -sh "$out/data"
rm -rf "$out"
