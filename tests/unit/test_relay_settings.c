/* relay_settings: the outbox tables (postgres.table, postgres.tables, [table schema.name]
 * column sections) and the logical-message settings, as loaded from an ini file and --set. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "settings.h"

struct loaded {
    relay_settings s;
    outbox_conf *conf;
    int rc;
    char err[1024];
    char path[64];
};

/* Load `ini` (written to a temporary file; NULL: none) and `sets` (NULL-terminated). */
static void load(struct loaded *l, const char *ini, const char *const *extra)
{
    const char *sets[16] = {"postgres.conninfo=dbname=x", "kafka.bootstrap.servers=127.0.0.1:1"};
    size_t n = 2;
    for (size_t i = 0; extra && extra[i]; i++)
        sets[n++] = extra[i];
    l->path[0] = '\0';
    if (ini) {
        snprintf(l->path, sizeof(l->path), "/tmp/test_relay_settings.XXXXXX");
        int fd = mkstemp(l->path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
        close(fd);
    }
    l->conf = NULL;
    l->rc =
        relay_settings_load(&l->s, ini ? l->path : NULL, sets, n, &l->conf, l->err, sizeof(l->err));
}

static void release(struct loaded *l)
{
    if (l->rc == 0)
        relay_settings_free(&l->s);
    outbox_conf_destroy(l->conf);
    if (l->path[0])
        unlink(l->path);
}

/* registry.ca-file, cert-file and key-file in the ini file are taken relative to its directory
 * (like avro.schema-dir); --set values as given; key-password is a secret print-config masks. */
static void test_registry_tls_files_resolve_against_the_config(void **state)
{
    struct loaded l;
    const char *ini = "[registry]\nurl = https://127.0.0.1:1/apis/ccompat/v7\n"
                      "ca-file = tls/ca.pem\ncert-file = /etc/outbox/client.pem\n"
                      "key-file = client-key.pem\nkey-password = hunter2\n";
    (void)state;
    load(&l, ini, NULL);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.s.registry_ca_file, "/tmp/tls/ca.pem");
    assert_string_equal(l.s.registry_cert_file, "/etc/outbox/client.pem");
    assert_string_equal(l.s.registry_key_file, "/tmp/client-key.pem");
    assert_string_equal(l.s.registry_key_password, "hunter2");
    char *dump = outbox_conf_dump(l.conf, &l.s);
    assert_non_null(dump);
    assert_null(strstr(dump, "hunter2"));
    assert_non_null(strstr(dump, "registry.ca-file = /tmp/tls/ca.pem"));
    free(dump);
    release(&l);

    const char *const sets[] = {"registry.ca-file=rel/ca.pem", NULL};
    load(&l, NULL, sets);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.s.registry_ca_file, "rel/ca.pem");
    assert_string_equal(l.s.registry_cert_file, "");
    release(&l);
}

/* A TLS file the registry client cannot read is an error naming the setting and the file,
 * before any request; so is a key without a certificate. */
static void test_registry_tls_files_must_be_readable(void **state)
{
    struct loaded l;
    char err[512];
    (void)state;
    const char *const missing[] = {"registry.url=https://127.0.0.1:1",
                                   "registry.ca-file=/nonexistent/ca.pem", NULL};
    load(&l, NULL, missing);
    assert_int_equal(l.rc, 0);
    assert_null(relay_settings_registry_new(&l.s, err, sizeof(err)));
    assert_non_null(strstr(err, "registry.ca-file"));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    release(&l);

    const char *const key_only[] = {"registry.url=https://127.0.0.1:1",
                                    "registry.key-file=/dev/null", NULL};
    load(&l, NULL, key_only);
    assert_int_equal(l.rc, 0);
    assert_null(relay_settings_registry_new(&l.s, err, sizeof(err)));
    assert_non_null(strstr(err, "registry.cert-file"));
    release(&l);

    const char *const readable[] = {"registry.url=https://127.0.0.1:1",
                                    "registry.ca-file=/dev/null", "registry.cert-file=/dev/null",
                                    "registry.key-file=/dev/null", NULL};
    load(&l, NULL, readable);
    assert_int_equal(l.rc, 0);
    outbox_registry *reg = relay_settings_registry_new(&l.s, err, sizeof(err));
    assert_non_null(reg);
    outbox_registry_free(reg);
    release(&l);
}

static void test_default_is_public_outbox_and_messages_off(void **state)
{
    struct loaded l;
    load(&l, NULL, NULL);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.s.ntables, 1);
    assert_string_equal(l.s.tables[0].name, "public.outbox");
    assert_string_equal(l.s.tables[0].schema, "public");
    assert_string_equal(l.s.tables[0].relname, "outbox");
    assert_string_equal(l.s.tables[0].columns[RELAY_COL_ID], "id");
    assert_string_equal(l.s.tables[0].columns[RELAY_COL_HEADERS], "headers");
    assert_false(l.s.logical_messages);
    assert_string_equal(l.s.message_roles, "");
    release(&l);
}

static void test_postgres_table_alone_keeps_working(void **state)
{
    struct loaded l;
    const char *const sets[] = {"postgres.table=app.events", "outbox.column-id=event_id", NULL};
    load(&l, NULL, sets);
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.s.ntables, 1);
    assert_string_equal(l.s.tables[0].name, "app.events");
    assert_string_equal(l.s.tables[0].columns[RELAY_COL_ID], "event_id");
    release(&l);
}

/* Several tables; one with its own column names, the others with [outbox]'s. */
static void test_tables_with_their_own_columns(void **state)
{
    struct loaded l;
    load(&l,
         "[postgres]\n"
         "tables = public.outbox ,  billing.outbox,ops.events\n"
         "[outbox]\n"
         "column-payload = body\n"
         "[table billing.outbox]\n"
         "column-id = event_id\n"
         "column-event-type = kind\n",
         NULL);
    if (l.rc != 0)
        fail_msg("%s", l.err);
    assert_int_equal(l.s.ntables, 3);
    assert_string_equal(l.s.tables[0].name, "public.outbox");
    assert_string_equal(l.s.tables[1].name, "billing.outbox");
    assert_string_equal(l.s.tables[2].name, "ops.events");
    assert_string_equal(l.s.tables[1].columns[RELAY_COL_ID], "event_id");
    assert_string_equal(l.s.tables[1].columns[RELAY_COL_EVENT_TYPE], "kind");
    assert_string_equal(l.s.tables[1].columns[RELAY_COL_PAYLOAD], "body"); /* from [outbox] */
    assert_string_equal(l.s.tables[0].columns[RELAY_COL_ID], "id");
    assert_string_equal(l.s.tables[2].columns[RELAY_COL_PAYLOAD], "body");
    const relay_table *t = relay_settings_table_find(&l.s, "billing", "outbox");
    assert_ptr_equal(t, &l.s.tables[1]);
    assert_null(relay_settings_table_find(&l.s, "billing", "other"));
    release(&l);
}

static void expect_error(const char *ini, const char *const *sets, const char *needle)
{
    struct loaded l;
    load(&l, ini, sets);
    assert_int_equal(l.rc, -1);
    if (!strstr(l.err, needle))
        fail_msg("error '%s' does not say '%s'", l.err, needle);
    release(&l);
}

static void test_table_mistakes_are_named(void **state)
{
    const char *const both[] = {"postgres.table=public.outbox",
                                "postgres.tables=public.outbox, b.outbox", NULL};
    expect_error(NULL, both, "keep postgres.tables");
    const char *const unqualified[] = {"postgres.tables=public.outbox, outbox2", NULL};
    expect_error(NULL, unqualified, "'outbox2' is not schema.table");
    const char *const twice[] = {"postgres.tables=a.o, a.o", NULL};
    expect_error(NULL, twice, "names a.o twice");
    const char *const empty_item[] = {"postgres.tables=a.o,,b.o", NULL};
    expect_error(NULL, empty_item, "is not schema.table");
    expect_error("[table other.outbox]\ncolumn-id = x\n", NULL,
                 "other.outbox is not one of the outbox tables");
    expect_error("[table public.outbox]\ncolumn-idd = x\n", NULL, "unknown key 'column-idd'");
    expect_error("[tabel public.outbox]\ncolumn-id = x\n", NULL, "unknown section [tabel");
}

/* Names PostgreSQL or Kafka would refuse are refused at load, naming the key and the rule:
 * otherwise every event (topic template) or every dead letter (dlq.topic, the fallback) would
 * fail at run time. */
static void test_names_kafka_or_postgres_would_refuse_are_named(void **state)
{
    const char *const upper_slot[] = {"postgres.slot=Relay-1", NULL};
    expect_error(NULL, upper_slot, "postgres.slot = 'Relay-1': a replication slot name is 1-63");
    const char *const long_slot[] = {
        "postgres.slot=s234567890123456789012345678901234567890123456789012345678901234", NULL};
    expect_error(NULL, long_slot, "a replication slot name is 1-63 of a-z 0-9 _");
    const char *const slash[] = {"outbox.topic=events/${aggregate_type}", NULL};
    expect_error(NULL, slash,
                 "outbox.topic: topic template \"events/${aggregate_type}\": '/' cannot be in a "
                 "Kafka topic name");
    const char *const placeholder[] = {"outbox.topic=e.${aggregate}", NULL};
    expect_error(NULL, placeholder, "unknown placeholder \"${aggregate}\"");
    const char *const dlq[] = {"dlq.topic=dead:${topic}", NULL};
    expect_error(NULL, dlq, "dlq.topic = 'dead:${topic}' makes no legal Kafka topic name");
    const char *const dlq_other[] = {"dlq.topic=${aggregate_type}.dlq", NULL};
    expect_error(NULL, dlq_other, "${topic} is the event's topic");
    const char *const fallback[] = {"dlq.fallback-topic=outbox dlq", NULL};
    expect_error(NULL, fallback, "dlq.fallback-topic = 'outbox dlq' is not a legal Kafka topic");
    const char *const state_topic[] = {"relay.state-topic=..", NULL};
    expect_error(NULL, state_topic, "relay.state-topic = '..' is not a legal Kafka topic");

    /* refused after the outbox tables were built: nothing leaks (valgrind and ASan passes) */
    const char *const listen[] = {"http.listen=9187", NULL};
    expect_error(NULL, listen, "http.listen = '9187'");

    struct loaded l; /* the legal ones load: 63 characters, one topic for all dead letters */
    const char *const fine[] = {
        "postgres.slot=s23456789012345678901234567890123456789012345678901234567890123",
        "dlq.topic=all-dead-letters", "outbox.topic=${aggregate_type}", NULL};
    load(&l, NULL, fine);
    assert_int_equal(l.rc, 0);
    release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_public_outbox_and_messages_off),
        cmocka_unit_test(test_registry_tls_files_resolve_against_the_config),
        cmocka_unit_test(test_registry_tls_files_must_be_readable),
        cmocka_unit_test(test_postgres_table_alone_keeps_working),
        cmocka_unit_test(test_tables_with_their_own_columns),
        cmocka_unit_test(test_table_mistakes_are_named),
        cmocka_unit_test(test_names_kafka_or_postgres_would_refuse_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
