#include "resend.h"

#include <stdlib.h>
#include <string.h>

#include "toolarge.h"

struct resend_item {
    struct resend_item *next;
    relay_resend_msg msg;
    relay_header *headers; /* into store */
    char store[];          /* headers array, then topic, key, value, header names and values */
};

struct relay_resend_queue {
    struct resend_item *head, *tail;
    size_t len;
};

relay_resend_queue *relay_resend_queue_new(void)
{
    return calloc(1, sizeof(relay_resend_queue));
}

void relay_resend_queue_free(relay_resend_queue *queue)
{
    if (!queue)
        return;
    while (queue->head)
        relay_resend_pop(queue);
    free(queue);
}

/* Copy `len` bytes to *pos (NUL-terminated), advancing it. */
static size_t headers_bytes(const relay_header *h, size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += strlen(h[i].name) + 1 + h[i].value_len + 1;
    return need;
}

static void headers_copy(relay_header *dst, char **pos, const relay_header *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = relay_pack(pos, src[i].name, strlen(src[i].name));
        dst[i] =
            (relay_header){name, relay_pack(pos, src[i].value, src[i].value_len), src[i].value_len};
    }
}

int relay_resend_push(relay_resend_queue *queue, const relay_resend_msg *msg,
                      const relay_header *extra, size_t nextra)
{
    size_t nh = msg->nheaders + nextra;
    size_t array = nh * sizeof(relay_header);
    size_t need = array + strlen(msg->topic) + 1 + msg->key_len + 1 + msg->value_len + 1 +
                  headers_bytes(msg->headers, msg->nheaders) + headers_bytes(extra, nextra);
    struct resend_item *item = malloc(sizeof(*item) + need);
    if (!item)
        return -1;
    item->next = NULL;
    item->headers = (relay_header *)(void *)item->store; /* store is suitably aligned first */
    char *pos = item->store + array;
    item->msg = *msg;
    item->msg.topic = relay_pack(&pos, msg->topic, strlen(msg->topic));
    item->msg.key = msg->key ? relay_pack(&pos, msg->key, msg->key_len) : NULL;
    item->msg.value = msg->value ? relay_pack(&pos, msg->value, msg->value_len) : NULL;
    headers_copy(item->headers, &pos, msg->headers, msg->nheaders);
    headers_copy(item->headers + msg->nheaders, &pos, extra, nextra);
    item->msg.headers = item->headers;
    item->msg.nheaders = nh;
    if (queue->tail)
        queue->tail->next = item;
    else
        queue->head = item;
    queue->tail = item;
    queue->len++;
    return 0;
}

const relay_resend_msg *relay_resend_peek(const relay_resend_queue *queue)
{
    return queue->head ? &queue->head->msg : NULL;
}

void relay_resend_pop(relay_resend_queue *queue)
{
    struct resend_item *item = queue->head;
    if (!item)
        return;
    queue->head = item->next;
    if (!queue->head)
        queue->tail = NULL;
    queue->len--;
    free(item);
}

size_t relay_resend_len(const relay_resend_queue *queue)
{
    return queue->len;
}
