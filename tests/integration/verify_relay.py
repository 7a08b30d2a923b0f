#!/usr/bin/python3
"""Checks what the relay published (a dump from outbox_kafka.py) against the outbox rows.

  verify_relay.py --dump FILE --aggregate-type T [--allow-duplicates] [--check-values]

Asserts: every outbox row of aggregate type T is on Kafka (nothing lost) and nothing else is;
without --allow-duplicates each exactly once; per aggregate (Kafka key) the rows appear in
insertion order (headers test_seq), counting only first occurrences; with --check-values every
decoded Avro value equals its row's JSON payload. Prints a summary line and exits 1 on failure.
"""
import argparse
import collections
import json
import os
import subprocess
import sys


def outbox_rows(aggregate_type):
    sql = ("SELECT json_build_object('id', id, 'aggregate_id', aggregate_id, 'event_type', "
           "event_type, 'payload', payload, 'headers', headers) FROM outbox "
           f"WHERE aggregate_type = '{aggregate_type}'")
    out = subprocess.run(["psql", "-X", "-qtA", os.environ["OUTBOX_PG_SUPER"], "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return {r["id"]: r for r in (json.loads(line) for line in out.splitlines() if line)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dump", required=True)
    p.add_argument("--aggregate-type", required=True)
    p.add_argument("--allow-duplicates", action="store_true")
    p.add_argument("--check-values", action="store_true")
    a = p.parse_args()

    rows = outbox_rows(a.aggregate_type)
    recs = [json.loads(line) for line in open(a.dump)]
    failures = []
    seen = collections.Counter()
    per_key = collections.defaultdict(list)
    value_mismatch = 0
    for rec in recs:
        eid = rec["headers"].get("id")
        if eid not in rows:
            failures.append(f"unexpected record {eid} at {rec['topic']}/{rec['partition']}@{rec['offset']}")
            continue
        seen[eid] += 1
        row = rows[eid]
        if rec["key"] != row["aggregate_id"]:
            failures.append(f"{eid}: key {rec['key']} != aggregate_id {row['aggregate_id']}")
        if seen[eid] == 1:
            per_key[(rec["topic"], rec["partition"], rec["key"])].append(int(rec["headers"]["test_seq"]))
        if a.check_values:
            if rec.get("framing") is None:
                failures.append(f"{eid}: not decodable: {rec.get('error')}")
            elif rec["value"] != row["payload"]:
                value_mismatch += 1
                if value_mismatch <= 3:
                    failures.append(f"{eid}: decoded {rec['value']} != payload {row['payload']}")
        for h in ("event_type", "aggregate_type", "aggregate_id", "outbox.commit_lsn",
                  "outbox.xid", "outbox.commit_time"):
            if h not in rec["headers"]:
                failures.append(f"{eid}: header {h} missing")
                break
    missing = set(rows) - set(seen)
    dups = sum(c - 1 for c in seen.values())
    if missing:
        failures.append(f"{len(missing)} outbox rows never reached Kafka, e.g. {sorted(missing)[:3]}")
    if dups and not a.allow_duplicates:
        failures.append(f"{dups} duplicate records")
    keys_out_of_order = 0
    for key, seqs in per_key.items():
        if seqs != sorted(seqs):
            keys_out_of_order += 1
    if keys_out_of_order:
        failures.append(f"{keys_out_of_order} aggregates out of order")
    if value_mismatch:
        failures.append(f"{value_mismatch} values differ from their payload")
    print(f"rows={len(rows)} records={len(recs)} distinct={len(seen)} missing={len(missing)} "
          f"duplicates={dups} aggregates={len(per_key)} out_of_order={keys_out_of_order} "
          f"value_mismatches={value_mismatch}")
    for f in failures[:20]:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
