/* `outbox-relay check`: every problem of the live environment, each with its fix. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_report.h"
#include "dlq.h"
#include "pg_connect.h"
#include "publish.h"
#include "registry.h"
#include "relay.h"
#include "route.h"
#include "schemas_cmd.h"
#include "kafka_topics.h"
#include "txn.h"

/* One-row, one-column query; NULL on error or no row (caller frees). */
static char *query1(PGconn *pg, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    char *v = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* wal_level, wal_sender_timeout against the status interval, the REPLICATION attribute. */
static void check_server(outbox_check *c, PGconn *pg, const relay_settings *s)
{
    char *v = query1(pg, "SHOW wal_level", 0, NULL);
    if (v && strcmp(v, "logical") == 0)
        outbox_check_ok(c, "wal_level = logical");
    else
        outbox_check_problem(c, "set wal_level = logical in postgresql.conf and restart PostgreSQL",
                             "wal_level = %s", v ? v : "?");
    free(v);
    v = query1(pg, "SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'", 0, NULL);
    if (v) {
        long timeout_ms = atol(v);
        if (timeout_ms > 0 && s->status_interval_ms * 2 > timeout_ms)
            outbox_check_problem(
                c, "lower relay.status-interval to well below half of it",
                "relay.status-interval (%lld ms) is not well inside wal_sender_timeout "
                "(%ld ms): the walsender may drop an idle relay",
                (long long)s->status_interval_ms, timeout_ms);
        else
            outbox_check_ok(
                c, "relay.status-interval %lld ms is well inside wal_sender_timeout %ld ms",
                (long long)s->status_interval_ms, timeout_ms);
    }
    free(v);
    v = query1(pg,
               "SELECT (rolreplication OR rolsuper)::text FROM pg_roles WHERE rolname = "
               "current_user",
               0, NULL);
    if (v && strcmp(v, "true") == 0)
        outbox_check_ok(c, "role %s has REPLICATION", PQuser(pg));
    else
        outbox_check_problem(c, "ALTER ROLE <relay role> REPLICATION (as a superuser)",
                             "role %s lacks the REPLICATION attribute", PQuser(pg));
    free(v);
}

static void check_tables(outbox_check *c, PGconn *pg, const relay_settings *s)
{
    for (size_t i = 0; i < s->ntables; i++) {
        const relay_table *t = &s->tables[i];
        const char *tp[2] = {t->schema, t->relname};
        char *v = query1(pg,
                         "SELECT 1::text FROM pg_class r JOIN pg_namespace n ON n.oid = "
                         "r.relnamespace WHERE n.nspname = $1 AND r.relname = $2",
                         2, tp);
        if (v)
            outbox_check_ok(c, "outbox table %s exists", t->name);
        else
            outbox_check_problem(
                c, "run sql/outbox.sql, or set postgres.table(s) to your outbox table(s)",
                "outbox table %s does not exist (or is not visible to %s)", t->name, PQuser(pg));
        free(v);
    }
}

/* Tables the publication publishes that the relay does not read: decoded, then dropped. */
static void check_publication_extra(outbox_check *c, PGconn *pg, const relay_settings *s)
{
    const char *pp[1] = {s->publication};
    PGresult *res = PQexecParams(pg,
                                 "SELECT schemaname, tablename FROM pg_publication_tables "
                                 "WHERE pubname = $1 ORDER BY 1, 2",
                                 1, NULL, pp, NULL, NULL, 0);
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
        const char *schema = PQgetvalue(res, i, 0), *rel = PQgetvalue(res, i, 1);
        if (relay_settings_table_find(s, schema, rel))
            continue;
        outbox_check_warning(
            c,
            "add it to postgres.tables if its rows are events, else ALTER PUBLICATION "
            "<name> DROP TABLE <it> (as its owner)",
            "publication %s also publishes %s.%s, which the relay does not read: its "
            "changes are decoded and ignored",
            s->publication, schema, rel);
    }
    PQclear(res);
}

static void check_publication(outbox_check *c, PGconn *pg, const relay_settings *s)
{
    const char *pp[1] = {s->publication};
    char *v = query1(pg, "SELECT pubinsert::text FROM pg_publication WHERE pubname = $1", 1, pp);
    if (!v) {
        if (s->create_publication)
            outbox_check_ok(
                c,
                "publication %s missing: the relay will create it (needs ownership of the "
                "outbox tables)",
                s->publication);
        else
            outbox_check_problem(c,
                                 "run sql/outbox.sql as the table owner, or set "
                                 "postgres.create-publication = true",
                                 "publication %s does not exist", s->publication);
        return;
    }
    if (strcmp(v, "true") != 0)
        outbox_check_problem(c, "ALTER PUBLICATION <name> SET (publish = 'insert')",
                             "publication %s does not publish inserts", s->publication);
    free(v);
    for (size_t i = 0; i < s->ntables; i++) {
        const relay_table *t = &s->tables[i];
        const char *tp[3] = {s->publication, t->schema, t->relname};
        v = query1(pg,
                   "SELECT 1::text FROM pg_publication_tables WHERE pubname = $1 AND "
                   "schemaname = $2 AND tablename = $3",
                   3, tp);
        if (v)
            outbox_check_ok(c, "publication %s covers %s", s->publication, t->name);
        else
            outbox_check_problem(c,
                                 "ALTER PUBLICATION <name> ADD TABLE <outbox table> (as its owner)",
                                 "publication %s does not cover %s", s->publication, t->name);
        free(v);
    }
    check_publication_extra(c, pg, s);
}

static void check_slot(outbox_check *c, PGconn *pg, const relay_settings *s)
{
    const char *sp[1] = {s->slot};
    PGresult *res = PQexecParams(pg,
                                 "SELECT plugin, database, active::text, "
                                 "pg_size_pretty(pg_current_wal_lsn() - confirmed_flush_lsn), "
                                 "coalesce(wal_status, '') "
                                 "FROM pg_replication_slots WHERE slot_name = $1",
                                 1, NULL, sp, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        const char *plugin = PQgetvalue(res, 0, 0), *db = PQgetvalue(res, 0, 1);
        if (strcmp(plugin, "pgoutput") != 0)
            outbox_check_problem(c, "drop it or set postgres.slot to another name",
                                 "slot %s uses plugin %s, not pgoutput", s->slot, plugin);
        else if (strcmp(db, PQdb(pg)) != 0)
            outbox_check_problem(c, "set postgres.slot to another name",
                                 "slot %s belongs to database %s, not %s", s->slot, db, PQdb(pg));
        else if (strcmp(PQgetvalue(res, 0, 4), "lost") == 0)
            outbox_check_problem(
                c,
                "the events committed after the slot's confirmed position are no "
                "longer in the WAL: stop the relay, drop the slot (SELECT "
                "pg_drop_replication_slot('<slot>')), start the relay (it creates the "
                "slot, postgres.create-slot = true), then re-publish the outbox rows "
                "committed since the last event on Kafka (README: \"Slot at risk\"); "
                "raise max_slot_wal_keep_size so it does not happen again",
                "slot %s was invalidated (wal_status = 'lost'): PostgreSQL removed "
                "WAL it needed (max_slot_wal_keep_size)",
                s->slot);
        else if (strcmp(PQgetvalue(res, 0, 2), "true") == 0)
            outbox_check_problem(
                c,
                "stop the other relay using it, or choose another postgres.slot (a "
                "standby relay next to an active one waits for it: expected there)",
                "slot %s is in use by another process", s->slot);
        else if (strcmp(PQgetvalue(res, 0, 4), "unreserved") == 0)
            outbox_check_problem(
                c,
                "start the relay so it confirms, or raise max_slot_wal_keep_size now "
                "(ALTER SYSTEM SET max_slot_wal_keep_size = ...; SELECT "
                "pg_reload_conf())",
                "slot %s is at risk (wal_status = 'unreserved'): the next checkpoint "
                "removes WAL it needs",
                s->slot);
        else
            outbox_check_ok(c, "slot %s exists (pgoutput), %s of WAL behind", s->slot,
                            PQgetvalue(res, 0, 3));
        PQclear(res);
        return;
    }
    PQclear(res);
    char *v = query1(pg,
                     "SELECT (current_setting('max_replication_slots')::int - count(*))::text "
                     "FROM pg_replication_slots",
                     0, NULL);
    if (!s->create_slot)
        outbox_check_problem(c,
                             "create it (SELECT pg_create_logical_replication_slot(<slot>, "
                             "'pgoutput')) or set postgres.create-slot = true",
                             "slot %s does not exist", s->slot);
    else if (v && atoi(v) <= 0)
        outbox_check_problem(c, "raise max_replication_slots or drop an unused slot",
                             "slot %s does not exist and no free slot is left", s->slot);
    else
        outbox_check_ok(c, "slot %s missing: the relay will create it", s->slot);
    free(v);
}

/* Who, besides superusers, may execute pg_logical_emit_message (any overload): the grantees of
 * its ACL (a NULL ACL is the default, PUBLIC) that are neither listed in outbox.message-roles
 * nor, with that list empty, allowed to INSERT into one of the outbox tables. */
static const char *const messages_sql =
    "WITH fn AS (SELECT coalesce(proacl, acldefault('f', proowner)) AS acl FROM pg_proc "
    "  WHERE proname = 'pg_logical_emit_message' AND pronamespace = 'pg_catalog'::regnamespace), "
    "g AS (SELECT a.grantee, a.privilege_type FROM fn, aclexplode(fn.acl) AS a) "
    "SELECT DISTINCT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE r.rolname END "
    "FROM g LEFT JOIN pg_roles r ON r.oid = g.grantee "
    "WHERE g.privilege_type = 'EXECUTE' AND (g.grantee = 0 OR (NOT r.rolsuper "
    "  AND NOT r.rolname = ANY (string_to_array(regexp_replace($1, '\\s', '', 'g'), ',')) "
    "  AND NOT ($1 = '' AND EXISTS (SELECT 1 FROM unnest(string_to_array($2, ',')) AS t(name) "
    "    WHERE to_regclass(t.name) IS NOT NULL "
    "      AND has_table_privilege(r.oid, to_regclass(t.name), 'INSERT'))))) "
    "ORDER BY 1";

/* With logical-message events on, calling pg_logical_emit_message publishes: only the roles
 * trusted with the outbox may be able to. */
static void check_messages(outbox_check *c, PGconn *pg, const relay_settings *s)
{
    if (!s->logical_messages) {
        outbox_check_ok(c,
                        "logical-message events off: pg_logical_emit_message() calls are ignored");
        return;
    }
    char tables[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < s->ntables && used < sizeof(tables); i++) {
        char *q = PQescapeIdentifier(pg, s->tables[i].schema, strlen(s->tables[i].schema));
        char *r = PQescapeIdentifier(pg, s->tables[i].relname, strlen(s->tables[i].relname));
        used += (size_t)snprintf(tables + used, sizeof(tables) - used, "%s%s.%s", i ? "," : "",
                                 q ? q : "", r ? r : "");
        PQfreemem(q);
        PQfreemem(r);
    }
    const char *params[2] = {s->message_roles, tables};
    PGresult *res = PQexecParams(pg, messages_sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        outbox_check_problem(c, "run check as a role that can read pg_proc and pg_roles",
                             "cannot read who may execute pg_logical_emit_message: %s",
                             PQerrorMessage(pg));
    } else if (PQntuples(res) == 0) {
        outbox_check_ok(
            c, "only superusers and %s%s may execute pg_logical_emit_message (prefix '%s')",
            s->message_roles[0] ? "outbox.message-roles: "
                                : "roles that may insert into an outbox table",
            s->message_roles, s->message_prefix);
    } else {
        char who[1024] = "";
        size_t n = 0;
        for (int i = 0; i < PQntuples(res) && n < sizeof(who); i++)
            n += (size_t)snprintf(who + n, sizeof(who) - n, "%s%s", i ? ", " : "",
                                  PQgetvalue(res, i, 0));
        outbox_check_problem(
            c,
            "run sql/outbox.sql as a superuser (REVOKE EXECUTE ON FUNCTION "
            "pg_logical_emit_message FROM PUBLIC, GRANT it to the application role), "
            "revoke it from the others, or list trusted roles in outbox.message-roles",
            "outbox.logical-messages is on and %s may execute "
            "pg_logical_emit_message: anyone of them can publish events",
            who);
    }
    PQclear(res);
}

/* With outbox.prune on, the relay's role deletes confirmed rows: it needs DELETE on each outbox
 * table (and SELECT, which the id in the WHERE clause reads). */
static void check_prune(outbox_check *c, PGconn *pg, const relay_settings *s)
{
    if (!s->prune) {
        outbox_check_ok(c, "outbox.prune off: the relay deletes no outbox row");
        return;
    }
    for (size_t i = 0; i < s->ntables; i++) {
        const relay_table *t = &s->tables[i];
        const char *tp[2] = {t->schema, t->relname};
        PGresult *res = PQexecParams(
            pg,
            "SELECT has_table_privilege(c.oid, 'DELETE')::text, "
            "has_table_privilege(c.oid, 'SELECT')::text, "
            "quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(current_user) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2",
            2, NULL, tp, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            PQclear(res); /* a missing table is reported by check_tables */
            continue;
        }
        bool del = strcmp(PQgetvalue(res, 0, 0), "true") == 0;
        bool sel = strcmp(PQgetvalue(res, 0, 1), "true") == 0;
        if (del && sel) {
            outbox_check_ok(c, "outbox.prune on: role %s may delete confirmed rows from %s",
                            PQuser(pg), t->name);
        } else {
            char fix[512];
            snprintf(fix, sizeof(fix),
                     "GRANT %s ON %s TO %s; (as the table's owner), or set outbox.prune = off",
                     del   ? "SELECT"
                     : sel ? "DELETE"
                           : "SELECT, DELETE",
                     PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
            outbox_check_problem(c, fix,
                                 "outbox.prune is on but role %s lacks %s on %s: confirmed rows "
                                 "cannot be deleted",
                                 PQuser(pg),
                                 del   ? "SELECT"
                                 : sel ? "DELETE"
                                       : "SELECT and DELETE",
                                 t->name);
        }
        PQclear(res);
    }
}

static void check_postgres(outbox_check *c, const relay_settings *s)
{
    PGconn *pg = outbox_check_pg_connect(c, s->conninfo, NULL, "postgres.conninfo");
    if (pg == NULL)
        return;
    check_server(c, pg, s);
    check_tables(c, pg, s);
    check_publication(c, pg, s);
    check_slot(c, pg, s);
    check_messages(c, pg, s);
    check_prune(c, pg, s);
    PQfinish(pg);
}

/* The topics the outbox needs now: one per (aggregate type, event type) present in the outbox
 * tables, routed as the relay routes, each with its dead-letter topic, plus the fallback
 * dead-letter topic. */
struct needed {
    char **topics;
    char **why; /* "aggregate type 'post' is in public.outbox", or "dead-letter" */
    bool *dlq;
    size_t n, cap;
};

static void needed_free(struct needed *nd)
{
    for (size_t i = 0; i < nd->n; i++) {
        free(nd->topics[i]);
        free(nd->why[i]);
    }
    free(nd->topics);
    free(nd->why);
    free(nd->dlq);
}

/* Add `topic` unless present. 0, or -1 on ENOMEM. */
static int needed_add(struct needed *nd, const char *topic, bool dlq, const char *why)
{
    for (size_t i = 0; i < nd->n; i++)
        if (strcmp(nd->topics[i], topic) == 0)
            return 0;
    if (nd->n == nd->cap) {
        size_t cap = nd->cap ? nd->cap * 2 : 16;
        char **t = realloc(nd->topics, cap * sizeof(*t));
        if (t)
            nd->topics = t;
        char **w = realloc(nd->why, cap * sizeof(*w));
        if (w)
            nd->why = w;
        bool *d = realloc(nd->dlq, cap * sizeof(*d));
        if (d)
            nd->dlq = d;
        if (!t || !w || !d)
            return -1;
        nd->cap = cap;
    }
    nd->topics[nd->n] = strdup(topic);
    nd->why[nd->n] = strdup(why);
    nd->dlq[nd->n] = dlq;
    if (!nd->topics[nd->n] || !nd->why[nd->n]) {
        free(nd->topics[nd->n]);
        free(nd->why[nd->n]);
        return -1;
    }
    nd->n++;
    return 0;
}

/* The topic and dead-letter topic of one (aggregate type, event type) of table `t`. */
static int needed_route(struct needed *nd, const relay_settings *s, const relay_route *route,
                        const relay_table *t, const char *aggregate_type, const char *event_type,
                        outbox_buf *dlq)
{
    relay_value v[RELAY_ROUTE_NCOLS] = {{"x", 1},  {aggregate_type, strlen(aggregate_type)},
                                        {"x", 1},  {event_type, strlen(event_type)},
                                        {"{}", 2}, {NULL, 0}};
    relay_txn_meta meta = {0};
    relay_event ev;
    char err[256], why[512];
    int rc = 0;
    relay_event_init(&ev);
    if (relay_route_row(route, v, false, &meta, &ev, err, sizeof(err)) == 0 && ev.topic) {
        snprintf(why, sizeof(why), "aggregate type '%s' is in %s", aggregate_type, t->name);
        if (needed_add(nd, ev.topic, false, why) != 0 ||
            relay_dlq_topic(s->dlq_topic_template, s->dlq_fallback_topic, ev.topic, dlq) != 0 ||
            needed_add(nd, (const char *)dlq->data, true, why) != 0)
            rc = -1;
    } /* else: no legal topic; such events go to the fallback dead-letter topic */
    relay_event_free(&ev);
    return rc;
}

/* Fill `nd` from the outbox tables' rows (at most 1000 distinct routes a table). */
static int needed_collect(outbox_check *c, const relay_settings *s, struct needed *nd)
{
    char err[512];
    outbox_buf dlq;
    outbox_buf_init(&dlq);
    relay_route *route = relay_route_new(s->topic_template, NULL, err, sizeof(err));
    /* as outbox_check_pg_connect() connects for the PostgreSQL check */
    const outbox_pg_params pgparams = {
        .conninfo = s->conninfo, .application_name = "outbox-check", .connect_timeout_s = 10};
    PGconn *pg = NULL;
    int rc = -1;
    if (!route || outbox_pg_connect(&pgparams, &pg, err, sizeof(err)) != OUTBOX_PG_CONNECT_OK)
        goto done; /* reported by the PostgreSQL and config checks */
    for (size_t i = 0; i < s->ntables; i++) {
        const relay_table *t = &s->tables[i];
        const char *names[4] = {t->columns[RELAY_COL_AGGREGATE_TYPE],
                                t->columns[RELAY_COL_EVENT_TYPE], t->schema, t->relname};
        char *q[4];
        for (int k = 0; k < 4; k++)
            q[k] = PQescapeIdentifier(pg, names[k], strlen(names[k]));
        char sql[1024];
        snprintf(sql, sizeof(sql), "SELECT DISTINCT %s::text, %s::text FROM %s.%s LIMIT 1000",
                 q[0] ? q[0] : "", q[1] ? q[1] : "", q[2] ? q[2] : "", q[3] ? q[3] : "");
        for (int k = 0; k < 4; k++)
            PQfreemem(q[k]);
        PGresult *res = PQexec(pg, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            outbox_check_problem(c, "GRANT SELECT ON <outbox table> TO <relay role>",
                                 "cannot list the aggregate types in %s: %s", t->name,
                                 PQerrorMessage(pg));
        for (int r = 0; PQresultStatus(res) == PGRES_TUPLES_OK && r < PQntuples(res); r++) {
            if (PQgetisnull(res, r, 0) || PQgetisnull(res, r, 1))
                continue;
            if (needed_route(nd, s, route, t, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), &dlq) !=
                0) {
                PQclear(res);
                goto done;
            }
        }
        PQclear(res);
    }
    if (relay_dlq_topic(s->dlq_topic_template, s->dlq_fallback_topic, NULL, &dlq) != 0 ||
        needed_add(nd, (const char *)dlq.data, true, "the fallback for events with no topic") != 0)
        goto done;
    rc = 0;
done:
    PQfinish(pg);
    relay_route_free(route);
    outbox_buf_free(&dlq);
    return rc;
}

/* With a broker that does not create topics, every topic the outbox needs must exist. */
static void check_topics(outbox_check *c, const relay_settings *s, const outbox_conf *conf,
                         rd_kafka_t *rk)
{
    char err[512];
    bool on = false;
    int32_t off = -1;
    if (outbox_kafka_topics_auto_create(rk, 10000, &on, &off, err, sizeof(err)) != 0) {
        outbox_check_problem(c,
                             "allow the relay's Kafka user to describe the cluster's configuration "
                             "(DescribeConfigs), or create the outbox topics and run check again",
                             "cannot tell whether the brokers create topics: %s", err);
        return;
    }
    if (on) {
        outbox_check_ok(
            c, "the brokers create topics on first use (auto.create.topics.enable = true)");
        return;
    }
    outbox_check_ok(
        c,
        "broker %d does not create topics (auto.create.topics.enable = false): each topic "
        "must exist before its first event",
        (int)off);
    struct needed nd = {0};
    bool *missing = NULL;
    if (needed_collect(c, s, &nd) != 0 || !(missing = calloc(nd.n, sizeof(*missing))) ||
        outbox_kafka_topics_missing(rk, (const char *const *)nd.topics, nd.n, missing, 10000, err,
                                    sizeof(err)) != 0) {
        if (nd.n && missing)
            outbox_check_problem(c, "check that Kafka answers", "cannot list the topics: %s", err);
        goto done;
    }
    size_t found = 0;
    for (size_t i = 0; i < nd.n; i++) {
        if (!missing[i]) {
            found++;
            continue;
        }
        char fix[512];
        snprintf(fix, sizeof(fix),
                 "create it (kafka-topics.sh --bootstrap-server %s --create --topic %s, with "
                 "the partitions and replication your cluster needs)",
                 outbox_conf_kafka_get(conf, "bootstrap.servers"), nd.topics[i]);
        outbox_check_problem(c, fix, "%stopic %s does not exist and will not be created (%s)",
                             nd.dlq[i] ? "dead-letter " : "", nd.topics[i], nd.why[i]);
    }
    if (found == nd.n)
        outbox_check_ok(c, "%zu topics the outbox needs exist (for the aggregate types in it now)",
                        found);
done:
    free(missing);
    needed_free(&nd);
}

/* relay.exactly-once: the state topic keeps the last LSN of each key only if compacted (a
 * deleted state makes a restart re-send what the slot had not confirmed). Missing is fine when
 * the relay may create it (it does so compacted). */
static void check_state_topic(outbox_check *c, const relay_settings *s, rd_kafka_t *rk)
{
    char topic[256], err[512], fix[512];
    bool compact = false;
    if (!s->exactly_once)
        return;
    relay_txn_state_topic(s, topic, sizeof(topic));
    snprintf(fix, sizeof(fix),
             "create it compacted (kafka-topics.sh --create --topic %s --partitions 1 --config "
             "cleanup.policy=compact), or set cleanup.policy=compact on it",
             topic);
    if (outbox_kafka_topics_compacted(rk, topic, 10000, &compact, err, sizeof(err)) != 0)
        outbox_check_warning(c, fix,
                             "exactly-once state topic: %s (the relay creates it if allowed)", err);
    else if (!compact)
        outbox_check_problem(c, fix, "exactly-once state topic %s is not compacted", topic);
    else
        outbox_check_ok(c, "exactly-once state topic %s is compacted", topic);
}

static void check_kafka(outbox_check *c, const relay_settings *s, const outbox_conf *conf)
{
    char err[512];
    relay_publish *pub = NULL;
    rd_kafka_conf_t *kconf = relay_publish_conf(conf, err, sizeof(err));
    if (kconf == NULL) {
        outbox_check_problem(c, "fix or remove that key under [kafka]", "%s", err);
        return;
    }
    if (relay_publish_new(kconf, NULL, NULL, &pub, err, sizeof(err)) != 0) {
        outbox_check_problem(c, "fix the [kafka] settings", "cannot create a Kafka producer: %s",
                             err);
        return;
    }
    if (relay_publish_ping(pub, 10000, err, sizeof(err)) != 0)
        outbox_check_kafka_unreachable(c, conf, err);
    else {
        outbox_check_ok(c, "Kafka answers at %s", outbox_conf_kafka_get(conf, "bootstrap.servers"));
        check_topics(c, s, conf, relay_publish_handle(pub));
        check_state_topic(c, s, relay_publish_handle(pub));
    }
    relay_publish_free(pub);
}

static void check_registry(outbox_check *c, const relay_settings *s)
{
    char err[512];
    if (s->wire_format != RELAY_WIRE_CONFLUENT) {
        outbox_check_ok(c, "no registry: Avro single-object encoding");
        return;
    }
    outbox_registry *reg = relay_settings_registry_new(s, err, sizeof(err));
    outbox_check_registry(c, reg, err);
    outbox_registry_free(reg);
}

int relay_check(const relay_settings *settings, const outbox_conf *conf, FILE *out)
{
    outbox_check c = {.out = out};
    fprintf(out, "outbox-relay check\n");
    check_postgres(&c, settings);
    check_kafka(&c, settings, conf);
    outbox_check_schema_dir(&c, "avro.schema-dir", settings->schema_dir, NULL);
    check_registry(&c, settings);
    c.problems += relay_schemas_check(settings, out);
    return outbox_check_summary(&c);
}
