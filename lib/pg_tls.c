/* pg_tls: the TLS settings a libpq connection was made with. */
#include "pg_tls.h"

#include <stdio.h>
#include <string.h>

#include "errstr.h"

typedef struct pg_tls_settings {
    const char *sslmode, *sslrootcert, *sslcert, *sslkey;
} pg_tls_settings;

static const char *or_default(const char *value, const char *fallback)
{
    return value && *value ? value : fallback;
}

static void pg_tls_read(PQconninfoOption *opts, pg_tls_settings *t)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "sslmode") == 0)
            t->sslmode = o->val;
        else if (strcmp(o->keyword, "sslrootcert") == 0)
            t->sslrootcert = o->val;
        else if (strcmp(o->keyword, "sslcert") == 0)
            t->sslcert = o->val;
        else if (strcmp(o->keyword, "sslkey") == 0)
            t->sslkey = o->val;
    }
}

static bool insists_on_tls(const char *sslmode)
{
    return sslmode && (strcmp(sslmode, "require") == 0 || strcmp(sslmode, "verify-ca") == 0 ||
                       strcmp(sslmode, "verify-full") == 0);
}

bool outbox_pg_tls_describe(const PGconn *conn, char *out, size_t out_size)
{
    outbox_errstr_set(out, out_size, "%s", "");
    if (conn == NULL)
        return false;
    PQconninfoOption *opts = PQconninfo((PGconn *)conn);
    pg_tls_settings t = {0};
    pg_tls_read(opts, &t);
    bool tls = insists_on_tls(t.sslmode);
    if (tls)
        outbox_errstr_set(
            out, out_size,
            "TLS: sslmode=%s sslrootcert=%s (the CA that signed the server's certificate%s), "
            "sslcert=%s sslkey=%s (the client certificate, when the server wants one)",
            t.sslmode, or_default(t.sslrootcert, "(default ~/.postgresql/root.crt)"),
            strcmp(t.sslmode, "verify-full") == 0 ? ", which must name the host" : "",
            or_default(t.sslcert, "(default)"), or_default(t.sslkey, "(default)"));
    PQconninfoFree(opts);
    return tls;
}
