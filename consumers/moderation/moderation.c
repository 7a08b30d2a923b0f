/* moderation: decide on CommentCreated, record the decision and emit CommentModerated through
 * the outbox, in the consumer's transaction. */
#include "moderation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "projector_projection.h"

/* ------------------------------------------------------------------ rules (pure) */

const char *moderation_decision_name(moderation_decision decision)
{
    return decision == MODERATION_REJECTED ? "REJECTED" : "APPROVED";
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool moderation_mentions(const char *text, const char *word)
{
    if (text == NULL || word == NULL || word[0] == '\0')
        return false;
    size_t n = strlen(word);
    for (const char *p = text; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] != '\0' && ascii_lower(p[i]) == ascii_lower(word[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

moderation_decision moderation_decide(const moderation_rules *rules, const char *text,
                                      const char **reason)
{
    if (moderation_mentions(text, rules->word)) {
        *reason = rules->reason;
        return MODERATION_REJECTED;
    }
    *reason = NULL;
    return MODERATION_APPROVED;
}

/* ------------------------------------------------------------------ the statement */

/* $1 comment id, $2 post id, $3 decision, $4 reason, $5 moderator, $6 CommentCreated event id,
 * $7 aggregate type. One round trip: the decision row, and the outbox row when it is new. */
static const char SQL_FMT[] =
    "WITH d AS ("
    " INSERT INTO moderation_decisions AS m (comment_id, post_id, decision, reason, moderator,"
    "  source_event_id, moderated_event_id, moderated_at)"
    " VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6::uuid, gen_random_uuid(),"
    "  date_trunc('milliseconds', clock_timestamp()))"
    " ON CONFLICT (comment_id) DO UPDATE SET handled = m.handled + 1"
    " RETURNING (m.xmax = 0) AS inserted, m.comment_id, m.post_id, m.decision, m.reason,"
    "  m.moderator, m.moderated_event_id, m.moderated_at),"
    " o AS ("
    " INSERT INTO %s (id, aggregate_type, aggregate_id, event_type, payload, headers)"
    " SELECT moderated_event_id, $7, comment_id::text, 'CommentModerated',"
    "  jsonb_build_object('comment_id', comment_id, 'post_id', post_id, 'decision', decision,"
    "   'reason', reason, 'moderator', moderator, 'moderated_at',"
    "   to_char(moderated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')),"
    "  jsonb_build_object('causation_id', $6::text)"
    " FROM d WHERE inserted)" /* no RETURNING: the role needs INSERT on the outbox only */
    " SELECT d.inserted, d.moderated_event_id FROM d";

int moderation_service_init(moderation_service *svc, const moderation_rules *rules, char *errstr,
                            size_t errstr_size)
{
    memset(svc, 0, sizeof *svc);
    svc->rules = *rules;
    if (rules->outbox_table == NULL || !projector_identifier_valid(rules->outbox_table)) {
        snprintf(errstr, errstr_size,
                 "moderation.outbox-table '%s' is not a table name ([schema.]table)",
                 rules->outbox_table ? rules->outbox_table : "");
        return -1;
    }
    size_t size = sizeof SQL_FMT + strlen(rules->outbox_table);
    svc->sql = malloc(size);
    if (svc->sql == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    snprintf(svc->sql, size, SQL_FMT, rules->outbox_table);
    return 0;
}

void moderation_service_destroy(moderation_service *svc)
{
    free(svc->sql);
    svc->sql = NULL;
}

/* ------------------------------------------------------------------ the handler */

static const char *field(const outbox_consumer_event *ev, const char *name)
{
    return json_string_value(json_object_get(ev->payload, name));
}

outbox_consumer_rc moderation_handle(void *opaque, PGconn *conn, const outbox_consumer_event *ev,
                                     outbox_consumer_error *err)
{
    moderation_service *svc = opaque;
    if (strcmp(ev->event_type, "CommentCreated") != 0) {
        svc->skipped++;
        return OUTBOX_CONSUMER_SKIP;
    }
    const char *comment_id = field(ev, "comment_id");
    const char *post_id = field(ev, "post_id");
    const char *text = field(ev, "text");
    if (comment_id == NULL || post_id == NULL || text == NULL)
        return outbox_consumer_fail(err, OUTBOX_CONSUMER_REJECT,
                                    "CommentCreated %s lacks comment_id, post_id or text", ev->id);
    const char *reason = NULL;
    moderation_decision decision = moderation_decide(&svc->rules, text, &reason);
    const char *params[7] = {
        comment_id,           post_id, moderation_decision_name(decision), reason,
        svc->rules.moderator, ev->id,  svc->rules.aggregate_type};
    PGresult *res = PQexecParams(conn, svc->sql, 7, NULL, params, NULL, NULL, 0);
    outbox_consumer_rc rc = OUTBOX_CONSUMER_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = outbox_consumer_sql_error(conn, res, "recording the decision", err);
        /* Our statement is fixed: class 42 means the schema is missing, not a bad event. */
        if (strncmp(err->sqlstate, "42", 2) == 0) {
            size_t len = strlen(err->message);
            snprintf(err->message + len, sizeof err->message - len,
                     " (apply sql/projector.sql and sql/moderation.sql to this database; is "
                     "moderation.outbox-table right?)");
            rc = OUTBOX_CONSUMER_FATAL;
        }
        PQclear(res);
        return rc;
    }
    bool inserted = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (inserted) {
        if (decision == MODERATION_REJECTED)
            svc->rejected++;
        else
            svc->approved++;
        outbox_log_debug("moderation", "comment %s %s (CommentModerated %s)", comment_id,
                         moderation_decision_name(decision), PQgetvalue(res, 0, 1));
    } else {
        svc->repeated++;
        outbox_log_info("moderation",
                        "comment %s was already moderated; CommentCreated %s changes nothing",
                        comment_id, ev->id);
    }
    PQclear(res);
    return OUTBOX_CONSUMER_OK;
}

/* ------------------------------------------------------------------ settings */

#define S moderation_settings

static const outbox_conf_def defs[] = {
    OUTBOX_CONSUMER_CONF_DEFS(S, consumer),
    OUTBOX_CONF_STR("moderation.word", S, word, "orange", 0,
                    "A comment whose text contains this (any case) is rejected"),
    OUTBOX_CONF_STR("moderation.reason", S, reason, "mentions oranges", 0,
                    "The reason given with a rejection"),
    OUTBOX_CONF_STR("moderation.moderator", S, moderator, "auto-moderator", 0,
                    "The moderator named in CommentModerated"),
    OUTBOX_CONF_STR("moderation.outbox-table", S, outbox_table, "public.outbox", 0,
                    "The outbox table CommentModerated rows are inserted into"),
    OUTBOX_CONF_STR("moderation.aggregate-type", S, aggregate_type, "comment", 0,
                    "aggregate_type of the CommentModerated rows (topic outbox.event.<it>)"),
    OUTBOX_CONF_END};

static int finalize(void *target, const outbox_conf *conf, void *opaque, char *errstr,
                    size_t errstr_size)
{
    S *settings = target;
    (void)opaque;
    if (outbox_consumer_settings_finalize(&settings->consumer, conf, errstr, errstr_size))
        return -1;
    if (!projector_identifier_valid(settings->outbox_table)) {
        snprintf(errstr, errstr_size,
                 "moderation.outbox-table '%s' is not a table name ([schema.]table)",
                 settings->outbox_table);
        return -1;
    }
    if (settings->word == NULL || settings->word[0] == '\0') {
        snprintf(errstr, errstr_size, "moderation.word is empty: every comment would pass");
        return -1;
    }
    if (settings->aggregate_type == NULL || settings->aggregate_type[0] == '\0') {
        snprintf(errstr, errstr_size, "moderation.aggregate-type is empty");
        return -1;
    }
    return 0;
}

const outbox_conf_spec moderation_settings_spec = {.program = "outbox-moderation",
                                                   .env_prefix = "OUTBOX_MODERATION",
                                                   .defs = defs,
                                                   .finalize = finalize};

int moderation_settings_load(moderation_settings *settings, const outbox_conf_sources *src,
                             outbox_conf **confp, char *errstr, size_t errstr_size)
{
    return outbox_conf_load(&moderation_settings_spec, settings, src, NULL, confp, errstr,
                            errstr_size);
}

void moderation_settings_free(moderation_settings *settings)
{
    outbox_conf_free(defs, settings);
}

moderation_rules moderation_settings_rules(const moderation_settings *settings)
{
    const moderation_rules rules = {.word = settings->word,
                                    .reason = settings->reason,
                                    .moderator = settings->moderator,
                                    .outbox_table = settings->outbox_table,
                                    .aggregate_type = settings->aggregate_type};
    return rules;
}
