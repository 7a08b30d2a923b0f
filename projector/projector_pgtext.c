/* projector_pgtext: array literals and NOTIFY payloads. */
#include "projector_pgtext.h"

#include <string.h>

int projector_pgarray_begin(outbox_buf *buf)
{
    outbox_buf_reset(buf);
    return outbox_buf_append_byte(buf, '{');
}

int projector_pgarray_add(outbox_buf *buf, const char *elem, int first)
{
    if (!first && outbox_buf_append_byte(buf, ','))
        return -1;
    if (elem == NULL)
        return outbox_buf_append(buf, "NULL", 4);
    if (outbox_buf_append_byte(buf, '"'))
        return -1;
    for (const char *p = elem; *p; p++) {
        if ((*p == '"' || *p == '\\') && outbox_buf_append_byte(buf, '\\'))
            return -1;
        if (outbox_buf_append_byte(buf, (uint8_t)*p))
            return -1;
    }
    return outbox_buf_append_byte(buf, '"');
}

int projector_pgarray_end(outbox_buf *buf)
{
    if (outbox_buf_append(buf, "}", 2))
        return -1;
    buf->len--; /* keep the NUL out of the length */
    return 0;
}

long projector_notify_payload(outbox_buf *buf, const char *projection, const char *const *ids,
                              size_t n, size_t start, size_t max_bytes)
{
    static const char head1[] = "{\"projection\":\"";
    static const char head2[] = "\",\"events\":[";
    static const char tail[] = "]}";
    long taken = 0;

    outbox_buf_reset(buf);
    if (start >= n)
        return 0;
    if (outbox_buf_append(buf, head1, sizeof head1 - 1) ||
        outbox_buf_append(buf, projection, strlen(projection)) ||
        outbox_buf_append(buf, head2, sizeof head2 - 1))
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
