/*
 * Unit tests of how a failed connection attempt is classified (lib/pg_connect.h,
 * outbox_pg_connect_*; the relay's stream, the projector's store and every other connection use
 * it): from libpq's codes (the phase of PQstatus() it failed in, the conninfo's sslmode,
 * PQconnectionNeedsPassword(), PQconnectionUsedPassword(), a PQping result), never from libpq's
 * message text. (Formerly test_relay_stream_connect.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>

#include "pg_connect.h"

static void test_phase_of_each_status(void **state)
{
    (void)state;
    static const struct {
        ConnStatusType status;
        outbox_pg_connect_phase phase;
    } cases[] = {
        {CONNECTION_STARTED, OUTBOX_PG_PHASE_NETWORK},
        {CONNECTION_MADE, OUTBOX_PG_PHASE_NETWORK},
        {CONNECTION_NEEDED, OUTBOX_PG_PHASE_NETWORK},
        {CONNECTION_GSS_STARTUP, OUTBOX_PG_PHASE_NETWORK},
        {CONNECTION_SSL_STARTUP, OUTBOX_PG_PHASE_TLS},
        {CONNECTION_AWAITING_RESPONSE, OUTBOX_PG_PHASE_SERVER},
        {CONNECTION_AUTH_OK, OUTBOX_PG_PHASE_SERVER},
        {CONNECTION_SETENV, OUTBOX_PG_PHASE_SERVER},
        {CONNECTION_CHECK_WRITABLE, OUTBOX_PG_PHASE_TARGET},
        {CONNECTION_CONSUME, OUTBOX_PG_PHASE_TARGET},
        {CONNECTION_CHECK_TARGET, OUTBOX_PG_PHASE_TARGET},
        {CONNECTION_CHECK_STANDBY, OUTBOX_PG_PHASE_TARGET},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(outbox_pg_connect_phase_of((int)cases[i].status), cases[i].phase);
}

/* The certificate does not verify (or the server has no TLS): with sslmode require, verify-ca
 * or verify-full it is a TLS failure, retried; with prefer or allow libpq falls back on its
 * own, so a failure left there is the connection's. */
static void test_tls_phase_is_tls_only_when_sslmode_insists(void **state)
{
    (void)state;
    outbox_pg_connect_failure f = {.phase = OUTBOX_PG_PHASE_TLS, .tls_required = true};
    assert_false(outbox_pg_connect_needs_ping(&f));
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_TLS);
    assert_false(outbox_pg_connect_cause_refused(OUTBOX_PG_CAUSE_TLS));
    f.tls_required = false;
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_NETWORK);
    /* TLS settings play no part before TLS or after it */
    f.tls_required = true;
    f.phase = OUTBOX_PG_PHASE_NETWORK;
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_NETWORK);
}

static void test_passwords(void **state)
{
    (void)state;
    /* no password configured for a server that wants one: refused whatever the phase */
    outbox_pg_connect_failure f = {.phase = OUTBOX_PG_PHASE_SERVER, .needs_password = true};
    assert_false(outbox_pg_connect_needs_ping(&f));
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_NO_PASSWORD);
    assert_true(outbox_pg_connect_cause_refused(OUTBOX_PG_CAUSE_NO_PASSWORD));
    /* a password sent, then refused */
    f = (outbox_pg_connect_failure){.phase = OUTBOX_PG_PHASE_SERVER, .used_password = true};
    assert_false(outbox_pg_connect_needs_ping(&f));
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_AUTH);
    assert_true(outbox_pg_connect_cause_refused(OUTBOX_PG_CAUSE_AUTH));
}

/* Refused without a password exchanged (pg_hba.conf, no such role, NOLOGIN, no REPLICATION, no
 * database; or 57P03
 * while the server starts or stops): only libpq's ping, which reads the SQLSTATE, tells. */
static void test_refusal_without_password_asks_the_ping(void **state)
{
    (void)state;
    outbox_pg_connect_failure f = {.phase = OUTBOX_PG_PHASE_SERVER, .ping = PQPING_OK};
    assert_true(outbox_pg_connect_needs_ping(&f));
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_REFUSED);
    assert_true(outbox_pg_connect_cause_refused(OUTBOX_PG_CAUSE_REFUSED));
    f.ping = PQPING_REJECT; /* starting up, shutting down, in recovery */
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_NOT_NOW);
    assert_false(outbox_pg_connect_cause_refused(OUTBOX_PG_CAUSE_NOT_NOW));
    f.ping = PQPING_NO_RESPONSE; /* gone since */
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_NOT_NOW);
}

static void test_network_and_target_are_retried(void **state)
{
    (void)state;
    outbox_pg_connect_failure f = {.phase = OUTBOX_PG_PHASE_NETWORK};
    assert_false(outbox_pg_connect_needs_ping(&f));
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_NETWORK);
    assert_false(outbox_pg_connect_cause_refused(OUTBOX_PG_CAUSE_NETWORK));
    f.phase = OUTBOX_PG_PHASE_TARGET;
    assert_int_equal(outbox_pg_connect_classify(&f), OUTBOX_PG_CAUSE_TARGET);
    assert_false(outbox_pg_connect_cause_refused(OUTBOX_PG_CAUSE_TARGET));
}

/* Every cause says what to do, naming the setting; the TLS one that it is retried. */
static void test_every_cause_names_a_fix(void **state)
{
    (void)state;
    for (int c = OUTBOX_PG_CAUSE_NETWORK; c <= OUTBOX_PG_CAUSE_TARGET; c++)
        assert_true(strlen(outbox_pg_connect_cause_fix((outbox_pg_connect_cause)c)) > 20);
    const char *tls = outbox_pg_connect_cause_fix(OUTBOX_PG_CAUSE_TLS);
    assert_non_null(strstr(tls, "sslrootcert"));
    assert_non_null(strstr(tls, "retried"));
    const char *refused = outbox_pg_connect_cause_fix(OUTBOX_PG_CAUSE_REFUSED);
    assert_non_null(strstr(refused, "pg_hba.conf"));
    assert_non_null(strstr(refused, "LOGIN"));
    assert_non_null(strstr(outbox_pg_connect_cause_fix(OUTBOX_PG_CAUSE_AUTH), "password"));
    assert_non_null(
        strstr(outbox_pg_connect_cause_fix(OUTBOX_PG_CAUSE_NO_PASSWORD), "postgres.conninfo"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase_of_each_status),
        cmocka_unit_test(test_tls_phase_is_tls_only_when_sslmode_insists),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_refusal_without_password_asks_the_ping),
        cmocka_unit_test(test_network_and_target_are_retried),
        cmocka_unit_test(test_every_cause_names_a_fix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
