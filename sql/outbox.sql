-- The outbox table and its publication, in the application's database. Safe to run again.
-- Run as the table's owner (here: a superuser, or the application's schema owner).
--
-- An application writes its business rows and one outbox row per event in ONE transaction.
-- The relay reads inserts from the WAL through the publication; rows may be deleted in the
-- same transaction (the WAL keeps the insert) or later by the relay's pruning.
CREATE TABLE IF NOT EXISTS public.outbox (
  id             uuid        PRIMARY KEY,                 -- event id: the dedup key downstream
  aggregate_type text        NOT NULL,                    -- routes to topic outbox.event.<type>
  aggregate_id   text        NOT NULL,                    -- Kafka key: order per aggregate
  event_type     text        NOT NULL,                    -- chooses the Avro schema
  payload        jsonb       NOT NULL,                    -- the event, as JSON
  headers        jsonb,                                   -- extra Kafka headers (traceparent...)
  created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.outbox IS
  'Transactional outbox: insert-only; read by outbox-relay through publication outbox_pub';

-- Publish inserts only: an UPDATE or DELETE of an outbox row is not an event.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'outbox_pub') THEN
    CREATE PUBLICATION outbox_pub FOR TABLE public.outbox WITH (publish = 'insert');
  END IF;
END
$$;

-- Least privilege (sql/roles.sql says what each grant is for): the application inserts, and
-- deletes its own rows to keep the table small; the relay reads events from the WAL through its
-- slot (REPLICATION) and only looks the table up (`outbox-relay check`): it never writes the
-- outbox, so it gets no DELETE (the REVOKE also takes it back from a cluster set up by an
-- older version of this file). It needs no CREATE on the database either, unless it must
-- create the publication itself (postgres.create-publication, which needs the table's owner).
GRANT USAGE ON SCHEMA public TO blog_app, outbox_relay;
GRANT INSERT, SELECT, DELETE ON public.outbox TO blog_app;
GRANT SELECT ON public.outbox TO outbox_relay;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.outbox FROM outbox_relay;
-- outbox.prune = on (the relay deletes the rows whose events Kafka acknowledged): the relay then
-- needs DELETE, which is NOT granted by default. Opt in when running this file:
--   psql -v relay_prune=on -f sql/outbox.sql ...
-- or, as the table's owner: GRANT DELETE ON public.outbox TO outbox_relay;
-- (`outbox-relay check` with prune on prints the GRANT when it is missing).
\if :{?relay_prune}
GRANT DELETE ON public.outbox TO outbox_relay;
\endif

-- Logical-message events (pg_logical_emit_message, opt-in in the relay: outbox.logical-messages)
-- publish exactly like an outbox row, so the right to emit them must be the right to insert into
-- the outbox. PostgreSQL lets PUBLIC execute the function by default: revoke that and grant it to
-- the application role only, for every overload (PostgreSQL 17 adds a `flush` argument).
-- Function privileges are per database: run this in the application's database, as a superuser
-- (the functions belong to the bootstrap superuser). `outbox-relay check` fails while PUBLIC, or
-- a role outside outbox.message-roles, can execute it with logical messages on.
DO $$
DECLARE
  fn regprocedure;
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RAISE WARNING 'not a superuser: EXECUTE on pg_logical_emit_message was left as it is; '
                  'run sql/outbox.sql as a superuser to revoke it from PUBLIC';
    RETURN;
  END IF;
  FOR fn IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.proname = 'pg_logical_emit_message'
              AND p.pronamespace = 'pg_catalog'::regnamespace LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO blog_app', fn);
  END LOOP;
END
$$;
