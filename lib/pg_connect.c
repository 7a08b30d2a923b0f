/* pg_connect: libpq's connection parameters, built in one place. */
#include "pg_connect.h"

#include <stdio.h>

#include "errstr.h"
#include "pg_tls.h"

/* The keyword/value arrays of one connection (values point into params and timeout). */
typedef struct pg_kv {
    const char *keys[5];
    const char *values[5];
    char timeout[16];
} pg_kv;

static void pg_kv_add(pg_kv *kv, size_t *n, const char *key, const char *value)
{
    kv->keys[*n] = key;
    kv->values[*n] = value;
    (*n)++;
}

/* Defaults first, then the conninfo as an expanded dbname (its settings override the
 * defaults), then what must not be overridden. NULL-terminated. */
static void pg_kv_build(const outbox_pg_params *params, pg_kv *kv)
{
    size_t n = 0;
    if (params->connect_timeout_s > 0) {
        snprintf(kv->timeout, sizeof kv->timeout, "%d", params->connect_timeout_s);
        pg_kv_add(kv, &n, "connect_timeout", kv->timeout);
    }
    if (params->application_name != NULL)
        pg_kv_add(kv, &n, "fallback_application_name", params->application_name);
    pg_kv_add(kv, &n, "dbname", params->conninfo ? params->conninfo : "");
    if (params->replication != NULL)
        pg_kv_add(kv, &n, "replication", params->replication);
    kv->keys[n] = NULL;
    kv->values[n] = NULL;
}

outbox_pg_connect_rc outbox_pg_connect(const outbox_pg_params *params, PGconn **connp, char *errstr,
                                       size_t errstr_size)
{
    pg_kv kv;
    pg_kv_build(params, &kv);
    *connp = PQconnectdbParams(kv.keys, kv.values, 1);
    if (*connp == NULL) {
        outbox_errstr_set(errstr, errstr_size, "out of memory");
        return OUTBOX_PG_CONNECT_ERR_NOMEM;
    }
    if (PQstatus(*connp) == CONNECTION_OK)
        return OUTBOX_PG_CONNECT_OK;
    char why[1600];
    bool tls = outbox_pg_conn_error(*connp, why, sizeof why);
    outbox_errstr_set(errstr, errstr_size, "%s", why); /* ignores a NULL errstr */
    return tls ? OUTBOX_PG_CONNECT_ERR_TLS : OUTBOX_PG_CONNECT_ERR_FAILED;
}

PGconn *outbox_pg_connect_start(const outbox_pg_params *params)
{
    pg_kv kv;
    pg_kv_build(params, &kv);
    return PQconnectStartParams(kv.keys, kv.values, 1);
}

PGPing outbox_pg_ping(const outbox_pg_params *params)
{
    pg_kv kv;
    pg_kv_build(params, &kv);
    return PQpingParams(kv.keys, kv.values, 1);
}
