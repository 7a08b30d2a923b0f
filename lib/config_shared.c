/* The keys every daemon shares (config.h, "Keys every daemon shares"): their enums, defaults
 * and the translation of the old http.enabled/bind/port into http.listen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "log.h"

const outbox_conf_enum outbox_conf_log_levels[] = {{"error", OUTBOX_LOG_ERROR},
                                                   {"warn", OUTBOX_LOG_WARN},
                                                   {"info", OUTBOX_LOG_INFO},
                                                   {"debug", OUTBOX_LOG_DEBUG},
                                                   {NULL, 0}};
const outbox_conf_enum outbox_conf_log_formats[] = {
    {"text", OUTBOX_LOG_FORMAT_TEXT}, {"json", OUTBOX_LOG_FORMAT_JSON}, {NULL, 0}};

const char outbox_conf_schema_dir_default[] = OUTBOX_DEFAULT_SCHEMA_DIR;

int outbox_conf_http_listen_parse(const char *listen, bool *enabled, char *host, size_t host_size,
                                  uint16_t *port)
{
    *enabled = false;
    if (listen == NULL || listen[0] == '\0' || strcmp(listen, "off") == 0)
        return 0;
    if (outbox_http_listen_parse(listen, host, host_size, port) != 0 || host[0] == '\0')
        return -1;
    size_t n = strlen(host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') { /* [::1]:9187 */
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    *enabled = true;
    return 0;
}

/* "BIND:PORT" or "off" from the old keys, into *listen. */
static int http_listen_from_old(char **listen, bool enabled, const char *bind, int64_t port)
{
    char *value = NULL;
    if (!enabled)
        value = strdup("off");
    else if (asprintf(&value, strchr(bind, ':') ? "[%s]:%lld" : "%s:%lld", bind, (long long)port) <
             0)
        value = NULL;
    if (value == NULL)
        return -1;
    free(*listen);
    *listen = value;
    return 0;
}

int outbox_conf_http_finalize(const outbox_conf *conf, char **listen, bool *enabled, char **bind,
                              int64_t *port, char *errstr, size_t errstr_size)
{
    char host[256];
    uint16_t p = 0;
    bool on = false;
    bool old = enabled != NULL && bind != NULL && port != NULL;

    if (old &&
        (outbox_conf_is_set(conf, "http.enabled") || outbox_conf_is_set(conf, "http.bind") ||
         outbox_conf_is_set(conf, "http.port")) &&
        http_listen_from_old(listen, *enabled, *bind ? *bind : "127.0.0.1", *port) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (outbox_conf_http_listen_parse(*listen, &on, host, sizeof host, &p) != 0) {
        snprintf(errstr, errstr_size,
                 "http.listen = '%s' (%s): expected HOST:PORT, e.g. 127.0.0.1:9187 (port 0: any "
                 "free port), or off for no HTTP server",
                 *listen, outbox_conf_origin(conf, "http.listen"));
        return -1;
    }
    if (!old)
        return 0;
    char *copy = strdup(on ? host : "127.0.0.1");
    if (copy == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    free(*bind);
    *bind = copy;
    *enabled = on;
    *port = p;
    return 0;
}
