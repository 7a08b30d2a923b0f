#ifndef RELAY_RELAY_H
#define RELAY_RELAY_H

/*
 * relay: the outbox relay's engine. One thread runs the loop: read the replication stream,
 * route and encode each outbox event, hand it to the producer, serve delivery reports, confirm
 * what Kafka acknowledged, send status updates on a deadline, and dead-letter bad input.
 *
 * Ownership: relay_new() borrows `settings` and `conf` (both must outlive the relay).
 * Thread-safety: every function on the thread that created the relay, except
 * relay_stats_render(), which any thread (the HTTP server's) may call at any time.
 */

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dlq.h"
#include "prune.h"
#include "txn.h"
#include "settings.h"

/* The one stats struct of the daemon. Written by the loop with relaxed atomics, read by the
 * metrics renderer from another thread. */
typedef struct relay_stats {
    _Atomic uint64_t events_published;  /* events handed to Kafka (not dead letters) */
    _Atomic uint64_t events_acked;      /* delivery reports with success (incl. dead letters) */
    _Atomic uint64_t delivery_failures; /* delivery reports with an error */
    _Atomic uint64_t delivery_retries;  /* messages held to be produced again (topic unknown) */
    _Atomic uint64_t held_messages;     /* of those, not yet produced again */
    _Atomic uint64_t dead_letters[RELAY_DLQ_REASONS];
    _Atomic uint64_t rows_ignored;     /* UPDATE/DELETE/TRUNCATE of the outbox, not published */
    _Atomic uint64_t messages_ignored; /* non-transactional logical messages, prefix ours */
    _Atomic uint64_t reserved_headers_dropped; /* headers-column entries with a reserved name */
    _Atomic uint64_t reserved_header_events;   /* events that had such entries */
    _Atomic uint64_t transactions;             /* commits seen */
    _Atomic uint64_t bytes_published;          /* key + value bytes handed to Kafka */
    _Atomic uint64_t status_updates;           /* standby status updates sent */
    _Atomic uint64_t registry_retries;         /* registry calls retried while it was unavailable */
    _Atomic uint64_t reconnects;               /* replication connection re-established */
    _Atomic uint64_t confirmed_lsn;            /* last LSN confirmed to PostgreSQL */
    _Atomic uint64_t received_lsn;             /* last WAL position received */
    _Atomic uint64_t server_wal_end;           /* server's WAL end from the last keepalive */
    _Atomic uint64_t inflight_bytes;
    _Atomic uint64_t inflight_messages;
    _Atomic int64_t last_confirmed_commit_us;     /* commit time of the newest confirmed txn */
    _Atomic int64_t oldest_unconfirmed_commit_us; /* of the oldest unconfirmed txn; 0: none */
    _Atomic int64_t started_us;
    _Atomic int streaming;         /* 1 while the replication stream is up */
    _Atomic int role;              /* relay_role */
    _Atomic uint64_t takeovers;    /* leases taken over from another relay, as standby */
    _Atomic uint64_t lease_losses; /* leases lost while streaming */
    _Atomic int slot_health;       /* relay_slot_health (slothealth.h), read while streaming */
    _Atomic int64_t slot_wal_retained_bytes; /* WAL the slot holds back */
    _Atomic int64_t slot_safe_wal_bytes;     /* safe_wal_size; -1: unlimited */
    _Atomic int64_t slot_wal_keep_bytes;     /* max_slot_wal_keep_size; -1: unlimited */
    relay_prune_stats prune;                 /* outbox.prune's thread */
    relay_txn_stats eos;                     /* relay.exactly-once */
} relay_stats;

/* Which of the relays sharing a slot this one is (relay.lease-ttl; relay/lease.h). */
typedef enum relay_role {
    RELAY_ROLE_STARTING = 0, /* before the first lease attempt */
    RELAY_ROLE_STANDBY = 1,  /* waiting: another relay holds the slot's lease */
    RELAY_ROLE_ACTIVE = 2    /* holds the lease: streams the slot */
} relay_role;

typedef struct relay relay;

int relay_new(const relay_settings *settings, const outbox_conf *conf, relay **out, char *errstr,
              size_t errstr_size) __attribute__((warn_unused_result));

/* Run until *stop becomes non-zero (then drain and confirm, return 0) or a fatal error
 * (return 1, errstr says why; nothing undelivered was confirmed). Retriable replication errors
 * reconnect with backoff inside. */
int relay_run(relay *r, volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

void relay_free(relay *r);

const relay_stats *relay_get_stats(const relay *r);

/* Prometheus text of the stats (malloc'd, caller frees). Any thread. */
char *relay_stats_render(const relay_stats *stats);

/* `outbox-relay check`: validate the live environment and print every problem with its fix to
 * `out`. Returns the number of problems (0 = ready). */
int relay_check(const relay_settings *settings, const outbox_conf *conf, FILE *out);

#endif
