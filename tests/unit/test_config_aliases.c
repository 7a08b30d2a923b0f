/* Old spellings of configuration keys (lib/config's OUTBOX_CONF_ALIAS and deprecated keys) and
 * the shared keys: an old key still applies, with a deprecation notice and a WARN line naming
 * the old key, the new key and where it was set; old and new both set is an error naming
 * both; the new key gives no notice. Then the same through the projector's real table. */
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
#include "log.h"
#include "projector_settings.h"

typedef struct alias_config {
    char *schema_dir;
    char *schema_history;
    bool http_enabled;
    char *http_bind;
    int64_t http_port;
    int log_level, log_format;
} alias_config;

#define A alias_config
static const outbox_conf_def alias_defs[] = {
    OUTBOX_CONF_DEFS_SCHEMAS(A, schema_dir, schema_history),
    OUTBOX_CONF_DEFS_LOG(A, log_level, log_format),
    OUTBOX_CONF_ALIAS("old.schemas", "avro.schema-dir"),
    OUTBOX_CONF_END,
};
#undef A

/* a second table for http.listen and its old keys */
typedef struct http_config {
    char *listen;
    bool enabled;
    char *bind;
    int64_t port;
} http_config;

static int http_finalize(void *target, const outbox_conf *conf, void *opaque, char *errstr,
                         size_t errstr_size)
{
    http_config *h = target;
    (void)opaque;
    return outbox_conf_http_finalize(conf, &h->listen, &h->enabled, &h->bind, &h->port, errstr,
                                     errstr_size);
}

static const outbox_conf_def http_defs[] = {
    OUTBOX_CONF_DEFS_HTTP_LISTEN(http_config, listen, "127.0.0.1:9188"),
    OUTBOX_CONF_DEFS_HTTP_OLD(http_config, enabled, bind, port, "true", "9188"),
    OUTBOX_CONF_END,
};

static const outbox_conf_spec alias_spec = {
    .program = "outbox-test", .env_prefix = "OUTBOX_TEST", .defs = alias_defs};
static const outbox_conf_spec http_spec = {.program = "outbox-test",
                                           .env_prefix = "OUTBOX_TEST",
                                           .defs = http_defs,
                                           .finalize = http_finalize};

typedef struct fixture {
    char dir[64];
    char ini[128];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_config_aliases.XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->ini, sizeof fx->ini, "%s/d.ini", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    unlink(fx->ini);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void write_ini(const fixture *fx, const char *text)
{
    FILE *fp = fopen(fx->ini, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* What outbox_conf_log_deprecated() writes, captured through a temporary file. */
static void capture_warnings(const outbox_conf *conf, char *out, size_t size)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    outbox_log_set_fd(fileno(tmp));
    outbox_conf_log_deprecated(conf, "config");
    outbox_log_set_fd(2);
    rewind(tmp);
    size_t n = fread(out, 1, size - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
}

static void test_old_key_in_a_file_applies_with_a_warning(void **state)
{
    fixture *fx = *state;
    alias_config cfg;
    outbox_conf *conf = NULL;
    char err[512], log[2048], where[256];
    write_ini(fx, "[log]\nlevel = warn\n[old]\nschemas = /srv/schemas\n");
    outbox_conf_sources src = {.path = fx->ini};
    assert_int_equal(outbox_conf_load(&alias_spec, &cfg, &src, NULL, &conf, err, sizeof err), 0);
    assert_string_equal(cfg.schema_dir, "/srv/schemas");
    size_t n = 0;
    const outbox_conf_item *dep = outbox_conf_deprecated(conf, &n);
    assert_int_equal(n, 1);
    assert_string_equal(dep[0].section, "old.schemas");
    assert_string_equal(dep[0].key, "avro.schema-dir");
    assert_string_equal(dep[0].file, fx->ini);
    assert_int_equal(dep[0].line, 4);
    assert_true(outbox_conf_is_set(conf, "avro.schema-dir")); /* the user set it, by its old name */
    capture_warnings(conf, log, sizeof log);
    snprintf(where, sizeof where, "old.schemas at %s:4 is deprecated, use avro.schema-dir",
             fx->ini);
    if (strstr(log, where) == NULL || strstr(log, "WARN") == NULL)
        fail_msg("warning line: %s", log);
    /* print-config shows the value under the new key, not the old one */
    char *dump = outbox_conf_dump(conf, &cfg);
    assert_non_null(dump);
    assert_non_null(strstr(dump, "avro.schema-dir = /srv/schemas"));
    assert_null(strstr(dump, "old.schemas"));
    free(dump);
    outbox_conf_destroy(conf);
    outbox_conf_free(alias_defs, &cfg);
}

static void test_old_key_from_the_environment_applies_with_a_notice(void **state)
{
    (void)state;
    alias_config cfg;
    outbox_conf *conf = NULL;
    char err[512];
    char *envp[] = {"OUTBOX_TEST_OLD_SCHEMAS=/env/schemas", NULL};
    outbox_conf_sources src = {.envp = envp};
    assert_int_equal(outbox_conf_load(&alias_spec, &cfg, &src, NULL, &conf, err, sizeof err), 0);
    assert_string_equal(cfg.schema_dir, "/env/schemas");
    size_t n = 0;
    const outbox_conf_item *dep = outbox_conf_deprecated(conf, &n);
    assert_int_equal(n, 1);
    assert_string_equal(dep[0].file, "environment variable OUTBOX_TEST_OLD_SCHEMAS");
    outbox_conf_destroy(conf);
    outbox_conf_free(alias_defs, &cfg);
}

static void test_old_and_new_key_both_set_is_an_error_naming_both(void **state)
{
    fixture *fx = *state;
    alias_config cfg;
    outbox_conf *conf = NULL;
    char err[512];
    write_ini(fx, "[old]\nschemas = /srv/old\n");
    const char *sets[] = {"avro.schema-dir=/srv/new"};
    outbox_conf_sources src = {.path = fx->ini, .sets = sets, .set_count = 1};
    assert_int_equal(outbox_conf_load(&alias_spec, &cfg, &src, NULL, &conf, err, sizeof err), -1);
    assert_null(conf);
    char want[512];
    snprintf(want, sizeof want,
             "both old.schemas (%s:2) and avro.schema-dir (--set) are set: keep avro.schema-dir",
             fx->ini);
    if (strstr(err, want) == NULL)
        fail_msg("message: %s", err);
}

static void test_new_key_gives_no_notice(void **state)
{
    (void)state;
    alias_config cfg;
    outbox_conf *conf = NULL;
    char err[512];
    const char *sets[] = {"avro.schema-dir=/srv/new"};
    outbox_conf_sources src = {.sets = sets, .set_count = 1};
    assert_int_equal(outbox_conf_load(&alias_spec, &cfg, &src, NULL, &conf, err, sizeof err), 0);
    assert_string_equal(cfg.schema_dir, "/srv/new");
    size_t n = 1;
    (void)outbox_conf_deprecated(conf, &n);
    assert_int_equal(n, 0);
    assert_true(outbox_conf_is_set(conf, "avro.schema-dir"));
    outbox_conf_destroy(conf);
    outbox_conf_free(alias_defs, &cfg);
}

static void test_help_lists_old_spellings_after_the_keys(void **state)
{
    (void)state;
    char *help = outbox_conf_help(&alias_spec);
    assert_non_null(help);
    const char *key = strstr(help, "  avro.schema-dir  (string");
    const char *old =
        strstr(help, "  old.schemas  -> avro.schema-dir  (env OUTBOX_TEST_OLD_SCHEMAS)");
    assert_non_null(key);
    assert_non_null(old);
    assert_true(key < old);
    free(help);
}

/* ------------------------------------------------------------------ http.listen */

static int load_http(http_config *h, const char *const *sets, size_t n, char *err, size_t size,
                     outbox_conf **conf)
{
    memset(h, 0, sizeof *h);
    outbox_conf_sources src = {.sets = sets, .set_count = n};
    return outbox_conf_load(&http_spec, h, &src, NULL, conf, err, size);
}

static void test_http_listen_default_and_off(void **state)
{
    (void)state;
    http_config h;
    outbox_conf *conf = NULL;
    char err[512];
    assert_int_equal(load_http(&h, NULL, 0, err, sizeof err, &conf), 0);
    assert_true(h.enabled);
    assert_string_equal(h.bind, "127.0.0.1");
    assert_int_equal(h.port, 9188);
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
    const char *off[] = {"http.listen=off"};
    assert_int_equal(load_http(&h, off, 1, err, sizeof err, &conf), 0);
    assert_false(h.enabled);
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
    const char *v6[] = {"http.listen=[::1]:0"};
    assert_int_equal(load_http(&h, v6, 1, err, sizeof err, &conf), 0);
    assert_true(h.enabled);
    assert_string_equal(h.bind, "::1");
    assert_int_equal(h.port, 0);
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
}

static void test_http_listen_malformed_is_an_error(void **state)
{
    (void)state;
    http_config h;
    outbox_conf *conf = NULL;
    char err[512];
    const char *bad[] = {"http.listen=9188"};
    assert_int_equal(load_http(&h, bad, 1, err, sizeof err, &conf), -1);
    if (strstr(err, "http.listen = '9188' (--set): expected HOST:PORT") == NULL)
        fail_msg("message: %s", err);
}

static void test_old_http_keys_become_http_listen(void **state)
{
    (void)state;
    http_config h;
    outbox_conf *conf = NULL;
    char err[512];
    const char *port[] = {"http.port=0", "http.bind=127.0.0.2"};
    assert_int_equal(load_http(&h, port, 2, err, sizeof err, &conf), 0);
    assert_string_equal(h.listen, "127.0.0.2:0");
    assert_true(h.enabled);
    assert_string_equal(h.bind, "127.0.0.2");
    assert_int_equal(h.port, 0);
    size_t n = 0;
    const outbox_conf_item *dep = outbox_conf_deprecated(conf, &n);
    assert_int_equal(n, 2);
    assert_string_equal(dep[0].section, "http.port");
    assert_string_equal(dep[0].key, "http.listen");
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
    const char *disabled[] = {"http.enabled=false"};
    assert_int_equal(load_http(&h, disabled, 1, err, sizeof err, &conf), 0);
    assert_string_equal(h.listen, "off");
    assert_false(h.enabled);
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
}

static void test_old_http_key_and_http_listen_is_an_error(void **state)
{
    (void)state;
    http_config h;
    outbox_conf *conf = NULL;
    char err[512];
    const char *both[] = {"http.port=9000", "http.listen=127.0.0.1:9001"};
    assert_int_equal(load_http(&h, both, 2, err, sizeof err, &conf), -1);
    if (strstr(err, "both http.port (--set) and http.listen (--set) are set") == NULL)
        fail_msg("message: %s", err);
}

/* http.listen built from the old keys has their origin, not "default": print-config and the
 * messages about http.listen say where the user set it. */
static void test_old_http_keys_give_http_listen_their_origin(void **state)
{
    fixture *fx = *state;
    http_config h;
    outbox_conf *conf = NULL;
    char err[512], want[512];
    write_ini(fx, "; old spellings\n[http]\nport = 9300\n");
    memset(&h, 0, sizeof h);
    outbox_conf_sources file = {.path = fx->ini};
    assert_int_equal(outbox_conf_load(&http_spec, &h, &file, NULL, &conf, err, sizeof err), 0);
    assert_string_equal(h.listen, "127.0.0.1:9300");
    snprintf(want, sizeof want, "%s:3 (http.port)", fx->ini);
    assert_string_equal(outbox_conf_origin(conf, "http.listen"), want);
    char *dump = outbox_conf_dump(conf, &h);
    assert_non_null(dump);
    snprintf(want, sizeof want, "http.listen = 127.0.0.1:9300  # %s:3 (http.port)\n", fx->ini);
    if (strstr(dump, want) == NULL)
        fail_msg("print-config:\n%s", dump);
    free(dump);
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);

    char *envp[] = {"OUTBOX_TEST_HTTP_ENABLED=false", NULL};
    const char *sets[] = {"http.bind=127.0.0.2"};
    outbox_conf_sources env = {.envp = envp};
    memset(&h, 0, sizeof h);
    assert_int_equal(outbox_conf_load(&http_spec, &h, &env, NULL, &conf, err, sizeof err), 0);
    assert_string_equal(h.listen, "off");
    assert_string_equal(outbox_conf_origin(conf, "http.listen"),
                        "environment variable OUTBOX_TEST_HTTP_ENABLED (http.enabled)");
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);

    outbox_conf_sources both = {.path = fx->ini, .sets = sets, .set_count = 1};
    memset(&h, 0, sizeof h);
    assert_int_equal(outbox_conf_load(&http_spec, &h, &both, NULL, &conf, err, sizeof err), 0);
    assert_string_equal(h.listen, "127.0.0.2:9300");
    snprintf(want, sizeof want, "--set (http.bind), %s:3 (http.port)", fx->ini);
    assert_string_equal(outbox_conf_origin(conf, "http.listen"), want);
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
}

/* Without old keys http.listen keeps its own origin. */
static void test_http_listen_origin_without_old_keys(void **state)
{
    (void)state;
    http_config h;
    outbox_conf *conf = NULL;
    char err[512];
    assert_int_equal(load_http(&h, NULL, 0, err, sizeof err, &conf), 0);
    assert_string_equal(outbox_conf_origin(conf, "http.listen"), "default");
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
    const char *sets[] = {"http.listen=127.0.0.1:0"};
    assert_int_equal(load_http(&h, sets, 1, err, sizeof err, &conf), 0);
    assert_string_equal(outbox_conf_origin(conf, "http.listen"), "--set");
    outbox_conf_destroy(conf);
    outbox_conf_free(http_defs, &h);
}

/* ------------------------------------------------------------------ the projector's table */

static void test_projector_old_schema_keys_apply_with_notices(void **state)
{
    fixture *fx = *state;
    projector_settings s;
    outbox_conf *conf = NULL;
    char err[1024];
    write_ini(fx, "[projector]\nschemas = s\nschema-history = h\nreader-schemas = r\n"
                  "[http]\nport = 0\n"
                  "[projection p]\ntopics = t\nsql.X = SELECT 1\n");
    memset(&s, 0, sizeof s);
    const char *sets[] = {"postgres.conninfo=dbname=x", "kafka.bootstrap.servers=127.0.0.1:9092"};
    outbox_conf_sources src = {.path = fx->ini, .sets = sets, .set_count = 2};
    assert_int_equal(projector_settings_load(&s, &src, &conf, err, sizeof err), 0);
    char want[256];
    snprintf(want, sizeof want, "%s/s", fx->dir); /* relative: to the file's directory */
    assert_string_equal(s.schemas_dir, want);
    snprintf(want, sizeof want, "%s/h", fx->dir);
    assert_string_equal(s.schema_history_dir, want);
    snprintf(want, sizeof want, "%s/r", fx->dir);
    assert_string_equal(s.reader_schemas_dir, want);
    assert_true(s.http_enabled);
    assert_int_equal(s.http_port, 0);
    size_t n = 0;
    (void)outbox_conf_deprecated(conf, &n);
    assert_int_equal(n, 4);
    outbox_conf_destroy(conf);
    projector_settings_free(&s);
}

/* A misspelt section of the projector's own ([kafak], [projecter]) names the section it is
 * close to, as every other daemon's load does; the hint about [projection NAME] is for what
 * looks like a projection. */
static void expect_projector_load_error(const fixture *fx, const char *ini, const char *needle)
{
    projector_settings s;
    outbox_conf *conf = NULL;
    char err[1024] = "";
    write_ini(fx, ini);
    memset(&s, 0, sizeof s);
    const char *sets[] = {"postgres.conninfo=dbname=x"};
    outbox_conf_sources src = {.path = fx->ini, .sets = sets, .set_count = 1};
    assert_int_equal(projector_settings_load(&s, &src, &conf, err, sizeof err), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' lacks '%s'", err, needle);
    assert_null(conf);
    projector_settings_free(&s);
}

static void test_projector_section_typo_names_the_section_meant(void **state)
{
    fixture *fx = *state;
    char want[256];
    snprintf(want, sizeof want, "unknown section [kafak] at %s:4; did you mean [kafka]?", fx->ini);
    expect_projector_load_error(
        fx, "[projection p]\ntopics = t\n[kafak]\nbootstrap.servers = 127.0.0.1:9092\n", want);
    snprintf(want, sizeof want, "unknown section [projecter] at %s:2; did you mean [projector]?",
             fx->ini);
    expect_projector_load_error(fx, "[projecter]\nbatch-size = 10\n", want);
    expect_projector_load_error(fx, "[projektion p]\ntopics = t\n",
                                "projections are written [projection NAME]");
}

static void test_projector_new_keys(void **state)
{
    (void)state;
    projector_settings s;
    outbox_conf *conf = NULL;
    char err[1024];
    memset(&s, 0, sizeof s);
    const char *sets[] = {"postgres.conninfo=dbname=x",
                          "projection p.topics=t",
                          "projection p.sql.X=SELECT 1",
                          "avro.schema-dir=/s",
                          "http.listen=off",
                          "kafka.bootstrap.servers=127.0.0.1:9092"};
    outbox_conf_sources src = {.sets = sets, .set_count = 6};
    assert_int_equal(projector_settings_load(&s, &src, &conf, err, sizeof err), 0);
    assert_string_equal(s.schemas_dir, "/s");
    assert_false(s.http_enabled);
    size_t n = 1;
    (void)outbox_conf_deprecated(conf, &n);
    assert_int_equal(n, 0);
    outbox_conf_destroy(conf);
    projector_settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_old_key_in_a_file_applies_with_a_warning, setup,
                                        teardown),
        cmocka_unit_test(test_old_key_from_the_environment_applies_with_a_notice),
        cmocka_unit_test_setup_teardown(test_old_and_new_key_both_set_is_an_error_naming_both,
                                        setup, teardown),
        cmocka_unit_test(test_new_key_gives_no_notice),
        cmocka_unit_test(test_help_lists_old_spellings_after_the_keys),
        cmocka_unit_test(test_http_listen_default_and_off),
        cmocka_unit_test(test_http_listen_malformed_is_an_error),
        cmocka_unit_test(test_old_http_keys_become_http_listen),
        cmocka_unit_test(test_old_http_key_and_http_listen_is_an_error),
        cmocka_unit_test_setup_teardown(test_old_http_keys_give_http_listen_their_origin, setup,
                                        teardown),
        cmocka_unit_test(test_http_listen_origin_without_old_keys),
        cmocka_unit_test_setup_teardown(test_projector_old_schema_keys_apply_with_notices, setup,
                                        teardown),
        cmocka_unit_test(test_projector_new_keys),
        cmocka_unit_test_setup_teardown(test_projector_section_typo_names_the_section_meant, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
