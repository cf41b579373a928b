#!/usr/bin/env python3
"""Summarizes one perf/run-bench.sh run (its raw/ folder) as a Markdown
table of absolute figures and ratios: Spate vs each peer and vs the
machine's raw limits, min / median / max over the repetitions."""
import glob
import json
import os
import re
import statistics
import sys

out = sys.argv[1]
raw = os.path.join(out, "raw")


def load(pattern):
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(raw, pattern)))]


def nats(pattern):
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


spate = load("spate-headline-[0-9]*.json")
spaterec = load("spate-headline-record-*.json")
kfake = load("kfake-headline-*.json")
natsh = nats("nats-headline-*.txt")
lat = load("spate-latency-*.json")
tcp = load("limit-tcp-*.json")
disk = load("limit-disk-[0-9]*.json")
diskkept = load("limit-diskkept-*.json")
touch = load("limit-touch-*.json")
diskdirect = load("limit-diskdirect-*.json")
ping = load("limit-ping-*.json")
consume = load("spate-consume-*.json")
durable = load("spate-durable-*.json")
disksync = load("limit-disksync-*.json")

print(open(os.path.join(out, "machine.txt")).read())
print("## Headline: one producer, one partition, 100-byte records, 1 MiB batches, acks=1\n")
print("| system | records/s min / median / max | MB/s median | p50 ms median | p99 ms median |")
print("|---|---|---|---|---|")
for name, rows in (("Spate (`spate bench produce`, batch path: Producer.ProduceBatch)", spate),
                   ("Spate (`spate bench produce --per-record`: Producer.Produce per record)", spaterec),
                   ("kfake + franz-go producer", kfake), ("NATS JetStream, file storage (`nats bench js pub async`)", natsh)):
    rps = [r["records_per_sec"] for r in rows]
    mb = med(rows, "mb_per_sec")
    print(f"| {name} | {mmm(rps)} | {'' if mb is None else f'{mb:,.1f}'} | {med(rows, 'p50_ms') or 'n/a'} | {med(rows, 'p99_ms') or 'n/a'} |")

s, k, n = med(spate, "records_per_sec"), med(kfake, "records_per_sec"), med(natsh, "records_per_sec")
print("\n## Ratios (medians)\n")
print("| ratio | value | goal |")
print("|---|---|---|")
print(f"| Spate records/s | {s:,.0f} | >= 10,000,000 |" if s else "| Spate records/s | n/a | |")
sr = med(spaterec, "records_per_sec")
if sr:
    print(f"| Spate records/s, per-record path | {sr:,.0f} | |")
if s and k:
    print(f"| Spate / kfake+franz-go | {s / k:.2f}x | >= 4x |")
if sr and k:
    print(f"| Spate per-record path / kfake+franz-go (both a call and a callback per record) | {sr / k:.2f}x | |")
if s and n:
    print(f"| Spate / NATS JetStream | {s / n:.2f}x | |")
smb = med(spate, "mb_per_sec")
if smb and tcp:
    print(f"| Spate payload MB/s / loopback TCP MB/s ({med(tcp, 'mb_per_sec'):,.0f}) | {smb / med(tcp, 'mb_per_sec'):.1%} | |")
if smb and disk:
    print(f"| Spate payload MB/s / sequential disk write MB/s ({med(disk, 'mb_per_sec'):,.0f}) | {smb / med(disk, 'mb_per_sec'):.1%} | |")
if smb and diskkept:
    print(f"| Spate payload MB/s / sequential write into kept files MB/s ({med(diskkept, 'mb_per_sec'):,.0f}) | {smb / med(diskkept, 'mb_per_sec'):.1%} | |")
if smb and diskdirect:
    print(f"| Spate payload MB/s / sequential O_DIRECT write MB/s ({med(diskdirect, 'mb_per_sec'):,.0f}) | {smb / med(diskdirect, 'mb_per_sec'):.1%} | |")
c = med(consume, "records_per_sec")
if c:
    print(f"| one consumer from offset 0 of the headline topic, records/s | {c:,.0f} | >= 15,000,000 |")
dmb, smb1 = med(durable, "mb_per_sec"), med(disksync, "mb_per_sec")
if dmb and smb1:
    print(f"| flush.policy=always, acks=all, 1 MiB batches: Spate payload MB/s {dmb:,.0f} / serial 1 MiB write+fdatasync MB/s {smb1:,.0f} | {dmb / smb1:.1%} | >= 80% |")
lp99, pp99 = med(lat, "p99_ms"), med(ping, "p99_ms")
if lp99 and pp99:
    print(f"| one record in flight, acks=1: Spate p99 {lp99:.3f} ms / TCP ping-pong p99 {pp99:.3f} ms | {lp99 / pp99:.2f}x | <= 1.2x |")

print("\n## Raw limits (min / median / max)\n")
print(f"- loopback TCP, 1 MiB writes between two processes: {mmm([r['mb_per_sec'] for r in tcp])} MB/s")
print(f"- sequential 1 MiB writes into rotating 256 MiB files, 1 GiB kept, no fsync: {mmm([r['mb_per_sec'] for r in disk])} MB/s")
print(f"- sequential 1 MiB writes into 256 MiB files, all kept until the end, no fsync: {mmm([r['mb_per_sec'] for r in diskkept])} MB/s")
print(f"- sequential 1 MiB O_DIRECT writes into 256 MiB files, all kept until the end, no fsync: {mmm([r['mb_per_sec'] for r in diskdirect])} MB/s")
print(f"- serial 1 MiB write + fdatasync into kept files: {mmm([r['mb_per_sec'] for r in disksync])} MB/s")
print(f"- first writes to fresh anonymous memory (page faults): {mmm([r['mb_per_sec'] for r in touch])} MB/s")
print(f"- Spate, one consumer from offset 0: {mmm([r['records_per_sec'] for r in consume])} records/s; flush.policy=always acks=all: {mmm([r['mb_per_sec'] for r in durable])} MB/s, p99 {mmm([r.get('p99_ms') for r in durable])} ms")
print(f"- 100-byte TCP ping-pong p50 {mmm([r['p50_ms'] for r in ping])} ms, p99 {mmm([r['p99_ms'] for r in ping])} ms")

sweep_path = os.path.join(raw, "spate-sweep.json")
if os.path.exists(sweep_path):
    doc = json.load(open(sweep_path))
    rows = doc if isinstance(doc, list) else doc.get("rows", [])
    print("\n## Batch-size sweep (one run each; 100-byte records, acks=1)\n")
    print("| batch | Spate records/s | Spate p50 / p99 ms | kfake+franz-go records/s | kfake p50 / p99 ms | NATS records/s (batch in msgs) | Spate / kfake |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        b = r["batch_size"]
        kf = load(f"kfake-sweep-{b}.json")
        na = nats(f"nats-sweep-{b}.txt")
        kr = kf[0]["records_per_sec"] if kf else None
        line = f"| {b} | {r['records_per_sec']:,.0f} | {r['p50_ms']:.3f} / {r['p99_ms']:.3f} | "
        line += f"{kr:,.0f} | {kf[0]['p50_ms']:.3f} / {kf[0]['p99_ms']:.3f} | " if kf else "n/a | n/a | "
        line += f"{na[0]['records_per_sec']:,.0f} | " if na else "n/a | "
        line += f"{r['records_per_sec'] / kr:.2f}x |" if kr else "n/a |"
        print(line)
