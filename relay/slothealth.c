#include "slothealth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

relay_slot_health relay_slothealth_classify(const char *wal_status, int64_t safe_bytes,
                                            int64_t keep_bytes)
{
    if (wal_status && strcmp(wal_status, "lost") == 0)
        return RELAY_SLOT_LOST;
    if (wal_status && strcmp(wal_status, "unreserved") == 0)
        return RELAY_SLOT_AT_RISK;
    if (keep_bytes > 0 && safe_bytes >= 0 && safe_bytes < keep_bytes / 5)
        return RELAY_SLOT_AT_RISK;
    return RELAY_SLOT_OK;
}

const char *relay_slothealth_name(relay_slot_health h)
{
    switch (h) {
    case RELAY_SLOT_OK:
        return "ok";
    case RELAY_SLOT_AT_RISK:
        return "at_risk";
    case RELAY_SLOT_LOST:
        return "lost";
    }
    return "?";
}

int relay_slothealth_query(PGconn *conn, const char *slot, relay_slot_state *out, char *errstr,
                           size_t errstr_size)
{
    const char *params[1] = {slot};
    PGresult *res = PQexecParams(
        conn,
        "SELECT coalesce(wal_status, ''), coalesce(safe_wal_size, -1), "
        "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint, "
        "(SELECT CASE WHEN setting::bigint < 0 THEN -1 ELSE setting::bigint * 1024 * 1024 END "
        "   FROM pg_settings WHERE name = 'max_slot_wal_keep_size') "
        "FROM pg_replication_slots WHERE slot_name = $1",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "reading slot %s's WAL status: %s", slot,
                 PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 1;
    }
    snprintf(out->wal_status, sizeof(out->wal_status), "%s", PQgetvalue(res, 0, 0));
    out->safe_bytes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    out->retained_bytes = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    out->keep_bytes = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    out->health = relay_slothealth_classify(out->wal_status, out->safe_bytes, out->keep_bytes);
    PQclear(res);
    return 0;
}
