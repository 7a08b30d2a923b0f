#ifndef OUTBOX_PG_TLS_H
#define OUTBOX_PG_TLS_H

/*
 * pg_tls: what a libpq connection asked of TLS, for the message of a failed connection. The
 * daemons pass postgres.conninfo to libpq unchanged, so TLS is libpq's (sslmode,
 * sslrootcert, sslcert, sslkey in the conninfo); a failed connection says which of those
 * settings were in force (read back with PQconninfo(), not from the error text), so `check`
 * can name the ones to fix.
 *
 * Threads: any thread, one connection at a time.
 */

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* When conn was made with an sslmode that insists on TLS (require, verify-ca, verify-full):
 * writes to out "TLS: sslmode=..., sslrootcert=..., sslcert=..., sslkey=..." with what each
 * must be, and returns true. Otherwise returns false and writes "". conn may be NULL. */
bool outbox_pg_tls_describe(const PGconn *conn, char *out, size_t out_size);

#endif
