#include "publication.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "pg_connect.h"

#define COMPONENT "relay"

/* Append s (escaped as an identifier on c) to sql. 0 or -1. */
static int append_ident(PGconn *c, outbox_buf *sql, const char *s)
{
    char *id = PQescapeIdentifier(c, s, strlen(s));
    int rc = id ? outbox_buf_append(sql, id, strlen(id)) : -1;
    PQfreemem(id);
    return rc;
}

/* CREATE PUBLICATION name FOR TABLE s.t, ... WITH (publish = 'insert'), NUL-terminated. */
static int create_sql(PGconn *c, const char *name, const relay_table_name *tables, size_t ntables,
                      outbox_buf *sql)
{
    static const char head[] = "CREATE PUBLICATION ", mid[] = " FOR TABLE ",
                      tail[] = " WITH (publish = 'insert')";
    if (outbox_buf_append(sql, head, strlen(head)) || append_ident(c, sql, name) ||
        outbox_buf_append(sql, mid, strlen(mid)))
        return -1;
    for (size_t i = 0; i < ntables; i++) {
        if ((i > 0 && outbox_buf_append(sql, ", ", 2)) || append_ident(c, sql, tables[i].schema) ||
            outbox_buf_append(sql, ".", 1) || append_ident(c, sql, tables[i].name))
            return -1;
    }
    return outbox_buf_append(sql, tail, sizeof(tail));
}

int relay_publication_ensure(const char *conninfo, const char *name, const relay_table_name *tables,
                             size_t ntables, const char *table_text, bool create, char *errstr,
                             size_t errstr_size)
{
    int rc = -1;
    PGresult *res = NULL;
    outbox_buf sql = OUTBOX_BUF_INIT;
    PGconn *c = NULL;
    const outbox_pg_params pgparams = {.conninfo = conninfo, .application_name = "outbox-relay"};
    char why[1600];
    if (outbox_pg_connect(&pgparams, &c, why, sizeof why) != OUTBOX_PG_CONNECT_OK) {
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %s", why);
        goto done;
    }
    const char *params[1] = {name};
    res = PQexecParams(c, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, NULL, params, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "looking up publication %s: %s", name, PQerrorMessage(c));
        goto done;
    }
    if (PQntuples(res) == 1) {
        rc = 0;
        goto done;
    }
    if (!create) {
        snprintf(errstr, errstr_size,
                 "publication \"%s\" does not exist and postgres.create-publication is off: "
                 "run sql/outbox.sql, or CREATE PUBLICATION %s FOR TABLE %s WITH (publish = "
                 "'insert') as the table's owner",
                 name, name, table_text);
        goto done;
    }
    PQclear(res);
    res = NULL;
    if (create_sql(c, name, tables, ntables, &sql) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    res = PQexec(c, (const char *)sql.data);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(errstr, errstr_size,
                 "publication \"%s\" is missing and creating it failed: %s"
                 "fix: run sql/outbox.sql as the owner of %s",
                 name, PQerrorMessage(c), table_text);
        goto done;
    }
    outbox_log_info(COMPONENT, "created publication %s for %s", name, table_text);
    rc = 0;
done:
    outbox_buf_free(&sql);
    PQclear(res);
    PQfinish(c);
    return rc;
}

int relay_publication_names_option(const char *name, char *out, size_t size)
{
    /* The walsender splits the option as a list of identifiers (SplitIdentifierString): inside
     * double quotes, a double quote is written twice. */
    size_t n = 0;
    if (size < 3)
        return -1;
    out[n++] = '"';
    for (const char *p = name; *p; p++) {
        if (n + (*p == '"' ? 2 : 1) + 2 > size)
            return -1;
        if (*p == '"')
            out[n++] = '"';
        out[n++] = *p;
    }
    out[n++] = '"';
    out[n] = '\0';
    return 0;
}
