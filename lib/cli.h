#ifndef OUTBOX_CLI_H
#define OUTBOX_CLI_H

/*
 * outbox_cli: the command line every daemon shares (outbox-relay, outbox-projector,
 * outbox-moderation):
 *
 *   PROGRAM [COMMAND [ARG]...] [-c FILE] [--set section.key=value]... [own options]
 *   PROGRAM --help | --help-config-markdown | --version
 *
 * Options may come anywhere: -c/--config FILE (also --config=FILE), -s/--set K=V (also
 * --set=K=V, repeatable, in order), -h/--help, --help-config-markdown, -V/--version, the
 * daemon's own options (outbox_cli_option, e.g. --from-time T), and `--` ends the options.
 * The first positional argument must name one of the daemon's commands (none: the first of
 * them, e.g. run); later positionals are the command's arguments.
 *
 * Pure parsing (outbox_cli_parse) plus the shared actions: --help (usage, every key of the
 * config table, the old spellings), --help-config-markdown, --version, print-config, and the
 * signal handling of a daemon (SIGTERM/SIGINT set a flag, SIGPIPE ignored). Main thread.
 */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

#ifndef OUTBOX_MUSTCHECK
#define OUTBOX_MUSTCHECK __attribute__((warn_unused_result))
#endif

#define OUTBOX_CLI_MAX_OPTIONS 8 /* a daemon's own options */
#define OUTBOX_CLI_MAX_ARGS 4    /* positional arguments after the command */

typedef enum outbox_cli_action {
    OUTBOX_CLI_RUN = 0,       /* run cli.command */
    OUTBOX_CLI_HELP,          /* --help */
    OUTBOX_CLI_HELP_MARKDOWN, /* --help-config-markdown */
    OUTBOX_CLI_VERSION,       /* --version */
} outbox_cli_action;

/* A daemon's own option, e.g. {"--timeout", true}; arrays end with {NULL, false}. */
typedef struct outbox_cli_option {
    const char *name;
    bool has_value;
} outbox_cli_option;

typedef struct outbox_cli_spec {
    const char *program;               /* "outbox-relay" */
    const char *const *commands;       /* NULL-terminated; commands[0] is the default */
    const outbox_cli_option *options;  /* NULL = none */
    const outbox_conf_spec *conf_spec; /* the config table, for --help and the Markdown */
    const char *usage;                 /* usage text printed first by --help */
    const char *help_tail;             /* printed after the keys by --help (may be NULL) */
    const char *markdown_tail;         /* printed after the Markdown table (may be NULL) */
} outbox_cli_spec;

/* The parsed command line. Strings point into argv; `sets` is owned (outbox_cli_free). */
typedef struct outbox_cli {
    outbox_cli_action action;
    const char *config; /* -c FILE; NULL = none */
    const char **sets;  /* --set values in order */
    size_t set_count;
    const char *command; /* always set after a successful parse */
    const char *args[OUTBOX_CLI_MAX_ARGS];
    size_t arg_count;
    const char *values[OUTBOX_CLI_MAX_OPTIONS]; /* own option i's value ("" without one) */
    bool given[OUTBOX_CLI_MAX_OPTIONS];         /* own option i was given */
} outbox_cli;

/* Parse argv[1..argc-1] into *cli. 0, or -1 with errstr naming the argument (unknown option,
 * missing value, unknown command, too many arguments); *cli then holds nothing to free. */
int outbox_cli_parse(const outbox_cli_spec *spec, int argc, char *const *argv, outbox_cli *cli,
                     char *errstr, size_t errstr_size) OUTBOX_MUSTCHECK;

void outbox_cli_free(outbox_cli *cli);

/* The common start of a daemon whose commands take no arguments: parse; a usage error is
 * printed with the usage (*rc = 2), --help/--version/--help-config-markdown are answered
 * (*rc = their status). true: go on with cli->command (free cli afterwards); false: exit *rc
 * (cli holds nothing). */
bool outbox_cli_begin(const outbox_cli_spec *spec, int argc, char *const *argv, outbox_cli *cli,
                      int *rc);

/* Whether own option `name` was given; its value through *value when non-NULL. */
bool outbox_cli_option_given(const outbox_cli_spec *spec, const outbox_cli *cli, const char *name,
                             const char **value);

/* --help, --help-config-markdown or --version on `out`: 0, or 1 when out of memory. */
int outbox_cli_info(const outbox_cli_spec *spec, const outbox_cli *cli, FILE *out);

/* print-config: the effective configuration, secrets masked, with each origin. 0, or 1. */
int outbox_cli_print_config(const outbox_conf *conf, const void *target, FILE *out);

/* The configuration sources of the command line: -c, --set, and the process environment. */
outbox_conf_sources outbox_cli_sources(const outbox_cli *cli);

/* SIGTERM and SIGINT store their number in the returned flag (0 until then); SIGPIPE is
 * ignored (a peer that went away is an error return, not a death), and so is SIGHUP (the
 * configuration is read at start; restart to apply a change). Main thread; the flag is
 * process-wide, read it from any thread. */
volatile sig_atomic_t *outbox_cli_catch_signals(void);

#endif
