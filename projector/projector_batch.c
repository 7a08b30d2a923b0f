/* projector_batch: events of one transaction; dedup marking and positions. */
#include "projector_batch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void projector_batch_init(projector_batch *batch)
{
    memset(batch, 0, sizeof *batch);
}

projector_event *projector_batch_add(projector_batch *batch, int64_t now_ms)
{
    if (batch->count == batch->cap) {
        size_t cap = batch->cap ? batch->cap * 2 : 64;
        projector_event *grown = realloc(batch->events, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        batch->events = grown;
        batch->cap = cap;
    }
    if (batch->count == 0)
        batch->first_ms = now_ms;
    projector_event *ev = &batch->events[batch->count++];
    memset(ev, 0, sizeof *ev);
    ev->mapping = -1;
    return ev;
}

static void event_release(projector_event *ev, void (*msg_free)(void *msg))
{
    free(ev->topic);
    free(ev->event_type);
    free(ev->aggregate_id);
    free(ev->aggregate_type);
    free(ev->commit_time);
    free(ev->json);
    free(ev->reason);
    if (ev->msg != NULL && msg_free != NULL)
        msg_free(ev->msg);
    memset(ev, 0, sizeof *ev);
}

void projector_event_reset(projector_event *ev)
{
    void *msg = ev->msg;
    ev->msg = NULL;
    event_release(ev, NULL);
    ev->msg = msg;
    ev->mapping = -1;
}

void projector_batch_clear(projector_batch *batch, void (*msg_free)(void *msg))
{
    for (size_t i = 0; i < batch->count; i++)
        event_release(&batch->events[i], msg_free);
    batch->count = 0;
    batch->first_ms = 0;
}

void projector_batch_free(projector_batch *batch, void (*msg_free)(void *msg))
{
    projector_batch_clear(batch, msg_free);
    free(batch->events);
    projector_batch_init(batch);
}

void projector_batch_drop_partition(projector_batch *batch, const char *topic, int32_t partition,
                                    void (*msg_free)(void *msg))
{
    size_t kept = 0;
    for (size_t i = 0; i < batch->count; i++) {
        projector_event *ev = &batch->events[i];
        if (ev->partition == partition && strcmp(ev->topic, topic) == 0) {
            event_release(ev, msg_free);
            continue;
        }
        if (kept != i)
            batch->events[kept] = *ev;
        kept++;
    }
    batch->count = kept;
    if (kept == 0)
        batch->first_ms = 0;
}

bool projector_batch_due(const projector_batch *batch, size_t max_events, int64_t linger_ms,
                         int64_t now_ms)
{
    if (batch->count == 0)
        return false;
    return batch->count >= max_events || now_ms - batch->first_ms >= linger_ms;
}

int64_t projector_batch_wait_ms(const projector_batch *batch, int64_t linger_ms, int64_t now_ms)
{
    if (batch->count == 0)
        return -1;
    int64_t left = batch->first_ms + linger_ms - now_ms;
    return left > 0 ? left : 0;
}

size_t projector_batch_positions(const projector_batch *batch, projector_position *positions,
                                 size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < batch->count; i++) {
        const projector_event *ev = &batch->events[i];
        size_t j;
        for (j = 0; j < n; j++)
            if (positions[j].partition == ev->partition &&
                strcmp(positions[j].topic, ev->topic) == 0)
                break;
        if (j == n) {
            if (n == cap)
                continue;
            positions[n].topic = ev->topic;
            positions[n].partition = ev->partition;
            positions[n].next_offset = ev->offset + 1;
            n++;
        } else if (ev->offset + 1 > positions[j].next_offset) {
            positions[j].next_offset = ev->offset + 1;
        }
    }
    return n;
}

void projector_batch_reset(projector_batch *batch)
{
    for (size_t i = 0; i < batch->count; i++)
        if (batch->events[i].state != PROJECTOR_EVENT_DEAD)
            batch->events[i].state = PROJECTOR_EVENT_PENDING;
}

static bool mapped_new(const projector_event *ev, size_t mapping_count)
{
    return ev->state == PROJECTOR_EVENT_NEW && ev->mapping >= 0 &&
           (size_t)ev->mapping < mapping_count;
}

bool projector_batch_next_run(const projector_batch *batch, size_t from, const bool *set_mapping,
                              size_t mapping_count, projector_run *run)
{
    size_t i = from;
    while (i < batch->count && !mapped_new(&batch->events[i], mapping_count))
        i++;
    if (i >= batch->count)
        return false;
    const projector_event *head = &batch->events[i];
    run->first = i;
    run->end = i + 1;
    run->count = 1;
    run->mapping = head->mapping;
    run->set = set_mapping[head->mapping];
    if (!run->set || head->single)
        return true;
    for (size_t j = i + 1; j < batch->count; j++) {
        const projector_event *ev = &batch->events[j];
        if (!mapped_new(ev, mapping_count))
            continue; /* runs no statement: no order to keep */
        if (ev->mapping != run->mapping || ev->single)
            break;
        run->end = j + 1;
        run->count++;
    }
    return true;
}

bool projector_run_has(const projector_run *run, const projector_batch *batch, size_t i)
{
    if (i < run->first || i >= run->end)
        return false;
    const projector_event *ev = &batch->events[i];
    return ev->state == PROJECTOR_EVENT_NEW && ev->mapping == run->mapping &&
           (i == run->first || !ev->single);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

long projector_batch_mark(projector_batch *batch, const char *const *new_ids, size_t n)
{
    const char **sorted = NULL;
    bool *used = NULL;
    long fresh = 0;

    if (n > 0) {
        sorted = malloc(n * sizeof *sorted);
        used = calloc(n, sizeof *used);
        if (sorted == NULL || used == NULL) {
            free(sorted);
            free(used);
            return -1;
        }
        memcpy(sorted, new_ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_str);
    }
    for (size_t i = 0; i < batch->count; i++) {
        projector_event *ev = &batch->events[i];
        if (ev->state != PROJECTOR_EVENT_PENDING)
            continue;
        ev->state = PROJECTOR_EVENT_DUPLICATE;
        if (n == 0)
            continue;
        const char *key = ev->id;
        const char **hit = bsearch(&key, sorted, n, sizeof *sorted, cmp_str);
        if (hit == NULL)
            continue;
        /* Equal ids returned twice cannot happen (primary key); take the first unused. */
        size_t k = (size_t)(hit - sorted);
        while (k > 0 && strcmp(sorted[k - 1], key) == 0)
            k--;
        while (k < n && strcmp(sorted[k], key) == 0 && used[k])
            k++;
        if (k < n && strcmp(sorted[k], key) == 0) {
            used[k] = true;
            ev->state = PROJECTOR_EVENT_NEW;
            fresh++;
        }
    }
    free(sorted);
    free(used);
    return fresh;
}

size_t projector_batch_mark_all_new(projector_batch *batch)
{
    size_t fresh = 0;
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->events[i].state != PROJECTOR_EVENT_PENDING)
            continue;
        batch->events[i].state = PROJECTOR_EVENT_NEW;
        fresh++;
    }
    return fresh;
}

int projector_event_kill(projector_event *ev, const char *sqlstate, const char *reason)
{
    char *copy = strdup(reason ? reason : "unknown");
    if (copy == NULL)
        return -1;
    /* The reason goes into a text column and a Kafka header: printable ASCII only (a decode
     * error may quote bytes of the bad record). */
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = (*p == '\n' || *p == '\t') ? ' ' : '?';
    free(ev->reason);
    ev->reason = copy;
    snprintf(ev->sqlstate, sizeof ev->sqlstate, "%s", sqlstate ? sqlstate : "");
    ev->state = PROJECTOR_EVENT_DEAD;
    return 0;
}

int projector_uuid_normalize(const char *text, size_t len, char out[PROJECTOR_UUID_LEN + 1])
{
    if (text == NULL || len != PROJECTOR_UUID_LEN)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return -1;
            out[i] = c;
        } else {
            if (!isxdigit((unsigned char)c))
                return -1;
            out[i] = (char)tolower((unsigned char)c);
        }
    }
    out[len] = '\0';
    return 0;
}
