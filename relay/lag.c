#include "lag.h"

#include <stdlib.h>

struct lag_entry {
    uint64_t end_lsn;
    int64_t commit_us;
};

struct relay_lag {
    struct lag_entry *ring;
    size_t head, len, cap;
};

relay_lag *relay_lag_new(void)
{
    return calloc(1, sizeof(relay_lag));
}

void relay_lag_free(relay_lag *lag)
{
    if (!lag)
        return;
    free(lag->ring);
    free(lag);
}

void relay_lag_reset(relay_lag *lag)
{
    lag->head = 0;
    lag->len = 0;
}

static int lag_grow(relay_lag *lag)
{
    size_t cap = lag->cap ? lag->cap * 2 : 256;
    struct lag_entry *ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return -1;
    for (size_t i = 0; i < lag->len; i++)
        ring[i] = lag->ring[(lag->head + i) % lag->cap];
    free(lag->ring);
    lag->ring = ring;
    lag->cap = cap;
    lag->head = 0;
    return 0;
}

int relay_lag_push(relay_lag *lag, uint64_t end_lsn, int64_t commit_us)
{
    if (lag->len == lag->cap && lag_grow(lag) != 0)
        return -1;
    lag->ring[(lag->head + lag->len) % lag->cap] = (struct lag_entry){end_lsn, commit_us};
    lag->len++;
    return 0;
}

bool relay_lag_confirm(relay_lag *lag, uint64_t confirmed, int64_t *last_commit_us)
{
    bool any = false;
    while (lag->len > 0 && lag->ring[lag->head].end_lsn <= confirmed) {
        *last_commit_us = lag->ring[lag->head].commit_us;
        lag->head = (lag->head + 1) % lag->cap;
        lag->len--;
        any = true;
    }
    return any;
}

int64_t relay_lag_oldest(const relay_lag *lag)
{
    return lag->len ? lag->ring[lag->head].commit_us : 0;
}

size_t relay_lag_len(const relay_lag *lag)
{
    return lag->len;
}
