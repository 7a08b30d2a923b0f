-- outbox-projector's own tables, in the read database next to the read models. Safe to run
-- again. Run as the schema's owner (the test stack: `outbox_projector` owns nothing, so run as
-- a superuser); every object is created in the first schema of the search_path, so a test or a
-- tenant may keep its own copy in its own schema (options='-c search_path=...').
--
-- The projector writes these tables in the SAME transaction as the read-model changes:
--   projector_dedup         one row per event a projection applied (the inbox): an event whose
--                           row exists is never applied again; /events/{id} answers 200 from it
--   projector_offsets       the next Kafka offset to read per (projection, topic, partition):
--                           the position that matters (Kafka-side commits are advisory only)
--   projector_dead_letters  events a projection could not apply (permanent SQL error or an
--                           undecodable record), with the reason; /events/{id} answers 422
--   projector_projections   one row per projection; `generation` is bumped by
--                           `outbox-projector replay`, which tells a running daemon that the
--                           offsets it holds are stale (it re-reads them before its next batch)

CREATE TABLE IF NOT EXISTS projector_projections (
  projection  text        PRIMARY KEY,
  generation  bigint      NOT NULL DEFAULT 1,           -- +1 per replay
  replayed_at timestamptz,                              -- last replay
  replay_from text,                                     -- 'beginning' or the --from-time value
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS projector_dedup (
  projection text        NOT NULL,
  event_id   uuid        NOT NULL,                      -- Kafka header `id`
  applied_at timestamptz NOT NULL DEFAULT now(),        -- pruned after dedup-retention
  PRIMARY KEY (projection, event_id)
);
-- Pruning finds old rows by applied_at, which grows with insertion order: a BRIN index costs
-- almost nothing per insert (a btree here was a second full index write per event).
DROP INDEX IF EXISTS projector_dedup_applied_at;
CREATE INDEX IF NOT EXISTS projector_dedup_applied_brin ON projector_dedup USING brin (applied_at);

CREATE TABLE IF NOT EXISTS projector_offsets (
  projection  text        NOT NULL,
  topic       text        NOT NULL,
  partition   integer     NOT NULL,
  next_offset bigint      NOT NULL,                     -- -2: the partition's beginning
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition)
);

CREATE TABLE IF NOT EXISTS projector_dead_letters (
  projection text        NOT NULL,
  topic      text        NOT NULL,
  partition  integer     NOT NULL,
  "offset"   bigint      NOT NULL,
  event_id   uuid,                                      -- NULL when the record had no valid id
  event_type text,
  sqlstate   text,                                      -- NULL for undecodable records
  reason     text        NOT NULL,
  dlq_topic  text        NOT NULL,                      -- where the record was sent
  failed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS projector_dead_letters_event ON projector_dead_letters (projection, event_id);

-- What GET /events/stream (Server-Sent Events) and GET /events/{id} tell about an event besides
-- its status: its type and aggregate (Kafka headers event_type, aggregate_type, aggregate_id),
-- for the `data:` of each stream message, the filter by aggregate and the resource link. NULL
-- in rows written before these columns existed. Added here so an existing database upgrades by
-- running this file again.
ALTER TABLE projector_dedup ADD COLUMN IF NOT EXISTS event_type text;
ALTER TABLE projector_dedup ADD COLUMN IF NOT EXISTS aggregate_type text;
ALTER TABLE projector_dedup ADD COLUMN IF NOT EXISTS aggregate_id text;
ALTER TABLE projector_dead_letters ADD COLUMN IF NOT EXISTS aggregate_type text;
ALTER TABLE projector_dead_letters ADD COLUMN IF NOT EXISTS aggregate_id text;
-- A stream resumed with Last-Event-ID replays the dead letters after a time: by failed_at.
CREATE INDEX IF NOT EXISTS projector_dead_letters_failed_at ON projector_dead_letters (projection, failed_at);

-- Read-your-writes from SQL: where is event `event_id` in projection `projection`?
--   'applied'             its dedup row exists (committed; until dedup-retention prunes it)
--   'failed: <reason>'    dead-lettered (projector_dead_letters.reason)
--   'pending'             neither (yet)
-- The same answer as `outbox-projector wait` and GET /events/{id}. To wait without polling,
-- LISTEN on the projection's notify channel first, then call this, then wait for a
-- notification whose payload lists the id in "events" (applied) or "failed".
-- The tables are looked up in the schema the function was created in (SET search_path FROM
-- CURRENT), whatever the caller's search_path.
CREATE OR REPLACE FUNCTION projector_event_status(projection text, event_id uuid)
RETURNS text
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $fn$
  SELECT coalesce(
    (SELECT 'applied' FROM projector_dedup d
      WHERE d.projection = projector_event_status.projection
        AND d.event_id = projector_event_status.event_id),
    (SELECT 'failed: ' || f.reason FROM projector_dead_letters f
      WHERE f.projection = projector_event_status.projection
        AND f.event_id = projector_event_status.event_id
      ORDER BY f.failed_at DESC LIMIT 1),
    'pending')
$fn$;

-- The projector's role reads and writes its tables; the read-model tables it maps events into
-- need their own grants (see sql/readmodel_blog.sql).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_projector') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE
      ON projector_projections, projector_dedup, projector_offsets, projector_dead_letters
      TO outbox_projector;
  END IF;
END
$$;
