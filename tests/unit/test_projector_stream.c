/*
 * Unit tests of the pure parts of GET /events/stream (projector_stream, projector_httpd):
 * the resume cursor, the data JSON, the resource link, the connection filter, the request
 * parse, and link.<EventType> in a projection section.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "projector_httpd.h"
#include "projector_projection.h"
#include "projector_stream.h"

#define ID "3f0c2a5e-1b7d-4c1e-9a2b-0123456789ab"

static void test_cursor_round_trip(void **state)
{
    (void)state;
    projector_cursor c = {.at_us = 1764323456123456, .kind = 1}, back;
    char text[PROJECTOR_CURSOR_MAX];
    strcpy(c.id, ID);
    projector_cursor_format(&c, text);
    assert_string_equal(text, "1764323456123456-f-" ID);
    assert_int_equal(projector_cursor_parse(text, &back), 0);
    assert_int_equal(back.at_us, c.at_us);
    assert_int_equal(back.kind, 1);
    assert_string_equal(back.id, ID);
    assert_int_equal(projector_cursor_cmp(&c, &back), 0);
}

static void test_cursor_parse_rejects_what_it_did_not_write(void **state)
{
    (void)state;
    projector_cursor c;
    static const char *const bad[] = {
        "",
        "nonsense",
        "-5-a-" ID,
        "17643-x-" ID,
        "17643-a" ID,
        "17643-a-3f0c2a5e",
        "17643-a-" ID "0",
        "17643-a-3F0C2A5E-1B7D-4C1E-9A2B-0123456789AB", /* not as written: lowercase only */
        "99999999999999999999999-a-" ID,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(projector_cursor_parse(bad[i], &c), -1);
}

static void test_cursor_order_is_time_then_kind_then_id(void **state)
{
    (void)state;
    projector_cursor a = {.at_us = 10, .kind = 1, .id = "b"},
                     b = {.at_us = 11, .kind = 0, .id = "a"};
    assert_true(projector_cursor_cmp(&a, &b) < 0);
    b.at_us = 10;
    assert_true(projector_cursor_cmp(&a, &b) > 0); /* applied before failed at one instant */
    b.kind = 1;
    assert_true(projector_cursor_cmp(&a, &b) > 0); /* then by id */
    projector_cursor head = {.at_us = 10, .kind = 2};
    assert_true(projector_cursor_cmp(&a, &head) < 0); /* a head is after every row at its time */
}

static void test_link_expands_and_percent_encodes(void **state)
{
    (void)state;
    char *link = projector_link_expand("/posts/{aggregate_id}?t={type}&a={aggregate_type}&e={id}",
                                       "e1", "PostCreated", "post", "a b/c?d");
    assert_string_equal(link, "/posts/a%20b%2Fc%3Fd?t=PostCreated&a=post&e=e1");
    free(link);
    link = projector_link_expand("/posts/{aggregate_id}", "e1", NULL, NULL, NULL);
    assert_string_equal(link, "/posts/"); /* unknown parts expand to nothing */
    free(link);
    assert_null(projector_link_expand(NULL, "e1", "T", "t", "a"));
}

static void test_link_template_validity(void **state)
{
    (void)state;
    assert_true(projector_link_template_valid("/posts/{aggregate_id}"));
    assert_true(projector_link_template_valid("http://x/{type}/{id}"));
    assert_false(projector_link_template_valid("posts/{aggregate_id}")); /* not a path */
    assert_false(projector_link_template_valid("/posts/{post_id}"));     /* unknown name */
    assert_false(projector_link_template_valid("/posts/{aggregate_id"));
    assert_false(projector_link_template_valid("/posts/}"));
    assert_false(projector_link_template_valid("/posts/a b"));
}

static void test_data_json_applied_and_failed(void **state)
{
    (void)state;
    projector_stream_row row = {.cursor = {.at_us = 5, .kind = 0, .id = ID},
                                .event_type = "PostCreated",
                                .aggregate_type = "post",
                                .aggregate_id = "p1"};
    char *data = projector_stream_data("blog", &row, "/posts/{aggregate_id}");
    assert_string_equal(data, "{\"id\":\"" ID "\",\"projection\":\"blog\",\"type\":\"PostCreated\","
                              "\"aggregate_type\":\"post\",\"aggregate_id\":\"p1\",\"status\":"
                              "\"applied\",\"reason\":null,\"link\":\"/posts/p1\"}");
    free(data);
    row.cursor.kind = 1;
    row.reason = "mentions \"oranges\"\nline";
    data = projector_stream_data("blog", &row, "/posts/{aggregate_id}");
    /* a failed event has no resource: no link; the reason stays on one line */
    assert_string_equal(data, "{\"id\":\"" ID "\",\"projection\":\"blog\",\"type\":\"PostCreated\","
                              "\"aggregate_type\":\"post\",\"aggregate_id\":\"p1\",\"status\":"
                              "\"failed\",\"reason\":\"mentions \\\"oranges\\\"\\nline\"}");
    free(data);
}

static void test_filter_by_cursor_and_aggregate(void **state)
{
    (void)state;
    projector_stream_filter f = {0};
    char *tag = projector_stream_tag("post", "p1");
    assert_string_equal(tag, "post\np1");
    assert_true(projector_stream_filter_accept(&f, NULL, tag)); /* no filter: everything */

    f.has_after = true;
    f.after = (projector_cursor){.at_us = 100, .kind = 0, .id = ID};
    assert_false(projector_stream_filter_accept(&f, "100-a-" ID, tag)); /* already replayed */
    assert_false(projector_stream_filter_accept(&f, "99-f-" ID, tag));
    assert_true(projector_stream_filter_accept(&f, "100-f-" ID, tag));
    assert_false(projector_stream_filter_accept(&f, "garbage", tag));
    f.has_after = false;

    f.aggregate_type = "post";
    assert_true(projector_stream_filter_accept(&f, NULL, tag));
    f.aggregate_type = "pos"; /* a prefix is not a match */
    assert_false(projector_stream_filter_accept(&f, NULL, tag));
    f.aggregate_type = NULL;
    f.aggregate_id = "p1";
    assert_true(projector_stream_filter_accept(&f, NULL, tag));
    f.aggregate_id = "p";
    assert_false(projector_stream_filter_accept(&f, NULL, tag));
    assert_false(projector_stream_filter_accept(&f, NULL, NULL)); /* untagged: no aggregate */
    free(tag);
}

static void test_stream_request_parse(void **state)
{
    (void)state;
    projector_projection projections[2] = {{.name = "query"}, {.name = "counts"}};
    projector_cursor after;
    bool has_after = true;
    size_t index = 9;
    assert_int_equal(
        projector_httpd_stream_parse("counts", NULL, projections, 2, &index, &after, &has_after),
        PROJECTOR_HTTPD_STREAM_OK);
    assert_int_equal(index, 1);
    assert_false(has_after);
    assert_int_equal(
        projector_httpd_stream_parse(NULL, "12-a-" ID, projections, 1, &index, &after, &has_after),
        PROJECTOR_HTTPD_STREAM_OK);
    assert_int_equal(index, 0);
    assert_true(has_after);
    assert_int_equal(after.at_us, 12);
    assert_int_equal(
        projector_httpd_stream_parse(NULL, NULL, projections, 2, &index, &after, &has_after),
        PROJECTOR_HTTPD_STREAM_SAY_WHICH);
    assert_int_equal(
        projector_httpd_stream_parse("Query", NULL, projections, 2, &index, &after, &has_after),
        PROJECTOR_HTTPD_STREAM_NO_PROJECTION);
    assert_int_equal(
        projector_httpd_stream_parse("query", "12", projections, 2, &index, &after, &has_after),
        PROJECTOR_HTTPD_STREAM_BAD_CURSOR);
    assert_int_equal(
        projector_httpd_stream_parse("query", "", projections, 2, &index, &after, &has_after),
        PROJECTOR_HTTPD_STREAM_OK); /* an empty Last-Event-ID: from now */
}

static void test_event_body_has_the_link_when_applied(void **state)
{
    (void)state;
    int status = 0;
    char *body = projector_httpd_event_body_link("p", ID, "applied", "t", NULL, NULL, NULL,
                                                 "/posts/1", &status);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, "\"link\":\"/posts/1\""));
    free(body);
    body =
        projector_httpd_event_body_link("p", ID, NULL, NULL, NULL, NULL, NULL, "/posts/1", &status);
    assert_int_equal(status, 202);
    assert_null(strstr(body, "link"));
    free(body);
}

static int parse_one(const char *key, const char *value, projector_projections *out, char *err,
                     size_t err_size)
{
    outbox_conf_item items[3] = {
        {.section = "projection blog", .key = "topics", .value = "t", .file = "x.ini", .line = 1},
        {.section = "projection blog",
         .key = "sql.A",
         .value = "SELECT 1",
         .file = "x.ini",
         .line = 2},
        {.section = "projection blog", .key = key, .value = value, .file = "x.ini", .line = 3},
    };
    memset(out, 0, sizeof *out);
    return projector_projections_parse(items, 3, out, err, err_size);
}

static void test_projection_link_key(void **state)
{
    (void)state;
    projector_projections ps;
    char err[512];
    assert_int_equal(parse_one("link.PostCreated", "/posts/{aggregate_id}", &ps, err, sizeof err),
                     0);
    assert_string_equal(projector_projection_link(&ps.items[0], "PostCreated"),
                        "/posts/{aggregate_id}");
    assert_null(projector_projection_link(&ps.items[0], "CommentCreated"));
    assert_null(projector_projection_link(&ps.items[0], NULL));
    projector_projections_free(&ps);

    assert_int_equal(parse_one("link.PostCreated", "/posts/{post_id}", &ps, err, sizeof err), -1);
    assert_non_null(strstr(err, "link.PostCreated"));
    assert_non_null(strstr(err, "x.ini:3"));
    assert_int_equal(parse_one("link.", "/posts", &ps, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_parse_rejects_what_it_did_not_write),
        cmocka_unit_test(test_cursor_order_is_time_then_kind_then_id),
        cmocka_unit_test(test_link_expands_and_percent_encodes),
        cmocka_unit_test(test_link_template_validity),
        cmocka_unit_test(test_data_json_applied_and_failed),
        cmocka_unit_test(test_filter_by_cursor_and_aggregate),
        cmocka_unit_test(test_stream_request_parse),
        cmocka_unit_test(test_event_body_has_the_link_when_applied),
        cmocka_unit_test(test_projection_link_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
