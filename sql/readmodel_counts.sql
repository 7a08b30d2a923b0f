-- A read model added after the fact: comment counts per post, built from the topics' history
-- by its own projection (compose/demo.d/counts.ini). Safe to run again; in the read database.
CREATE TABLE IF NOT EXISTS comment_counts (
  post_id  uuid    PRIMARY KEY,
  comments integer NOT NULL DEFAULT 0,
  approved integer NOT NULL DEFAULT 0,
  rejected integer NOT NULL DEFAULT 0
);
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_projector') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON comment_counts TO outbox_projector;
  END IF;
END
$$;
