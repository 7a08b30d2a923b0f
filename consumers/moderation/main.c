/*
 * outbox-moderation: the blog's moderation service (moderation.h), an outbox_consumer.
 *
 *   outbox-moderation [run|check|print-config] [-c FILE] [--set section.key=value]...
 *   outbox-moderation --help | --help-config-markdown | --version
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT) or check found nothing wrong, 1 stopped on a fatal
 * error, 2 usage or configuration error, 3 check found problems.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "check_report.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "moderation.h"
#include "moderation_check.h"
#include "outbox_consumer.h"
#include "version.h"

static const char usage_text[] =
    "usage: outbox-moderation [run|check|print-config] [-c FILE] [--set section.key=value]...\n"
    "       outbox-moderation --help | --help-config-markdown | --version\n"
    "\n"
    "Consumes CommentCreated events; approves each comment, or rejects it when its\n"
    "text mentions moderation.word; records the decision in moderation_decisions and\n"
    "emits CommentModerated through the outbox table, in one transaction with its\n"
    "dedup row and Kafka offsets. Other event types are skipped.\n"
    "\n"
    "  run           consume and moderate until SIGTERM/SIGINT (the default)\n"
    "  check         validate the configuration and the live environment: PostgreSQL\n"
    "                (connection, the projector and moderation tables and the role's\n"
    "                privileges, INSERT on moderation.outbox-table, the statement prepares),\n"
    "                Kafka (brokers, consumer.topics, dead-letter topics), the schemas and\n"
    "                the registry; one line per check, each problem with its fix\n"
    "  print-config  the effective configuration, secrets masked, with each origin\n"
    "\n"
    "Exit: 0 clean stop or check ready, 1 fatal error, 2 usage or configuration error,\n"
    "3 check found problems.\n";

static const char *const moderation_commands[] = {"run", "check", "print-config", NULL};

static const outbox_cli_spec moderation_cli = {
    .program = "outbox-moderation",
    .commands = moderation_commands,
    .conf_spec = &moderation_settings_spec,
    .usage = usage_text,
};

static int serve(const moderation_settings *settings, const outbox_conf *conf)
{
    char errstr[1024];
    moderation_service svc;
    outbox_consumer *consumer = NULL;
    int rc = 2;
    const moderation_rules rules = moderation_settings_rules(settings);

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
    volatile sig_atomic_t *got_signal = outbox_cli_catch_signals();
    if (outbox_consumer_start(consumer, errstr, sizeof errstr)) {
        outbox_log_error("moderation", "%s", errstr);
        goto done;
    }
    outbox_log_info("moderation",
                    "outbox-moderation %s: consumer %s on %s, rejecting comments that mention "
                    "'%s', CommentModerated into %s",
                    outbox_version(), settings->consumer.name, settings->consumer.topics,
                    settings->word, settings->outbox_table);
    while (!*got_signal && outbox_consumer_running(consumer)) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (*got_signal)
        outbox_log_info("moderation", "signal %d: stopping", (int)*got_signal);
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
    outbox_cli cli;
    moderation_settings settings;
    outbox_conf *conf = NULL;
    char errstr[2048];
    int rc = 2;

    if (!outbox_cli_begin(&moderation_cli, argc, argv, &cli, &rc))
        return rc;
    memset(&settings, 0, sizeof settings);
    outbox_conf_sources src = outbox_cli_sources(&cli);
    if (moderation_settings_load(&settings, &src, &conf, errstr, sizeof errstr)) {
        fprintf(stderr, "outbox-moderation: %s\n", errstr);
        goto done;
    }
    outbox_log_set_level((outbox_log_level)settings.consumer.log_level);
    outbox_log_set_format((outbox_log_format)settings.consumer.log_format);
    outbox_conf_log_deprecated(conf, "config");
    if (strcmp(cli.command, "print-config") == 0) {
        rc = outbox_cli_print_config(conf, &settings, stdout);
    } else if (strcmp(cli.command, "check") == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = outbox_check_exit_status(moderation_check_run(&settings, conf, stdout));
        curl_global_cleanup();
    } else {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = serve(&settings, conf);
        curl_global_cleanup();
    }
    outbox_conf_destroy(conf);
    moderation_settings_free(&settings);
done:
    outbox_cli_free(&cli);
    return rc;
}
