"""Writers: the application side of a chaos run. Each writer thread owns a few aggregates
(blog posts; a CommentCreated event's aggregate is its post) and commits transactions at a
steady rate: 1 to ~25 events each, spread over its aggregates, every event carrying the next
number of its aggregate's sequence (text "... #<seq>", header chaos_seq). Some texts mention
oranges, which the moderation service rejects.

Events go through the outbox table, or, when the relay publishes logical messages, part of
them through pg_logical_emit_message() with a shadow row (chaos schema, same transaction)
that records what was committed: the checks read the truth from the outbox and the shadow
table, never from what the writer believes.

A writer connects straight to PostgreSQL (it is the application, not a component under test).
When a transaction fails (the server restarts, a COMMIT whose outcome is unknown) it
reconnects and re-reads its aggregates' last committed numbers before going on, so every
aggregate's sequence has no gap and no repeat, whatever happened.
"""
import json
import random
import threading
import time
import uuid

import psycopg2

ORANGE_EVERY = 7  # about one text in ORANGE_EVERY mentions oranges


def event_text(agg_index, seq, orange):
    word = "Oranges are the best, says" if orange else "Nice post, says"
    return "%s reader %d of post %d, comment #%d" % (word, seq % 17, agg_index, seq)


class Writer(threading.Thread):
    def __init__(self, run, index, aggregates, rng_seed):
        super().__init__(name="writer-%d" % index, daemon=True)
        self.run_ = run
        self.index = index
        self.aggregates = aggregates  # list of (agg_index, post uuid)
        self.rng = random.Random(rng_seed)
        self.seq = {}
        self.conn = None
        self.committed_txns = 0
        self.committed_events = 0
        self.failed_txns = 0
        self.stop_event = threading.Event()
        self.error = None
        self.probe = False
        self.last_comment = None

    # -- connection and reconciliation
    def _connect(self):
        while not self.stop_event.is_set():
            try:
                conn = psycopg2.connect(self.run_.app_dsn, connect_timeout=5)
                conn.autocommit = False
                self.conn = conn
                self._reconcile()
                return True
            except psycopg2.Error:
                self._close()
                time.sleep(0.5)
        return False

    def _close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def _reconcile(self):
        ids = [str(p) for _, p in self.aggregates]
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT aggregate_id, max(seq) FROM ("
                " SELECT aggregate_id, (headers->>'chaos_seq')::int AS seq FROM public.outbox"
                "  WHERE aggregate_id = ANY(%s) AND event_type = 'CommentCreated'"
                " UNION ALL SELECT aggregate_id, seq FROM " + self.run_.app_schema + ".shadow"
                "  WHERE aggregate_id = ANY(%s)) s GROUP BY 1", (ids, ids))
            got = dict(cur.fetchall())
        self.conn.rollback()
        for _, p in self.aggregates:
            self.seq[str(p)] = got.get(str(p)) or 0

    # -- one transaction
    def _txn_size(self):
        r = self.rng.random()
        if r < 0.5:
            return 1
        if r < 0.85:
            return self.rng.randint(2, 5)
        return self.rng.randint(10, 25)

    def _one_txn(self, size=None):
        size = size or self._txn_size()
        plan = []
        next_seq = dict(self.seq)
        for _ in range(size):
            agg_index, post = self.rng.choice(self.aggregates)
            post = str(post)
            next_seq[post] += 1
            seq = next_seq[post]
            orange = self.rng.randrange(ORANGE_EVERY) == 0
            via_message = self.run_.messages and not self.probe and self.rng.random() < 0.3
            event_id = str(uuid.uuid4())  # ids are unique across runs; the shape follows the seed
            comment_id = str(uuid.uuid4())
            payload = {
                "comment_id": comment_id,
                "post_id": post,
                "author_id": "writer-%d" % self.index,
                "author_name": "Chaos Writer %d" % self.index,
                "text": event_text(agg_index, seq, orange),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            }
            plan.append((event_id, post, seq, payload, via_message))
        self.last_comment = plan[-1][3]["comment_id"]
        schema = self.run_.app_schema
        with self.conn.cursor() as cur:
            for event_id, post, seq, payload, via_message in plan:
                headers = json.dumps({"chaos_seq": str(seq)})
                if via_message:
                    envelope = {"id": event_id, "aggregate_type": "comment", "aggregate_id": post,
                                "event_type": "CommentCreated", "payload": payload,
                                "headers": {"chaos_seq": str(seq)}}
                    cur.execute("SELECT pg_logical_emit_message(true, %s, %s)",
                                (self.run_.message_prefix, json.dumps(envelope)))
                    cur.execute("INSERT INTO " + schema + ".shadow (id, aggregate_id, seq, payload)"
                                " VALUES (%s, %s, %s, %s)", (event_id, post, seq, json.dumps(payload)))
                else:
                    cur.execute(
                        "INSERT INTO public.outbox (id, aggregate_type, aggregate_id, event_type, payload, headers)"
                        " VALUES (%s, 'comment', %s, 'CommentCreated', %s, %s)",
                        (event_id, post, json.dumps(payload), headers))
        self.conn.commit()
        self.seq = next_seq
        self.committed_txns += 1
        self.committed_events += len(plan)

    def run(self):
        period = self.run_.txn_period
        try:
            if not self._connect():
                return
            next_at = time.monotonic()
            while not self.stop_event.is_set():
                try:
                    self._one_txn()
                except psycopg2.Error:
                    # Outcome unknown (e.g. the server went away during COMMIT): the outbox
                    # tells what committed once the server is back.
                    self.failed_txns += 1
                    self._close()
                    time.sleep(0.3)
                    if not self._connect():
                        return
                next_at += period * self.rng.uniform(0.5, 1.5)
                delay = next_at - time.monotonic()
                if delay > 0:
                    self.stop_event.wait(delay)
                else:
                    next_at = time.monotonic()
        except Exception as e:  # a bug in the writer itself: the run reports it
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self._close()

    def stop(self):
        self.stop_event.set()

    def write_probe(self, deadline):
        """Commits one event now (not in the thread): the recovery probe. Returns its comment
        id, or None when it could not commit before the deadline (monotonic seconds)."""
        while time.monotonic() < deadline:
            try:
                if self.conn is None:
                    self.conn = psycopg2.connect(self.run_.app_dsn, connect_timeout=5)
                    self._reconcile()
                self._one_txn(1)
                return self.last_comment
            except psycopg2.Error:
                self._close()
                time.sleep(0.5)
        return None


def probe_writer(run, rng):
    """A writer of one aggregate of its own, driven by the runner (not a thread)."""
    w = Writer(run, 99, [(99, uuid.uuid4())], rng.getrandbits(64))
    w.probe = True
    return w


def start_writers(run, n_writers, aggs_per_writer, rng):
    writers = []
    agg_index = 0
    for w in range(n_writers):
        aggs = []
        for _ in range(aggs_per_writer):
            aggs.append((agg_index, uuid.uuid4()))
            agg_index += 1
        writers.append(Writer(run, w, aggs, rng.getrandbits(64)))
    for w in writers:
        w.start()
    return writers
