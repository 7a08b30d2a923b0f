/* projector_pgtext: array literals and NOTIFY payloads. */
#include "projector_pgtext.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

int projector_json_string(outbox_buf *buf, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    if (text == NULL)
        return outbox_buf_append(buf, "null", 4);
    if (outbox_buf_append_byte(buf, '"'))
        return -1;
    const char *run = text; /* bytes not yet copied that need no escape */
    for (const char *p = text;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\0' && c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (outbox_buf_append(buf, run, (size_t)(p - run)))
            return -1;
        if (c == '\0')
            break;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t len = 2;
        if (c == '\n')
            esc[1] = 'n';
        else if (c == '\t')
            esc[1] = 't';
        else if (c == '\r')
            esc[1] = 'r';
        else if (c < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            len = 6;
        }
        if (outbox_buf_append(buf, esc, len))
            return -1;
        run = p + 1;
    }
    return outbox_buf_append_byte(buf, '"');
}

int projector_setarray_begin(outbox_buf *buf)
{
    outbox_buf_reset(buf);
    return outbox_buf_append_byte(buf, '[');
}

static int append_str(outbox_buf *buf, const char *text)
{
    return outbox_buf_append(buf, text, strlen(text));
}

int projector_setarray_add(outbox_buf *buf, const projector_event *ev, int first)
{
    char num[64];
    if ((!first && outbox_buf_append_byte(buf, ',')) || append_str(buf, "{\"event\":") ||
        append_str(buf, ev->json != NULL ? ev->json : "null") || append_str(buf, ",\"id\":") ||
        projector_json_string(buf, ev->id[0] ? ev->id : NULL) || append_str(buf, ",\"type\":") ||
        projector_json_string(buf, ev->event_type) || append_str(buf, ",\"aggregate_id\":") ||
        projector_json_string(buf, ev->aggregate_id) || append_str(buf, ",\"topic\":") ||
        projector_json_string(buf, ev->topic))
        return -1;
    snprintf(num, sizeof num,
             ",\"partition\":%d,\"offset\":%lld,\"commit_time\":", (int)ev->partition,
             (long long)ev->offset);
    if (append_str(buf, num) || projector_json_string(buf, ev->commit_time) ||
        outbox_buf_append_byte(buf, '}'))
        return -1;
    return 0;
}

int projector_setarray_end(outbox_buf *buf)
{
    if (outbox_buf_append(buf, "]", 2))
        return -1;
    buf->len--; /* keep the NUL out of the length */
    return 0;
}

long projector_notify_payload(outbox_buf *buf, const char *projection, const char *const *ids,
                              size_t n, size_t start, size_t max_bytes)
{
    return projector_notify_payload_kind(buf, projection, PROJECTOR_NOTIFY_APPLIED, ids, n, start,
                                         max_bytes);
}

long projector_notify_payload_kind(outbox_buf *buf, const char *projection,
                                   projector_notify_kind kind, const char *const *ids, size_t n,
                                   size_t start, size_t max_bytes)
{
    static const char head1[] = "{\"projection\":\"";
    const char *head2 =
        kind == PROJECTOR_NOTIFY_FAILED ? "\",\"events\":[],\"failed\":[" : "\",\"events\":[";
    static const char tail[] = "]}";
    long taken = 0;

    outbox_buf_reset(buf);
    if (start >= n)
        return 0;
    if (outbox_buf_append(buf, head1, sizeof head1 - 1) ||
        outbox_buf_append(buf, projection, strlen(projection)) ||
        outbox_buf_append(buf, head2, strlen(head2)))
        return -1;
    for (size_t i = start; i < n; i++) {
        size_t id_len = strlen(ids[i]);
        size_t need = (taken ? 1 : 0) + id_len + 2 + (sizeof tail - 1);
        if (buf->len + need > max_bytes)
            break;
        if ((taken && outbox_buf_append_byte(buf, ',')) || outbox_buf_append_byte(buf, '"') ||
            outbox_buf_append(buf, ids[i], id_len) || outbox_buf_append_byte(buf, '"'))
            return -1;
        taken++;
    }
    if (taken == 0)
        return -1;
    if (outbox_buf_append(buf, tail, sizeof tail))
        return -1;
    buf->len--;
    return taken;
}

static bool listed(const json_t *array, const char *event_id)
{
    size_t i;
    const json_t *v;
    if (!json_is_array(array))
        return false;
    json_array_foreach(array, i, v)
    {
        const char *s = json_string_value(v);
        if (s != NULL && strcmp(s, event_id) == 0)
            return true;
    }
    return false;
}

projector_notify_match projector_notify_find(const char *payload, const char *projection,
                                             const char *event_id)
{
    json_error_t jerr;
    projector_notify_match match = PROJECTOR_NOTIFY_MALFORMED;
    json_t *obj = payload ? json_loads(payload, 0, &jerr) : NULL;
    if (!json_is_object(obj))
        goto done;
    const char *name = json_string_value(json_object_get(obj, "projection"));
    json_t *events = json_object_get(obj, "events");
    json_t *failed = json_object_get(obj, "failed");
    if (name == NULL || !json_is_array(events) || (failed != NULL && !json_is_array(failed)))
        goto done;
    match = PROJECTOR_NOTIFY_NONE;
    if (strcmp(name, projection) != 0)
        goto done;
    if (listed(events, event_id))
        match = PROJECTOR_NOTIFY_HAS_APPLIED;
    else if (listed(failed, event_id))
        match = PROJECTOR_NOTIFY_HAS_FAILED;
done:
    json_decref(obj);
    return match;
}
