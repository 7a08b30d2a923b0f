-- The moderation service (outbox-moderation), in the application database next to the outbox
-- table it writes CommentModerated rows into. Safe to run again. Run as a superuser (it
-- creates the role), AFTER sql/outbox.sql and sql/projector.sql in the same database, with the
-- same search_path: objects go to the first schema of the search_path (a test may keep its
-- own copy in its own schema, options='-c search_path=...').
--
--   psql "host=... dbname=blog user=postgres" -f sql/projector.sql -f sql/moderation.sql
--
-- The service writes, in ONE transaction per batch of events:
--   projector_dedup / projector_offsets / projector_dead_letters   (its inbox and position,
--                                                  sql/projector.sql; name = consumer.name)
--   moderation_decisions                           one row per comment, below
--   outbox                                         one CommentModerated per decision row
-- so a decision and the event announcing it exist together, exactly once.

-- The service's role: logs in, no superuser, no replication.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_moderation') THEN
    CREATE ROLE outbox_moderation LOGIN;
  END IF;
END
$$;
ALTER ROLE outbox_moderation NOSUPERUSER NOREPLICATION;

CREATE TABLE IF NOT EXISTS moderation_decisions (
  comment_id         uuid        PRIMARY KEY,
  post_id            uuid        NOT NULL,
  decision           text        NOT NULL CHECK (decision IN ('APPROVED', 'REJECTED')),
  reason             text,                               -- NULL when approved
  moderator          text        NOT NULL,
  moderated_at       timestamptz NOT NULL,
  source_event_id    uuid        NOT NULL,               -- the CommentCreated event handled
  moderated_event_id uuid        NOT NULL UNIQUE,        -- the CommentModerated event emitted
                                                          -- (its outbox row's id)
  handled            integer     NOT NULL DEFAULT 1      -- CommentCreated events seen for the
                                                          -- comment: 1 unless it was created
                                                          -- twice under different event ids
);
CREATE INDEX IF NOT EXISTS moderation_decisions_post ON moderation_decisions (post_id);

-- Privileges of the role: its own table, the projector tables (inbox, offsets, dead letters),
-- and INSERT on the outbox table (the first `outbox` on the search_path, normally
-- public.outbox; the service's moderation.outbox-table must name the same table).
DO $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO outbox_moderation', current_schema());
  GRANT SELECT, INSERT, UPDATE ON moderation_decisions TO outbox_moderation;
  IF to_regclass('projector_dedup') IS NULL THEN
    RAISE EXCEPTION 'projector tables missing in schema %: apply sql/projector.sql first',
      current_schema();
  END IF;
  GRANT SELECT, INSERT, UPDATE, DELETE
    ON projector_projections, projector_dedup, projector_offsets, projector_dead_letters
    TO outbox_moderation;
  IF to_regclass('outbox') IS NOT NULL THEN
    GRANT INSERT ON outbox TO outbox_moderation;
    -- USAGE on the outbox's schema, when it is another one (public, usually).
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO outbox_moderation',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.oid = to_regclass('outbox')));
  ELSE
    RAISE WARNING 'no outbox table on the search_path: grant INSERT on the table '
      'moderation.outbox-table names to outbox_moderation yourself';
  END IF;
END
$$;
