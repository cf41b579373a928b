"""Sums the bytes each syscall moved, by kind of descriptor, from strace
output taken with -y (descriptors named) and -ff (one file per thread, so
no call is split into "unfinished" and "resumed" lines).

Usage: python3 perf/strace-summary.py TRACE_FILE...
Lines look like: writev(12<TCP:[127.0.0.1:19192->127.0.0.1:5555]>, ...) = 1048640
"""
import collections
import re
import sys

calls, moved = collections.Counter(), collections.Counter()
pat = re.compile(r'^(\w+)\(\d+<([^>]*)>.*= (\d+)$')
for path in sys.argv[1:]:
    for line in open(path):
        m = pat.match(line.strip())
        if not m:
            continue
        name, fd, n = m.group(1), m.group(2), int(m.group(3))
        kind = ("socket" if fd.startswith(("TCP", "socket:")) else "segment .log" if fd.endswith(".log")
                else "index" if fd.endswith("index") else "other file")
        calls[name, kind] += 1
        moved[name, kind] += n
print(f"{'syscall':10} {'descriptor':13} {'calls':>8} {'bytes':>14}")
for k in sorted(calls):
    print(f"{k[0]:10} {k[1]:13} {calls[k]:8} {moved[k]:14}")
