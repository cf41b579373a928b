"""Helpers shared by the perf summaries (perf/summarize.py for make bench,
perf/replication/run.sh): reading raw result files, min / median / max,
and the replication section of the tables.

Run as a script, `python3 perf/benchlib.py replication RAWDIR` prints the
replication section of RAWDIR alone."""
import glob
import json
import os
import re
import statistics
import sys


def load(raw, pattern):
    """The JSON results matching pattern; a failed run's empty file is left
    out (its error is beside it, in a .err file)."""
    rows = []
    for p in sorted(glob.glob(os.path.join(raw, pattern))):
        text = open(p).read()
        if text.strip():
            rows.append(json.loads(text))
    return rows


def nats(raw, pattern):
    """Parses `nats bench` stats lines: msgs/sec and percentiles in µs."""
    rows = []
    for p in sorted(glob.glob(os.path.join(raw, pattern))):
        line = open(p).read()
        m = re.search(r"stats: ([\d,]+) msgs/sec", line)
        if not m:
            continue
        row = {"records_per_sec": float(m.group(1).replace(",", ""))}
        for name, key in (("P50", "p50_ms"), ("P99", "p99_ms")):
            q = re.search(name + r": ([\d,.]+)us", line)
            if q:
                row[key] = float(q.group(1).replace(",", "")) / 1000
        row["file"] = os.path.basename(p)
        rows.append(row)
    return rows


def mmm(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    return " / ".join(f"{v:,.3g}" if v < 1000 else f"{v:,.0f}" for v in (min(vals), statistics.median(vals), max(vals)))


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def paired(num, den, key):
    """num[i][key] / den[i][key] for the runs of one repetition (both lists
    sorted by repetition number)."""
    return [a[key] / b[key] for a, b in zip(num, den) if a.get(key) and b.get(key)]


def replication_section(raw, nats_r3=None):
    """Issue 13's rows from perf/replication/run.sh's raw files (RF=1 acks=1
    against RF=3 acks=all on 3-broker clusters, one record in flight beside
    a ping-pong), with NATS JetStream R3 rows when given."""
    tput = {v: load(raw, f"throughput-{v}-*.json") for v in ("rf1", "rf3")}
    lat = {v: load(raw, f"latency-{v}-*.json") for v in ("rf1", "rf3")}
    ping = {v: load(raw, f"ping-{v}-*.json") for v in ("rf1", "rf3")}
    if not tput["rf3"]:
        return
    print("\n## Replication: 3-broker local cluster (`spate cluster up -n 3`, fresh data dirs per run), one partition, "
          "100-byte records\n")
    print("| system | records/s min / median / max | p50 ms median | p99 ms median | errors |")
    print("|---|---|---|---|---|")
    rows = (("Spate, replication factor 1, acks=1, 1 MiB batches", tput["rf1"]),
            ("Spate, replication factor 3, acks=all, min.insync.replicas=2, 1 MiB batches", tput["rf3"]),
            ("NATS JetStream, R3 file stream on a 3-node cluster (`nats bench js pub async`)", nats_r3 or []),
            ("Spate, one record in flight, replication factor 1, acks=1", lat["rf1"]),
            ("Spate, one record in flight, replication factor 3, acks=all", lat["rf3"]),
            ("100-byte TCP ping-pong, right before each one-record run", ping["rf1"] + ping["rf3"]))
    for name, rs in rows:
        if not rs:
            continue
        rps = mmm([r.get("records_per_sec") for r in rs]) if "records_per_sec" in rs[0] else ""
        errors = sum(r["errors"] for r in rs) if "errors" in rs[0] else ""
        p50, p99 = med(rs, "p50_ms"), med(rs, "p99_ms")
        print(f"| {name} | {rps} | {'' if p50 is None else f'{p50:.3f}'} | {'' if p99 is None else f'{p99:.3f}'} | {errors} |")
    failed = [os.path.basename(p)[:-4] for p in sorted(glob.glob(os.path.join(raw, "*.err"))) if os.path.getsize(p)]
    if failed:
        print(f"\nFailed runs (their errors are in raw/*.err): {', '.join(failed)}")
    print("\n| replication | value | goal |")
    print("|---|---|---|")
    r1, r3 = med(tput["rf1"], "records_per_sec"), med(tput["rf3"], "records_per_sec")
    per = ", ".join(f"{x:.1%}" for x in paired(tput["rf3"], tput["rf1"], "records_per_sec"))
    if r1 and r3:
        print(f"| RF=3 acks=all / RF=1 acks=1 records/s (medians; per pair {per}) | {r3 / r1:.1%} | >= 40% |")
    lp, pp = med(lat["rf3"], "p99_ms"), med(ping["rf3"], "p99_ms")
    per = ", ".join(f"{x:.2f}x" for x in paired(lat["rf3"], ping["rf3"], "p99_ms"))
    if lp and pp:
        print(f"| one record in flight, RF=3 acks=all: p99 {lp:.3f} ms / ping-pong p99 {pp:.3f} ms (medians; per run {per}) "
              f"| {lp / pp:.2f}x | <= 3x |")
    lp1, pp1 = med(lat["rf1"], "p99_ms"), med(ping["rf1"], "p99_ms")
    if lp1 and pp1:
        print(f"| one record in flight, RF=1 acks=1 in the cluster: p99 {lp1:.3f} ms / ping-pong p99 {pp1:.3f} ms | "
              f"{lp1 / pp1:.2f}x | |")
    n3 = med(nats_r3 or [], "records_per_sec")
    if r3 and n3:
        print(f"| Spate RF=3 acks=all / NATS JetStream R3 records/s (medians) | {r3 / n3:.2f}x | |")
    acked = [(r["acked_total"], r["hw_delta"]) for rs in (tput["rf1"], tput["rf3"], lat["rf1"], lat["rf3"]) for r in rs
             if "acked_total" in r]
    if acked:
        same = all(a == h for a, h in acked)
        print(f"| acknowledged total = high-watermark delta, every Spate run | {'yes' if same else 'NO'} | yes |")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "replication":
        sys.exit("usage: benchlib.py replication RAWDIR")
    replication_section(sys.argv[2])
