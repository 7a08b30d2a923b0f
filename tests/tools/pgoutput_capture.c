/*
 * pgoutput_capture: record what a real walsender sends for some SQL, as byte fixtures.
 *
 *   pgoutput_capture --replication CONNINFO --sql-conninfo CONNINFO --publication NAMES
 *                    --out FILE [--keepalive-out FILE] [--slot NAME] [--timeout SECS]
 *                    --sql STATEMENTS [--sql STATEMENTS ...]
 *
 * Through relay_stream it opens a replication connection, creates a slot (TEMPORARY unless
 * --slot names a regular one to create), starts pgoutput (proto_version '1', the given
 * publications, messages 'true'), runs each --sql string in order through a normal
 * connection (each string is one PQexec, so it may hold several statements and its own
 * BEGIN/COMMIT), then emits a non-transactional sentinel message and records every XLogData
 * frame until the sentinel comes back (the sentinel itself is not recorded). With
 * --keepalive-out it then asks the server for a reply and records the keepalive frame.
 * Finally it ends the stream cleanly and drops the slot.
 *
 * File format: a sequence of records, each a 4-byte big-endian length followed by one whole
 * CopyData frame as received ('w', wal_start, wal_end, send_time, pgoutput message; or 'k').
 * A summary of the decoded messages goes to stderr. Exit status 0 on success, 1 on error.
 */
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgoutput.h"
#include "stream.h"

#define MAX_SQL 32

typedef struct capture_opts {
    const char *replication;
    const char *sql_conninfo;
    const char *publication;
    const char *out;
    const char *keepalive_out;
    const char *slot;
    int timeout_s;
    const char *sql[MAX_SQL];
    int nsql;
} capture_opts;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_record(FILE *f, const uint8_t *frame, size_t len)
{
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};

    if (fwrite(hdr, 1, 4, f) != 4 || fwrite(frame, 1, len, f) != len)
        return -1;
    return 0;
}

/* One line per message on stderr, so a capture can be checked by eye. */
static void describe(const relay_pgoutput_xlogdata *x)
{
    relay_pgoutput_msg msg;
    char err[256];

    if (relay_pgoutput_decode(x->data, x->size, &msg, err, sizeof(err)) < 0) {
        fprintf(stderr, "  " RELAY_LSN_FMT " UNDECODABLE: %s\n", RELAY_LSN_ARGS(x->wal_start), err);
        return;
    }
    fprintf(stderr, "  " RELAY_LSN_FMT " %-8s", RELAY_LSN_ARGS(x->wal_start),
            relay_pgoutput_type_name((uint8_t)msg.type));
    switch (msg.type) {
    case RELAY_PGOUTPUT_BEGIN:
        fprintf(stderr, " xid %u final_lsn " RELAY_LSN_FMT, msg.u.begin.xid,
                RELAY_LSN_ARGS(msg.u.begin.final_lsn));
        break;
    case RELAY_PGOUTPUT_COMMIT:
        fprintf(stderr, " end_lsn " RELAY_LSN_FMT, RELAY_LSN_ARGS(msg.u.commit.end_lsn));
        break;
    case RELAY_PGOUTPUT_RELATION:
        fprintf(stderr, " %u %s.%s (%u columns)", msg.u.relation.relid, msg.u.relation.nspname,
                msg.u.relation.relname, msg.u.relation.ncols);
        break;
    case RELAY_PGOUTPUT_TYPE:
        fprintf(stderr, " %u %s.%s", msg.u.type_msg.type_oid, msg.u.type_msg.nspname,
                msg.u.type_msg.typname);
        break;
    case RELAY_PGOUTPUT_INSERT:
        fprintf(stderr, " relid %u", msg.u.insert.relid);
        break;
    case RELAY_PGOUTPUT_UPDATE:
        fprintf(stderr, " relid %u old %c", msg.u.update.relid,
                msg.u.update.old_kind ? msg.u.update.old_kind : '-');
        break;
    case RELAY_PGOUTPUT_DELETE:
        fprintf(stderr, " relid %u old %c", msg.u.delete_.relid, msg.u.delete_.old_kind);
        break;
    case RELAY_PGOUTPUT_TRUNCATE:
        fprintf(stderr, " %u relations, options 0x%x", msg.u.truncate.nrelids,
                msg.u.truncate.options);
        break;
    case RELAY_PGOUTPUT_MESSAGE:
        fprintf(stderr, " %s prefix \"%s\" %u bytes",
                msg.u.message.transactional ? "transactional" : "non-transactional",
                msg.u.message.prefix, msg.u.message.content_len);
        break;
    case RELAY_PGOUTPUT_ORIGIN:
        fprintf(stderr, " \"%s\" at " RELAY_LSN_FMT, msg.u.origin.name,
                RELAY_LSN_ARGS(msg.u.origin.origin_lsn));
        break;
    }
    fputc('\n', stderr);
}

static int run_sql(PGconn *conn, const char *sql, char *out, size_t out_size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "pgoutput_capture: SQL failed: %s  in: %s\n", PQerrorMessage(conn), sql);
        rc = -1;
    } else if (out && out_size > 0) {
        snprintf(out, out_size, "%s",
                 PQntuples(res) > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    }
    PQclear(res);
    return rc;
}

static int parse_args(int argc, char **argv, capture_opts *o)
{
    static const struct option longopts[] = {
        {"replication", required_argument, NULL, 'r'},
        {"sql-conninfo", required_argument, NULL, 'c'},
        {"publication", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"keepalive-out", required_argument, NULL, 'k'},
        {"slot", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"sql", required_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->timeout_s = 30;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->replication = optarg;
            break;
        case 'c':
            o->sql_conninfo = optarg;
            break;
        case 'p':
            o->publication = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'k':
            o->keepalive_out = optarg;
            break;
        case 's':
            o->slot = optarg;
            break;
        case 't':
            o->timeout_s = atoi(optarg);
            break;
        case 'q':
            if (o->nsql == MAX_SQL) {
                fprintf(stderr, "pgoutput_capture: at most %d --sql\n", MAX_SQL);
                return -1;
            }
            o->sql[o->nsql++] = optarg;
            break;
        default:
            return -1;
        }
    }
    if (!o->replication || !o->sql_conninfo || !o->publication || !o->out || o->nsql == 0 ||
        optind != argc || o->timeout_s <= 0) {
        fprintf(stderr, "usage: pgoutput_capture --replication CONNINFO --sql-conninfo CONNINFO "
                        "--publication NAMES --out FILE [--keepalive-out FILE] [--slot NAME] "
                        "[--timeout SECS] --sql SQL [--sql SQL ...]\n");
        return -1;
    }
    return 0;
}

/* Wait for the socket or up to 200 ms; then the caller reads what arrived. */
static void wait_input(relay_stream *stream)
{
    struct pollfd pfd = {.fd = relay_stream_fd(stream), .events = POLLIN, .revents = 0};

    if (relay_stream_want_write(stream))
        pfd.events |= POLLOUT;
    (void)poll(&pfd, 1, 200);
}

int main(int argc, char **argv)
{
    capture_opts o;
    relay_stream *stream = NULL;
    relay_stream_slot slot;
    relay_stream_event ev;
    relay_pgoutput_msg msg;
    PGconn *sql = NULL;
    FILE *out = NULL;
    FILE *kout = NULL;
    char slot_name[64];
    char sentinel[64];
    char query[256];
    char err[512];
    int64_t deadline;
    int frames = 0;
    bool seen_sentinel = false;
    bool seen_keepalive = false;
    bool slot_created = false;
    int rc = 1;

    if (parse_args(argc, argv, &o) < 0)
        goto cleanup;
    snprintf(slot_name, sizeof(slot_name), "%s", o.slot ? o.slot : "");
    if (!o.slot)
        snprintf(slot_name, sizeof(slot_name), "pgoutput_capture_%ld", (long)getpid());
    snprintf(sentinel, sizeof(sentinel), "pgoutput_capture_end_%ld", (long)getpid());

    out = fopen(o.out, "wb");
    if (!out) {
        perror(o.out);
        goto cleanup;
    }
    if (o.keepalive_out) {
        kout = fopen(o.keepalive_out, "wb");
        if (!kout) {
            perror(o.keepalive_out);
            goto cleanup;
        }
    }

    if (relay_stream_open(o.replication, &stream, err, sizeof(err)) != RELAY_STREAM_OK) {
        fprintf(stderr, "pgoutput_capture: %s\n", err);
        goto cleanup;
    }
    if (relay_stream_slot_ensure(stream, slot_name,
                                 RELAY_STREAM_SLOT_CREATE |
                                     (o.slot ? 0 : RELAY_STREAM_SLOT_TEMPORARY),
                                 &slot, err, sizeof(err)) != RELAY_STREAM_OK) {
        fprintf(stderr, "pgoutput_capture: %s\n", err);
        goto cleanup;
    }
    slot_created = slot.created;
    if (!slot.created) {
        fprintf(stderr, "pgoutput_capture: slot %s already exists: use a new name\n", slot_name);
        goto cleanup;
    }
    fprintf(stderr, "slot %s created at " RELAY_LSN_FMT "\n", slot_name,
            RELAY_LSN_ARGS(slot.consistent_point));
    if (relay_stream_start(stream, slot_name, 0, o.publication, true, err, sizeof(err)) !=
        RELAY_STREAM_OK) {
        fprintf(stderr, "pgoutput_capture: %s\n", err);
        goto cleanup;
    }

    sql = PQconnectdb(o.sql_conninfo);
    if (PQstatus(sql) != CONNECTION_OK) {
        fprintf(stderr, "pgoutput_capture: %s", PQerrorMessage(sql));
        goto cleanup;
    }
    for (int i = 0; i < o.nsql; i++)
        if (run_sql(sql, o.sql[i], NULL, 0) < 0)
            goto cleanup;
    snprintf(query, sizeof(query), "SELECT pg_logical_emit_message(false, '%s', '')", sentinel);
    if (run_sql(sql, query, NULL, 0) < 0)
        goto cleanup;

    deadline = mono_ms() + (int64_t)o.timeout_s * 1000;
    while (!seen_sentinel || (kout && !seen_keepalive)) {
        int r = relay_stream_read(stream, &ev, err, sizeof(err));

        if (mono_ms() > deadline) {
            fprintf(stderr, "pgoutput_capture: timed out after %d s\n", o.timeout_s);
            goto cleanup;
        }
        if (r == RELAY_STREAM_WOULD_BLOCK) {
            wait_input(stream);
            continue;
        }
        if (r < 0 || r == RELAY_STREAM_END) {
            fprintf(stderr, "pgoutput_capture: %s\n", err);
            goto cleanup;
        }
        if (r == RELAY_STREAM_KEEPALIVE) {
            if (seen_sentinel && kout && !seen_keepalive) {
                if (write_record(kout, ev.frame, ev.frame_size) < 0) {
                    perror(o.keepalive_out);
                    goto cleanup;
                }
                fprintf(stderr, "  keepalive wal_end " RELAY_LSN_FMT " reply_requested %d\n",
                        RELAY_LSN_ARGS(ev.keepalive.wal_end), ev.keepalive.reply_requested);
                seen_keepalive = true;
            }
            continue;
        }
        /* XLogData: the sentinel ends the capture, anything else is recorded */
        if (relay_pgoutput_decode(ev.xlogdata.data, ev.xlogdata.size, &msg, err, sizeof(err)) ==
                0 &&
            msg.type == RELAY_PGOUTPUT_MESSAGE && strcmp(msg.u.message.prefix, sentinel) == 0) {
            seen_sentinel = true;
            /* ask for a keepalive at once instead of waiting for wal_sender_timeout / 2 */
            if (kout && relay_stream_send_status(stream, 0, 0, 0, true, err, sizeof(err)) < 0) {
                fprintf(stderr, "pgoutput_capture: %s\n", err);
                goto cleanup;
            }
            continue;
        }
        describe(&ev.xlogdata);
        if (write_record(out, ev.frame, ev.frame_size) < 0) {
            perror(o.out);
            goto cleanup;
        }
        frames++;
    }
    fprintf(stderr, "%d frames captured into %s\n", frames, o.out);

    if (relay_stream_finish(stream, 0, 10000, err, sizeof(err)) != RELAY_STREAM_OK) {
        fprintf(stderr, "pgoutput_capture: finish: %s\n", err);
        goto cleanup;
    }
    if (relay_stream_slot_drop(stream, slot_name, err, sizeof(err)) != RELAY_STREAM_OK) {
        fprintf(stderr, "pgoutput_capture: %s\n", err);
        goto cleanup;
    }
    slot_created = false;
    rc = 0;

cleanup:
    if (slot_created && !o.slot)
        fprintf(stderr, "pgoutput_capture: temporary slot %s goes with the connection\n",
                slot_name);
    else if (slot_created)
        fprintf(stderr, "pgoutput_capture: slot %s was not dropped: drop it by hand\n", slot_name);
    relay_stream_close(stream);
    PQfinish(sql);
    if (kout && fclose(kout) != 0) {
        perror(o.keepalive_out);
        rc = 1;
    }
    if (out && fclose(out) != 0) {
        perror(o.out);
        rc = 1;
    }
    return rc;
}
