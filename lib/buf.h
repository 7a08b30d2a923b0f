#ifndef OUTBOX_BUF_H
#define OUTBOX_BUF_H

/*
 * outbox_buf: a growable byte buffer for the encode hot path.
 *
 * A value type (not opaque): callers embed it, read `data`/`len` directly and reuse it across
 * messages with outbox_buf_reset(), which keeps the allocation, so a warm buffer appends
 * without calling malloc. Capacity grows geometrically; every allocation is checked and an
 * append either succeeds completely or leaves the buffer unchanged.
 *
 * Ownership: the buffer owns `data` until outbox_buf_free(). Thread-safety: none; one thread
 * uses a buffer at a time (distinct buffers are independent).
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct outbox_buf {
    uint8_t *data; /* NULL until the first reserve; owned by the buffer */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
} outbox_buf;

/* Static initializer of an empty buffer: `outbox_buf buf = OUTBOX_BUF_INIT;` */
// clang-format off
#define OUTBOX_BUF_INIT {NULL, 0, 0}
// clang-format on

/* Set an empty buffer with no allocation. Never fails. */
void outbox_buf_init(outbox_buf *buf);

/*
 * Slow path of outbox_buf_reserve(): grow so that at least `extra` more bytes fit.
 * Returns 0, or -1 when the size overflows or malloc fails (buffer unchanged).
 */
int outbox_buf_grow(outbox_buf *buf, size_t extra) __attribute__((warn_unused_result));

/* Make room for `extra` more bytes after `len`. Returns 0, or -1 on allocation failure. */
static inline __attribute__((warn_unused_result)) int outbox_buf_reserve(outbox_buf *buf,
                                                                         size_t extra)
{
    if (buf->cap - buf->len >= extra)
        return 0;
    return outbox_buf_grow(buf, extra);
}

/* Append `len` bytes copied from `data` (may be NULL when len is 0). 0 or -1 (no memory). */
static inline __attribute__((warn_unused_result)) int
outbox_buf_append(outbox_buf *buf, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (outbox_buf_reserve(buf, len) != 0)
        return -1;
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}

/* Append one byte. 0 or -1 (no memory). */
static inline __attribute__((warn_unused_result)) int outbox_buf_append_byte(outbox_buf *buf,
                                                                             uint8_t byte)
{
    if (outbox_buf_reserve(buf, 1) != 0)
        return -1;
    buf->data[buf->len++] = byte;
    return 0;
}

/* Forget the contents, keep the allocation for reuse. */
static inline void outbox_buf_reset(outbox_buf *buf)
{
    buf->len = 0;
}

/* Release the allocation; the buffer is empty and reusable afterwards. NULL is a no-op. */
void outbox_buf_free(outbox_buf *buf);

#endif
