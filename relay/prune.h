#ifndef RELAY_PRUNE_H
#define RELAY_PRUNE_H

/*
 * relay_prune: outbox.prune = on. Deletes the outbox rows whose events Kafka acknowledged and
 * whose position the relay confirmed to PostgreSQL, in small batches, on a thread and a
 * connection of its own (never on the replication loop's path).
 *
 * The relay knows rows only by what it streamed: the loop notes the id of every row it
 * published (relay_prune_note), hands the transaction's commit end LSN over at its Commit
 * (relay_prune_commit) and the confirmed position after each status update
 * (relay_prune_confirmed). The thread deletes, by `DELETE FROM <table> WHERE <id column> =
 * ANY($1)`, the rows noted at or below the confirmed position: a confirmed position covers only
 * events Kafka acknowledged (relay/ack.h), so an unpublished row is never deleted. Rows that
 * were dead-lettered, and logical-message events (no row), are never noted. A crash at any
 * point loses only the list: rows stay in the table (a later cleanup job or the next prune
 * never sees them; README "Cleanup").
 *
 * Errors are classified by SQLSTATE: insufficient_privilege (the role lacks DELETE) and any
 * other permanent error give the batch up (its rows stay), count and log it, and the relay
 * keeps relaying; connection loss, lock and serialization failures, timeouts retry the batch
 * after a backoff on a new connection.
 *
 * Ownership: the relay owns the prune (relay_prune_free joins the thread). Thread-safety:
 * note/commit/restart/confirmed on the relay's loop thread only; the stats are atomics any
 * thread may read. Every function accepts NULL (prune off) and then does nothing.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Counters of the prune thread (relaxed atomics; rendered by relay/stats.c). */
typedef struct relay_prune_stats {
    _Atomic uint64_t rows;             /* outbox rows deleted */
    _Atomic uint64_t errors_privilege; /* batches refused for lack of DELETE (SQLSTATE 42501) */
    _Atomic uint64_t errors_transient; /* batches retried: connection, lock, timeout */
    _Atomic uint64_t errors_other;     /* batches given up on another error */
    _Atomic uint64_t skipped;          /* confirmed rows left in the table (errors, full list) */
    _Atomic int64_t pending;           /* rows noted, not yet deleted or given up */
} relay_prune_stats;

/* How a failed DELETE is handled, from its SQLSTATE (NULL: no result, the connection broke). */
typedef enum relay_prune_err {
    RELAY_PRUNE_OK = 0,
    RELAY_PRUNE_ERR_PRIVILEGE, /* 42501: the batch is given up, counted, logged */
    RELAY_PRUNE_ERR_TRANSIENT, /* classes 08, 40, 53, 57, 55P03, no SQLSTATE: retried */
    RELAY_PRUNE_ERR_OTHER,     /* anything else (a missing table or column): given up */
} relay_prune_err;

/* The tables the thread deletes from: quoted schema.table and id column, by table index. */
typedef struct relay_prune_table {
    const char *schema, *relname, *id_column;
} relay_prune_table;

typedef struct relay_prune_config {
    const char *conninfo; /* an ordinary connection (postgres.conninfo) */
    const relay_prune_table *tables;
    size_t ntables;
    int64_t batch;       /* outbox.prune-batch: rows per DELETE */
    int64_t interval_ms; /* outbox.prune-interval: pause when nothing is deletable */
    relay_prune_stats *stats;
} relay_prune_config;

typedef struct relay_prune relay_prune;

/* Start the prune thread (it connects on its own, retrying). Everything in cfg is copied but
 * cfg->stats, which must outlive the prune. NULL with errstr on failure (ENOMEM, thread). */
relay_prune *relay_prune_start(const relay_prune_config *cfg, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* With settings->prune on: start the prune over the settings' outbox tables (id column, conninfo,
 * batch, interval) into *out; off: *out = NULL. 0, or -1 with errstr. */
struct relay_settings;
int relay_prune_start_settings(const struct relay_settings *settings, relay_prune_stats *stats,
                               relay_prune **out, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Stop and join the thread (a DELETE running finishes first, bounded by its statement_timeout)
 * and free everything. Rows still listed stay in the table. */
void relay_prune_free(relay_prune *p);

/* A row of table `table` (index in cfg->tables) with id `id` was published in the transaction
 * being received. */
void relay_prune_note(relay_prune *p, int table, const char *id);

/* The transaction being received committed, ending at end_lsn: its rows become deletable once
 * a confirmed position reaches end_lsn. */
void relay_prune_commit(relay_prune *p, uint64_t end_lsn);

/* A new stream starts: the rows of a transaction received only in part are forgotten (it comes
 * again, whole). */
void relay_prune_restart(relay_prune *p);

/* `lsn` was confirmed to PostgreSQL (everything up to it acknowledged by Kafka). */
void relay_prune_confirmed(relay_prune *p, uint64_t lsn);

/* Pure, for tests: the SQLSTATE's class, as above. */
relay_prune_err relay_prune_classify(const char *sqlstate);

#endif
