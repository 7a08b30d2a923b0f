#!/usr/bin/python3
"""The chaos checks can fail: each check of verify.py is fed a small history where the pipeline
lost, duplicated, reordered or invented something, and must name it; a clean history passes.
(The database reads are replaced by a cursor that returns fixed rows; the logic is the same.)"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify  # noqa: E402

A, B = "post-a", "post-b"


def truth():
    t = verify.Truth.__new__(verify.Truth)
    t.created = {
        "e1": (A, 1, "c1", "Nice post #1", "table"),
        "e2": (A, 2, "c2", "Oranges! #2", "message"),
        "e3": (A, 3, "c3", "Nice #3", "table"),
        "e4": (B, 1, "c4", "Nice #1", "table"),
    }
    t.moderated = {
        "m1": ("c1", A, "APPROVED", None),
        "m2": ("c2", A, "REJECTED", "mentions oranges"),
        "m3": ("c3", A, "APPROVED", None),
        "m4": ("c4", B, "APPROVED", None),
    }
    t.other = {}
    t.by_comment = {v[2]: (eid, v) for eid, v in t.created.items()}
    t.posts = [A, B]
    return t


def records(*ids):
    """Records in the given order: created events keyed by post on partition 0 (A) or 1 (B)."""
    t = truth()
    out = []
    offs = {0: 0, 1: 0, 2: 0}
    for eid in ids:
        if eid in t.created:
            key = t.created[eid][0]
            part = 0 if key == A else 1
        else:
            key, part = t.moderated.get(eid, ("x",))[0], 2
        out.append((part, offs[part], key, eid, "x"))
        offs[part] += 1
    return out


ALL = ("e1", "e2", "e3", "e4", "m1", "m2", "m3", "m4")


class FakeCursor:
    """Answers the read-model and moderation queries of verify.py from fixed rows."""

    def __init__(self, effects=None, agg=None, decisions=None):
        self.effects = effects or []  # (n, kind, aggregate, seq, event id)
        self.agg = agg or {}
        self.decisions = decisions or {}
        self.rows = []
        self.connection = self

    def rollback(self):
        pass

    def execute(self, q, params=None):
        if "GROUP BY 1, 2" in q:
            c = {}
            for _, kind, _, _, eid in self.effects:
                c[(eid, kind)] = c.get((eid, kind), 0) + 1
            self.rows = [(e, k, n) for (e, k), n in c.items()]
        elif "array_agg" in q:
            per = {}
            for n, kind, agg, seq, _ in sorted(self.effects):
                if kind == "created":
                    per.setdefault(agg, []).append(seq)
            self.rows = list(per.items())
        elif ".agg" in q:
            self.rows = [(k,) + v for k, v in self.agg.items()]
        elif "moderation_decisions" in q:
            self.rows = [(c,) + v for c, v in self.decisions.items()]
        else:
            raise AssertionError("unexpected query " + q)

    def fetchall(self):
        return self.rows


def clean_effects():
    return [(1, "created", A, 1, "e1"), (2, "created", B, 1, "e4"), (3, "created", A, 2, "e2"),
            (4, "moderated", A, None, "m1"), (5, "created", A, 3, "e3"), (6, "moderated", A, None, "m2"),
            (7, "moderated", A, None, "m3"), (8, "moderated", B, None, "m4")]


def clean_agg():
    return {A: (3, 6, 3, 2, 1, 0), B: (1, 1, 1, 1, 0, 0)}


def clean_decisions():
    return {"c1": ("APPROVED", None, 1, "m1"), "c2": ("REJECTED", "mentions oranges", 1, "m2"),
            "c3": ("APPROVED", None, 1, "m3"), "c4": ("APPROVED", None, 1, "m4")}


class KafkaChecks(unittest.TestCase):
    def run_check(self, recs):
        v = []
        n, dups = verify.check_kafka(truth(), recs, v)
        return v, dups

    def test_clean(self):
        v, dups = self.run_check(records(*ALL))
        self.assertEqual(v, [])
        self.assertEqual(dups, 0)

    def test_redelivered_suffix_is_duplicates_not_disorder(self):
        v, dups = self.run_check(records("e1", "e2", "e3", "e2", "e3", "e4", "m1", "m2", "m3", "m4"))
        self.assertEqual(v, [])
        self.assertEqual(dups, 2)

    def test_lost_event(self):
        v, _ = self.run_check(records("e1", "e3", "e4", "m1", "m2", "m3", "m4"))
        self.assertTrue(any("never reached the topic" in x and "#2" in x for x in v), v)

    def test_unknown_event(self):
        recs = records(*ALL) + [(2, 99, "k", "ghost", "x")]
        v, _ = self.run_check(recs)
        self.assertTrue(any("in no committed outbox row" in x for x in v), v)

    def test_reordered_first_delivery(self):
        v, _ = self.run_check(records("e1", "e3", "e2", "e4", "m1", "m2", "m3", "m4"))
        self.assertTrue(any(x.startswith("kafka order: aggregate post-a") for x in v), v)

    def test_key_on_two_partitions(self):
        recs = records(*ALL)
        recs[3] = (0, 99, B, "e4", "x")  # post-b's event on post-a's partition too
        recs.append((1, 5, B, "e4", "x"))
        v, _ = self.run_check(recs)
        self.assertTrue(any("on partitions [0, 1]" in x for x in v), v)


class ReadModelChecks(unittest.TestCase):
    def run_check(self, effects, agg):
        v = []
        verify.check_read_model(truth(), FakeCursor(effects, agg), "s", v)
        return v

    def test_clean(self):
        self.assertEqual(self.run_check(clean_effects(), clean_agg()), [])

    def test_applied_twice(self):
        e = clean_effects() + [(9, "created", A, 3, "e3")]
        v = self.run_check(e, clean_agg())
        self.assertTrue(any("applied more than once" in x for x in v), v)

    def test_never_applied(self):
        e = [x for x in clean_effects() if x[4] != "m4"]
        v = self.run_check(e, clean_agg())
        self.assertTrue(any("never applied" in x for x in v), v)

    def test_out_of_order(self):
        e = clean_effects()
        e[2], e[4] = (5, "created", A, 2, "e2"), (3, "created", A, 3, "e3")
        v = self.run_check(e, clean_agg())
        self.assertTrue(any("applied #2 after #3" in x for x in v), v)

    def test_aggregate_differs_from_model(self):
        agg = clean_agg()
        agg[B] = (1, 1, 1, 0, 1, 0)  # rejected where the outbox says approved
        v = self.run_check(clean_effects(), agg)
        self.assertTrue(any("aggregate post-b" in x for x in v), v)

    def test_order_breaks_counted_by_the_projection(self):
        agg = clean_agg()
        agg[A] = (3, 6, 3, 2, 1, 1)
        v = self.run_check(clean_effects(), agg)
        self.assertTrue(any("aggregate post-a" in x for x in v), v)


class ModerationChecks(unittest.TestCase):
    def run_check(self, decisions, t=None):
        v = []
        verify.check_moderation(t or truth(), FakeCursor(decisions=decisions), "s", v)
        return v

    def test_clean(self):
        self.assertEqual(self.run_check(clean_decisions()), [])

    def test_missing_decision(self):
        d = clean_decisions()
        del d["c3"]
        v = self.run_check(d)
        self.assertTrue(any("without a decision" in x for x in v), v)

    def test_handled_twice_or_wrong(self):
        d = clean_decisions()
        d["c1"] = ("APPROVED", None, 2, "m1")
        d["c2"] = ("APPROVED", None, 1, "m2")
        v = self.run_check(d)
        self.assertTrue(any("2 wrong or repeated decisions" in x for x in v), v)

    def test_two_moderated_rows_for_one_comment(self):
        t = truth()
        t.moderated["m5"] = ("c1", A, "APPROVED", None)
        v = self.run_check(clean_decisions(), t)
        self.assertTrue(any("more than one CommentModerated" in x for x in v), v)


if __name__ == "__main__":
    unittest.main(verbosity=2)
