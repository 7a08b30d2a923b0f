#ifndef MODERATION_H
#define MODERATION_H

/*
 * moderation: the blog's moderation service, an outbox_consumer.
 *
 * On CommentCreated it decides (moderation_decide: REJECTED with a reason when the text
 * mentions the configured word, "orange" by default, in any case; APPROVED otherwise) and, in
 * the consumer's batch transaction (with the dedup row and the offsets):
 *
 *   INSERT INTO moderation_decisions (comment_id, ..., moderated_event_id)
 *     ON CONFLICT (comment_id) DO UPDATE SET handled = handled + 1
 *   INSERT INTO <outbox table> (id = moderated_event_id, aggregate_type 'comment',
 *     aggregate_id = comment id, event_type 'CommentModerated', payload, headers)
 *     only when the decision row is new
 *
 * so each comment gets exactly one decision row and one CommentModerated event (the relay
 * publishes it to outbox.event.comment, keyed by the comment). The payload fits
 * schemas/CommentModerated.avsc: comment_id, post_id, decision, reason (null when approved),
 * moderator, moderated_at (RFC 3339, UTC, milliseconds). Headers column: causation_id = the
 * CommentCreated event id. `handled` counts CommentCreated events handled per comment: 1 unless
 * the same comment was created twice under different event ids (then the first decision
 * stands and no second event is emitted).
 *
 * Every other event type (its own CommentModerated, CommentUpdated, ...) is skipped: counted
 * (outbox_projector_events_unmapped_total{projection=NAME}), its position advances.
 *
 * Errors: a payload without a valid comment_id/post_id/text is REJECTed (dead-lettered with
 * the reason); SQL errors by SQLSTATE class, except that class 42 (undefined table or column,
 * syntax) is FATAL: the statements are fixed, so it means the schema is missing
 * (sql/moderation.sql not applied), never a bad event.
 *
 * Threads: the handler runs on the consumer's thread; the rules are read-only.
 */

#include <stdbool.h>
#include <stddef.h>

#include "outbox_consumer.h"

typedef enum moderation_decision {
    MODERATION_APPROVED = 0,
    MODERATION_REJECTED = 1,
} moderation_decision;

/* "APPROVED" / "REJECTED" (the Avro enum symbols). Static storage. */
const char *moderation_decision_name(moderation_decision decision);

typedef struct moderation_rules {
    const char *word;         /* rejected when the text contains it (ASCII case-insensitive) */
    const char *reason;       /* the reason of a rejection */
    const char *moderator;    /* the `moderator` field */
    const char *outbox_table; /* [schema.]table the CommentModerated rows go to */
    const char *aggregate_type;
} moderation_rules;

/* Whether `text` contains `word`, ignoring ASCII case (other bytes compare exactly, so UTF-8
 * text is safe). An empty or NULL word never matches; NULL text never matches. Pure. */
bool moderation_mentions(const char *text, const char *word);

/* The decision on a comment's text; *reason = rules->reason when rejected, NULL when approved.
 * Pure. */
moderation_decision moderation_decide(const moderation_rules *rules, const char *text,
                                      const char **reason);

/* The service's state: rules, the prepared SQL text, counters. */
typedef struct moderation_service {
    moderation_rules rules;
    char *sql; /* the decision + outbox statement for rules.outbox_table */
    unsigned long approved, rejected, repeated, skipped;
} moderation_service;

/* Build the statement for rules->outbox_table (copied rules are borrowed: they must outlive the
 * service). 0, or -1 with errstr (an outbox table that is not an identifier). */
int moderation_service_init(moderation_service *svc, const moderation_rules *rules, char *errstr,
                            size_t errstr_size) __attribute__((warn_unused_result));
void moderation_service_destroy(moderation_service *svc);

/* The outbox_consumer handler; opaque = the moderation_service. */
outbox_consumer_rc moderation_handle(void *opaque, PGconn *conn, const outbox_consumer_event *ev,
                                     outbox_consumer_error *err);

/* ------------------------------------------------------------------ settings */

typedef struct moderation_settings {
    outbox_consumer_settings consumer; /* the library's keys */
    char *word;
    char *reason;
    char *moderator;
    char *outbox_table;
    char *aggregate_type;
} moderation_settings;

extern const outbox_conf_spec moderation_settings_spec;

/* Load (ini, OUTBOX_MODERATION_* environment, --set) into a zeroed *settings. 0, or -1 with
 * errstr. Main thread. */
int moderation_settings_load(moderation_settings *settings, const outbox_conf_sources *src,
                             outbox_conf **confp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
void moderation_settings_free(moderation_settings *settings);

/* The rules of `settings` (borrowing its strings). Pure. */
moderation_rules moderation_settings_rules(const moderation_settings *settings);

#endif
