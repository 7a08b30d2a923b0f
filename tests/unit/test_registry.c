/*
 * lib/registry, pure parts: subject naming, strategy parsing, URLs, answers and error bodies,
 * classification; plus argument checks of the client that make no request.
 *
 * The answer fixtures are byte strings captured with curl from Apicurio Registry 3.3.3's
 * Confluent-compatible API (/apis/ccompat/v7) of the test stack, unless marked synthetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

#define LEN(s) (sizeof(s) - 1)

/* POST /subjects/{s}/versions, 200 */
static const char REGISTER_OK[] = "{\"id\":11}";
/* GET /schemas/ids/11, 200: schemas/PostCreated.avsc as registered, compacted by Apicurio */
static const char LOOKUP_OK[] =
    "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"PostCreated\\\",\\\"namespac"
    "e\\\":\\\"blog.events\\\",\\\"doc\\\":\\\"A post was published on the blog.\\\",\\\"fiel"
    "ds\\\":[{\\\"name\\\":\\\"post_id\\\",\\\"type\\\":{\\\"type\\\":\\\"string\\\",\\\"logi"
    "calType\\\":\\\"uuid\\\"}},{\\\"name\\\":\\\"author_id\\\",\\\"type\\\":\\\"string\\\"},"
    "{\\\"name\\\":\\\"author_name\\\",\\\"type\\\":\\\"string\\\"},{\\\"name\\\":\\\"title"
    "\\\",\\\"type\\\":\\\"string\\\"},{\\\"name\\\":\\\"body\\\",\\\"type\\\":\\\"string\\\""
    "},{\\\"name\\\":\\\"tags\\\",\\\"type\\\":{\\\"type\\\":\\\"array\\\",\\\"items\\\":\\\""
    "string\\\"},\\\"default\\\":[]},{\\\"name\\\":\\\"metadata\\\",\\\"type\\\":{\\\"type"
    "\\\":\\\"map\\\",\\\"values\\\":\\\"string\\\"},\\\"default\\\":{}},{\\\"name\\\":\\\"pu"
    "blish_date\\\",\\\"type\\\":[\\\"null\\\",{\\\"type\\\":\\\"int\\\",\\\"logicalType\\\":"
    "\\\"date\\\"}],\\\"default\\\":null},{\\\"name\\\":\\\"created_at\\\",\\\"type\\\":{\\\""
    "type\\\":\\\"long\\\",\\\"logicalType\\\":\\\"timestamp-millis\\\"}}]}\"}";
/* GET /config, 200 */
static const char CONFIG_OK[] = "{\"compatibilityLevel\":\"NONE\"}";
/* PUT /config/{s} {"compatibility":"BACKWARD"}, 200 */
static const char PUT_CONFIG_OK[] = "{\"compatibility\":\"BACKWARD\",\"normalize\":false}";
/* POST /subjects/{s}/versions, field type string -> int under BACKWARD, 409 */
static const char REGISTER_409[] =
    "{\"message\":\"io.apicurio.registry.rules.violation.RuleViolationException: Incompatible"
    " artifact: itest-registry-fixture-3273127713 [AVRO], num of incompatible diffs: {1}, lis"
    "t of diff types: [reader type: INT not compatible with writer type: STRING at /fields/3/"
    "type]\",\"error_code\":409}";
/* POST /subjects/{s}/versions, a record without fields, 422 */
static const char REGISTER_422[] =
    "{\"message\":\"Failed to discover artifact type from content.\",\"error_code\":42201}";
/* PUT /config/{s} {"compatibility":"SIDEWAYS"}, 422 */
static const char CONFIG_422[] =
    "{\"message\":\"Invalid compatibility level: SIDEWAYS\",\"error_code\":42203}";
/* GET /schemas/ids/2147483647, 404 */
static const char LOOKUP_404[] =
    "{\"message\":\"Schema 2147483647 not found.\",\"error_code\":40403}";
/* GET /subjects/{s}/versions of an unknown subject, 404 */
static const char SUBJECT_404[] =
    "{\"message\":\"Subject 'itest-registry-fixture-3273127713-nope' not found.\",\"error_cod"
    "e\":40401}";
/* GET http://127.0.0.1:18081/apis/registry/v3/config (not the ccompat API), 404 */
static const char WRONG_BASE_404[] =
    "{\"detail\":\"NotFoundException: RESTEASY003210: Could not find resource for full path: "
    "http://127.0.0.1:18081/apis/registry/v3/config\",\"title\":\"RESTEASY003210: Could not f"
    "ind resource for full path: http://127.0.0.1:18081/apis/registry/v3/config\",\"status\":"
    "404,\"name\":\"NotFoundException\"}";
/* POST /subjects/{s}/versions with body "garbage", 400 (Content-Type application/json!) */
static const char REGISTER_400[] = "Not able to deserialize data provided.";
/* Synthetic: what nginx in front of a registry answers while the registry restarts. */
static const char PROXY_502[] =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
    "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
    "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n";

/* ------------------------------------------------------------------ strategy */

static void test_strategy_parse_accepts_the_three_config_values(void **state)
{
    outbox_registry_strategy strategy = OUTBOX_REGISTRY_STRATEGY_RECORD;
    char err[256] = "";

    assert_int_equal(outbox_registry_strategy_parse("topic-record", &strategy, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(strategy, OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD);
    assert_int_equal(outbox_registry_strategy_parse("topic", &strategy, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(strategy, OUTBOX_REGISTRY_STRATEGY_TOPIC);
    assert_int_equal(outbox_registry_strategy_parse("record", &strategy, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(strategy, OUTBOX_REGISTRY_STRATEGY_RECORD);
    assert_string_equal(err, "");
}

static void test_strategy_parse_rejects_other_values_naming_the_choices(void **state)
{
    static const char *const bad[] = {
        "TopicRecordNameStrategy", "Topic", "topic_record", "", "record ", NULL};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        outbox_registry_strategy strategy = OUTBOX_REGISTRY_STRATEGY_TOPIC;
        char err[256] = "";
        assert_int_equal(outbox_registry_strategy_parse(bad[i], &strategy, err, sizeof(err)),
                         OUTBOX_REGISTRY_ERR_INVALID);
        assert_int_equal(strategy, OUTBOX_REGISTRY_STRATEGY_TOPIC); /* untouched */
        assert_non_null(strstr(err, "is not one of: topic-record"));
        assert_non_null(strstr(err, "topic (<topic>-value), record (<record full name>)"));
        if (bad[i])
            assert_non_null(strstr(err, bad[i]));
    }
}

static void test_strategy_name_round_trips_through_parse(void **state)
{
    outbox_registry_strategy all[] = {OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD,
                                      OUTBOX_REGISTRY_STRATEGY_TOPIC,
                                      OUTBOX_REGISTRY_STRATEGY_RECORD};
    size_t i;

    for (i = 0; i < 3; i++) {
        outbox_registry_strategy parsed;
        assert_int_equal(
            outbox_registry_strategy_parse(outbox_registry_strategy_name(all[i]), &parsed, NULL, 0),
            OUTBOX_REGISTRY_OK);
        assert_int_equal(parsed, all[i]);
    }
    assert_int_equal(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, 0); /* the zero value: the default */
}

/* ------------------------------------------------------------------ subjects */

static void test_subject_topic_record_is_topic_dash_record_full_name(void **state)
{
    char subject[OUTBOX_REGISTRY_SUBJECT_MAX];

    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD,
                                                   "outbox.event.post", "blog.events.PostCreated",
                                                   subject, sizeof(subject), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(subject, "outbox.event.post-blog.events.PostCreated");
}

static void test_subject_topic_record_gives_each_event_type_of_a_topic_its_own(void **state)
{
    char created[OUTBOX_REGISTRY_SUBJECT_MAX];
    char moderated[OUTBOX_REGISTRY_SUBJECT_MAX];

    assert_int_equal(outbox_registry_subject_build(
                         OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "outbox.event.comment",
                         "blog.events.CommentCreated", created, sizeof(created), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(outbox_registry_subject_build(
                         OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "outbox.event.comment",
                         "blog.events.CommentModerated", moderated, sizeof(moderated), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(created, "outbox.event.comment-blog.events.CommentCreated");
    assert_string_equal(moderated, "outbox.event.comment-blog.events.CommentModerated");
}

static void test_subject_topic_is_topic_dash_value_whatever_the_record(void **state)
{
    char subject[OUTBOX_REGISTRY_SUBJECT_MAX];

    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC,
                                                   "outbox.event.post", NULL, subject,
                                                   sizeof(subject), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(subject, "outbox.event.post-value");
    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC,
                                                   "outbox.event.post", "blog.events.PostCreated",
                                                   subject, sizeof(subject), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(subject, "outbox.event.post-value");
}

static void test_subject_record_is_record_full_name_whatever_the_topic(void **state)
{
    char subject[OUTBOX_REGISTRY_SUBJECT_MAX];

    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_RECORD, NULL,
                                                   "blog.events.PostCreated", subject,
                                                   sizeof(subject), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(subject, "blog.events.PostCreated");
    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_RECORD, "any.topic",
                                                   "PostCreated", subject, sizeof(subject), NULL,
                                                   0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(subject, "PostCreated");
}

static void test_subject_rejects_a_record_name_that_is_not_an_avro_full_name(void **state)
{
    static const char *const bad[] = {NULL,
                                      "",
                                      "blog..PostCreated",
                                      ".PostCreated",
                                      "blog.",
                                      "1blog.PostCreated",
                                      "blog.Post-Created",
                                      "blog.events.Post Created",
                                      "post.created\n"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char subject[OUTBOX_REGISTRY_SUBJECT_MAX] = "stale";
        char err[256] = "";
        assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD,
                                                       "outbox.event.post", bad[i], subject,
                                                       sizeof(subject), err, sizeof(err)),
                         OUTBOX_REGISTRY_ERR_INVALID);
        assert_string_equal(subject, "");
        assert_non_null(strstr(err, "is not an Avro full name"));
        assert_non_null(strstr(err, "topic-record strategy"));
    }
    {
        char subject[OUTBOX_REGISTRY_SUBJECT_MAX];
        assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_RECORD, "t",
                                                       "blog..X", subject, sizeof(subject), NULL,
                                                       0),
                         OUTBOX_REGISTRY_ERR_INVALID);
        /* the underscore rules of Avro names */
        assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_RECORD, NULL,
                                                       "_ns.v2._Post_9", subject, sizeof(subject),
                                                       NULL, 0),
                         OUTBOX_REGISTRY_OK);
    }
}

static void test_subject_rejects_an_empty_or_unprintable_topic(void **state)
{
    char subject[OUTBOX_REGISTRY_SUBJECT_MAX];
    char err[256] = "";

    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "",
                                                   "blog.events.PostCreated", subject,
                                                   sizeof(subject), err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "topic is empty"));
    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC, NULL, NULL,
                                                   subject, sizeof(subject), err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "topic is empty"));
    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC, "a\tb", NULL,
                                                   subject, sizeof(subject), err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "not printable"));
}

static void test_subject_that_does_not_fit_the_buffer_is_refused_not_cut(void **state)
{
    char subject[24] = "stale";
    char err[256] = "";

    /* "outbox.event.post-value" is 23 bytes: fits exactly */
    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC,
                                                   "outbox.event.post", NULL, subject,
                                                   sizeof(subject), err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(subject, "outbox.event.post-value");
    assert_int_equal(outbox_registry_subject_build(OUTBOX_REGISTRY_STRATEGY_TOPIC,
                                                   "outbox.event.posts", NULL, subject,
                                                   sizeof(subject), err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_string_equal(subject, "");
    assert_non_null(strstr(err, "24 bytes, more than 23"));
}

static void test_subject_rejects_an_unknown_strategy(void **state)
{
    char subject[OUTBOX_REGISTRY_SUBJECT_MAX];
    char err[256] = "";

    assert_int_equal(outbox_registry_subject_build((outbox_registry_strategy)7, "t", "a.B", subject,
                                                   sizeof(subject), err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "unknown strategy 7"));
    assert_string_equal(outbox_registry_strategy_name((outbox_registry_strategy)7), "?");
}

/* ------------------------------------------------------------------ URLs */

static void test_url_escape_keeps_unreserved_and_encodes_every_other_byte(void **state)
{
    char *escaped;

    escaped = outbox_registry_url_escape("outbox.event.post-blog.events_Post~1");
    assert_string_equal(escaped, "outbox.event.post-blog.events_Post~1");
    free(escaped);
    escaped = outbox_registry_url_escape("a/b c+d:e%f?g#h&i=j@k");
    assert_string_equal(escaped, "a%2Fb%20c%2Bd%3Ae%25f%3Fg%23h%26i%3Dj%40k");
    free(escaped);
    escaped = outbox_registry_url_escape("caf\xc3\xa9");
    assert_string_equal(escaped, "caf%C3%A9");
    free(escaped);
    escaped = outbox_registry_url_escape("");
    assert_string_equal(escaped, "");
    free(escaped);
}

static void test_url_subject_versions_escapes_the_subject_and_drops_trailing_slashes(void **state)
{
    char *url;

    url = outbox_registry_url_subject_versions("http://127.0.0.1:18081/apis/ccompat/v7",
                                               "outbox.event.post-blog.events.PostCreated");
    assert_string_equal(url, "http://127.0.0.1:18081/apis/ccompat/v7/subjects/"
                             "outbox.event.post-blog.events.PostCreated/versions");
    free(url);
    url = outbox_registry_url_subject_versions("http://reg:8081//", "a/b c");
    assert_string_equal(url, "http://reg:8081/subjects/a%2Fb%20c/versions");
    free(url);
}

static void test_url_schema_id_and_config(void **state)
{
    char *url;

    url = outbox_registry_url_schema_id("http://127.0.0.1:18081/apis/ccompat/v7/", 11);
    assert_string_equal(url, "http://127.0.0.1:18081/apis/ccompat/v7/schemas/ids/11");
    free(url);
    url = outbox_registry_url_schema_id("https://reg", INT32_MAX);
    assert_string_equal(url, "https://reg/schemas/ids/2147483647");
    free(url);
    url = outbox_registry_url_config("http://127.0.0.1:18081/apis/ccompat/v7");
    assert_string_equal(url, "http://127.0.0.1:18081/apis/ccompat/v7/config");
    free(url);
}

/* ------------------------------------------------------------------ answers */

static void test_parse_id_reads_the_register_answer(void **state)
{
    int32_t id = -1;

    assert_int_equal(outbox_registry_parse_id(REGISTER_OK, LEN(REGISTER_OK), &id, NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(id, 11);
    /* Confluent may add members; they are ignored */
    assert_int_equal(
        outbox_registry_parse_id("{\"version\":3,\"id\":2147483647}", 29, &id, NULL, 0),
        OUTBOX_REGISTRY_OK);
    assert_int_equal(id, INT32_MAX);
}

static void test_parse_id_rejects_what_is_not_an_id_in_range(void **state)
{
    static const char *const bad[] = {
        "{\"id\":-1}", "{\"id\":2147483648}", "{\"id\":\"11\"}", "{\"id\":1.5}", "{}", "[11]", "",
        "{\"id\":11",  REGISTER_400};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int32_t id = 77;
        char err[256] = "";
        assert_int_equal(outbox_registry_parse_id(bad[i], strlen(bad[i]), &id, err, sizeof(err)),
                         OUTBOX_REGISTRY_ERR_PROTOCOL);
        assert_int_equal(id, 77);
        assert_true(strlen(err) > 0);
    }
    {
        char err[256] = "";
        int32_t id;
        assert_int_equal(
            outbox_registry_parse_id(REGISTER_400, LEN(REGISTER_400), &id, err, sizeof(err)),
            OUTBOX_REGISTRY_ERR_PROTOCOL);
        assert_non_null(strstr(err, "answer is not JSON"));
        assert_non_null(strstr(err, "Not able to deserialize"));
        assert_int_equal(outbox_registry_parse_id("{\"id\":-1}", 9, &id, err, sizeof(err)),
                         OUTBOX_REGISTRY_ERR_PROTOCOL);
        assert_non_null(strstr(err, "\"id\" -1 is not in 0..2147483647"));
    }
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long size;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

static void test_parse_schema_reads_the_lookup_answer_equal_to_the_registered_file(void **state)
{
    char *schema = NULL;
    char *file = read_text(SCHEMA_DIR "/PostCreated.avsc");
    json_t *registered;
    json_t *answered;

    assert_int_equal(outbox_registry_parse_schema(LOOKUP_OK, LEN(LOOKUP_OK), &schema, NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_non_null(schema);
    assert_string_equal(schema, "{\"type\":\"record\",\"name\":\"PostCreated\",\"namespace\":"
                                "\"blog.events\",\"doc\":\"A post was published on the blog.\","
                                "\"fields\":[{\"name\":\"post_id\",\"type\":{\"type\":\"string\","
                                "\"logicalType\":\"uuid\"}},{\"name\":\"author_id\",\"type\":"
                                "\"string\"},{\"name\":\"author_name\",\"type\":\"string\"},{"
                                "\"name\":\"title\",\"type\":\"string\"},{\"name\":\"body\","
                                "\"type\":\"string\"},{\"name\":\"tags\",\"type\":{\"type\":"
                                "\"array\",\"items\":\"string\"},\"default\":[]},{\"name\":"
                                "\"metadata\",\"type\":{\"type\":\"map\",\"values\":\"string\"},"
                                "\"default\":{}},{\"name\":\"publish_date\",\"type\":[\"null\",{"
                                "\"type\":\"int\",\"logicalType\":\"date\"}],\"default\":null},{"
                                "\"name\":\"created_at\",\"type\":{\"type\":\"long\","
                                "\"logicalType\":\"timestamp-millis\"}}]}");
    registered = json_loads(file, 0, NULL);
    answered = json_loads(schema, 0, NULL);
    assert_non_null(registered);
    assert_non_null(answered);
    assert_true(json_equal(registered, answered));
    json_decref(answered);
    json_decref(registered);
    free(file);
    free(schema);
}

static void test_parse_schema_accepts_schema_type_avro_and_refuses_others(void **state)
{
    static const char avro[] = "{\"schemaType\":\"AVRO\",\"schema\":\"\\\"string\\\"\"}";
    static const char proto[] =
        "{\"schemaType\":\"PROTOBUF\",\"schema\":\"syntax = \\\"proto3\\\";\"}"; /* synthetic */
    char *schema = NULL;
    char err[256] = "";

    assert_int_equal(outbox_registry_parse_schema(avro, LEN(avro), &schema, NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(schema, "\"string\"");
    free(schema);
    schema = (char *)"stale";
    assert_int_equal(outbox_registry_parse_schema(proto, LEN(proto), &schema, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_PROTOCOL);
    assert_null(schema);
    assert_non_null(strstr(err, "of type PROTOBUF, not AVRO"));
}

static void test_parse_schema_rejects_missing_empty_or_nul_schema(void **state)
{
    static const char *const bad[] = {"{}",
                                      "{\"schema\":\"\"}",
                                      "{\"schema\":{\"type\":1}}",
                                      "{\"schema\":\"a\\u0000b\"}",
                                      "{\"schemaType\":7}",
                                      CONFIG_OK,
                                      REGISTER_OK};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *schema = NULL;
        char err[256] = "";
        assert_int_equal(
            outbox_registry_parse_schema(bad[i], strlen(bad[i]), &schema, err, sizeof(err)),
            OUTBOX_REGISTRY_ERR_PROTOCOL);
        assert_null(schema);
        assert_true(strlen(err) > 0);
    }
}

static void test_parse_config_reads_the_global_and_the_put_answer(void **state)
{
    char level[32];

    assert_int_equal(
        outbox_registry_parse_config(CONFIG_OK, LEN(CONFIG_OK), level, sizeof(level), NULL, 0),
        OUTBOX_REGISTRY_OK);
    assert_string_equal(level, "NONE");
    assert_int_equal(outbox_registry_parse_config(PUT_CONFIG_OK, LEN(PUT_CONFIG_OK), level,
                                                  sizeof(level), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    assert_string_equal(level, "BACKWARD");
    assert_int_equal(outbox_registry_parse_config(CONFIG_OK, LEN(CONFIG_OK), NULL, 0, NULL, 0),
                     OUTBOX_REGISTRY_OK);
}

static void test_parse_config_rejects_a_page_that_is_not_the_api(void **state)
{
    char level[32];
    char err[256] = "";

    assert_int_equal(outbox_registry_parse_config(WRONG_BASE_404, LEN(WRONG_BASE_404), level,
                                                  sizeof(level), err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_PROTOCOL);
    assert_non_null(strstr(err, "no string \"compatibilityLevel\""));
    assert_int_equal(
        outbox_registry_parse_config("<html></html>", 13, level, sizeof(level), err, sizeof(err)),
        OUTBOX_REGISTRY_ERR_PROTOCOL);
    assert_non_null(strstr(err, "answer is not JSON"));
}

/* ------------------------------------------------------------------ error answers */

static void test_error_409_is_fatal_incompatible_with_the_registry_message(void **state)
{
    char err[1024] = "";
    outbox_registry_err rc =
        outbox_registry_parse_error(409, REGISTER_409, LEN(REGISTER_409), err, sizeof(err));

    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_INCOMPATIBLE);
    assert_false(outbox_registry_err_is_retriable(rc));
    assert_non_null(strstr(err, "HTTP 409 Conflict: io.apicurio.registry.rules.violation."
                                "RuleViolationException: Incompatible artifact"));
    assert_non_null(strstr(err, "reader type: INT not compatible with writer type: STRING at "
                                "/fields/3/type]"));
    assert_non_null(strstr(err, "(registry error_code 409)"));
}

static void test_error_422_is_fatal_invalid_schema_with_error_code(void **state)
{
    char err[1024] = "";
    outbox_registry_err rc =
        outbox_registry_parse_error(422, REGISTER_422, LEN(REGISTER_422), err, sizeof(err));

    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_INVALID_SCHEMA);
    assert_false(outbox_registry_err_is_retriable(rc));
    assert_string_equal(err, "HTTP 422 Unprocessable Entity: Failed to discover artifact type "
                             "from content. (registry error_code 42201)");
    rc = outbox_registry_parse_error(422, CONFIG_422, LEN(CONFIG_422), err, sizeof(err));
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_INVALID_SCHEMA);
    assert_string_equal(err, "HTTP 422 Unprocessable Entity: Invalid compatibility level: "
                             "SIDEWAYS (registry error_code 42203)");
}

static void test_error_404_names_the_missing_schema_or_subject(void **state)
{
    char err[1024] = "";

    assert_int_equal(
        outbox_registry_parse_error(404, LOOKUP_404, LEN(LOOKUP_404), err, sizeof(err)),
        OUTBOX_REGISTRY_ERR_NOT_FOUND);
    assert_string_equal(err, "HTTP 404 Not Found: Schema 2147483647 not found. (registry "
                             "error_code 40403)");
    assert_int_equal(
        outbox_registry_parse_error(404, SUBJECT_404, LEN(SUBJECT_404), err, sizeof(err)),
        OUTBOX_REGISTRY_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "Subject 'itest-registry-fixture-3273127713-nope' not found. "
                                "(registry error_code 40401)"));
}

static void test_error_404_page_of_another_api_shows_its_detail(void **state)
{
    char err[1024] = "";

    assert_int_equal(
        outbox_registry_parse_error(404, WRONG_BASE_404, LEN(WRONG_BASE_404), err, sizeof(err)),
        OUTBOX_REGISTRY_ERR_NOT_FOUND);
    assert_string_equal(err, "HTTP 404 Not Found: NotFoundException: RESTEASY003210: Could not "
                             "find resource for full path: "
                             "http://127.0.0.1:18081/apis/registry/v3/config");
}

static void test_error_with_a_text_body_quotes_it_and_empty_body_says_so(void **state)
{
    char err[1024] = "";

    assert_int_equal(
        outbox_registry_parse_error(400, REGISTER_400, LEN(REGISTER_400), err, sizeof(err)),
        OUTBOX_REGISTRY_ERR_HTTP);
    assert_string_equal(err, "HTTP 400 Bad Request: \"Not able to deserialize data provided.\"");
    /* POST without Content-Type: 415 and no body */
    assert_int_equal(outbox_registry_parse_error(415, "", 0, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_HTTP);
    assert_string_equal(err, "HTTP 415 Unsupported Media Type (empty body)");
    assert_int_equal(outbox_registry_parse_error(415, NULL, 0, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_HTTP);
}

static void test_error_502_from_a_proxy_is_retriable_and_stays_on_one_line(void **state)
{
    char err[1024] = "";
    outbox_registry_err rc =
        outbox_registry_parse_error(502, PROXY_502, LEN(PROXY_502), err, sizeof(err));

    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_UNAVAILABLE);
    assert_true(outbox_registry_err_is_retriable(rc));
    assert_non_null(strstr(err, "HTTP 502 Bad Gateway: \"<html>"));
    assert_null(strchr(err, '\n'));
    assert_null(strchr(err, '\r'));
    assert_true(strlen(err) < 200); /* the body is cut */
    assert_non_null(strstr(err, "...\""));
}

static void test_error_message_is_cut_to_the_callers_buffer(void **state)
{
    char err[17];

    memset(err, 'x', sizeof(err));
    assert_int_equal(
        outbox_registry_parse_error(409, REGISTER_409, LEN(REGISTER_409), err, sizeof(err)),
        OUTBOX_REGISTRY_ERR_INCOMPATIBLE);
    assert_string_equal(err, "HTTP 409 Conflic");
    assert_int_equal(outbox_registry_parse_error(409, REGISTER_409, LEN(REGISTER_409), NULL, 0),
                     OUTBOX_REGISTRY_ERR_INCOMPATIBLE);
}

/* ------------------------------------------------------------------ classification */

static void test_http_status_classification(void **state)
{
    static const struct {
        long status;
        outbox_registry_err err;
        bool retriable;
    } cases[] = {
        {200, OUTBOX_REGISTRY_OK, false},
        {204, OUTBOX_REGISTRY_OK, false},
        {500, OUTBOX_REGISTRY_ERR_UNAVAILABLE, true},
        {502, OUTBOX_REGISTRY_ERR_UNAVAILABLE, true},
        {503, OUTBOX_REGISTRY_ERR_UNAVAILABLE, true},
        {504, OUTBOX_REGISTRY_ERR_UNAVAILABLE, true},
        {599, OUTBOX_REGISTRY_ERR_UNAVAILABLE, true},
        {429, OUTBOX_REGISTRY_ERR_UNAVAILABLE, true},
        {408, OUTBOX_REGISTRY_ERR_UNAVAILABLE, true},
        {409, OUTBOX_REGISTRY_ERR_INCOMPATIBLE, false},
        {422, OUTBOX_REGISTRY_ERR_INVALID_SCHEMA, false},
        {404, OUTBOX_REGISTRY_ERR_NOT_FOUND, false},
        {401, OUTBOX_REGISTRY_ERR_AUTH, false},
        {403, OUTBOX_REGISTRY_ERR_AUTH, false},
        {400, OUTBOX_REGISTRY_ERR_HTTP, false},
        {405, OUTBOX_REGISTRY_ERR_HTTP, false},
        {415, OUTBOX_REGISTRY_ERR_HTTP, false},
        {302, OUTBOX_REGISTRY_ERR_HTTP, false},
        {100, OUTBOX_REGISTRY_ERR_HTTP, false},
        {0, OUTBOX_REGISTRY_ERR_HTTP, false},
        {600, OUTBOX_REGISTRY_ERR_HTTP, false},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        outbox_registry_err err = outbox_registry_err_from_http_status(cases[i].status);
        print_message("status %ld -> %s\n", cases[i].status, outbox_registry_err_name(err));
        assert_int_equal(err, cases[i].err);
        assert_int_equal(outbox_registry_err_is_retriable(err), cases[i].retriable);
    }
}

static void test_curl_result_classification(void **state)
{
    static const struct {
        CURLcode code;
        outbox_registry_err err;
        bool retriable;
    } cases[] = {
        {CURLE_OK, OUTBOX_REGISTRY_OK, false},
        {CURLE_COULDNT_CONNECT, OUTBOX_REGISTRY_ERR_CONNECT, true},
        {CURLE_COULDNT_RESOLVE_HOST, OUTBOX_REGISTRY_ERR_CONNECT, true},
        {CURLE_OPERATION_TIMEDOUT, OUTBOX_REGISTRY_ERR_TIMEOUT, true},
        {CURLE_RECV_ERROR, OUTBOX_REGISTRY_ERR_TRANSPORT, true},
        {CURLE_SEND_ERROR, OUTBOX_REGISTRY_ERR_TRANSPORT, true},
        {CURLE_GOT_NOTHING, OUTBOX_REGISTRY_ERR_TRANSPORT, true},
        {CURLE_PARTIAL_FILE, OUTBOX_REGISTRY_ERR_TRANSPORT, true},
        {CURLE_SSL_CONNECT_ERROR, OUTBOX_REGISTRY_ERR_TRANSPORT, true},
        {CURLE_URL_MALFORMAT, OUTBOX_REGISTRY_ERR_INVALID, false},
        {CURLE_UNSUPPORTED_PROTOCOL, OUTBOX_REGISTRY_ERR_INVALID, false},
        {CURLE_PEER_FAILED_VERIFICATION, OUTBOX_REGISTRY_ERR_INVALID, false},
        {CURLE_SSL_CACERT_BADFILE, OUTBOX_REGISTRY_ERR_INVALID, false},
        {CURLE_OUT_OF_MEMORY, OUTBOX_REGISTRY_ERR_NOMEM, false},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        outbox_registry_err err = outbox_registry_err_from_curl((int)cases[i].code);
        print_message("curl %d -> %s\n", (int)cases[i].code, outbox_registry_err_name(err));
        assert_int_equal(err, cases[i].err);
        assert_int_equal(outbox_registry_err_is_retriable(err), cases[i].retriable);
    }
}

static void test_err_names_are_distinct(void **state)
{
    int a;
    int b;

    for (a = OUTBOX_REGISTRY_OK; a <= OUTBOX_REGISTRY_ERR_NOMEM; a++) {
        assert_string_not_equal(outbox_registry_err_name((outbox_registry_err)a), "?");
        for (b = a + 1; b <= OUTBOX_REGISTRY_ERR_NOMEM; b++)
            assert_string_not_equal(outbox_registry_err_name((outbox_registry_err)a),
                                    outbox_registry_err_name((outbox_registry_err)b));
    }
    assert_string_equal(outbox_registry_err_name(OUTBOX_REGISTRY_ERR_TIMEOUT), "TIMEOUT");
}

/* The settings' faults (a wrong URL, refused credentials, TLS) name the setting to fix; the
 * event's (422, 409), the retriable ones and OK have no fix of the settings to offer. */
static void test_err_fix_names_the_setting(void **state)
{
    for (int a = OUTBOX_REGISTRY_OK; a <= OUTBOX_REGISTRY_ERR_NOMEM; a++) {
        outbox_registry_err err = (outbox_registry_err)a;
        bool settings = err == OUTBOX_REGISTRY_ERR_NOT_FOUND || err == OUTBOX_REGISTRY_ERR_AUTH ||
                        err == OUTBOX_REGISTRY_ERR_HTTP || err == OUTBOX_REGISTRY_ERR_PROTOCOL ||
                        err == OUTBOX_REGISTRY_ERR_INVALID;
        print_message("%s -> \"%s\"\n", outbox_registry_err_name(err),
                      outbox_registry_err_fix(err));
        assert_int_equal(outbox_registry_err_fix(err)[0] != '\0', settings);
    }
    assert_non_null(strstr(outbox_registry_err_fix(OUTBOX_REGISTRY_ERR_NOT_FOUND),
                           "registry.url: the registry URL must be the base"));
    assert_non_null(
        strstr(outbox_registry_err_fix(OUTBOX_REGISTRY_ERR_AUTH), "registry.basic-auth"));
    assert_non_null(
        strstr(outbox_registry_err_fix(OUTBOX_REGISTRY_ERR_INVALID), "registry.ca-file"));
}

/* ------------------------------------------------------------------ client, no request */

static void test_new_rejects_a_url_that_is_not_http(void **state)
{
    static const char *const bad[] = {NULL,         "",        "127.0.0.1:8081",
                                      "ftp://reg/", "http://", "https:///apis"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[512] = "";
        assert_null(outbox_registry_new(bad[i], 1000, NULL, err, sizeof(err)));
        assert_true(strstr(err, "does not start with http:// or https://") ||
                    strstr(err, "has no host"));
    }
}

static void test_new_rejects_a_timeout_that_does_not_bound(void **state)
{
    char err[256] = "";

    assert_null(outbox_registry_new("http://127.0.0.1:1", 0, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "timeout 0 ms: must be > 0"));
    assert_null(outbox_registry_new("http://127.0.0.1:1", -5, NULL, err, sizeof(err)));
}

static void test_new_rejects_basic_auth_without_colon(void **state)
{
    char err[256] = "";
    outbox_registry *reg;

    assert_null(outbox_registry_new("http://127.0.0.1:1", 1000, "alice", err, sizeof(err)));
    assert_non_null(strstr(err, "user:password"));
    reg = outbox_registry_new("http://127.0.0.1:1", 1000, "alice:s3cret", err, sizeof(err));
    assert_non_null(reg);
    outbox_registry_free(reg);
    reg = outbox_registry_new("http://127.0.0.1:1", 1000, "", err, sizeof(err));
    assert_non_null(reg);
    outbox_registry_free(reg);
}

static void test_base_url_drops_trailing_slash_and_hides_credentials(void **state)
{
    outbox_registry *reg;

    reg = outbox_registry_new("http://u:p%40ss@127.0.0.1:1/apis/ccompat/v7/", 1000, NULL, NULL, 0);
    assert_non_null(reg);
    assert_string_equal(outbox_registry_base_url(reg), "http://127.0.0.1:1/apis/ccompat/v7");
    outbox_registry_free(reg);
    reg = outbox_registry_new("HTTPS://reg.example:8081", 1000, NULL, NULL, 0);
    assert_non_null(reg);
    assert_string_equal(outbox_registry_base_url(reg), "HTTPS://reg.example:8081");
    outbox_registry_free(reg);
    outbox_registry_free(NULL);
}

static void test_calls_with_bad_arguments_fail_without_a_request(void **state)
{
    outbox_registry *reg = outbox_registry_new("http://127.0.0.1:1", 1000, NULL, NULL, 0);
    outbox_registry_stats stats;
    const char *schema = "stale";
    char err[256] = "";
    int32_t id = 5;

    assert_non_null(reg);
    assert_int_equal(outbox_registry_register(reg, "", "\"string\"", &id, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "the subject is missing"));
    assert_int_equal(outbox_registry_register(reg, "s", NULL, &id, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "the schema is missing"));
    assert_int_equal(outbox_registry_register(reg, "s", "\"caf\xe9\"", &id, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "not valid UTF-8"));
    assert_int_equal(id, 5);
    assert_int_equal(outbox_registry_lookup(reg, -1, &schema, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_non_null(strstr(err, "never negative"));
    assert_int_equal(outbox_registry_register(NULL, "s", "\"string\"", &id, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);
    assert_int_equal(outbox_registry_check(NULL, NULL, 0, err, sizeof(err)),
                     OUTBOX_REGISTRY_ERR_INVALID);

    outbox_registry_stats_get(reg, &stats);
    assert_int_equal(stats.requests, 0);
    assert_int_equal(stats.errors_fatal, 4);
    assert_int_equal(stats.errors_retriable, 0);
    outbox_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_parse_accepts_the_three_config_values),
        cmocka_unit_test(test_strategy_parse_rejects_other_values_naming_the_choices),
        cmocka_unit_test(test_strategy_name_round_trips_through_parse),
        cmocka_unit_test(test_subject_topic_record_is_topic_dash_record_full_name),
        cmocka_unit_test(test_subject_topic_record_gives_each_event_type_of_a_topic_its_own),
        cmocka_unit_test(test_subject_topic_is_topic_dash_value_whatever_the_record),
        cmocka_unit_test(test_subject_record_is_record_full_name_whatever_the_topic),
        cmocka_unit_test(test_subject_rejects_a_record_name_that_is_not_an_avro_full_name),
        cmocka_unit_test(test_subject_rejects_an_empty_or_unprintable_topic),
        cmocka_unit_test(test_subject_that_does_not_fit_the_buffer_is_refused_not_cut),
        cmocka_unit_test(test_subject_rejects_an_unknown_strategy),
        cmocka_unit_test(test_url_escape_keeps_unreserved_and_encodes_every_other_byte),
        cmocka_unit_test(test_url_subject_versions_escapes_the_subject_and_drops_trailing_slashes),
        cmocka_unit_test(test_url_schema_id_and_config),
        cmocka_unit_test(test_parse_id_reads_the_register_answer),
        cmocka_unit_test(test_parse_id_rejects_what_is_not_an_id_in_range),
        cmocka_unit_test(test_parse_schema_reads_the_lookup_answer_equal_to_the_registered_file),
        cmocka_unit_test(test_parse_schema_accepts_schema_type_avro_and_refuses_others),
        cmocka_unit_test(test_parse_schema_rejects_missing_empty_or_nul_schema),
        cmocka_unit_test(test_parse_config_reads_the_global_and_the_put_answer),
        cmocka_unit_test(test_parse_config_rejects_a_page_that_is_not_the_api),
        cmocka_unit_test(test_error_409_is_fatal_incompatible_with_the_registry_message),
        cmocka_unit_test(test_error_422_is_fatal_invalid_schema_with_error_code),
        cmocka_unit_test(test_error_404_names_the_missing_schema_or_subject),
        cmocka_unit_test(test_error_404_page_of_another_api_shows_its_detail),
        cmocka_unit_test(test_error_with_a_text_body_quotes_it_and_empty_body_says_so),
        cmocka_unit_test(test_error_502_from_a_proxy_is_retriable_and_stays_on_one_line),
        cmocka_unit_test(test_error_message_is_cut_to_the_callers_buffer),
        cmocka_unit_test(test_http_status_classification),
        cmocka_unit_test(test_curl_result_classification),
        cmocka_unit_test(test_err_names_are_distinct),
        cmocka_unit_test(test_err_fix_names_the_setting),
        cmocka_unit_test(test_new_rejects_a_url_that_is_not_http),
        cmocka_unit_test(test_new_rejects_a_timeout_that_does_not_bound),
        cmocka_unit_test(test_new_rejects_basic_auth_without_colon),
        cmocka_unit_test(test_base_url_drops_trailing_slash_and_hides_credentials),
        cmocka_unit_test(test_calls_with_bad_arguments_fail_without_a_request),
    };
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
