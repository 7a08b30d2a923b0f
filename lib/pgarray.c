/* outbox_pgarray: PostgreSQL array literals. */
#include "pgarray.h"

#include <stdint.h>

int outbox_pgarray_begin(outbox_buf *buf)
{
    outbox_buf_reset(buf);
    return outbox_buf_append_byte(buf, '{');
}

int outbox_pgarray_add(outbox_buf *buf, const char *elem, int first)
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

int outbox_pgarray_end(outbox_buf *buf)
{
    if (outbox_buf_append(buf, "}", 2))
        return -1;
    buf->len--; /* keep the NUL out of the length */
    return 0;
}
