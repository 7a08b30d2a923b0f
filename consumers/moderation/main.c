/*
 * outbox-moderation: the blog's moderation service (moderation.h), an outbox_consumer.
 *
 *   outbox-moderation [-c FILE] [--set section.key=value]...
 *   outbox-moderation --help | --help-config-markdown | --version
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 stopped on a fatal error, 2 usage or
 * configuration error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "moderation.h"
#include "outbox_consumer.h"
#include "version.h"

extern char **environ;

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: outbox-moderation [-c FILE] [--set section.key=value]...\n"
                 "       outbox-moderation --help | --help-config-markdown | --version\n"
                 "\n"
                 "Consumes CommentCreated events; approves each comment, or rejects it when its\n"
                 "text mentions moderation.word; records the decision in moderation_decisions and\n"
                 "emits CommentModerated through the outbox table, in one transaction with its\n"
                 "dedup row and Kafka offsets. Other event types are skipped.\n"
                 "Exit: 0 clean stop, 1 fatal error, 2 usage or configuration error.\n");
}

static int serve(const moderation_settings *settings, const outbox_conf *conf)
{
    char errstr[1024];
    moderation_service svc;
    outbox_consumer *consumer = NULL;
    int rc = 2;
    const moderation_rules rules = {.word = settings->word,
                                    .reason = settings->reason,
                                    .moderator = settings->moderator,
                                    .outbox_table = settings->outbox_table,
                                    .aggregate_type = settings->aggregate_type};

    if (moderation_service_init(&svc, &rules, errstr, sizeof errstr)) {
        outbox_log_error("moderation", "%s", errstr);
        return 2;
    }
    consumer = outbox_consumer_new(&settings->consumer, conf, moderation_handle, &svc, errstr,
                                   sizeof errstr);
    if (consumer == NULL) {
        outbox_log_error("moderation", "%s", errstr);
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (outbox_consumer_start(consumer, errstr, sizeof errstr)) {
        outbox_log_error("moderation", "%s", errstr);
        goto done;
    }
    outbox_log_info("moderation",
                    "outbox-moderation %s: consumer %s on %s, rejecting comments that mention "
                    "'%s', CommentModerated into %s",
                    outbox_version(), settings->consumer.name, settings->consumer.topics,
                    settings->word, settings->outbox_table);
    while (!got_signal && outbox_consumer_running(consumer)) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (got_signal)
        outbox_log_info("moderation", "signal %d: stopping", (int)got_signal);
    outbox_consumer_stop(consumer);
    rc = outbox_consumer_join(consumer) == 0 ? 0 : 1;
    outbox_log_info("moderation", "approved %lu, rejected %lu, repeated %lu, skipped %lu",
                    svc.approved, svc.rejected, svc.repeated, svc.skipped);
done:
    outbox_consumer_free(consumer);
    moderation_service_destroy(&svc);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t set_count = 0;
    moderation_settings settings;
    outbox_conf *conf = NULL;
    char errstr[2048];
    int rc;

    memset(&settings, 0, sizeof settings);
    if (sets == NULL)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            char *help = outbox_conf_help(&moderation_settings_spec);
            if (help != NULL)
                printf("\n%s", help);
            free(help);
            free(sets);
            return 0;
        }
        if (strcmp(arg, "--help-config-markdown") == 0) {
            char *md = outbox_conf_markdown(&moderation_settings_spec);
            if (md != NULL)
                fputs(md, stdout);
            free(md);
            free(sets);
            return md ? 0 : 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("outbox-moderation %s\n", outbox_version());
            free(sets);
            return 0;
        }
        if ((strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(arg, "--set") == 0 && i + 1 < argc) {
            sets[set_count++] = argv[++i];
        } else {
            fprintf(stderr, "outbox-moderation: unexpected argument '%s'\n", arg);
            usage(stderr);
            free(sets);
            return 2;
        }
    }
    outbox_conf_sources src = {.path = path, .envp = environ, .sets = sets, .set_count = set_count};
    if (moderation_settings_load(&settings, &src, &conf, errstr, sizeof errstr)) {
        fprintf(stderr, "outbox-moderation: %s\n", errstr);
        free(sets);
        return 2;
    }
    outbox_log_set_level((outbox_log_level)settings.consumer.log_level);
    outbox_log_set_format((outbox_log_format)settings.consumer.log_format);
    outbox_conf_log_deprecated(conf, "config");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = serve(&settings, conf);
    outbox_conf_destroy(conf);
    moderation_settings_free(&settings);
    curl_global_cleanup();
    free(sets);
    return rc;
}
