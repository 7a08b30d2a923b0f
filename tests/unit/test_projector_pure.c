/* projector: the pure parts - SQLSTATE classes, projection sections, batch planning (dedup
 * marking, positions, deadlines), array literals, NOTIFY payload chunking, uuid checks, the
 * /events body, and decoding both wire formats. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "avro_json.h"
#include "avro_schema.h"
#include "wire.h"
#include "projector_batch.h"
#include "projector_decode.h"
#include "projector_httpd.h"
#include "projector_pgtext.h"
#include "projector_projection.h"
#include "projector_rebuild.h"
#include "projector_rebuild_metrics.h"
#include "projector_settings.h"
#include "projector_sqlstate.h"
#include "projector_stats.h"

/* ------------------------------------------------------------------ SQLSTATE */

static void test_sqlstate_transient_classes_are_retried(void **state)
{
    const char *codes[] = {"08006", "08001", "40001", "40P01", "53300", "57P01",
                           "57P03", "55P03", "58030", NULL,    ""};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_int_equal(projector_sqlstate_classify(codes[i]), PROJECTOR_SQLSTATE_TRANSIENT);
}

static void test_sqlstate_data_and_integrity_errors_are_permanent(void **state)
{
    const char *codes[] = {"22P02", "22007", "23505", "23514", "23503", "42804", "42883", "P0001"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_int_equal(projector_sqlstate_classify(codes[i]), PROJECTOR_SQLSTATE_PERMANENT);
}

static void test_sqlstate_configuration_errors_are_fatal(void **state)
{
    /* 08P01: the server answers a Bind with the wrong number of parameters with a protocol
     * violation and keeps the connection: as a retry it would loop for ever */
    /* 42P01/42703: a table or column the statement names is gone (a read-model migration while
     * the daemon runs): every event would fail the same way and be dead-lettered */
    const char *codes[] = {"42501", "3D000", "28P01", "28000", "XX000",
                           "XX001", "0A000", "08P01", "42P01", "42703"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_int_equal(projector_sqlstate_classify(codes[i]), PROJECTOR_SQLSTATE_FATAL);
}

/* ------------------------------------------------------------------ projections */

static void test_projection_ddl_paths_are_relative_to_the_config_file(void **state)
{
    outbox_conf_item items[] = {
        {"projection m", "topics", "t", "/etc/outbox/p.ini", 2},
        {"projection m", "sql.X", "SELECT 1", "/etc/outbox/p.ini", 3},
        {"projection m", "ddl", "model.sql, /abs/extra.sql", "/etc/outbox/p.ini", 4},
    };
    projector_projections out = {0};
    char errstr[512];
    assert_int_equal(projector_projections_parse(items, 3, &out, errstr, sizeof errstr), 0);
    assert_int_equal(out.items[0].ddl_count, 2);
    assert_string_equal(out.items[0].ddl[0], "/etc/outbox/model.sql");
    assert_string_equal(out.items[0].ddl[1], "/abs/extra.sql");
    projector_projections_free(&out);
}

/* The shadow connection: the projection's own options kept, search_path appended after them
 * (a later -c wins), values quoted for conninfo; URIs too. */
static void test_rebuild_conninfo_appends_the_shadow_search_path(void **state)
{
    char *c =
        projector_conninfo_with_schema("host=h dbname=d options='-c search_path=s'", "s__rebuild");
    assert_non_null(c);
    assert_non_null(strstr(c, "options='-c search_path=s -c search_path=s__rebuild'"));
    assert_non_null(strstr(c, "dbname='d'"));
    free(c);
    c = projector_conninfo_with_schema("postgresql://u@h:5/db?application_name=it%27s", "x");
    assert_non_null(c);
    assert_non_null(strstr(c, "options='-c search_path=x'"));
    assert_non_null(strstr(c, "application_name='it\\'s'"));
    assert_non_null(strstr(c, "port='5'"));
    free(c);
    assert_null(projector_conninfo_with_schema("host='unterminated", "x"));
}

static void test_rebuild_progress_line(void **state)
{
    char line[256];
    projector_rebuild_progress_format(line, sizeof line, 450, 1000, 10.0, true);
    assert_string_equal(line, "[#############.................]  45.0% 450/1000 events  10 ev/s  "
                              "lag 550  ETA 0m55s");
    projector_rebuild_progress_format(line, sizeof line, 0, 0, 0.0, false);
    assert_string_equal(line, "100.0% 0/0 events  0 ev/s  lag 0  ETA ?");
}

/* A broker that stops answering the watermark queries for a while (a leader moving, a restart)
 * does not end the rebuild; one silent past the give-up time does (it used to end on the first
 * failed query: "kafka watermarks of T [p]: Broker: Not leader for partition"). */
static void test_rebuild_waits_out_broker_trouble(void **state)
{
    (void)state;
    int64_t since = 0;
    assert_int_equal(projector_rebuild_broker_health(&since, true, 1000, 120000),
                     PROJECTOR_BROKER_OK);
    assert_int_equal(projector_rebuild_broker_health(&since, false, 2000, 120000),
                     PROJECTOR_BROKER_WAITING);
    assert_int_equal(since, 2000);
    assert_int_equal(projector_rebuild_broker_health(&since, false, 60000, 120000),
                     PROJECTOR_BROKER_WAITING);
    assert_int_equal(since, 2000); /* the trouble's start is kept while it lasts */
    assert_int_equal(projector_rebuild_broker_health(&since, true, 61000, 120000),
                     PROJECTOR_BROKER_RECOVERED);
    assert_int_equal(since, 0);
    assert_int_equal(projector_rebuild_broker_health(&since, true, 62000, 120000),
                     PROJECTOR_BROKER_OK);
    /* a new trouble counts from its own start, and ends the rebuild past the give-up time */
    assert_int_equal(projector_rebuild_broker_health(&since, false, 70000, 120000),
                     PROJECTOR_BROKER_WAITING);
    assert_int_equal(projector_rebuild_broker_health(&since, false, 190000, 120000),
                     PROJECTOR_BROKER_WAITING);
    assert_int_equal(projector_rebuild_broker_health(&since, false, 190001, 120000),
                     PROJECTOR_BROKER_GIVE_UP);
}

static outbox_conf_item item(const char *section, const char *key, const char *value, int line)
{
    outbox_conf_item it = {section, key, value, "p.ini", line};
    return it;
}

static void test_projection_sections_parse_with_defaults(void **state)
{
    outbox_conf_item items[] = {
        item("projection posts", "topics", "outbox.event.post, outbox.event.comment", 2),
        item("projection posts", "tables", "posts comments,audit.log", 3),
        item("projection posts", "sql.PostCreated", "INSERT INTO posts SELECT $1", 4),
        item("projection posts", "sql.CommentCreated", "SELECT 1", 5),
        item("projection other", "topics", "x", 7),
        item("projection other", "database", "dbname=other", 8),
        item("projection other", "notify", "", 9),
        item("projection other", "start", "latest", 10),
        item("projection other", "sql.X", "SELECT 2", 11),
        item("projection posts", "sql.PostCreated", "SELECT 3", 12), /* later wins */
    };
    projector_projections out = {0};
    char errstr[512];
    assert_int_equal(projector_projections_parse(items, 10, &out, errstr, sizeof errstr), 0);
    assert_int_equal(out.count, 2);
    const projector_projection *p = projector_projections_find(&out, "posts");
    assert_non_null(p);
    assert_int_equal(p->topic_count, 2);
    assert_string_equal(p->topics[1], "outbox.event.comment");
    assert_int_equal(p->table_count, 3);
    assert_string_equal(p->tables[2], "audit.log");
    assert_string_equal(p->group, "outbox-projector.posts");
    assert_string_equal(p->notify, "projector.posts");
    assert_null(p->database);
    assert_int_equal(p->start, PROJECTOR_START_EARLIEST);
    assert_int_equal(p->mapping_count, 2);
    assert_int_equal(projector_projection_mapping(p, "PostCreated"), 0);
    assert_string_equal(p->mappings[0].sql, "SELECT 3");
    assert_string_equal(p->mappings[0].origin, "p.ini:12");
    assert_int_equal(projector_projection_mapping(p, "Nope"), -1);
    const projector_projection *o = projector_projections_find(&out, "other");
    assert_string_equal(o->notify, "");
    assert_string_equal(o->database, "dbname=other");
    assert_int_equal(o->start, PROJECTOR_START_LATEST);
    projector_projections_free(&out);
    assert_int_equal(out.count, 0);
}

static void expect_parse_error(const outbox_conf_item *items, size_t n, const char *needle)
{
    projector_projections out = {0};
    char errstr[512] = "";
    assert_int_equal(projector_projections_parse(items, n, &out, errstr, sizeof errstr), -1);
    if (strstr(errstr, needle) == NULL)
        fail_msg("error '%s' lacks '%s'", errstr, needle);
    assert_int_equal(out.count, 0);
}

static void test_projection_errors_name_key_file_and_fix(void **state)
{
    outbox_conf_item unknown[] = {item("projection p", "topcs", "a", 3)};
    expect_parse_error(unknown, 1, "unknown key 'topcs' in [projection p] at p.ini:3");
    outbox_conf_item section[] = {item("projections p", "topics", "a", 4)};
    expect_parse_error(section, 1, "unknown section [projections p] at p.ini:4");
    outbox_conf_item no_topics[] = {item("projection p", "sql.A", "SELECT 1", 1)};
    expect_parse_error(no_topics, 1, "has no topics");
    outbox_conf_item no_sql[] = {item("projection p", "topics", "a", 1)};
    expect_parse_error(no_sql, 1, "maps no event type");
    outbox_conf_item bad_table[] = {item("projection p", "tables", "posts; DROP TABLE x", 2)};
    expect_parse_error(bad_table, 1, "invalid table name");
    outbox_conf_item bad_name[] = {item("projection a b", "topics", "a", 2)};
    expect_parse_error(bad_name, 1, "invalid projection name 'a b'");
    outbox_conf_item same_group[] = {
        item("projection a", "topics", "t", 1),       item("projection a", "sql.X", "SELECT 1", 2),
        item("projection a", "group", "g", 3),        item("projection b", "topics", "t", 4),
        item("projection b", "sql.X", "SELECT 1", 5), item("projection b", "group", "g", 6)};
    expect_parse_error(same_group, 6, "same consumer group 'g'");
    outbox_conf_item twice[] = {item("projection p", "topics", "a, b, a", 2)};
    expect_parse_error(twice, 1, "topic 'a' listed twice");
}

/* Loads settings with one projection on `topics` and `suffix` as projector.dlq-suffix; NULL, or
 * the error. */
static const char *load_topics(const char *topics, const char *suffix, char *err, size_t size)
{
    char t[600], d[300];
    snprintf(t, sizeof t, "projection p.topics=%s", topics);
    snprintf(d, sizeof d, "projector.dlq-suffix=%s", suffix);
    const char *sets[] = {"postgres.conninfo=dbname=unused", t, "projection p.sql.X=SELECT 1", d,
                          "kafka.bootstrap.servers=127.0.0.1:9092"};
    outbox_conf_sources src = {.sets = sets, .set_count = 5};
    projector_settings s;
    outbox_conf *conf = NULL;
    memset(&s, 0, sizeof s);
    int rc = projector_settings_load(&s, &src, &conf, err, size);
    if (rc == 0) {
        outbox_conf_destroy(conf);
        projector_settings_free(&s);
    }
    return rc == 0 ? NULL : err;
}

static void test_topics_and_their_dead_letter_topics_must_be_legal_names(void **state)
{
    (void)state;
    char err[1024], topic[300];
    memset(topic, 'a', 245);
    topic[245] = '\0';
    assert_null(load_topics(topic, ".dlq", err, sizeof err)); /* 245 + 4 = 249 */
    topic[245] = 'a';
    topic[246] = '\0'; /* a legal topic, whose "<topic>.dlq" is 250 characters */
    const char *e = load_topics(topic, ".dlq", err, sizeof err);
    assert_non_null(e);
    assert_non_null(strstr(e, "[projection p] topic aaaa"));
    assert_non_null(strstr(e, "shorten projector.dlq-suffix"));
    assert_null(load_topics(topic, "-x", err, sizeof err));
    e = load_topics("blog/comment", ".dlq", err, sizeof err);
    assert_non_null(e);
    assert_non_null(strstr(e, "topic \"blog/comment\" is not a legal Kafka topic name"));
    e = load_topics("blog", ".dlq!", err, sizeof err);
    assert_non_null(e);
    assert_non_null(strstr(e, "dead-letter topic blog.dlq! is not a legal"));
}

/* Without kafka.bootstrap.servers librdkafka only warns and the projections never get an
 * event: `run` refuses to start, naming the key; `wait` (no Kafka) does not need it. */
static void test_kafka_bootstrap_servers_is_required_to_run(void **state)
{
    (void)state;
    const char *sets[] = {"postgres.conninfo=dbname=unused", "projection p.topics=t",
                          "projection p.sql.X=SELECT 1"};
    outbox_conf_sources src = {.sets = sets, .set_count = 3};
    projector_settings s;
    outbox_conf *conf = NULL;
    char err[1024];
    memset(&s, 0, sizeof s);
    assert_int_equal(projector_settings_load(&s, &src, &conf, err, sizeof err), -1);
    assert_non_null(strstr(err, "kafka.bootstrap.servers is not set: add it under [kafka] in the "
                                "config file or set OUTBOX_PROJECTOR_KAFKA_BOOTSTRAP_SERVERS"));
    projector_settings_free(&s);
    memset(&s, 0, sizeof s);
    assert_int_equal(projector_settings_load_opt(&s, &src, false, &conf, err, sizeof err), 0);
    outbox_conf_destroy(conf);
    projector_settings_free(&s);
}

static void test_identifiers(void **state)
{
    assert_true(projector_identifier_valid("posts"));
    assert_true(projector_identifier_valid("read_model.posts_v2"));
    assert_false(projector_identifier_valid("1posts"));
    assert_false(projector_identifier_valid("a.b.c"));
    assert_false(projector_identifier_valid("posts;"));
    assert_false(projector_identifier_valid(""));
}

/* ------------------------------------------------------------------ batch planning */

static projector_event *add(projector_batch *b, const char *topic, int32_t part, int64_t off,
                            const char *id, int64_t now)
{
    projector_event *ev = projector_batch_add(b, now);
    assert_non_null(ev);
    ev->topic = strdup(topic);
    ev->partition = part;
    ev->offset = off;
    snprintf(ev->id, sizeof ev->id, "%s", id);
    return ev;
}

#define ID(n) "00000000-0000-4000-8000-00000000000" #n

static void test_batch_marks_first_occurrence_new_and_the_rest_duplicate(void **state)
{
    projector_batch b;
    projector_batch_init(&b);
    add(&b, "t", 0, 10, ID(1), 0);
    add(&b, "t", 1, 5, ID(2), 0);
    add(&b, "t", 0, 11, ID(1), 0); /* duplicate inside the batch */
    add(&b, "t", 0, 12, ID(3), 0); /* applied in an earlier batch: not returned */
    projector_event *dead = add(&b, "t", 1, 6, ID(4), 0);
    assert_int_equal(projector_event_kill(dead, "23514", "bad\x01row"), 0);
    const char *returned[] = {ID(2), ID(1)};
    assert_int_equal(projector_batch_mark(&b, returned, 2), 2);
    assert_int_equal(b.events[0].state, PROJECTOR_EVENT_NEW);
    assert_int_equal(b.events[1].state, PROJECTOR_EVENT_NEW);
    assert_int_equal(b.events[2].state, PROJECTOR_EVENT_DUPLICATE);
    assert_int_equal(b.events[3].state, PROJECTOR_EVENT_DUPLICATE);
    assert_int_equal(b.events[4].state, PROJECTOR_EVENT_DEAD);
    assert_string_equal(b.events[4].reason, "bad?row"); /* printable only */
    /* A retry starts over, dead events stay dead. */
    projector_batch_reset(&b);
    assert_int_equal(b.events[0].state, PROJECTOR_EVENT_PENDING);
    assert_int_equal(b.events[4].state, PROJECTOR_EVENT_DEAD);
    projector_batch_free(&b, NULL);
}

/* The one-round transaction's answer: every live event NEW, dead ones stay dead. */
static void test_batch_mark_all_new_leaves_dead_events_dead(void **state)
{
    projector_batch b;
    projector_batch_init(&b);
    add(&b, "t", 0, 10, ID(1), 0);
    projector_event *dead = add(&b, "t", 0, 11, ID(2), 0);
    assert_int_equal(projector_event_kill(dead, NULL, "undecodable"), 0);
    add(&b, "t", 1, 3, ID(3), 0);
    assert_int_equal(projector_batch_mark_all_new(&b), 2);
    assert_int_equal(b.events[0].state, PROJECTOR_EVENT_NEW);
    assert_int_equal(b.events[1].state, PROJECTOR_EVENT_DEAD);
    assert_int_equal(b.events[2].state, PROJECTOR_EVENT_NEW);
    /* A failed attempt puts them back to PENDING for the two-round one. */
    projector_batch_reset(&b);
    assert_int_equal(b.events[0].state, PROJECTOR_EVENT_PENDING);
    assert_int_equal(b.events[1].state, PROJECTOR_EVENT_DEAD);
    projector_batch_free(&b, NULL);
}

static void test_batch_positions_cover_every_partition_whatever_the_state(void **state)
{
    projector_batch b;
    projector_batch_init(&b);
    add(&b, "a", 0, 10, ID(1), 0);
    add(&b, "b", 0, 3, ID(2), 0);
    add(&b, "a", 1, 7, ID(3), 0);
    projector_event *dead = add(&b, "a", 0, 11, ID(4), 0);
    assert_int_equal(projector_event_kill(dead, NULL, "undecodable"), 0);
    add(&b, "b", 0, 4, ID(5), 0);
    projector_position pos[8];
    size_t n = projector_batch_positions(&b, pos, 8);
    assert_int_equal(n, 3);
    assert_string_equal(pos[0].topic, "a");
    assert_int_equal(pos[0].next_offset, 12); /* past the dead event */
    assert_string_equal(pos[1].topic, "b");
    assert_int_equal(pos[1].next_offset, 5);
    assert_int_equal(pos[2].partition, 1);
    assert_int_equal(pos[2].next_offset, 8);
    projector_batch_drop_partition(&b, "a", 0, NULL);
    assert_int_equal(b.count, 3);
    assert_int_equal(projector_batch_positions(&b, pos, 8), 2);
    projector_batch_free(&b, NULL);
}

static void test_batch_is_due_by_count_or_linger(void **state)
{
    projector_batch b;
    projector_batch_init(&b);
    assert_false(projector_batch_due(&b, 2, 100, 1000));
    assert_int_equal(projector_batch_wait_ms(&b, 100, 1000), -1);
    add(&b, "t", 0, 1, ID(1), 1000);
    assert_false(projector_batch_due(&b, 2, 100, 1050));
    assert_int_equal(projector_batch_wait_ms(&b, 100, 1050), 50);
    assert_true(projector_batch_due(&b, 2, 100, 1100));
    add(&b, "t", 0, 2, ID(2), 1060);
    assert_true(projector_batch_due(&b, 2, 100, 1061));
    projector_batch_clear(&b, NULL);
    assert_false(projector_batch_due(&b, 2, 100, 5000));
    projector_batch_free(&b, NULL);
}

static void test_uuid_normalize(void **state)
{
    char out[PROJECTOR_UUID_LEN + 1];
    const char *in = "6D02D7EA-EE25-41CE-AAAB-BDD0C2EECB36";
    assert_int_equal(projector_uuid_normalize(in, strlen(in), out), 0);
    assert_string_equal(out, "6d02d7ea-ee25-41ce-aaab-bdd0c2eecb36");
    const char *bad[] = {
        "6d02d7ea-ee25-41ce-aaab-bdd0c2eecb3", "6d02d7eaxee25-41ce-aaab-bdd0c2eecb36",
        "{6d02d7ea-ee25-41ce-aaab-bdd0c2eecb}", "6d02d7ea-ee25-41ce-aaab-bdd0c2eecbzz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(projector_uuid_normalize(bad[i], strlen(bad[i]), out), -1);
}

/* ------------------------------------------------------------------ text for PostgreSQL */

static void test_rebuild_metrics_text(void **state)
{
    (void)state;
    char *t = projector_rebuild_metrics_text("query", 450, 1000, 10.0, 1);
    assert_non_null(t);
    assert_non_null(strstr(t, "outbox_projector_rebuild_events_done{projection=\"query\"} 450\n"));
    assert_non_null(
        strstr(t, "outbox_projector_rebuild_events_total{projection=\"query\"} 1000\n"));
    assert_non_null(strstr(t, "outbox_projector_rebuild_lag_events{projection=\"query\"} 550\n"));
    assert_non_null(strstr(t, "outbox_projector_rebuild_phase{projection=\"query\"} 1\n"));
    assert_non_null(
        strstr(t, "outbox_projector_rebuild_rate_events_per_second{projection=\"query\"} 10\n"));
    assert_non_null(strstr(t, "outbox_projector_rebuild_eta_seconds{projection=\"query\"} 55\n"));
    assert_non_null(strstr(t, "# TYPE outbox_projector_rebuild_eta_seconds gauge\n"));
    free(t);
    t = projector_rebuild_metrics_text("query", 0, 0, 0.0, 2);
    assert_non_null(t);
    assert_non_null(strstr(t, "outbox_projector_rebuild_eta_seconds{projection=\"query\"} -1\n"));
    free(t);
}

/* A projection's several runners (rebuild's workers) render apart: worker="N" on every series,
 * counters, gauges and histograms alike; a stats without a worker has no such label. */
static void test_stats_of_workers_carry_a_worker_label(void **state)
{
    (void)state;
    projector_stats a, b, plain;
    assert_int_equal(projector_stats_init(&a, "query"), 0);
    assert_int_equal(projector_stats_init(&b, "query"), 0);
    assert_int_equal(projector_stats_init(&plain, "live"), 0);
    a.worker = "1";
    b.worker = "2";
    projector_stat_add(&a.applied, 7);
    projector_stat_add(&b.applied, 5);
    projector_stat_add(&b.dead_sql, 1);
    projector_stat_set(&a.assigned_partitions, 2);
    projector_stat_set(&b.assigned_partitions, 1);
    projector_stats *all[] = {&a, &b, &plain};
    size_t len = 0;
    char *t = projector_stats_render(all, 3, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    assert_non_null(
        strstr(t, "outbox_projector_events_applied_total{projection=\"query\",worker=\"1\"} 7\n"));
    assert_non_null(
        strstr(t, "outbox_projector_events_applied_total{projection=\"query\",worker=\"2\"} 5\n"));
    assert_non_null(strstr(t, "outbox_projector_dead_letters_total{projection=\"query\",worker="
                              "\"2\",reason=\"sql\"} 1\n"));
    assert_non_null(
        strstr(t, "outbox_projector_assigned_partitions{projection=\"query\",worker=\"1\"} 2\n"));
    assert_non_null(
        strstr(t, "outbox_projector_assigned_partitions{projection=\"query\",worker=\"2\"} 1\n"));
    assert_non_null(strstr(t, "outbox_projector_up{projection=\"query\",worker=\"2\"} 0\n"));
    assert_non_null(strstr(t, "outbox_projector_batch_events_count{projection=\"query\",worker="
                              "\"1\"} 0\n"));
    assert_non_null(strstr(t, "outbox_projector_events_applied_total{projection=\"live\"} 0\n"));
    assert_null(strstr(t, "{projection=\"query\"}"));
    free(t);
    projector_stats_destroy(&a);
    projector_stats_destroy(&b);
    projector_stats_destroy(&plain);
}

static void test_array_literal_quotes_and_escapes(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    assert_int_equal(outbox_pgarray_begin(&buf), 0);
    assert_int_equal(outbox_pgarray_add(&buf, "plain", 1), 0);
    assert_int_equal(outbox_pgarray_add(&buf, "a \"quoted\" \\ b,{x}", 0), 0);
    assert_int_equal(outbox_pgarray_add(&buf, NULL, 0), 0);
    assert_int_equal(outbox_pgarray_add(&buf, "", 0), 0);
    assert_int_equal(outbox_pgarray_end(&buf), 0);
    assert_string_equal((char *)buf.data, "{\"plain\",\"a \\\"quoted\\\" \\\\ b,{x}\",NULL,\"\"}");
    assert_int_equal(buf.len, strlen((char *)buf.data));
    assert_int_equal(outbox_pgarray_begin(&buf), 0);
    assert_int_equal(outbox_pgarray_end(&buf), 0);
    assert_string_equal((char *)buf.data, "{}");
    outbox_buf_free(&buf);
}

static void test_notify_payloads_stay_under_the_limit_and_cover_every_id(void **state)
{
    enum { N = 1000 };
    char ids[N][PROJECTOR_UUID_LEN + 1];
    const char *ptrs[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "00000000-0000-4000-8000-%012d", i);
        ptrs[i] = ids[i];
    }
    outbox_buf buf = OUTBOX_BUF_INIT;
    size_t at = 0, payloads = 0;
    while (at < N) {
        long took = projector_notify_payload(&buf, "posts", ptrs, N, at, PROJECTOR_NOTIFY_MAX);
        assert_true(took > 0);
        assert_true(buf.len <= PROJECTOR_NOTIFY_MAX);
        json_error_t jerr;
        json_t *obj = json_loads((char *)buf.data, 0, &jerr);
        assert_non_null(obj);
        assert_string_equal(json_string_value(json_object_get(obj, "projection")), "posts");
        json_t *events = json_object_get(obj, "events");
        assert_int_equal(json_array_size(events), (size_t)took);
        assert_string_equal(json_string_value(json_array_get(events, 0)), ids[at]);
        json_decref(obj);
        at += (size_t)took;
        payloads++;
    }
    assert_int_equal(at, N);
    assert_int_equal(payloads, 5); /* 39 bytes per id: 204 per payload */
    assert_int_equal(projector_notify_payload(&buf, "posts", ptrs, N, N, PROJECTOR_NOTIFY_MAX), 0);
    assert_int_equal(projector_notify_payload(&buf, "posts", ptrs, N, 0, 40), -1);
    outbox_buf_free(&buf);
}

static void test_event_body_by_state(void **state)
{
    int status = 0;
    char *body = projector_httpd_event_body("p", ID(1), "applied", "2026-01-01 00:00:00+00", NULL,
                                            NULL, NULL, &status);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, "\"status\":\"applied\""));
    free(body);
    body = projector_httpd_event_body("p", ID(1), NULL, NULL, NULL, NULL, NULL, &status);
    assert_int_equal(status, 202);
    assert_non_null(strstr(body, "\"status\":\"pending\""));
    free(body);
    body = projector_httpd_event_body("p", ID(1), "failed", "t", "violates \"x\"", "23514", "a.dlq",
                                      &status);
    assert_int_equal(status, 422);
    assert_non_null(strstr(body, "\"reason\":\"violates \\\"x\\\"\""));
    assert_non_null(strstr(body, "\"sqlstate\":\"23514\""));
    free(body);
}

/* ------------------------------------------------------------------ decoding */

static const char *post_json =
    "{\"post_id\":\"6d02d7ea-ee25-41ce-aaab-bdd0c2eecb36\",\"author_id\":\"u1\","
    "\"author_name\":\"Ann\",\"title\":\"T\",\"body\":\"B\",\"tags\":[\"a\"],"
    "\"metadata\":{\"k\":\"v\"},\"publish_date\":\"2026-01-02\","
    "\"created_at\":\"2026-01-01T00:00:00.123Z\"}";

static void framed(const outbox_schema *schema, int confluent, outbox_buf *buf)
{
    char errstr[256];
    json_error_t jerr;
    json_t *value = json_loads(post_json, 0, &jerr);
    assert_non_null(value);
    outbox_buf_reset(buf);
    if (confluent)
        assert_int_equal(outbox_wire_confluent_write(buf, 7, errstr, sizeof errstr), 0);
    else
        assert_int_equal(outbox_wire_single_object_write(buf, outbox_schema_fingerprint(schema),
                                                         errstr, sizeof errstr),
                         0);
    assert_int_equal(outbox_avro_json_encode(schema, value, buf, errstr, sizeof errstr), 0);
    json_decref(value);
}

/* $1 carries bytes in the form the schema chose: base64 where the type says so (jsonb can
 * store it), Avro's code points elsewhere. */
static void test_decode_renders_bytes_in_the_schemas_form(void **state)
{
    static const char schema_json[] =
        "{\"type\":\"record\",\"name\":\"Blob\",\"namespace\":\"t\",\"fields\":["
        "{\"name\":\"data\",\"type\":{\"type\":\"bytes\",\"outbox.encoding\":\"base64\"}},"
        "{\"name\":\"digest\",\"type\":{\"type\":\"fixed\",\"name\":\"D\",\"size\":2,"
        "\"outbox.encoding\":\"base64\"}},{\"name\":\"note\",\"type\":\"bytes\"}]}";
    static const char event[] = "{\"data\":\"AAEC/w==\",\"digest\":\"AP8=\",\"note\":\"A\"}";
    outbox_schemas *schemas = outbox_schemas_new();
    outbox_schema *schema = NULL;
    outbox_buf buf = OUTBOX_BUF_INIT;
    outbox_avro_scratch scratch;
    const char *name = NULL;
    char *json = NULL;
    char errstr[512];
    (void)state;
    assert_non_null(schemas);
    assert_int_equal(
        outbox_schema_parse(schema_json, strlen(schema_json), 0, &schema, errstr, sizeof errstr),
        0);
    assert_int_equal(outbox_wire_single_object_write(&buf, outbox_schema_fingerprint(schema),
                                                     errstr, sizeof errstr),
                     0);
    outbox_avro_scratch_init(&scratch, 0);
    assert_int_equal(outbox_avro_json_encode_text(schema, event, strlen(event), &scratch, &buf,
                                                  errstr, sizeof errstr),
                     OUTBOX_AVRO_ENC_OK);
    outbox_avro_scratch_free(&scratch);
    /* the Avro holds the bytes themselves: 00 01 02 ff, then 00 ff */
    assert_memory_equal(buf.data + 10, "\x08\x00\x01\x02\xff\x00\xff\x02\x41", 9);
    assert_int_equal(outbox_schemas_add(schemas, schema, "test", errstr, sizeof errstr), 0);
    schema = NULL; /* now owned by schemas */
    projector_decoder *dec = projector_decoder_new(schemas, NULL);
    assert_int_equal(
        projector_decode_value(dec, buf.data, buf.len, &json, &name, errstr, sizeof errstr),
        PROJECTOR_DECODE_OK);
    assert_string_equal(json, event);
    free(json);
    outbox_buf_free(&buf);
    projector_decoder_free(dec);
    outbox_schemas_destroy(schemas);
}

static void test_decode_single_object_renders_logical_types(void **state)
{
    outbox_schemas *schemas = NULL;
    char errstr[512];
    assert_int_equal(outbox_schemas_load_dir(SCHEMA_DIR, &schemas, errstr, sizeof errstr), 0);
    const outbox_schema *post = outbox_schemas_find(schemas, "PostCreated");
    projector_decoder *dec = projector_decoder_new(schemas, NULL);
    outbox_buf buf = OUTBOX_BUF_INIT;
    framed(post, 0, &buf);
    char *json = NULL;
    const char *name = NULL;
    assert_int_equal(
        projector_decode_value(dec, buf.data, buf.len, &json, &name, errstr, sizeof errstr),
        PROJECTOR_DECODE_OK);
    assert_string_equal(name, "PostCreated");
    json_error_t jerr;
    json_t *got = json_loads(json, 0, &jerr);
    json_t *want = json_loads(post_json, 0, &jerr);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    free(json);

    /* Confluent framing without a registry: dead, and the reason says what to set. */
    framed(post, 1, &buf);
    assert_int_equal(
        projector_decode_value(dec, buf.data, buf.len, &json, &name, errstr, sizeof errstr),
        PROJECTOR_DECODE_DEAD);
    assert_non_null(strstr(errstr, "registry.url"));
    /* Unknown fingerprint, garbage, truncated Avro: dead with a reason. */
    uint8_t unknown[] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0};
    assert_int_equal(
        projector_decode_value(dec, unknown, sizeof unknown, &json, &name, errstr, sizeof errstr),
        PROJECTOR_DECODE_DEAD);
    assert_non_null(strstr(errstr, "fingerprint"));
    uint8_t garbage[] = {0x07, 'x'};
    assert_int_equal(
        projector_decode_value(dec, garbage, sizeof garbage, &json, &name, errstr, sizeof errstr),
        PROJECTOR_DECODE_DEAD);
    framed(post, 0, &buf);
    assert_int_equal(
        projector_decode_value(dec, buf.data, buf.len - 3, &json, &name, errstr, sizeof errstr),
        PROJECTOR_DECODE_DEAD);
    assert_non_null(strstr(errstr, "does not match blog.events.PostCreated"));
    outbox_buf_free(&buf);
    projector_decoder_free(dec);
    outbox_schemas_destroy(schemas);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlstate_transient_classes_are_retried),
        cmocka_unit_test(test_sqlstate_data_and_integrity_errors_are_permanent),
        cmocka_unit_test(test_sqlstate_configuration_errors_are_fatal),
        cmocka_unit_test(test_projection_sections_parse_with_defaults),
        cmocka_unit_test(test_projection_errors_name_key_file_and_fix),
        cmocka_unit_test(test_topics_and_their_dead_letter_topics_must_be_legal_names),
        cmocka_unit_test(test_kafka_bootstrap_servers_is_required_to_run),
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_batch_marks_first_occurrence_new_and_the_rest_duplicate),
        cmocka_unit_test(test_batch_mark_all_new_leaves_dead_events_dead),
        cmocka_unit_test(test_batch_positions_cover_every_partition_whatever_the_state),
        cmocka_unit_test(test_batch_is_due_by_count_or_linger),
        cmocka_unit_test(test_uuid_normalize),
        cmocka_unit_test(test_array_literal_quotes_and_escapes),
        cmocka_unit_test(test_notify_payloads_stay_under_the_limit_and_cover_every_id),
        cmocka_unit_test(test_event_body_by_state),
        cmocka_unit_test(test_decode_renders_bytes_in_the_schemas_form),
        cmocka_unit_test(test_decode_single_object_renders_logical_types),
        cmocka_unit_test(test_projection_ddl_paths_are_relative_to_the_config_file),
        cmocka_unit_test(test_rebuild_conninfo_appends_the_shadow_search_path),
        cmocka_unit_test(test_rebuild_progress_line),
        cmocka_unit_test(test_rebuild_waits_out_broker_trouble),
        cmocka_unit_test(test_rebuild_metrics_text),
        cmocka_unit_test(test_stats_of_workers_carry_a_worker_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
