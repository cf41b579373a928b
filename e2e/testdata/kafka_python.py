"""kafka-python against Spate's Kafka port, for e2e TestKafkaPython.

usage: kafka_python.py BOOTSTRAP TOPIC produce N PREFIX
       kafka_python.py BOOTSTRAP TOPIC consume N GROUP

produce: sends N records, key "<PREFIX>-k<i % 7>", value "<PREFIX>-<i>",
         with acks=all, waits for every acknowledgement and prints
         "PARTITION OFFSET KEY VALUE" for each.
consume: reads N records from the beginning in consumer group GROUP,
         commits the offsets after them, and prints the same lines.
Exits non-zero on any error or when N records do not arrive in 60 s.
"""

import sys
import time

from kafka import KafkaConsumer, KafkaProducer


def produce(bootstrap, topic, n, prefix):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=5)
    futures = []
    for i in range(n):
        key = f"{prefix}-k{i % 7}".encode()
        value = f"{prefix}-{i}".encode()
        futures.append((key, value, producer.send(topic, key=key, value=value)))
    producer.flush(timeout=60)
    for key, value, f in futures:
        md = f.get(timeout=60)
        print(md.partition, md.offset, key.decode(), value.decode())
    producer.close(timeout=10)


def consume(bootstrap, topic, n, group):
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    got = []
    deadline = time.monotonic() + 60
    while len(got) < n:
        if time.monotonic() > deadline:
            sys.exit(f"consumed {len(got)} of {n} records in 60 s")
        for m in consumer:
            got.append(m)
            if len(got) == n:
                break
    consumer.commit()
    for m in got:
        print(m.partition, m.offset, m.key.decode(), m.value.decode())
    consumer.close()


def main():
    bootstrap, topic, mode, n, arg = sys.argv[1:6]
    if mode == "produce":
        produce(bootstrap, topic, int(n), arg)
    elif mode == "consume":
        consume(bootstrap, topic, int(n), arg)
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
