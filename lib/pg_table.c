/* pg_table: a table's existence and its role's privileges on it. */
#include "pg_table.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "errstr.h"

/* A one-row boolean query into *value. 0, or -1 with PostgreSQL's message in errstr. */
static int pg_table_query_bool(PGconn *conn, const char *sql, int n, const char *const *params,
                               bool *value, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        *value = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    } else {
        outbox_errstr_set(errstr, errstr_size, "%s", PQresultErrorMessage(res));
        if (errstr_size > 0)
            errstr[strcspn(errstr, "\n")] = '\0';
        rc = -1;
    }
    PQclear(res);
    return rc;
}

outbox_pg_table_status outbox_pg_table_privileges(PGconn *conn, const char *table,
                                                  const char *privileges, char *lacking,
                                                  size_t lacking_size, char *errstr,
                                                  size_t errstr_size)
{
    bool exists = false, allowed = false;
    const char *p1[1] = {table};
    char list[128];
    size_t used = 0;
    lacking[0] = '\0';
    if (pg_table_query_bool(conn, "SELECT to_regclass($1) IS NOT NULL", 1, p1, &exists, errstr,
                            errstr_size))
        return OUTBOX_PG_TABLE_ERROR;
    if (!exists)
        return OUTBOX_PG_TABLE_MISSING;
    snprintf(list, sizeof list, "%s", privileges);
    for (char *save = NULL, *priv = strtok_r(list, ", ", &save); priv != NULL;
         priv = strtok_r(NULL, ", ", &save)) {
        const char *p2[2] = {table, priv};
        if (pg_table_query_bool(conn, "SELECT has_table_privilege(to_regclass($1), $2)", 2, p2,
                                &allowed, errstr, errstr_size))
            return OUTBOX_PG_TABLE_ERROR;
        if (!allowed && used < lacking_size)
            used += (size_t)snprintf(lacking + used, lacking_size - used, "%s%s", used ? ", " : "",
                                     priv);
    }
    return lacking[0] ? OUTBOX_PG_TABLE_LACKS : OUTBOX_PG_TABLE_OK;
}
