/*
 * fuzz_http: what the HTTP side parses itself. libmicrohttpd reads the request line, splits
 * the path from the query and percent-decodes both (a Debian library, not fuzzed here); our
 * code then parses what it hands over:
 *   - projector/projector_httpd.c: GET /events/{id}?projection=NAME, projector_httpd_events_parse()
 *     (the route, the uuid, the projection chosen among three, and among one when the
 *     parameter is left out), then the JSON answer projector_httpd_event_body();
 *   - lib/http.c: "address:port" of the relay's http.listen (outbox_http_listen_parse) and the
 *     Server-Sent Events framing of a published event (outbox_http_channel_publish).
 *
 * Input: up to three lines: the decoded path; the decoded `projection` value (no second line:
 * the parameter is absent); the listen text. Seeds: corpus/fuzz_http.
 *
 * Checks, beyond no crash, leak or undefined behaviour: an accepted id is a lowercase uuid; a
 * chosen projection has the asked-for name; the JSON answer parses and carries the status
 * matching its state; an accepted listen text gives back host:port; a publish is refused exactly
 * when the event name or id holds a line break.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "projector_httpd.h"

static char *dup_line(const uint8_t **p, const uint8_t *end, int *present)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *present = *p < end || nl != NULL;
    *p = nl ? nl + 1 : end;
    return s;
}

static void check_uuid(const char *id)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < sizeof shape; i++) {
        char c = id[i];
        int ok = shape[i] == '-'   ? c == '-'
                 : shape[i] == 'x' ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                                   : c == '\0';
        if (!ok)
            abort();
    }
}

static void events(const char *path, const char *projection, const char *listen)
{
    static char *names[] = {"query", "comments", "counts"};
    projector_projection projections[3];
    char id[PROJECTOR_UUID_LEN + 1];

    memset(projections, 0, sizeof projections);
    for (size_t i = 0; i < 3; i++)
        projections[i].name = names[i];
    for (size_t count = 1; count <= 3; count += 2) {
        size_t index = 99;
        projector_httpd_events_rc rc =
            projector_httpd_events_parse(path, projection, projections, count, id, &index);
        if (rc != PROJECTOR_HTTPD_EVENTS_OK)
            continue;
        check_uuid(id);
        if (index >= count || (projection && strcmp(projection, names[index]) != 0))
            abort();
        /* The answer as the route builds it; the row's text values come from the database. */
        static const char *const states[] = {NULL, "applied", "failed"};
        for (size_t s = 0; s < 3; s++) {
            int status = 0;
            json_error_t jerr;
            char *body = projector_httpd_event_body(names[index], id, states[s], listen, projection,
                                                    path, listen, &status);
            if (body == NULL)
                abort();
            json_t *doc = json_loads(body, 0, &jerr);
            if (doc == NULL ||
                status != (s == 0   ? 202
                           : s == 1 ? 200
                                    : 422) ||
                !json_is_string(json_object_get(doc, "status"))) {
                fprintf(stderr, "fuzz_http: answer %d not JSON: %s\n%s", status, jerr.text, body);
                abort();
            }
            json_decref(doc);
            free(body);
        }
    }
}

static void listen_and_publish(const char *listen, const char *path, const char *projection)
{
    static outbox_http_channel *channel;
    char host[64], back[128];
    uint16_t port = 0;

    if (outbox_http_listen_parse(listen, host, sizeof host, &port) == 0) {
        /* A port written canonically ("0" or digits without a leading zero) comes back as is. */
        const char *text = strrchr(listen, ':') + 1;
        int canonical = strcmp(text, "0") == 0 || (text[0] >= '1' && text[0] <= '9');
        for (const char *c = text; canonical && *c; c++)
            canonical = *c >= '0' && *c <= '9';
        snprintf(back, sizeof back, "%s:%u", host, (unsigned)port);
        if (canonical && strcmp(back, listen) != 0)
            abort();
    }
    if (channel == NULL && (channel = outbox_http_channel_new(4)) == NULL)
        abort();
    int breaks = strpbrk(path, "\r\n") != NULL || strpbrk(projection, "\r\n") != NULL;
    if ((outbox_http_channel_publish(channel, path, projection, listen) != 0) != breaks)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    int has_path, has_projection, has_listen;
    char *path = dup_line(&p, end, &has_path);
    char *projection = dup_line(&p, end, &has_projection);
    char *listen = dup_line(&p, end, &has_listen);

    events(path, has_projection ? projection : NULL, listen);
    listen_and_publish(listen, path, projection);
    free(path);
    free(projection);
    free(listen);
    return 0;
}
