#ifndef RELAY_PGOUTPUT_H
#define RELAY_PGOUTPUT_H

/*
 * relay_pgoutput: the pure wire protocol of logical replication, bytes in, structs out.
 *
 * Two layers, both described in the PostgreSQL protocol documentation:
 *  - the CopyData frames of the streaming replication protocol ("Streaming Replication
 *    Protocol"): XLogData 'w' and primary keepalive 'k' from the server, the standby status
 *    update 'r' to it;
 *  - the pgoutput messages (protocol version 1) inside an XLogData payload ("Logical
 *    Replication Message Formats"): Begin, Commit, Origin, Relation, Type, Insert, Update,
 *    Delete, Truncate and Message (the last one with pgoutput option messages 'true').
 *
 * Strict: a read function accepts exactly one complete message of its type and nothing else.
 * Truncated input, trailing bytes, unknown message types, unknown flags and unknown tuple
 * kinds are rejected with -1 and an errstr naming the message and the field, e.g.
 * "Insert: truncated at column 3 length" (columns are numbered from 1). Messages of later
 * protocol versions (streaming, two-phase) are rejected as not valid in version 1.
 *
 * Zero-copy: strings, tuple values and message contents point INTO the caller's input buffer
 * and stay valid exactly as long as that buffer does (for the relay: until the next
 * relay_stream_read(), which frees the previous CopyData buffer). Strings (names, prefixes)
 * are NUL-terminated in the input itself, so they are ordinary C strings; tuple values and
 * message contents are not NUL-terminated: use their length. Copy what must live longer.
 *
 * Variable-length parts (Relation columns, tuple values, Truncate relation ids) are validated
 * completely by the read function and then walked with a cursor that cannot fail, so reading a
 * message allocates nothing.
 *
 * Pure: no I/O, no allocation, no clock, no global state. Every function is thread-safe;
 * distinct threads may decode distinct (or the same, read-only) buffers at once.
 *
 * Integers are big-endian on the wire. LSNs are uint64_t (0 is InvalidXLogRecPtr);
 * timestamps are int64_t microseconds since the PostgreSQL epoch, 2000-01-01 00:00:00 UTC.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ LSNs and time */

/* printf an LSN the PostgreSQL way: printf("at " RELAY_LSN_FMT, RELAY_LSN_ARGS(lsn)). */
#ifndef RELAY_LSN_FMT
#define RELAY_LSN_FMT "%X/%X"
#define RELAY_LSN_ARGS(lsn) ((unsigned int)((uint64_t)(lsn) >> 32)), ((unsigned int)(uint64_t)(lsn))
#endif

/* Longest formatted LSN "FFFFFFFF/FFFFFFFF" plus the NUL. */
#define RELAY_LSN_BUFSIZE 18

/*
 * Parse "X/X" (one to eight hex digits, either case, on each side of the slash, nothing else)
 * into *lsn. Returns 0, or -1 (and leaves *lsn alone) for anything else. Thread-safe.
 */
int relay_pgoutput_lsn_parse(const char *text, uint64_t *lsn) __attribute__((warn_unused_result));

/*
 * Format `lsn` as "%X/%X" into buf (RELAY_LSN_BUFSIZE bytes always suffice). Returns the
 * length written, or -1 if buf is too small (buf then holds "" when size > 0). Thread-safe.
 */
int relay_pgoutput_lsn_format(uint64_t lsn, char *buf, size_t size);

/* Microseconds from the Unix epoch (1970) to the PostgreSQL epoch (2000-01-01 UTC). */
#define RELAY_PGOUTPUT_EPOCH_OFFSET_USEC INT64_C(946684800000000)

/* Convert between PostgreSQL-epoch and Unix-epoch microseconds. Values the other epoch cannot
 * hold (a timestamp near PostgreSQL's +-infinity, INT64_MAX/MIN, or a corrupt frame) saturate
 * instead of overflowing. */
static inline int64_t relay_pgoutput_time_to_unix_usec(int64_t pg_usec)
{
    if (pg_usec > INT64_MAX - RELAY_PGOUTPUT_EPOCH_OFFSET_USEC)
        return INT64_MAX;
    return pg_usec + RELAY_PGOUTPUT_EPOCH_OFFSET_USEC;
}
static inline int64_t relay_pgoutput_time_from_unix_usec(int64_t unix_usec)
{
    if (unix_usec < INT64_MIN + RELAY_PGOUTPUT_EPOCH_OFFSET_USEC)
        return INT64_MIN;
    return unix_usec - RELAY_PGOUTPUT_EPOCH_OFFSET_USEC;
}

/* ------------------------------------------------------------------ replication frames */

/* XLogData 'w': WAL data from the server; for logical replication, one pgoutput message. */
typedef struct relay_pgoutput_xlogdata {
    uint64_t wal_start;  /* LSN of the start of the data (for pgoutput: of the change) */
    uint64_t wal_end;    /* current end of WAL on the server */
    int64_t send_time;   /* server clock at transmission, PostgreSQL epoch microseconds */
    const uint8_t *data; /* the payload (points into the frame); may be empty */
    size_t size;
} relay_pgoutput_xlogdata;

/* Primary keepalive 'k'. */
typedef struct relay_pgoutput_keepalive {
    uint64_t wal_end;     /* current end of WAL on the server (for a logical walsender: the
                             position it has sent up to) */
    int64_t send_time;    /* server clock at transmission, PostgreSQL epoch microseconds */
    bool reply_requested; /* the server wants a status update now (wal_sender_timeout near) */
} relay_pgoutput_keepalive;

/* Size of a standby status update 'r'. */
#define RELAY_PGOUTPUT_STATUS_SIZE 34

/* Read one CopyData frame of the given kind. Returns 0, or -1 with errstr set. */
int relay_pgoutput_read_xlogdata(const uint8_t *buf, size_t len, relay_pgoutput_xlogdata *out,
                                 char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_keepalive(const uint8_t *buf, size_t len, relay_pgoutput_keepalive *out,
                                  char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * Write a standby status update into out: the LSNs written, flushed (this one becomes the
 * slot's confirmed_flush_lsn) and applied, the client clock `now` (PostgreSQL epoch
 * microseconds) and whether the server should answer at once with a keepalive.
 */
void relay_pgoutput_write_status(uint8_t out[RELAY_PGOUTPUT_STATUS_SIZE], uint64_t written,
                                 uint64_t flushed, uint64_t applied, int64_t now,
                                 bool reply_requested);

/* ------------------------------------------------------------------ pgoutput messages */

/* The message type is the first byte of an XLogData payload. */
typedef enum relay_pgoutput_type {
    RELAY_PGOUTPUT_BEGIN = 'B',
    RELAY_PGOUTPUT_COMMIT = 'C',
    RELAY_PGOUTPUT_ORIGIN = 'O',
    RELAY_PGOUTPUT_RELATION = 'R',
    RELAY_PGOUTPUT_TYPE = 'Y',
    RELAY_PGOUTPUT_INSERT = 'I',
    RELAY_PGOUTPUT_UPDATE = 'U',
    RELAY_PGOUTPUT_DELETE = 'D',
    RELAY_PGOUTPUT_TRUNCATE = 'T',
    RELAY_PGOUTPUT_MESSAGE = 'M',
} relay_pgoutput_type;

/*
 * A cursor over the validated variable part of a message (Relation columns, tuple values).
 * Filled by relay_pgoutput_columns_begin() / relay_pgoutput_tuple_begin(); plain data, may be
 * copied; valid as long as the input buffer.
 */
typedef struct relay_pgoutput_cursor {
    const uint8_t *pos;
    const uint8_t *end;
    uint16_t left;
} relay_pgoutput_cursor;

typedef struct relay_pgoutput_begin {
    uint64_t final_lsn;  /* LSN of the commit record; never 0 */
    int64_t commit_time; /* PostgreSQL epoch microseconds */
    uint32_t xid;
} relay_pgoutput_begin;

typedef struct relay_pgoutput_commit {
    uint8_t flags;       /* always 0 in version 1 (anything else is rejected) */
    uint64_t commit_lsn; /* LSN of the commit record (= Begin's final_lsn) */
    uint64_t end_lsn;    /* end of the commit record: the position to confirm */
    int64_t commit_time; /* PostgreSQL epoch microseconds */
} relay_pgoutput_commit;

typedef struct relay_pgoutput_origin {
    uint64_t origin_lsn; /* commit LSN on the origin server */
    const char *name;    /* origin name */
} relay_pgoutput_origin;

/* Replica identity settings (pg_class.relreplident). */
#define RELAY_PGOUTPUT_IDENTITY_DEFAULT 'd'
#define RELAY_PGOUTPUT_IDENTITY_NOTHING 'n'
#define RELAY_PGOUTPUT_IDENTITY_FULL 'f'
#define RELAY_PGOUTPUT_IDENTITY_INDEX 'i'

/* Relation column flag: the column is part of the replica identity key. */
#define RELAY_PGOUTPUT_COLUMN_KEY 0x01

typedef struct relay_pgoutput_relation {
    uint32_t relid;        /* the table's OID: Insert/Update/Delete refer to it */
    const char *nspname;   /* schema; "" for pg_catalog */
    const char *relname;   /* table name */
    char replica_identity; /* RELAY_PGOUTPUT_IDENTITY_* */
    uint16_t ncols;        /* columns that follow (generated columns are not sent) */
    const uint8_t *columns;
    size_t columns_size;
} relay_pgoutput_relation;

typedef struct relay_pgoutput_column {
    uint8_t flags;     /* 0 or RELAY_PGOUTPUT_COLUMN_KEY */
    const char *name;  /* column name */
    uint32_t type_oid; /* pg_type OID of the column's type */
    int32_t typmod;    /* atttypmod; -1 when none */
} relay_pgoutput_column;

typedef struct relay_pgoutput_type_msg {
    uint32_t type_oid;   /* the OID of a non-builtin type used by a following Relation */
    const char *nspname; /* schema; "" for pg_catalog */
    const char *typname;
} relay_pgoutput_type_msg;

/* Kinds of tuple values. */
#define RELAY_PGOUTPUT_VALUE_NULL 'n'      /* SQL NULL; no data */
#define RELAY_PGOUTPUT_VALUE_UNCHANGED 'u' /* unchanged TOASTed value (Update only); no data */
#define RELAY_PGOUTPUT_VALUE_TEXT 't'      /* text output of the type */
#define RELAY_PGOUTPUT_VALUE_BINARY 'b'    /* binary send format (only with binary 'true') */

/* A TupleData: `ncols` values, validated, walked with relay_pgoutput_tuple_begin/_next. */
typedef struct relay_pgoutput_tuple {
    uint16_t ncols;
    const uint8_t *values;
    size_t values_size;
} relay_pgoutput_tuple;

typedef struct relay_pgoutput_value {
    char kind;        /* RELAY_PGOUTPUT_VALUE_* */
    const char *data; /* NOT NUL-terminated; NULL for 'n' and 'u' */
    uint32_t len;     /* 0 for 'n' and 'u' */
} relay_pgoutput_value;

typedef struct relay_pgoutput_insert {
    uint32_t relid;
    relay_pgoutput_tuple newtuple;
} relay_pgoutput_insert;

/* Which old row image an Update or Delete carries. */
#define RELAY_PGOUTPUT_OLD_NONE 0   /* Update only: key unchanged, identity not FULL */
#define RELAY_PGOUTPUT_OLD_KEY 'K'  /* the replica identity key columns (others are NULL) */
#define RELAY_PGOUTPUT_OLD_FULL 'O' /* the whole old row (REPLICA IDENTITY FULL) */

typedef struct relay_pgoutput_update {
    uint32_t relid;
    char old_kind;                 /* RELAY_PGOUTPUT_OLD_NONE, _KEY or _FULL */
    relay_pgoutput_tuple oldtuple; /* ncols 0 when old_kind is NONE */
    relay_pgoutput_tuple newtuple;
} relay_pgoutput_update;

typedef struct relay_pgoutput_delete {
    uint32_t relid;
    char old_kind; /* RELAY_PGOUTPUT_OLD_KEY or _FULL */
    relay_pgoutput_tuple oldtuple;
} relay_pgoutput_delete;

/* Truncate option bits. */
#define RELAY_PGOUTPUT_TRUNCATE_CASCADE 0x01
#define RELAY_PGOUTPUT_TRUNCATE_RESTART_IDENTITY 0x02

typedef struct relay_pgoutput_truncate {
    uint8_t options; /* RELAY_PGOUTPUT_TRUNCATE_* bits */
    uint32_t nrelids;
    const uint8_t *relids; /* nrelids big-endian OIDs: use relay_pgoutput_truncate_relid() */
} relay_pgoutput_truncate;

/* Logical decoding message flag: emitted with pg_logical_emit_message(true, ...). */
#define RELAY_PGOUTPUT_MESSAGE_TRANSACTIONAL 0x01

typedef struct relay_pgoutput_message {
    uint8_t flags;          /* 0 or RELAY_PGOUTPUT_MESSAGE_TRANSACTIONAL */
    bool transactional;     /* between Begin and Commit; else delivered at once, alone */
    uint64_t lsn;           /* LSN of the message record */
    const char *prefix;     /* the prefix given to pg_logical_emit_message */
    const uint8_t *content; /* NOT NUL-terminated */
    uint32_t content_len;
} relay_pgoutput_message;

/* Any one message: `type` says which member is filled. */
typedef struct relay_pgoutput_msg {
    relay_pgoutput_type type;
    union {
        relay_pgoutput_begin begin;
        relay_pgoutput_commit commit;
        relay_pgoutput_origin origin;
        relay_pgoutput_relation relation;
        relay_pgoutput_type_msg type_msg;
        relay_pgoutput_insert insert;
        relay_pgoutput_update update;
        relay_pgoutput_delete delete_;
        relay_pgoutput_truncate truncate;
        relay_pgoutput_message message;
    } u;
} relay_pgoutput_msg;

/*
 * Read one complete message of one type from buf[0..len) (type byte included). Each returns 0
 * and fills *out, or -1 with errstr set ("<Message>: <what> at <field>") and *out undefined.
 */
int relay_pgoutput_read_begin(const uint8_t *buf, size_t len, relay_pgoutput_begin *out,
                              char *errstr, size_t errstr_size) __attribute__((warn_unused_result));
int relay_pgoutput_read_commit(const uint8_t *buf, size_t len, relay_pgoutput_commit *out,
                               char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_origin(const uint8_t *buf, size_t len, relay_pgoutput_origin *out,
                               char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_relation(const uint8_t *buf, size_t len, relay_pgoutput_relation *out,
                                 char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_type(const uint8_t *buf, size_t len, relay_pgoutput_type_msg *out,
                             char *errstr, size_t errstr_size) __attribute__((warn_unused_result));
int relay_pgoutput_read_insert(const uint8_t *buf, size_t len, relay_pgoutput_insert *out,
                               char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_update(const uint8_t *buf, size_t len, relay_pgoutput_update *out,
                               char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_delete(const uint8_t *buf, size_t len, relay_pgoutput_delete *out,
                               char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_truncate(const uint8_t *buf, size_t len, relay_pgoutput_truncate *out,
                                 char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
int relay_pgoutput_read_message(const uint8_t *buf, size_t len, relay_pgoutput_message *out,
                                char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * Read any message: dispatch on the first byte to the read function above. Returns 0 and
 * fills msg->type and the matching member, or -1 with errstr set (empty input, an unknown
 * type, a type of a later protocol version, or the reader's error).
 */
int relay_pgoutput_decode(const uint8_t *buf, size_t len, relay_pgoutput_msg *msg, char *errstr,
                          size_t errstr_size) __attribute__((warn_unused_result));

/* The name of a message type byte for messages ("Insert", "Stream Start"), or "unknown". */
const char *relay_pgoutput_type_name(uint8_t type);

/* Walk a Relation's columns: begin, then _next() until it returns false. */
void relay_pgoutput_columns_begin(const relay_pgoutput_relation *relation,
                                  relay_pgoutput_cursor *cursor);
bool relay_pgoutput_columns_next(relay_pgoutput_cursor *cursor, relay_pgoutput_column *column);

/* Walk a tuple's values in column order: begin, then _next() until it returns false. */
void relay_pgoutput_tuple_begin(const relay_pgoutput_tuple *tuple, relay_pgoutput_cursor *cursor);
bool relay_pgoutput_tuple_next(relay_pgoutput_cursor *cursor, relay_pgoutput_value *value);

/*
 * Copy the first min(tuple->ncols, capacity) values of a tuple into values[]. Returns
 * tuple->ncols (so a result larger than capacity means some were left out).
 */
size_t relay_pgoutput_tuple_values(const relay_pgoutput_tuple *tuple, relay_pgoutput_value *values,
                                   size_t capacity);

/* The i-th (from 0) relation id of a Truncate; i must be below nrelids. */
uint32_t relay_pgoutput_truncate_relid(const relay_pgoutput_truncate *truncate, uint32_t i);

#endif
