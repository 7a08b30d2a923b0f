#ifndef RELAY_TXN_H
#define RELAY_TXN_H

/*
 * relay_txn: exactly-once publishing into Kafka (relay.exactly-once = on; off by default, and
 * then every function here is a no-op on a NULL handle, so the default mode is unchanged).
 *
 * What it guarantees: a consumer reading with isolation.level=read_committed sees each outbox
 * event once, after any crash of the relay (kill -9 included), of the broker or of PostgreSQL.
 * A read_uncommitted consumer still sees aborted records: duplicates are possible for it.
 *
 * How:
 * - The producer is transactional: transactional.id = relay.transactional-id, by default
 *   "outbox-relay.<postgres.slot>", so a standby relay with the same configuration has the same
 *   id. When it takes over it calls rd_kafka_init_transactions(), which aborts what the old
 *   active relay left open and FENCES it: the old producer's next transactional call fails with
 *   a fatal error (its epoch is stale), so a paused relay that wakes up can no longer publish.
 *   init_transactions runs only once this relay holds the slot's lease (relay/lease.h), never
 *   while it waits as standby, so two relays never fence each other in turns.
 * - Grouping: one Kafka transaction covers whole PostgreSQL transactions only (it is committed at
 *   a Commit boundary, never inside one), and is committed when it holds relay.txn-max-events
 *   messages, when it is relay.txn-max-time old, or as soon as the replication stream has
 *   nothing more to read (so a quiet stream does not wait for the timer). Dead letters and the
 *   small records of too-large events of the group go into the same Kafka transaction (they are
 *   produced on the same producer).
 * - State: before committing, a record keyed by the transactional id whose value is the end LSN
 *   of the last PostgreSQL transaction the group covers (relay/txnstate.h: version 1, 9 bytes)
 *   goes to the compacted state topic (relay.state-topic, by default
 *   "<postgres.slot>.outbox-relay-state", created with cleanup.policy=compact when missing and
 *   allowed; `check` verifies the policy) IN THE SAME Kafka transaction. Commit; only then may
 *   the LSN be confirmed to PostgreSQL: relay_txn_cap() holds the confirmable LSN at the end of
 *   the last committed group while a group is open (delivery reports of a transaction's records
 *   arrive before its commit, so the ack tracker alone would confirm too early).
 * - Start (each time streaming starts): init_transactions (once per producer), abort a group
 *   left open, make sure the state topic exists, read it to its end with read_committed and take
 *   the last LSN K of our key. PostgreSQL resends from the slot's confirmed_flush_lsn, which can
 *   be older than K (the crash came between Kafka's commit and the status update): every
 *   PostgreSQL transaction whose end LSN <= K is skipped (relay_txn_skip()) and confirmed.
 * - Errors, classified by librdkafka's error objects: retriable ones are retried (commit) or
 *   restart the stream; abortable ones (rd_kafka_error_txn_requires_abort, or a failed delivery
 *   inside the group) abort the Kafka transaction and restart streaming from the confirmed
 *   position (nothing confirmed past what committed); fatal ones (fenced by a newer instance, a
 *   state record that cannot be read) stop the relay with exit status 1 and a message, for the
 *   supervisor to restart it (as a standby, when another relay took over).
 *
 * Cost: a commit is a round trip to the transaction coordinator plus markers per partition;
 * read_committed consumers see a group only once it commits (latency up to one group).
 *
 * Thread-safety: the relay's loop thread only (the producer's delivery reports are served on
 * it, also inside commit and abort).
 */

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "settings.h"

typedef struct relay_txn relay_txn;

/* Counters of the engine (relaxed atomics, written on the loop thread; rendered by
 * relay/stats.c, all 0 while exactly-once is off). */
typedef struct relay_txn_stats {
    _Atomic uint64_t committed;     /* Kafka transactions committed */
    _Atomic uint64_t aborted;       /* Kafka transactions aborted by this relay */
    _Atomic uint64_t skipped;       /* PostgreSQL transactions skipped: already in Kafka */
    _Atomic uint64_t committed_lsn; /* end LSN the last committed Kafka transaction covers */
} relay_txn_stats;

typedef enum relay_txn_rc {
    RELAY_TXN_OK = 0,
    RELAY_TXN_ERR_RESTART = -1, /* aborted, or Kafka not answering: restart streaming from the
                                 * slot's confirmed position */
    RELAY_TXN_ERR_FATAL = -2,   /* fenced, fatal producer error, unreadable state: exit 1 */
} relay_txn_rc;

/* ---- pure parts */

/* Whether a PostgreSQL transaction whose Commit record starts at `commit_lsn` (Begin's final
 * LSN) is already in Kafka, given the state's LSN `kafka_lsn` (the END LSN of the last
 * transaction committed to Kafka; 0: none). A transaction ends after its commit record starts,
 * and the next one's commit record starts at or after that end, so commit_lsn < kafka_lsn holds
 * exactly for the transactions whose end LSN <= kafka_lsn. */
bool relay_txn_skip(uint64_t kafka_lsn, uint64_t commit_lsn);

/* The longest the loop thread may block in one call of the engine (init, a commit with its
 * retries, an abort, the state read), for the lease's keep-alive bound. Pure. */
int64_t relay_txn_longest_block_ms(void);

/* The effective transactional id and state topic of the settings (their defaults derive from
 * postgres.slot). Return the length written (truncated to size like snprintf). */
int relay_txn_id(const relay_settings *s, char *out, size_t size);
int relay_txn_state_topic(const relay_settings *s, char *out, size_t size);

/* ---- the engine */

/* Make the producer's configuration transactional (transactional.id) when exactly-once is on;
 * nothing otherwise. 0, or -1 with errstr. */
int relay_txn_conf(const relay_settings *s, rd_kafka_conf_t *kconf, char *errstr,
                   size_t errstr_size) __attribute__((warn_unused_result));

/* *out = the engine over `producer` (borrowed, created with relay_txn_conf's settings), or NULL
 * when exactly-once is off. `s`, `conf` and `stats` are borrowed and must outlive it. 0, or -1
 * (ENOMEM). */
int relay_txn_new(const relay_settings *s, const outbox_conf *conf, rd_kafka_t *producer,
                  relay_txn_stats *stats, relay_txn **out, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Abort a group still open (bounded wait), then free. NULL is fine. Before the producer goes. */
void relay_txn_free(relay_txn *t);

/* Streaming starts at the slot's confirmed `start_lsn` (this relay holds the lease): init
 * transactions (first time), abort a leftover group, ensure and read the state topic. */
relay_txn_rc relay_txn_start(relay_txn *t, uint64_t start_lsn, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* A PostgreSQL transaction begins (its commit record at `commit_lsn`): true when it is already
 * in Kafka, to be skipped (its events not produced, its commit still confirmed). */
bool relay_txn_skip_begin(relay_txn *t, uint64_t commit_lsn);

/* A message is about to be produced: opens a Kafka transaction when none is. 0, or a
 * relay_txn_rc with errstr. */
relay_txn_rc relay_txn_before_produce(relay_txn *t, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* A PostgreSQL transaction (not skipped) committed at `end_lsn`: the open group covers it. */
void relay_txn_pg_commit(relay_txn *t, uint64_t end_lsn);

/* Whether the open group is due for commit (count or age) and the stream is at a commit
 * boundary, so the reader should pause for relay_txn_tick(). */
bool relay_txn_due(relay_txn *t);

/* Commit the group when due, or when `idle` (nothing more to read); never while `in_pg_txn`. */
relay_txn_rc relay_txn_tick(relay_txn *t, bool idle, bool in_pg_txn, char *errstr,
                            size_t errstr_size) __attribute__((warn_unused_result));

/* Stopping: commit the open group if it holds whole PostgreSQL transactions, else abort it. */
relay_txn_rc relay_txn_finish(relay_txn *t, bool in_pg_txn, char *errstr, size_t errstr_size);

/* A delivery failed with `err`. Exactly-once on: the group can no longer commit and will be
 * aborted (true: absorbed, the caller goes on) unless the failure is the event's own and
 * would repeat (a record the broker refuses as too large: false, the relay fails closed).
 * Off: false. */
bool relay_txn_absorb_failure(relay_txn *t, rd_kafka_resp_err_t err);

/* The LSN that may be confirmed given the ack tracker's `confirmable`: held at the end of the
 * last committed group while a group is open or after an abort. Never decreases between two
 * relay_txn_start(). Off: `confirmable`. */
uint64_t relay_txn_cap(relay_txn *t, uint64_t confirmable);

#endif
