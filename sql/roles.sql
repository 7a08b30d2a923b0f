-- Roles of the outbox toolkit. Cluster-wide; safe to run again.
-- Run as a superuser (or a role with CREATEROLE). Passwords are not set here: the test stack
-- trusts loopback; in production set them (ALTER ROLE ... PASSWORD) or use certificates.
--
-- Least privilege. Each grant sits in the file that creates the object it covers (so it is
-- re-applied with it); this is what each role gets and why, and nothing more:
--
--   blog_app (the application, database blog)
--     outbox.sql      USAGE on schema public; INSERT on outbox: writing an event is publishing
--                     it. SELECT, DELETE on outbox: deleting its own rows in the same
--                     transaction or in a cleanup job keeps the table small (README, "Keeping
--                     the outbox small"). EXECUTE on pg_logical_emit_message (revoked from
--                     PUBLIC): a logical-message event publishes like an outbox row.
--     blog_app.sql    its own tables and the create_post/add_comment commands.
--   outbox_relay (LOGIN REPLICATION, database blog)
--     REPLICATION     the logical slot and the pgoutput stream: how the relay reads events.
--     outbox.sql      USAGE on schema public and SELECT on outbox: `outbox-relay check` looks
--                     the table and its publication up. No INSERT, UPDATE, DELETE or TRUNCATE
--                     by default: the relay does not write the outbox (the application deletes),
--                     and no CREATE anywhere (the publication comes from outbox.sql;
--                     postgres.create-publication needs the table's owner).
--                     Only with outbox.prune = on (the relay deletes the rows it confirmed) does
--                     it need DELETE on the outbox: opt in with `psql -v relay_prune=on -f
--                     sql/outbox.sql`, or GRANT DELETE ON public.outbox TO outbox_relay; as the
--                     owner. `outbox-relay check` prints that GRANT when prune is on without it.
--   outbox_projector (LOGIN, the read database blog_read; the blog's saga also in blog)
--     projector.sql   SELECT, INSERT, UPDATE, DELETE on projector_projections (replay
--                     generations), projector_dedup (inbox rows; DELETE prunes them),
--                     projector_offsets and projector_dead_letters.
--     readmodel_*.sql SELECT, INSERT, UPDATE, DELETE on the read model's tables (the mapped
--                     statements), TRUNCATE on them (`outbox-projector replay`).
--     blog_app.sql    SELECT, UPDATE on app.comments, INSERT on public.outbox and EXECUTE on
--                     app.apply_moderation: the "comments" projection's inbox + outbox.
--     USAGE on the schemas holding those tables, and no CREATE on any schema or database:
--     every table, index and function comes from these files, run at setup by their owner,
--     never at run time (compose/stack grants USAGE only).
--   outbox_moderation (moderation.sql, database blog)
--     its moderation_decisions table, the projector tables of its schema (inbox, offsets,
--     dead letters), INSERT on the outbox (its CommentModerated events), USAGE on both schemas.
DO $$
BEGIN
  -- The application: writes business rows and outbox rows in one transaction.
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'blog_app') THEN
    CREATE ROLE blog_app LOGIN;
  END IF;
  -- The relay: a replication connection (logical slot + pgoutput), no superuser.
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_relay') THEN
    CREATE ROLE outbox_relay LOGIN REPLICATION;
  END IF;
  -- The projector: writes read models, dedup rows and offsets in the read database.
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_projector') THEN
    CREATE ROLE outbox_projector LOGIN;
  END IF;
END
$$;
ALTER ROLE outbox_relay NOSUPERUSER REPLICATION;
ALTER ROLE outbox_projector NOSUPERUSER NOREPLICATION;
ALTER ROLE blog_app NOSUPERUSER NOREPLICATION;
