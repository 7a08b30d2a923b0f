-- The blog application's write side, in the application's database (`blog`), next to the
-- outbox. Safe to run again. Run as a superuser or the schema owner.
--
-- The functions are the application's commands: each writes its business row AND its outbox
-- row in the caller's transaction, and returns the event id a client can wait for
-- (`outbox-projector wait <projection> <event id>`).

CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE IF NOT EXISTS app.posts (
  post_id     uuid        PRIMARY KEY,
  author_id   text        NOT NULL,
  author_name text        NOT NULL,
  title       text        NOT NULL,
  body        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS app.comments (
  comment_id  uuid        PRIMARY KEY,
  post_id     uuid        NOT NULL REFERENCES app.posts,
  author_id   text        NOT NULL,
  author_name text        NOT NULL,
  text        text        NOT NULL,
  status      text        NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'approved', 'rejected')),
  reason      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Publish a post: the row and a PostCreated event, atomically. Returns the event id.
CREATE OR REPLACE FUNCTION app.create_post(p_author text, p_title text, p_body text)
RETURNS uuid LANGUAGE sql AS $$
  WITH p AS (
    INSERT INTO app.posts (post_id, author_id, author_name, title, body)
    VALUES (gen_random_uuid(), lower(replace(p_author, ' ', '-')), p_author, p_title, p_body)
    RETURNING *)
  INSERT INTO public.outbox (id, aggregate_type, aggregate_id, event_type, payload)
  SELECT gen_random_uuid(), 'post', p.post_id::text, 'PostCreated',
         jsonb_build_object('post_id', p.post_id, 'author_id', p.author_id,
           'author_name', p.author_name, 'title', p.title, 'body', p.body,
           'tags', '[]'::jsonb, 'metadata', '{}'::jsonb, 'publish_date', current_date,
           'created_at', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  FROM p
  RETURNING id
$$;

-- Comment on a post: the row (pending moderation) and a CommentCreated event. Returns the
-- event id.
CREATE OR REPLACE FUNCTION app.add_comment(p_post uuid, p_author text, p_text text)
RETURNS uuid LANGUAGE sql AS $$
  WITH c AS (
    INSERT INTO app.comments (comment_id, post_id, author_id, author_name, text)
    VALUES (gen_random_uuid(), p_post, lower(replace(p_author, ' ', '-')), p_author, p_text)
    RETURNING *)
  INSERT INTO public.outbox (id, aggregate_type, aggregate_id, event_type, payload)
  SELECT gen_random_uuid(), 'comment', c.comment_id::text, 'CommentCreated',
         jsonb_build_object('comment_id', c.comment_id, 'post_id', c.post_id,
           'parent_comment_id', NULL, 'author_id', c.author_id, 'author_name', c.author_name,
           'text', c.text,
           'created_at', to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  FROM c
  RETURNING id
$$;

-- The comments side of the saga, as a declarative projection (outbox-projector, database
-- `blog`): a moderation decision becomes the comment's new status AND a CommentUpdated event,
-- in the projector's transaction (with its dedup row and offsets): inbox + outbox, once.
CREATE OR REPLACE FUNCTION app.apply_moderation(e jsonb)
RETURNS void LANGUAGE sql AS $$
  WITH c AS (
    UPDATE app.comments
       SET status = lower(e->>'decision'), reason = e->>'reason', updated_at = now()
     WHERE comment_id = (e->>'comment_id')::uuid
    RETURNING *)
  INSERT INTO public.outbox (id, aggregate_type, aggregate_id, event_type, payload)
  SELECT gen_random_uuid(), 'comment', c.comment_id::text, 'CommentUpdated',
         jsonb_build_object('comment_id', c.comment_id, 'post_id', c.post_id,
           'status', upper(c.status), 'reason', c.reason, 'text', NULL,
           'updated_at', to_char(c.updated_at AT TIME ZONE 'UTC',
                                 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
  FROM c
$$;

GRANT USAGE ON SCHEMA app TO blog_app, outbox_projector;
GRANT SELECT, INSERT, UPDATE ON app.posts, app.comments TO blog_app;
GRANT SELECT, UPDATE ON app.comments TO outbox_projector;
GRANT INSERT ON public.outbox TO outbox_projector;
GRANT EXECUTE ON FUNCTION app.create_post(text, text, text), app.add_comment(uuid, text, text)
  TO blog_app;
GRANT EXECUTE ON FUNCTION app.apply_moderation(jsonb) TO outbox_projector;
