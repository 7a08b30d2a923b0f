-- Roles of the outbox toolkit. Cluster-wide; safe to run again.
-- Run as a superuser (or a role with CREATEROLE). Passwords are not set here: the test stack
-- trusts loopback; in production set them (ALTER ROLE ... PASSWORD) or use certificates.
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
