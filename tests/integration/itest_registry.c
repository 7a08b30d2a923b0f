/*
 * lib/registry against the real registry of the stack (Apicurio Registry, Confluent-compatible
 * API at $OUTBOX_REGISTRY_URL), and against sockets this test opens to fake a dead or a silent
 * registry.
 *
 * Every subject starts with "itest-registry-<random>-" and is deleted (permanently) at the end,
 * so runs do not collide with each other or with other tests using the same registry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

#define TIMEOUT_MS 5000L
/* How late a bounded call may return: scheduling, curl's 1 ms granularity, a loaded CI box. */
#define SLACK_MS 500.0

static const char *registry_url;
static char prefix[64];        /* "itest-registry-<random>" */
static char subjects[32][256]; /* created, deleted at the end */
static size_t nsubjects;

/* ------------------------------------------------------------------ helpers */

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
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

static char *schema_file(const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s.avsc", SCHEMA_DIR, name);
    return read_text(path);
}

/* A subject of this run: "<prefix>-<suffix>", remembered for deletion. */
static const char *subject_named(const char *suffix)
{
    char *subject;

    assert_true(nsubjects < sizeof(subjects) / sizeof(subjects[0]));
    subject = subjects[nsubjects++];
    snprintf(subject, sizeof(subjects[0]), "%s-%s", prefix, suffix);
    return subject;
}

/* A topic-record subject of this run for the topic "<prefix>.<topic_suffix>". */
static const char *subject_for(outbox_registry_strategy strategy, const char *topic_suffix,
                               const char *record)
{
    char topic[128];
    char *subject;

    assert_true(nsubjects < sizeof(subjects) / sizeof(subjects[0]));
    subject = subjects[nsubjects++];
    snprintf(topic, sizeof(topic), "%s.%s", prefix, topic_suffix);
    assert_int_equal(outbox_registry_subject_build(strategy, topic, record, subject,
                                                   sizeof(subjects[0]), NULL, 0),
                     OUTBOX_REGISTRY_OK);
    return subject;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    char *body = userdata; /* 4096 bytes, NUL-terminated */
    size_t have = strlen(body);
    size_t n = size * nmemb;
    size_t room = 4095 - have;

    memcpy(body + have, data, n < room ? n : room);
    body[have + (n < room ? n : room)] = '\0';
    return n;
}

/* A raw request to the registry, for what the client does not do (config, delete, listing).
 * Returns the HTTP status; the body goes to body[4096] when given. */
static long raw(const char *method, const char *url, const char *json, char *body)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char sink[4096] = "";
    long status = 0;

    assert_non_null(curl);
    if (!body)
        body = sink;
    body[0] = '\0';
    headers = curl_slist_append(headers, "Content-Type: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    if (json)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return status;
}

/* PUT {base}/config/{subject} {"compatibility": level}. */
static void set_compatibility(const char *subject, const char *level)
{
    char *escaped = outbox_registry_url_escape(subject);
    char url[1024];
    char json[128];
    char body[4096];

    assert_non_null(escaped);
    snprintf(url, sizeof(url), "%s/config/%s", registry_url, escaped);
    snprintf(json, sizeof(json), "{\"compatibility\":\"%s\"}", level);
    assert_int_equal(raw("PUT", url, json, body), 200);
    free(escaped);
}

/* "http://host:port" of the registry URL. */
static void registry_origin(char *origin, size_t size)
{
    const char *host = strstr(registry_url, "://");
    size_t len;

    assert_non_null(host);
    len = (size_t)(host + 3 - registry_url) + strcspn(host + 3, "/");
    assert_true(len < size);
    memcpy(origin, registry_url, len);
    origin[len] = '\0';
}

/* A loopback TCP port with nothing listening: bound, then closed. */
static int closed_port(void)
{
    struct sockaddr_in addr = {0};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    assert_true(fd >= 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

/* A loopback TCP socket that accepts connections (the kernel completes the handshake) but
 * never reads nor answers. Returns the fd; *port its port. */
static int silent_listener(int *port)
{
    struct sockaddr_in addr = {0};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

static outbox_registry *client(void)
{
    char err[512] = "";
    outbox_registry *reg = outbox_registry_new(registry_url, TIMEOUT_MS, NULL, err, sizeof(err));

    if (!reg)
        fail_msg("outbox_registry_new: %s", err);
    return reg;
}

static uint64_t requests(const outbox_registry *reg)
{
    outbox_registry_stats stats;

    outbox_registry_stats_get(reg, &stats);
    return stats.requests;
}

/* ------------------------------------------------------------------ the real registry */

static void test_check_answers_with_the_global_compatibility_level(void **state)
{
    outbox_registry *reg = client();
    char level[32] = "";
    char err[1024] = "";

    assert_int_equal(outbox_registry_check(reg, level, sizeof(level), err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    print_message("global compatibility: %s\n", level);
    assert_true(strcmp(level, "NONE") == 0 || strncmp(level, "BACKWARD", 8) == 0 ||
                strncmp(level, "FORWARD", 7) == 0 || strncmp(level, "FULL", 4) == 0);
    assert_int_equal(requests(reg), 1);
    outbox_registry_free(reg);
}

static void test_register_returns_an_id_and_again_the_same_id_without_a_request(void **state)
{
    outbox_registry *reg = client();
    const char *subject =
        subject_for(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "post", "blog.events.PostCreated");
    char *schema = schema_file("PostCreated");
    outbox_registry_stats stats;
    char err[1024] = "";
    int32_t first = -1;
    int32_t second = -1;

    assert_int_equal(outbox_registry_register(reg, subject, schema, &first, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_true(first >= 0);
    assert_int_equal(requests(reg), 1);
    assert_int_equal(outbox_registry_register(reg, subject, schema, &second, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(second, first);
    outbox_registry_stats_get(reg, &stats);
    assert_int_equal(stats.requests, 1);
    assert_int_equal(stats.register_cached, 1);
    assert_int_equal(stats.errors_fatal + stats.errors_retriable, 0);
    print_message("%s -> id %d\n", subject, (int)first);
    free(schema);
    outbox_registry_free(reg);
}

static void test_a_fresh_client_registering_a_known_schema_gets_the_same_id(void **state)
{
    outbox_registry *reg = client();
    outbox_registry *again = client();
    const char *subject =
        subject_for(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "post", "blog.events.PostCreated");
    char *schema = schema_file("PostCreated");
    char err[1024] = "";
    int32_t first = -1;
    int32_t second = -1;

    /* The relay restarted: its cache is empty, the registry answers the existing id. */
    assert_int_equal(outbox_registry_register(reg, subject, schema, &first, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(outbox_registry_register(again, subject, schema, &second, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(second, first);
    assert_int_equal(requests(again), 1);
    free(schema);
    outbox_registry_free(again);
    outbox_registry_free(reg);
}

static void test_lookup_by_id_returns_an_equivalent_schema_then_from_the_cache(void **state)
{
    outbox_registry *reg = client();
    outbox_registry *reader = client();
    const char *subject =
        subject_for(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "comment", "blog.events.CommentUpdated");
    char *schema = schema_file("CommentUpdated");
    const char *looked_up = NULL;
    const char *again = NULL;
    json_t *registered;
    json_t *answered;
    char err[1024] = "";
    int32_t id = -1;

    assert_int_equal(outbox_registry_register(reg, subject, schema, &id, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_equal(outbox_registry_lookup(reader, id, &looked_up, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_non_null(looked_up);
    registered = json_loads(schema, 0, NULL);
    answered = json_loads(looked_up, 0, NULL);
    assert_non_null(registered);
    assert_non_null(answered);
    assert_true(json_equal(registered, answered));
    assert_int_equal(requests(reader), 1);

    assert_int_equal(outbox_registry_lookup(reader, id, &again, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_ptr_equal(again, looked_up); /* same text, owned by the handle */
    assert_int_equal(requests(reader), 1);
    json_decref(answered);
    json_decref(registered);
    free(schema);
    outbox_registry_free(reader);
    outbox_registry_free(reg);
}

static void test_second_record_type_of_a_topic_registers_under_its_own_subject(void **state)
{
    outbox_registry *reg = client();
    const char *created =
        subject_for(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "comment", "blog.events.CommentCreated");
    const char *moderated = subject_for(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "comment",
                                        "blog.events.CommentModerated");
    char *created_schema = schema_file("CommentCreated");
    char *moderated_schema = schema_file("CommentModerated");
    outbox_registry_stats stats;
    char err[1024] = "";
    int32_t created_id = -1;
    int32_t moderated_id = -1;

    /* Even with compatibility enforced, each type evolves alone under topic-record. */
    set_compatibility(created, "BACKWARD");
    set_compatibility(moderated, "BACKWARD");
    assert_int_equal(
        outbox_registry_register(reg, created, created_schema, &created_id, err, sizeof(err)),
        OUTBOX_REGISTRY_OK);
    assert_int_equal(
        outbox_registry_register(reg, moderated, moderated_schema, &moderated_id, err, sizeof(err)),
        OUTBOX_REGISTRY_OK);
    assert_int_not_equal(created_id, moderated_id);
    outbox_registry_stats_get(reg, &stats);
    assert_int_equal(stats.requests, 2);
    assert_int_equal(stats.connects, 1); /* the connection was kept alive */
    free(moderated_schema);
    free(created_schema);
    outbox_registry_free(reg);
}

static void test_topic_strategy_rejects_a_second_record_type_under_backward(void **state)
{
    outbox_registry *reg = client();
    const char *subject =
        subject_for(OUTBOX_REGISTRY_STRATEGY_TOPIC, "comment", NULL); /* <topic>-value */
    char *created_schema = schema_file("CommentCreated");
    char *moderated_schema = schema_file("CommentModerated");
    char err[1024] = "";
    outbox_registry_err rc;
    int32_t id = -1;

    /* Why topic-record is the default: one subject per topic cannot hold two event types. */
    set_compatibility(subject, "BACKWARD");
    assert_int_equal(outbox_registry_register(reg, subject, created_schema, &id, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    rc = outbox_registry_register(reg, subject, moderated_schema, &id, err, sizeof(err));
    print_message("%s\n", err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_INCOMPATIBLE);
    assert_false(outbox_registry_err_is_retriable(rc));
    free(moderated_schema);
    free(created_schema);
    outbox_registry_free(reg);
}

static void test_caches_hold_many_schemas_and_answer_each_without_a_request(void **state)
{
    enum { N = 40 }; /* more than the caches' first table size */
    outbox_registry *reg = client();
    const char *subject = subject_named("many");
    outbox_registry_stats stats;
    char schemas[N][128];
    int32_t ids[N];
    char err[1024] = "";
    int i;

    set_compatibility(subject, "NONE"); /* N unrelated versions, whatever the global level */
    for (i = 0; i < N; i++) {
        snprintf(schemas[i], sizeof(schemas[i]),
                 "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"f%d\","
                 "\"type\":\"long\"}]}",
                 i);
        assert_int_equal(
            outbox_registry_register(reg, subject, schemas[i], &ids[i], err, sizeof(err)),
            OUTBOX_REGISTRY_OK);
    }
    for (i = 0; i < N; i++) {
        const char *text = NULL;
        int32_t id = -1;
        assert_int_equal(outbox_registry_register(reg, subject, schemas[i], &id, err, sizeof(err)),
                         OUTBOX_REGISTRY_OK);
        assert_int_equal(id, ids[i]);
        assert_int_equal(outbox_registry_lookup(reg, ids[i], &text, err, sizeof(err)),
                         OUTBOX_REGISTRY_OK);
        assert_non_null(strstr(text, "\"f"));
    }
    for (i = 0; i < N; i++) {
        const char *text = NULL;
        char field[16];
        assert_int_equal(outbox_registry_lookup(reg, ids[i], &text, err, sizeof(err)),
                         OUTBOX_REGISTRY_OK);
        snprintf(field, sizeof(field), "\"f%d\"", i);
        assert_non_null(strstr(text, field));
    }
    outbox_registry_stats_get(reg, &stats);
    assert_int_equal(stats.requests, 2 * N); /* N registrations, N first lookups */
    assert_int_equal(stats.register_cached, N);
    assert_int_equal(stats.lookup_cached, N);
    outbox_registry_free(reg);
}

static void test_incompatible_change_is_fatal_with_the_registry_message(void **state)
{
    outbox_registry *reg = client();
    const char *subject =
        subject_for(OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD, "evolve", "blog.events.PostCreated");
    char *v1 = schema_file("PostCreated");
    char *v2_ok;
    char *v2_bad;
    json_t *schema;
    json_t *field;
    outbox_registry_stats stats;
    outbox_registry_err rc;
    char err[1024] = "";
    int32_t id1 = -1;
    int32_t id2 = -1;
    int32_t id = -7;

    /* Apicurio's global level is NONE out of the box: enforce BACKWARD on this subject. */
    set_compatibility(subject, "BACKWARD");
    assert_int_equal(outbox_registry_register(reg, subject, v1, &id1, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);

    /* Compatible: a new optional field with a default. */
    schema = json_loads(v1, 0, NULL);
    assert_non_null(schema);
    field =
        json_pack("{s:s, s:[s,s], s:n}", "name", "subtitle", "type", "null", "string", "default");
    assert_non_null(field);
    assert_int_equal(json_array_append_new(json_object_get(schema, "fields"), field), 0);
    v2_ok = json_dumps(schema, JSON_COMPACT);
    assert_int_equal(outbox_registry_register(reg, subject, v2_ok, &id2, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_int_not_equal(id2, id1);

    /* Incompatible: "title" string -> int. */
    field = json_array_get(json_object_get(schema, "fields"), 3);
    assert_string_equal(json_string_value(json_object_get(field, "name")), "title");
    assert_int_equal(json_object_set_new(field, "type", json_string("int")), 0);
    v2_bad = json_dumps(schema, JSON_COMPACT);
    rc = outbox_registry_register(reg, subject, v2_bad, &id, err, sizeof(err));
    print_message("%s\n", err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_INCOMPATIBLE);
    assert_false(outbox_registry_err_is_retriable(rc));
    assert_int_equal(id, -7);
    assert_non_null(strstr(err, subject));
    assert_non_null(strstr(err, "HTTP 409 Conflict"));
    assert_non_null(strstr(err, "Incompatible"));
    assert_non_null(strstr(err, "(registry error_code 409)"));

    /* A failure is not cached: the call is made again. */
    rc = outbox_registry_register(reg, subject, v2_bad, &id, err, sizeof(err));
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_INCOMPATIBLE);
    outbox_registry_stats_get(reg, &stats);
    assert_int_equal(stats.requests, 4);
    assert_int_equal(stats.errors_fatal, 2);

    free(v2_bad);
    free(v2_ok);
    json_decref(schema);
    free(v1);
    outbox_registry_free(reg);
}

static void test_invalid_schema_is_fatal_with_the_registry_message(void **state)
{
    outbox_registry *reg = client();
    const char *subject = subject_named("invalid");
    char err[1024] = "";
    outbox_registry_err rc;
    int32_t id = -1;

    rc = outbox_registry_register(reg, subject, "{\"type\":\"record\",\"name\":\"NoFields\"}", &id,
                                  err, sizeof(err));
    print_message("%s\n", err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_INVALID_SCHEMA);
    assert_false(outbox_registry_err_is_retriable(rc));
    assert_non_null(strstr(err, "HTTP 422"));
    assert_non_null(strstr(err, "(registry error_code 42201)"));
    outbox_registry_free(reg);
}

static void test_lookup_of_an_unknown_id_is_fatal_not_found(void **state)
{
    outbox_registry *reg = client();
    const char *schema = "stale";
    char err[1024] = "";
    outbox_registry_err rc;

    rc = outbox_registry_lookup(reg, INT32_MAX, &schema, err, sizeof(err));
    print_message("%s\n", err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_NOT_FOUND);
    assert_false(outbox_registry_err_is_retriable(rc));
    assert_null(schema);
    assert_non_null(strstr(err, "Schema 2147483647 not found. (registry error_code 40403)"));
    outbox_registry_free(reg);
}

static void test_subject_with_reserved_characters_is_escaped_in_the_url(void **state)
{
    outbox_registry *reg = client();
    const char *subject = subject_named("a/b c+d:e");
    char *url = outbox_registry_url_subject_versions(registry_url, subject);
    char err[1024] = "";
    char body[4096];
    int32_t id = -1;

    assert_int_equal(outbox_registry_register(reg, subject, "\"string\"", &id, err, sizeof(err)),
                     OUTBOX_REGISTRY_OK);
    assert_non_null(url);
    assert_int_equal(raw("GET", url, NULL, body), 200);
    assert_string_equal(body, "[1]"); /* version 1 under exactly that subject */
    free(url);
    outbox_registry_free(reg);
}

static void test_check_explains_a_url_that_is_not_the_confluent_api(void **state)
{
    char origin[256];
    char base[512];
    char err[1024] = "";
    outbox_registry *reg;
    outbox_registry_err rc;

    registry_origin(origin, sizeof(origin));

    /* Apicurio's own API instead of its ccompat one */
    snprintf(base, sizeof(base), "%s/apis/registry/v3", origin);
    reg = outbox_registry_new(base, TIMEOUT_MS, NULL, err, sizeof(err));
    assert_non_null(reg);
    rc = outbox_registry_check(reg, NULL, 0, err, sizeof(err));
    print_message("%s\n", err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "HTTP 404"));
    assert_non_null(strstr(err, "no Confluent-compatible API there"));
    assert_non_null(strstr(err, "/apis/ccompat/v7"));
    outbox_registry_free(reg);

    /* the bare host, which Apicurio redirects to its UI/API index */
    reg = outbox_registry_new(origin, TIMEOUT_MS, NULL, err, sizeof(err));
    assert_non_null(reg);
    rc = outbox_registry_check(reg, NULL, 0, err, sizeof(err));
    print_message("%s\n", err);
    assert_false(outbox_registry_err_is_retriable(rc));
    assert_non_null(strstr(err, "/apis/ccompat/v7"));
    outbox_registry_free(reg);
}

/* ------------------------------------------------------------------ dead and silent peers */

static void test_closed_port_fails_fast_as_retriable(void **state)
{
    char base[128];
    char err[1024] = "";
    outbox_registry *reg;
    outbox_registry_err rc;
    int32_t id = -1;
    double start;
    double elapsed;

    snprintf(base, sizeof(base), "http://127.0.0.1:%d/apis/ccompat/v7", closed_port());
    reg = outbox_registry_new(base, TIMEOUT_MS, NULL, err, sizeof(err));
    assert_non_null(reg);
    start = now_ms();
    rc =
        outbox_registry_register(reg, "itest-registry-closed", "\"string\"", &id, err, sizeof(err));
    elapsed = now_ms() - start;
    print_message("%.1f ms: %s\n", elapsed, err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_CONNECT);
    assert_true(outbox_registry_err_is_retriable(rc));
    assert_true(elapsed < SLACK_MS);
    assert_non_null(strstr(err, "is the registry running"));

    rc = outbox_registry_check(reg, NULL, 0, err, sizeof(err));
    print_message("%s\n", err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_CONNECT);
    assert_non_null(strstr(err, "registry check: GET http://127.0.0.1:"));
    outbox_registry_free(reg);
}

static void test_silent_peer_times_out_within_the_bound_as_retriable(void **state)
{
    const long timeout_ms = 800;
    char base[128];
    char err[1024] = "";
    outbox_registry *reg;
    outbox_registry_stats stats;
    outbox_registry_err rc;
    const char *schema = NULL;
    int32_t id = -1;
    double start;
    double elapsed;
    int port;
    int fd = silent_listener(&port);

    snprintf(base, sizeof(base), "http://127.0.0.1:%d/apis/ccompat/v7", port);
    reg = outbox_registry_new(base, timeout_ms, NULL, err, sizeof(err));
    assert_non_null(reg);

    start = now_ms();
    rc =
        outbox_registry_register(reg, "itest-registry-silent", "\"string\"", &id, err, sizeof(err));
    elapsed = now_ms() - start;
    print_message("register: %.1f ms: %s\n", elapsed, err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_TIMEOUT);
    assert_true(outbox_registry_err_is_retriable(rc));
    assert_true(elapsed >= (double)timeout_ms - 50.0);
    assert_true(elapsed <= (double)timeout_ms + SLACK_MS);
    assert_non_null(strstr(err, "no answer within 800 ms"));

    /* The next call is bounded the same way (the relay retries from its loop). */
    start = now_ms();
    rc = outbox_registry_lookup(reg, 1, &schema, err, sizeof(err));
    elapsed = now_ms() - start;
    print_message("lookup: %.1f ms: %s\n", elapsed, err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_TIMEOUT);
    assert_true(elapsed <= (double)timeout_ms + SLACK_MS);

    start = now_ms();
    rc = outbox_registry_check(reg, NULL, 0, err, sizeof(err));
    elapsed = now_ms() - start;
    print_message("check: %.1f ms: %s\n", elapsed, err);
    assert_int_equal(rc, OUTBOX_REGISTRY_ERR_TIMEOUT);
    assert_true(elapsed <= (double)timeout_ms + SLACK_MS);
    assert_non_null(strstr(err, "raise the timeout"));

    outbox_registry_stats_get(reg, &stats);
    assert_int_equal(stats.requests, 3);
    assert_int_equal(stats.connects, 3); /* a timed-out connection is not reused */
    assert_int_equal(stats.errors_retriable, 3);
    outbox_registry_free(reg);
    close(fd);
}

/* ------------------------------------------------------------------ setup */

static int setup(void **state)
{
    unsigned int seed = (unsigned int)time(NULL) ^ ((unsigned int)getpid() << 16);
    FILE *urandom = fopen("/dev/urandom", "rb");

    registry_url = getenv("OUTBOX_REGISTRY_URL");
    if (!registry_url || !*registry_url) {
        fprintf(stderr, "OUTBOX_REGISTRY_URL is not set: run with eval \"$(compose/stack env)\"\n");
        return -1;
    }
    if (urandom) {
        if (fread(&seed, sizeof(seed), 1, urandom) != 1)
            seed ^= (unsigned int)clock();
        fclose(urandom);
    }
    snprintf(prefix, sizeof(prefix), "itest-registry-%08x", seed);
    return 0;
}

/* Deletes this run's subjects (soft, then permanently, as the ccompat API requires). */
static int teardown(void **state)
{
    size_t i;

    for (i = 0; i < nsubjects; i++) {
        char *escaped = outbox_registry_url_escape(subjects[i]);
        char url[1024];
        if (!escaped)
            continue;
        snprintf(url, sizeof(url), "%s/subjects/%s", registry_url, escaped);
        raw("DELETE", url, NULL, NULL);
        snprintf(url, sizeof(url), "%s/subjects/%s?permanent=true", registry_url, escaped);
        raw("DELETE", url, NULL, NULL);
        free(escaped);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_answers_with_the_global_compatibility_level),
        cmocka_unit_test(test_register_returns_an_id_and_again_the_same_id_without_a_request),
        cmocka_unit_test(test_a_fresh_client_registering_a_known_schema_gets_the_same_id),
        cmocka_unit_test(test_lookup_by_id_returns_an_equivalent_schema_then_from_the_cache),
        cmocka_unit_test(test_second_record_type_of_a_topic_registers_under_its_own_subject),
        cmocka_unit_test(test_topic_strategy_rejects_a_second_record_type_under_backward),
        cmocka_unit_test(test_caches_hold_many_schemas_and_answer_each_without_a_request),
        cmocka_unit_test(test_incompatible_change_is_fatal_with_the_registry_message),
        cmocka_unit_test(test_invalid_schema_is_fatal_with_the_registry_message),
        cmocka_unit_test(test_lookup_of_an_unknown_id_is_fatal_not_found),
        cmocka_unit_test(test_subject_with_reserved_characters_is_escaped_in_the_url),
        cmocka_unit_test(test_check_explains_a_url_that_is_not_the_confluent_api),
        cmocka_unit_test(test_closed_port_fails_fast_as_retriable),
        cmocka_unit_test(test_silent_peer_times_out_within_the_bound_as_retriable),
    };
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return failed;
}
