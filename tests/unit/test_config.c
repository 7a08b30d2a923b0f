/* Unit tests for lib/config: table-driven loading, precedence, kafka passthrough, messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kafka_scope.h"

#define CONF_FIXTURE(name) FIXTURE_DIR "/config/" name

typedef struct test_config {
    char *conninfo;
    char *slot;
    int64_t port;
    bool verbose;
    int log_format;
    int64_t status_interval_ms;
    int64_t max_inflight;
    char *registry_url;
    char *admin_password;
} test_config;

static const outbox_conf_enum test_formats[] = {{"text", 10}, {"json", 20}, {NULL, 0}};

static const outbox_conf_def test_defs[] = {
    OUTBOX_CONF_STR("postgres.conninfo", test_config, conninfo, "host=localhost dbname=app", 0,
                    "libpq connection string of the source database"),
    OUTBOX_CONF_STR("postgres.slot", test_config, slot, "outbox", 0, "Logical replication slot"),
    OUTBOX_CONF_INT("http.port", test_config, port, "9187", 1, 65535, "Metrics port"),
    OUTBOX_CONF_BOOL("log.verbose", test_config, verbose, "false", "Extra detail"),
    OUTBOX_CONF_ENUM("log.format", test_config, log_format, "text", test_formats,
                     "Log line format"),
    OUTBOX_CONF_DURATION("relay.status-interval", test_config, status_interval_ms, "10s", 100,
                         3600000, "Standby status update interval"),
    OUTBOX_CONF_SIZE("relay.max-inflight", test_config, max_inflight, "64MB", 1024,
                     1024LL * 1024 * 1024, "Bytes in flight before reading pauses"),
    OUTBOX_CONF_STR("registry.url", test_config, registry_url, NULL, 0,
                    "Schema registry URL | empty = embedded schemas"),
    OUTBOX_CONF_STR("admin.password", test_config, admin_password, NULL, 0, "Admin password"),
    OUTBOX_CONF_END,
};

static const outbox_conf_spec test_spec = {
    .program = "outbox-test",
    .env_prefix = "OUTBOX_TEST",
    .defs = test_defs,
};

typedef struct load_result {
    int rc;
    test_config cfg;
    outbox_conf *conf;
    char err[512];
} load_result;

static void load_with(load_result *r, const outbox_conf_spec *spec, const char *path,
                      char *const *envp, const char *const *sets, size_t nsets, void *opaque)
{
    outbox_conf_sources src = {.path = path, .envp = envp, .sets = sets, .set_count = nsets};
    memset(r, 0, sizeof *r);
    r->rc = outbox_conf_load(spec, &r->cfg, &src, opaque, &r->conf, r->err, sizeof r->err);
}

static void load(load_result *r, const char *path, char *const *envp, const char *const *sets,
                 size_t nsets)
{
    load_with(r, &test_spec, path, envp, sets, nsets, NULL);
}

static void release(load_result *r)
{
    outbox_conf_destroy(r->conf);
    outbox_conf_free(test_defs, &r->cfg);
}

/* Expect a failed load whose message is exactly `expected`. */
static void assert_load_error(load_result *r, const char *expected)
{
    assert_int_equal(r->rc, -1);
    assert_null(r->conf);
    assert_string_equal(r->err, expected);
    /* a failed load leaves nothing allocated in the target */
    assert_null(r->cfg.conninfo);
    assert_null(r->cfg.slot);
}

static void test_defaults_apply_without_sources(void **state)
{
    load_result r;
    load(&r, NULL, NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.conninfo, "host=localhost dbname=app");
    assert_string_equal(r.cfg.slot, "outbox");
    assert_int_equal(r.cfg.port, 9187);
    assert_false(r.cfg.verbose);
    assert_int_equal(r.cfg.log_format, 10);
    assert_int_equal(r.cfg.status_interval_ms, 10000);
    assert_int_equal(r.cfg.max_inflight, 64LL * 1024 * 1024);
    assert_null(r.cfg.registry_url);
    assert_string_equal(outbox_conf_origin(r.conf, "http.port"), "default");
    release(&r);
}

static void test_ini_values_override_defaults(void **state)
{
    load_result r;
    const char *path = CONF_FIXTURE("relay.ini");
    char origin[1024];

    load(&r, path, NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.conninfo,
                        "host=db.internal port=5432 dbname=app user=relay password=s3cret");
    assert_string_equal(r.cfg.slot, "outbox_slot");
    assert_int_equal(r.cfg.port, 9300);
    assert_true(r.cfg.verbose);
    assert_int_equal(r.cfg.log_format, 20);
    assert_int_equal(r.cfg.status_interval_ms, 2000);
    assert_int_equal(r.cfg.max_inflight, 16LL * 1024 * 1024);
    snprintf(origin, sizeof origin, "%s:7", path);
    assert_string_equal(outbox_conf_origin(r.conf, "http.port"), origin);
    release(&r);
}

static void test_env_overrides_ini(void **state)
{
    char *env[] = {"PATH=/usr/bin", "OUTBOX_TEST_POSTGRES_SLOT=from_env",
                   "OUTBOX_TEST_RELAY_STATUS_INTERVAL=250ms", "OUTBOX_TESTING_X=ignored", NULL};
    load_result r;

    load(&r, CONF_FIXTURE("relay.ini"), env, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.slot, "from_env");
    assert_int_equal(r.cfg.status_interval_ms, 250);
    assert_int_equal(r.cfg.port, 9300); /* untouched ini value */
    assert_string_equal(outbox_conf_origin(r.conf, "postgres.slot"),
                        "environment variable OUTBOX_TEST_POSTGRES_SLOT");
    release(&r);
}

static void test_set_overrides_env(void **state)
{
    char *env[] = {"OUTBOX_TEST_POSTGRES_SLOT=from_env", "OUTBOX_TEST_HTTP_PORT=9400", NULL};
    const char *sets[] = {"postgres.slot=from_set", "http.port = 9500"};
    load_result r;

    load(&r, CONF_FIXTURE("relay.ini"), env, sets, 2);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.slot, "from_set");
    assert_int_equal(r.cfg.port, 9500);
    assert_string_equal(outbox_conf_origin(r.conf, "postgres.slot"), "--set");
    release(&r);
}

static void test_kafka_keys_pass_through_in_ini_order(void **state)
{
    load_result r;
    size_t n = 0;

    load(&r, CONF_FIXTURE("relay.ini"), NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    const outbox_conf_item *items = outbox_conf_kafka(r.conf, &n);
    assert_int_equal(n, 3);
    assert_string_equal(items[0].key, "bootstrap.servers");
    assert_string_equal(items[0].value, "broker1:9092,broker2:9092");
    assert_int_equal(items[0].line, 19);
    assert_string_equal(items[1].key, "linger.ms");
    assert_string_equal(items[2].key, "acks");
    assert_string_equal(items[2].value, "all");
    release(&r);
}

static void test_kafka_env_and_set_extend_the_list_in_order(void **state)
{
    /* env names map to dotted lowercase properties, sorted; an existing key is replaced in
     * place; --set comes last */
    char *env[] = {"OUTBOX_TEST_KAFKA_SECURITY_PROTOCOL=plaintext",
                   "OUTBOX_TEST_KAFKA_LINGER_MS=20", "OUTBOX_TEST_KAFKA_COMPRESSION_TYPE=lz4",
                   NULL};
    const char *sets[] = {"kafka.client.id=relay-1", "kafka.acks=1"};
    load_result r;
    size_t n = 0;

    load(&r, CONF_FIXTURE("relay.ini"), env, sets, 2);
    assert_int_equal(r.rc, 0);
    const outbox_conf_item *items = outbox_conf_kafka(r.conf, &n);
    assert_int_equal(n, 6);
    const char *keys[] = {"bootstrap.servers", "linger.ms",         "acks",
                          "compression.type",  "security.protocol", "client.id"};
    const char *values[] = {"broker1:9092,broker2:9092", "20", "1", "lz4", "plaintext", "relay-1"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(items[i].key, keys[i]);
        assert_string_equal(items[i].value, values[i]);
    }
    assert_string_equal(items[1].file, "environment variable OUTBOX_TEST_KAFKA_LINGER_MS");
    assert_string_equal(outbox_conf_kafka_get(r.conf, "acks"), "1");
    assert_null(outbox_conf_kafka_get(r.conf, "batch.size"));
    release(&r);
}

static void test_kafka_apply_sets_every_property(void **state)
{
    load_result r;
    char err[512], value[64];
    size_t size = sizeof value;

    load(&r, CONF_FIXTURE("relay.ini"), NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();
    assert_int_equal(outbox_conf_kafka_apply(r.conf, rk_conf, err, sizeof err), 0);
    assert_int_equal(rd_kafka_conf_get(rk_conf, "linger.ms", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "5");
    rd_kafka_conf_destroy(rk_conf);
    release(&r);
}

static void test_kafka_apply_reports_first_rejected_key(void **state)
{
    const char *sets[] = {"kafka.linger.ms=5", "kafka.no.such.property=1", "kafka.acks=all"};
    load_result r;
    char err[512];

    load(&r, NULL, NULL, sets, 3);
    assert_int_equal(r.rc, 0);
    rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();
    assert_int_equal(outbox_conf_kafka_apply(r.conf, rk_conf, err, sizeof err), -1);
    /* our prefix, then librdkafka's own message */
    assert_non_null(strstr(err, "kafka.no.such.property (--set): "));
    assert_non_null(strstr(err, "No such configuration property"));
    rd_kafka_conf_destroy(rk_conf);
    release(&r);
}

static void test_kafka_scope_comes_from_librdkafka(void **state)
{
    assert_int_equal(outbox_kafka_property_scope("session.timeout.ms"),
                     OUTBOX_KAFKA_SCOPE_CONSUMER);
    assert_int_equal(outbox_kafka_property_scope("heartbeat.interval.ms"),
                     OUTBOX_KAFKA_SCOPE_CONSUMER);
    assert_int_equal(outbox_kafka_property_scope("linger.ms"), OUTBOX_KAFKA_SCOPE_PRODUCER);
    assert_int_equal(outbox_kafka_property_scope("bootstrap.servers"), OUTBOX_KAFKA_SCOPE_BOTH);
    /* topic-level properties are listed too */
    assert_int_equal(outbox_kafka_property_scope("auto.offset.reset"), OUTBOX_KAFKA_SCOPE_CONSUMER);
    assert_int_equal(outbox_kafka_property_scope("acks"), OUTBOX_KAFKA_SCOPE_PRODUCER);
    assert_int_equal(outbox_kafka_property_scope("no.such.property"), OUTBOX_KAFKA_SCOPE_UNKNOWN);
    assert_true(outbox_kafka_property_for("no.such.property", RD_KAFKA_PRODUCER));
    assert_false(outbox_kafka_property_for("session.timeout.ms", RD_KAFKA_PRODUCER));
    assert_true(outbox_kafka_property_for("session.timeout.ms", RD_KAFKA_CONSUMER));
}

static int confwarns;
static void count_confwarn(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (strcmp(fac, "CONFWARN") == 0)
        confwarns++;
}

/* Create (and destroy) a client of `type` from rk_conf (taken): how many CONFWARN lines
 * librdkafka logged about its configuration. */
static int confwarns_of(rd_kafka_type_t type, rd_kafka_conf_t *rk_conf)
{
    char rk_err[512];
    rd_kafka_conf_set_log_cb(rk_conf, count_confwarn);
    confwarns = 0;
    rd_kafka_t *rk = rd_kafka_new(type, rk_conf, rk_err, sizeof rk_err);
    assert_non_null(rk);
    rd_kafka_destroy(rk);
    return confwarns;
}

/* The shared [kafka] list of the projector: each client gets its kind's keys and warns about
 * none. */
static void test_kafka_apply_for_gives_each_client_its_keys(void **state)
{
    const char *sets[] = {"kafka.session.timeout.ms=6000",
                          "kafka.linger.ms=7",
                          "kafka.client.id=shared",
                          "kafka.auto.offset.reset=earliest",
                          "kafka.heartbeat.interval.ms=1000",
                          "kafka.bootstrap.servers=127.0.0.1:9" /* else a CONFWARN of its own */};
    load_result r;
    char err[512], value[64], rk_err[512];
    size_t size;

    load(&r, NULL, NULL, sets, 6);
    assert_int_equal(r.rc, 0);
    for (int kind = 0; kind < 2; kind++) {
        rd_kafka_type_t type = kind == 0 ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER;
        rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();
        assert_int_equal(outbox_conf_kafka_apply_for(r.conf, rk_conf, type, err, sizeof err), 0);
        size = sizeof value;
        assert_int_equal(rd_kafka_conf_get(rk_conf, "client.id", value, &size), RD_KAFKA_CONF_OK);
        assert_string_equal(value, "shared");
        size = sizeof value;
        assert_int_equal(rd_kafka_conf_get(rk_conf, "session.timeout.ms", value, &size),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(value, type == RD_KAFKA_CONSUMER ? "6000" : "45000");
        size = sizeof value;
        assert_int_equal(rd_kafka_conf_get(rk_conf, "linger.ms", value, &size), RD_KAFKA_CONF_OK);
        assert_string_equal(value, type == RD_KAFKA_PRODUCER ? "7" : "5");
        if (type == RD_KAFKA_CONSUMER)
            assert_int_equal(rd_kafka_conf_set(rk_conf, "group.id", "g", rk_err, sizeof rk_err),
                             RD_KAFKA_CONF_OK);
        assert_int_equal(confwarns_of(type, rk_conf), 0);
    }
    release(&r);
}

/* TLS to the brokers: security.protocol and the ssl.* keys reach every client kind the daemons
 * make (producer: relay, dead letters, check's admin requests; consumer: projector), unchanged,
 * both through apply_for and through the whole-list apply (the relay's producer and check). */
static void test_kafka_tls_keys_reach_every_client_kind(void **state)
{
    static const char *const keys[][2] = {{"security.protocol", "ssl"},
                                          {"ssl.ca.location", "/etc/outbox/ca.pem"},
                                          {"ssl.certificate.location", "/etc/outbox/client.pem"},
                                          {"ssl.key.location", "/etc/outbox/client-key.pem"},
                                          {"ssl.endpoint.identification.algorithm", "https"}};
    const char *sets[] = {"kafka.security.protocol=ssl", "kafka.ssl.ca.location=/etc/outbox/ca.pem",
                          "kafka.ssl.certificate.location=/etc/outbox/client.pem",
                          "kafka.ssl.key.location=/etc/outbox/client-key.pem",
                          "kafka.ssl.endpoint.identification.algorithm=https"};
    load_result r;
    char err[512], value[256];
    (void)state;
    load(&r, NULL, NULL, sets, 5);
    assert_int_equal(r.rc, 0);
    for (int kind = 0; kind < 3; kind++) {
        rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();
        if (kind < 2) {
            rd_kafka_type_t type = kind == 0 ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER;
            assert_int_equal(outbox_conf_kafka_apply_for(r.conf, rk_conf, type, err, sizeof err),
                             0);
        } else {
            assert_int_equal(outbox_conf_kafka_apply(r.conf, rk_conf, err, sizeof err), 0);
        }
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            size_t size = sizeof value;
            assert_int_equal(rd_kafka_conf_get(rk_conf, keys[k][0], value, &size),
                             RD_KAFKA_CONF_OK);
            assert_string_equal(value, keys[k][1]);
        }
        rd_kafka_conf_destroy(rk_conf);
    }
    release(&r);
}

/* Control for the test above: the whole list handed to a producer makes it warn. */
static void test_kafka_apply_all_to_a_producer_warns(void **state)
{
    const char *sets[] = {"kafka.session.timeout.ms=6000", "kafka.bootstrap.servers=127.0.0.1:9"};
    load_result r;
    char err[512];

    load(&r, NULL, NULL, sets, 2);
    assert_int_equal(r.rc, 0);
    rd_kafka_conf_t *rk_conf = rd_kafka_conf_new();
    assert_int_equal(outbox_conf_kafka_apply(r.conf, rk_conf, err, sizeof err), 0);
    assert_int_equal(confwarns_of(RD_KAFKA_PRODUCER, rk_conf), 1);
    release(&r);
}

static void test_unknown_key_suggests_closest(void **state)
{
    load_result r;
    char expected[1024];
    const char *path = CONF_FIXTURE("unknown_key.ini");

    load(&r, path, NULL, NULL, 0);
    snprintf(expected, sizeof expected,
             "unknown key 'conninf' in [postgres] at %s:3; did you mean 'conninfo'?", path);
    assert_load_error(&r, expected);
}

static void test_unknown_key_without_close_match_has_no_hint(void **state)
{
    const char *sets[] = {"postgres.wal_sender=1"};
    load_result r;

    load(&r, NULL, NULL, sets, 1);
    assert_load_error(&r, "unknown key 'wal_sender' in [postgres] in --set");
}

static void test_unknown_env_in_known_section_suggests(void **state)
{
    char *env[] = {"OUTBOX_TEST_POSTGRES_CONNINF=x", NULL};
    load_result r;

    load(&r, NULL, env, NULL, 0);
    assert_load_error(&r, "unknown environment variable OUTBOX_TEST_POSTGRES_CONNINF; did you "
                          "mean OUTBOX_TEST_POSTGRES_CONNINFO?");
}

static void test_bad_int_names_key_value_form_and_line(void **state)
{
    load_result r;
    char expected[1024];
    const char *path = CONF_FIXTURE("bad_int.ini");

    load(&r, path, NULL, NULL, 0);
    snprintf(expected, sizeof expected,
             "invalid value 'eighty' for http.port at %s:3: expected an integer in [1, 65535]",
             path);
    assert_load_error(&r, expected);
}

static void test_int_out_of_range_names_range(void **state)
{
    char *env[] = {"OUTBOX_TEST_HTTP_PORT=70000", NULL};
    load_result r;

    load(&r, NULL, env, NULL, 0);
    assert_load_error(&r, "value '70000' for http.port in environment variable "
                          "OUTBOX_TEST_HTTP_PORT is out of range: expected an integer in "
                          "[1, 65535]");
}

static void test_bad_duration_names_expected_form(void **state)
{
    const char *sets[] = {"relay.status-interval=10 parsecs"};
    load_result r;

    load(&r, NULL, NULL, sets, 1);
    assert_load_error(&r, "invalid value '10 parsecs' for relay.status-interval in --set: "
                          "expected a duration such as 250ms, 10s, 5m or 1h (a plain number is "
                          "milliseconds) in [100ms, 1h]");
}

static void test_duration_out_of_range_names_range(void **state)
{
    const char *sets[] = {"relay.status-interval=2h"};
    load_result r;

    load(&r, NULL, NULL, sets, 1);
    assert_load_error(&r, "value '2h' for relay.status-interval in --set is out of range: "
                          "expected a duration such as 250ms, 10s, 5m or 1h (a plain number is "
                          "milliseconds) in [100ms, 1h]");
}

static void test_duration_units_and_plain_milliseconds(void **state)
{
    const char *cases[][2] = {{"250ms", "250"},  {"10s", "10000"}, {"5m", "300000"},
                              {"1h", "3600000"}, {"1500", "1500"}, {"2 s", "2000"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char set[64];
        const char *sets[] = {set};
        load_result r;
        snprintf(set, sizeof set, "relay.status-interval=%s", cases[i][0]);
        load(&r, NULL, NULL, sets, 1);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.cfg.status_interval_ms, strtoll(cases[i][1], NULL, 10));
        release(&r);
    }
}

static void test_size_units_are_binary(void **state)
{
    const char *cases[][2] = {{"512kB", "524288"}, {"64MB", "67108864"}, {"1GB", "1073741824"},
                              {"4096", "4096"},    {"2mb", "2097152"},   {"8KiB", "8192"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char set[64];
        const char *sets[] = {set};
        load_result r;
        snprintf(set, sizeof set, "relay.max-inflight=%s", cases[i][0]);
        load(&r, NULL, NULL, sets, 1);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.cfg.max_inflight, strtoll(cases[i][1], NULL, 10));
        release(&r);
    }
}

static void test_bad_size_names_expected_form(void **state)
{
    const char *sets[] = {"relay.max-inflight=64 MiBs"};
    load_result r;

    load(&r, NULL, NULL, sets, 1);
    assert_load_error(&r, "invalid value '64 MiBs' for relay.max-inflight in --set: expected a "
                          "size such as 512kB, 64MB or 1GB (a plain number is bytes) in "
                          "[1kB, 1GB]");
}

static void test_bad_bool_names_expected_form(void **state)
{
    char *env[] = {"OUTBOX_TEST_LOG_VERBOSE=maybe", NULL};
    load_result r;

    load(&r, NULL, env, NULL, 0);
    assert_load_error(&r, "invalid value 'maybe' for log.verbose in environment variable "
                          "OUTBOX_TEST_LOG_VERBOSE: expected a boolean (true/false, yes/no, "
                          "on/off, 1/0)");
}

static void test_bad_enum_lists_allowed_values(void **state)
{
    const char *sets[] = {"log.format=xml"};
    load_result r;

    load(&r, NULL, NULL, sets, 1);
    assert_load_error(&r, "invalid value 'xml' for log.format in --set: expected one of: text, "
                          "json");
}

static void test_set_without_equals_is_rejected(void **state)
{
    const char *sets[] = {"postgres.slot"};
    load_result r;

    load(&r, NULL, NULL, sets, 1);
    assert_load_error(&r, "--set 'postgres.slot': expected section.key=value");
}

static void test_syntax_error_names_line(void **state)
{
    load_result r;
    char expected[1024];
    const char *path = CONF_FIXTURE("syntax_error.ini");

    load(&r, path, NULL, NULL, 0);
    snprintf(expected, sizeof expected,
             "syntax error at %s:3: expected '[section]' or 'key = value'", path);
    assert_load_error(&r, expected);
}

static void test_missing_file_is_an_error(void **state)
{
    load_result r;

    load(&r, CONF_FIXTURE("does-not-exist.ini"), NULL, NULL, 0);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "cannot open config file "));
    assert_non_null(strstr(r.err, "does-not-exist.ini: No such file or directory"));
}

static void test_unknown_section_without_hook_suggests(void **state)
{
    load_result r;
    char expected[1024];
    const char *path = CONF_FIXTURE("unknown_section.ini");

    load(&r, path, NULL, NULL, 0);
    snprintf(expected, sizeof expected,
             "unknown section [postgress] at %s:5; did you mean [postgres]?", path);
    assert_load_error(&r, expected);
}

typedef struct hook_capture {
    size_t calls;
    size_t count;
    char section[4][64];
    char key[4][64];
    char value[4][512];
    int line[4];
} hook_capture;

static int capture_sections(void *target, const outbox_conf_item *items, size_t count, void *opaque,
                            char *errstr, size_t errstr_size)
{
    hook_capture *cap = opaque;
    cap->calls++;
    cap->count = count;
    for (size_t i = 0; i < count && i < 4; i++) {
        snprintf(cap->section[i], sizeof cap->section[i], "%s", items[i].section);
        snprintf(cap->key[i], sizeof cap->key[i], "%s", items[i].key);
        snprintf(cap->value[i], sizeof cap->value[i], "%s", items[i].value);
        cap->line[i] = items[i].line;
    }
    return 0;
}

static void test_unknown_sections_go_to_hook_in_order(void **state)
{
    static const outbox_conf_spec spec = {.program = "outbox-test",
                                          .env_prefix = "OUTBOX_TEST",
                                          .defs = test_defs,
                                          .on_sections = capture_sections};
    const char *sets[] = {"projection posts.sql.PostDeleted=DELETE FROM posts WHERE id = $2"};
    hook_capture cap = {0};
    load_result r;

    load_with(&r, &spec, CONF_FIXTURE("projection.ini"), NULL, sets, 1, &cap);
    assert_int_equal(r.rc, 0);
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.count, 4);
    assert_string_equal(cap.section[0], "projection posts");
    assert_string_equal(cap.key[0], "topic");
    assert_string_equal(cap.value[0], "outbox.event.post");
    assert_int_equal(cap.line[0], 6);
    /* continuation lines are joined with '\n' */
    assert_string_equal(cap.key[1], "sql.PostCreated");
    assert_string_equal(cap.value[1], "INSERT INTO posts(id, title)\n"
                                      "SELECT $1->>'id', $1->>'title'\n"
                                      "ON CONFLICT (id) DO NOTHING");
    assert_int_equal(cap.line[1], 7);
    /* a line far longer than inih's default 200 bytes arrives whole */
    assert_string_equal(cap.section[2], "projection comments");
    assert_true(strlen(cap.value[2]) > 200);
    assert_non_null(strstr(cap.value[2], "author = EXCLUDED.author"));
    assert_int_equal(cap.line[2], 12);
    assert_string_equal(cap.key[3], "sql.PostDeleted");
    assert_int_equal(cap.line[3], 0);

    size_t n = 0;
    const outbox_conf_item *items = outbox_conf_sections(r.conf, &n);
    assert_int_equal(n, 4);
    assert_string_equal(items[3].file, "--set");
    release(&r);
}

static int reject_sections(void *target, const outbox_conf_item *items, size_t count, void *opaque,
                           char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "projection key '%s' at %s:%d is not supported", items[0].key,
             items[0].file, items[0].line);
    return -1;
}

static void test_sections_hook_can_reject(void **state)
{
    static const outbox_conf_spec spec = {.program = "outbox-test",
                                          .env_prefix = "OUTBOX_TEST",
                                          .defs = test_defs,
                                          .on_sections = reject_sections};
    load_result r;
    char expected[1024];
    const char *path = CONF_FIXTURE("projection.ini");

    load_with(&r, &spec, path, NULL, NULL, 0, NULL);
    snprintf(expected, sizeof expected, "projection key 'topic' at %s:6 is not supported", path);
    assert_load_error(&r, expected);
}

static int finalize_port_vs_verbose(void *target, const outbox_conf *conf, void *opaque,
                                    char *errstr, size_t errstr_size)
{
    const test_config *cfg = target;
    if (cfg->verbose && cfg->port == 1) {
        snprintf(errstr, errstr_size, "http.port (%s) cannot be 1 with log.verbose",
                 outbox_conf_origin(conf, "http.port"));
        return -1;
    }
    return 0;
}

static void test_finalize_runs_cross_field_checks(void **state)
{
    static const outbox_conf_spec spec = {.program = "outbox-test",
                                          .env_prefix = "OUTBOX_TEST",
                                          .defs = test_defs,
                                          .finalize = finalize_port_vs_verbose};
    const char *ok[] = {"http.port=1"};
    const char *bad[] = {"http.port=1", "log.verbose=on"};
    load_result r;

    load_with(&r, &spec, NULL, NULL, ok, 1, NULL);
    assert_int_equal(r.rc, 0);
    release(&r);
    load_with(&r, &spec, NULL, NULL, bad, 2, NULL);
    assert_load_error(&r, "http.port (--set) cannot be 1 with log.verbose");
}

typedef struct req_config {
    char *conninfo;
} req_config;

static const outbox_conf_def req_defs[] = {
    OUTBOX_CONF_STR("postgres.conninfo", req_config, conninfo, NULL, OUTBOX_CONF_F_REQUIRED,
                    "libpq connection string"),
    OUTBOX_CONF_END,
};

static void test_required_key_missing_says_how_to_set_it(void **state)
{
    static const outbox_conf_spec spec = {
        .program = "outbox-req", .env_prefix = "OUTBOX_REQ", .defs = req_defs};
    req_config cfg;
    outbox_conf *conf = NULL;
    char err[512];
    outbox_conf_sources src = {0};

    assert_int_equal(outbox_conf_load(&spec, &cfg, &src, NULL, &conf, err, sizeof err), -1);
    assert_string_equal(err, "postgres.conninfo is required: set conninfo in [postgres], or "
                             "OUTBOX_REQ_POSTGRES_CONNINFO, or --set postgres.conninfo=...");
    assert_null(cfg.conninfo);
}

typedef struct bad_table_config {
    char *servers;
} bad_table_config;

static void test_table_entry_in_kafka_section_is_rejected(void **state)
{
    static const outbox_conf_def defs[] = {
        OUTBOX_CONF_STR("kafka.bootstrap.servers", bad_table_config, servers, "x", 0, "no"),
        OUTBOX_CONF_END,
    };
    static const outbox_conf_spec spec = {.env_prefix = "OUTBOX_BAD", .defs = defs};
    bad_table_config cfg;
    outbox_conf *conf = NULL;
    char err[512];

    assert_int_equal(outbox_conf_load(&spec, &cfg, NULL, NULL, &conf, err, sizeof err), -1);
    assert_string_equal(err, "config table: 'kafka.bootstrap.servers' is in [kafka], which "
                             "belongs to librdkafka");
}

static void test_help_lists_every_key_with_env_name(void **state)
{
    char *help = outbox_conf_help(&test_spec);
    char env[256];

    assert_non_null(help);
    for (const outbox_conf_def *def = test_defs; def->name; def++) {
        assert_non_null(strstr(help, def->name));
        assert_non_null(strstr(help, def->doc));
    }
    const char *envs[] = {"OUTBOX_TEST_POSTGRES_CONNINFO",  "OUTBOX_TEST_POSTGRES_SLOT",
                          "OUTBOX_TEST_HTTP_PORT",          "OUTBOX_TEST_LOG_VERBOSE",
                          "OUTBOX_TEST_LOG_FORMAT",         "OUTBOX_TEST_RELAY_STATUS_INTERVAL",
                          "OUTBOX_TEST_RELAY_MAX_INFLIGHT", "OUTBOX_TEST_REGISTRY_URL",
                          "OUTBOX_TEST_ADMIN_PASSWORD"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        snprintf(env, sizeof env, "env %s\n", envs[i]);
        assert_non_null(strstr(help, env));
    }
    assert_non_null(strstr(help, "  relay.status-interval  (duration, default 10s, range "
                                 "[100ms, 1h])\n"));
    assert_non_null(strstr(help, "  log.format  (enum: text|json, default text)\n"));
    assert_non_null(strstr(help, "OUTBOX_TEST_KAFKA_BOOTSTRAP_SERVERS -> bootstrap.servers"));
    free(help);
}

static void test_markdown_has_one_row_per_key(void **state)
{
    char *md = outbox_conf_markdown(&test_spec);

    assert_non_null(md);
    assert_true(strncmp(md,
                        "| Key | Type | Default | Range | Environment | Description |\n"
                        "|---|---|---|---|---|---|\n",
                        strlen("| Key | Type | Default | Range | Environment | Description "
                               "|\n|---|---|---|---|---|---|\n")) == 0);
    assert_non_null(strstr(md, "| `http.port` | int | `9187` | [1, 65535] | "
                               "`OUTBOX_TEST_HTTP_PORT` | Metrics port |\n"));
    /* a '|' inside a doc line is escaped */
    assert_non_null(strstr(md, "Schema registry URL \\| empty = embedded schemas"));
    size_t rows = 0;
    for (const char *p = md; (p = strstr(p, "\n| `")) != NULL; p++)
        rows++;
    assert_int_equal(rows, 9 + 1); /* every key and the kafka.* row */
    free(md);
}

static void test_dump_masks_secrets(void **state)
{
    char *env[] = {"OUTBOX_TEST_ADMIN_PASSWORD=hunter2",
                   "OUTBOX_TEST_REGISTRY_URL=https://reg:t0ps3cret@registry:8081/x", NULL};
    const char *sets[] = {"kafka.sasl.password=kafkapw", "kafka.sasl.username=relay"};
    load_result r;

    load(&r, CONF_FIXTURE("relay.ini"), env, sets, 2);
    assert_int_equal(r.rc, 0);
    char *dump = outbox_conf_dump(r.conf, &r.cfg);
    assert_non_null(dump);
    assert_null(strstr(dump, "s3cret"));
    assert_null(strstr(dump, "hunter2"));
    assert_null(strstr(dump, "t0ps3cret"));
    assert_null(strstr(dump, "kafkapw"));
    assert_non_null(strstr(dump, "postgres.conninfo = host=db.internal port=5432 dbname=app "
                                 "user=relay password=***  # "));
    assert_non_null(strstr(dump, "admin.password = ***  # environment variable "
                                 "OUTBOX_TEST_ADMIN_PASSWORD\n"));
    assert_non_null(strstr(dump, "registry.url = https://reg:***@registry:8081/x  # "));
    assert_non_null(strstr(dump, "kafka.sasl.password = ***  # --set\n"));
    assert_non_null(strstr(dump, "kafka.sasl.username = ***  # --set\n"));
    assert_non_null(strstr(dump, "relay.status-interval = 2s  # "));
    assert_non_null(strstr(dump, "relay.max-inflight = 16MB  # "));
    assert_non_null(strstr(dump, "log.format = json  # "));
    assert_non_null(strstr(dump, "kafka.bootstrap.servers = broker1:9092,broker2:9092  # "));
    free(dump);
    release(&r);
}

/* Key material is never printed: the client's private key (kafka.ssl.key.pem), its password,
 * an OAuth client secret, certificates, and PEM armour under any key name. */
static void test_dump_masks_key_material(void **state)
{
    const char *sets[] = {
        "kafka.ssl.key.pem=-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKc="
        "-----END PRIVATE KEY-----",
        "kafka.ssl.key.password=keypw",
        "kafka.ssl.certificate.pem=-----BEGIN CERTIFICATE-----MIIDcert-----END CERTIFICATE-----",
        "kafka.sasl.oauthbearer.client.secret=oauthsecret",
        "kafka.ssl.keystore.password=storepw",
        "kafka.x.custom=-----BEGIN ENCRYPTED PRIVATE KEY-----MIIEcustom",
        "kafka.client.id=relay-1",
    };
    load_result r;

    load(&r, CONF_FIXTURE("relay.ini"), NULL, sets, sizeof sets / sizeof sets[0]);
    assert_int_equal(r.rc, 0);
    char *dump = outbox_conf_dump(r.conf, &r.cfg);
    assert_non_null(dump);
    assert_null(strstr(dump, "MIIE"));
    assert_null(strstr(dump, "BEGIN"));
    assert_null(strstr(dump, "keypw"));
    assert_null(strstr(dump, "MIIDcert"));
    assert_null(strstr(dump, "oauthsecret"));
    assert_null(strstr(dump, "storepw"));
    assert_non_null(strstr(dump, "kafka.ssl.key.pem = ***  # --set\n"));
    assert_non_null(strstr(dump, "kafka.x.custom = ***  # --set\n"));
    assert_non_null(strstr(dump, "kafka.client.id = relay-1  # --set\n")); /* others as they are */
    free(dump);
    char *m = outbox_conf_mask("tls.anything", "-----BEGIN RSA PRIVATE KEY-----abc");
    assert_string_equal(m, "***");
    free(m);
    release(&r);
}

static void test_mask_handles_quoted_and_uri_passwords(void **state)
{
    char *m = outbox_conf_mask("postgres.conninfo", "host=x password='a b\\'c' user=u");
    assert_string_equal(m, "host=x password=*** user=u");
    free(m);
    m = outbox_conf_mask("postgres.conninfo", "postgresql://u:pw@h:5432/db?sslpassword=k&x=1");
    assert_string_equal(m, "postgresql://u:***@h:5432/db?sslpassword=***&x=1");
    free(m);
    m = outbox_conf_mask("kafka.ssl.key.password", "abc");
    assert_string_equal(m, "***");
    free(m);
    m = outbox_conf_mask("postgres.slot", "outbox");
    assert_string_equal(m, "outbox");
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_apply_without_sources),
        cmocka_unit_test(test_ini_values_override_defaults),
        cmocka_unit_test(test_env_overrides_ini),
        cmocka_unit_test(test_set_overrides_env),
        cmocka_unit_test(test_kafka_keys_pass_through_in_ini_order),
        cmocka_unit_test(test_kafka_env_and_set_extend_the_list_in_order),
        cmocka_unit_test(test_kafka_apply_sets_every_property),
        cmocka_unit_test(test_kafka_apply_reports_first_rejected_key),
        cmocka_unit_test(test_kafka_scope_comes_from_librdkafka),
        cmocka_unit_test(test_kafka_apply_for_gives_each_client_its_keys),
        cmocka_unit_test(test_kafka_tls_keys_reach_every_client_kind),
        cmocka_unit_test(test_kafka_apply_all_to_a_producer_warns),
        cmocka_unit_test(test_unknown_key_suggests_closest),
        cmocka_unit_test(test_unknown_key_without_close_match_has_no_hint),
        cmocka_unit_test(test_unknown_env_in_known_section_suggests),
        cmocka_unit_test(test_bad_int_names_key_value_form_and_line),
        cmocka_unit_test(test_int_out_of_range_names_range),
        cmocka_unit_test(test_bad_duration_names_expected_form),
        cmocka_unit_test(test_duration_out_of_range_names_range),
        cmocka_unit_test(test_duration_units_and_plain_milliseconds),
        cmocka_unit_test(test_size_units_are_binary),
        cmocka_unit_test(test_bad_size_names_expected_form),
        cmocka_unit_test(test_bad_bool_names_expected_form),
        cmocka_unit_test(test_bad_enum_lists_allowed_values),
        cmocka_unit_test(test_set_without_equals_is_rejected),
        cmocka_unit_test(test_syntax_error_names_line),
        cmocka_unit_test(test_missing_file_is_an_error),
        cmocka_unit_test(test_unknown_section_without_hook_suggests),
        cmocka_unit_test(test_unknown_sections_go_to_hook_in_order),
        cmocka_unit_test(test_sections_hook_can_reject),
        cmocka_unit_test(test_finalize_runs_cross_field_checks),
        cmocka_unit_test(test_required_key_missing_says_how_to_set_it),
        cmocka_unit_test(test_table_entry_in_kafka_section_is_rejected),
        cmocka_unit_test(test_help_lists_every_key_with_env_name),
        cmocka_unit_test(test_markdown_has_one_row_per_key),
        cmocka_unit_test(test_dump_masks_secrets),
        cmocka_unit_test(test_dump_masks_key_material),
        cmocka_unit_test(test_mask_handles_quoted_and_uri_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
