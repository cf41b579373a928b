#!/usr/bin/env python3
"""Summarizes one perf/run-bench.sh run (its raw/ folder) as a Markdown
table of absolute figures and ratios: Spate vs each peer and vs the
machine's raw limits, min / median / max over the repetitions."""
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import med, mmm  # noqa: E402

out = sys.argv[1]
raw = os.path.join(out, "raw")


def load(pattern):
    return benchlib.load(raw, pattern)


def nats(pattern):
    return benchlib.nats(raw, pattern)


def strace_conclusion(path):
    """One line from perf/kafka-fetch-strace.sh's table: bytes the broker
    read(2) from segment files (a user-space copy) against the bytes it
    wrote to sockets and to segment files."""
    if not os.path.exists(path):
        return "not run"
    text = open(path).read()
    copied = out_socket = written = 0
    found = False
    for line in text.splitlines():
        m = re.match(r"^(\w+)\s+(socket|segment \.log|index|other file)\s+(\d+)\s+(\d+)$", line.strip())
        if not m:
            continue
        found = True
        name, kind, n = m.group(1), m.group(2), int(m.group(4))
        if kind == "segment .log" and name in ("read", "pread64", "readv", "preadv", "preadv2"):
            copied += n
        elif kind == "socket" and name in ("write", "writev", "sendfile", "splice"):
            out_socket += n
        elif kind == "segment .log" and name in ("write", "pwrite64", "pwritev", "writev"):
            written += n
    if not found:
        return "no result: " + (text.strip().splitlines() or ["empty output"])[-1]
    verdict = "no record byte copied into user space" if copied == 0 else f"{copied:,} bytes of segment files read into user space"
    return (f"{verdict}: the broker wrote {out_socket:,} bytes to sockets ({out_socket / written:.2f}x the {written:,} "
            f"written to segment files) and read {copied:,} bytes from segment files (kcat, 20 MiB read back twice, under strace)")


def kafka_rows(raw):
    """The Kafka-protocol section: the franz-go producer against Spate's
    Kafka port and kfake, broker CPU per record on the Kafka and native
    ports, the franz-go consumer, and the Fetch strace."""
    kspate, kkfake = load("kafka-spate-*.json"), load("kafka-kfake-*.json")
    if not kspate:
        return
    print("\n## Kafka protocol: franz-go clients, 100-byte records, 1 MiB batches, acks=1 (one partition unless said)\n")
    print("| system | records/s min / median / max | MB/s median | p50 ms median | p99 ms median | errors |")
    print("|---|---|---|---|---|---|")
    cons = load("kafka-consume-[0-9]*.json")
    mspate, mkfake = load("kafka-multi-spate-*.json"), load("kafka-multi-kfake-*.json")
    nmulti = str(mspate[0].get("producers", "several")) if mspate else "several"
    for name, rows in (("franz-go producer -> Spate's Kafka port", kspate), ("franz-go producer -> kfake (alternated with the row above)", kkfake),
                       ("`spate bench produce` -> Spate's native port (alternated with the rows above)", load("kafka-native-*.json")),
                       ("`spate bench produce --rate` (the franz-go row's rate) -> Spate's native port", load("kafka-paced-*.json")),
                       (f"{nmulti} franz-go producers, one partition each -> Spate's Kafka port", mspate),
                       (f"{nmulti} franz-go producers, one partition each -> kfake (alternated with the row above)", mkfake),
                       ("franz-go consumer, Spate's Kafka port, offset 0 to 10,000,000 records", cons)):
        mb = med(rows, "mb_per_sec")
        print(f"| {name} | {mmm([r['records_per_sec'] for r in rows])} | {'' if mb is None else f'{mb:,.1f}'} | "
              f"{med(rows, 'p50_ms') or ''} | {med(rows, 'p99_ms') or ''} | {sum(r.get('errors', 0) for r in rows)} |")
    cpu = {p: load(f"kafka-cpu-{p}-*.json") for p in ("kafka", "native", "paced")}
    nspr = {p: [r["broker_cpu_ns"] / r["records"] for r in rows if r["records"]] for p, rows in cpu.items()}
    print("\n| Kafka protocol | value | goal |")
    print("|---|---|---|")
    s, k = med(kspate, "records_per_sec"), med(kkfake, "records_per_sec")
    if s and k:
        print(f"| Spate's Kafka port / kfake, one franz-go producer (medians; the producer is the bottleneck) | {s / k:.2f}x | |")
    ms, mk = med(mspate, "records_per_sec"), med(mkfake, "records_per_sec")
    if ms and mk:
        print(f"| Spate's Kafka port / kfake, the same {nmulti} franz-go producers (medians) | {ms / mk:.2f}x | >= 4x |")
    mcpu = {p: [r["broker_cpu_ns"] / r["records"] for r in load(f"kafka-multi-cpu-{p}-*.json") if r["records"]] for p in ("spate", "kfake")}
    for p, label in (("spate", "Spate's Kafka port"), ("kfake", "kfake")):
        if mcpu[p]:
            print(f"| broker CPU per record, {label}, {nmulti} franz-go producers: ns min / median / max | {mmm(mcpu[p])} | |")
    if mcpu["spate"] and mcpu["kfake"]:
        ratio = statistics.median(mcpu["kfake"]) / statistics.median(mcpu["spate"])
        print(f"| broker CPU per record, kfake / Spate's Kafka port, same load (medians) | {ratio:.2f}x | |")
    for p, label in (("kafka", "Kafka port (franz-go producer)"), ("native", "native port (`spate bench produce`)"),
                     ("paced", "native port at the franz-go producer's rate")):
        if not cpu[p]:
            continue
        rpr = [r["records"] / r["produce_requests"] for r in cpu[p] if r["produce_requests"]]
        rpr = f"{statistics.median(rpr):,.0f}" if rpr else "n/a"
        print(f"| broker CPU per record, {label}: ns min / median / max (records per produce request, median: {rpr}) | "
              f"{mmm(nspr[p])} | |")
    for p, label in (("native", "native port"), ("paced", "native port at the same rate")):
        if nspr["kafka"] and nspr[p]:
            ratio = statistics.median(nspr["kafka"]) / statistics.median(nspr[p])
            print(f"| broker CPU per record, Kafka port / {label} (medians) | {ratio:.2f}x | <= 1.10x |")
    print(f"| Kafka port's Fetch ({os.path.basename(raw)}/kafka-fetch-strace.txt) | "
          f"{strace_conclusion(os.path.join(raw, 'kafka-fetch-strace.txt'))} | no copy |")


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
    # Each durable run follows its own serial loop (run-bench.sh), so the
    # ratio is the median of the pairs' ratios; the medians are shown too.
    ratios = sorted(d["mb_per_sec"] / s["mb_per_sec"] for d, s in zip(durable, disksync))
    window = durable[0].get("max_in_flight_per_partition", 1)
    idem = "idempotent" if durable[0].get("idempotent", window == 1) else "not idempotent"
    print(f"| flush.policy=always, acks=all, 1 MiB batches, {window} in flight ({idem}): Spate payload MB/s {dmb:,.0f} / serial 1 MiB write+fdatasync MB/s {smb1:,.0f} run just before each (median of the pairs' ratios) | {ratios[len(ratios) // 2]:.1%} | >= 80% |")
lp99, pp99 = med(lat, "p99_ms"), med(ping, "p99_ms")
if lp99 and pp99:
    print(f"| one record in flight, acks=1: Spate p99 {lp99:.3f} ms / TCP ping-pong p99 {pp99:.3f} ms | {lp99 / pp99:.2f}x | <= 1.2x |")

kafka_rows(raw)
benchlib.replication_section(os.path.join(out, "replication", "raw"), nats("nats-r3-*.txt"))

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
