/*
 * relay_stream + relay_pgoutput against the stack's real PostgreSQL ($OUTBOX_PG_RELAY: role
 * outbox_relay, LOGIN REPLICATION; $OUTBOX_PG_APP: the application; $OUTBOX_PG_SUPER for
 * checks and clean-up).
 *
 * Every slot is named "itest_stream_<pid>_<n>" and dropped at the end of its test (and again,
 * by prefix, when the run ends), so an abandoned slot never holds WAL. Other sessions may use
 * the same database meanwhile: readers skip transactions that are not the test's own (matched
 * by xid).
 *
 * OUTBOX_ITEST_SLOW=1 also runs the test that waits for the server's own keepalive with a
 * reply request (wal_sender_timeout / 2, 30 s on the stack).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgoutput.h"
#include "stream.h"

#define READ_TIMEOUT_MS 10000

static const char *pg_relay;
static const char *pg_app;
static const char *pg_super;
static int slot_counter;

/* ------------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void new_slot_name(char *name, size_t size)
{
    snprintf(name, size, "itest_stream_%ld_%d", (long)getpid(), ++slot_counter);
}

static PGconn *sql_connect(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);

    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect %s: %s", conninfo, PQerrorMessage(conn));
    return conn;
}

/* Run `sql`; copy the first value of the first row (if any) into out. */
static void sql_run(PGconn *conn, const char *sql, char *out, size_t out_size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];

        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        PQclear(res);
        fail_msg("%s: %s", sql, msg);
    }
    if (out && out_size > 0)
        snprintf(out, out_size, "%s",
                 PQntuples(res) > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
}

/* One value as superuser, on a fresh connection. */
static void super_value(const char *sql, char *out, size_t out_size)
{
    PGconn *conn = sql_connect(pg_super);

    sql_run(conn, sql, out, out_size);
    PQfinish(conn);
}

/* Read the next event, polling with a deadline. Returns the read result, WOULD_BLOCK on
 * timeout. */
static int read_event(relay_stream *stream, relay_stream_event *ev, int timeout_ms, char *err,
                      size_t err_size)
{
    int64_t deadline = now_ms() + timeout_ms;

    for (;;) {
        int r = relay_stream_read(stream, ev, err, err_size);
        struct pollfd pfd;
        int64_t left;

        if (r != RELAY_STREAM_WOULD_BLOCK)
            return r;
        left = deadline - now_ms();
        if (left <= 0)
            return RELAY_STREAM_WOULD_BLOCK;
        pfd.fd = relay_stream_fd(stream);
        pfd.events = POLLIN | (relay_stream_want_write(stream) ? POLLOUT : 0);
        pfd.revents = 0;
        assert_true(poll(&pfd, 1, (int)left) >= 0);
        if (relay_stream_want_write(stream))
            assert_int_equal(relay_stream_flush(stream, err, err_size), RELAY_STREAM_OK);
    }
}

/* Read the next XLogData and decode it (keepalives are skipped). */
static void read_message(relay_stream *stream, relay_pgoutput_msg *msg, relay_pgoutput_xlogdata *x)
{
    relay_stream_event ev;
    char err[512] = "";

    for (;;) {
        int r = read_event(stream, &ev, READ_TIMEOUT_MS, err, sizeof(err));

        if (r == RELAY_STREAM_KEEPALIVE)
            continue;
        if (r != RELAY_STREAM_XLOGDATA)
            fail_msg("expected XLogData, got %d: %s", r, err);
        if (relay_pgoutput_decode(ev.xlogdata.data, ev.xlogdata.size, msg, err, sizeof(err)) != 0)
            fail_msg("decode: %s", err);
        if (x)
            *x = ev.xlogdata;
        return;
    }
}

/* Open a stream on a new slot and start it. */
static relay_stream *start_stream(const char *slot_name, int slot_flags, const char *publications,
                                  relay_stream_slot *slot)
{
    relay_stream *stream = NULL;
    char err[512] = "";

    if (relay_stream_open(pg_relay, &stream, err, sizeof(err)) != RELAY_STREAM_OK)
        fail_msg("open: %s", err);
    if (relay_stream_slot_ensure(stream, slot_name, slot_flags, slot, err, sizeof(err)) !=
        RELAY_STREAM_OK)
        fail_msg("slot: %s", err);
    if (relay_stream_start(stream, slot_name, 0, publications, true, err, sizeof(err)) !=
        RELAY_STREAM_OK)
        fail_msg("start: %s", err);
    return stream;
}

/* Insert `n` outbox rows in one transaction as the application; returns its xid. */
static uint32_t insert_outbox_rows(int n, const char *aggregate_id)
{
    PGconn *app = sql_connect(pg_app);
    char xid[32];
    char sql[1024];

    sql_run(app, "BEGIN", NULL, 0);
    sql_run(app, "SELECT txid_current() % 4294967296", xid, sizeof(xid));
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO public.outbox (id, aggregate_type, aggregate_id, event_type, "
                 "payload) VALUES (gen_random_uuid(), 'itest_stream', '%s', 'Event%d', "
                 "'{\"n\": %d}')",
                 aggregate_id, i + 1, i + 1);
        sql_run(app, sql, NULL, 0);
    }
    /* the WAL keeps the inserts; the table stays clean */
    snprintf(sql, sizeof(sql), "DELETE FROM public.outbox WHERE aggregate_id = '%s'", aggregate_id);
    sql_run(app, sql, NULL, 0);
    sql_run(app, "COMMIT", NULL, 0);
    PQfinish(app);
    return (uint32_t)strtoul(xid, NULL, 10);
}

/* Skip to the Begin of transaction `xid`, noting Relation messages seen on the way. */
static relay_pgoutput_begin skip_to_begin(relay_stream *stream, uint32_t xid, uint32_t *relid)
{
    relay_pgoutput_msg msg;

    for (;;) {
        read_message(stream, &msg, NULL);
        if (msg.type == RELAY_PGOUTPUT_RELATION && strcmp(msg.u.relation.relname, "outbox") == 0)
            *relid = msg.u.relation.relid;
        if (msg.type == RELAY_PGOUTPUT_BEGIN && msg.u.begin.xid == xid)
            return msg.u.begin;
    }
}

/* ------------------------------------------------------------------ fixtures */

static int group_setup(void **state)
{
    pg_relay = getenv("OUTBOX_PG_RELAY");
    pg_app = getenv("OUTBOX_PG_APP");
    pg_super = getenv("OUTBOX_PG_SUPER");
    if (!pg_relay || !pg_app || !pg_super) {
        fprintf(stderr, "itest_stream: OUTBOX_PG_RELAY/_APP/_SUPER not set: "
                        "eval \"$(compose/stack env)\" first\n");
        return -1;
    }
    return 0;
}

/* Drop whatever slot of this run is still there (a failed test's). */
static int group_teardown(void **state)
{
    char sql[256];

    if (!pg_super)
        return 0;
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots "
             "WHERE slot_name LIKE 'itest\\_stream\\_%ld\\_%%' AND NOT active",
             (long)getpid());
    super_value(sql, NULL, 0);
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_open_identifies_system(void **state)
{
    relay_stream *stream = NULL;
    const relay_stream_system *sys;
    char err[512] = "";
    char xlogpos[32];
    uint64_t now_lsn;

    assert_int_equal(relay_stream_open(pg_relay, &stream, err, sizeof(err)), RELAY_STREAM_OK);
    sys = relay_stream_get_system(stream);
    assert_string_equal(sys->dbname, "blog");
    assert_true(sys->timeline >= 1);
    assert_true(strlen(sys->systemid) > 10);
    assert_true(sys->server_version >= 150000);
    super_value("SELECT pg_current_wal_flush_lsn()", xlogpos, sizeof(xlogpos));
    assert_int_equal(relay_pgoutput_lsn_parse(xlogpos, &now_lsn), 0);
    assert_true(sys->xlogpos > 0 && sys->xlogpos <= now_lsn);
    assert_true(relay_stream_fd(stream) >= 0);
    relay_stream_close(stream);
}

/* The whole path: slot, stream, decode, confirm, and the slot's position moved. */
static void test_insert_streams_back_and_confirm_advances_slot(void **state)
{
    char slot_name[64], sql[256], confirmed[32];
    relay_stream_slot slot, again;
    relay_stream *stream;
    relay_pgoutput_begin begin;
    relay_pgoutput_msg msg;
    relay_pgoutput_xlogdata x;
    relay_pgoutput_value v[7];
    uint32_t relid = 0, xid;
    uint64_t lsn;
    char err[512] = "";

    new_slot_name(slot_name, sizeof(slot_name));
    stream = start_stream(slot_name, RELAY_STREAM_SLOT_CREATE, "outbox_pub", &slot);
    assert_true(slot.created);
    assert_false(slot.temporary);
    assert_true(slot.consistent_point > 0);

    xid = insert_outbox_rows(2, "itest-round-trip");

    begin = skip_to_begin(stream, xid, &relid);
    assert_true(begin.final_lsn > slot.consistent_point);
    /* the Relation comes before the first Insert of the relation in this session */
    read_message(stream, &msg, NULL);
    if (msg.type == RELAY_PGOUTPUT_RELATION) {
        assert_string_equal(msg.u.relation.nspname, "public");
        assert_string_equal(msg.u.relation.relname, "outbox");
        assert_int_equal(msg.u.relation.ncols, 7);
        relid = msg.u.relation.relid;
        read_message(stream, &msg, NULL);
    }
    assert_true(relid != 0);
    for (int i = 1; i <= 2; i++) {
        char want[32];

        if (i == 2)
            read_message(stream, &msg, NULL);
        assert_int_equal(msg.type, RELAY_PGOUTPUT_INSERT);
        assert_int_equal(msg.u.insert.relid, relid);
        assert_int_equal(relay_pgoutput_tuple_values(&msg.u.insert.newtuple, v, 7), 7);
        assert_int_equal(v[1].len, strlen("itest_stream"));
        assert_memory_equal(v[1].data, "itest_stream", v[1].len);
        assert_memory_equal(v[2].data, "itest-round-trip", v[2].len);
        snprintf(want, sizeof(want), "{\"n\": %d}", i);
        assert_int_equal(v[4].len, strlen(want));
        assert_memory_equal(v[4].data, want, v[4].len);
        assert_int_equal(v[5].kind, RELAY_PGOUTPUT_VALUE_NULL);
    }
    read_message(stream, &msg, &x); /* the DELETE is not published: outbox_pub is insert-only */
    assert_int_equal(msg.type, RELAY_PGOUTPUT_COMMIT);
    assert_int_equal(msg.u.commit.commit_lsn, begin.final_lsn);
    assert_true(msg.u.commit.end_lsn > msg.u.commit.commit_lsn);
    assert_int_equal(x.wal_start, msg.u.commit.end_lsn);
    lsn = msg.u.commit.end_lsn;

    assert_int_equal(relay_stream_send_status(stream, lsn, lsn, lsn, false, err, sizeof(err)),
                     RELAY_STREAM_OK);
    assert_int_equal(relay_stream_finish(stream, lsn, 10000, err, sizeof(err)), RELAY_STREAM_OK);
    relay_stream_close(stream);
    stream = NULL;

    snprintf(sql, sizeof(sql),
             "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'",
             slot_name);
    super_value(sql, confirmed, sizeof(confirmed));
    {
        uint64_t got = 0;
        char want[RELAY_LSN_BUFSIZE];

        assert_true(relay_pgoutput_lsn_format(lsn, want, sizeof(want)) > 0);
        if (relay_pgoutput_lsn_parse(confirmed, &got) != 0 || got != lsn)
            fail_msg("confirmed_flush_lsn %s, expected %s", confirmed, want);
    }

    /* the slot survives the connection; looking it up again finds it where we left it */
    assert_int_equal(relay_stream_open(pg_relay, &stream, err, sizeof(err)), RELAY_STREAM_OK);
    assert_int_equal(relay_stream_slot_ensure(stream, slot_name, 0, &again, err, sizeof(err)),
                     RELAY_STREAM_OK);
    assert_false(again.created);
    assert_false(again.active);
    assert_int_equal(again.confirmed_flush_lsn, lsn);
    assert_int_equal(relay_stream_slot_drop(stream, slot_name, err, sizeof(err)), RELAY_STREAM_OK);
    relay_stream_close(stream);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'",
             slot_name);
    super_value(sql, confirmed, sizeof(confirmed));
    assert_string_equal(confirmed, "0");
}

static void test_logical_message_streams_back(void **state)
{
    char slot_name[64], xid_text[32];
    relay_stream *stream;
    relay_pgoutput_msg msg;
    relay_stream_slot slot;
    uint32_t relid = 0;
    PGconn *app;
    char err[512] = "";

    new_slot_name(slot_name, sizeof(slot_name));
    stream = start_stream(slot_name, RELAY_STREAM_SLOT_CREATE | RELAY_STREAM_SLOT_TEMPORARY,
                          "outbox_pub", &slot);
    assert_true(slot.temporary);
    app = sql_connect(pg_app);
    sql_run(app, "BEGIN", NULL, 0);
    sql_run(app, "SELECT txid_current() % 4294967296", xid_text, sizeof(xid_text));
    sql_run(app, "SELECT pg_logical_emit_message(true, 'outbox', '{\"itest\": \"stream\"}')", NULL,
            0);
    sql_run(app, "COMMIT", NULL, 0);
    PQfinish(app);

    (void)skip_to_begin(stream, (uint32_t)strtoul(xid_text, NULL, 10), &relid);
    read_message(stream, &msg, NULL);
    assert_int_equal(msg.type, RELAY_PGOUTPUT_MESSAGE);
    assert_true(msg.u.message.transactional);
    assert_string_equal(msg.u.message.prefix, "outbox");
    assert_int_equal(msg.u.message.content_len, strlen("{\"itest\": \"stream\"}"));
    assert_memory_equal(msg.u.message.content, "{\"itest\": \"stream\"}",
                        msg.u.message.content_len);
    read_message(stream, &msg, NULL);
    assert_int_equal(msg.type, RELAY_PGOUTPUT_COMMIT);
    assert_int_equal(relay_stream_finish(stream, 0, 10000, err, sizeof(err)), RELAY_STREAM_OK);
    relay_stream_close(stream);
}

/* Idle: ask for a reply (status with the reply flag), get a keepalive, answer it. */
static void test_keepalive_seen_and_answered_when_idle(void **state)
{
    char slot_name[64], sql[512], flush[64];
    relay_stream_slot slot;
    relay_stream_event ev;
    relay_stream *stream;
    int64_t deadline;
    char err[512] = "";
    int r;

    new_slot_name(slot_name, sizeof(slot_name));
    stream = start_stream(slot_name, RELAY_STREAM_SLOT_CREATE | RELAY_STREAM_SLOT_TEMPORARY,
                          "outbox_pub", &slot);
    assert_int_equal(relay_stream_send_status(stream, 0, 0, 0, true, err, sizeof(err)),
                     RELAY_STREAM_OK);
    do {
        r = read_event(stream, &ev, READ_TIMEOUT_MS, err, sizeof(err));
    } while (r == RELAY_STREAM_XLOGDATA); /* others' work may arrive first */
    assert_int_equal(r, RELAY_STREAM_KEEPALIVE);
    assert_int_equal(ev.frame_size, 18);
    assert_true(ev.keepalive.wal_end >= slot.consistent_point);
    assert_true(ev.keepalive.send_time > 0);

    /* answer: confirm the idle position; the walsender reports it as our flush position */
    assert_int_equal(relay_stream_send_status(stream, ev.keepalive.wal_end, ev.keepalive.wal_end,
                                              ev.keepalive.wal_end, false, err, sizeof(err)),
                     RELAY_STREAM_OK);
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(r.flush_lsn::text, '') FROM pg_stat_replication r "
             "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '%s'",
             slot_name);
    deadline = now_ms() + 5000;
    for (;;) {
        uint64_t got = 0;

        super_value(sql, flush, sizeof(flush));
        if (relay_pgoutput_lsn_parse(flush, &got) == 0 && got == ev.keepalive.wal_end)
            break;
        if (now_ms() > deadline)
            fail_msg("pg_stat_replication.flush_lsn is \"%s\"", flush);
        /* keep the stream read while waiting */
        r = read_event(stream, &ev, 100, err, sizeof(err));
        assert_true(r >= RELAY_STREAM_OK && r != RELAY_STREAM_END);
    }
    assert_int_equal(relay_stream_finish(stream, 0, 10000, err, sizeof(err)), RELAY_STREAM_OK);
    relay_stream_close(stream);
}

/* Without status updates the server asks for one at wal_sender_timeout / 2. Slow: opt-in. */
static void test_server_requests_reply_when_status_is_overdue(void **state)
{
    char slot_name[64];
    relay_stream_slot slot;
    relay_stream_event ev;
    relay_stream *stream;
    int64_t deadline;
    char err[512] = "";

    if (!getenv("OUTBOX_ITEST_SLOW"))
        skip();
    new_slot_name(slot_name, sizeof(slot_name));
    stream = start_stream(slot_name, RELAY_STREAM_SLOT_CREATE | RELAY_STREAM_SLOT_TEMPORARY,
                          "outbox_pub", &slot);
    deadline = now_ms() + 45000;
    for (;;) {
        int r = read_event(stream, &ev, (int)(deadline - now_ms()), err, sizeof(err));

        if (r == RELAY_STREAM_KEEPALIVE && ev.keepalive.reply_requested)
            break;
        if (r < 0 || r == RELAY_STREAM_END || (r == RELAY_STREAM_WOULD_BLOCK))
            fail_msg("no keepalive asking for a reply: %d %s", r, err);
    }
    assert_int_equal(relay_stream_send_status(stream, ev.keepalive.wal_end, ev.keepalive.wal_end,
                                              ev.keepalive.wal_end, false, err, sizeof(err)),
                     RELAY_STREAM_OK);
    assert_int_equal(relay_stream_finish(stream, ev.keepalive.wal_end, 10000, err, sizeof(err)),
                     RELAY_STREAM_OK);
    relay_stream_close(stream);
}

static void test_slot_in_use_is_fatal(void **state)
{
    char slot_name[64];
    relay_stream *first, *second = NULL;
    char err[512] = "";

    new_slot_name(slot_name, sizeof(slot_name));
    first = start_stream(slot_name, RELAY_STREAM_SLOT_CREATE, "outbox_pub", NULL);
    assert_int_equal(relay_stream_open(pg_relay, &second, err, sizeof(err)), RELAY_STREAM_OK);
    assert_int_equal(relay_stream_start(second, slot_name, 0, "outbox_pub", true, err, sizeof(err)),
                     RELAY_STREAM_ERR_FATAL);
    assert_string_equal(relay_stream_sqlstate(second), "55006");
    if (!strstr(err, "is active for PID"))
        fail_msg("unexpected error: %s", err);
    /* the failed START leaves the second connection usable in command mode */
    assert_int_equal(relay_stream_slot_ensure(second, slot_name, 0, NULL, err, sizeof(err)),
                     RELAY_STREAM_OK);
    relay_stream_close(second);
    assert_int_equal(relay_stream_finish(first, 0, 10000, err, sizeof(err)), RELAY_STREAM_OK);
    assert_int_equal(relay_stream_slot_drop(first, slot_name, err, sizeof(err)), RELAY_STREAM_OK);
    relay_stream_close(first);
}

static void test_role_without_replication_is_refused(void **state)
{
    relay_stream *stream = NULL;
    char err[512] = "";

    assert_int_equal(relay_stream_open(pg_app, &stream, err, sizeof(err)),
                     RELAY_STREAM_ERR_REFUSED);
    assert_null(stream);
    if (!strstr(err, "replication"))
        fail_msg("unexpected error: %s", err);
}

static void test_missing_publication_is_fatal(void **state)
{
    char slot_name[64];
    relay_stream *stream;
    relay_stream_event ev;
    char err[512] = "";
    int r;

    new_slot_name(slot_name, sizeof(slot_name));
    stream = start_stream(slot_name, RELAY_STREAM_SLOT_CREATE, "itest_no_such_pub", NULL);
    /* PostgreSQL 15 looks the publication up when it decodes the first change */
    (void)insert_outbox_rows(1, "itest-no-pub");
    do {
        r = read_event(stream, &ev, READ_TIMEOUT_MS, err, sizeof(err));
    } while (r == RELAY_STREAM_KEEPALIVE || r == RELAY_STREAM_XLOGDATA);
    assert_int_equal(r, RELAY_STREAM_ERR_FATAL);
    assert_string_equal(relay_stream_sqlstate(stream), "42704");
    if (!strstr(err, "publication \"itest_no_such_pub\" does not exist"))
        fail_msg("unexpected error: %s", err);
    /* the walsender survives the ERROR and releases the slot: the connection is back in
     * command mode (a TEMPORARY slot would be gone now: the error drops it) */
    if (relay_stream_slot_drop(stream, slot_name, err, sizeof(err)) != RELAY_STREAM_OK)
        fail_msg("drop: %s", err);
    relay_stream_close(stream);
}

static void test_terminated_walsender_is_retriable(void **state)
{
    char slot_name[64], sql[256], n[16];
    relay_stream *stream;
    relay_stream_event ev;
    char err[512] = "";
    int r;

    new_slot_name(slot_name, sizeof(slot_name));
    stream = start_stream(slot_name, RELAY_STREAM_SLOT_CREATE | RELAY_STREAM_SLOT_TEMPORARY,
                          "outbox_pub", NULL);
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots "
             "WHERE slot_name = '%s'",
             slot_name);
    super_value(sql, n, sizeof(n));
    assert_string_equal(n, "1");
    do {
        r = read_event(stream, &ev, READ_TIMEOUT_MS, err, sizeof(err));
    } while (r == RELAY_STREAM_KEEPALIVE || r == RELAY_STREAM_XLOGDATA);
    assert_int_equal(r, RELAY_STREAM_ERR_RETRIABLE);
    /* 57P01 when the FATAL arrived before the socket closed, none otherwise */
    assert_true(strcmp(relay_stream_sqlstate(stream), "57P01") == 0 ||
                relay_stream_sqlstate(stream)[0] == '\0');
    /* nothing works any more but close */
    assert_int_equal(relay_stream_read(stream, &ev, err, sizeof(err)), RELAY_STREAM_ERR_RETRIABLE);
    relay_stream_close(stream);
}

static void test_missing_slot_is_fatal(void **state)
{
    char slot_name[64];
    relay_stream *stream = NULL;
    char err[512] = "";

    new_slot_name(slot_name, sizeof(slot_name));
    assert_int_equal(relay_stream_open(pg_relay, &stream, err, sizeof(err)), RELAY_STREAM_OK);
    assert_int_equal(relay_stream_slot_ensure(stream, slot_name, 0, NULL, err, sizeof(err)),
                     RELAY_STREAM_ERR_FATAL);
    if (!strstr(err, "does not exist"))
        fail_msg("unexpected error: %s", err);
    assert_int_equal(relay_stream_start(stream, slot_name, 0, "outbox_pub", true, err, sizeof(err)),
                     RELAY_STREAM_ERR_FATAL);
    assert_string_equal(relay_stream_sqlstate(stream), "42704");
    relay_stream_close(stream);
}

static void test_invalid_slot_name_is_fatal(void **state)
{
    relay_stream *stream = NULL;
    char err[512] = "";

    assert_int_equal(relay_stream_open(pg_relay, &stream, err, sizeof(err)), RELAY_STREAM_OK);
    assert_int_equal(relay_stream_slot_ensure(stream, "Bad-Name\"", RELAY_STREAM_SLOT_CREATE, NULL,
                                              err, sizeof(err)),
                     RELAY_STREAM_ERR_FATAL);
    assert_int_equal(relay_stream_start(stream, "", 0, "outbox_pub", true, err, sizeof(err)),
                     RELAY_STREAM_ERR_FATAL);
    relay_stream_close(stream);
}

static void test_refused_connection_is_retriable(void **state)
{
    relay_stream *stream = NULL;
    char err[512] = "";

    assert_int_equal(relay_stream_open("host=127.0.0.1 port=1 user=outbox_relay dbname=blog",
                                       &stream, err, sizeof(err)),
                     RELAY_STREAM_ERR_RETRIABLE);
    assert_null(stream);
    assert_true(err[0] != '\0');
}

/* sslmode=require against the stack's server, which has no TLS: a TLS failure (libpq's phase,
 * not its text), retried, its message naming the TLS settings in force and the fix. */
static void test_tls_failure_is_retriable_and_names_the_settings(void **state)
{
    relay_stream *stream = NULL;
    char conninfo[1024], err[2048] = "";

    snprintf(conninfo, sizeof(conninfo), "%s sslmode=require", pg_relay);
    assert_int_equal(relay_stream_open(conninfo, &stream, err, sizeof(err)),
                     RELAY_STREAM_ERR_RETRIABLE);
    assert_null(stream);
    if (!strstr(err, "TLS: sslmode=require sslrootcert=") ||
        !strstr(err, "fix the TLS settings in postgres.conninfo"))
        fail_msg("unexpected error: %s", err);
}

/* The server answers and refuses (trust authentication, a database that does not exist): a
 * ping finds it up, so the open says refused (the relay stops unless it has streamed before). */
static void test_missing_database_is_refused(void **state)
{
    relay_stream *stream = NULL;
    char conninfo[1024], err[2048] = "";

    snprintf(conninfo, sizeof(conninfo), "%s dbname=itest_no_such_db", pg_relay);
    assert_int_equal(relay_stream_open(conninfo, &stream, err, sizeof(err)),
                     RELAY_STREAM_ERR_REFUSED);
    assert_null(stream);
    if (!strstr(err, "itest_no_such_db") || !strstr(err, "that the database exists"))
        fail_msg("unexpected error: %s", err);
}

static void test_invalid_conninfo_is_fatal(void **state)
{
    relay_stream *stream = NULL;
    char err[512] = "";

    assert_int_equal(relay_stream_open("host=127.0.0.1 bogus_option=1", &stream, err, sizeof(err)),
                     RELAY_STREAM_ERR_FATAL);
    assert_null(stream);
    if (!strstr(err, "invalid conninfo"))
        fail_msg("unexpected error: %s", err);
}

static void test_calls_in_wrong_state_are_rejected(void **state)
{
    relay_stream *stream = NULL;
    relay_stream_event ev;
    char err[512] = "";

    assert_int_equal(relay_stream_open(pg_relay, &stream, err, sizeof(err)), RELAY_STREAM_OK);
    assert_int_equal(relay_stream_read(stream, &ev, err, sizeof(err)), RELAY_STREAM_ERR_FATAL);
    assert_int_equal(relay_stream_send_status(stream, 0, 0, 0, false, err, sizeof(err)),
                     RELAY_STREAM_ERR_FATAL);
    assert_int_equal(relay_stream_finish(stream, 0, 1000, err, sizeof(err)), RELAY_STREAM_OK);
    relay_stream_close(stream);
    relay_stream_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_identifies_system),
        cmocka_unit_test(test_insert_streams_back_and_confirm_advances_slot),
        cmocka_unit_test(test_logical_message_streams_back),
        cmocka_unit_test(test_keepalive_seen_and_answered_when_idle),
        cmocka_unit_test(test_server_requests_reply_when_status_is_overdue),
        cmocka_unit_test(test_slot_in_use_is_fatal),
        cmocka_unit_test(test_role_without_replication_is_refused),
        cmocka_unit_test(test_missing_publication_is_fatal),
        cmocka_unit_test(test_terminated_walsender_is_retriable),
        cmocka_unit_test(test_missing_slot_is_fatal),
        cmocka_unit_test(test_invalid_slot_name_is_fatal),
        cmocka_unit_test(test_refused_connection_is_retriable),
        cmocka_unit_test(test_tls_failure_is_retriable_and_names_the_settings),
        cmocka_unit_test(test_missing_database_is_refused),
        cmocka_unit_test(test_invalid_conninfo_is_fatal),
        cmocka_unit_test(test_calls_in_wrong_state_are_rejected),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
