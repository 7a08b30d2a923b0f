/* projector_replay: reset a projection's offsets and tables in one transaction. */
#include "projector_replay.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "pg_connect.h"
#include "projector_pgtext.h"

#define KAFKA_TIMEOUT_MS 15000

rd_kafka_t *projector_probe_new(const projector_projection *proj, const outbox_conf *conf,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char why[512];

    if (outbox_conf_kafka_apply_for(conf, kconf, RD_KAFKA_CONSUMER, errstr, errstr_size))
        goto fail;
    if (rd_kafka_conf_set(kconf, "group.id", proj->group, why, sizeof why) != RD_KAFKA_CONF_OK)
        goto fail_why;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, why, sizeof why);
    if (rk != NULL)
        return rk;
fail_why:
    snprintf(errstr, errstr_size, "kafka: %s", why);
fail:
    rd_kafka_conf_destroy(kconf);
    return NULL;
}

rd_kafka_topic_partition_list_t *projector_probe_partitions(rd_kafka_t *rk,
                                                            const projector_projection *proj,
                                                            char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    for (size_t t = 0; t < proj->topic_count; t++) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, proj->topics[t], NULL);
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, KAFKA_TIMEOUT_MS);
        rd_kafka_topic_destroy(rkt);
        if (err) {
            snprintf(errstr, errstr_size, "kafka metadata of topic %s: %s", proj->topics[t],
                     rd_kafka_err2str(err));
            rd_kafka_topic_partition_list_destroy(list);
            return NULL;
        }
        if (md->topic_cnt != 1 || md->topics[0].err) {
            snprintf(errstr, errstr_size, "topic %s: %s", proj->topics[t],
                     md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not found");
            rd_kafka_metadata_destroy(md);
            rd_kafka_topic_partition_list_destroy(list);
            return NULL;
        }
        for (int p = 0; p < md->topics[0].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(list, proj->topics[t], md->topics[0].partitions[p].id)
                ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
    }
    return list;
}

/* Every partition of every topic, with offsets: -2 (beginning) or by timestamp. */
static rd_kafka_topic_partition_list_t *target_offsets(const projector_projection *proj,
                                                       const outbox_conf *conf, bool by_time,
                                                       int64_t time_ms, char *errstr,
                                                       size_t errstr_size)
{
    rd_kafka_t *rk = projector_probe_new(proj, conf, errstr, errstr_size);
    if (rk == NULL)
        return NULL;
    rd_kafka_topic_partition_list_t *list =
        projector_probe_partitions(rk, proj, errstr, errstr_size);
    if (list == NULL)
        goto fail;
    for (int i = 0; by_time && i < list->cnt; i++)
        list->elems[i].offset = time_ms;
    if (by_time) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list, KAFKA_TIMEOUT_MS);
        if (err) {
            snprintf(errstr, errstr_size, "kafka offsets for times: %s", rd_kafka_err2str(err));
            goto fail;
        }
        for (int i = 0; i < list->cnt; i++) {
            rd_kafka_topic_partition_t *p = &list->elems[i];
            if (p->err) {
                snprintf(errstr, errstr_size, "kafka offsets for times of %s [%d]: %s", p->topic,
                         (int)p->partition, rd_kafka_err2str(p->err));
                goto fail;
            }
            if (p->offset < 0) { /* nothing at or after T: the end */
                int64_t lo = 0, hi = 0;
                err = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi,
                                                       KAFKA_TIMEOUT_MS);
                if (err) {
                    snprintf(errstr, errstr_size, "kafka watermarks of %s [%d]: %s", p->topic,
                             (int)p->partition, rd_kafka_err2str(err));
                    goto fail;
                }
                p->offset = hi;
            }
        }
    }
    rd_kafka_destroy(rk);
    return list;
fail:
    if (list != NULL)
        rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
    return NULL;
}

int projector_exec_ok(PGconn *conn, PGresult *res, const char *what, char *errstr,
                      size_t errstr_size)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    snprintf(errstr, errstr_size, "%s: %s", what,
             res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    size_t len = strlen(errstr);
    while (len > 0 && errstr[len - 1] == '\n')
        errstr[--len] = '\0';
    return -1;
}

int projector_replay_run(const projector_settings *settings, const outbox_conf *conf,
                         const char *name, const char *from_time, char *errstr, size_t errstr_size)
{
    const projector_projection *proj = projector_projections_find(&settings->projections, name);
    PGconn *conn = NULL;
    PGresult *res = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    outbox_buf t = OUTBOX_BUF_INIT, p = OUTBOX_BUF_INIT, o = OUTBOX_BUF_INIT;
    int64_t time_ms = 0;
    int rc = -1;
    bool in_txn = false;

    if (proj == NULL) {
        snprintf(errstr, errstr_size, "no projection named '%s' in the configuration", name);
        return -1;
    }
    const outbox_pg_params pgparams = {.conninfo = projector_settings_conninfo(settings, proj),
                                       .application_name = "outbox-projector-replay"};
    char why[1600];
    if (outbox_pg_connect(&pgparams, &conn, why, sizeof why) != OUTBOX_PG_CONNECT_OK) {
        snprintf(errstr, errstr_size, "cannot connect to the read database: %s", why);
        goto done;
    }
    if (from_time != NULL) {
        const char *param = from_time;
        res = PQexecParams(conn, "SELECT (extract(epoch FROM $1::timestamptz) * 1000)::bigint", 1,
                           NULL, &param, NULL, NULL, 0);
        if (projector_exec_ok(conn, res, "--from-time", errstr, errstr_size))
            goto done;
        time_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        res = NULL;
    }
    list = target_offsets(proj, conf, from_time != NULL, time_ms, errstr, errstr_size);
    if (list == NULL)
        goto done;

    if (outbox_pgarray_begin(&t) || outbox_pgarray_begin(&p) || outbox_pgarray_begin(&o))
        goto nomem;
    for (int i = 0; i < list->cnt; i++) {
        char part[16], off[32];
        snprintf(part, sizeof part, "%d", (int)list->elems[i].partition);
        snprintf(off, sizeof off, "%lld", (long long)list->elems[i].offset);
        if (outbox_pgarray_add(&t, list->elems[i].topic, i == 0) ||
            outbox_pgarray_add(&p, part, i == 0) || outbox_pgarray_add(&o, off, i == 0))
            goto nomem;
    }
    if (outbox_pgarray_end(&t) || outbox_pgarray_end(&p) || outbox_pgarray_end(&o))
        goto nomem;

    res = PQexec(conn, "BEGIN");
    if (projector_exec_ok(conn, res, "BEGIN", errstr, errstr_size))
        goto done;
    in_txn = true;
    PQclear(res);
    const char *p_gen[2] = {proj->name, from_time ? from_time : "beginning"};
    res = PQexecParams(conn,
                       "INSERT INTO projector_projections (projection, generation, replayed_at, "
                       "replay_from) VALUES ($1, 2, now(), $2) ON CONFLICT (projection) DO "
                       "UPDATE SET generation = projector_projections.generation + 1, "
                       "replayed_at = now(), replay_from = $2 RETURNING generation",
                       2, NULL, p_gen, NULL, NULL, 0);
    if (projector_exec_ok(conn, res, "bumping the generation", errstr, errstr_size))
        goto done;
    long long generation = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = NULL;
    for (size_t i = 0; i < proj->table_count; i++) {
        char sql[256];
        /* Validated identifiers ([A-Za-z_][A-Za-z0-9_$]*, optional schema): safe unquoted. */
        snprintf(sql, sizeof sql, "TRUNCATE %s", proj->tables[i]);
        res = PQexec(conn, sql);
        if (projector_exec_ok(conn, res, sql, errstr, errstr_size))
            goto done;
        PQclear(res);
        res = NULL;
    }
    static const char *const deletes[] = {
        "DELETE FROM projector_dedup WHERE projection = $1",
        "DELETE FROM projector_dead_letters WHERE projection = $1",
        "DELETE FROM projector_offsets WHERE projection = $1"};
    for (size_t i = 0; i < sizeof deletes / sizeof deletes[0]; i++) {
        const char *pname = proj->name;
        res = PQexecParams(conn, deletes[i], 1, NULL, &pname, NULL, NULL, 0);
        if (projector_exec_ok(conn, res, deletes[i], errstr, errstr_size))
            goto done;
        PQclear(res);
        res = NULL;
    }
    const char *p_off[4] = {proj->name, (const char *)t.data, (const char *)p.data,
                            (const char *)o.data};
    res = PQexecParams(conn,
                       "INSERT INTO projector_offsets (projection, topic, partition, "
                       "next_offset) SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], "
                       "$4::bigint[]) AS u(t, p, o)",
                       4, NULL, p_off, NULL, NULL, 0);
    if (projector_exec_ok(conn, res, "writing the offsets", errstr, errstr_size))
        goto done;
    PQclear(res);
    res = PQexec(conn, "COMMIT");
    if (projector_exec_ok(conn, res, "COMMIT", errstr, errstr_size))
        goto done;
    in_txn = false;
    printf("replayed projection %s (generation %lld): %zu table(s) truncated, offsets of %d "
           "partition(s) reset to %s\n",
           proj->name, generation, proj->table_count, list->cnt,
           from_time ? from_time : "the beginning");
    for (int i = 0; i < list->cnt; i++)
        printf("  %s [%d] -> %s%lld\n", list->elems[i].topic, (int)list->elems[i].partition,
               list->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING ? "beginning " : "",
               (long long)(list->elems[i].offset < 0 ? 0 : list->elems[i].offset));
    rc = 0;
    goto done;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
done:
    PQclear(res);
    if (in_txn) {
        res = PQexec(conn, "ROLLBACK");
        PQclear(res);
    }
    PQfinish(conn);
    if (list != NULL)
        rd_kafka_topic_partition_list_destroy(list);
    outbox_buf_free(&t);
    outbox_buf_free(&p);
    outbox_buf_free(&o);
    return rc;
}
