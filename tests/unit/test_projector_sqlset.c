/* projector: the pure parts of set statements (sqlset.<EventType>) - parsing and validation,
 * splitting a batch into runs, and the jsonb array a run is applied with. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "projector_batch.h"
#include "projector_pgtext.h"
#include "projector_projection.h"

/* ------------------------------------------------------------------ configuration */

static outbox_conf_item item(const char *section, const char *key, const char *value, int line)
{
    outbox_conf_item it = {section, key, value, "p.ini", line};
    return it;
}

static void expect_parse_error(const outbox_conf_item *items, size_t n, const char *needle)
{
    projector_projections out = {0};
    char errstr[1024] = "";
    assert_int_equal(projector_projections_parse(items, n, &out, errstr, sizeof errstr), -1);
    if (strstr(errstr, needle) == NULL)
        fail_msg("error '%s' lacks '%s'", errstr, needle);
    assert_int_equal(out.count, 0);
}

static void test_sqlset_key_maps_a_type_to_a_set_statement(void **state)
{
    outbox_conf_item items[] = {
        item("projection p", "topics", "t", 1),
        item("projection p", "sqlset.PostCreated",
             "INSERT INTO posts SELECT (e->'event'->>'post_id')::uuid FROM "
             "jsonb_array_elements($1) AS e",
             2),
        item("projection p", "sql.CommentCreated", "SELECT $1, $2", 3),
    };
    projector_projections out = {0};
    char errstr[512];
    assert_int_equal(projector_projections_parse(items, 3, &out, errstr, sizeof errstr), 0);
    const projector_projection *p = projector_projections_find(&out, "p");
    assert_int_equal(p->mapping_count, 2);
    int m = projector_projection_mapping(p, "PostCreated");
    assert_int_equal(m, 0);
    assert_true(p->mappings[m].set);
    assert_string_equal(projector_mapping_key(&p->mappings[m]), "sqlset");
    assert_string_equal(p->mappings[m].origin, "p.ini:2");
    m = projector_projection_mapping(p, "CommentCreated");
    assert_false(p->mappings[m].set);
    assert_string_equal(projector_mapping_key(&p->mappings[m]), "sql");
    projector_projections_free(&out);
}

static void test_sqlset_alone_is_a_mapping(void **state)
{
    outbox_conf_item items[] = {item("projection p", "topics", "t", 1),
                                item("projection p", "sqlset.A", "SELECT $1", 2)};
    projector_projections out = {0};
    char errstr[512];
    assert_int_equal(projector_projections_parse(items, 2, &out, errstr, sizeof errstr), 0);
    projector_projections_free(&out);
}

static void test_sqlset_errors_name_key_line_and_fix(void **state)
{
    outbox_conf_item both[] = {item("projection p", "topics", "t", 1),
                               item("projection p", "sql.A", "SELECT $1", 2),
                               item("projection p", "sqlset.A", "SELECT $1", 3)};
    expect_parse_error(both, 3,
                       "event type A of [projection p] has both sql.A (p.ini:2) and "
                       "sqlset.A at p.ini:3: keep one");
    outbox_conf_item both_reversed[] = {item("projection p", "topics", "t", 1),
                                        item("projection p", "sqlset.A", "SELECT $1", 2),
                                        item("projection p", "sql.A", "SELECT $1", 3)};
    expect_parse_error(both_reversed, 3, "has both sqlset.A (p.ini:2) and sql.A at p.ini:3");
    outbox_conf_item no_type[] = {item("projection p", "topics", "t", 1),
                                  item("projection p", "sqlset.", "SELECT $1", 2)};
    expect_parse_error(no_type, 2, "write sqlset.<EventType> = <statement>");
    outbox_conf_item empty[] = {item("projection p", "topics", "t", 1),
                                item("projection p", "sqlset.A", "", 2)};
    expect_parse_error(empty, 2, "empty statement for sqlset.A");
    outbox_conf_item extra[] = {item("projection p", "topics", "t", 1),
                                item("projection p", "sqlset.A", "SELECT $1, $2", 4)};
    expect_parse_error(extra, 2,
                       "sqlset.A in [projection p] at p.ini:4 uses $2: a set statement has one "
                       "parameter, $1");
    outbox_conf_item unknown[] = {item("projection p", "sqlsets.A", "SELECT 1", 2)};
    expect_parse_error(unknown, 1,
                       "known keys: topics, database, group, tables, notify, start, "
                       "sql.<EventType>, sqlset.<EventType>");
}

/* A per-event statement gets eight parameters: a $9 (or more) prepares (PostgreSQL infers its
 * type) but every execution fails with 08P01 (bind supplies 8, the statement wants 9), a
 * connection-class error retried forever. The configuration refuses it instead. */
static void test_sql_statement_beyond_eight_parameters_is_refused(void **state)
{
    outbox_conf_item ninth[] = {item("projection p", "topics", "t", 1),
                                item("projection p", "sql.A", "SELECT $1, coalesce($9, $2)", 5)};
    expect_parse_error(ninth, 2,
                       "sql.A in [projection p] at p.ini:5 uses $9: a statement has eight "
                       "parameters");
    outbox_conf_item quoted[] = {item("projection p", "topics", "t", 1),
                                 item("projection p", "sql.A", "SELECT $8, '$9' -- $10\n", 2)};
    projector_projections out = {0};
    char errstr[512];
    assert_int_equal(projector_projections_parse(quoted, 2, &out, errstr, sizeof errstr), 0);
    projector_projections_free(&out);
    assert_int_equal(projector_sql_param_beyond("SELECT $8, $1", 8), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT $8, $12", 8), 12);
    /* Dollar-quoted literals are literals too (an apostrophe inside one is just a character). */
    assert_int_equal(projector_sql_param_beyond("SELECT $q$ costs $9 $q$, $1", 8), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT $$it's $2$$ || $1", 1), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT $q$it's$q$, $9", 8), 9);
    assert_int_equal(projector_sql_param_beyond("SELECT a$$b, $2", 1), 2); /* identifier */
}

static void test_sqlset_parameter_scan_skips_quotes_and_comments(void **state)
{
    assert_int_equal(projector_sql_param_beyond("SELECT $1", 1), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT e FROM jsonb_array_elements($1) e", 1), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT $1, $2", 1), 2);
    assert_int_equal(projector_sql_param_beyond("SELECT $10", 1), 10);
    assert_int_equal(projector_sql_param_beyond("SELECT $8 -- $1 only", 1), 8);
    assert_int_equal(projector_sql_param_beyond("SELECT '$2', \"$3\" FROM x($1)", 1), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT $1 -- not $2\n", 1), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT /* $2 */ $1", 1), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT a$2 FROM t", 1), 0); /* identifier */
    assert_int_equal(projector_sql_param_beyond("SELECT 'it''s $2' || $1", 1), 0);
    assert_int_equal(projector_sql_param_beyond("SELECT 'unterminated $2", 1), 0);
}

static void test_projection_help_documents_sqlset(void **state)
{
    assert_non_null(strstr(projector_projection_help, "sqlset.<EventType> = SQL"));
    assert_non_null(strstr(projector_projection_help, "jsonb_array_elements($1)"));
    assert_non_null(strstr(projector_projection_help, "sql.<EventType> = SQL"));
}

/* ------------------------------------------------------------------ runs */

enum { A = 0, B = 1, C = 2 }; /* A and C set-based, B per event */
static const bool set_mapping[3] = {true, false, true};

static void add(projector_batch *batch, int mapping, projector_event_state state)
{
    projector_event *ev = projector_batch_add(batch, 0);
    assert_non_null(ev);
    ev->mapping = mapping;
    ev->state = state;
}

/* The runs of the batch as text: "A0-3x2" = set run of mapping A from 0, end 3, 2 events;
 * "B4" = a per-event statement at 4. */
static void runs_text(const projector_batch *batch, char *out, size_t size)
{
    projector_run run;
    size_t at = 0, len = 0;
    out[0] = '\0';
    while (projector_batch_next_run(batch, at, set_mapping, 3, &run)) {
        char name = (char)('A' + run.mapping);
        size_t members = 0;
        for (size_t i = 0; i < batch->count; i++)
            if (projector_run_has(&run, batch, i))
                members++;
        assert_int_equal(members, run.count);
        if (run.set)
            len += (size_t)snprintf(out + len, size - len, "%s%c%zu-%zux%zu", len ? " " : "", name,
                                    run.first, run.end, run.count);
        else
            len +=
                (size_t)snprintf(out + len, size - len, "%s%c%zu", len ? " " : "", name, run.first);
        assert_true(run.end > at);
        at = run.end;
    }
}

static void test_runs_group_consecutive_new_events_of_a_set_type(void **state)
{
    projector_batch batch;
    char text[256];
    projector_batch_init(&batch);
    add(&batch, A, PROJECTOR_EVENT_NEW);       /* 0 */
    add(&batch, A, PROJECTOR_EVENT_DUPLICATE); /* 1: runs nothing, does not break the run */
    add(&batch, -1, PROJECTOR_EVENT_NEW);      /* 2: unmapped */
    add(&batch, B, PROJECTOR_EVENT_DEAD);      /* 3: dead */
    add(&batch, A, PROJECTOR_EVENT_NEW);       /* 4 */
    add(&batch, B, PROJECTOR_EVENT_NEW);       /* 5: another type ends the run */
    add(&batch, B, PROJECTOR_EVENT_NEW);       /* 6: per event */
    add(&batch, A, PROJECTOR_EVENT_NEW);       /* 7 */
    add(&batch, C, PROJECTOR_EVENT_NEW);       /* 8: another set type ends it too */
    add(&batch, C, PROJECTOR_EVENT_NEW);       /* 9 */
    add(&batch, B, PROJECTOR_EVENT_DUPLICATE); /* 10 */
    runs_text(&batch, text, sizeof text);
    assert_string_equal(text, "A0-5x2 B5 B6 A7-8x1 C8-10x2");
    projector_batch_free(&batch, NULL);
}

static void test_runs_of_single_events_after_a_failed_set(void **state)
{
    projector_batch batch;
    char text[256];
    projector_batch_init(&batch);
    add(&batch, A, PROJECTOR_EVENT_NEW); /* 0 */
    add(&batch, A, PROJECTOR_EVENT_NEW); /* 1 single */
    add(&batch, A, PROJECTOR_EVENT_NEW); /* 2 single */
    add(&batch, A, PROJECTOR_EVENT_NEW); /* 3 */
    add(&batch, A, PROJECTOR_EVENT_NEW); /* 4 */
    batch.events[1].single = true;
    batch.events[2].single = true;
    runs_text(&batch, text, sizeof text);
    assert_string_equal(text, "A0-1x1 A1-2x1 A2-3x1 A3-5x2");
    /* single survives the reset before a retry; the batch is what the store retries */
    projector_batch_reset(&batch);
    assert_true(batch.events[1].single);
    projector_batch_free(&batch, NULL);
}

static void test_runs_none_when_nothing_applies(void **state)
{
    projector_batch batch;
    projector_run run;
    projector_batch_init(&batch);
    assert_false(projector_batch_next_run(&batch, 0, set_mapping, 3, &run));
    add(&batch, A, PROJECTOR_EVENT_DUPLICATE);
    add(&batch, -1, PROJECTOR_EVENT_NEW);
    add(&batch, 7, PROJECTOR_EVENT_NEW); /* out of range: never indexes set_mapping */
    add(&batch, C, PROJECTOR_EVENT_PENDING);
    assert_false(projector_batch_next_run(&batch, 0, set_mapping, 3, &run));
    projector_batch_free(&batch, NULL);
}

/* ------------------------------------------------------------------ the array */

static projector_event event(const char *json, const char *id, const char *type,
                             const char *aggregate, const char *topic, int32_t partition,
                             int64_t offset, const char *commit_time)
{
    projector_event ev;
    memset(&ev, 0, sizeof ev);
    ev.json = (char *)json;
    snprintf(ev.id, sizeof ev.id, "%s", id);
    ev.event_type = (char *)type;
    ev.aggregate_id = (char *)aggregate;
    ev.topic = (char *)topic;
    ev.partition = partition;
    ev.offset = offset;
    ev.commit_time = (char *)commit_time;
    return ev;
}

static void test_set_array_carries_event_and_metadata_in_order(void **state)
{
    projector_event evs[2] = {
        event("{\"post_id\":\"p1\",\"tags\":[\"a\"]}", "0b8f1b0e-6a57-4c1a-9d3e-4bd8f1f1f1f1",
              "PostCreated", "p1", "outbox.event.post", 2, 9000000000LL,
              "2026-01-01T00:00:00.001000Z"),
        event("{\"post_id\":\"p2\"}", "1b8f1b0e-6a57-4c1a-9d3e-4bd8f1f1f1f2", "PostCreated",
              "agg \"quoted\" \\ back\nline\x01", "t", 0, 0, NULL),
    };
    outbox_buf buf = OUTBOX_BUF_INIT;
    assert_int_equal(projector_setarray_begin(&buf), 0);
    assert_int_equal(projector_setarray_add(&buf, &evs[0], 1), 0);
    assert_int_equal(projector_setarray_add(&buf, &evs[1], 0), 0);
    assert_int_equal(projector_setarray_end(&buf), 0);
    assert_int_equal(strlen((const char *)buf.data), buf.len);

    json_error_t jerr;
    json_t *arr = json_loads((const char *)buf.data, 0, &jerr);
    if (arr == NULL)
        fail_msg("not JSON (%s): %s", jerr.text, (const char *)buf.data);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 2);
    json_t *e0 = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e0, "event"), "post_id")),
                        "p1");
    assert_string_equal(json_string_value(json_object_get(e0, "id")),
                        "0b8f1b0e-6a57-4c1a-9d3e-4bd8f1f1f1f1");
    assert_string_equal(json_string_value(json_object_get(e0, "type")), "PostCreated");
    assert_string_equal(json_string_value(json_object_get(e0, "aggregate_id")), "p1");
    assert_string_equal(json_string_value(json_object_get(e0, "topic")), "outbox.event.post");
    assert_int_equal(json_integer_value(json_object_get(e0, "partition")), 2);
    assert_int_equal(json_integer_value(json_object_get(e0, "offset")), 9000000000LL);
    assert_string_equal(json_string_value(json_object_get(e0, "commit_time")),
                        "2026-01-01T00:00:00.001000Z");
    json_t *e1 = json_array_get(arr, 1);
    assert_string_equal(json_string_value(json_object_get(e1, "aggregate_id")),
                        "agg \"quoted\" \\ back\nline\x01");
    assert_true(json_is_null(json_object_get(e1, "commit_time")));
    assert_int_equal(json_object_size(e1), 8);
    json_decref(arr);

    /* Reused for the next run: begin resets it. */
    assert_int_equal(projector_setarray_begin(&buf), 0);
    assert_int_equal(projector_setarray_add(&buf, &evs[1], 1), 0);
    assert_int_equal(projector_setarray_end(&buf), 0);
    arr = json_loads((const char *)buf.data, 0, &jerr);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    outbox_buf_free(&buf);
}

static void test_json_string_escapes(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    assert_int_equal(projector_json_string(&buf, "a\"b\\c\td\r\x1f\xc3\xa9"), 0);
    assert_int_equal(projector_json_string(&buf, NULL), 0);
    assert_int_equal(projector_json_string(&buf, ""), 0);
    assert_int_equal(outbox_buf_append_byte(&buf, '\0'), 0);
    assert_string_equal((const char *)buf.data, "\"a\\\"b\\\\c\\td\\r\\u001f\xc3\xa9\"null\"\"");
    outbox_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlset_key_maps_a_type_to_a_set_statement),
        cmocka_unit_test(test_sqlset_alone_is_a_mapping),
        cmocka_unit_test(test_sqlset_errors_name_key_line_and_fix),
        cmocka_unit_test(test_sqlset_parameter_scan_skips_quotes_and_comments),
        cmocka_unit_test(test_sql_statement_beyond_eight_parameters_is_refused),
        cmocka_unit_test(test_projection_help_documents_sqlset),
        cmocka_unit_test(test_runs_group_consecutive_new_events_of_a_set_type),
        cmocka_unit_test(test_runs_of_single_events_after_a_failed_set),
        cmocka_unit_test(test_runs_none_when_nothing_applies),
        cmocka_unit_test(test_set_array_carries_event_and_metadata_in_order),
        cmocka_unit_test(test_json_string_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
