/*
 * fuzz_pgoutput: the relay's replication input, relay/pgoutput.c and relay/route.c.
 *
 * Input: the format of the .bin files of tests/fixtures/pgoutput (so those fixtures are the seeds):
 * records of a big-endian uint32 length and one CopyData frame; bytes left over that do not make a
 * whole record are one last frame. Each frame is read as the relay reads it: XLogData 'w' ->
 * relay_pgoutput_decode() of its payload, keepalive 'k', anything else rejected. Every
 * variable part of a decoded message is walked (columns, tuple values, truncated relids), and
 * outbox rows and logical messages are routed as the relay routes them: a Relation message maps
 * the default outbox column names to positions, an Insert into a relation seen before becomes
 * relay_route_row(), a Message relay_route_message().
 *
 * Checks: no crash, leak or undefined behaviour; a decoded string field is NUL-terminated
 * inside the input; every walked value lies inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"
#include "route.h"

#define FUZZ_RELS 4
#define BYTEAOID 17

typedef struct fuzz_rel {
    uint32_t relid;
    int col[RELAY_ROUTE_NCOLS];
    int payload_is_bytea;
} fuzz_rel;

typedef struct fuzz_state {
    const uint8_t *start, *end; /* the whole input, for bounds checks */
    fuzz_rel rels[FUZZ_RELS];
    size_t nrels;
    relay_txn_meta meta;
    relay_event ev;
} fuzz_state;

static relay_route *routes[2]; /* eager and lazy payload parsing */

static void inside(const fuzz_state *st, const void *p, size_t len)
{
    const uint8_t *b = p;
    if (len > 0 && (b < st->start || b + len > st->end))
        abort();
}

static void on_relation(fuzz_state *st, const relay_pgoutput_relation *rel)
{
    fuzz_rel *e = &st->rels[st->nrels < FUZZ_RELS ? st->nrels++ : FUZZ_RELS - 1];
    relay_pgoutput_cursor cur;
    relay_pgoutput_column col;

    inside(st, rel->nspname, strlen(rel->nspname) + 1);
    inside(st, rel->relname, strlen(rel->relname) + 1);
    memset(e, 0, sizeof *e);
    e->relid = rel->relid;
    for (int c = 0; c < RELAY_ROUTE_NCOLS; c++)
        e->col[c] = -1;
    relay_pgoutput_columns_begin(rel, &cur);
    for (int i = 0; relay_pgoutput_columns_next(&cur, &col); i++) {
        inside(st, col.name, strlen(col.name) + 1);
        for (int c = 0; c < RELAY_ROUTE_NCOLS; c++) {
            if (strcmp(col.name, relay_route_column_name(routes[0], (enum relay_col)c)) == 0) {
                e->col[c] = i;
                if (c == RELAY_COL_PAYLOAD)
                    e->payload_is_bytea = col.type_oid == BYTEAOID;
            }
        }
    }
}

static void walk_tuple(fuzz_state *st, const relay_pgoutput_tuple *tuple,
                       relay_value values[RELAY_ROUTE_NCOLS], const fuzz_rel *e)
{
    relay_pgoutput_cursor cur;
    relay_pgoutput_value v;
    relay_pgoutput_value copy[8];

    relay_pgoutput_tuple_begin(tuple, &cur);
    for (int i = 0; relay_pgoutput_tuple_next(&cur, &v); i++) {
        inside(st, v.data, v.len);
        for (int c = 0; e != NULL && c < RELAY_ROUTE_NCOLS; c++)
            if (e->col[c] == i && v.kind == RELAY_PGOUTPUT_VALUE_TEXT)
                values[c] = (relay_value){v.data, v.len};
    }
    if (relay_pgoutput_tuple_values(tuple, copy, 8) != tuple->ncols)
        abort();
}

/* The payload parsed as the relay parses it for a schema check: it parses, or it is refused as
 * invalid JSON with the reason (the dead letter's) in errstr. */
static void parse_payload(relay_event *ev)
{
    char err[512] = "";
    relay_route_err rc = relay_event_parse_payload(ev, err, sizeof err);
    if (rc == RELAY_ROUTE_OK)
        return;
    if (rc != RELAY_ROUTE_INVALID_JSON || err[0] == '\0')
        abort();
}

static void route_insert(fuzz_state *st, const relay_pgoutput_insert *ins, int lazy)
{
    const fuzz_rel *e = NULL;
    relay_value values[RELAY_ROUTE_NCOLS];
    char err[512];

    for (size_t i = 0; i < st->nrels; i++)
        if (st->rels[i].relid == ins->relid)
            e = &st->rels[i];
    memset(values, 0, sizeof values);
    walk_tuple(st, &ins->newtuple, values, e);
    if (e == NULL)
        return;
    relay_event_reset(&st->ev);
    if (relay_route_row(routes[lazy], values, e->payload_is_bytea, &st->meta, &st->ev, err,
                        sizeof err) == 0 &&
        st->ev.payload_json == NULL && st->ev.payload_bytes == NULL)
        parse_payload(&st->ev);
}

static void on_message(fuzz_state *st, const relay_pgoutput_msg *msg, int lazy)
{
    char err[512];
    relay_value unused[RELAY_ROUTE_NCOLS];

    switch (msg->type) {
    case RELAY_PGOUTPUT_BEGIN:
        st->meta.xid = msg->u.begin.xid;
        st->meta.commit_lsn = msg->u.begin.final_lsn;
        st->meta.commit_time_us = relay_pgoutput_time_to_unix_usec(msg->u.begin.commit_time);
        relay_txn_meta_format(&st->meta);
        break;
    case RELAY_PGOUTPUT_RELATION:
        on_relation(st, &msg->u.relation);
        break;
    case RELAY_PGOUTPUT_INSERT:
        route_insert(st, &msg->u.insert, lazy);
        break;
    case RELAY_PGOUTPUT_UPDATE:
        walk_tuple(st, &msg->u.update.oldtuple, unused, NULL);
        walk_tuple(st, &msg->u.update.newtuple, unused, NULL);
        break;
    case RELAY_PGOUTPUT_DELETE:
        walk_tuple(st, &msg->u.delete_.oldtuple, unused, NULL);
        break;
    case RELAY_PGOUTPUT_TRUNCATE:
        for (uint32_t i = 0; i < msg->u.truncate.nrelids; i++)
            (void)relay_pgoutput_truncate_relid(&msg->u.truncate, i);
        break;
    case RELAY_PGOUTPUT_MESSAGE:
        inside(st, msg->u.message.prefix, strlen(msg->u.message.prefix) + 1);
        inside(st, msg->u.message.content, msg->u.message.content_len);
        relay_event_reset(&st->ev);
        if (relay_route_message(routes[lazy], (const char *)msg->u.message.content,
                                msg->u.message.content_len, &st->meta, &st->ev, err,
                                sizeof err) == 0 &&
            st->ev.payload_json == NULL && st->ev.payload_bytes == NULL)
            parse_payload(&st->ev);
        break;
    case RELAY_PGOUTPUT_ORIGIN:
        inside(st, msg->u.origin.name, strlen(msg->u.origin.name) + 1);
        break;
    case RELAY_PGOUTPUT_TYPE:
        inside(st, msg->u.type_msg.typname, strlen(msg->u.type_msg.typname) + 1);
        break;
    case RELAY_PGOUTPUT_COMMIT:
        break;
    }
}

static void on_frame(fuzz_state *st, const uint8_t *frame, size_t len, int lazy)
{
    char err[512];
    relay_pgoutput_xlogdata x;
    relay_pgoutput_keepalive k;
    relay_pgoutput_msg msg;
    char lsn[RELAY_LSN_BUFSIZE];
    uint64_t back;

    if (relay_pgoutput_read_keepalive(frame, len, &k, err, sizeof err) == 0) {
        if (relay_pgoutput_lsn_format(k.wal_end, lsn, sizeof lsn) < 0 ||
            relay_pgoutput_lsn_parse(lsn, &back) != 0 || back != k.wal_end)
            abort();
        return;
    }
    if (relay_pgoutput_read_xlogdata(frame, len, &x, err, sizeof err) != 0)
        return;
    inside(st, x.data, x.size);
    if (relay_pgoutput_decode(x.data, x.size, &msg, err, sizeof err) != 0) {
        if (strlen(err) >= sizeof err)
            abort();
        return;
    }
    on_message(st, &msg, lazy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_state st;
    char err[512];
    size_t pos = 0;

    if (routes[0] == NULL) {
        routes[0] = relay_route_new("outbox.event.${aggregate_type}", NULL, err, sizeof err);
        routes[1] = relay_route_new("t.${event_type}.${aggregate_type}", NULL, err, sizeof err);
        if (routes[0] == NULL || routes[1] == NULL)
            abort();
        relay_route_set_lazy_payload(routes[1], true);
        relay_event_init(&st.ev);
    }
    st.start = data;
    st.end = data + size;
    st.nrels = 0;
    memset(&st.meta, 0, sizeof st.meta);
    for (int n = 0; pos < size; n++) {
        size_t left = size - pos;
        size_t len = left;
        if (left >= 4) {
            uint32_t framed = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
                              (uint32_t)data[pos + 2] << 8 | data[pos + 3];
            if (framed <= left - 4) {
                pos += 4;
                len = framed;
            }
        }
        /* A copy of exactly the frame, so reading past it is an ASan error. */
        uint8_t *frame = malloc(len ? len : 1);
        if (frame == NULL)
            abort();
        memcpy(frame, data + pos, len);
        st.start = frame;
        st.end = frame + len;
        on_frame(&st, frame, len, n & 1);
        relay_event_reset(&st.ev);
        free(frame);
        pos += len;
    }
    return 0;
}
