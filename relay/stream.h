#ifndef RELAY_STREAM_H
#define RELAY_STREAM_H

/*
 * relay_stream: the relay's replication connection to PostgreSQL.
 *
 * The only module that touches the replication PGconn. It opens a replication=database
 * connection (IDENTIFY_SYSTEM), checks or creates the logical slot (pgoutput), starts
 * streaming (START_REPLICATION ... LOGICAL, proto_version '1', publication_names, messages)
 * and then reads CopyData frames WITHOUT blocking: the caller polls relay_stream_fd() with its
 * own nearest deadline (next status update, next stats tick) and calls relay_stream_read()
 * until it reports RELAY_STREAM_WOULD_BLOCK. What arrives is either XLogData (one pgoutput
 * message: decode it with relay_pgoutput_decode()) or a primary keepalive. The caller sends
 * standby status updates (relay_stream_send_status) on its own schedule, at the latest when a
 * keepalive asks for a reply, and always well within the server's wal_sender_timeout.
 *
 * Lifecycle:  open -> [slot_ensure] -> start -> read / send_status ... -> finish -> close
 * open, slot_ensure, slot_drop and start run one command each and block until the server
 * answers (bounded by connect_timeout, default 10 s, and TCP keepalives): call them at start-up,
 * not inside the streaming loop. read, send_status and flush never block. finish is bounded by
 * its timeout. After finish the connection is back in command mode (slot_drop, start again).
 *
 * Errors: every call returns a code; negative codes fill the caller's errstr with what happened,
 * including the server's message and SQLSTATE when there is one, and say what to do:
 *   RELAY_STREAM_ERR_RETRIABLE  the connection was lost or the server is going away or is
 *                               overloaded (SQLSTATE classes 08, 53, 57P01-57P03; no SQLSTATE
 *                               at all), or TLS could not be set up (see below): close, back
 *                               off, open again.
 *   RELAY_STREAM_ERR_FATAL      retrying cannot help until someone changes something: slot
 *                               missing or in use by another process (SQLSTATE 55006), wrong
 *                               plugin, publication missing, protocol violation, bad arguments.
 *   RELAY_STREAM_ERR_REFUSED    (open only) the server is up and refused the connection: no
 *                               REPLICATION privilege, authentication, pg_hba.conf, no such
 *                               database - or a limit that passes (53300: max_wal_senders or
 *                               max_connections reached), which libpq cannot tell apart without
 *                               reading its message text. The caller decides: a relay that
 *                               never streamed stops (a configuration error shows at once), one
 *                               that has streamed retries with backoff, saying why each time.
 * relay_stream_sqlstate() gives the SQLSTATE of the last server error.
 *
 * A failed connection attempt has no SQLSTATE in libpq, and its message text is not an
 * interface: relay_stream_open() connects with outbox_pg_connect_why() (lib/pg_connect.h), which
 * classifies it from libpq's codes (the phase it failed in, sslmode, whether a password was
 * wanted or used, a ping) and confirms a refusal with a second attempt. A TLS failure while
 * sslmode insists on TLS is retried, and its message names sslmode, sslrootcert, sslcert and
 * sslkey and what each must be.
 *
 * Ownership: the caller owns the relay_stream from open until close. Thread-safety: none; one
 * thread (the relay's main loop) makes every call on a given stream.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_connect.h"
#include "pgoutput.h"

typedef struct relay_stream relay_stream;

typedef enum relay_stream_result {
    RELAY_STREAM_ERR_REFUSED = -3,
    RELAY_STREAM_ERR_FATAL = -2,
    RELAY_STREAM_ERR_RETRIABLE = -1,
    RELAY_STREAM_OK = 0,
    RELAY_STREAM_WOULD_BLOCK = 1, /* read: nothing complete yet; poll the fd for POLLIN */
    RELAY_STREAM_XLOGDATA = 2,    /* read: event->xlogdata is filled */
    RELAY_STREAM_KEEPALIVE = 3,   /* read: event->keepalive is filled */
    RELAY_STREAM_END = 4,         /* read: the server ended the stream cleanly (CopyDone) */
} relay_stream_result;

/* Longest slot name PostgreSQL accepts (NAMEDATALEN - 1). */
#define RELAY_STREAM_SLOT_NAME_MAX 63

/* What IDENTIFY_SYSTEM said. */
typedef struct relay_stream_system {
    char systemid[32];  /* the cluster's system identifier, decimal */
    uint32_t timeline;  /* current timeline */
    uint64_t xlogpos;   /* current WAL flush position */
    char dbname[64];    /* the database the slot decodes */
    int server_version; /* PQserverVersion(): 150020 for 15.20 */
} relay_stream_system;

/* The relay's reading of a failed connection's cause (outbox_pg_connect_classify() in
 * lib/pg_connect.h classifies it): RELAY_STREAM_ERR_REFUSED when the server refused it
 * (outbox_pg_connect_cause_refused()), else RELAY_STREAM_ERR_RETRIABLE. Pure. */
int relay_stream_connect_cause_result(outbox_pg_connect_cause cause);

/* What to do about a cause: outbox_pg_connect_cause_fix()'s text, except for a refusal, where
 * the relay's words name its replication connection's needs (REPLICATION, a `replication`
 * line in pg_hba.conf, max_wal_senders). Static. Pure. */
const char *relay_stream_connect_cause_fix(outbox_pg_connect_cause cause);

/*
 * Connect with `conninfo` (keyword/value string or URI; replication=database is added, a
 * connect_timeout of 10 s is the default, application_name falls back to "outbox-relay"), and
 * run IDENTIFY_SYSTEM. On success returns RELAY_STREAM_OK and *streamp owns the connection;
 * on error returns a negative code, fills errstr (libpq's message, then what to fix; for TLS the
 * sslmode, sslrootcert, sslcert and sslkey in force) and leaves *streamp NULL. connect_timeout
 * bounds the attempt at each address, as in libpq.
 */
int relay_stream_open(const char *conninfo, relay_stream **streamp, char *errstr,
                      size_t errstr_size) __attribute__((warn_unused_result));

/* IDENTIFY_SYSTEM's answer; valid until close. */
const relay_stream_system *relay_stream_get_system(const relay_stream *stream);

/* slot_ensure flags */
#define RELAY_STREAM_SLOT_CREATE 0x01    /* create the slot when it does not exist */
#define RELAY_STREAM_SLOT_TEMPORARY 0x02 /* ...as TEMPORARY: dropped when the connection ends */

typedef struct relay_stream_slot {
    bool created; /* this call created it */
    bool temporary;
    bool active;                  /* in use by a walsender right now (looked up only) */
    int active_pid;               /* that walsender's PID, 0 if none */
    uint64_t confirmed_flush_lsn; /* where streaming resumes (looked up only) */
    uint64_t restart_lsn;         /* oldest WAL the slot holds (looked up only) */
    uint64_t consistent_point;    /* created: where decoding starts */
} relay_stream_slot;

/*
 * Make sure logical slot `slot_name` (1-63 of [a-z0-9_]) exists for pgoutput in this database.
 * Looks it up in pg_replication_slots; when missing and RELAY_STREAM_SLOT_CREATE is set, creates
 * it (CREATE_REPLICATION_SLOT ... LOGICAL pgoutput, no snapshot), else fails (fatal). A slot of
 * another plugin, kind or database is fatal. Fills *slot (may be NULL). Command mode only.
 */
int relay_stream_slot_ensure(relay_stream *stream, const char *slot_name, int flags,
                             relay_stream_slot *slot, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* DROP_REPLICATION_SLOT slot_name (without WAIT: fails if it is active). Command mode only. */
int relay_stream_slot_drop(relay_stream *stream, const char *slot_name, char *errstr,
                           size_t errstr_size) __attribute__((warn_unused_result));

/*
 * START_REPLICATION SLOT slot_name LOGICAL start_lsn (proto_version '1', publication_names
 * '<publication_names>' [, messages 'true']). start_lsn 0 resumes at the slot's confirmed
 * position. `publication_names` is pgoutput's comma-separated list (quote identifiers that need
 * it with double quotes). Leaves the connection streaming and non-blocking. Note: PostgreSQL
 * 15 reports a missing publication only when the first change is decoded, so that error
 * arrives through relay_stream_read().
 */
int relay_stream_start(relay_stream *stream, const char *slot_name, uint64_t start_lsn,
                       const char *publication_names, bool messages, char *errstr,
                       size_t errstr_size) __attribute__((warn_unused_result));

/* The socket to poll (POLLIN always; POLLOUT while relay_stream_want_write()); -1 if none. */
int relay_stream_fd(const relay_stream *stream);

typedef struct relay_stream_event {
    relay_pgoutput_xlogdata xlogdata;   /* RELAY_STREAM_XLOGDATA */
    relay_pgoutput_keepalive keepalive; /* RELAY_STREAM_KEEPALIVE */
    const uint8_t *frame;               /* the whole CopyData frame as received (both kinds) */
    size_t frame_size;
} relay_stream_event;

/*
 * Read one frame without blocking. Returns RELAY_STREAM_XLOGDATA (event->xlogdata.data points
 * into a buffer the stream owns, valid until the next read, finish or close: decode or copy it
 * before), RELAY_STREAM_KEEPALIVE, RELAY_STREAM_WOULD_BLOCK, RELAY_STREAM_END (errstr says so;
 * reconnect like a retriable error), or a negative error, e.g. the server's ERROR that ended
 * the stream. Streaming state only.
 */
int relay_stream_read(relay_stream *stream, relay_stream_event *event, char *errstr,
                      size_t errstr_size) __attribute__((warn_unused_result));

/*
 * Send a standby status update: positions written, flushed (the slot's confirmed_flush_lsn
 * moves there: confirm only what is durably delivered) and applied, the current clock, and
 * whether the server should answer at once with a keepalive. The flushed position never goes
 * back: a lower one than already sent is replaced by it (older servers would move the slot
 * back; 15.20 ignores it), and written is at least flushed. Never blocks: if the socket is full the
 * rest is sent by later reads or relay_stream_flush(). Streaming state only.
 */
int relay_stream_send_status(relay_stream *stream, uint64_t written, uint64_t flushed,
                             uint64_t applied, bool reply_requested, char *errstr,
                             size_t errstr_size) __attribute__((warn_unused_result));

/* Output is queued: poll the fd for POLLOUT too and call relay_stream_flush(). */
bool relay_stream_want_write(const relay_stream *stream);
int relay_stream_flush(relay_stream *stream, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * End streaming cleanly: send a final status update reporting `lsn` (or the highest flushed
 * position already sent, if more) as written, flushed and applied, send CopyDone, then read
 * (discarding further data) until the server has ended the COPY and the command, within
 * `timeout_ms`. Returns RELAY_STREAM_OK with the connection back in command mode, or a negative
 * error (close it then). A no-op when not streaming.
 */
int relay_stream_finish(relay_stream *stream, uint64_t lsn, int timeout_ms, char *errstr,
                        size_t errstr_size) __attribute__((warn_unused_result));

/* SQLSTATE of the last error the server reported on this stream, "" if none. */
const char *relay_stream_sqlstate(const relay_stream *stream);

/* Close the connection (without a final status: call finish first for that) and free the
 * stream. NULL is ignored. The caller sets its pointer to NULL. */
void relay_stream_close(relay_stream *stream);

#endif
