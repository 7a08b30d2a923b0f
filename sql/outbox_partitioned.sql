-- A partitioned outbox for high volumes: daily partitions, old ones detached and dropped
-- instead of DELETE + VACUUM. Instead of outbox.sql, not with it. Safe to run again.
--
--   psql -v outbox_publication=outbox_pub -f sql/outbox_partitioned.sql   (as the table owner)
--
-- The table is created in the first schema of search_path (normally public). The relay reads it
-- like the plain outbox: the publication publishes through the partition root
-- (publish_via_partition_root), so every row arrives as a row of "outbox" whatever its
-- partition, and postgres.table names the root (public.outbox).
--
-- Dropping a partition never loses an event: the relay reads the WAL, not the table, and the
-- slot keeps what it has not confirmed (the catalog too, so rows of a dropped partition still
-- decode). Keep partitions as long as something else reads the table (audits, debugging).
--
-- Differences from outbox.sql: the primary key must contain the partition key, so it is
-- (id, created_at): ids are unique per day, and downstream dedup is by id as before. Rows must
-- have a created_at within an existing partition; the DEFAULT partition catches any other, so an
-- insert never fails for want of a partition (outbox_partitions_maintain creates them ahead).
\if :{?outbox_publication}
\else
\set outbox_publication outbox_pub
\endif

CREATE TABLE IF NOT EXISTS outbox (
  id             uuid        NOT NULL,                    -- event id: the dedup key downstream
  aggregate_type text        NOT NULL,                    -- routes to topic outbox.event.<type>
  aggregate_id   text        NOT NULL,                    -- Kafka key: order per aggregate
  event_type     text        NOT NULL,                    -- chooses the Avro schema
  payload        jsonb       NOT NULL,                    -- the event, as JSON
  headers        jsonb,                                   -- extra Kafka headers (traceparent...)
  created_at     timestamptz NOT NULL DEFAULT now(),      -- the partition key
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE IF NOT EXISTS outbox_default PARTITION OF outbox DEFAULT;

-- Partitions named <table>_pYYYYMMDD for [day, day + 1) in UTC. Creates the ones for today and
-- the next days_ahead days; detaches and drops those that end before today - keep_days.
-- Returns one line per partition created or dropped. Run it daily (cron, pg_cron, a systemd
-- timer); it waits at most lock_wait for the brief lock that DETACH takes on the table and
-- fails (to be retried at the next run) rather than stall the application behind it.
CREATE OR REPLACE FUNCTION outbox_partitions_maintain(tbl regclass DEFAULT 'outbox',
                                                      days_ahead int DEFAULT 3,
                                                      keep_days int DEFAULT 7,
                                                      lock_wait interval DEFAULT '5s')
RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  nsp   text;
  rel   text;
  day   date;
  part  text;
  child record;
BEGIN
  SELECT n.nspname, c.relname INTO nsp, rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  PERFORM set_config('lock_timeout', (extract(epoch FROM lock_wait) * 1000)::bigint::text, true);
  FOR i IN 0 .. days_ahead LOOP
    day := today + i;
    part := format('%s_p%s', rel, to_char(day, 'YYYYMMDD'));
    IF to_regclass(format('%I.%I', nsp, part)) IS NULL THEN
      EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                     nsp, part, tbl, (day::timestamp AT TIME ZONE 'UTC'),
                     ((day + 1)::timestamp AT TIME ZONE 'UTC'));
      RETURN NEXT 'created ' || part;
    END IF;
  END LOOP;
  FOR child IN
    SELECT c.relname
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = tbl AND c.relname ~ ('^' || rel || '_p[0-9]{8}$')
       AND to_date(right(c.relname, 8), 'YYYYMMDD') + 1 <= today - keep_days
     ORDER BY c.relname
  LOOP
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %I.%I', tbl, nsp, child.relname);
    EXECUTE format('DROP TABLE %I.%I', nsp, child.relname);
    RETURN NEXT 'dropped ' || child.relname;
  END LOOP;
END
$fn$;
SELECT outbox_partitions_maintain('outbox');

-- Publish inserts only, through the root: the relay sees one table.
SELECT NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = :'outbox_publication')
  AS outbox_need_publication \gset
\if :outbox_need_publication
CREATE PUBLICATION :"outbox_publication" FOR TABLE outbox
  WITH (publish = 'insert', publish_via_partition_root = true);
\endif

-- Least privilege as in outbox.sql: the application inserts (and may delete in the same
-- transaction); the relay only needs the replication connection and SELECT for `check`.
GRANT INSERT, SELECT, DELETE ON outbox TO blog_app;
GRANT SELECT ON outbox TO outbox_relay;
-- outbox.prune = on needs DELETE too (not granted by default): psql -v relay_prune=on -f ...
\if :{?relay_prune}
GRANT DELETE ON outbox TO outbox_relay;
\endif
