#!/usr/bin/python3
"""Writes corpus/fuzz_avro_decode/: the Avro fixtures of tests/fixtures/avro framed both ways.

Confluent seeds carry, as their schema id, the index of the writer schema in the fuzz targets'
list (fuzz_schemas.c: schemas/ in name order, then AllTypes, then the extra schemas);
single-object seeds carry the real CRC-64-AVRO fingerprint from fingerprints.txt. Run from
anywhere; rerun when the fixtures change."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "fixtures", "avro")
OUT = os.path.join(HERE, "fuzz_avro_decode")

# fixture prefix -> (index in the fuzz list, schema file)
SCHEMAS = {
    "comment_created": (0, "schemas/CommentCreated.avsc"),
    "comment_moderated": (1, "schemas/CommentModerated.avsc"),
    "comment_updated": (2, "schemas/CommentUpdated.avsc"),
    "post_created": (3, "schemas/PostCreated.avsc"),
    "all_types": (4, "tests/fixtures/avro/schemas/AllTypes.avsc"),
}
# Hand-made bodies for the extra schemas (index -> body).
EXTRA = {
    5: bytes([0x06, 0x54]),                      # union branch 3 (long) = 42
    6: bytes([0x00, 0x00, 0x01, 0xE2, 0x40]),    # fixed(5) decimal 123.456
    7: bytes([0x04, 0xFF, 0x38]),                # bytes decimal -200
    8: bytes([0x02] * 4 + [0x00, 0x02]),         # Times: four longs 1, date null, uuid null
    9: bytes([0x02, 0x02, 0x6B, 0x02, 0x02, 0x00] + [0] * 8 + [0x00, 0x00, 0x00]),  # {k: [Node 0.0]}
}


def fingerprints():
    out = {}
    with open(os.path.join(FIX, "fingerprints.txt")) as f:
        for line in f:
            path, fp, _ = line.split(" ", 2)
            out[path] = int(fp, 16)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    fps = fingerprints()
    for name in sorted(os.listdir(FIX)):
        if not name.endswith(".bin"):
            continue
        prefix = next(p for p in SCHEMAS if name.startswith(p))
        index, path = SCHEMAS[prefix]
        with open(os.path.join(FIX, name), "rb") as f:
            body = f.read()
        stem = name[:-4]
        with open(os.path.join(OUT, stem + ".confluent"), "wb") as f:
            f.write(b"\x00" + struct.pack(">i", index) + body)
        with open(os.path.join(OUT, stem + ".single"), "wb") as f:
            f.write(b"\xc3\x01" + struct.pack("<Q", fps[path]) + body)
    for index, body in EXTRA.items():
        with open(os.path.join(OUT, "extra_%d.confluent" % index), "wb") as f:
            f.write(b"\x00" + struct.pack(">i", index) + body)


if __name__ == "__main__":
    main()
