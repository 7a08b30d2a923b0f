#!/usr/bin/python3
"""Seeded chaos runs over the whole pipeline (run through compose/chaos, which brings up the
run's own stack and passes its connection settings in the environment).

Per seed: writers commit CommentCreated events at a steady rate (several aggregates, a
sequence per aggregate, transactions of 1 to ~25 events, the table path and, when the relay
publishes them, logical messages) while outbox-relay publishes them, outbox-moderation
decides on each comment (a CommentModerated back through the outbox) and outbox-projector
applies both to a read model whose every effect is logged. Faults drawn from the seed
(faults.py) hit the components, the broker, PostgreSQL, the registry and the network between
them, one after the other; after each, a probe event's round trip (writer -> relay ->
moderation -> relay -> projector) measures the recovery. Then the writers stop, the pipeline
must drain to zero lag within a bound, and verify.py checks everything against the outbox.

Exit status: 0 no violation, 1 a violation (each is printed, named), 2 the run itself failed
(setup, a bug here).
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback
import uuid

import psycopg2
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faults  # noqa: E402
import proxy  # noqa: E402
import services  # noqa: E402
import verify  # noqa: E402
import workload  # noqa: E402

SESSION_TIMEOUT_MS = 6000


def env(name, default=None):
    v = os.environ.get(name, default)
    if v is None:
        sys.exit("chaos: %s is not set (run through compose/chaos)" % name)
    return v


class Run:
    """Settings and shared handles of the whole run (all seeds)."""

    def __init__(self, args):
        self.args = args
        self.source = env("OUTBOX_SOURCE_DIR")
        self.build = env("OUTBOX_BUILD_DIR")
        self.state = env("OUTBOX_STATE_DIR")
        self.stack_script = os.path.join(self.source, "compose", "stack")
        self.stack_env = dict(os.environ)
        self.pg_port = int(env("OUTBOX_PG_PORT"))
        self.kafka = env("OUTBOX_KAFKA")
        self.registry = os.environ.get("OUTBOX_REGISTRY_URL", "")
        # The proxies: {"relay-pg": [host, port, upstream port], "relay-kafka": ..., ...}; the
        # Kafka ones forward to the component's own broker listener.
        self.links = json.loads(env("OUTBOX_CHAOS_LINKS"))
        self.app_dsn = "host=127.0.0.1 port=%d dbname=blog user=postgres" % self.pg_port
        self.read_dsn = "host=127.0.0.1 port=%d dbname=blog_read user=postgres" % self.pg_port
        self.bin = {
            "relay": os.path.join(self.build, "relay", "outbox-relay"),
            "projector": os.path.join(self.build, "projector", "outbox-projector"),
            "moderation": os.path.join(self.build, "consumers", "outbox-moderation"),
        }
        for b in self.bin.values():
            if not os.access(b, os.X_OK):
                sys.exit("chaos: %s is not built (OUTBOX_BUILD_DIR=%s)" % (b, self.build))
        self.message_prefix = "outbox"
        self.messages, self.messages_how = self._messages_mode(args.messages)
        self.proxies = None
        self.services = {}
        n_events_per_txn = 0.5 * 1 + 0.35 * 3.5 + 0.15 * 17.5
        self.txn_period = args.writers * n_events_per_txn / args.rate
        self.app_schema = None

    def _messages_mode(self, wanted):
        """Whether this relay publishes logical messages: a relay with the opt-in key gets it
        on (this run's config); one without the key always reads them."""
        helptext = subprocess.run([self.bin["relay"], "--help"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT).stdout.decode(errors="replace")
        self.messages_key = "outbox.logical-messages" in helptext
        if wanted == "off":
            return False, "off (--messages off)"
        if self.messages_key:
            return True, "on (outbox.logical-messages = true)"
        if "outbox.message-prefix" in helptext:
            return True, "on (this relay always publishes them)"
        return False, "off (this relay has no logical-message path)"

    def sleep(self, secs):
        time.sleep(secs)

    def start_supervisor(self):
        def report(svc, rc):
            log("    %s exited by itself (%s); restarted" % (svc.name, exit_text(rc)))
        self.supervisor = services.Supervisor(lambda: list(self.services.values()), report)
        self.supervisor.start()


def exit_text(rc):
    if rc is None:
        return "killed after the stop timeout"
    if rc < 0:
        return "signal %d" % -rc
    return "status %d" % rc


def log(msg):
    print("[chaos %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def sql(dsn, statements, params=None, fetch=False):
    conn = psycopg2.connect(dsn, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statements, params)
            return cur.fetchall() if fetch else None
    finally:
        conn.close()


def try_sql(dsn, statement, params=None):
    try:
        return sql(dsn, statement, params, fetch=True)
    except psycopg2.Error:
        return None


class Seed:
    """One seed: its names, configs, services, faults and results."""

    def __init__(self, run, seed):
        self.run = run
        self.seed = seed
        self.tag = "s%d_%s" % (seed, uuid.uuid4().hex[:6])
        self.schema = "chaos_" + self.tag
        self.topic = "chaos.%s.comment" % self.tag
        self.slot = "chaos_" + self.tag
        self.projection = "chaos_" + self.tag
        self.consumer = "moderation_" + self.tag
        self.dir = os.path.join(run.state, "chaos", "seed-%d" % seed)
        os.makedirs(self.dir, exist_ok=True)
        self.rng = random.Random("chaos-workload-%d" % seed)
        self.faults = faults.schedule(seed, run.args.faults)
        self.violations = []
        self.lag_zero_after = None
        self.stop_status = {}

    # ------------------------------------------------------------------ setup
    def setup_databases(self):
        s = self.schema
        sql(self.run.app_dsn, "TRUNCATE public.outbox")
        sql(self.run.app_dsn,
            "CREATE SCHEMA %s; SET search_path = %s, public;"
            "CREATE TABLE shadow (id uuid PRIMARY KEY, aggregate_id text NOT NULL, seq int NOT NULL,"
            " payload jsonb NOT NULL);" % (s, s)
            + open(os.path.join(self.run.source, "sql", "projector.sql")).read()
            + open(os.path.join(self.run.source, "sql", "moderation.sql")).read())
        sql(self.run.read_dsn,
            "CREATE SCHEMA {s};"
            "CREATE TABLE {s}.effects (n bigserial PRIMARY KEY, kind text NOT NULL, aggregate_id text NOT NULL,"
            " seq int, comment_id uuid NOT NULL, event_id uuid NOT NULL, decision text);"
            "CREATE TABLE {s}.agg (aggregate_id text PRIMARY KEY, events int NOT NULL DEFAULT 0,"
            " seq_sum bigint NOT NULL DEFAULT 0, last_seq int NOT NULL DEFAULT 0,"
            " approved int NOT NULL DEFAULT 0, rejected int NOT NULL DEFAULT 0,"
            " order_breaks int NOT NULL DEFAULT 0);"
            "GRANT USAGE ON SCHEMA {s} TO outbox_projector;"
            "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {s} TO outbox_projector;"
            "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO outbox_projector;".format(s=s))

    def create_topics(self):
        admin = AdminClient({"bootstrap.servers": self.run.kafka, "log_level": 3})
        fs = admin.create_topics([NewTopic(self.topic, 3, 1)])
        for f in fs.values():
            f.result(60)

    def write_configs(self):
        r = self.run
        links = r.links
        registry = "[registry]\nurl = %s\n" % r.registry
        kafka_consumer = "session.timeout.ms = %d\nheartbeat.interval.ms = 1000\n" % SESSION_TIMEOUT_MS
        messages = "logical-messages = true\n" if (r.messages and r.messages_key) else ""
        schemas = os.path.join(r.source, "schemas")
        conf = {
            "relay": """[postgres]
conninfo = host={pgh} port={pg} dbname=blog user=outbox_relay connect_timeout=10
slot = {slot}
create-publication = false

[outbox]
topic = chaos.{tag}.${{aggregate_type}}
{messages}
[avro]
schema-dir = {schemas}

[relay]
status-interval = 1s
shutdown-timeout = 20s

[http]
listen = 127.0.0.1:0

{registry}
[kafka]
bootstrap.servers = {kafka}
client.id = chaos-relay
""".format(pgh=links["relay-pg"][0], pg=links["relay-pg"][1], slot=self.slot, tag=self.tag, messages=messages,
           registry=registry, kafka="%s:%d" % tuple(links["relay-kafka"][:2]), schemas=schemas),
            "projector": """[postgres]
conninfo = host={pgh} port={pg} dbname=blog_read user=outbox_projector connect_timeout=10

[avro]
schema-dir = {schemas}

[projector]
batch-linger = 20ms
retry-backoff-max = 2s

[http]
listen = 127.0.0.1:0

{registry}
[kafka]
bootstrap.servers = {kafka}
{kc}
[projection {proj}]
topics = {topic}
tables = {s}.effects, {s}.agg
sql.CommentCreated = WITH e AS (
      INSERT INTO {s}.effects (kind, aggregate_id, seq, comment_id, event_id)
      VALUES ('created', $4, (substring($1->>'text' from '#([0-9]+)$'))::int, ($1->>'comment_id')::uuid, $2)
      RETURNING seq)
    INSERT INTO {s}.agg AS a (aggregate_id, events, seq_sum, last_seq, order_breaks)
    SELECT $4, 1, seq, seq, (seq <> 1)::int FROM e
    ON CONFLICT (aggregate_id) DO UPDATE SET events = a.events + 1, seq_sum = a.seq_sum + EXCLUDED.seq_sum,
      order_breaks = a.order_breaks + (EXCLUDED.last_seq <> a.last_seq + 1)::int, last_seq = EXCLUDED.last_seq
sql.CommentModerated = WITH e AS (
      INSERT INTO {s}.effects (kind, aggregate_id, comment_id, event_id, decision)
      VALUES ('moderated', $1->>'post_id', ($1->>'comment_id')::uuid, $2, $1->>'decision')
      RETURNING decision)
    INSERT INTO {s}.agg AS a (aggregate_id, approved, rejected)
    SELECT $1->>'post_id', (decision = 'APPROVED')::int, (decision = 'REJECTED')::int FROM e
    ON CONFLICT (aggregate_id) DO UPDATE SET approved = a.approved + EXCLUDED.approved,
      rejected = a.rejected + EXCLUDED.rejected
""".format(pgh=links["projector-pg"][0], pg=links["projector-pg"][1], registry=registry,
           kafka="%s:%d" % tuple(links["projector-kafka"][:2]), kc=kafka_consumer,
           proj=self.projection, topic=self.topic, s=self.schema, schemas=schemas),
            "moderation": """[postgres]
conninfo = host={pgh} port={pg} dbname=blog user=outbox_moderation connect_timeout=10 options='-c search_path={s},public'

[avro]
schema-dir = {schemas}

[consumer]
name = {name}
topics = {topic}
batch-linger = 20ms
retry-backoff-max = 2s

[moderation]
word = orange
reason = mentions oranges
outbox-table = public.outbox

[http]
listen = off

{registry}
[kafka]
bootstrap.servers = {kafka}
{kc}""".format(pgh=links["moderation-pg"][0], pg=links["moderation-pg"][1], s=self.schema, name=self.consumer,
               topic=self.topic, registry=registry, kafka="%s:%d" % tuple(links["moderation-kafka"][:2]),
               kc=kafka_consumer, schemas=schemas),
        }
        for name, text in conf.items():
            with open(os.path.join(self.dir, name + ".ini"), "w") as f:
                f.write(text)

    def start_services(self):
        r = self.run
        pid_dir = os.path.join(r.state, "chaos")
        r.services = {}
        names = [("relay", "relay")]
        for kind in ("moderation", "projector"):
            names.append((kind, kind))
            # A second member of the same consumer group: it takes the partitions over while the
            # first is killed or stopped (and the first may come back with a batch still open).
            names += [("%s-%s" % (kind, chr(ord("b") + i)), kind) for i in range(r.args.instances - 1)]
        for name, kind in names:
            svc = services.Service(name, [r.bin[kind], "-c", os.path.join(self.dir, kind + ".ini")],
                                   os.path.join(self.dir, name + ".log"), pid_dir)
            r.services[name] = svc
        r.services["relay"].start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = try_sql(r.app_dsn, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (self.slot,))
            if got and got[0][0]:
                break
            if not r.services["relay"].running():
                raise RuntimeError("outbox-relay exited at start (log: %s)" % r.services["relay"].log_path)
            time.sleep(0.2)
        else:
            raise RuntimeError("outbox-relay did not start streaming in 60 s (log: %s)" % r.services["relay"].log_path)
        for name, svc in r.services.items():
            if name != "relay":
                svc.start()

    # ------------------------------------------------------------------ measuring
    def probe_round_trip(self, probe, bound):
        """Writes a probe event and waits for its moderation to reach the read model."""
        t0 = time.monotonic()
        deadline = t0 + bound
        comment = probe.write_probe(deadline)
        if comment is None:
            return None
        while time.monotonic() < deadline:
            got = try_sql(self.run.read_dsn, "SELECT count(*) FROM %s.effects WHERE comment_id = %%s AND kind = 'moderated'"
                          % self.schema, (comment,))
            if got and got[0][0] > 0:
                return time.monotonic() - t0
            time.sleep(0.25)
        return None

    def lag(self):
        """Returns None when the pipeline is drained (zero lag everywhere), else what is behind."""
        r = self.run
        app = try_sql(r.app_dsn, "SELECT (SELECT count(*) FROM public.outbox WHERE event_type = 'CommentCreated')"
                      " + (SELECT count(*) FROM {s}.shadow),"
                      " (SELECT count(*) FROM public.outbox WHERE event_type = 'CommentModerated'),"
                      " (SELECT count(*) FROM {s}.moderation_decisions),"
                      " (SELECT coalesce(json_object_agg(partition, next_offset), '{{}}') FROM {s}.projector_offsets"
                      "   WHERE projection = %s)".format(s=self.schema), (self.consumer,))
        read = try_sql(r.read_dsn, "SELECT count(DISTINCT event_id) FILTER (WHERE kind = 'created'),"
                       " count(DISTINCT event_id) FILTER (WHERE kind = 'moderated'),"
                       " (SELECT coalesce(json_object_agg(partition, next_offset), '{{}}') FROM public.projector_offsets"
                       "   WHERE projection = %s) FROM {s}.effects".format(s=self.schema), (self.projection,))
        if not app or not read:
            return "the database does not answer"
        created, moderated, decisions, mod_offsets = app[0]
        applied_created, applied_moderated, proj_offsets = read[0]
        try:
            ends = verify.end_offsets(r.kafka, self.topic)
        except Exception as e:
            return "Kafka does not answer (%s)" % e
        behind = []
        if decisions < created:
            behind.append("moderation %d/%d" % (decisions, created))
        if moderated < created:
            behind.append("CommentModerated rows %d/%d" % (moderated, created))
        if applied_created < created or applied_moderated < moderated:
            behind.append("read model %d/%d created, %d/%d moderated" % (applied_created, created, applied_moderated, moderated))
        for who, offs in (("moderation", mod_offsets), ("projector", proj_offsets)):
            lagging = {p: e - int(offs.get(str(p), 0)) for p, e in ends.items() if e > int(offs.get(str(p), 0))}
            if lagging:
                behind.append("%s offsets behind %s" % (who, lagging))
        return "; ".join(behind) or None

    # ------------------------------------------------------------------ the run
    def run_faults(self, probe):
        args = self.run.args
        for f in self.faults:
            self.run.sleep(f.gap)
            log("  fault %d/%d: %s" % (f.index, len(self.faults), f.describe()))
            try:
                faults.inject(self.run, f)
            except Exception as e:
                self.run.proxies.heal_all()
                for svc in self.run.services.values():
                    svc.sigcont()
                raise RuntimeError("injecting %s failed: %s" % (f.kind, e))
            f.recovery = self.probe_round_trip(probe, args.recovery_bound)
            if f.recovery is None:
                where = self.diagnose("fault-%d" % f.index, f.describe())
                self.violations.append("recovery: after fault %d (%s) a probe event did not make the round trip"
                                       " (writer -> relay -> moderation -> relay -> projector) within %d s"
                                       " (state: %s)" % (f.index, f.describe(), args.recovery_bound, where))
                log("    no recovery within %d s" % args.recovery_bound)
            else:
                log("    recovered: probe round trip %.1f s after heal" % f.recovery)

    def diagnose(self, name, what):
        """What the pipeline looks like when it did not recover: written next to the logs (the
        relay's metrics, its threads' stacks when gdb is there, the slot, the proxies, the lag)."""
        r = self.run
        path = os.path.join(self.dir, "stall-%s.txt" % name)
        out = ["after %s" % what, "lag: %s" % self.lag()]
        out.append("slot: %s" % try_sql(r.app_dsn, "SELECT active, active_pid, restart_lsn::text,"
                                        " confirmed_flush_lsn::text, pg_current_wal_lsn()::text"
                                        " FROM pg_replication_slots WHERE slot_name = %s", (self.slot,)))
        out.append("walsenders: %s" % try_sql(r.app_dsn, "SELECT pid, state, sent_lsn::text, flush_lsn::text,"
                                              " reply_time::text FROM pg_stat_replication"))
        out.append("proxies: %s" % {n: (p.state, p.connections, len(p.links)) for n, p in r.proxies.proxies.items()})
        relay = r.services.get("relay")
        if relay is not None and relay.running():
            port = None
            with open(relay.log_path, errors="replace") as f:
                for line in f:
                    if "metrics on http://127.0.0.1:" in line:
                        port = line.split("127.0.0.1:")[1].split("/")[0]
            if port:
                try:
                    import urllib.request
                    text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10).read().decode()
                    out.append("relay metrics:\n" + "\n".join(l for l in text.splitlines() if not l.startswith("#")))
                except Exception as e:
                    out.append("relay metrics: %s" % e)
            if os.access("/usr/bin/gdb", os.X_OK):
                bt = subprocess.run(["/usr/bin/gdb", "-batch", "-p", str(relay.pid), "-ex", "thread apply all bt"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
                out.append("relay threads:\n" + bt.stdout.decode(errors="replace"))
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        return "%s; details in %s" % (out[1], path)

    def drain(self):
        bound = self.run.args.settle_bound
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < bound:
            last = self.lag()
            if last is None:
                self.lag_zero_after = time.monotonic() - t0
                return
            time.sleep(0.5)
        self.violations.append("lag: not back to zero lag %d s after the last fault: %s (state: %s)"
                               % (bound, last, self.diagnose("drain", "the last fault")))

    def stop_services(self):
        for name in sorted(self.run.services, key=lambda n: n.startswith("relay")):
            svc = self.run.services[name]
            if svc:
                rc = svc.terminate()
                self.stop_status[name] = rc
                if rc != 0:
                    self.violations.append("stop: %s did not stop cleanly on SIGTERM (%s; log %s)"
                                           % (name, exit_text(rc), svc.log_path))

    def verify(self):
        r = self.run
        app = psycopg2.connect(r.app_dsn)
        read = psycopg2.connect(r.read_dsn)
        try:
            truth = verify.Truth(app.cursor(), self.schema)
            self.truth = truth
            records = verify.read_topic(r.kafka, self.topic)
            self.kafka_records, self.kafka_dups = verify.check_kafka(truth, records, self.violations)
            verify.check_read_model(truth, read.cursor(), self.schema, self.violations)
            verify.check_moderation(truth, app.cursor(), self.schema, self.violations)
            dlq = verify.dlq_records(r.kafka, "chaos.%s." % self.tag)
            verify.check_dead_letters(dlq, app.cursor(), read.cursor(), self.schema, self.projection, self.consumer,
                                      self.violations)
        finally:
            app.close()
            read.close()
        for svc in r.services.values():
            for _, rc in svc.crashes():
                self.violations.append("crash: %s died of signal %d (log %s)" % (svc.name, -rc, svc.log_path))

    def cleanup(self):
        r = self.run
        try_sql(r.app_dsn, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = %s AND NOT active", (self.slot,))
        if not self.violations and not r.args.keep:
            for dsn in (r.app_dsn, r.read_dsn):
                try:
                    sql(dsn, "DROP SCHEMA IF EXISTS %s CASCADE" % self.schema)
                except psycopg2.Error:
                    pass
            try:
                AdminClient({"bootstrap.servers": r.kafka, "log_level": 3}).delete_topics([self.topic])
            except Exception:
                pass

    def execute(self):
        r = self.run
        args = r.args
        log("seed %d (%s): %d faults: %s" % (self.seed, self.tag, len(self.faults),
                                            ", ".join(f.describe() for f in self.faults)))
        self.setup_databases()
        self.create_topics()
        self.write_configs()
        r.app_schema = self.schema
        self.start_services()
        writers = workload.start_writers(r, args.writers, args.aggregates, self.rng)
        probe = workload.probe_writer(r, self.rng)
        self.t_start = time.monotonic()
        try:
            self.run.sleep(args.warmup)
            first = self.probe_round_trip(probe, args.recovery_bound)
            if first is None:
                raise RuntimeError("the pipeline never worked: no probe round trip in %d s before any fault"
                                   % args.recovery_bound)
            self.run_faults(probe)
            self.run.sleep(2)
        finally:
            for w in writers:
                w.stop()
            for w in writers:
                w.join(30)
            probe._close()
            r.proxies.heal_all()
        self.writers = writers
        for w in writers:
            if w.error:
                raise RuntimeError("writer %d failed: %s" % (w.index, w.error))
        self.drain()
        self.stop_services()
        self.verify()
        self.duration = time.monotonic() - self.t_start

    def report(self):
        t = getattr(self, "truth", None)
        lines = ["seed %d (%s): %s" % (self.seed, self.tag, "OK" if not self.violations else
                                       "%d VIOLATIONS" % len(self.violations))]
        lines.append("  faults (%d): %s" % (len(self.faults), "; ".join(
            "%s -> %s" % (f.describe(), "recovered %.1fs" % f.recovery if f.recovery is not None else "NOT recovered")
            for f in self.faults)))
        if t is not None:
            via_msg = sum(1 for v in t.created.values() if v[4] == "message")
            lines.append("  events: %d CommentCreated (%d as logical messages) over %d aggregates in %d transactions"
                         " (%d failed/unknown), %d CommentModerated"
                         % (len(t.created), via_msg, len(t.posts), sum(w.committed_txns for w in self.writers),
                            sum(w.failed_txns for w in self.writers), len(t.moderated)))
            lines.append("  kafka: %d records, %d duplicates" % (self.kafka_records, self.kafka_dups))
        rec = [f for f in self.faults if f.recovery is not None]
        worst = max(rec, key=lambda f: f.recovery) if rec else None
        lines.append("  worst recovery: %s; zero lag %s after the last fault; run %.0f s"
                     % ("%.1f s (%s)" % (worst.recovery, worst.kind) if worst else "n/a",
                        "%.1f s" % self.lag_zero_after if self.lag_zero_after is not None else "NOT reached",
                        getattr(self, "duration", 0)))
        exits = []
        for svc in self.run.services.values():
            if svc.unplanned_exits:
                exits.append("%s %s" % (svc.name, ", ".join(exit_text(rc) for _, rc in svc.unplanned_exits)))
        lines.append("  exits on their own (restarted): %s" % ("; ".join(exits) or "none"))
        for v in self.violations:
            lines.append("  VIOLATION %s" % v)
        return "\n".join(lines)


def setup_proxies(run):
    hub = proxy.ProxyHub()
    for name, (host, listen, upstream) in run.links.items():
        hub.add(name, host, listen, upstream)
    return hub


def main(argv):
    ap = argparse.ArgumentParser(prog="compose/chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="how many seeds (default 3)")
    ap.add_argument("--first-seed", type=int, default=1, help="first seed (default 1); seeds are consecutive")
    ap.add_argument("--faults", type=int, default=8, help="faults per seed (default 8)")
    ap.add_argument("--rate", type=float, default=40.0, help="events per second, all writers (default 40)")
    ap.add_argument("--writers", type=int, default=3, help="writer threads (default 3)")
    ap.add_argument("--aggregates", type=int, default=4, help="aggregates per writer (default 4)")
    ap.add_argument("--instances", type=int, default=2,
                    help="members of the projector's and of the moderation's consumer group (default 2;"
                         " faults hit the first)")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of writing before the first fault")
    ap.add_argument("--recovery-bound", type=int, default=240,
                    help="seconds a probe may take to make the round trip after a fault (default 240)")
    ap.add_argument("--settle-bound", type=int, default=300,
                    help="seconds to reach zero lag after the last fault (default 300)")
    ap.add_argument("--messages", choices=("auto", "off"), default="auto",
                    help="logical-message events: auto (when the relay publishes them) or off")
    ap.add_argument("--keep", action="store_true", help="keep each seed's schemas and topic")
    ap.add_argument("--report", help="also append the per-seed reports to this file")
    args = ap.parse_args(argv)
    # SIGTERM (ctest's timeout, compose/chaos's caller) ends the run through its finally blocks:
    # the components stopped, the proxies closed, the seed's report printed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    run = Run(args)
    log("%d seeds from %d, %d faults each, %.0f events/s, logical messages %s"
        % (args.seeds, args.first_seed, args.faults, args.rate, run.messages_how))
    run.proxies = setup_proxies(run)
    run.start_supervisor()
    reports = []
    failed = 0
    total_faults = 0
    broken = False
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            s = Seed(run, seed)
            try:
                s.execute()
            except Exception as e:
                broken = True
                s.violations.append("run: %s" % e)
                traceback.print_exc()
                for svc in run.services.values():
                    svc.terminate(10)
            finally:
                s.cleanup()
            total_faults += sum(1 for f in s.faults if f.healed_at is not None)
            text = s.report()
            print(text, flush=True)
            reports.append(text)
            if args.report:
                with open(args.report, "a") as f:
                    f.write(text + "\n")
            if s.violations:
                failed += 1
            if broken:
                break
    finally:
        run.supervisor.stop()
        for svc in run.services.values():
            svc.terminate(10)
        run.proxies.close()
    print("chaos: %d seeds, %d faults in all" % (len(reports), total_faults))
    print("chaos: %d passed, %d failed" % (len(reports) - failed, failed), flush=True)
    if broken:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
