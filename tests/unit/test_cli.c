/* lib/cli: the daemons' shared command line, from argv fixtures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct cfg {
    char *conninfo;
    int log_level, log_format;
} cfg;

static const outbox_conf_def defs[] = {
    OUTBOX_CONF_DEFS_CONNINFO(cfg, conninfo, 0, "the test database"),
    OUTBOX_CONF_DEFS_LOG(cfg, log_level, log_format),
    OUTBOX_CONF_ALIAS("old.conninfo", "postgres.conninfo"),
    OUTBOX_CONF_END,
};
static const outbox_conf_spec conf_spec = {
    .program = "outbox-test", .env_prefix = "OUTBOX_TEST", .defs = defs};

static const char *const commands[] = {"run", "check", "wait", "print-config", NULL};
static const outbox_cli_option options[] = {
    {"--timeout", true}, {"--from-beginning", false}, {NULL, false}};
static const outbox_cli_spec spec = {.program = "outbox-test",
                                     .commands = commands,
                                     .options = options,
                                     .conf_spec = &conf_spec,
                                     .usage = "usage: outbox-test [run|check|wait]\n",
                                     .help_tail = "TAIL\n"};

#define ARGV(...) ((char *const[]){"outbox-test", __VA_ARGS__})
#define ARGC(...) ((int)(sizeof((const char *[]){"outbox-test", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cli, err, ...)                                                                       \
    outbox_cli_parse(&spec, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (cli), (err), sizeof(err))

static void test_no_arguments_run_the_default_command(void **state)
{
    (void)state;
    outbox_cli cli;
    char err[256];
    char *const argv[] = {"outbox-test"};
    assert_int_equal(outbox_cli_parse(&spec, 1, argv, &cli, err, sizeof err), 0);
    assert_int_equal(cli.action, OUTBOX_CLI_RUN);
    assert_string_equal(cli.command, "run");
    assert_null(cli.config);
    assert_int_equal(cli.set_count, 0);
    outbox_cli_free(&cli);
}

static void test_config_and_sets_anywhere_in_order(void **state)
{
    (void)state;
    outbox_cli cli;
    char err[256];
    assert_int_equal(PARSE(&cli, err, "-s", "a.b=1", "check", "--config", "x.ini", "--set", "c.d=2",
                           "--set=e.f=3", "-c", "y.ini"),
                     0);
    assert_string_equal(cli.command, "check");
    assert_string_equal(cli.config, "y.ini"); /* the last -c wins */
    assert_int_equal(cli.set_count, 3);
    assert_string_equal(cli.sets[0], "a.b=1");
    assert_string_equal(cli.sets[1], "c.d=2");
    assert_string_equal(cli.sets[2], "e.f=3");
    outbox_cli_free(&cli);
    assert_int_equal(PARSE(&cli, err, "--config=z.ini"), 0);
    assert_string_equal(cli.config, "z.ini");
    outbox_cli_free(&cli);
}

static void test_command_arguments_and_own_options(void **state)
{
    (void)state;
    outbox_cli cli;
    char err[256];
    const char *timeout = NULL;
    assert_int_equal(PARSE(&cli, err, "wait", "p", "--timeout", "5s", "e1", "--from-beginning"), 0);
    assert_string_equal(cli.command, "wait");
    assert_int_equal(cli.arg_count, 2);
    assert_string_equal(cli.args[0], "p");
    assert_string_equal(cli.args[1], "e1");
    assert_true(outbox_cli_option_given(&spec, &cli, "--timeout", &timeout));
    assert_string_equal(timeout, "5s");
    assert_true(outbox_cli_option_given(&spec, &cli, "--from-beginning", NULL));
    outbox_cli_free(&cli);
    assert_int_equal(PARSE(&cli, err, "wait", "--timeout=2m", "--", "-p", "e"), 0);
    assert_true(outbox_cli_option_given(&spec, &cli, "--timeout", &timeout));
    assert_string_equal(timeout, "2m");
    assert_string_equal(cli.args[0], "-p"); /* after --, an argument */
    assert_false(outbox_cli_option_given(&spec, &cli, "--from-beginning", NULL));
    outbox_cli_free(&cli);
}

static void test_errors_name_the_argument(void **state)
{
    (void)state;
    outbox_cli cli;
    char err[256];
    assert_int_equal(PARSE(&cli, err, "frobnicate"), -1);
    assert_string_equal(err, "unknown command 'frobnicate'");
    assert_int_equal(PARSE(&cli, err, "--frob"), -1);
    assert_string_equal(err, "unknown option '--frob'");
    assert_int_equal(PARSE(&cli, err, "check", "-c"), -1);
    assert_string_equal(err, "-c needs a value");
    assert_int_equal(PARSE(&cli, err, "--set"), -1);
    assert_string_equal(err, "--set needs a value");
    assert_int_equal(PARSE(&cli, err, "--from-beginning=yes"), -1);
    assert_string_equal(err, "--from-beginning takes no value");
    assert_int_equal(PARSE(&cli, err, "wait", "a", "b", "c", "d", "e"), -1);
    assert_string_equal(err, "unexpected argument 'e'");
    assert_int_equal(PARSE(&cli, err, "--configx"), -1); /* a prefix is not the option */
    assert_string_equal(err, "unknown option '--configx'");
}

static void test_help_version_and_markdown(void **state)
{
    (void)state;
    outbox_cli cli;
    char err[256], out[8192];
    assert_int_equal(PARSE(&cli, err, "check", "--help", "--frob"), 0); /* stops at --help */
    assert_int_equal(cli.action, OUTBOX_CLI_HELP);
    FILE *fp = fmemopen(out, sizeof out, "w");
    assert_int_equal(outbox_cli_info(&spec, &cli, fp), 0);
    fclose(fp);
    assert_non_null(strstr(out, "usage: outbox-test"));
    /* every key of the table, the old spellings, then the daemon's tail */
    assert_non_null(strstr(out, "  postgres.conninfo  (string"));
    assert_non_null(strstr(out, "  log.level  (enum"));
    assert_non_null(strstr(out, "  log.format  (enum"));
    assert_non_null(strstr(out, "  old.conninfo  -> postgres.conninfo"));
    assert_non_null(strstr(out, "TAIL\n"));
    outbox_cli_free(&cli);
    assert_int_equal(PARSE(&cli, err, "-V"), 0);
    fp = fmemopen(out, sizeof out, "w");
    assert_int_equal(outbox_cli_info(&spec, &cli, fp), 0);
    fclose(fp);
    assert_int_equal(strncmp(out, "outbox-test ", 12), 0);
    outbox_cli_free(&cli);
    assert_int_equal(PARSE(&cli, err, "--help-config-markdown"), 0);
    fp = fmemopen(out, sizeof out, "w");
    assert_int_equal(outbox_cli_info(&spec, &cli, fp), 0);
    fclose(fp);
    assert_non_null(strstr(out, "| `postgres.conninfo` | string"));
    outbox_cli_free(&cli);
}

static void test_print_config_after_loading_the_sources(void **state)
{
    (void)state;
    outbox_cli cli;
    cfg c;
    outbox_conf *conf = NULL;
    char err[256], out[4096];
    assert_int_equal(
        PARSE(&cli, err, "print-config", "--set", "postgres.conninfo=dbname=x password=hunter2"),
        0);
    outbox_conf_sources src = outbox_cli_sources(&cli);
    src.envp = (char *const[]){NULL};
    assert_int_equal(outbox_conf_load(&conf_spec, &c, &src, NULL, &conf, err, sizeof err), 0);
    FILE *fp = fmemopen(out, sizeof out, "w");
    assert_int_equal(outbox_cli_print_config(conf, &c, fp), 0);
    fclose(fp);
    assert_non_null(strstr(out, "postgres.conninfo = dbname=x password=***  # --set"));
    assert_null(strstr(out, "hunter2"));
    outbox_conf_destroy(conf);
    outbox_conf_free(defs, &c);
    outbox_cli_free(&cli);
}

static void test_begin_answers_usage_errors_and_info(void **state)
{
    (void)state;
    outbox_cli cli;
    int rc = -1;
    assert_false(outbox_cli_begin(&spec, ARGC("frob"), ARGV("frob"), &cli, &rc));
    assert_int_equal(rc, 2);
    assert_false(outbox_cli_begin(&spec, ARGC("run", "extra"), ARGV("run", "extra"), &cli, &rc));
    assert_int_equal(rc, 2);
    assert_false(outbox_cli_begin(&spec, ARGC("--version"), ARGV("--version"), &cli, &rc));
    assert_int_equal(rc, 0);
    assert_true(
        outbox_cli_begin(&spec, ARGC("check", "-c", "f"), ARGV("check", "-c", "f"), &cli, &rc));
    assert_string_equal(cli.command, "check");
    assert_string_equal(cli.config, "f");
    outbox_cli_free(&cli);
}

/* The daemons read their configuration once: SIGHUP (a `kill -HUP` meant as "reload", a
 * closed terminal) must neither kill them abruptly (no drain, and systemd counts SIGHUP as a
 * clean exit, so Restart=on-failure would leave the pipeline down) nor stop them. */
static void test_sighup_neither_kills_nor_stops(void **state)
{
    (void)state;
    volatile sig_atomic_t *stop = outbox_cli_catch_signals();
    assert_int_equal(raise(SIGHUP), 0); /* the default action would end this test here */
    assert_int_equal(*stop, 0);
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(*stop, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_arguments_run_the_default_command),
        cmocka_unit_test(test_config_and_sets_anywhere_in_order),
        cmocka_unit_test(test_command_arguments_and_own_options),
        cmocka_unit_test(test_errors_name_the_argument),
        cmocka_unit_test(test_help_version_and_markdown),
        cmocka_unit_test(test_print_config_after_loading_the_sources),
        cmocka_unit_test(test_begin_answers_usage_errors_and_info),
        cmocka_unit_test(test_sighup_neither_kills_nor_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
