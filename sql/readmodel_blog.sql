-- The blog's query-service read model, kept by outbox-projector (projector/examples/blog.ini).
-- Safe to run again; objects go to the first schema of the search_path.
--
-- posts     one row per PostCreated, with the number of approved comments
-- comments  one row per comment; status pending -> approved | rejected (CommentModerated,
--           CommentUpdated); comment events are ordered per comment (Kafka key = comment id)
--           but not with their post's events (another topic), so there is no foreign key:
--           a comment may arrive before its post and both still end up joined
-- post_comments  view: each post with its comments (oldest first) as a JSON array
--
-- The projector role needs DML on both tables and TRUNCATE for `outbox-projector replay`.

CREATE TABLE IF NOT EXISTS posts (
  post_id      uuid        PRIMARY KEY,
  author_id    text        NOT NULL,
  author_name  text        NOT NULL,
  title        text        NOT NULL,
  body         text        NOT NULL,
  tags         text[]      NOT NULL DEFAULT '{}',
  metadata     jsonb       NOT NULL DEFAULT '{}',
  publish_date date,
  created_at   timestamptz NOT NULL,
  event_id     uuid        NOT NULL                     -- the event that wrote the row
);

CREATE TABLE IF NOT EXISTS comments (
  comment_id        uuid        PRIMARY KEY,
  post_id           uuid        NOT NULL,
  parent_comment_id uuid,
  author_id         text        NOT NULL,
  author_name       text        NOT NULL,
  text              text        NOT NULL,
  status            text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected')),
  status_reason     text,                               -- the moderator's reason, if any
  moderator         text,
  created_at        timestamptz NOT NULL,
  moderated_at      timestamptz,
  updated_at        timestamptz NOT NULL,
  version           integer     NOT NULL DEFAULT 1      -- events applied to the row
);
CREATE INDEX IF NOT EXISTS comments_post ON comments (post_id, created_at);

CREATE OR REPLACE VIEW post_comments AS
SELECT p.post_id, p.title, p.author_name, p.created_at,
       count(c.comment_id) FILTER (WHERE c.status = 'approved') AS approved_comments,
       coalesce(jsonb_agg(jsonb_build_object(
                  'comment_id', c.comment_id, 'author_name', c.author_name, 'text', c.text,
                  'status', c.status, 'reason', c.status_reason, 'created_at', c.created_at)
                ORDER BY c.created_at, c.comment_id) FILTER (WHERE c.comment_id IS NOT NULL),
                '[]') AS comments
FROM posts p LEFT JOIN comments c ON c.post_id = p.post_id
GROUP BY p.post_id;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outbox_projector') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON posts, comments TO outbox_projector;
    GRANT SELECT ON post_comments TO outbox_projector;
  END IF;
END
$$;
