/*
 * outbox-projector: Kafka -> read models, each effect exactly once.
 *
 *   outbox-projector [run] [-c FILE] [--set section.key=value]...
 *   outbox-projector check [-c FILE] [--set ...]
 *   outbox-projector replay NAME (--from-beginning | --from-time T) [-c FILE] [--set ...]
 *   outbox-projector rebuild NAME [--cancel | --drop-old] [-c FILE] [--set ...]
 *   outbox-projector wait NAME EVENT_ID [--timeout 5s] [--channel CH] [-c FILE] [--set ...]
 *   outbox-projector --help | --help-config-markdown | --version
 *
 * Exit codes: 0 clean stop / check passed / replay done; 1 a projection stopped on a fatal
 * error, check found problems, replay or rebuild failed; 2 usage or configuration error.
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

extern char **environ;

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/* SIGTERM and SIGINT set got_signal (the daemon and `rebuild` stop cleanly on it). */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: outbox-projector [run] [-c FILE] [--set section.key=value]...\n"
                 "       outbox-projector check [-c FILE] [--set ...]\n"
                 "       outbox-projector replay NAME (--from-beginning | --from-time T) [-c FILE] "
                 "[--set ...]\n"
                 "         truncates the live tables: readers see an empty, then partial model;\n"
                 "         on a live system use rebuild\n"
                 "       outbox-projector rebuild NAME [--cancel | --drop-old] [-c FILE] "
                 "[--set ...]\n"
                 "         builds the model into schema S__rebuild from the beginning while the\n"
                 "         daemon serves S, then swaps the two in one transaction (resumable);\n"
                 "         progress on the terminal and on http.bind:http.rebuild-port/metrics\n"
                 "       outbox-projector wait NAME EVENT_ID [--timeout 5s] [--channel CH] "
                 "[-c FILE] [--set ...]\n"
                 "         exit 0 applied, 1 failed (reason printed), 2 timed out, 3 error\n"
                 "       outbox-projector --help | --help-config-markdown | --version\n");
}

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

    catch_signals();

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
        if (got_signal) {
            outbox_log_info("projector", "signal %d: stopping", (int)got_signal);
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

int main(int argc, char **argv)
{
    const char *path = NULL;
    const char *command = "run";
    const char *replay_name = NULL;
    const char *from_time = NULL;
    bool from_beginning = false;
    projector_rebuild_action rebuild_action = PROJECTOR_REBUILD_RUN;
    bool rebuild_flag = false;
    const char *wait_name = NULL;
    const char *wait_id = NULL;
    const char *wait_timeout = NULL;
    const char *wait_channel = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t set_count = 0;
    projector_settings settings;
    outbox_conf *conf = NULL;
    char errstr[2048];
    int rc = 2;
    bool have_command = false;

    memset(&settings, 0, sizeof settings);
    if (sets == NULL)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            char *help = outbox_conf_help(&projector_settings_spec);
            if (help != NULL)
                printf("\n%s", help);
            printf("\n%s", projector_projection_help);
            free(help);
            free(sets);
            return 0;
        }
        if (strcmp(arg, "--help-config-markdown") == 0) {
            char *md = outbox_conf_markdown(&projector_settings_spec);
            if (md != NULL)
                printf("%s\nKeys of a `[projection NAME]` section:\n\n```\n%s```\n", md,
                       projector_projection_help);
            free(md);
            free(sets);
            return md ? 0 : 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("outbox-projector %s\n", outbox_version());
            free(sets);
            return 0;
        }
        if ((strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(arg, "--set") == 0 && i + 1 < argc) {
            sets[set_count++] = argv[++i];
        } else if (strcmp(arg, "--from-beginning") == 0) {
            from_beginning = true;
        } else if (strcmp(arg, "--from-time") == 0 && i + 1 < argc) {
            from_time = argv[++i];
        } else if (strcmp(arg, "--cancel") == 0 || strcmp(arg, "--drop-old") == 0) {
            rebuild_action = arg[2] == 'c' ? PROJECTOR_REBUILD_CANCEL : PROJECTOR_REBUILD_DROP_OLD;
            rebuild_flag = true;
        } else if (strcmp(arg, "--timeout") == 0 && i + 1 < argc) {
            wait_timeout = argv[++i];
        } else if (strcmp(arg, "--channel") == 0 && i + 1 < argc) {
            wait_channel = argv[++i];
        } else if (arg[0] != '-' && !have_command &&
                   (strcmp(arg, "run") == 0 || strcmp(arg, "check") == 0 ||
                    strcmp(arg, "replay") == 0 || strcmp(arg, "rebuild") == 0 ||
                    strcmp(arg, "wait") == 0)) {
            command = arg;
            have_command = true;
        } else if (arg[0] != '-' &&
                   (strcmp(command, "replay") == 0 || strcmp(command, "rebuild") == 0) &&
                   replay_name == NULL) {
            replay_name = arg;
        } else if (arg[0] != '-' && strcmp(command, "wait") == 0 && wait_id == NULL) {
            if (wait_name == NULL)
                wait_name = arg;
            else
                wait_id = arg;
        } else {
            fprintf(stderr, "outbox-projector: unexpected argument '%s'\n", arg);
            usage(stderr);
            free(sets);
            return strcmp(command, "wait") == 0 ? PROJECTOR_WAIT_ERROR : 2;
        }
    }
    bool waiting = strcmp(command, "wait") == 0;
    int64_t timeout_ms = 5000;
    if (waiting && (wait_id == NULL || (wait_timeout != NULL &&
                                        projector_wait_timeout_parse(wait_timeout, &timeout_ms)))) {
        fprintf(stderr, "outbox-projector: wait needs a projection name and an event id, and "
                        "--timeout takes a duration such as 500ms, 5s or 2m (a plain number is "
                        "seconds)\n");
        usage(stderr);
        free(sets);
        return PROJECTOR_WAIT_ERROR;
    }
    if (!waiting && (wait_timeout != NULL || wait_channel != NULL)) {
        fprintf(stderr, "outbox-projector: --timeout/--channel belong to wait\n");
        free(sets);
        return 2;
    }
    if (strcmp(command, "replay") == 0 &&
        (replay_name == NULL || from_beginning == (from_time != NULL))) {
        fprintf(stderr, "outbox-projector: replay needs a projection name and exactly one of "
                        "--from-beginning or --from-time T\n");
        usage(stderr);
        free(sets);
        return 2;
    }
    if (strcmp(command, "rebuild") == 0 && replay_name == NULL) {
        fprintf(stderr, "outbox-projector: rebuild needs a projection name\n");
        usage(stderr);
        free(sets);
        return 2;
    }
    if (strcmp(command, "rebuild") != 0 && rebuild_flag) {
        fprintf(stderr, "outbox-projector: --cancel/--drop-old belong to rebuild\n");
        free(sets);
        return 2;
    }
    if (strcmp(command, "replay") != 0 && (from_beginning || from_time != NULL)) {
        fprintf(stderr, "outbox-projector: --from-beginning/--from-time belong to replay\n");
        free(sets);
        return 2;
    }

    outbox_conf_sources src = {.path = path, .envp = environ, .sets = sets, .set_count = set_count};
    if (projector_settings_load_opt(&settings, &src, !waiting, &conf, errstr, sizeof errstr)) {
        fprintf(stderr, "outbox-projector: %s\n", errstr);
        free(sets);
        return waiting ? PROJECTOR_WAIT_ERROR : 2;
    }
    outbox_log_set_level((outbox_log_level)settings.log_level);
    outbox_log_set_format((outbox_log_format)settings.log_format);
    outbox_conf_log_deprecated(conf, "config");
    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (waiting) {
        rc = wait_command(&settings, wait_name, wait_id, timeout_ms, wait_channel);
    } else if (strcmp(command, "check") == 0) {
        rc = projector_check_run(&settings, conf) == 0 ? 0 : 1;
    } else if (strcmp(command, "replay") == 0) {
        if (projector_replay_run(&settings, conf, replay_name, from_time, errstr, sizeof errstr)) {
            fprintf(stderr, "outbox-projector replay: %s\n", errstr);
            rc = 1;
        } else {
            rc = 0;
        }
    } else if (strcmp(command, "rebuild") == 0) {
        catch_signals();
        rc = 0;
        if (projector_rebuild_run(&settings, conf, replay_name, rebuild_action, &got_signal, errstr,
                                  sizeof errstr)) {
            fprintf(stderr, "outbox-projector rebuild: %s\n", errstr);
            rc = 1;
        }
    } else {
        rc = run(&settings, conf);
    }

    outbox_conf_destroy(conf);
    projector_settings_free(&settings);
    curl_global_cleanup();
    free(sets);
    return rc;
}
