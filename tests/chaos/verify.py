"""The checks of a chaos run, against the truth: the outbox table (and the shadow table of the
logical-message events), read after the run. Nothing here trusts what the components or the
writers report about themselves.

  kafka       every committed event on its topic at least once, nothing else on it; per
              aggregate one partition and, in first-delivery order, its sequence 1..n
  read model  the projection's effects log has each event exactly once; per aggregate its
              CommentCreated effects in sequence order; the aggregate table equals the model
              computed here from the outbox (counts, sums, last number, decisions)
  moderation  exactly one decision per comment (handled once), the decision the text calls
              for, exactly one CommentModerated outbox row per comment, equal to its decision
  dead letters none: no record on any of the run's .dlq topics, no projector_dead_letters row
"""
import collections
import time

from confluent_kafka import Consumer, TopicPartition


class Truth:
    """What committed, read from the application database after the run."""

    def __init__(self, app_cur, schema):
        app_cur.execute(
            "SELECT id::text, aggregate_id, event_type, (headers->>'chaos_seq')::int, payload"
            " FROM public.outbox ORDER BY created_at")
        rows = app_cur.fetchall()
        app_cur.execute("SELECT id::text, aggregate_id, seq, payload FROM " + schema + ".shadow")
        shadow = app_cur.fetchall()
        # created: event id -> (post, seq, comment_id, text, path)
        self.created = {}
        self.moderated = {}  # event id -> (comment_id, post_id, decision, reason)
        self.other = {}
        for eid, agg, etype, seq, payload in rows:
            if etype == "CommentCreated":
                self.created[eid] = (agg, seq, payload["comment_id"], payload["text"], "table")
            elif etype == "CommentModerated":
                self.moderated[eid] = (payload["comment_id"], payload["post_id"], payload["decision"],
                                       payload.get("reason"))
            else:
                self.other[eid] = (agg, etype)
        for eid, agg, seq, payload in shadow:
            self.created[eid] = (agg, seq, payload["comment_id"], payload["text"], "message")
        self.by_comment = {v[2]: (eid, v) for eid, v in self.created.items()}
        self.posts = sorted({v[0] for v in self.created.values()})
        app_cur.connection.rollback()

    def all_ids(self):
        return set(self.created) | set(self.moderated) | set(self.other)

    def model(self):
        """post -> (events, seq_sum, last_seq, approved, rejected), from the outbox alone."""
        m = {}
        for agg, seq, _, _, _ in self.created.values():
            e, s, last, a, r = m.get(agg, (0, 0, 0, 0, 0))
            m[agg] = (e + 1, s + seq, max(last, seq), a, r)
        for _, post, decision, _ in self.moderated.values():
            e, s, last, a, r = m.get(post, (0, 0, 0, 0, 0))
            m[post] = (e, s, last, a + (decision == "APPROVED"), r + (decision == "REJECTED"))
        return m


def read_topic(bootstrap, topic, timeout=60):
    """Every record of the topic: list of (partition, offset, key, id, event_type)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-verify", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        md = c.list_topics(topic, timeout=30)
        parts = sorted(md.topics[topic].partitions)
        ends = {}
        for p in parts:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            if hi > lo:
                ends[p] = hi
        c.assign([TopicPartition(topic, p, 0) for p in ends])
        out = []
        pending = dict(ends)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None or m.error():
                continue
            h = dict(m.headers() or [])
            key = m.key().decode() if m.key() else None
            out.append((m.partition(), m.offset(), key, (h.get("id") or b"").decode(),
                        (h.get("event_type") or b"").decode()))
            if m.offset() + 1 >= pending.get(m.partition(), 0):
                pending.pop(m.partition(), None)
        if pending:
            raise RuntimeError("could not read %s to its end in %ds (left: %s)" % (topic, timeout, pending))
        return out
    finally:
        c.close()


def end_offsets(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-verify"})
    try:
        md = c.list_topics(topic, timeout=30)
        out = {}
        for p in md.topics[topic].partitions:
            out[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
        return out
    finally:
        c.close()


def dlq_records(bootstrap, prefix):
    """Records on the run's dead-letter topics: {topic: count}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-verify"})
    try:
        md = c.list_topics(timeout=30)
        out = {}
        for t, tm in md.topics.items():
            if t.startswith(prefix) and t.endswith(".dlq") or t == "outbox.dlq":
                n = 0
                for p in tm.partitions:
                    lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=30)
                    n += hi - lo
                if n:
                    out[t] = n
        return out
    finally:
        c.close()


def check_kafka(truth, records, violations):
    """Returns (records, duplicates)."""
    seen = collections.Counter(r[3] for r in records)
    ids = truth.all_ids()
    missing = ids - set(seen)
    if missing:
        ex = sorted(missing)[:3]
        violations.append("kafka: %d committed events never reached the topic (e.g. %s: %s)"
                          % (len(missing), ex[0], describe(truth, ex[0])))
    unknown = set(seen) - ids
    if unknown:
        violations.append("kafka: %d records whose id is in no committed outbox row (e.g. %s)"
                          % (len(unknown), sorted(unknown)[:3]))
    # Per aggregate: one partition, first deliveries in sequence order 1..n.
    parts = collections.defaultdict(set)
    firsts = collections.defaultdict(list)
    first_seen = set()
    for part, off, key, eid, etype in sorted(records, key=lambda r: (r[0], r[1])):
        if eid not in truth.created:
            continue
        parts[key].add(part)
        if eid in first_seen:
            continue
        first_seen.add(eid)
        firsts[key].append(truth.created[eid][1])
    for key, ps in parts.items():
        if len(ps) > 1:
            violations.append("kafka order: aggregate %s on partitions %s (one key, one partition)" % (key, sorted(ps)))
    for key, seqs in firsts.items():
        want = sorted(s for a, s, _, _, _ in truth.created.values() if a == key)
        if seqs != want:
            i = next((k for k, (a, b) in enumerate(zip(seqs, want)) if a != b), min(len(seqs), len(want)))
            violations.append("kafka order: aggregate %s: first deliveries %s... where the outbox has %s... (from position %d)"
                              % (key, seqs[max(0, i - 2):i + 3], want[max(0, i - 2):i + 3], i))
    dups = sum(n - 1 for n in seen.values() if n > 1)
    return len(records), dups


def describe(truth, eid):
    if eid in truth.created:
        agg, seq, _, _, path = truth.created[eid]
        return "CommentCreated %s #%d via %s" % (agg, seq, path)
    if eid in truth.moderated:
        return "CommentModerated of comment %s" % truth.moderated[eid][0]
    return "other"


def check_read_model(truth, read_cur, schema, violations):
    read_cur.execute("SELECT event_id::text, kind, count(*) FROM " + schema + ".effects GROUP BY 1, 2")
    counts = {(eid, kind): n for eid, kind, n in read_cur.fetchall()}
    want = {(eid, "created") for eid in truth.created} | {(eid, "moderated") for eid in truth.moderated}
    missing = want - set(counts)
    twice = {k: n for k, n in counts.items() if n > 1}
    stray = set(counts) - want
    if missing:
        ex = sorted(missing)[0]
        violations.append("read model: %d events never applied (e.g. %s %s: %s)"
                          % (len(missing), ex[1], ex[0], describe(truth, ex[0])))
    if twice:
        ex = sorted(twice)[0]
        violations.append("read model: %d events applied more than once (e.g. %s %s applied %d times: %s)"
                          % (len(twice), ex[1], ex[0], twice[ex], describe(truth, ex[0])))
    if stray:
        violations.append("read model: %d effects of events in no outbox row (e.g. %s)" % (len(stray), sorted(stray)[0]))
    # Order: per aggregate, CommentCreated effects in sequence order.
    read_cur.execute("SELECT aggregate_id, array_agg(seq ORDER BY n) FROM " + schema + ".effects"
                     " WHERE kind = 'created' GROUP BY 1")
    for agg, seqs in read_cur.fetchall():
        if seqs != sorted(seqs):
            i = next(k for k in range(1, len(seqs)) if seqs[k] < seqs[k - 1])
            violations.append("read model order: aggregate %s applied #%d after #%d" % (agg, seqs[i], seqs[i - 1]))
    # The aggregate table against the model computed from the outbox.
    read_cur.execute("SELECT aggregate_id, events, seq_sum, last_seq, approved, rejected, order_breaks FROM "
                     + schema + ".agg")
    got = {r[0]: r[1:] for r in read_cur.fetchall()}
    model = truth.model()
    for post in sorted(set(got) | set(model)):
        g = got.get(post)
        m = model.get(post)
        if g is None or m is None or tuple(g[:5]) != m or g[5] != 0:
            violations.append("read model: aggregate %s is (events, seq sum, last, approved, rejected, order breaks) %s,"
                              " the outbox says %s with 0 breaks" % (post, g, m))
    read_cur.connection.rollback()


def check_moderation(truth, app_cur, schema, violations):
    app_cur.execute("SELECT comment_id::text, decision, reason, handled, moderated_event_id::text FROM "
                    + schema + ".moderation_decisions")
    decisions = {r[0]: r[1:] for r in app_cur.fetchall()}
    app_cur.connection.rollback()
    bad_decision = []
    for cid, (eid, (_, _, _, text, _)) in truth.by_comment.items():
        d = decisions.get(cid)
        if d is None:
            continue
        want = "REJECTED" if "orange" in text.lower() else "APPROVED"
        if d[0] != want or d[2] != 1:
            bad_decision.append((cid, d, want))
    missing = set(truth.by_comment) - set(decisions)
    if missing:
        violations.append("moderation: %d comments without a decision (e.g. %s)" % (len(missing), sorted(missing)[0]))
    if bad_decision:
        cid, d, want = bad_decision[0]
        violations.append("moderation: %d wrong or repeated decisions (e.g. comment %s: %s, handled %d; wanted %s once)"
                          % (len(bad_decision), cid, d[0], d[2], want))
    per_comment = collections.Counter(v[0] for v in truth.moderated.values())
    twice = {c: n for c, n in per_comment.items() if n > 1}
    if twice:
        violations.append("moderation: %d comments with more than one CommentModerated outbox row (e.g. %s: %d)"
                          % (len(twice), next(iter(twice)), next(iter(twice.values()))))
    unmatched = [eid for eid, (cid, _, dec, _) in truth.moderated.items()
                 if cid not in decisions or decisions[cid][3] != eid or decisions[cid][0] != dec]
    if unmatched:
        violations.append("moderation: %d CommentModerated outbox rows that are not their comment's decision (e.g. %s)"
                          % (len(unmatched), unmatched[0]))


def check_dead_letters(dlq, app_cur, read_cur, app_schema, projection, consumer, violations):
    for t, n in sorted(dlq.items()):
        violations.append("dead letters: %d records on %s (all events of the run are valid)" % (n, t))
    read_cur.execute("SELECT count(*), min(reason) FROM public.projector_dead_letters WHERE projection = %s", (projection,))
    n, reason = read_cur.fetchone()
    read_cur.connection.rollback()
    if n:
        violations.append("dead letters: projector dead-lettered %d events (e.g. %s)" % (n, reason))
    app_cur.execute("SELECT count(*), min(reason) FROM " + app_schema + ".projector_dead_letters WHERE projection = %s",
                    (consumer,))
    n, reason = app_cur.fetchone()
    app_cur.connection.rollback()
    if n:
        violations.append("dead letters: moderation dead-lettered %d events (e.g. %s)" % (n, reason))
