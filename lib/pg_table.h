#ifndef OUTBOX_PG_TABLE_H
#define OUTBOX_PG_TABLE_H

/*
 * pg_table: does a table exist for a connection, and which of some privileges does its role
 * lack on it, for the daemons' `check` (the projector's tables, the moderation service's).
 *
 * Threads: any thread, one connection at a time; blocking (one query per privilege).
 */

#include <libpq-fe.h>
#include <stddef.h>

typedef enum outbox_pg_table_status {
    OUTBOX_PG_TABLE_OK = 0,  /* it exists and the role has every privilege asked */
    OUTBOX_PG_TABLE_MISSING, /* to_regclass() finds no such table */
    OUTBOX_PG_TABLE_LACKS,   /* it exists; *lacking lists what the role lacks */
    OUTBOX_PG_TABLE_ERROR,   /* a query failed: errstr has PostgreSQL's message */
} outbox_pg_table_status;

/* `table` as to_regclass() reads it ([schema.]name, conn's search_path); `privileges` a list
 * like "SELECT, INSERT, UPDATE" (each asked on its own: has_table_privilege() with a list
 * answers "any of"). *lacking gets "INSERT, UPDATE" for LACKS, "" otherwise. */
outbox_pg_table_status
outbox_pg_table_privileges(PGconn *conn, const char *table, const char *privileges, char *lacking,
                           size_t lacking_size, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
