/* Unit tests for lib/config and files: paths relative to the config file (OUTBOX_CONF_F_PATH) and
 * values read from files (KEY-file = PATH, <VAR>_FILE=PATH), masked by print-config. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

typedef struct files_config {
    char *schema_dir;
    char *conninfo;
} files_config;

static const outbox_conf_def files_defs[] = {
    OUTBOX_CONF_STR("avro.schema-dir", files_config, schema_dir, "/usr/share/x/schemas",
                    OUTBOX_CONF_F_PATH, "Schemas"),
    OUTBOX_CONF_STR("postgres.conninfo", files_config, conninfo, NULL, 0, "Database"),
    OUTBOX_CONF_END,
};

static const outbox_conf_spec files_spec = {
    .program = "outbox-test", .env_prefix = "OUTBOX_TEST", .defs = files_defs};

typedef struct files_fixture {
    char dir[64]; /* a fresh directory for this test's files */
} files_fixture;

static int setup(void **state)
{
    files_fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_config_files.XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    files_fixture *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

/* Write `text` to dir/name; the path into out. */
static void write_file(const files_fixture *fx, const char *name, const char *text, char *out,
                       size_t size)
{
    snprintf(out, size, "%s/%s", fx->dir, name);
    FILE *fp = fopen(out, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

typedef struct files_result {
    int rc;
    files_config cfg;
    outbox_conf *conf;
    char err[512];
} files_result;

static void files_load(files_result *r, const char *path, char *const *envp,
                       const char *const *sets, size_t nsets)
{
    char *no_env[] = {NULL};
    outbox_conf_sources src = {
        .path = path, .envp = envp ? envp : no_env, .sets = sets, .set_count = nsets};
    memset(r, 0, sizeof *r);
    r->rc = outbox_conf_load(&files_spec, &r->cfg, &src, NULL, &r->conf, r->err, sizeof r->err);
}

static void files_release(files_result *r)
{
    outbox_conf_destroy(r->conf);
    outbox_conf_free(files_defs, &r->cfg);
}

static void test_relative_path_in_file_resolves_against_its_directory(void **state)
{
    files_fixture *fx = *state;
    char path[256], expected[256];
    files_result r;

    write_file(fx, "relay.ini", "[avro]\nschema-dir = ../schemas\n", path, sizeof path);
    files_load(&r, path, NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    snprintf(expected, sizeof expected, "%s/../schemas", fx->dir);
    assert_string_equal(r.cfg.schema_dir, expected);
    files_release(&r);
}

static void test_absolute_path_in_file_is_kept(void **state)
{
    files_fixture *fx = *state;
    char path[256];
    files_result r;

    write_file(fx, "relay.ini", "[avro]\nschema-dir = /srv/schemas\n", path, sizeof path);
    files_load(&r, path, NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.schema_dir, "/srv/schemas");
    files_release(&r);
}

static void test_relative_path_from_env_or_set_is_kept(void **state)
{
    files_fixture *fx = *state;
    char path[256];
    char *env[] = {"OUTBOX_TEST_AVRO_SCHEMA_DIR=env-schemas", NULL};
    const char *sets[] = {"avro.schema-dir=set-schemas"};
    files_result r;

    write_file(fx, "relay.ini", "[avro]\nschema-dir = file-schemas\n", path, sizeof path);
    files_load(&r, path, env, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.schema_dir, "env-schemas");
    files_release(&r);
    files_load(&r, path, env, sets, 1);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.schema_dir, "set-schemas");
    files_release(&r);
}

static void test_path_default_is_the_tables(void **state)
{
    files_result r;

    files_load(&r, NULL, NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.schema_dir, "/usr/share/x/schemas");
    files_release(&r);
}

static void test_relative_path_in_file_without_directory_is_kept(void **state)
{
    files_fixture *fx = *state;
    char path[256], cwd[512];
    files_result r;

    write_file(fx, "relay.ini", "[avro]\nschema-dir = schemas\n", path, sizeof path);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fx->dir), 0);
    files_load(&r, "relay.ini", NULL, NULL, 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.schema_dir, "schemas");
    files_release(&r);
}

static void test_non_path_string_is_not_rewritten(void **state)
{
    files_fixture *fx = *state;
    char path[256];
    files_result r;

    write_file(fx, "relay.ini", "[postgres]\nconninfo = dbname=app\n", path, sizeof path);
    files_load(&r, path, NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.conninfo, "dbname=app");
    files_release(&r);
}

static void test_key_file_reads_the_value_relative_to_the_config(void **state)
{
    files_fixture *fx = *state;
    char path[256], secret[256];
    files_result r;

    write_file(fx, "pg.conninfo", "host=db user=relay password=s3cret\n", secret, sizeof secret);
    write_file(fx, "relay.ini", "[postgres]\nconninfo-file = pg.conninfo\n", path, sizeof path);
    files_load(&r, path, NULL, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.conninfo, "host=db user=relay password=s3cret");
    char *dump = outbox_conf_dump(r.conf, &r.cfg);
    assert_non_null(dump);
    assert_null(strstr(dump, "s3cret"));
    assert_null(strstr(dump, "host=db"));
    char want[700];
    snprintf(want, sizeof want, "postgres.conninfo = ***  # %s (postgres.conninfo-file at %s:2)\n",
             secret, path);
    assert_non_null(strstr(dump, want));
    free(dump);
    files_release(&r);
}

static void test_env_file_variable_reads_the_value(void **state)
{
    files_fixture *fx = *state;
    char secret[256], var[300];
    files_result r;

    write_file(fx, "pg.conninfo", "dbname=app\r\n", secret, sizeof secret);
    snprintf(var, sizeof var, "OUTBOX_TEST_POSTGRES_CONNINFO_FILE=%s", secret);
    char *env[] = {var, NULL};
    files_load(&r, NULL, env, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.conninfo, "dbname=app");
    char *dump = outbox_conf_dump(r.conf, &r.cfg);
    assert_non_null(strstr(dump, "postgres.conninfo = ***  # "));
    assert_non_null(strstr(dump, "(postgres.conninfo-file in environment variable "
                                 "OUTBOX_TEST_POSTGRES_CONNINFO_FILE)"));
    free(dump);
    files_release(&r);
}

static void test_set_file_reads_the_value(void **state)
{
    files_fixture *fx = *state;
    char secret[256], set[300];
    files_result r;

    write_file(fx, "pg.conninfo", "dbname=other", secret, sizeof secret);
    snprintf(set, sizeof set, "postgres.conninfo-file=%s", secret);
    const char *sets[] = {set};
    files_load(&r, NULL, NULL, sets, 1);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.cfg.conninfo, "dbname=other");
    files_release(&r);
}

static void test_kafka_key_file_sets_the_property_and_is_masked(void **state)
{
    files_fixture *fx = *state;
    char path[256], pw[256], pw2[256], var[300];
    files_result r;

    write_file(fx, "kafka.pw", "kafka-s3cret\n", pw, sizeof pw);
    write_file(fx, "jaas", "opaque-config", pw2, sizeof pw2);
    write_file(fx, "relay.ini",
               "[kafka]\nbootstrap.servers = b:9092\nsasl.password-file = kafka.pw\n", path,
               sizeof path);
    snprintf(var, sizeof var, "OUTBOX_TEST_KAFKA_CLIENT_ID_FILE=%s", pw2);
    char *env[] = {var, NULL};
    files_load(&r, path, env, NULL, 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(outbox_conf_kafka_get(r.conf, "sasl.password"), "kafka-s3cret");
    assert_string_equal(outbox_conf_kafka_get(r.conf, "client.id"), "opaque-config");
    assert_null(outbox_conf_kafka_get(r.conf, "sasl.password-file"));
    char *dump = outbox_conf_dump(r.conf, &r.cfg);
    assert_null(strstr(dump, "kafka-s3cret"));
    assert_null(strstr(dump, "opaque-config"));
    assert_non_null(strstr(dump, "kafka.client.id = ***  # "));
    assert_non_null(strstr(dump, "kafka.bootstrap.servers = b:9092  # "));
    free(dump);
    files_release(&r);
}

static void test_missing_key_file_names_file_key_and_place(void **state)
{
    files_fixture *fx = *state;
    char path[256];
    files_result r;

    write_file(fx, "relay.ini", "[postgres]\n\nconninfo-file = nowhere\n", path, sizeof path);
    files_load(&r, path, NULL, NULL, 0);
    assert_int_equal(r.rc, -1);
    char want[700];
    snprintf(want, sizeof want,
             "cannot read %s/nowhere (postgres.conninfo-file at %s:3): No such file or directory",
             fx->dir, path);
    assert_non_null(strstr(r.err, want));
    assert_null(r.conf);
}

static void test_value_file_with_nul_byte_is_rejected(void **state)
{
    files_fixture *fx = *state;
    char path[256], set[300];
    files_result r;

    snprintf(path, sizeof path, "%s/bin", fx->dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite("a\0b", 1, 3, fp), 3);
    assert_int_equal(fclose(fp), 0);
    snprintf(set, sizeof set, "postgres.conninfo-file=%s", path);
    const char *sets[] = {set};
    files_load(&r, NULL, NULL, sets, 1);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "contains a NUL byte"));
}

/* A FIFO (or a pipe, a device) named as a value file is refused at once: it used to be opened
 * and read, which blocks until a writer closes it - a daemon hung at start (fuzz_config found it
 * reading an inherited pipe through /proc/self/fd). Here a writer holds the FIFO open and never
 * writes; the alarm turns a hang into a failure. */
static void test_value_file_that_is_a_fifo_is_refused_without_blocking(void **state)
{
    files_fixture *fx = *state;
    char path[256], set[300];
    files_result r;

    snprintf(path, sizeof path, "%s/fifo", fx->dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    int writer = open(path, O_RDWR | O_NONBLOCK);
    assert_true(writer >= 0);
    snprintf(set, sizeof set, "postgres.conninfo-file=%s", path);
    const char *sets[] = {set};
    alarm(10);
    files_load(&r, NULL, NULL, sets, 1);
    alarm(0);
    close(writer);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "is not a regular file"));
    assert_non_null(strstr(r.err, "postgres.conninfo-file"));
    files_release(&r);
}

static void test_plain_and_file_variable_together_are_an_error(void **state)
{
    files_fixture *fx = *state;
    char secret[256], var[300];
    files_result r;

    write_file(fx, "pg.conninfo", "dbname=app", secret, sizeof secret);
    snprintf(var, sizeof var, "OUTBOX_TEST_POSTGRES_CONNINFO_FILE=%s", secret);
    char *env[] = {"OUTBOX_TEST_POSTGRES_CONNINFO=dbname=x", var, NULL};
    files_load(&r, NULL, env, NULL, 0);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "both OUTBOX_TEST_POSTGRES_CONNINFO and "
                                  "OUTBOX_TEST_POSTGRES_CONNINFO_FILE are set"));
}

static void test_unknown_key_file_names_the_key(void **state)
{
    files_fixture *fx = *state;
    char path[256], secret[256];
    files_result r;

    write_file(fx, "x", "v", secret, sizeof secret);
    write_file(fx, "relay.ini", "[postgres]\nconninf-file = x\n", path, sizeof path);
    files_load(&r, path, NULL, NULL, 0);
    assert_int_equal(r.rc, -1);
    assert_non_null(strstr(r.err, "unknown key 'conninf' in [postgres]"));
    assert_non_null(strstr(r.err, "did you mean 'conninfo'?"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_relative_path_in_file_resolves_against_its_directory,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_path_in_file_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_path_from_env_or_set_is_kept, setup,
                                        teardown),
        cmocka_unit_test(test_path_default_is_the_tables),
        cmocka_unit_test_setup_teardown(test_relative_path_in_file_without_directory_is_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_non_path_string_is_not_rewritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_reads_the_value_relative_to_the_config, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_env_file_variable_reads_the_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_file_reads_the_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_key_file_sets_the_property_and_is_masked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_key_file_names_file_key_and_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_value_file_that_is_a_fifo_is_refused_without_blocking,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_file_with_nul_byte_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_and_file_variable_together_are_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_file_names_the_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
