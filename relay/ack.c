#include "ack.h"

#include <stdlib.h>
#include <string.h>

struct ack_txn {
    uint64_t end_lsn; /* 0 until committed */
    size_t pending;   /* messages not yet delivered */
    bool committed;
};

/* Transactions live in a ring, oldest first; txn seq N is at ring[(head + N - head_seq) % cap]. */
struct relay_ack {
    struct ack_txn *ring;
    size_t cap, head, count;
    uint64_t head_seq;  /* seq of ring[head] */
    uint64_t next_seq;  /* seq the next Begin gets; starts at 1 */
    bool open;          /* the newest transaction has not committed yet */
    uint64_t confirmed; /* highest LSN known confirmable */
    uint64_t idle_lsn;
    size_t inflight_bytes, inflight_msgs;
    bool failed;
};

relay_ack *relay_ack_new(uint64_t start_lsn)
{
    relay_ack *ack = calloc(1, sizeof(*ack));
    if (!ack)
        return NULL;
    ack->cap = 64;
    ack->ring = calloc(ack->cap, sizeof(*ack->ring));
    if (!ack->ring) {
        free(ack);
        return NULL;
    }
    ack->head_seq = 1;
    ack->next_seq = 1;
    ack->confirmed = start_lsn;
    ack->idle_lsn = start_lsn;
    return ack;
}

void relay_ack_free(relay_ack *ack)
{
    if (!ack)
        return;
    free(ack->ring);
    free(ack);
}

static struct ack_txn *ack_txn_at(relay_ack *ack, uint64_t seq)
{
    if (seq < ack->head_seq || seq >= ack->head_seq + ack->count)
        return NULL;
    return &ack->ring[(ack->head + (seq - ack->head_seq)) % ack->cap];
}

static int ack_grow(relay_ack *ack)
{
    size_t cap = ack->cap * 2;
    struct ack_txn *ring = calloc(cap, sizeof(*ring));
    if (!ring)
        return -1;
    for (size_t i = 0; i < ack->count; i++)
        ring[i] = ack->ring[(ack->head + i) % ack->cap];
    free(ack->ring);
    ack->ring = ring;
    ack->cap = cap;
    ack->head = 0;
    return 0;
}

uint64_t relay_ack_txn_begin(relay_ack *ack)
{
    if (ack->open)
        return 0;
    if (ack->count == ack->cap && ack_grow(ack) != 0)
        return 0;
    struct ack_txn *txn = &ack->ring[(ack->head + ack->count) % ack->cap];
    memset(txn, 0, sizeof(*txn));
    ack->count++;
    ack->open = true;
    return ack->next_seq++;
}

static struct ack_txn *ack_open_txn(relay_ack *ack, uint64_t seq)
{
    if (!ack->open || seq != ack->next_seq - 1)
        return NULL;
    return ack_txn_at(ack, seq);
}

int relay_ack_txn_add(relay_ack *ack, uint64_t seq, size_t bytes)
{
    struct ack_txn *txn = ack_open_txn(ack, seq);
    if (!txn)
        return -1;
    txn->pending++;
    ack->inflight_msgs++;
    ack->inflight_bytes += bytes;
    return 0;
}

int relay_ack_txn_extend(relay_ack *ack, uint64_t seq, size_t bytes)
{
    struct ack_txn *txn = ack_txn_at(ack, seq);
    if (!txn || txn->pending == 0)
        return -1;
    txn->pending++;
    ack->inflight_msgs++;
    ack->inflight_bytes += bytes;
    return 0;
}

int relay_ack_txn_commit(relay_ack *ack, uint64_t seq, uint64_t end_lsn)
{
    struct ack_txn *txn = ack_open_txn(ack, seq);
    if (!txn || end_lsn < ack->confirmed)
        return -1;
    txn->committed = true;
    txn->end_lsn = end_lsn;
    ack->open = false;
    return 0;
}

int relay_ack_delivered(relay_ack *ack, uint64_t seq, size_t bytes)
{
    struct ack_txn *txn = ack_txn_at(ack, seq);
    if (!txn || txn->pending == 0 || ack->inflight_bytes < bytes)
        return -1;
    txn->pending--;
    ack->inflight_msgs--;
    ack->inflight_bytes -= bytes;
    return 0;
}

void relay_ack_fail(relay_ack *ack)
{
    ack->failed = true;
}

bool relay_ack_failed(const relay_ack *ack)
{
    return ack->failed;
}

void relay_ack_idle(relay_ack *ack, uint64_t lsn)
{
    /* A keepalive in the middle of a transaction's data says nothing about its commit. */
    if (!ack->open && lsn > ack->idle_lsn)
        ack->idle_lsn = lsn;
}

uint64_t relay_ack_confirmable(relay_ack *ack)
{
    if (ack->failed)
        return ack->confirmed;
    /* Retire the fully delivered, committed prefix. */
    while (ack->count > 0) {
        struct ack_txn *txn = &ack->ring[ack->head];
        if (!txn->committed || txn->pending > 0)
            break;
        if (txn->end_lsn > ack->confirmed)
            ack->confirmed = txn->end_lsn;
        ack->head = (ack->head + 1) % ack->cap;
        ack->head_seq++;
        ack->count--;
    }
    /* Nothing open or in flight: the server's idle position is safe to confirm. */
    if (ack->count == 0 && ack->idle_lsn > ack->confirmed)
        ack->confirmed = ack->idle_lsn;
    return ack->confirmed;
}

size_t relay_ack_inflight_bytes(const relay_ack *ack)
{
    return ack->inflight_bytes;
}

size_t relay_ack_inflight_messages(const relay_ack *ack)
{
    return ack->inflight_msgs;
}

size_t relay_ack_txns(const relay_ack *ack)
{
    return ack->count;
}
