#ifndef RELAY_IDCACHE_H
#define RELAY_IDCACHE_H

/*
 * relay_idcache: (topic, schema) -> schema registry id, so each pair is registered once per
 * process. Open addressing, grows at half full; the schema is compared by identity (the
 * compiled schemas live as long as the relay).
 *
 * Ownership: the cache copies topics; schemas are borrowed. Thread-safety: none (the relay's
 * loop thread only).
 */

#include <stdbool.h>
#include <stdint.h>

#include "avro_schema.h"

typedef struct relay_idcache relay_idcache;

/* An empty cache, or NULL on ENOMEM. Free with relay_idcache_free(). */
relay_idcache *relay_idcache_new(void) __attribute__((warn_unused_result));
void relay_idcache_free(relay_idcache *cache);

/* The id remembered for (topic, schema): true and *id set, or false. */
bool relay_idcache_get(const relay_idcache *cache, const char *topic, const outbox_schema *schema,
                       int32_t *id);

/* Remember (topic, schema) -> id (replacing an earlier id of the pair). 0, or -1 on ENOMEM
 * (the cache is unchanged). */
int relay_idcache_put(relay_idcache *cache, const char *topic, const outbox_schema *schema,
                      int32_t id) __attribute__((warn_unused_result));

/* Pairs remembered. */
size_t relay_idcache_len(const relay_idcache *cache);

#endif
