#include "buf.h"

#include <stdlib.h>

/* First allocation: big enough for a typical event so a fresh buffer grows at most once. */
#define OUTBOX_BUF_MIN_CAP 256

void outbox_buf_init(outbox_buf *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

int outbox_buf_grow(outbox_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;
    uint8_t *data;

    if (extra > SIZE_MAX - buf->len)
        return -1;
    need = buf->len + extra;
    if (need <= buf->cap)
        return 0;
    cap = buf->cap < OUTBOX_BUF_MIN_CAP ? OUTBOX_BUF_MIN_CAP : buf->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    data = realloc(buf->data, cap);
    if (data == NULL)
        return -1;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

void outbox_buf_free(outbox_buf *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}
