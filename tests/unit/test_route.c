/* relay_route: outbox rows and logical messages -> topic, key, headers, or a dead-letter reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafka_topics.h"
#include "route.h"

#define V(s) ((relay_value){(s), sizeof(s) - 1})
#define NUL ((relay_value){NULL, 0})

static const relay_txn_meta meta = {
    .xid = 7421, .commit_lsn = 0x16B3748ULL | (1ULL << 32), .commit_time_us = 1795448493123456LL};

static const char *header(const relay_event *ev, const char *name)
{
    static char buf[256];
    for (size_t i = 0; i < ev->nheaders; i++)
        if (strcmp(ev->headers[i].name, name) == 0) {
            memcpy(buf, ev->headers[i].value, ev->headers[i].value_len);
            buf[ev->headers[i].value_len] = '\0';
            return buf;
        }
    return NULL;
}

/* jansson's allocator, failing while `json_alloc_fail` is set. */
static int json_alloc_fail;
static void *failing_malloc(size_t size)
{
    return json_alloc_fail ? NULL : malloc(size);
}

static relay_route *default_route(void)
{
    char err[256];
    relay_route *route = relay_route_new("outbox.event.${aggregate_type}", NULL, err, sizeof(err));
    assert_non_null(route);
    return route;
}

static void test_row_routes_to_aggregate_topic_with_key_and_headers(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("9b2f7a4e-0d7c-4a53-9d55-3e0f1c2b8a11"),
                                        V("comment"),
                                        V("42"),
                                        V("CommentCreated"),
                                        V("{\"text\": \"hi\"}"),
                                        V("{\"traceparent\": \"00-abc-01\", \"n\": 3}")};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)), 0);
    assert_string_equal(ev.topic, "outbox.event.comment");
    assert_string_equal(ev.aggregate_id, "42");
    assert_string_equal(ev.event_type, "CommentCreated");
    assert_string_equal(json_string_value(json_object_get(ev.payload_json, "text")), "hi");
    assert_string_equal(header(&ev, "id"), "9b2f7a4e-0d7c-4a53-9d55-3e0f1c2b8a11");
    assert_string_equal(header(&ev, "event_type"), "CommentCreated");
    assert_string_equal(header(&ev, "aggregate_type"), "comment");
    assert_string_equal(header(&ev, "aggregate_id"), "42");
    assert_string_equal(header(&ev, "outbox.commit_lsn"), "1/16B3748");
    assert_string_equal(header(&ev, "outbox.xid"), "7421");
    assert_string_equal(header(&ev, "outbox.commit_time"), "2026-11-23T15:41:33.123456Z");
    assert_string_equal(header(&ev, "traceparent"), "00-abc-01");
    assert_string_equal(header(&ev, "n"), "3");
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_event_reused_across_rows(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    for (int i = 0; i < 3; i++) {
        relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"),          V("post"), V("p1"),
                                            V("PostCreated"), V("{}"),   NUL};
        assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)), 0);
        assert_string_equal(ev.topic, "outbox.event.post");
        relay_event_reset(&ev);
    }
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_template_with_event_type(void **state)
{
    char err[256];
    relay_route *route =
        relay_route_new("blog.${aggregate_type}.${event_type}.v1", NULL, err, sizeof(err));
    assert_non_null(route);
    relay_event ev;
    relay_event_init(&ev);
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"),          V("post"), V("p1"),
                                        V("PostCreated"), V("{}"),   NUL};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)), 0);
    assert_string_equal(ev.topic, "blog.post.PostCreated.v1");
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_unknown_placeholder_rejected(void **state)
{
    char err[256];
    assert_null(relay_route_new("outbox.${aggregate}", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown placeholder \"${aggregate}\""));
    assert_null(relay_route_new("outbox.${aggregate_type", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "unterminated"));
}

static void test_null_required_column_is_dead_letter(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"), V("post"), NUL, V("PostCreated"), V("{}"), NUL};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_NULL_COLUMN);
    assert_string_equal(err, "required field aggregate_id (column \"aggregate_id\") is NULL");
    /* Still filled for the dead letter's headers, and its topic is known. */
    assert_string_equal(header(&ev, "id"), "e1");
    assert_string_equal(ev.topic, "outbox.event.post");
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_null_aggregate_type_leaves_no_topic(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"), NUL, V("p1"), V("PostCreated"), V("{}"), NUL};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_NULL_COLUMN);
    assert_non_null(strstr(err, "aggregate_type"));
    assert_null(ev.topic);
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_invalid_json_payload_is_dead_letter_with_original_bytes(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"),          V("post"),         V("p1"),
                                        V("PostCreated"), V("{\"title\": "), NUL};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_INVALID_JSON);
    assert_non_null(strstr(err, "payload is not valid JSON"));
    assert_int_equal(ev.payload_raw_len, 10);
    assert_memory_equal(ev.payload_raw, "{\"title\": ", 10);
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_invalid_topic_is_dead_letter(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"),          V("blog post"), V("p1"),
                                        V("PostCreated"), V("{}"),        NUL};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_INVALID_TOPIC);
    assert_non_null(strstr(err, "\"outbox.event.blog post\" is not a valid Kafka topic name"));
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_lazy_payload_stays_text_until_parsed(void **state)
{
    relay_route *route = default_route();
    relay_route_set_lazy_payload(route, true);
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {
        V("e1"), V("post"), V("p1"), V("PostCreated"), V("{\"title\": \"T\"}"), NUL};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)), 0);
    assert_null(ev.payload_json);
    assert_string_equal(ev.payload_raw, "{\"title\": \"T\"}");
    assert_int_equal(relay_event_parse_payload(&ev, err, sizeof(err)), 0);
    assert_string_equal(json_string_value(json_object_get(ev.payload_json, "title")), "T");
    relay_event_reset(&ev);
    relay_value bad[RELAY_ROUTE_NCOLS] = {V("e1"),          V("post"),       V("p1"),
                                          V("PostCreated"), V("{\"title\""), NUL};
    assert_int_equal(relay_route_row(route, bad, false, &meta, &ev, err, sizeof(err)), 0);
    assert_int_equal(relay_event_parse_payload(&ev, err, sizeof(err)), RELAY_ROUTE_INVALID_JSON);
    assert_non_null(strstr(err, "payload is not valid JSON"));
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_bytea_payload_passes_through(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"),          V("post"),        V("p1"),
                                        V("PostCreated"), V("\\x00c301ff"), NUL};
    assert_int_equal(relay_route_row(route, v, true, &meta, &ev, err, sizeof(err)), 0);
    assert_null(ev.payload_json);
    assert_int_equal(ev.payload_bytes_len, 4);
    assert_memory_equal(ev.payload_bytes, "\x00\xc3\x01\xff", 4);
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_bad_bytea_is_dead_letter(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"),          V("post"),  V("p1"),
                                        V("PostCreated"), V("\\x0g"), NUL};
    assert_int_equal(relay_route_row(route, v, true, &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_INVALID_JSON);
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_message_envelope_routes_like_row(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    const char *msg = "{\"id\": \"e9\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p9\","
                      " \"event_type\": \"PostCreated\", \"payload\": {\"title\": \"T\"},"
                      " \"headers\": {\"traceparent\": \"00-x\"}}";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)), 0);
    assert_string_equal(ev.topic, "outbox.event.post");
    assert_string_equal(ev.aggregate_id, "p9");
    assert_string_equal(json_string_value(json_object_get(ev.payload_json, "title")), "T");
    assert_string_equal(header(&ev, "traceparent"), "00-x");
    assert_string_equal(header(&ev, "id"), "e9");
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_message_not_json_is_dead_letter(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    assert_int_equal(relay_route_message(route, "nope", 4, &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_INVALID_JSON);
    assert_non_null(strstr(err, "not valid JSON"));
    assert_memory_equal(ev.payload_raw, "nope", 4);
    relay_event_free(&ev);
    relay_route_free(route);
}

/* A message's payload reaches the encoder as its own text, whatever numbers it holds: the
 * envelope is read by the encoder's tokenizer (jansson refuses a whole document holding an
 * integer beyond int64), so the message routes exactly as the row with that payload: same
 * outcome, same text handed to the encoder; the dead-letter copy stays the whole message. */
static void test_message_payload_beyond_jansson_routes_like_the_row(void **state)
{
#define PAYLOAD "{\"n\": 12345678901234567890, \"d\": [1e400, {\"k\": \"\\u00e9\"}], \"e\": {}}"
    static const char msg[] = "{\"id\":\"e9\",\"aggregate_type\":\"post\",\"aggregate_id\":\"p9\","
                              "\"event_type\":\"PostRated\",\"payload\":  " PAYLOAD
                              " ,\"headers\":{\"traceparent\":\"00-x\"}}";
    relay_value v[RELAY_ROUTE_NCOLS] = {
        V("e9"), V("post"), V("p9"), V("PostRated"), V(PAYLOAD), V("{\"traceparent\":\"00-x\"}")};
    relay_route *route = default_route();
    relay_event row, ev;
    char err[256];
    (void)state;
    relay_route_set_lazy_payload(route, true); /* as the relay runs: the encoder reads the text */
    relay_event_init(&row);
    relay_event_init(&ev);

    assert_int_equal(relay_route_row(route, v, false, &meta, &row, err, sizeof(err)),
                     RELAY_ROUTE_OK);
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_OK);
    assert_int_equal(ev.payload_text_len, row.payload_text_len);
    assert_memory_equal(ev.payload_text, row.payload_text, row.payload_text_len);
    assert_memory_equal(ev.payload_text, PAYLOAD, strlen(PAYLOAD));
    assert_int_equal(ev.payload_raw_len, strlen(msg));
    assert_string_equal(ev.topic, row.topic);
    assert_string_equal(header(&ev, "traceparent"), "00-x");
    assert_string_equal(header(&ev, "id"), "e9");
    /* parsed on demand, both fail alike: jansson cannot hold the number */
    assert_int_equal(relay_event_parse_payload(&row, err, sizeof(err)), RELAY_ROUTE_INVALID_JSON);
    assert_int_equal(relay_event_parse_payload(&ev, err, sizeof(err)), RELAY_ROUTE_INVALID_JSON);
    relay_event_free(&row);
    relay_event_free(&ev);
    relay_route_free(route);
#undef PAYLOAD
}

/* Envelope fields of the wrong kind are the event's fault, named; a repeated key: the last one
 * counts (as jansson keeps it). */
static void test_message_envelope_field_kinds(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    char err[256];
    (void)state;
    relay_event_init(&ev);
    const char *msg = "{\"id\": 7, \"aggregate_type\": \"post\", \"aggregate_id\": \"p\", "
                      "\"event_type\": \"X\", \"payload\": {}}";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_NULL_COLUMN);
    relay_event_reset(&ev);
    msg = "{\"id\": \"e\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p\", "
          "\"event_type\": \"X\", \"payload\": {}, \"headers\": [1]}";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_INVALID_JSON);
    assert_string_equal(err, "envelope field \"headers\" must be an object");
    relay_event_reset(&ev);
    msg = "{\"id\": \"a\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p\", "
          "\"event_type\": \"X\", \"payload\": {\"v\": 1}, \"id\": \"b\"}";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_OK);
    assert_string_equal(ev.id, "b");
    relay_event_reset(&ev);
    msg = "{\"id\": \"e\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p\", "
          "\"event_type\": \"X\", \"payload\"\t:\r\n \"x\\u00e9\" }";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_OK);
    assert_int_equal(ev.payload_text_len, strlen("\"x\\u00e9\""));
    assert_memory_equal(ev.payload_text, "\"x\\u00e9\"", ev.payload_text_len);
    relay_event_reset(&ev);
    msg = "[1]";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_INVALID_JSON);
    assert_string_equal(err, "logical message content is not a JSON object");
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_message_missing_field_is_dead_letter(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    const char *msg = "{\"id\": \"e9\", \"aggregate_type\": \"post\", \"event_type\": \"X\", "
                      "\"payload\": {}}";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_NULL_COLUMN);
    assert_non_null(strstr(err, "aggregate_id"));
    relay_event_free(&ev);
    relay_route_free(route);
}

/* How many headers named `name` the event carries. */
static size_t header_count(const relay_event *ev, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->nheaders; i++)
        n += strcmp(ev->headers[i].name, name) == 0;
    return n;
}

/* The headers column may add headers but never replace the relay's: id (the dedup key
 * downstream), event_type, aggregate_type, aggregate_id and the outbox.* namespace. The
 * event is still published, with one of each, its own values; the drops are counted. */
static void test_headers_column_cannot_override_reserved_headers(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {
        V("9b2f7a4e-0d7c-4a53-9d55-3e0f1c2b8a11"),
        V("comment"),
        V("42"),
        V("CommentCreated"),
        V("{\"text\": \"hi\"}"),
        V("{\"id\": \"forged-id\", \"ID\": \"forged-upper\", \"event_type\": \"Forged\","
          " \"aggregate_type\": \"x\", \"aggregate_id\": \"y\", \"outbox.commit_lsn\": \"0/0\","
          " \"outbox.dlq.reason\": \"none\", \"Outbox.Xid\": \"1\", \"traceparent\": \"00-t\","
          " \"idempotency\": \"k\"}")};
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)), 0);
    assert_int_equal(header_count(&ev, "id"), 1);
    assert_string_equal(header(&ev, "id"), "9b2f7a4e-0d7c-4a53-9d55-3e0f1c2b8a11");
    assert_int_equal(header_count(&ev, "ID"), 0);
    assert_int_equal(header_count(&ev, "event_type"), 1);
    assert_string_equal(header(&ev, "event_type"), "CommentCreated");
    assert_string_equal(header(&ev, "aggregate_type"), "comment");
    assert_string_equal(header(&ev, "aggregate_id"), "42");
    assert_int_equal(header_count(&ev, "outbox.commit_lsn"), 1);
    assert_string_equal(header(&ev, "outbox.commit_lsn"), "1/16B3748");
    assert_null(header(&ev, "outbox.dlq.reason"));
    assert_null(header(&ev, "Outbox.Xid"));
    assert_string_equal(header(&ev, "traceparent"), "00-t"); /* other names pass */
    assert_string_equal(header(&ev, "idempotency"), "k");
    assert_int_equal(ev.reserved_dropped, 8);
    assert_int_equal(ev.nheaders, 7 + 2);
    relay_event_free(&ev);

    /* The logical-message envelope's "headers" follow the same rule. */
    relay_event_init(&ev);
    const char *msg = "{\"id\": \"e9\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p9\","
                      " \"event_type\": \"PostCreated\", \"payload\": {},"
                      " \"headers\": {\"id\": \"forged\", \"trace\": \"t\"}}";
    assert_int_equal(relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err)), 0);
    assert_int_equal(header_count(&ev, "id"), 1);
    assert_string_equal(header(&ev, "id"), "e9");
    assert_int_equal(ev.reserved_dropped, 1);
    relay_event_reset(&ev);
    assert_int_equal(ev.reserved_dropped, 0); /* per event */
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_out_of_memory_is_the_relays_failure_not_the_events(void **state)
{
    relay_route *route = default_route();
    relay_event ev;
    relay_event_init(&ev);
    char err[256];
    relay_value v[RELAY_ROUTE_NCOLS] = {V("e1"),          V("post"),       V("p1"),
                                        V("PostCreated"), V("{\"a\": 1}"), V("{\"k\": \"v\"}")};
    const char *msg = "{\"id\": \"e9\", \"aggregate_type\": \"post\", \"aggregate_id\": \"p\", "
                      "\"event_type\": \"X\", \"payload\": {}}";
    json_set_alloc_funcs(failing_malloc, free);
    json_alloc_fail = 1;
    relay_route_err row = relay_route_row(route, v, false, &meta, &ev, err, sizeof(err));
    relay_event_reset(&ev);
    relay_route_err message =
        relay_route_message(route, msg, strlen(msg), &meta, &ev, err, sizeof(err));
    relay_event_reset(&ev);
    relay_route_err payload;
    v[RELAY_COL_HEADERS] = NUL;
    json_alloc_fail = 0;
    assert_int_equal(relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)),
                     RELAY_ROUTE_OK);
    json_decref(ev.payload_json);
    ev.payload_json = NULL;
    json_alloc_fail = 1;
    payload = relay_event_parse_payload(&ev, err, sizeof(err));
    json_alloc_fail = 0;
    json_set_alloc_funcs(malloc, free);

    /* Neither the headers, the envelope nor the payload is at fault: no dead-letter class. */
    assert_int_equal(row, RELAY_ROUTE_ERR_NOMEM);
    assert_int_equal(message, RELAY_ROUTE_ERR_NOMEM);
    assert_int_equal(payload, RELAY_ROUTE_ERR_NOMEM);
    assert_false(relay_route_err_is_event(row));
    assert_string_equal(err, "out of memory");
    relay_event_free(&ev);
    relay_route_free(route);
}

static void test_topic_name_validity(void **state)
{
    assert_true(outbox_kafka_topic_name_valid("outbox.event.post-v1_x"));
    assert_false(outbox_kafka_topic_name_valid(""));
    assert_false(outbox_kafka_topic_name_valid(".."));
    assert_false(outbox_kafka_topic_name_valid("a/b"));
    char long_name[300];
    memset(long_name, 'a', 250);
    long_name[250] = '\0';
    assert_false(outbox_kafka_topic_name_valid(long_name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_routes_to_aggregate_topic_with_key_and_headers),
        cmocka_unit_test(test_event_reused_across_rows),
        cmocka_unit_test(test_template_with_event_type),
        cmocka_unit_test(test_unknown_placeholder_rejected),
        cmocka_unit_test(test_null_required_column_is_dead_letter),
        cmocka_unit_test(test_null_aggregate_type_leaves_no_topic),
        cmocka_unit_test(test_invalid_json_payload_is_dead_letter_with_original_bytes),
        cmocka_unit_test(test_invalid_topic_is_dead_letter),
        cmocka_unit_test(test_lazy_payload_stays_text_until_parsed),
        cmocka_unit_test(test_bytea_payload_passes_through),
        cmocka_unit_test(test_bad_bytea_is_dead_letter),
        cmocka_unit_test(test_message_envelope_routes_like_row),
        cmocka_unit_test(test_message_not_json_is_dead_letter),
        cmocka_unit_test(test_message_payload_beyond_jansson_routes_like_the_row),
        cmocka_unit_test(test_message_envelope_field_kinds),
        cmocka_unit_test(test_message_missing_field_is_dead_letter),
        cmocka_unit_test(test_headers_column_cannot_override_reserved_headers),
        cmocka_unit_test(test_out_of_memory_is_the_relays_failure_not_the_events),
        cmocka_unit_test(test_topic_name_validity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
