/*
 * relay_pgoutput: decode what a real PostgreSQL 15 walsender sent (tests/fixtures/pgoutput,
 * captured by tests/fixtures/pgoutput/capture.sh), reject everything else.
 *
 * The expected LSNs, xids and times below are those of the committed capture; after a
 * recapture, `python3 tests/fixtures/pgoutput/dump.py tests/fixtures/pgoutput/ *.bin` prints
 * the new ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pgoutput.h"
#include "pgoutput_fixtures.h"

#define LSN(hi, lo) (((uint64_t)(hi) << 32) | (uint64_t)(lo))

/* ------------------------------------------------------------------ fixture files */

/* Decode the pgoutput message in frame i, which must succeed and be of `type`. */
static relay_pgoutput_msg frame_decode(const fixture *fx, size_t i, relay_pgoutput_type type)
{
    relay_pgoutput_xlogdata x = frame_xlogdata(fx, i);
    relay_pgoutput_msg msg;
    char err[256] = "";

    if (relay_pgoutput_decode(x.data, x.size, &msg, err, sizeof(err)) != 0)
        fail_msg("frame %zu: %s", i, err);
    assert_int_equal(msg.type, type);
    return msg;
}

/* A private, exactly sized copy of frame i's payload, to corrupt or cut. */
static uint8_t *payload_copy(const fixture *fx, size_t i, size_t *len)
{
    relay_pgoutput_xlogdata x = frame_xlogdata(fx, i);
    uint8_t *copy = malloc(x.size + 1);

    assert_non_null(copy);
    memcpy(copy, x.data, x.size);
    *len = x.size;
    return copy;
}

static void assert_value_text(const relay_pgoutput_value *v, const char *text)
{
    assert_int_equal(v->kind, RELAY_PGOUTPUT_VALUE_TEXT);
    assert_int_equal(v->len, strlen(text));
    assert_memory_equal(v->data, text, v->len);
}

static void assert_value_kind(const relay_pgoutput_value *v, char kind)
{
    assert_int_equal(v->kind, kind);
    assert_null(v->data);
    assert_int_equal(v->len, 0);
}

/* Every value of a tuple, checking the count. */
static void tuple_values(const relay_pgoutput_tuple *t, relay_pgoutput_value *values,
                         size_t expected)
{
    assert_int_equal(t->ncols, expected);
    assert_int_equal(relay_pgoutput_tuple_values(t, values, expected), expected);
}

typedef struct expected_column {
    uint8_t flags;
    const char *name;
    uint32_t type_oid;
    int32_t typmod;
} expected_column;

static void assert_columns(const relay_pgoutput_relation *rel, const expected_column *want,
                           size_t n)
{
    relay_pgoutput_cursor cur;
    relay_pgoutput_column col;
    size_t i = 0;

    assert_int_equal(rel->ncols, n);
    relay_pgoutput_columns_begin(rel, &cur);
    while (relay_pgoutput_columns_next(&cur, &col)) {
        assert_true(i < n);
        assert_int_equal(col.flags, want[i].flags);
        assert_string_equal(col.name, want[i].name);
        assert_int_equal(col.type_oid, want[i].type_oid);
        assert_int_equal(col.typmod, want[i].typmod);
        i++;
    }
    assert_int_equal(i, n);
}

static void assert_err_contains(const char *err, const char *part)
{
    if (!strstr(err, part))
        fail_msg("error \"%s\" does not contain \"%s\"", err, part);
}

/* ------------------------------------------------------------------ outbox rows */

static void test_outbox_begin_fields(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_msg m = frame_decode(fx, 0, RELAY_PGOUTPUT_BEGIN);

    assert_int_equal(fx->nframes, 6);
    assert_int_equal(m.u.begin.final_lsn, LSN(0, 0x1ECA518));
    assert_int_equal(m.u.begin.commit_time, INT64_C(848764662244383));
    assert_int_equal(m.u.begin.xid, 817);
    fixture_free(fx);
}

static void test_outbox_relation_columns(void **state)
{
    static const expected_column want[] = {
        {1, "id", 2950, -1},         {0, "aggregate_type", 25, -1}, {0, "aggregate_id", 25, -1},
        {0, "event_type", 25, -1},   {0, "payload", 3802, -1},      {0, "headers", 3802, -1},
        {0, "created_at", 1184, -1},
    };
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_msg m = frame_decode(fx, 1, RELAY_PGOUTPUT_RELATION);

    assert_int_equal(m.u.relation.relid, 16389);
    assert_string_equal(m.u.relation.nspname, "public");
    assert_string_equal(m.u.relation.relname, "outbox");
    assert_int_equal(m.u.relation.replica_identity, RELAY_PGOUTPUT_IDENTITY_DEFAULT);
    assert_columns(&m.u.relation, want, 7);
    fixture_free(fx);
}

static void test_outbox_insert_with_null_headers(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_msg m = frame_decode(fx, 2, RELAY_PGOUTPUT_INSERT);
    relay_pgoutput_value v[7];

    assert_int_equal(m.u.insert.relid, 16389);
    tuple_values(&m.u.insert.newtuple, v, 7);
    assert_value_text(&v[0], "6f1c2a9e-0d5b-4c1a-9a57-2b8f3d4e5a61");
    assert_value_text(&v[1], "post");
    assert_value_text(&v[2], "post-1");
    assert_value_text(&v[3], "PostCreated");
    assert_value_text(&v[4], "{\"id\": \"post-1\", \"tags\": [\"c\", \"kafka\"], \"title\": "
                             "\"Hello, outbox\"}");
    assert_value_kind(&v[5], RELAY_PGOUTPUT_VALUE_NULL);
    assert_value_text(&v[6], "2024-01-02 03:04:05.678901+00");
    fixture_free(fx);
}

static void test_outbox_insert_with_headers(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_msg m = frame_decode(fx, 3, RELAY_PGOUTPUT_INSERT);
    relay_pgoutput_value v[7];

    tuple_values(&m.u.insert.newtuple, v, 7);
    assert_value_text(&v[0], "6f1c2a9e-0d5b-4c1a-9a57-2b8f3d4e5a62");
    assert_value_text(&v[3], "PostPublished");
    assert_value_text(&v[4], "{\"id\": \"post-1\", \"published\": true}");
    assert_value_text(
        &v[5], "{\"traceparent\": \"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}");
    assert_value_text(&v[6], "2024-01-02 03:04:06+00");
    fixture_free(fx);
}

static void test_outbox_insert_utf8_payload(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_msg m = frame_decode(fx, 4, RELAY_PGOUTPUT_INSERT);
    relay_pgoutput_value v[7];

    tuple_values(&m.u.insert.newtuple, v, 7);
    assert_value_text(&v[0], "6f1c2a9e-0d5b-4c1a-9a57-2b8f3d4e5a63");
    assert_value_text(&v[1], "comment");
    assert_value_text(&v[2], "comment-7");
    assert_value_text(&v[3], "CommentAdded");
    assert_value_text(&v[4], "{\"n\": 42, \"body\": \"caf\xc3\xa9 \xe2\x98\x83\", \"post_id\": "
                             "\"post-1\"}");
    assert_value_kind(&v[5], RELAY_PGOUTPUT_VALUE_NULL);
    fixture_free(fx);
}

static void test_outbox_commit_fields(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_msg b = frame_decode(fx, 0, RELAY_PGOUTPUT_BEGIN);
    relay_pgoutput_msg c = frame_decode(fx, 5, RELAY_PGOUTPUT_COMMIT);

    assert_int_equal(c.u.commit.flags, 0);
    assert_int_equal(c.u.commit.commit_lsn, LSN(0, 0x1ECA518));
    assert_int_equal(c.u.commit.commit_lsn, b.u.begin.final_lsn);
    assert_int_equal(c.u.commit.end_lsn, LSN(0, 0x1ECA548));
    assert_int_equal(c.u.commit.commit_time, b.u.begin.commit_time);
    fixture_free(fx);
}

static void test_xlogdata_frame_fields(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_xlogdata insert = frame_xlogdata(fx, 2);
    relay_pgoutput_xlogdata relation = frame_xlogdata(fx, 1);
    relay_pgoutput_xlogdata commit = frame_xlogdata(fx, 5);

    /* a change: wal_start = wal_end = the change's LSN */
    assert_int_equal(insert.wal_start, LSN(0, 0x1ECA108));
    assert_int_equal(insert.wal_end, LSN(0, 0x1ECA108));
    assert_int_equal(insert.send_time, INT64_C(848764662244932));
    assert_int_equal(insert.size, 191);
    assert_ptr_equal(insert.data, fx->frame[2] + 25);
    /* a Relation is sent with no position at all */
    assert_int_equal(relation.wal_start, 0);
    assert_int_equal(relation.wal_end, 0);
    /* a Commit at the end of the commit record */
    assert_int_equal(commit.wal_start, LSN(0, 0x1ECA548));
    fixture_free(fx);
}

/* ------------------------------------------------------------------ logical messages */

static void test_message_transactional(void **state)
{
    static const char content[] =
        "{\"id\": \"7a0e3a52-3c1e-4f3e-9d38-0c6f7f1a2b01\", \"aggregate_type\": \"post\", "
        "\"aggregate_id\": \"post-2\", \"event_type\": \"PostCreated\", \"payload\": {\"id\": "
        "\"post-2\"}}";
    fixture *fx = fixture_load("message_transactional.bin");
    relay_pgoutput_msg b = frame_decode(fx, 0, RELAY_PGOUTPUT_BEGIN);
    relay_pgoutput_msg m = frame_decode(fx, 1, RELAY_PGOUTPUT_MESSAGE);
    relay_pgoutput_msg c = frame_decode(fx, 2, RELAY_PGOUTPUT_COMMIT);

    assert_int_equal(fx->nframes, 3);
    assert_int_equal(b.u.begin.xid, 818);
    assert_int_equal(b.u.begin.final_lsn, LSN(0, 0x1ECA6A8));
    assert_int_equal(m.u.message.flags, RELAY_PGOUTPUT_MESSAGE_TRANSACTIONAL);
    assert_true(m.u.message.transactional);
    assert_int_equal(m.u.message.lsn, LSN(0, 0x1ECA6A8));
    assert_string_equal(m.u.message.prefix, "outbox");
    assert_int_equal(m.u.message.content_len, strlen(content));
    assert_memory_equal(m.u.message.content, content, strlen(content));
    assert_int_equal(c.u.commit.end_lsn, LSN(0, 0x1ECA6D8));
    fixture_free(fx);
}

static void test_message_nontransactional_text(void **state)
{
    fixture *fx = fixture_load("message_nontransactional.bin");
    relay_pgoutput_msg m = frame_decode(fx, 0, RELAY_PGOUTPUT_MESSAGE);

    assert_int_equal(fx->nframes, 2); /* no Begin/Commit around them */
    assert_int_equal(m.u.message.flags, 0);
    assert_false(m.u.message.transactional);
    assert_int_equal(m.u.message.lsn, LSN(0, 0x1ECA7A8));
    assert_string_equal(m.u.message.prefix, "outbox");
    assert_int_equal(m.u.message.content_len, 9);
    assert_memory_equal(m.u.message.content, "heartbeat", 9);
    fixture_free(fx);
}

static void test_message_nontransactional_binary_content(void **state)
{
    static const uint8_t content[] = {0x00, 0xff, 0x0a, 0x00};
    fixture *fx = fixture_load("message_nontransactional.bin");
    relay_pgoutput_msg m = frame_decode(fx, 1, RELAY_PGOUTPUT_MESSAGE);

    assert_false(m.u.message.transactional);
    assert_int_equal(m.u.message.lsn, LSN(0, 0x1ECA7F0));
    assert_string_equal(m.u.message.prefix, "outbox.bin");
    assert_int_equal(m.u.message.content_len, sizeof(content));
    assert_memory_equal(m.u.message.content, content, sizeof(content));
    fixture_free(fx);
}

/* ------------------------------------------------------------------ UPDATE, DELETE */

static const expected_column items_columns[] = {
    {1, "id", 23, -1}, {0, "name", 25, -1}, {0, "qty", 23, -1}, {0, "note", 25, -1}};
static const expected_column items_full_columns[] = {{1, "id", 23, -1}, {1, "name", 25, -1}};

static void test_update_relation_default_identity(void **state)
{
    fixture *fx = fixture_load("update.bin");
    relay_pgoutput_msg m = frame_decode(fx, 1, RELAY_PGOUTPUT_RELATION);

    assert_int_equal(fx->nframes, 11);
    assert_int_equal(m.u.relation.relid, 16517);
    assert_string_equal(m.u.relation.nspname, "pgoutput_fixture");
    assert_string_equal(m.u.relation.relname, "items");
    assert_int_equal(m.u.relation.replica_identity, RELAY_PGOUTPUT_IDENTITY_DEFAULT);
    assert_columns(&m.u.relation, items_columns, 4);
    fixture_free(fx);
}

static void test_update_without_old_tuple_has_unchanged_toast(void **state)
{
    fixture *fx = fixture_load("update.bin");
    relay_pgoutput_msg m = frame_decode(fx, 2, RELAY_PGOUTPUT_UPDATE);
    relay_pgoutput_value v[4];

    assert_int_equal(m.u.update.relid, 16517);
    assert_int_equal(m.u.update.old_kind, RELAY_PGOUTPUT_OLD_NONE);
    assert_int_equal(m.u.update.oldtuple.ncols, 0);
    tuple_values(&m.u.update.newtuple, v, 4);
    assert_value_text(&v[0], "1");
    assert_value_text(&v[1], "apple");
    assert_value_text(&v[2], "4");
    assert_value_kind(&v[3], RELAY_PGOUTPUT_VALUE_UNCHANGED);
    fixture_free(fx);
}

static void test_update_of_key_carries_old_key(void **state)
{
    fixture *fx = fixture_load("update.bin");
    relay_pgoutput_msg b = frame_decode(fx, 4, RELAY_PGOUTPUT_BEGIN);
    relay_pgoutput_msg m = frame_decode(fx, 5, RELAY_PGOUTPUT_UPDATE);
    relay_pgoutput_value old[4], new[4];

    assert_int_equal(b.u.begin.xid, 820);
    assert_int_equal(m.u.update.old_kind, RELAY_PGOUTPUT_OLD_KEY);
    tuple_values(&m.u.update.oldtuple, old, 4);
    assert_value_text(&old[0], "1");
    assert_value_kind(&old[1], RELAY_PGOUTPUT_VALUE_NULL);
    assert_value_kind(&old[2], RELAY_PGOUTPUT_VALUE_NULL);
    assert_value_kind(&old[3], RELAY_PGOUTPUT_VALUE_NULL);
    tuple_values(&m.u.update.newtuple, new, 4);
    assert_value_text(&new[0], "2");
    assert_value_kind(&new[1], RELAY_PGOUTPUT_VALUE_NULL);
    assert_value_text(&new[2], "4");
    assert_value_kind(&new[3], RELAY_PGOUTPUT_VALUE_UNCHANGED);
    fixture_free(fx);
}

static void test_update_identity_full_carries_old_row(void **state)
{
    fixture *fx = fixture_load("update.bin");
    relay_pgoutput_msg r = frame_decode(fx, 8, RELAY_PGOUTPUT_RELATION);
    relay_pgoutput_msg m = frame_decode(fx, 9, RELAY_PGOUTPUT_UPDATE);
    relay_pgoutput_msg c = frame_decode(fx, 10, RELAY_PGOUTPUT_COMMIT);
    relay_pgoutput_value old[2], new[2];

    assert_int_equal(r.u.relation.relid, 16524);
    assert_string_equal(r.u.relation.relname, "items_full");
    assert_int_equal(r.u.relation.replica_identity, RELAY_PGOUTPUT_IDENTITY_FULL);
    assert_columns(&r.u.relation, items_full_columns, 2);
    assert_int_equal(m.u.update.relid, 16524);
    assert_int_equal(m.u.update.old_kind, RELAY_PGOUTPUT_OLD_FULL);
    tuple_values(&m.u.update.oldtuple, old, 2);
    assert_value_text(&old[0], "1");
    assert_value_text(&old[1], "pear");
    tuple_values(&m.u.update.newtuple, new, 2);
    assert_value_text(&new[0], "1");
    assert_value_text(&new[1], "plum");
    assert_int_equal(c.u.commit.commit_lsn, LSN(0, 0x1ECAAB8));
    assert_int_equal(c.u.commit.end_lsn, LSN(0, 0x1ECAAE8));
    fixture_free(fx);
}

static void test_delete_carries_old_key(void **state)
{
    fixture *fx = fixture_load("delete.bin");
    relay_pgoutput_msg m = frame_decode(fx, 2, RELAY_PGOUTPUT_DELETE);
    relay_pgoutput_value v[4];

    assert_int_equal(fx->nframes, 8);
    assert_int_equal(m.u.delete_.relid, 16517);
    assert_int_equal(m.u.delete_.old_kind, RELAY_PGOUTPUT_OLD_KEY);
    tuple_values(&m.u.delete_.oldtuple, v, 4);
    assert_value_text(&v[0], "2");
    assert_value_kind(&v[1], RELAY_PGOUTPUT_VALUE_NULL);
    assert_value_kind(&v[2], RELAY_PGOUTPUT_VALUE_NULL);
    assert_value_kind(&v[3], RELAY_PGOUTPUT_VALUE_NULL);
    fixture_free(fx);
}

static void test_delete_identity_full_carries_old_row(void **state)
{
    fixture *fx = fixture_load("delete.bin");
    relay_pgoutput_msg m = frame_decode(fx, 6, RELAY_PGOUTPUT_DELETE);
    relay_pgoutput_value v[2];

    assert_int_equal(m.u.delete_.relid, 16524);
    assert_int_equal(m.u.delete_.old_kind, RELAY_PGOUTPUT_OLD_FULL);
    tuple_values(&m.u.delete_.oldtuple, v, 2);
    assert_value_text(&v[0], "1");
    assert_value_text(&v[1], "plum");
    fixture_free(fx);
}

/* ------------------------------------------------------------------ TRUNCATE */

static void test_truncate_one_relation_without_options(void **state)
{
    fixture *fx = fixture_load("truncate.bin");
    relay_pgoutput_msg m = frame_decode(fx, 2, RELAY_PGOUTPUT_TRUNCATE);

    assert_int_equal(fx->nframes, 9);
    assert_int_equal(m.u.truncate.options, 0);
    assert_int_equal(m.u.truncate.nrelids, 1);
    assert_int_equal(relay_pgoutput_truncate_relid(&m.u.truncate, 0), 16517);
    fixture_free(fx);
}

static void test_truncate_two_relations_cascade_restart_identity(void **state)
{
    fixture *fx = fixture_load("truncate.bin");
    relay_pgoutput_msg r1 = frame_decode(fx, 5, RELAY_PGOUTPUT_RELATION);
    relay_pgoutput_msg r2 = frame_decode(fx, 6, RELAY_PGOUTPUT_RELATION);
    relay_pgoutput_msg m = frame_decode(fx, 7, RELAY_PGOUTPUT_TRUNCATE);

    /* each relation is described again before the second transaction uses it */
    assert_int_equal(r1.u.relation.relid, 16517);
    assert_int_equal(r2.u.relation.relid, 16524);
    assert_int_equal(m.u.truncate.options,
                     RELAY_PGOUTPUT_TRUNCATE_CASCADE | RELAY_PGOUTPUT_TRUNCATE_RESTART_IDENTITY);
    assert_int_equal(m.u.truncate.nrelids, 2);
    assert_int_equal(relay_pgoutput_truncate_relid(&m.u.truncate, 0), 16517);
    assert_int_equal(relay_pgoutput_truncate_relid(&m.u.truncate, 1), 16524);
    fixture_free(fx);
}

/* ------------------------------------------------------------------ many types */

static void test_types_enum_sent_as_type_message(void **state)
{
    fixture *fx = fixture_load("types.bin");
    relay_pgoutput_msg m = frame_decode(fx, 1, RELAY_PGOUTPUT_TYPE);

    assert_int_equal(fx->nframes, 6);
    assert_int_equal(m.u.type_msg.type_oid, 16532);
    assert_string_equal(m.u.type_msg.nspname, "pgoutput_fixture");
    assert_string_equal(m.u.type_msg.typname, "mood");
    fixture_free(fx);
}

static void test_types_relation_oids_and_typmods(void **state)
{
    static const expected_column want[] = {
        {1, "id", 20, -1},          {0, "c_bool", 16, -1},          {0, "c_int2", 21, -1},
        {0, "c_int4", 23, -1},      {0, "c_numeric", 1700, 655367}, /* (10 << 16 | 3) + 4 */
        {0, "c_float8", 701, -1},   {0, "c_text", 25, -1},          {0, "c_varchar", 1043, 24},
        {0, "c_char", 1042, 7},     {0, "c_bytea", 17, -1},         {0, "c_date", 1082, -1},
        {0, "c_ts", 1114, -1},      {0, "c_tstz", 1184, 3},         {0, "c_interval", 1186, -1},
        {0, "c_uuid", 2950, -1},    {0, "c_json", 114, -1},         {0, "c_jsonb", 3802, -1},
        {0, "c_int4arr", 1007, -1}, {0, "c_textarr", 1009, -1},     {0, "c_inet", 869, -1},
        {0, "c_mood", 16532, -1},
    };
    fixture *fx = fixture_load("types.bin");
    relay_pgoutput_msg m = frame_decode(fx, 2, RELAY_PGOUTPUT_RELATION);

    assert_int_equal(m.u.relation.relid, 16539);
    assert_string_equal(m.u.relation.relname, "types");
    /* 21 of 22 columns: the generated column c_gen is not sent */
    assert_columns(&m.u.relation, want, sizeof(want) / sizeof(want[0]));
    fixture_free(fx);
}

static void test_types_text_values(void **state)
{
    fixture *fx = fixture_load("types.bin");
    relay_pgoutput_msg m = frame_decode(fx, 3, RELAY_PGOUTPUT_INSERT);
    relay_pgoutput_value v[21];

    tuple_values(&m.u.insert.newtuple, v, 21);
    assert_value_text(&v[0], "9007199254740993");
    assert_value_text(&v[1], "t");
    assert_value_text(&v[2], "-32768");
    assert_value_text(&v[3], "123456789");
    assert_value_text(&v[4], "1234567.891");
    assert_value_text(&v[5], "0.1");
    assert_value_text(&v[6], "tab\there \"quoted\"");
    assert_value_text(&v[7], "varchar");
    assert_value_text(&v[8], "ab ");
    assert_value_text(&v[9], "\\xdeadbeef");
    assert_value_text(&v[10], "2024-02-29");
    assert_value_text(&v[11], "2024-01-02 03:04:05.123456");
    assert_value_text(&v[12], "2024-01-02 03:04:05.123+00");
    assert_value_text(&v[13], "1 day 02:03:04");
    assert_value_text(&v[14], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_value_text(&v[15], "{\"b\": 1, \"a\": [true, null]}");
    assert_value_text(&v[16], "{\"a\": [true, null], \"b\": 1}");
    assert_value_text(&v[17], "{1,2,3}");
    assert_value_text(&v[18], "{\"x y\",NULL,z}");
    assert_value_text(&v[19], "192.168.0.1/24");
    assert_value_text(&v[20], "happy");
    fixture_free(fx);
}

static void test_types_all_null_row(void **state)
{
    fixture *fx = fixture_load("types.bin");
    relay_pgoutput_msg m = frame_decode(fx, 4, RELAY_PGOUTPUT_INSERT);
    relay_pgoutput_value v[21];

    tuple_values(&m.u.insert.newtuple, v, 21);
    assert_value_text(&v[0], "2");
    for (size_t i = 1; i < 21; i++)
        assert_value_kind(&v[i], RELAY_PGOUTPUT_VALUE_NULL);
    fixture_free(fx);
}

static void test_tuple_values_respects_capacity(void **state)
{
    fixture *fx = fixture_load("types.bin");
    relay_pgoutput_msg m = frame_decode(fx, 3, RELAY_PGOUTPUT_INSERT);
    relay_pgoutput_value v[3];

    memset(v, 0, sizeof(v));
    assert_int_equal(relay_pgoutput_tuple_values(&m.u.insert.newtuple, v, 2), 21);
    assert_value_text(&v[0], "9007199254740993");
    assert_value_text(&v[1], "t");
    assert_int_equal(v[2].kind, 0); /* untouched */
    fixture_free(fx);
}

/* ------------------------------------------------------------------ origin */

static void test_origin_message(void **state)
{
    fixture *fx = fixture_load("origin.bin");
    relay_pgoutput_msg b = frame_decode(fx, 0, RELAY_PGOUTPUT_BEGIN);
    relay_pgoutput_msg o = frame_decode(fx, 1, RELAY_PGOUTPUT_ORIGIN);

    assert_int_equal(fx->nframes, 5);
    assert_int_equal(o.u.origin.origin_lsn, LSN(0, 0xABCDEF01));
    assert_string_equal(o.u.origin.name, "pgoutput_fixture_origin");
    /* pg_replication_origin_xact_setup() set the commit time: 2024-01-02 03:04:05 UTC */
    assert_int_equal(relay_pgoutput_time_to_unix_usec(b.u.begin.commit_time),
                     INT64_C(1704164645000000));
    fixture_free(fx);
}

static void test_time_conversion_round_trips(void **state)
{
    assert_int_equal(relay_pgoutput_time_to_unix_usec(0), INT64_C(946684800000000));
    assert_int_equal(relay_pgoutput_time_from_unix_usec(INT64_C(946684800000000)), 0);
    assert_int_equal(relay_pgoutput_time_from_unix_usec(relay_pgoutput_time_to_unix_usec(-5)), -5);
    /* A commit time near PostgreSQL's infinity (fuzz finding, fuzz_pgoutput): saturates. */
    assert_int_equal(relay_pgoutput_time_to_unix_usec(INT64_C(9223195290360663145)), INT64_MAX);
    assert_int_equal(relay_pgoutput_time_to_unix_usec(INT64_MAX), INT64_MAX);
    assert_int_equal(relay_pgoutput_time_from_unix_usec(INT64_MIN), INT64_MIN);
}

/* ------------------------------------------------------------------ replication frames */

static void test_keepalive_frame(void **state)
{
    fixture *fx = fixture_load("keepalive.bin");
    relay_pgoutput_keepalive k;
    char err[256] = "";

    assert_int_equal(fx->nframes, 1);
    assert_int_equal(fx->frame_len[0], 18);
    assert_int_equal(relay_pgoutput_read_keepalive(fx->frame[0], 18, &k, err, sizeof(err)), 0);
    assert_int_equal(k.wal_end, LSN(0, 0x1ECDA20));
    assert_int_equal(k.send_time, INT64_C(848764663979520));
    assert_false(k.reply_requested);
    fixture_free(fx);
}

static void test_keepalive_reply_requested(void **state)
{
    fixture *fx = fixture_load("keepalive.bin");
    uint8_t frame[18];
    relay_pgoutput_keepalive k;
    char err[256] = "";

    memcpy(frame, fx->frame[0], 18);
    frame[17] = 1;
    assert_int_equal(relay_pgoutput_read_keepalive(frame, 18, &k, err, sizeof(err)), 0);
    assert_true(k.reply_requested);
    fixture_free(fx);
}

static void test_keepalive_non_boolean_reply_rejected(void **state)
{
    fixture *fx = fixture_load("keepalive.bin");
    uint8_t frame[18];
    relay_pgoutput_keepalive k;
    char err[256] = "";

    memcpy(frame, fx->frame[0], 18);
    frame[17] = 2;
    assert_int_equal(relay_pgoutput_read_keepalive(frame, 18, &k, err, sizeof(err)), -1);
    assert_err_contains(err, "Keepalive: reply_requested");
    fixture_free(fx);
}

static void test_keepalive_truncated_or_long_rejected(void **state)
{
    fixture *fx = fixture_load("keepalive.bin");
    uint8_t frame[19];
    relay_pgoutput_keepalive k;
    char err[256];

    memcpy(frame, fx->frame[0], 18);
    frame[18] = 0;
    for (size_t cut = 0; cut < 18; cut++) {
        uint8_t *copy = malloc(cut + 1);
        assert_non_null(copy);
        memcpy(copy, frame, cut);
        err[0] = '\0';
        assert_int_equal(relay_pgoutput_read_keepalive(copy, cut, &k, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        free(copy);
    }
    assert_int_equal(relay_pgoutput_read_keepalive(frame, 19, &k, err, sizeof(err)), -1);
    assert_err_contains(err, "trailing");
    fixture_free(fx);
}

static void test_xlogdata_short_header_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_xlogdata x;
    char err[256];

    for (size_t cut = 0; cut < 25; cut++) {
        uint8_t *copy = malloc(cut + 1);
        assert_non_null(copy);
        memcpy(copy, fx->frame[0], cut);
        err[0] = '\0';
        assert_int_equal(relay_pgoutput_read_xlogdata(copy, cut, &x, err, sizeof(err)), -1);
        assert_true(strncmp(err, "XLogData: ", 10) == 0);
        free(copy);
    }
    fixture_free(fx);
}

static void test_xlogdata_wrong_type_rejected(void **state)
{
    fixture *fx = fixture_load("keepalive.bin");
    relay_pgoutput_xlogdata x;
    char err[256] = "";

    assert_int_equal(relay_pgoutput_read_xlogdata(fx->frame[0], 18, &x, err, sizeof(err)), -1);
    assert_err_contains(err, "XLogData: message type");
    fixture_free(fx);
}

static void test_status_update_layout(void **state)
{
    static const uint8_t want[RELAY_PGOUTPUT_STATUS_SIZE] = {
        'r',  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, /* written 1/2 */
        0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,       /* flushed 3/4 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,       /* applied 0 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,       /* clock -2 */
        0x01,                                                 /* reply requested */
    };
    uint8_t out[RELAY_PGOUTPUT_STATUS_SIZE];

    relay_pgoutput_write_status(out, LSN(1, 2), LSN(3, 4), 0, -2, true);
    assert_memory_equal(out, want, sizeof(want));
    relay_pgoutput_write_status(out, LSN(1, 2), LSN(3, 4), 0, -2, false);
    assert_int_equal(out[33], 0);
}

/* ------------------------------------------------------------------ every fixture, strictly */

static const char *const all_fixtures[] = {
    "outbox_insert.bin",
    "message_transactional.bin",
    "message_nontransactional.bin",
    "update.bin",
    "delete.bin",
    "truncate.bin",
    "types.bin",
    "origin.bin",
};
#define NFIXTURES (sizeof(all_fixtures) / sizeof(all_fixtures[0]))

static void test_decode_accepts_every_captured_message(void **state)
{
    size_t total = 0;

    for (size_t f = 0; f < NFIXTURES; f++) {
        fixture *fx = fixture_load(all_fixtures[f]);

        for (size_t i = 0; i < fx->nframes; i++) {
            relay_pgoutput_xlogdata x = frame_xlogdata(fx, i);
            (void)frame_decode(fx, i, (relay_pgoutput_type)x.data[0]);
            total++;
        }
        fixture_free(fx);
    }
    assert_int_equal(total, 6 + 3 + 2 + 11 + 8 + 9 + 6 + 5);
}

/* Message names as the decoder reports them, by type byte. */
static const char *msg_name(uint8_t type)
{
    return relay_pgoutput_type_name(type);
}

static void test_every_truncated_prefix_rejected(void **state)
{
    size_t checked = 0;

    for (size_t f = 0; f < NFIXTURES; f++) {
        fixture *fx = fixture_load(all_fixtures[f]);

        for (size_t i = 0; i < fx->nframes; i++) {
            relay_pgoutput_xlogdata x = frame_xlogdata(fx, i);

            for (size_t cut = 0; cut < x.size; cut++) {
                /* an exactly sized copy, so that any read past `cut` is a heap overread
                 * (valgrind, ASan) */
                uint8_t *copy = malloc(cut ? cut : 1);
                relay_pgoutput_msg msg;
                char err[256] = "";

                assert_non_null(copy);
                memcpy(copy, x.data, cut);
                if (relay_pgoutput_decode(copy, cut, &msg, err, sizeof(err)) != -1)
                    fail_msg("%s frame %zu cut at %zu of %zu: accepted", all_fixtures[f], i, cut,
                             x.size);
                if (cut == 0)
                    assert_string_equal(err, "empty pgoutput message");
                else if (strncmp(err, msg_name(x.data[0]), strlen(msg_name(x.data[0]))) != 0 ||
                         !strstr(err, ": truncated at "))
                    fail_msg("%s frame %zu cut at %zu: unexpected error \"%s\"", all_fixtures[f], i,
                             cut, err);
                free(copy);
                checked++;
            }
        }
        fixture_free(fx);
    }
    assert_int_equal(checked, 3203); /* every payload byte of every fixture */
}

static void test_trailing_byte_rejected_for_every_message(void **state)
{
    for (size_t f = 0; f < NFIXTURES; f++) {
        fixture *fx = fixture_load(all_fixtures[f]);

        for (size_t i = 0; i < fx->nframes; i++) {
            size_t len;
            uint8_t *copy = payload_copy(fx, i, &len);
            relay_pgoutput_msg msg;
            char err[256] = "";

            copy[len] = 0;
            if (relay_pgoutput_decode(copy, len + 1, &msg, err, sizeof(err)) != -1)
                fail_msg("%s frame %zu: trailing byte accepted", all_fixtures[f], i);
            assert_err_contains(err, "1 trailing bytes");
            free(copy);
        }
        fixture_free(fx);
    }
}

/* ------------------------------------------------------------------ errors name the field */

/* Offset of column `col` (1-based) of the Insert's tuple in frame i's payload. */
static size_t insert_column_offset(const fixture *fx, size_t i, unsigned col)
{
    relay_pgoutput_msg m = frame_decode(fx, i, RELAY_PGOUTPUT_INSERT);
    relay_pgoutput_xlogdata x = frame_xlogdata(fx, i);
    relay_pgoutput_cursor cur;
    relay_pgoutput_value v;
    size_t off = 0;

    relay_pgoutput_tuple_begin(&m.u.insert.newtuple, &cur);
    for (unsigned c = 1; c <= col; c++) {
        off = (size_t)(cur.pos - x.data);
        assert_true(relay_pgoutput_tuple_next(&cur, &v));
    }
    return off; /* the kind byte of column `col` */
}

static void test_truncated_insert_names_column_and_field(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t off = insert_column_offset(fx, 2, 3);
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_insert ins;
    char err[256] = "";

    /* kind byte present, two of the four length bytes */
    assert_int_equal(relay_pgoutput_read_insert(copy, off + 3, &ins, err, sizeof(err)), -1);
    assert_string_equal(err, "Insert: truncated at column 3 length");
    assert_int_equal(relay_pgoutput_read_insert(copy, off, &ins, err, sizeof(err)), -1);
    assert_string_equal(err, "Insert: truncated at column 3 kind");
    assert_int_equal(relay_pgoutput_read_insert(copy, off + 6, &ins, err, sizeof(err)), -1);
    assert_string_equal(err, "Insert: truncated at column 3 value");
    assert_int_equal(relay_pgoutput_read_insert(copy, 3, &ins, err, sizeof(err)), -1);
    assert_string_equal(err, "Insert: truncated at relid");
    free(copy);
    fixture_free(fx);
}

static void test_truncated_update_names_tuple(void **state)
{
    fixture *fx = fixture_load("update.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 5, &len); /* K old key, then N */
    relay_pgoutput_update up;
    char err[256] = "";

    /* 'U', relid, 'K', ncols(2), col 1: 't' len(4) "1" -> col 2 kind at 14 */
    assert_int_equal(relay_pgoutput_read_update(copy, 14, &up, err, sizeof(err)), -1);
    assert_string_equal(err, "Update: truncated at old key column 2 kind");
    assert_int_equal(relay_pgoutput_read_update(copy, len - 1, &up, err, sizeof(err)), -1);
    assert_string_equal(err, "Update: truncated at new tuple column 4 kind");
    free(copy);
    fixture_free(fx);
}

static void test_unknown_tuple_kind_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t off = insert_column_offset(fx, 2, 2);
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    copy[off] = 'x';
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Insert: column 2 kind: unknown tuple value kind 0x78");
    free(copy);
    fixture_free(fx);
}

static void test_binary_tuple_kind_accepted(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t off = insert_column_offset(fx, 2, 2);
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_insert ins;
    relay_pgoutput_value v[7];
    char err[256] = "";

    copy[off] = 'b'; /* same layout as 't'; only sent with binary 'true' */
    assert_int_equal(relay_pgoutput_read_insert(copy, len, &ins, err, sizeof(err)), 0);
    tuple_values(&ins.newtuple, v, 7);
    assert_int_equal(v[1].kind, RELAY_PGOUTPUT_VALUE_BINARY);
    assert_memory_equal(v[1].data, "post", 4);
    free(copy);
    fixture_free(fx);
}

static void test_negative_value_length_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t off = insert_column_offset(fx, 2, 1);
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_insert ins;
    char err[256] = "";

    memset(copy + off + 1, 0xff, 4); /* length -1 */
    assert_int_equal(relay_pgoutput_read_insert(copy, len, &ins, err, sizeof(err)), -1);
    assert_err_contains(err, "Insert: column 1 length: negative");
    free(copy);
    fixture_free(fx);
}

static void test_negative_column_count_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_insert ins;
    char err[256] = "";

    copy[6] = 0x80; /* 'I', relid(4), 'N', then ncols */
    assert_int_equal(relay_pgoutput_read_insert(copy, len, &ins, err, sizeof(err)), -1);
    assert_err_contains(err, "Insert: number of columns: negative");
    free(copy);
    fixture_free(fx);
}

static void test_unknown_message_type_rejected(void **state)
{
    static const uint8_t z[] = {'Z', 0, 0, 0, 0};
    static const uint8_t nul[] = {0x00};
    relay_pgoutput_msg msg;
    char err[256] = "";

    assert_int_equal(relay_pgoutput_decode(z, sizeof(z), &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown pgoutput message type 'Z' (0x5a)");
    assert_int_equal(relay_pgoutput_decode(nul, sizeof(nul), &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown pgoutput message type 0x00");
}

static void test_later_protocol_message_rejected(void **state)
{
    static const uint8_t stream_start[] = {'S', 0, 0, 3, 0x20, 1};
    static const uint8_t begin_prepare[] = {'b', 0};
    relay_pgoutput_msg msg;
    char err[256] = "";

    assert_int_equal(
        relay_pgoutput_decode(stream_start, sizeof(stream_start), &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Stream Start: message type 'S' is not valid in protocol version 1");
    assert_int_equal(
        relay_pgoutput_decode(begin_prepare, sizeof(begin_prepare), &msg, err, sizeof(err)), -1);
    assert_err_contains(err, "Begin Prepare");
}

static void test_empty_input_rejected(void **state)
{
    relay_pgoutput_msg msg;
    relay_pgoutput_begin begin;
    char err[256] = "";

    assert_int_equal(relay_pgoutput_decode(NULL, 0, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "empty pgoutput message");
    assert_int_equal(relay_pgoutput_read_begin((const uint8_t *)"", 0, &begin, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "Begin: truncated at message type");
}

static void test_read_function_rejects_other_type(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    relay_pgoutput_xlogdata x = frame_xlogdata(fx, 5); /* a Commit */
    relay_pgoutput_begin begin;
    char err[256] = "";

    assert_int_equal(relay_pgoutput_read_begin(x.data, x.size, &begin, err, sizeof(err)), -1);
    assert_string_equal(err, "Begin: message type: expected 'B', got 0x43");
    fixture_free(fx);
}

static void test_commit_unknown_flags_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 5, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    copy[1] = 0x01;
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Commit: flags: unknown flags 0x01");
    free(copy);
    fixture_free(fx);
}

static void test_begin_without_final_lsn_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 0, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    memset(copy + 1, 0, 8);
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Begin: final_lsn: not set (0/0)");
    free(copy);
    fixture_free(fx);
}

static void test_message_unknown_flags_rejected(void **state)
{
    fixture *fx = fixture_load("message_transactional.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 1, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    copy[1] = 0x03;
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Message: flags: unknown flags 0x03");
    free(copy);
    fixture_free(fx);
}

static void test_message_content_length_beyond_input_rejected(void **state)
{
    fixture *fx = fixture_load("message_nontransactional.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 0, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    copy[len - 9 - 1] = 10; /* content length 9 -> 10 */
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Message: truncated at content");
    free(copy);
    fixture_free(fx);
}

static void test_relation_unknown_replica_identity_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 1, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";
    size_t off = 1 + 4 + strlen("public") + 1 + strlen("outbox") + 1;

    assert_int_equal(copy[off], 'd');
    copy[off] = 'x';
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Relation: replica identity: unknown setting 0x78");
    free(copy);
    fixture_free(fx);
}

static void test_relation_unknown_column_flags_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 1, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";
    /* 'R', relid, "public", "outbox", identity, ncols, then column 1's flags */
    size_t off = 1 + 4 + 7 + 7 + 1 + 2;

    assert_int_equal(copy[off], 1);
    copy[off] = 0x03;
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Relation: column 1 flags: unknown flags 0x03");
    free(copy);
    fixture_free(fx);
}

static void test_truncated_relation_names_column(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 1, &len);
    relay_pgoutput_relation rel;
    char err[256] = "";

    /* cut inside the last column's name ("created_at", then oid and typmod) */
    assert_int_equal(relay_pgoutput_read_relation(copy, len - 8 - 3, &rel, err, sizeof(err)), -1);
    assert_string_equal(err, "Relation: truncated at column 7 name");
    assert_int_equal(relay_pgoutput_read_relation(copy, len - 2, &rel, err, sizeof(err)), -1);
    assert_string_equal(err, "Relation: truncated at column 7 typmod");
    free(copy);
    fixture_free(fx);
}

static void test_truncate_unknown_options_rejected(void **state)
{
    fixture *fx = fixture_load("truncate.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    copy[5] = 0x04; /* 'T', nrelids(4), options */
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Truncate: options: unknown options 0x04");
    free(copy);
    fixture_free(fx);
}

static void test_truncated_truncate_names_relation(void **state)
{
    fixture *fx = fixture_load("truncate.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 7, &len);
    relay_pgoutput_truncate tr;
    char err[256] = "";

    assert_int_equal(relay_pgoutput_read_truncate(copy, len - 1, &tr, err, sizeof(err)), -1);
    assert_string_equal(err, "Truncate: truncated at relation 2 relid");
    free(copy);
    fixture_free(fx);
}

static void test_insert_without_new_tuple_marker_rejected(void **state)
{
    fixture *fx = fixture_load("outbox_insert.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    copy[5] = 'O';
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Insert: tuple type: expected 'N', got 0x4f");
    free(copy);
    fixture_free(fx);
}

static void test_delete_without_old_tuple_marker_rejected(void **state)
{
    fixture *fx = fixture_load("delete.bin");
    size_t len;
    uint8_t *copy = payload_copy(fx, 2, &len);
    relay_pgoutput_msg msg;
    char err[256] = "";

    copy[5] = 'N';
    assert_int_equal(relay_pgoutput_decode(copy, len, &msg, err, sizeof(err)), -1);
    assert_string_equal(err, "Delete: tuple type: expected 'K' or 'O', got 0x4e");
    free(copy);
    fixture_free(fx);
}

static void test_errstr_may_be_null_or_small(void **state)
{
    static const uint8_t z[] = {'Z'};
    relay_pgoutput_msg msg;
    char small[8];

    assert_int_equal(relay_pgoutput_decode(z, 1, &msg, NULL, 0), -1);
    assert_int_equal(relay_pgoutput_decode(z, 1, &msg, small, sizeof(small)), -1);
    assert_string_equal(small, "unknown");
}

/* ------------------------------------------------------------------ LSNs */

static void test_lsn_parse_valid(void **state)
{
    uint64_t lsn = 42;

    assert_int_equal(relay_pgoutput_lsn_parse("0/0", &lsn), 0);
    assert_int_equal(lsn, 0);
    assert_int_equal(relay_pgoutput_lsn_parse("0/1ECA108", &lsn), 0);
    assert_int_equal(lsn, LSN(0, 0x1ECA108));
    assert_int_equal(relay_pgoutput_lsn_parse("16/B374D848", &lsn), 0);
    assert_int_equal(lsn, LSN(0x16, 0xB374D848));
    assert_int_equal(relay_pgoutput_lsn_parse("ffffffff/ffffffff", &lsn), 0);
    assert_int_equal(lsn, UINT64_MAX);
    assert_int_equal(relay_pgoutput_lsn_parse("00000001/00000002", &lsn), 0);
    assert_int_equal(lsn, LSN(1, 2));
}

static void test_lsn_parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",     "/",    "1/",    "/1",   "1",           "1/2/3",       "G/0",   "0/G",  " 1/2",
        "1/2 ", "-1/2", "0x1/2", "1//2", "123456789/0", "0/123456789", "1/2\n", "+1/2", "1 /2",
    };
    uint64_t lsn = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (relay_pgoutput_lsn_parse(bad[i], &lsn) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(lsn, 7);
    }
    assert_int_equal(relay_pgoutput_lsn_parse(NULL, &lsn), -1);
}

static void test_lsn_format(void **state)
{
    char buf[RELAY_LSN_BUFSIZE];

    assert_int_equal(relay_pgoutput_lsn_format(0, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "0/0");
    assert_int_equal(relay_pgoutput_lsn_format(LSN(0, 0x1ECA108), buf, sizeof(buf)), 9);
    assert_string_equal(buf, "0/1ECA108");
    assert_int_equal(relay_pgoutput_lsn_format(UINT64_MAX, buf, sizeof(buf)), 17);
    assert_string_equal(buf, "FFFFFFFF/FFFFFFFF");
}

static void test_lsn_format_small_buffer_rejected(void **state)
{
    char buf[9];

    assert_int_equal(relay_pgoutput_lsn_format(LSN(0, 0x1ECA108), buf, sizeof(buf)), -1);
    assert_string_equal(buf, "");
    assert_int_equal(relay_pgoutput_lsn_format(1, buf, 0), -1);
}

static void test_lsn_round_trip(void **state)
{
    static const uint64_t lsns[] = {0,         1, LSN(0, 0xFFFFFFFF), LSN(1, 0), LSN(0xABC, 0xDEF),
                                    UINT64_MAX};
    char buf[RELAY_LSN_BUFSIZE];
    char fmt[RELAY_LSN_BUFSIZE];

    for (size_t i = 0; i < sizeof(lsns) / sizeof(lsns[0]); i++) {
        uint64_t back = 0;

        assert_true(relay_pgoutput_lsn_format(lsns[i], buf, sizeof(buf)) > 0);
        assert_int_equal(relay_pgoutput_lsn_parse(buf, &back), 0);
        assert_int_equal(back, lsns[i]);
        snprintf(fmt, sizeof(fmt), RELAY_LSN_FMT, RELAY_LSN_ARGS(lsns[i]));
        assert_string_equal(fmt, buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbox_begin_fields),
        cmocka_unit_test(test_outbox_relation_columns),
        cmocka_unit_test(test_outbox_insert_with_null_headers),
        cmocka_unit_test(test_outbox_insert_with_headers),
        cmocka_unit_test(test_outbox_insert_utf8_payload),
        cmocka_unit_test(test_outbox_commit_fields),
        cmocka_unit_test(test_xlogdata_frame_fields),
        cmocka_unit_test(test_message_transactional),
        cmocka_unit_test(test_message_nontransactional_text),
        cmocka_unit_test(test_message_nontransactional_binary_content),
        cmocka_unit_test(test_update_relation_default_identity),
        cmocka_unit_test(test_update_without_old_tuple_has_unchanged_toast),
        cmocka_unit_test(test_update_of_key_carries_old_key),
        cmocka_unit_test(test_update_identity_full_carries_old_row),
        cmocka_unit_test(test_delete_carries_old_key),
        cmocka_unit_test(test_delete_identity_full_carries_old_row),
        cmocka_unit_test(test_truncate_one_relation_without_options),
        cmocka_unit_test(test_truncate_two_relations_cascade_restart_identity),
        cmocka_unit_test(test_types_enum_sent_as_type_message),
        cmocka_unit_test(test_types_relation_oids_and_typmods),
        cmocka_unit_test(test_types_text_values),
        cmocka_unit_test(test_types_all_null_row),
        cmocka_unit_test(test_tuple_values_respects_capacity),
        cmocka_unit_test(test_origin_message),
        cmocka_unit_test(test_time_conversion_round_trips),
        cmocka_unit_test(test_keepalive_frame),
        cmocka_unit_test(test_keepalive_reply_requested),
        cmocka_unit_test(test_keepalive_non_boolean_reply_rejected),
        cmocka_unit_test(test_keepalive_truncated_or_long_rejected),
        cmocka_unit_test(test_xlogdata_short_header_rejected),
        cmocka_unit_test(test_xlogdata_wrong_type_rejected),
        cmocka_unit_test(test_status_update_layout),
        cmocka_unit_test(test_decode_accepts_every_captured_message),
        cmocka_unit_test(test_every_truncated_prefix_rejected),
        cmocka_unit_test(test_trailing_byte_rejected_for_every_message),
        cmocka_unit_test(test_truncated_insert_names_column_and_field),
        cmocka_unit_test(test_truncated_update_names_tuple),
        cmocka_unit_test(test_unknown_tuple_kind_rejected),
        cmocka_unit_test(test_binary_tuple_kind_accepted),
        cmocka_unit_test(test_negative_value_length_rejected),
        cmocka_unit_test(test_negative_column_count_rejected),
        cmocka_unit_test(test_unknown_message_type_rejected),
        cmocka_unit_test(test_later_protocol_message_rejected),
        cmocka_unit_test(test_empty_input_rejected),
        cmocka_unit_test(test_read_function_rejects_other_type),
        cmocka_unit_test(test_commit_unknown_flags_rejected),
        cmocka_unit_test(test_begin_without_final_lsn_rejected),
        cmocka_unit_test(test_message_unknown_flags_rejected),
        cmocka_unit_test(test_message_content_length_beyond_input_rejected),
        cmocka_unit_test(test_relation_unknown_replica_identity_rejected),
        cmocka_unit_test(test_relation_unknown_column_flags_rejected),
        cmocka_unit_test(test_truncated_relation_names_column),
        cmocka_unit_test(test_truncate_unknown_options_rejected),
        cmocka_unit_test(test_truncated_truncate_names_relation),
        cmocka_unit_test(test_insert_without_new_tuple_marker_rejected),
        cmocka_unit_test(test_delete_without_old_tuple_marker_rejected),
        cmocka_unit_test(test_errstr_may_be_null_or_small),
        cmocka_unit_test(test_lsn_parse_valid),
        cmocka_unit_test(test_lsn_parse_rejects_malformed),
        cmocka_unit_test(test_lsn_format),
        cmocka_unit_test(test_lsn_format_small_buffer_rejected),
        cmocka_unit_test(test_lsn_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
