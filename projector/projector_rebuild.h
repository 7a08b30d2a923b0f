#ifndef PROJECTOR_REBUILD_H
#define PROJECTOR_REBUILD_H

/*
 * projector_rebuild: `outbox-projector rebuild NAME [--cancel | --drop-old]`, a rebuild of a
 * read model while the live one keeps serving and updating.
 *
 * The projection's schema S (the first schema of its connection's search_path) holds its
 * model AND the projector's tables (dedup, offsets, dead letters, generation), and nothing of
 * another projection. Readers address the model as S.table (or with S on their search_path).
 *
 *   1. Schema S__rebuild is created in one transaction: sql/projector.sql (compiled in), then
 *      the projection's `ddl` files, run with search_path = S__rebuild; S's USAGE grants are
 *      copied. If it exists already, the rebuild resumes from its stored offsets.
 *   2. projector.rebuild-workers runners (this process, one consumer group <group>.rebuild,
 *      each its own connection and its share of the partitions; no NOTIFY) apply the topics
 *      from the beginning into S__rebuild: dedup, offsets and effects in one transaction per
 *      batch, as in the daemon. One failed worker fails the build (resumable). Progress
 *      (events, rate, lag, ETA) is printed every second: a bar when stdout is a terminal, a
 *      plain line every 5 s otherwise.
 *   3. When the shadow is within two batches of the end, the swap transaction:
 *        SELECT ... FROM S.projector_projections FOR UPDATE   pauses the live daemon: every
 *            batch of it starts with a FOR SHARE of that row, so it waits here
 *        read S's offsets; wait (at most 60 s, else ROLLBACK and keep building) until the
 *            shadow's offsets reach them; stop the shadow's workers
 *        bump S's generation (the waiting live batch wakes up STALE and re-reads offsets),
 *            write generation+1 into the shadow
 *        ALTER SCHEMA S RENAME TO S__old_<UTC yyyymmddhhmmss>;
 *        ALTER SCHEMA S__rebuild RENAME TO S;  (plus projector_event_status's search_path)
 *      COMMIT. A schema rename invalidates every cached plan, so the live daemon's next
 *      statements address the new S and it goes on from the shadow's offsets.
 *   Readers see the old S or the new S, never neither; the new S is at or past the old one.
 *   A crash (kill -9) before COMMIT leaves S as it was and S__rebuild to resume from.
 *   Old models older than projector.rebuild-keep-old are dropped after a swap.
 *
 * --cancel drops S__rebuild; --drop-old drops every S__old_*. A session advisory lock keeps
 * two rebuilds (or a rebuild and a cancel) of one schema apart.
 *
 * Main thread; blocking; output on stdout.
 */

#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "projector_settings.h"

typedef enum projector_rebuild_action {
    PROJECTOR_REBUILD_RUN = 0,      /* build (or resume) and swap */
    PROJECTOR_REBUILD_CANCEL = 1,   /* drop the shadow schema */
    PROJECTOR_REBUILD_DROP_OLD = 2, /* drop the replaced models */
} projector_rebuild_action;

/* interrupted: set by a signal handler; the build stops cleanly (resumable). 0 done, -1 with
 * errstr. */
int projector_rebuild_run(const projector_settings *settings, const outbox_conf *conf,
                          const char *name, projector_rebuild_action action,
                          const volatile sig_atomic_t *interrupted, char *errstr,
                          size_t errstr_size) __attribute__((warn_unused_result));

/* The shadow's conninfo: `conninfo` with "-c search_path=SCHEMA" appended to its options
 * (URI or key=value input; key=value output). malloc'd; NULL when conninfo does not parse or
 * on ENOMEM. Pure. */
char *projector_conninfo_with_schema(const char *conninfo, const char *schema);

/* The progress line: "[#####.....]  45.0% 450000/1000000 events  8200 ev/s  lag 550000  ETA
 * 1m07s" (bar only when bar is true). Pure. */
void projector_rebuild_progress_format(char *out, size_t size, int64_t done, int64_t total,
                                       double rate, bool bar);

/* The rebuild's patience with a broker that does not answer its watermark queries for a while
 * (a leader moving, a restart): the build goes on and asks again, and ends only when the
 * trouble has lasted longer than giveup_ms. */
typedef enum {
    PROJECTOR_BROKER_OK,        /* the broker answered */
    PROJECTOR_BROKER_RECOVERED, /* it answered again after some trouble */
    PROJECTOR_BROKER_WAITING,   /* it did not answer; keep building and ask again */
    PROJECTOR_BROKER_GIVE_UP,   /* it has not answered for longer than giveup_ms */
} projector_broker_health;

/* One watermark query's outcome (answered or not, at now_ms) folded into *since_ms, the time
 * the trouble started (0: none; updated). Pure. */
projector_broker_health projector_rebuild_broker_health(int64_t *since_ms, bool answered,
                                                        int64_t now_ms, int64_t giveup_ms);

#endif
