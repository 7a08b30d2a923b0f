/* Unit tests for lib/config and files: paths relative to the config file (OUTBOX_CONF_F_PATH). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
