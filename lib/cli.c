/* outbox_cli: the daemons' shared command line (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

extern char **environ;

__attribute__((format(printf, 3, 4))) static int cli_fail(char *errstr, size_t errstr_size,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* "--name=value" or "--name" matches long option `name`; *inline_value gets what follows '='. */
static bool cli_long_matches(const char *arg, const char *name, const char **inline_value)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '\0') {
        *inline_value = NULL;
        return true;
    }
    if (arg[n] == '=') {
        *inline_value = arg + n + 1;
        return true;
    }
    return false;
}

/* The value of an option: inline (--x=v) or the next argument. */
static int cli_value(int argc, char *const *argv, int *i, const char *inline_value,
                     const char **out, char *errstr, size_t errstr_size)
{
    if (inline_value != NULL) {
        *out = inline_value;
        return 0;
    }
    if (*i + 1 >= argc)
        return cli_fail(errstr, errstr_size, "%s needs a value", argv[*i]);
    *out = argv[++*i];
    return 0;
}

/* One of the common options at argv[*i]: 1 consumed, 0 not one, -1 error. */
static int cli_common(int argc, char *const *argv, int *i, outbox_cli *cli, char *errstr,
                      size_t errstr_size)
{
    const char *arg = argv[*i], *iv = NULL, *value = NULL;
    if (strcmp(arg, "-c") == 0 || cli_long_matches(arg, "--config", &iv)) {
        if (cli_value(argc, argv, i, iv, &cli->config, errstr, errstr_size))
            return -1;
        return 1;
    }
    if (strcmp(arg, "-s") == 0 || cli_long_matches(arg, "--set", &iv)) {
        if (cli_value(argc, argv, i, iv, &value, errstr, errstr_size))
            return -1;
        cli->sets[cli->set_count++] = value;
        return 1;
    }
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
        cli->action = OUTBOX_CLI_HELP;
    else if (strcmp(arg, "--help-config-markdown") == 0)
        cli->action = OUTBOX_CLI_HELP_MARKDOWN;
    else if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
        cli->action = OUTBOX_CLI_VERSION;
    else
        return 0;
    return 1;
}

/* One of the daemon's own options at argv[*i]: 1 consumed, 0 not one, -1 error. */
static int cli_own(const outbox_cli_spec *spec, int argc, char *const *argv, int *i,
                   outbox_cli *cli, char *errstr, size_t errstr_size)
{
    const char *iv = NULL;
    for (size_t k = 0; spec->options && spec->options[k].name && k < OUTBOX_CLI_MAX_OPTIONS; k++) {
        const outbox_cli_option *opt = &spec->options[k];
        if (!cli_long_matches(argv[*i], opt->name, &iv))
            continue;
        if (!opt->has_value && iv != NULL)
            return cli_fail(errstr, errstr_size, "%s takes no value", opt->name);
        cli->given[k] = true;
        cli->values[k] = "";
        if (opt->has_value && cli_value(argc, argv, i, iv, &cli->values[k], errstr, errstr_size))
            return -1;
        return 1;
    }
    return 0;
}

static bool cli_is_command(const outbox_cli_spec *spec, const char *arg)
{
    for (const char *const *c = spec->commands; c && *c; c++)
        if (strcmp(*c, arg) == 0)
            return true;
    return false;
}

static int cli_positional(const outbox_cli_spec *spec, const char *arg, outbox_cli *cli,
                          char *errstr, size_t errstr_size)
{
    if (cli->command == NULL) {
        if (!cli_is_command(spec, arg))
            return cli_fail(errstr, errstr_size, "unknown command '%s'", arg);
        cli->command = arg;
        return 0;
    }
    if (cli->arg_count == OUTBOX_CLI_MAX_ARGS)
        return cli_fail(errstr, errstr_size, "unexpected argument '%s'", arg);
    cli->args[cli->arg_count++] = arg;
    return 0;
}

static int cli_parse_args(const outbox_cli_spec *spec, int argc, char *const *argv, outbox_cli *cli,
                          char *errstr, size_t errstr_size)
{
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options && strcmp(arg, "--") == 0) {
            options = false;
            continue;
        }
        if (options && arg[0] == '-' && arg[1] != '\0') {
            int rc = cli_common(argc, argv, &i, cli, errstr, errstr_size);
            if (rc == 0)
                rc = cli_own(spec, argc, argv, &i, cli, errstr, errstr_size);
            if (rc < 0)
                return -1;
            if (rc == 0)
                return cli_fail(errstr, errstr_size, "unknown option '%s'", arg);
            if (cli->action != OUTBOX_CLI_RUN)
                return 0; /* --help, --version: the rest does not matter */
            continue;
        }
        if (cli_positional(spec, arg, cli, errstr, errstr_size))
            return -1;
    }
    return 0;
}

int outbox_cli_parse(const outbox_cli_spec *spec, int argc, char *const *argv, outbox_cli *cli,
                     char *errstr, size_t errstr_size)
{
    memset(cli, 0, sizeof *cli);
    cli->sets = calloc((size_t)(argc > 0 ? argc : 1), sizeof *cli->sets);
    if (cli->sets == NULL)
        return cli_fail(errstr, errstr_size, "out of memory");
    if (cli_parse_args(spec, argc, argv, cli, errstr, errstr_size) != 0) {
        outbox_cli_free(cli);
        return -1;
    }
    if (cli->command == NULL)
        cli->command = spec->commands && spec->commands[0] ? spec->commands[0] : "run";
    return 0;
}

void outbox_cli_free(outbox_cli *cli)
{
    free(cli->sets);
    memset(cli, 0, sizeof *cli);
}

bool outbox_cli_begin(const outbox_cli_spec *spec, int argc, char *const *argv, outbox_cli *cli,
                      int *rc)
{
    char err[512];
    *rc = 2;
    if (outbox_cli_parse(spec, argc, argv, cli, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n\n%s", spec->program, err, spec->usage ? spec->usage : "");
        return false;
    }
    if (cli->action != OUTBOX_CLI_RUN)
        *rc = outbox_cli_info(spec, cli, stdout);
    else if (cli->arg_count > 0)
        fprintf(stderr, "%s: unexpected argument '%s'\n\n%s", spec->program, cli->args[0],
                spec->usage ? spec->usage : "");
    else
        return true;
    outbox_cli_free(cli);
    return false;
}

bool outbox_cli_option_given(const outbox_cli_spec *spec, const outbox_cli *cli, const char *name,
                             const char **value)
{
    for (size_t k = 0; spec->options && spec->options[k].name && k < OUTBOX_CLI_MAX_OPTIONS; k++) {
        if (strcmp(spec->options[k].name, name) != 0 || !cli->given[k])
            continue;
        if (value != NULL)
            *value = cli->values[k];
        return true;
    }
    return false;
}

int outbox_cli_info(const outbox_cli_spec *spec, const outbox_cli *cli, FILE *out)
{
    char *text = NULL;
    switch (cli->action) {
    case OUTBOX_CLI_VERSION:
        fprintf(out, "%s %s\n", spec->program, outbox_version());
        return 0;
    case OUTBOX_CLI_HELP:
        text = outbox_conf_help(spec->conf_spec);
        fprintf(out, "%s\n%s%s", spec->usage ? spec->usage : "", text ? text : "",
                spec->help_tail ? spec->help_tail : "");
        break;
    case OUTBOX_CLI_HELP_MARKDOWN:
        text = outbox_conf_markdown(spec->conf_spec);
        fprintf(out, "%s%s", text ? text : "", spec->markdown_tail ? spec->markdown_tail : "");
        break;
    case OUTBOX_CLI_RUN:
        return 0;
    }
    free(text);
    return text != NULL ? 0 : 1;
}

int outbox_cli_print_config(const outbox_conf *conf, const void *target, FILE *out)
{
    char *dump = outbox_conf_dump(conf, target);
    if (dump == NULL)
        return 1;
    fputs(dump, out);
    free(dump);
    return 0;
}

outbox_conf_sources outbox_cli_sources(const outbox_cli *cli)
{
    outbox_conf_sources src = {
        .path = cli->config, .envp = environ, .sets = cli->sets, .set_count = cli->set_count};
    return src;
}

static volatile sig_atomic_t cli_signal;

static void cli_on_signal(int sig)
{
    cli_signal = sig;
}

volatile sig_atomic_t *outbox_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cli_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The configuration is read at start: a SIGHUP meant as "reload", or a closed terminal,
     * must not end the daemon undrained (systemd would count that as a clean exit and not
     * restart it). */
    signal(SIGHUP, SIG_IGN);
    return &cli_signal;
}
