#include "idcache.h"

#include <stdlib.h>
#include <string.h>

struct idcache_slot {
    char *topic; /* NULL: empty slot */
    const outbox_schema *schema;
    int32_t id;
};

struct relay_idcache {
    struct idcache_slot *slots;
    size_t cap; /* a power of two */
    size_t len;
};

/* FNV-1a of the topic, mixed with the schema's address: the one hash of the cache. */
static uint64_t idcache_hash(const char *topic, const outbox_schema *schema)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h ^ (uint64_t)(uintptr_t)schema;
}

/* The slot holding (topic, schema), or the empty slot where it would go. */
static struct idcache_slot *idcache_slot_find(struct idcache_slot *slots, size_t cap,
                                              const char *topic, const outbox_schema *schema)
{
    for (size_t i = idcache_hash(topic, schema) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        struct idcache_slot *slot = &slots[i];
        if (!slot->topic || (slot->schema == schema && strcmp(slot->topic, topic) == 0))
            return slot;
    }
}

relay_idcache *relay_idcache_new(void)
{
    relay_idcache *cache = calloc(1, sizeof(*cache));
    if (!cache)
        return NULL;
    cache->cap = 64;
    cache->slots = calloc(cache->cap, sizeof(*cache->slots));
    if (!cache->slots) {
        free(cache);
        return NULL;
    }
    return cache;
}

void relay_idcache_free(relay_idcache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->cap; i++)
        free(cache->slots[i].topic);
    free(cache->slots);
    free(cache);
}

bool relay_idcache_get(const relay_idcache *cache, const char *topic, const outbox_schema *schema,
                       int32_t *id)
{
    const struct idcache_slot *slot = idcache_slot_find(cache->slots, cache->cap, topic, schema);
    if (!slot->topic)
        return false;
    *id = slot->id;
    return true;
}

static int idcache_grow(relay_idcache *cache)
{
    size_t cap = cache->cap * 2;
    struct idcache_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < cache->cap; i++) {
        if (cache->slots[i].topic)
            *idcache_slot_find(slots, cap, cache->slots[i].topic, cache->slots[i].schema) =
                cache->slots[i];
    }
    free(cache->slots);
    cache->slots = slots;
    cache->cap = cap;
    return 0;
}

int relay_idcache_put(relay_idcache *cache, const char *topic, const outbox_schema *schema,
                      int32_t id)
{
    struct idcache_slot *slot = idcache_slot_find(cache->slots, cache->cap, topic, schema);
    if (slot->topic) {
        slot->id = id;
        return 0;
    }
    if ((cache->len + 1) * 2 > cache->cap) {
        if (idcache_grow(cache) != 0)
            return -1;
        slot = idcache_slot_find(cache->slots, cache->cap, topic, schema);
    }
    slot->topic = strdup(topic);
    if (!slot->topic)
        return -1;
    slot->schema = schema;
    slot->id = id;
    cache->len++;
    return 0;
}

size_t relay_idcache_len(const relay_idcache *cache)
{
    return cache->len;
}
