#!/usr/bin/python3
"""Black-box reader of what the relay wrote to Kafka, independent of our C code.

Decodes both wire formats with Debian's python3-avro: Confluent framing (schema fetched from
the registry by id) and Avro single-object encoding (schema found by its CRC-64-AVRO
fingerprint, computed here from the Parsing Canonical Form of schemas/*.avsc).

  outbox_kafka.py dump --topics a,b [--expect N] [--timeout S] [--schemas DIR]
                       [--registry URL] --out FILE
      writes one JSON line per record: topic, partition, offset, key, headers (a dict: the
      last of equal names), header_list (every header in order, duplicates kept), framing,
      schema (record full name), value (decoded, logical types normalised to JSON: timestamps
      as RFC 3339 UTC with milliseconds or microseconds, dates as YYYY-MM-DD).

  outbox_kafka.py count TOPIC      records in TOPIC (the partitions' high watermarks)
  outbox_kafka.py span TOPIC       count, distinct `id` headers, first and last timestamp (ms)

Run with /usr/bin/python3 (the Debian packages are not visible to other interpreters).
"""
import argparse
import datetime
import decimal
import io
import json
import os
import struct
import sys
import time
import urllib.request
import uuid

import avro.io
import avro.schema
from confluent_kafka import Consumer, KafkaError, TopicPartition

EMPTY = 0xC15D213AA4D7A795


def _crc64_table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return table


CRC_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ CRC_TABLE[(fp ^ b) & 0xFF]
    return fp


PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def pcf(node, ns=None, named=None):
    """Avro Parsing Canonical Form, written from the spec (python3-avro 1.11's canonical_form
    keeps {"type": "string"} for logical types, which the spec reduces to "string")."""
    named = set() if named is None else named
    if isinstance(node, str):
        if node in PRIMITIVES:
            return json.dumps(node)
        full = node if "." in node or not ns else f"{ns}.{node}"
        return json.dumps(full)
    if isinstance(node, list):
        return "[" + ",".join(pcf(b, ns, named) for b in node) + "]"
    t = node["type"]
    if t in PRIMITIVES:
        return json.dumps(t)
    if t in ("record", "error", "enum", "fixed"):
        name = node["name"]
        if "." not in name:
            space = node.get("namespace", ns)
            name = f"{space}.{name}" if space else name
        if name in named:
            return json.dumps(name)
        named.add(name)
        inner = name.rsplit(".", 1)[0] if "." in name else None
        parts = [f'"name":{json.dumps(name)}', f'"type":{json.dumps("record" if t == "error" else t)}']
        if t in ("record", "error"):
            fields = ",".join("{" + f'"name":{json.dumps(f["name"])},"type":{pcf(f["type"], inner, named)}' + "}"
                              for f in node["fields"])
            parts.append(f'"fields":[{fields}]')
        elif t == "enum":
            parts.append('"symbols":' + json.dumps(node["symbols"], separators=(",", ":")))
        else:
            parts.append(f'"size":{node["size"]}')
        return "{" + ",".join(parts) + "}"
    if t == "array":
        return '{"type":"array","items":' + pcf(node["items"], ns, named) + "}"
    if t == "map":
        return '{"type":"map","values":' + pcf(node["values"], ns, named) + "}"
    return pcf(t, ns, named)


def load_schema_dir(path):
    by_fp = {}
    for name in sorted(os.listdir(path)):
        if name.endswith(".avsc"):
            with open(os.path.join(path, name)) as f:
                text = f.read()
            by_fp[crc64_avro(pcf(json.loads(text)).encode())] = avro.schema.parse(text)
    return by_fp


class Decoder:
    def __init__(self, schema_dir, registry_url):
        self.by_fp = load_schema_dir(schema_dir) if schema_dir else {}
        self.registry_url = registry_url
        self.by_id = {}

    def schema_by_id(self, schema_id):
        if schema_id not in self.by_id:
            with urllib.request.urlopen(f"{self.registry_url}/schemas/ids/{schema_id}", timeout=10) as r:
                self.by_id[schema_id] = avro.schema.parse(json.load(r)["schema"])
        return self.by_id[schema_id]

    def decode(self, value: bytes):
        """Returns (framing, schema full name, decoded datum)."""
        if len(value) >= 5 and value[0] == 0:
            schema = self.schema_by_id(struct.unpack(">I", value[1:5])[0])
            framing, body = "confluent", value[5:]
        elif len(value) >= 10 and value[0:2] == b"\xc3\x01":
            fp = struct.unpack("<Q", value[2:10])[0]
            if fp not in self.by_fp:
                raise ValueError(f"unknown fingerprint {fp:016x}")
            schema = self.by_fp[fp]
            framing, body = "single-object", value[10:]
        else:
            raise ValueError("unknown framing")
        reader = avro.io.DatumReader(schema)
        datum = reader.read(avro.io.BinaryDecoder(io.BytesIO(body)))
        return framing, schema.fullname, datum


def normalise(v, schema=None):
    """Decoded Avro datum -> plain JSON values (how the payload JSON writes them)."""
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc)
        if v.microsecond % 1000:
            return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, dict):
        return {k: normalise(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalise(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return v


def dump(args):
    dec = Decoder(args.schemas, args.registry)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": f"outbox-kafka-py-{os.getpid()}-{time.time()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    topics = [t for t in args.topics.split(",") if t]
    # Assign every partition of every topic from the beginning (no group rebalance delay).
    parts = []
    deadline = time.time() + args.timeout
    for t in topics:
        while True:
            md = consumer.list_topics(t, timeout=10)
            tm = md.topics.get(t)
            if tm is not None and tm.error is None and tm.partitions:
                parts += [TopicPartition(t, p, 0) for p in sorted(tm.partitions)]
                break
            if time.time() > deadline:
                raise SystemExit(f"topic {t} does not exist")
            time.sleep(0.5)
    consumer.assign(parts)
    n = 0
    idle_since = time.time()
    with open(args.out, "w") as out:
        while time.time() < deadline:
            msgs = consumer.consume(1000, 0.5)
            if not msgs:
                if args.expect is not None and n >= args.expect and time.time() - idle_since > args.settle:
                    break
                if args.expect is None and time.time() - idle_since > args.settle:
                    break
                continue
            idle_since = time.time()
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise SystemExit(f"consume error: {m.error()}")
                rec = {
                    "topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                    "key": m.key().decode() if m.key() is not None else None,
                    "headers": {k: (v.decode("utf-8", "replace") if v is not None else None)
                                for k, v in (m.headers() or [])},
                    # every header in record order, duplicates kept (the dict keeps the last)
                    "header_list": [[k, v.decode("utf-8", "replace") if v is not None else None]
                                    for k, v in (m.headers() or [])],
                }
                try:
                    framing, name, datum = dec.decode(m.value())
                    rec.update(framing=framing, schema=name, value=normalise(datum))
                except Exception as e:  # a dead letter or a bad record: keep the raw bytes
                    rec.update(framing=None, error=str(e),
                               raw=m.value().decode("utf-8", "replace") if m.value() else None)
                out.write(json.dumps(rec) + "\n")
                n += 1
    consumer.close()
    print(f"dumped {n} records from {','.join(topics)}", file=sys.stderr)


def count(args):
    """Records in a topic: the sum of the partitions' high watermarks (0 if it does not exist)."""
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "outbox-kafka-count"})
    md = consumer.list_topics(args.topic, timeout=10).topics.get(args.topic)
    total = 0
    if md is not None and md.error is None:
        for p in md.partitions:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=10)
            total += hi
    consumer.close()
    print(total)


def span(args):
    """Every record of a topic read once: count, distinct `id` headers, first and last broker
    timestamp (ms; LogAppendTime topics: when Kafka stored them). One line, space-separated."""
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "outbox-kafka-span",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    md = consumer.list_topics(args.topic, timeout=10).topics[args.topic]
    consumer.assign([TopicPartition(args.topic, p, 0) for p in md.partitions])
    n, ids, first, last, eof = 0, set(), None, None, set()
    deadline = time.monotonic() + args.timeout
    while len(eof) < len(md.partitions) and time.monotonic() < deadline:
        for m in consumer.consume(10000, 1.0):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                continue
            n += 1
            ts = m.timestamp()[1]
            first = ts if first is None else min(first, ts)
            last = ts if last is None else max(last, ts)
            for k, v in m.headers() or []:
                if k == "id":
                    ids.add(v)
    consumer.close()
    print(n, len(ids), first or 0, last or 0)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("count")
    c.add_argument("--bootstrap", default=os.environ.get("OUTBOX_KAFKA"))
    c.add_argument("topic")
    s = sub.add_parser("span")
    s.add_argument("--bootstrap", default=os.environ.get("OUTBOX_KAFKA"))
    s.add_argument("--timeout", type=float, default=600)
    s.add_argument("topic")
    d = sub.add_parser("dump")
    d.add_argument("--bootstrap", default=os.environ.get("OUTBOX_KAFKA"))
    d.add_argument("--topics", required=True)
    d.add_argument("--expect", type=int)
    d.add_argument("--timeout", type=float, default=120)
    d.add_argument("--settle", type=float, default=2.0)
    d.add_argument("--schemas")
    d.add_argument("--registry", default=os.environ.get("OUTBOX_REGISTRY_URL"))
    d.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "dump":
        dump(args)
    elif args.cmd == "count":
        count(args)
    elif args.cmd == "span":
        span(args)


if __name__ == "__main__":
    main()
