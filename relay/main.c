/* outbox-relay: PostgreSQL outbox (logical replication, pgoutput) -> Avro -> Kafka. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_report.h"
#include "cli.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "relay.h"
#include "schemas_cmd.h"
#include "settings.h"
#include "version.h"

/* /metrics and /healthz, served from the HTTP server's threads: reads only atomics. */
static void on_http(void *ctx, const outbox_http_request *req, outbox_http_response *resp)
{
    const relay_stats *stats = ctx;
    if (strcmp(req->path, "/metrics") == 0) {
        resp->body = relay_stats_render(stats);
        resp->status = resp->body ? 200 : 500;
        resp->content_type = OUTBOX_HTTP_PROMETHEUS;
        if (resp->body)
            resp->body_len = strlen(resp->body);
    } else if (strcmp(req->path, "/healthz") == 0) {
        bool up = atomic_load_explicit(&stats->streaming, memory_order_relaxed) == 1;
        int role = atomic_load_explicit(&stats->role, memory_order_relaxed);
        /* A standby is healthy: it is doing its job, waiting for the lease. */
        resp->status = up || role == RELAY_ROLE_STANDBY ? 200 : 503;
        resp->content_type = "text/plain";
        bool risk = atomic_load_explicit(&stats->slot_health, memory_order_relaxed) != 0;
        bool held = atomic_load_explicit(&stats->held_messages, memory_order_relaxed) != 0;
        resp->static_body =
            up && risk   ? "active: streaming; slot at risk of invalidation\n"
            : up && held ? "active: streaming; messages held until Kafka knows their "
                           "topic (outbox_relay_held_messages)\n"
            : up         ? "active: streaming\n"
            : role == RELAY_ROLE_STANDBY ? "standby: another relay holds the lease\n"
                                         : "not streaming\n";
        resp->body_len = strlen(resp->static_body);
    } else {
        resp->status = 404;
        resp->content_type = "text/plain";
        resp->static_body = "not found: try /metrics or /healthz\n";
        resp->body_len = strlen(resp->static_body);
    }
}

static const char usage_text[] =
    "usage: outbox-relay [run|check|schemas|print-config] [-c FILE] [--set K=V]...\n"
    "       outbox-relay --help | --help-config-markdown | --version\n"
    "\n"
    "Tails PostgreSQL's logical replication stream (pgoutput) and publishes every\n"
    "outbox event to Kafka as Avro. A WAL position is confirmed to PostgreSQL only\n"
    "after Kafka acknowledged every event up to it.\n"
    "\n"
    "commands:\n"
    "  run           stream (the default)\n"
    "  check         validate the configuration and the live environment (wal_level,\n"
    "                privileges, outbox tables, publication, slot, who may emit logical\n"
    "                messages, Kafka, whether the topics the outbox needs exist when the\n"
    "                brokers do not create them, registry); exit 0 when ready\n"
    "  schemas       is each schema of avro.schema-dir compatible with the versions\n"
    "                registered under the subjects carrying its record (or kept in\n"
    "                avro.schema-history)? exit 0 when all are (also part of check)\n"
    "  print-config  the effective configuration, secrets and key material masked,\n"
    "                with each origin\n"
    "options:\n"
    "  -c, --config FILE      ini file (default: none; environment and --set only)\n"
    "  -s, --set K=V          override one key, e.g. --set relay.status-interval=5s\n"
    "      --help-config-markdown   the configuration reference as a Markdown table\n"
    "\n"
    "exit status: 0 stopped cleanly (SIGTERM/SIGINT), 1 runtime failure (nothing\n"
    "undelivered was confirmed), 2 bad usage or configuration, 3 check found problems\n";

static const char *const relay_commands[] = {"run", "check", "schemas", "print-config", NULL};

static const outbox_cli_spec relay_cli = {
    .program = "outbox-relay",
    .commands = relay_commands,
    .conf_spec = &relay_settings_spec,
    .usage = usage_text,
};

/* The HTTP server on http.listen (checked when loading), unless it is off. 0, or 2. */
static int start_http(const relay_settings *settings, relay *r, outbox_http_server **http)
{
    char host[256], err[512];
    uint16_t port = 0;
    bool listen = false;
    if (outbox_conf_http_listen_parse(settings->http_listen, &listen, host, sizeof(host), &port) !=
            0 ||
        !listen)
        return 0;
    if (outbox_http_start(host, port, on_http, (void *)relay_get_stats(r), http, err,
                          sizeof(err)) != 0) {
        outbox_log_error("relay", "HTTP server on %s: %s", settings->http_listen, err);
        return 2;
    }
    outbox_log_info("relay", "metrics on http://%s:%u/metrics", host,
                    (unsigned)outbox_http_port(*http));
    return 0;
}

/* The daemon: stream until SIGTERM/SIGINT or a failure. */
static int serve(const relay_settings *settings, const outbox_conf *conf)
{
    relay *r = NULL;
    outbox_http_server *http = NULL;
    char err[2048];
    int rc = 2;
    volatile sig_atomic_t *stop = outbox_cli_catch_signals();

    if (relay_new(settings, conf, &r, err, sizeof(err)) != 0) {
        outbox_log_error("relay", "cannot start: %s", err);
        goto done;
    }
    if (start_http(settings, r, &http) != 0)
        goto done;
    outbox_log_info("relay", "outbox-relay %s starting", outbox_version());
    rc = relay_run(r, stop, err, sizeof(err));
    if (rc != 0)
        outbox_log_error("relay", "stopped: %s", err);
    else
        outbox_log_info("relay", "stopped cleanly");
done:
    if (http)
        outbox_http_stop(http);
    relay_free(r);
    return rc;
}

static int run_command(const char *cmd, relay_settings *settings, outbox_conf *conf)
{
    if (strcmp(cmd, "print-config") == 0)
        return outbox_cli_print_config(conf, settings, stdout);
    if (strcmp(cmd, "schemas") == 0) {
        fprintf(stdout, "outbox-relay schemas\n");
        return outbox_check_exit_status(relay_schemas_check(settings, stdout));
    }
    if (strcmp(cmd, "check") == 0)
        return outbox_check_exit_status(relay_check(settings, conf, stdout));
    return serve(settings, conf);
}

int main(int argc, char **argv)
{
    outbox_cli cli;
    relay_settings settings;
    outbox_conf *conf = NULL;
    char err[2048];
    int rc = 2;

    if (!outbox_cli_begin(&relay_cli, argc, argv, &cli, &rc))
        return rc;
    if (relay_settings_load(&settings, cli.config, cli.sets, cli.set_count, &conf, err,
                            sizeof(err)) != 0) {
        fprintf(stderr, "outbox-relay: configuration: %s\n", err);
        goto done;
    }
    outbox_log_set_level((outbox_log_level)settings.log_level);
    outbox_log_set_format((outbox_log_format)settings.log_format);
    outbox_conf_log_deprecated(conf, "config");
    rc = run_command(cli.command, &settings, conf);
    relay_settings_free(&settings);
    outbox_conf_destroy(conf);
done:
    outbox_cli_free(&cli);
    return rc;
}
