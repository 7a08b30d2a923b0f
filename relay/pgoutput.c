/*
 * relay_pgoutput: decoder of the logical replication wire protocol (see pgoutput.h).
 *
 * Every reader walks the input with a bounds-checked cursor (pg_reader). A field that does not
 * fit in what is left is "truncated at <field>"; a field with a value the protocol does not
 * define is "<field>: <what is wrong>"; bytes left after the last field are rejected too, so a
 * read function accepts exactly one whole message.
 */
#include "errstr.h"
#include "hex.h"
#include "pgoutput.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ the bounded reader */

typedef struct pg_reader {
    const uint8_t *pos;
    const uint8_t *end;
    const char *msg;   /* message name for errors: "Insert" */
    const char *label; /* tuple label for errors: "", "old key ", "new tuple " */
    unsigned column;   /* 1-based column (or relation) number for errors; 0 outside */
    char *errstr;
    size_t errstr_size;
} pg_reader;

static void reader_init(pg_reader *r, const uint8_t *buf, size_t len, const char *msg, char *errstr,
                        size_t errstr_size)
{
    r->pos = buf;
    r->end = buf + len;
    r->msg = msg;
    r->label = "";
    r->column = 0;
    r->errstr = errstr;
    r->errstr_size = errstr_size;
}

/* "<label>column <n> <field>" or "<field>": where in the message the reader is. */
static void reader_where(const pg_reader *r, const char *field, char *where, size_t size)
{
    if (r->column > 0)
        snprintf(where, size, "%scolumn %u %s", r->label, r->column, field);
    else
        snprintf(where, size, "%s%s", r->label, field);
}

static void reader_truncated(pg_reader *r, const char *field)
{
    char where[128];

    reader_where(r, field, where, sizeof(where));
    outbox_errstr_set(r->errstr, r->errstr_size, "%s: truncated at %s", r->msg, where);
}

static int reader_invalid(pg_reader *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reader_invalid(pg_reader *r, const char *field, const char *fmt, ...)
{
    char where[128];
    char what[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    reader_where(r, field, where, sizeof(where));
    outbox_errstr_set(r->errstr, r->errstr_size, "%s: %s: %s", r->msg, where, what);
    return -1;
}

static size_t reader_left(const pg_reader *r)
{
    return (size_t)(r->end - r->pos);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static int read_u8(pg_reader *r, const char *field, uint8_t *v)
{
    if (reader_left(r) < 1) {
        reader_truncated(r, field);
        return -1;
    }
    *v = r->pos[0];
    r->pos += 1;
    return 0;
}

/* An Int16 that must not be negative (column counts). */
static int read_count16(pg_reader *r, const char *field, uint16_t *v)
{
    uint16_t raw;

    if (reader_left(r) < 2) {
        reader_truncated(r, field);
        return -1;
    }
    raw = be16(r->pos);
    if (raw > INT16_MAX)
        return reader_invalid(r, field, "negative (%d)", (int)raw - 65536);
    *v = raw;
    r->pos += 2;
    return 0;
}

static int read_u32(pg_reader *r, const char *field, uint32_t *v)
{
    if (reader_left(r) < 4) {
        reader_truncated(r, field);
        return -1;
    }
    *v = be32(r->pos);
    r->pos += 4;
    return 0;
}

static int read_u64(pg_reader *r, const char *field, uint64_t *v)
{
    if (reader_left(r) < 8) {
        reader_truncated(r, field);
        return -1;
    }
    *v = be64(r->pos);
    r->pos += 8;
    return 0;
}

static int read_i64(pg_reader *r, const char *field, int64_t *v)
{
    uint64_t u;

    if (read_u64(r, field, &u) < 0)
        return -1;
    memcpy(v, &u, sizeof(*v)); /* two's complement, as on the wire */
    return 0;
}

/* A NUL-terminated string inside the input: *s points at it, in place. */
static int read_string(pg_reader *r, const char *field, const char **s)
{
    const uint8_t *nul = memchr(r->pos, '\0', reader_left(r));

    if (!nul) {
        reader_truncated(r, field);
        return -1;
    }
    *s = (const char *)r->pos;
    r->pos = nul + 1;
    return 0;
}

static int read_bytes(pg_reader *r, const char *field, size_t n, const uint8_t **p)
{
    if (reader_left(r) < n) {
        reader_truncated(r, field);
        return -1;
    }
    *p = r->pos;
    r->pos += n;
    return 0;
}

static int reader_finish(pg_reader *r)
{
    if (r->pos != r->end) {
        outbox_errstr_set(r->errstr, r->errstr_size, "%s: %zu trailing bytes after the last field",
                          r->msg, reader_left(r));
        return -1;
    }
    return 0;
}

static int read_type_byte(pg_reader *r, uint8_t expected)
{
    uint8_t type;

    if (read_u8(r, "message type", &type) < 0)
        return -1;
    if (type != expected)
        return reader_invalid(r, "message type", "expected '%c', got 0x%02x", expected, type);
    return 0;
}

/* ------------------------------------------------------------------ LSNs */

/* One to eight hex digits; *end is set after them. */
static int parse_hex32(const char *s, uint32_t *v, const char **end)
{
    uint32_t acc = 0;
    int n = 0;
    int d;

    while ((d = outbox_hex_digit(s[n])) >= 0) {
        if (n == 8)
            return -1;
        acc = acc << 4 | (uint32_t)d;
        n++;
    }
    if (n == 0)
        return -1;
    *v = acc;
    *end = s + n;
    return 0;
}

int relay_pgoutput_lsn_parse(const char *text, uint64_t *lsn)
{
    uint32_t hi, lo;
    const char *p;

    if (!text || parse_hex32(text, &hi, &p) < 0 || *p != '/')
        return -1;
    if (parse_hex32(p + 1, &lo, &p) < 0 || *p != '\0')
        return -1;
    *lsn = (uint64_t)hi << 32 | lo;
    return 0;
}

int relay_pgoutput_lsn_format(uint64_t lsn, char *buf, size_t size)
{
    int n;

    if (!buf || size == 0)
        return -1;
    n = snprintf(buf, size, RELAY_LSN_FMT, RELAY_LSN_ARGS(lsn));
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return -1;
    }
    return n;
}

/* ------------------------------------------------------------------ replication frames */

int relay_pgoutput_read_xlogdata(const uint8_t *buf, size_t len, relay_pgoutput_xlogdata *out,
                                 char *errstr, size_t errstr_size)
{
    pg_reader r;

    reader_init(&r, buf, len, "XLogData", errstr, errstr_size);
    if (read_type_byte(&r, 'w') < 0 || read_u64(&r, "wal_start", &out->wal_start) < 0 ||
        read_u64(&r, "wal_end", &out->wal_end) < 0 ||
        read_i64(&r, "send_time", &out->send_time) < 0)
        return -1;
    out->data = r.pos;
    out->size = reader_left(&r);
    return 0;
}

int relay_pgoutput_read_keepalive(const uint8_t *buf, size_t len, relay_pgoutput_keepalive *out,
                                  char *errstr, size_t errstr_size)
{
    pg_reader r;
    uint8_t reply;

    reader_init(&r, buf, len, "Keepalive", errstr, errstr_size);
    if (read_type_byte(&r, 'k') < 0 || read_u64(&r, "wal_end", &out->wal_end) < 0 ||
        read_i64(&r, "send_time", &out->send_time) < 0 ||
        read_u8(&r, "reply_requested", &reply) < 0)
        return -1;
    if (reply > 1)
        return reader_invalid(&r, "reply_requested", "not a boolean (%u)", reply);
    out->reply_requested = reply == 1;
    return reader_finish(&r);
}

void relay_pgoutput_write_status(uint8_t out[RELAY_PGOUTPUT_STATUS_SIZE], uint64_t written,
                                 uint64_t flushed, uint64_t applied, int64_t now,
                                 bool reply_requested)
{
    uint64_t unow;

    memcpy(&unow, &now, sizeof(unow));
    out[0] = 'r';
    put64(out + 1, written);
    put64(out + 9, flushed);
    put64(out + 17, applied);
    put64(out + 25, unow);
    out[33] = reply_requested ? 1 : 0;
}

/* ------------------------------------------------------------------ transaction messages */

int relay_pgoutput_read_begin(const uint8_t *buf, size_t len, relay_pgoutput_begin *out,
                              char *errstr, size_t errstr_size)
{
    pg_reader r;

    reader_init(&r, buf, len, "Begin", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_BEGIN) < 0 ||
        read_u64(&r, "final_lsn", &out->final_lsn) < 0 ||
        read_i64(&r, "commit_time", &out->commit_time) < 0 || read_u32(&r, "xid", &out->xid) < 0)
        return -1;
    if (out->final_lsn == 0)
        return reader_invalid(&r, "final_lsn", "not set (0/0)");
    return reader_finish(&r);
}

int relay_pgoutput_read_commit(const uint8_t *buf, size_t len, relay_pgoutput_commit *out,
                               char *errstr, size_t errstr_size)
{
    pg_reader r;

    reader_init(&r, buf, len, "Commit", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_COMMIT) < 0 || read_u8(&r, "flags", &out->flags) < 0)
        return -1;
    if (out->flags != 0)
        return reader_invalid(&r, "flags", "unknown flags 0x%02x", out->flags);
    if (read_u64(&r, "commit_lsn", &out->commit_lsn) < 0 ||
        read_u64(&r, "end_lsn", &out->end_lsn) < 0 ||
        read_i64(&r, "commit_time", &out->commit_time) < 0)
        return -1;
    return reader_finish(&r);
}

int relay_pgoutput_read_origin(const uint8_t *buf, size_t len, relay_pgoutput_origin *out,
                               char *errstr, size_t errstr_size)
{
    pg_reader r;

    reader_init(&r, buf, len, "Origin", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_ORIGIN) < 0 ||
        read_u64(&r, "origin_lsn", &out->origin_lsn) < 0 || read_string(&r, "name", &out->name) < 0)
        return -1;
    return reader_finish(&r);
}

/* ------------------------------------------------------------------ schema messages */

static bool replica_identity_known(uint8_t c)
{
    return c == RELAY_PGOUTPUT_IDENTITY_DEFAULT || c == RELAY_PGOUTPUT_IDENTITY_NOTHING ||
           c == RELAY_PGOUTPUT_IDENTITY_FULL || c == RELAY_PGOUTPUT_IDENTITY_INDEX;
}

int relay_pgoutput_read_relation(const uint8_t *buf, size_t len, relay_pgoutput_relation *out,
                                 char *errstr, size_t errstr_size)
{
    pg_reader r;
    uint8_t ident;

    reader_init(&r, buf, len, "Relation", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_RELATION) < 0 || read_u32(&r, "relid", &out->relid) < 0 ||
        read_string(&r, "namespace", &out->nspname) < 0 ||
        read_string(&r, "name", &out->relname) < 0 || read_u8(&r, "replica identity", &ident) < 0)
        return -1;
    if (!replica_identity_known(ident))
        return reader_invalid(&r, "replica identity", "unknown setting 0x%02x", ident);
    out->replica_identity = (char)ident;
    if (read_count16(&r, "number of columns", &out->ncols) < 0)
        return -1;
    out->columns = r.pos;
    for (unsigned i = 1; i <= out->ncols; i++) {
        uint8_t flags;
        const char *name;
        uint32_t oid, typmod;

        r.column = i;
        if (read_u8(&r, "flags", &flags) < 0)
            return -1;
        if (flags & ~RELAY_PGOUTPUT_COLUMN_KEY)
            return reader_invalid(&r, "flags", "unknown flags 0x%02x", flags);
        if (read_string(&r, "name", &name) < 0 || read_u32(&r, "type oid", &oid) < 0 ||
            read_u32(&r, "typmod", &typmod) < 0)
            return -1;
    }
    r.column = 0;
    out->columns_size = (size_t)(r.pos - out->columns);
    return reader_finish(&r);
}

int relay_pgoutput_read_type(const uint8_t *buf, size_t len, relay_pgoutput_type_msg *out,
                             char *errstr, size_t errstr_size)
{
    pg_reader r;

    reader_init(&r, buf, len, "Type", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_TYPE) < 0 ||
        read_u32(&r, "type oid", &out->type_oid) < 0 ||
        read_string(&r, "namespace", &out->nspname) < 0 ||
        read_string(&r, "name", &out->typname) < 0)
        return -1;
    return reader_finish(&r);
}

/* ------------------------------------------------------------------ row messages */

/* A TupleData at the reader's position; r->label names it in errors. */
static int read_tuple(pg_reader *r, relay_pgoutput_tuple *tuple)
{
    if (read_count16(r, "number of columns", &tuple->ncols) < 0)
        return -1;
    tuple->values = r->pos;
    for (unsigned i = 1; i <= tuple->ncols; i++) {
        uint8_t kind;
        uint32_t vlen;
        const uint8_t *data;

        r->column = i;
        if (read_u8(r, "kind", &kind) < 0)
            return -1;
        switch (kind) {
        case RELAY_PGOUTPUT_VALUE_NULL:
        case RELAY_PGOUTPUT_VALUE_UNCHANGED:
            break;
        case RELAY_PGOUTPUT_VALUE_TEXT:
        case RELAY_PGOUTPUT_VALUE_BINARY:
            if (read_u32(r, "length", &vlen) < 0)
                return -1;
            if (vlen > INT32_MAX)
                return reader_invalid(r, "length", "negative (0x%08" PRIx32 ")", vlen);
            if (read_bytes(r, "value", vlen, &data) < 0)
                return -1;
            break;
        default:
            return reader_invalid(r, "kind", "unknown tuple value kind 0x%02x", kind);
        }
    }
    r->column = 0;
    tuple->values_size = (size_t)(r->pos - tuple->values);
    return 0;
}

int relay_pgoutput_read_insert(const uint8_t *buf, size_t len, relay_pgoutput_insert *out,
                               char *errstr, size_t errstr_size)
{
    pg_reader r;
    uint8_t action;

    reader_init(&r, buf, len, "Insert", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_INSERT) < 0 || read_u32(&r, "relid", &out->relid) < 0 ||
        read_u8(&r, "tuple type", &action) < 0)
        return -1;
    if (action != 'N')
        return reader_invalid(&r, "tuple type", "expected 'N', got 0x%02x", action);
    if (read_tuple(&r, &out->newtuple) < 0)
        return -1;
    return reader_finish(&r);
}

int relay_pgoutput_read_update(const uint8_t *buf, size_t len, relay_pgoutput_update *out,
                               char *errstr, size_t errstr_size)
{
    pg_reader r;
    uint8_t action;

    reader_init(&r, buf, len, "Update", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_UPDATE) < 0 || read_u32(&r, "relid", &out->relid) < 0 ||
        read_u8(&r, "tuple type", &action) < 0)
        return -1;
    out->old_kind = RELAY_PGOUTPUT_OLD_NONE;
    out->oldtuple = (relay_pgoutput_tuple){0, NULL, 0};
    if (action == RELAY_PGOUTPUT_OLD_KEY || action == RELAY_PGOUTPUT_OLD_FULL) {
        out->old_kind = (char)action;
        r.label = action == RELAY_PGOUTPUT_OLD_KEY ? "old key " : "old tuple ";
        if (read_tuple(&r, &out->oldtuple) < 0)
            return -1;
        r.label = "";
        if (read_u8(&r, "new tuple type", &action) < 0)
            return -1;
        if (action != 'N')
            return reader_invalid(&r, "new tuple type", "expected 'N', got 0x%02x", action);
    } else if (action != 'N') {
        return reader_invalid(&r, "tuple type", "expected 'K', 'O' or 'N', got 0x%02x", action);
    }
    r.label = "new tuple ";
    if (read_tuple(&r, &out->newtuple) < 0)
        return -1;
    return reader_finish(&r);
}

int relay_pgoutput_read_delete(const uint8_t *buf, size_t len, relay_pgoutput_delete *out,
                               char *errstr, size_t errstr_size)
{
    pg_reader r;
    uint8_t action;

    reader_init(&r, buf, len, "Delete", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_DELETE) < 0 || read_u32(&r, "relid", &out->relid) < 0 ||
        read_u8(&r, "tuple type", &action) < 0)
        return -1;
    if (action != RELAY_PGOUTPUT_OLD_KEY && action != RELAY_PGOUTPUT_OLD_FULL)
        return reader_invalid(&r, "tuple type", "expected 'K' or 'O', got 0x%02x", action);
    out->old_kind = (char)action;
    if (read_tuple(&r, &out->oldtuple) < 0)
        return -1;
    return reader_finish(&r);
}

int relay_pgoutput_read_truncate(const uint8_t *buf, size_t len, relay_pgoutput_truncate *out,
                                 char *errstr, size_t errstr_size)
{
    pg_reader r;

    reader_init(&r, buf, len, "Truncate", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_TRUNCATE) < 0 ||
        read_u32(&r, "number of relations", &out->nrelids) < 0)
        return -1;
    if (out->nrelids > INT32_MAX)
        return reader_invalid(&r, "number of relations", "negative");
    if (read_u8(&r, "options", &out->options) < 0)
        return -1;
    if (out->options &
        ~(RELAY_PGOUTPUT_TRUNCATE_CASCADE | RELAY_PGOUTPUT_TRUNCATE_RESTART_IDENTITY))
        return reader_invalid(&r, "options", "unknown options 0x%02x", out->options);
    if (reader_left(&r) / 4 < out->nrelids) {
        char field[48];

        /* relations are numbered from 1, like columns */
        snprintf(field, sizeof(field), "relation %zu relid", reader_left(&r) / 4 + 1);
        reader_truncated(&r, field);
        return -1;
    }
    if (read_bytes(&r, "relids", (size_t)out->nrelids * 4, &out->relids) < 0)
        return -1;
    return reader_finish(&r);
}

/* ------------------------------------------------------------------ logical messages */

int relay_pgoutput_read_message(const uint8_t *buf, size_t len, relay_pgoutput_message *out,
                                char *errstr, size_t errstr_size)
{
    pg_reader r;
    const uint8_t *content;

    reader_init(&r, buf, len, "Message", errstr, errstr_size);
    if (read_type_byte(&r, RELAY_PGOUTPUT_MESSAGE) < 0 || read_u8(&r, "flags", &out->flags) < 0)
        return -1;
    if (out->flags & ~RELAY_PGOUTPUT_MESSAGE_TRANSACTIONAL)
        return reader_invalid(&r, "flags", "unknown flags 0x%02x", out->flags);
    out->transactional = (out->flags & RELAY_PGOUTPUT_MESSAGE_TRANSACTIONAL) != 0;
    if (read_u64(&r, "lsn", &out->lsn) < 0 || read_string(&r, "prefix", &out->prefix) < 0 ||
        read_u32(&r, "content length", &out->content_len) < 0)
        return -1;
    if (out->content_len > INT32_MAX)
        return reader_invalid(&r, "content length", "negative");
    if (read_bytes(&r, "content", out->content_len, &content) < 0)
        return -1;
    out->content = content;
    return reader_finish(&r);
}

/* ------------------------------------------------------------------ any message */

const char *relay_pgoutput_type_name(uint8_t type)
{
    switch (type) {
    case 'B':
        return "Begin";
    case 'C':
        return "Commit";
    case 'O':
        return "Origin";
    case 'R':
        return "Relation";
    case 'Y':
        return "Type";
    case 'I':
        return "Insert";
    case 'U':
        return "Update";
    case 'D':
        return "Delete";
    case 'T':
        return "Truncate";
    case 'M':
        return "Message";
    /* later protocol versions: streaming (2), two-phase (3) */
    case 'S':
        return "Stream Start";
    case 'E':
        return "Stream Stop";
    case 'c':
        return "Stream Commit";
    case 'A':
        return "Stream Abort";
    case 'b':
        return "Begin Prepare";
    case 'P':
        return "Prepare";
    case 'K':
        return "Commit Prepared";
    case 'r':
        return "Rollback Prepared";
    case 'p':
        return "Stream Prepare";
    default:
        return "unknown";
    }
}

int relay_pgoutput_decode(const uint8_t *buf, size_t len, relay_pgoutput_msg *msg, char *errstr,
                          size_t errstr_size)
{
    uint8_t type;

    if (len == 0) {
        outbox_errstr_set(errstr, errstr_size, "empty pgoutput message");
        return -1;
    }
    type = buf[0];
    msg->type = (relay_pgoutput_type)type;
    switch (type) {
    case RELAY_PGOUTPUT_BEGIN:
        return relay_pgoutput_read_begin(buf, len, &msg->u.begin, errstr, errstr_size);
    case RELAY_PGOUTPUT_COMMIT:
        return relay_pgoutput_read_commit(buf, len, &msg->u.commit, errstr, errstr_size);
    case RELAY_PGOUTPUT_ORIGIN:
        return relay_pgoutput_read_origin(buf, len, &msg->u.origin, errstr, errstr_size);
    case RELAY_PGOUTPUT_RELATION:
        return relay_pgoutput_read_relation(buf, len, &msg->u.relation, errstr, errstr_size);
    case RELAY_PGOUTPUT_TYPE:
        return relay_pgoutput_read_type(buf, len, &msg->u.type_msg, errstr, errstr_size);
    case RELAY_PGOUTPUT_INSERT:
        return relay_pgoutput_read_insert(buf, len, &msg->u.insert, errstr, errstr_size);
    case RELAY_PGOUTPUT_UPDATE:
        return relay_pgoutput_read_update(buf, len, &msg->u.update, errstr, errstr_size);
    case RELAY_PGOUTPUT_DELETE:
        return relay_pgoutput_read_delete(buf, len, &msg->u.delete_, errstr, errstr_size);
    case RELAY_PGOUTPUT_TRUNCATE:
        return relay_pgoutput_read_truncate(buf, len, &msg->u.truncate, errstr, errstr_size);
    case RELAY_PGOUTPUT_MESSAGE:
        return relay_pgoutput_read_message(buf, len, &msg->u.message, errstr, errstr_size);
    default:
        break;
    }
    if (strcmp(relay_pgoutput_type_name(type), "unknown") != 0)
        outbox_errstr_set(errstr, errstr_size,
                          "%s: message type '%c' is not valid in protocol version 1",
                          relay_pgoutput_type_name(type), type);
    else if (type >= 0x20 && type < 0x7f)
        outbox_errstr_set(errstr, errstr_size, "unknown pgoutput message type '%c' (0x%02x)", type,
                          type);
    else
        outbox_errstr_set(errstr, errstr_size, "unknown pgoutput message type 0x%02x", type);
    return -1;
}

/* ------------------------------------------------------------------ cursors */

/* Cursors only walk input their read function validated, so they read without checks. */

void relay_pgoutput_columns_begin(const relay_pgoutput_relation *relation,
                                  relay_pgoutput_cursor *cursor)
{
    /* No arithmetic on a NULL pointer (undefined even for + 0): an empty part may be NULL. */
    cursor->pos = relation->columns;
    cursor->end = relation->columns_size ? relation->columns + relation->columns_size : cursor->pos;
    cursor->left = relation->ncols;
}

bool relay_pgoutput_columns_next(relay_pgoutput_cursor *cursor, relay_pgoutput_column *column)
{
    const uint8_t *p = cursor->pos;
    size_t namelen;

    if (cursor->left == 0)
        return false;
    column->flags = p[0];
    column->name = (const char *)(p + 1);
    namelen = strlen(column->name);
    p += 1 + namelen + 1;
    column->type_oid = be32(p);
    column->typmod = (int32_t)be32(p + 4);
    cursor->pos = p + 8;
    cursor->left--;
    return true;
}

void relay_pgoutput_tuple_begin(const relay_pgoutput_tuple *tuple, relay_pgoutput_cursor *cursor)
{
    /* An Update without an old row has values NULL: no arithmetic on it (see above). */
    cursor->pos = tuple->values;
    cursor->end = tuple->values_size ? tuple->values + tuple->values_size : cursor->pos;
    cursor->left = tuple->ncols;
}

bool relay_pgoutput_tuple_next(relay_pgoutput_cursor *cursor, relay_pgoutput_value *value)
{
    const uint8_t *p = cursor->pos;

    if (cursor->left == 0)
        return false;
    value->kind = (char)p[0];
    if (p[0] == RELAY_PGOUTPUT_VALUE_TEXT || p[0] == RELAY_PGOUTPUT_VALUE_BINARY) {
        value->len = be32(p + 1);
        value->data = (const char *)(p + 5);
        cursor->pos = p + 5 + value->len;
    } else {
        value->len = 0;
        value->data = NULL;
        cursor->pos = p + 1;
    }
    cursor->left--;
    return true;
}

size_t relay_pgoutput_tuple_values(const relay_pgoutput_tuple *tuple, relay_pgoutput_value *values,
                                   size_t capacity)
{
    relay_pgoutput_cursor cursor;
    relay_pgoutput_value value;
    size_t i = 0;

    relay_pgoutput_tuple_begin(tuple, &cursor);
    while (i < capacity && relay_pgoutput_tuple_next(&cursor, &value))
        values[i++] = value;
    return tuple->ncols;
}

uint32_t relay_pgoutput_truncate_relid(const relay_pgoutput_truncate *truncate, uint32_t i)
{
    return be32(truncate->relids + (size_t)i * 4);
}
