#include "toolarge.h"

#include <stdlib.h>
#include <string.h>

#include "dlq.h"

struct toolarge_item {
    struct toolarge_item *next;
    relay_toolarge pub;
    relay_header headers[RELAY_DLQ_TOO_LARGE_MAX_HEADERS + 16];
    char store[]; /* topic, key, header names and values */
};

struct relay_toolarge_queue {
    struct toolarge_item *head, *tail;
};

relay_toolarge_queue *relay_toolarge_queue_new(void)
{
    return calloc(1, sizeof(relay_toolarge_queue));
}

void relay_toolarge_queue_free(relay_toolarge_queue *queue)
{
    if (!queue)
        return;
    while (queue->head)
        relay_toolarge_pop(queue);
    free(queue);
}

size_t relay_record_size(size_t key_len, size_t value_len, const relay_header *headers,
                         size_t nheaders)
{
    size_t size = key_len + value_len;
    for (size_t i = 0; i < nheaders; i++)
        size += strlen(headers[i].name) + headers[i].value_len;
    return size;
}

relay_header *relay_headers_view(rd_kafka_headers_t *hdrs, size_t *n)
{
    *n = hdrs ? rd_kafka_header_cnt(hdrs) : 0;
    if (*n == 0)
        return NULL;
    relay_header *view = malloc(*n * sizeof(*view));
    if (!view)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        const char *name;
        const void *value;
        size_t size = 0;
        if (rd_kafka_header_get_all(hdrs, i, &name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            name = "";
            value = NULL;
        }
        view[i] = (relay_header){name, value ? value : "", value ? size : 0};
    }
    return view;
}

/* Copy `len` bytes to *pos (NUL-terminated), advancing it. */
char *relay_pack(char **pos, const void *s, size_t len)
{
    char *dst = *pos;
    if (len)
        memcpy(dst, s, len);
    dst[len] = '\0';
    *pos += len + 1;
    return dst;
}

int relay_toolarge_push(relay_toolarge_queue *queue, uint64_t seq, const char *topic,
                        const void *key, size_t key_len, size_t value_len,
                        rd_kafka_headers_t *headers)
{
    size_t n;
    relay_header *view = relay_headers_view(headers, &n);
    if (!view && n)
        return -1;
    relay_header picked[RELAY_DLQ_TOO_LARGE_MAX_HEADERS + 16];
    size_t omitted;
    size_t npicked =
        relay_dlq_too_large_headers(view, n, picked, sizeof(picked) / sizeof(picked[0]), &omitted);
    size_t need = strlen(topic) + 1 + key_len + 1;
    for (size_t i = 0; i < npicked; i++)
        need += strlen(picked[i].name) + 1 + picked[i].value_len + 1;
    struct toolarge_item *item = malloc(sizeof(*item) + need);
    if (!item) {
        free(view);
        return -1;
    }
    char *pos = item->store;
    item->next = NULL;
    item->pub = (relay_toolarge){
        .seq = seq,
        .size = relay_record_size(key_len, value_len, view, n),
        .topic = relay_pack(&pos, topic, strlen(topic)),
        .key = relay_pack(&pos, key, key_len),
        .key_len = key_len,
        .headers = item->headers,
        .nheaders = npicked,
        .omitted = omitted,
    };
    for (size_t i = 0; i < npicked; i++) {
        const char *name = relay_pack(&pos, picked[i].name, strlen(picked[i].name));
        item->headers[i] = (relay_header){
            name, relay_pack(&pos, picked[i].value, picked[i].value_len), picked[i].value_len};
    }
    free(view);
    if (queue->tail)
        queue->tail->next = item;
    else
        queue->head = item;
    queue->tail = item;
    return 0;
}

const relay_toolarge *relay_toolarge_peek(const relay_toolarge_queue *queue)
{
    return queue->head ? &queue->head->pub : NULL;
}

void relay_toolarge_pop(relay_toolarge_queue *queue)
{
    struct toolarge_item *item = queue->head;
    if (!item)
        return;
    queue->head = item->next;
    if (!queue->head)
        queue->tail = NULL;
    free(item);
}
