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
strace -f -qq -y -e trace=read,pread64,readv,preadv,preadv2,write,pwrite64,writev,sendfile,copy_file_range,splice \
  -e abbrev=all -s 0 -o "$out/trace.txt" \
  ./bin/spate broker --data-dir "$out/data" --addr 127.0.0.1:19192 --kafka-addr "" --admin-addr "" >"$out/broker.log" 2>&1 &
tracer=$!
for _ in $(seq 50); do grep -q "native protocol" "$out/broker.log" 2>/dev/null && break; sleep 0.2; done
"$out/fetchload" -brokers 127.0.0.1:19192 -mib "$mib" -passes "$passes"
pkill -TERM -f -- "--data-dir $out/data" || true
wait $tracer || true
echo "== bytes moved by the broker, per syscall and kind of descriptor (commit $(git rev-parse --short HEAD))"
# Lines look like: PID writev(12<TCP:[127.0.0.1:19192->127.0.0.1:5555]>, ...) = 1048640
python3 - "$out/trace.txt" <<'PY'
import re, sys, collections
calls, moved = collections.Counter(), collections.Counter()
pat = re.compile(r'^\d+ +(\w+)\(\d+<([^>]*)>.*= (\d+)$')
for line in open(sys.argv[1]):
    m = pat.match(line.strip())
    if not m:
        continue
    name, path, n = m.group(1), m.group(2), int(m.group(3))
    kind = "socket" if path.startswith(("TCP", "socket:")) else "segment .log" if path.endswith(".log") else "index" if path.endswith("index") else "other file"
    calls[name, kind] += 1
    moved[name, kind] += n
print(f"{'syscall':10} {'descriptor':13} {'calls':>8} {'bytes':>14}")
for k in sorted(calls):
    print(f"{k[0]:10} {k[1]:13} {calls[k]:8} {moved[k]:14}")
PY
echo "== segment data on disk"
du -sh "$out/data"
rm -rf "$out"
