/*
 * outbox-projector: Kafka -> read models, each effect exactly once.
 *
 *   outbox-projector [run] [-c FILE] [--set section.key=value]...
 *   outbox-projector check [-c FILE] [--set ...]
 *   outbox-projector print-config [-c FILE] [--set ...]
 *   outbox-projector replay NAME (--from-beginning | --from-time T) [-c FILE] [--set ...]
 *   outbox-projector rebuild NAME [--cancel | --drop-old] [-c FILE] [--set ...]
 *   outbox-projector wait NAME EVENT_ID [--timeout 5s] [--channel CH] [-c FILE] [--set ...]
 *   outbox-projector --help | --help-config-markdown | --version
 *
 * The command line is lib/cli's, shared with the other daemons.
 *
 * Exit codes: 0 clean stop / check passed / replay done; 1 a projection stopped on a fatal
 * error, replay or rebuild failed; 2 usage or configuration error; 3 check found problems (as
 * for the relay and outbox-moderation).
 * `wait` has its own: 0 applied, 1 failed (dead-lettered), 2 timed out, 3 could not tell
 * (usage, configuration, database).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check_report.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "projector_check.h"
#include "projector_httpd.h"
#include "projector_rebuild.h"
#include "projector_replay.h"
#include "projector_runner.h"
#include "projector_settings.h"
#include "projector_stats.h"
#include "projector_wait.h"
#include "version.h"

static const char usage_text[] =
    "usage: outbox-projector [run] [-c FILE] [--set section.key=value]...\n"
    "       outbox-projector check [-c FILE] [--set ...]\n"
    "         configuration, schemas, registry, Kafka and topics, each read database;\n"
    "         one line per check, each problem with its fix; exit 3 on problems\n"
    "       outbox-projector print-config [-c FILE] [--set ...]\n"
    "         the effective configuration, secrets masked, with each origin\n"
    "       outbox-projector replay NAME (--from-beginning | --from-time T) [-c FILE] "
    "[--set ...]\n"
    "         truncates the live tables: readers see an empty, then partial model;\n"
    "         on a live system use rebuild\n"
    "       outbox-projector rebuild NAME [--cancel | --drop-old] [-c FILE] [--set ...]\n"
    "         builds the model into schema S__rebuild from the beginning while the\n"
    "         daemon serves S, then swaps the two in one transaction (resumable);\n"
    "         progress on the terminal and on http.listen's host:http.rebuild-port/metrics\n"
    "       outbox-projector wait NAME EVENT_ID [--timeout 5s] [--channel CH] "
    "[-c FILE] [--set ...]\n"
    "         exit 0 applied, 1 failed (reason printed), 2 timed out, 3 error\n"
    "       outbox-projector --help | --help-config-markdown | --version\n";

static const char *const projector_commands[] = {"run",  "check",        "replay", "rebuild",
                                                 "wait", "print-config", NULL};

static const outbox_cli_option projector_options[] = {
    {"--from-beginning", false}, {"--from-time", true}, {"--cancel", false}, {"--drop-old", false},
    {"--timeout", true},         {"--channel", true},   {NULL, false}};

static char projection_help_tail[4096];
static char projection_markdown_tail[4096];

static outbox_cli_spec projector_cli = {
    .program = "outbox-projector",
    .commands = projector_commands,
    .options = projector_options,
    .conf_spec = &projector_settings_spec,
    .usage = usage_text,
    .help_tail = projection_help_tail,
    .markdown_tail = projection_markdown_tail,
};

static int run(projector_settings *settings, outbox_conf *conf)
{
    size_t n = settings->projections.count;
    projector_stats *stats = calloc(n, sizeof *stats);
    projector_stats **stat_ptrs = calloc(n, sizeof *stat_ptrs);
    projector_runner **runners = calloc(n, sizeof *runners);
    outbox_schemas **readers = calloc(n, sizeof *readers);
    outbox_schemas *schemas = NULL;
    outbox_schema_history *history = NULL;
    projector_httpd *httpd = NULL;
    atomic_int stop = 0;
    char errstr[1024];
    int rc = 2;
    size_t started = 0;

    if (stats == NULL || stat_ptrs == NULL || runners == NULL || readers == NULL) {
        outbox_log_error("projector", "out of memory");
        goto done;
    }
    if (outbox_schemas_load_dir(settings->schemas_dir, &schemas, errstr, sizeof errstr)) {
        outbox_log_error("projector", "avro.schema-dir: %s", errstr);
        goto done;
    }
    if (settings->schema_history_dir != NULL && settings->schema_history_dir[0] != '\0' &&
        outbox_schema_history_load(settings->schema_history_dir, &history, errstr, sizeof errstr)) {
        outbox_log_error("projector", "avro.schema-history: %s", errstr);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const projector_projection *proj = &settings->projections.items[i];
        if (projector_stats_init(&stats[i], proj->name)) {
            outbox_log_error("projector", "out of memory");
            goto done;
        }
        stat_ptrs[i] = &stats[i];
        const char *reader_dir = projector_settings_reader_schemas(settings, proj);
        if (reader_dir != NULL &&
            outbox_schemas_load_dir(reader_dir, &readers[i], errstr, sizeof errstr)) {
            outbox_log_error("projector", "[projection %s] reader-schemas: %s", proj->name, errstr);
            goto done;
        }
        projector_runner_config rc_cfg = projector_settings_runner_config(settings, proj, conf);
        rc_cfg.schemas = schemas;
        rc_cfg.readers = readers[i];
        rc_cfg.history = history;
        rc_cfg.stats = &stats[i];
        rc_cfg.stop = &stop;
        runners[i] = projector_runner_new(&rc_cfg, errstr, sizeof errstr);
        if (runners[i] == NULL) {
            outbox_log_error("projector", "[projection %s]: %s", proj->name, errstr);
            goto done;
        }
    }
    if (settings->http_enabled) {
        httpd = projector_httpd_start(settings, stat_ptrs, errstr, sizeof errstr);
        if (httpd == NULL) {
            outbox_log_error("projector", "http: %s", errstr);
            goto done;
        }
        outbox_log_info("projector", "http on %s:%u (/metrics /healthz /events/{id})",
                        settings->http_bind, (unsigned)projector_httpd_port(httpd));
    }

    volatile sig_atomic_t *got_signal = outbox_cli_catch_signals();

    for (; started < n; started++)
        if (projector_runner_start(runners[started], errstr, sizeof errstr)) {
            outbox_log_error("projector", "%s", errstr);
            atomic_store(&stop, 1);
            goto join;
        }
    outbox_log_info("projector", "outbox-projector %s running %zu projection(s)", outbox_version(),
                    n);

    /* The main thread waits for a signal or for every projection to have stopped. */
    for (;;) {
        if (*got_signal) {
            outbox_log_info("projector", "signal %d: stopping", (int)*got_signal);
            break;
        }
        size_t alive = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t st = atomic_load(&stats[i].state);
            if (st != PROJECTOR_STATE_FAILED && st != PROJECTOR_STATE_STOPPED)
                alive++;
        }
        if (alive == 0)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
join:
    rc = 0;
    for (size_t i = 0; i < started; i++)
        if (projector_runner_join(runners[i]) != 0)
            rc = 1;
done:
    projector_httpd_stop(httpd);
    for (size_t i = 0; runners != NULL && i < n; i++)
        projector_runner_free(runners[i]);
    for (size_t i = 0; stat_ptrs != NULL && i < n; i++)
        if (stat_ptrs[i] != NULL)
            projector_stats_destroy(stat_ptrs[i]);
    for (size_t i = 0; readers != NULL && i < n; i++)
        outbox_schemas_destroy(readers[i]);
    free(readers);
    outbox_schemas_destroy(schemas);
    outbox_schema_history_free(history);
    free(runners);
    free(stat_ptrs);
    free(stats);
    return rc;
}

/* `wait`: the projection from the config when it is there (its database and channel), else
 * postgres.conninfo and the default channel projector.NAME (or --channel). */
static int wait_command(const projector_settings *settings, const char *name, const char *id,
                        int64_t timeout_ms, const char *channel)
{
    char detail[2048];
    char default_channel[PROJECTOR_CHANNEL_MAX + 1];
    const projector_projection *proj = projector_projections_find(&settings->projections, name);
    projector_wait_request req = {
        .projection = name, .event_id = id, .timeout_ms = timeout_ms, .channel = channel};
    if (proj != NULL) {
        req.conninfo = projector_settings_conninfo(settings, proj);
        if (req.channel == NULL)
            req.channel = proj->notify;
    } else {
        req.conninfo = settings->conninfo;
        snprintf(default_channel, sizeof default_channel, "projector.%s", name);
        if (req.channel == NULL)
            req.channel = default_channel;
    }
    if (req.conninfo == NULL || req.conninfo[0] == '\0') {
        fprintf(stderr,
                "outbox-projector wait: projection %s is not in the configuration and "
                "postgres.conninfo is not set (-c FILE, or --set postgres.conninfo=...)\n",
                name);
        return PROJECTOR_WAIT_ERROR;
    }
    projector_wait_rc rc = projector_wait_run(&req, detail, sizeof detail);
    fprintf(rc == PROJECTOR_WAIT_ERROR ? stderr : stdout, "%s%s\n",
            rc == PROJECTOR_WAIT_ERROR ? "outbox-projector wait: " : "", detail);
    return (int)rc;
}

/* The command's arguments, after parsing: what it needs and nothing that belongs to another. */
typedef struct projector_args {
    const char *name;      /* replay, rebuild, wait: the projection */
    const char *event_id;  /* wait */
    const char *from_time; /* replay --from-time */
    bool from_beginning;
    projector_rebuild_action rebuild_action;
    int64_t timeout_ms; /* wait --timeout */
    const char *channel;
} projector_args;

static bool given(const outbox_cli *cli, const char *name, const char **value)
{
    return outbox_cli_option_given(&projector_cli, cli, name, value);
}

/* 0, or the exit status of a usage error (message printed). */
static int args_check(const outbox_cli *cli, projector_args *a)
{
    const char *cmd = cli->command, *timeout = NULL;
    bool wait = strcmp(cmd, "wait") == 0,
         named = wait || strcmp(cmd, "replay") == 0 || strcmp(cmd, "rebuild") == 0;
    size_t want = wait ? 2 : named ? 1 : 0;
    memset(a, 0, sizeof *a);
    a->name = cli->arg_count > 0 ? cli->args[0] : NULL;
    a->event_id = cli->arg_count > 1 ? cli->args[1] : NULL;
    a->from_beginning = given(cli, "--from-beginning", NULL);
    (void)given(cli, "--from-time", &a->from_time);
    (void)given(cli, "--channel", &a->channel);
    a->timeout_ms = 5000;
    if (given(cli, "--cancel", NULL))
        a->rebuild_action = PROJECTOR_REBUILD_CANCEL;
    if (given(cli, "--drop-old", NULL))
        a->rebuild_action = PROJECTOR_REBUILD_DROP_OLD;
    const char *problem = NULL;
    if (cli->arg_count != want)
        problem = wait    ? "wait needs a projection name and an event id"
                  : named ? "replay and rebuild need a projection name"
                          : "this command takes no arguments";
    else if (wait && given(cli, "--timeout", &timeout) &&
             projector_wait_timeout_parse(timeout, &a->timeout_ms))
        problem = "--timeout takes a duration such as 500ms, 5s or 2m (a plain number is seconds)";
    else if (!wait && (given(cli, "--timeout", NULL) || a->channel != NULL))
        problem = "--timeout/--channel belong to wait";
    else if (strcmp(cmd, "replay") == 0 && a->from_beginning == (a->from_time != NULL))
        problem = "replay needs exactly one of --from-beginning or --from-time T";
    else if (strcmp(cmd, "replay") != 0 && (a->from_beginning || a->from_time != NULL))
        problem = "--from-beginning/--from-time belong to replay";
    else if (strcmp(cmd, "rebuild") != 0 && a->rebuild_action != PROJECTOR_REBUILD_RUN)
        problem = "--cancel/--drop-old belong to rebuild";
    if (problem == NULL)
        return 0;
    fprintf(stderr, "outbox-projector: %s\n\n%s", problem, usage_text);
    return wait ? PROJECTOR_WAIT_ERROR : 2;
}

static int run_command(const char *cmd, const projector_args *a, projector_settings *settings,
                       outbox_conf *conf)
{
    char errstr[2048];
    if (strcmp(cmd, "wait") == 0)
        return wait_command(settings, a->name, a->event_id, a->timeout_ms, a->channel);
    if (strcmp(cmd, "check") == 0)
        return outbox_check_exit_status(projector_check_run(settings, conf, stdout));
    if (strcmp(cmd, "print-config") == 0)
        return outbox_cli_print_config(conf, settings, stdout);
    if (strcmp(cmd, "replay") == 0) {
        if (projector_replay_run(settings, conf, a->name, a->from_time, errstr, sizeof errstr)) {
            fprintf(stderr, "outbox-projector replay: %s\n", errstr);
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "rebuild") == 0) {
        volatile sig_atomic_t *got_signal = outbox_cli_catch_signals();
        if (projector_rebuild_run(settings, conf, a->name, a->rebuild_action, got_signal, errstr,
                                  sizeof errstr)) {
            fprintf(stderr, "outbox-projector rebuild: %s\n", errstr);
            return 1;
        }
        return 0;
    }
    return run(settings, conf);
}

/* An argument `wait`: a usage error then exits PROJECTOR_WAIT_ERROR, as wait's own do. */
static bool argv_waits(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "wait") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    outbox_cli cli;
    projector_args args;
    projector_settings settings;
    outbox_conf *conf = NULL;
    char errstr[2048];
    int rc;

    snprintf(projection_help_tail, sizeof projection_help_tail, "\n%s", projector_projection_help);
    snprintf(projection_markdown_tail, sizeof projection_markdown_tail,
             "\nKeys of a `[projection NAME]` section:\n\n```\n%s```\n", projector_projection_help);
    if (outbox_cli_parse(&projector_cli, argc, argv, &cli, errstr, sizeof errstr) != 0) {
        fprintf(stderr, "outbox-projector: %s\n\n%s", errstr, usage_text);
        return argv_waits(argc, argv) ? PROJECTOR_WAIT_ERROR : 2;
    }
    if (cli.action != OUTBOX_CLI_RUN) {
        rc = outbox_cli_info(&projector_cli, &cli, stdout);
        goto done;
    }
    bool waiting = strcmp(cli.command, "wait") == 0;
    rc = args_check(&cli, &args);
    if (rc != 0)
        goto done;
    memset(&settings, 0, sizeof settings);
    outbox_conf_sources src = outbox_cli_sources(&cli);
    if (projector_settings_load_opt(&settings, &src, !waiting, &conf, errstr, sizeof errstr)) {
        fprintf(stderr, "outbox-projector: %s\n", errstr);
        rc = waiting ? PROJECTOR_WAIT_ERROR : 2;
        goto done;
    }
    outbox_log_set_level((outbox_log_level)settings.log_level);
    outbox_log_set_format((outbox_log_format)settings.log_format);
    outbox_conf_log_deprecated(conf, "config");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = run_command(cli.command, &args, &settings, conf);
    outbox_conf_destroy(conf);
    projector_settings_free(&settings);
    curl_global_cleanup();
done:
    outbox_cli_free(&cli);
    return rc;
}
