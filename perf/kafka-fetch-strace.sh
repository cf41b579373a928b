#!/usr/bin/env bash
# The Kafka port's counterpart of perf/fetch-strace.sh: traces a real
# broker while kcat produces MiB of 100-byte lines through the Kafka port
# and reads them back `passes` times, then sums the bytes each syscall
# moved by kind of descriptor. Usage: perf/kafka-fetch-strace.sh [MiB] [passes]
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-20}
passes=${2:-2}
command -v kcat >/dev/null || { echo "kcat is needed (apt-get install kcat)" >&2; exit 1; }
out=$(mktemp -d)
make build >/dev/null
python3 - "$out/in.txt" "$mib" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2]) * 10000):
        f.write("%08d" % i + "x" * 91 + "\n")
PY
# -ff: one trace file per thread, so no call is split into
# "<unfinished ...>" and "resumed" lines that the summary would miss.
strace -ff -qq -y -e trace=read,pread64,readv,preadv,preadv2,write,pwrite64,pwritev,writev,sendfile,copy_file_range,splice \
  -e abbrev=all -s 0 -o "$out/trace" \
  ./bin/spate broker --data-dir "$out/data" --addr 127.0.0.1:0 --kafka-addr 127.0.0.1:0 --admin-addr "" \
  --set log.direct.write.bytes=0 >"$out/broker.log" 2>&1 &
tracer=$!
for _ in $(seq 50); do grep -q "kafka protocol" "$out/broker.log" 2>/dev/null && break; sleep 0.2; done
kafka=$(awk '/kafka protocol/ {print $3}' "$out/broker.log")
kcat -b "$kafka" -P -t strace -X batch.size=1000000 -X linger.ms=50 <"$out/in.txt"
for p in $(seq "$passes"); do
  kcat -b "$kafka" -C -t strace -o beginning -e -q >"$out/out.txt"
  cmp -s "$out/in.txt" "$out/out.txt" || { echo "pass $p read back different bytes" >&2; exit 1; }
done
# SIGTERM to the broker itself (strace's child), which stops cleanly; strace
# then exits with it.
kill -TERM "$(pgrep -P "$tracer")"
wait "$tracer" || true
echo "== bytes moved by the broker, per syscall and kind of descriptor (commit $(git rev-parse --short HEAD))"
python3 perf/strace-summary.py "$out"/trace.*
rm -rf "$out"
