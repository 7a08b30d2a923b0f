/*
 * A minimal outbox_consumer (consumers/README.md): count comments per post, and announce each
 * post's first comment through the outbox, exactly once.
 *
 *   CREATE TABLE comment_counts (post_id uuid PRIMARY KEY, comments integer NOT NULL);
 *   (plus sql/projector.sql and an outbox table in the same database)
 *
 *   consumer-example-minimal --set postgres.conninfo='dbname=blog' \
 *       --set consumer.name=comment-counts --set consumer.topics=outbox.event.comment \
 *       --set kafka.bootstrap.servers=127.0.0.1:19092
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <outbox/outbox_consumer.h>

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

/* Runs inside the batch transaction, after this event's dedup row was inserted. */
static outbox_consumer_rc on_event(void *opaque, PGconn *conn, const outbox_consumer_event *ev,
                                   outbox_consumer_error *err)
{
    (void)opaque;
    if (strcmp(ev->event_type, "CommentCreated") != 0)
        return OUTBOX_CONSUMER_SKIP; /* counted; the position still advances */
    const char *post_id = json_string_value(json_object_get(ev->payload, "post_id"));
    if (post_id == NULL)
        return outbox_consumer_fail(err, OUTBOX_CONSUMER_REJECT, "no post_id"); /* -> .dlq */
    const char *params[2] = {post_id, ev->id};
    PGresult *res = PQexecParams(
        conn,
        "WITH c AS (INSERT INTO comment_counts AS c (post_id, comments) VALUES ($1::uuid, 1)"
        "  ON CONFLICT (post_id) DO UPDATE SET comments = c.comments + 1 RETURNING c.comments)"
        " INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)"
        " SELECT gen_random_uuid(), 'post', $1::text, 'PostFirstComment',"
        "  jsonb_build_object('post_id', $1::text, 'caused_by', $2::text) FROM c WHERE comments = "
        "1",
        2, NULL, params, NULL, NULL, 0);
    outbox_consumer_rc rc = PQresultStatus(res) == PGRES_COMMAND_OK
                                ? OUTBOX_CONSUMER_OK
                                : outbox_consumer_sql_error(conn, res, "counting", err);
    PQclear(res);
    return rc;
}

int main(int argc, char **argv)
{
    const char *sets[64];
    size_t n = 0;
    for (int i = 1; i + 1 < argc && n < 64; i += 2)
        if (strcmp(argv[i], "--set") == 0)
            sets[n++] = argv[i + 1];
    outbox_consumer_settings settings;
    outbox_conf *conf = NULL;
    char errstr[1024];
    memset(&settings, 0, sizeof settings);
    outbox_conf_sources src = {.envp = environ, .sets = sets, .set_count = n};
    if (outbox_consumer_settings_load(&settings, "consumer-example-minimal", "EXAMPLE", &src, &conf,
                                      errstr, sizeof errstr)) {
        fprintf(stderr, "%s\n", errstr);
        return 2;
    }
    int rc = 2;
    outbox_consumer *consumer =
        outbox_consumer_new(&settings, conf, on_event, NULL, errstr, sizeof errstr);
    if (consumer == NULL || outbox_consumer_start(consumer, errstr, sizeof errstr)) {
        fprintf(stderr, "%s\n", errstr);
        goto done;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop_requested && outbox_consumer_running(consumer))
        nanosleep(&(struct timespec){0, 100000000L}, NULL);
    outbox_consumer_stop(consumer);
    rc = outbox_consumer_join(consumer);
done:
    outbox_consumer_free(consumer);
    outbox_consumer_settings_free(&settings);
    outbox_conf_destroy(conf);
    return rc;
}
