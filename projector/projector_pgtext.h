#ifndef PROJECTOR_PGTEXT_H
#define PROJECTOR_PGTEXT_H

/*
 * projector_pgtext: text the projector sends to PostgreSQL, built without I/O.
 *
 *  - array literals for the set-based statements (one parameter carries a whole batch:
 *    `unnest($2::uuid[])`), so a batch costs a fixed number of statements, not one per event;
 *  - the $1 of a set statement (sqlset.<Type>): a JSON array with one object per event, in
 *    batch order:
 *      {"event":<the decoded event>,"id":"<uuid>","type":"PostCreated","aggregate_id":"...",
 *       "topic":"...","partition":0,"offset":42,"commit_time":"2026-01-01T00:00:00.000Z"}
 *    (the per-event statement's $1..$8 by name; absent values are null; the event's JSON is
 *    embedded as decoded, the strings are JSON-escaped);
 *  - NOTIFY payloads: PostgreSQL rejects a payload of 8000 bytes or more, so the applied event
 *    ids of a batch are split over as many payloads as needed, each a JSON object
 *    {"projection":"posts","events":["<uuid>",...]} under the limit. Events dead-lettered by
 *    the batch are announced the same way, as {"projection":"posts","events":[],
 *    "failed":["<uuid>",...]} (so a reader of "events" alone sees nothing new), which is what
 *    `outbox-projector wait` needs to wake up on a failure too.
 *
 * Pure; any thread; the caller owns every buffer.
 */

#include <stddef.h>

#include "buf.h"
#include "pgarray.h" /* outbox_pgarray_*: the array literals of the batch statements */
#include "projector_batch.h"

/* PostgreSQL's limit is "less than 8000 bytes"; this is the largest payload built. */
#define PROJECTOR_NOTIFY_MAX 7999

/* Start a set statement's array: buf gets "[". 0 or -1 (ENOMEM). */
int projector_setarray_begin(outbox_buf *buf) __attribute__((warn_unused_result));

/* Append the element of one event (see above), comma-separated; `first` says whether it is the
 * first. The event's json must be a JSON text (NULL becomes null). 0 or -1 (ENOMEM). */
int projector_setarray_add(outbox_buf *buf, const projector_event *ev, int first)
    __attribute__((warn_unused_result));

/* Close the array and NUL-terminate it (len excludes the NUL). 0 or -1 (ENOMEM). */
int projector_setarray_end(outbox_buf *buf) __attribute__((warn_unused_result));

/* Append `text` as a JSON string ("..." with \", \\ and control characters escaped), or null
 * when NULL. Bytes >= 0x80 are copied (UTF-8 stays UTF-8). 0 or -1 (ENOMEM). */
int projector_json_string(outbox_buf *buf, const char *text) __attribute__((warn_unused_result));

/*
 * Build one NOTIFY payload into buf (reset first, NUL-terminated) from ids[start..n), as many
 * as fit in max_bytes (at least one if any remain and one fits). Returns the number of ids
 * taken (0 when start >= n), or -1 on ENOMEM or when not even one id fits max_bytes.
 * `projection` must be a valid projection name (no characters needing JSON escapes).
 */
long projector_notify_payload(outbox_buf *buf, const char *projection, const char *const *ids,
                              size_t n, size_t start, size_t max_bytes)
    __attribute__((warn_unused_result));

/* What a NOTIFY payload lists. */
typedef enum projector_notify_kind {
    PROJECTOR_NOTIFY_APPLIED = 0, /* "events": [...] */
    PROJECTOR_NOTIFY_FAILED = 1,  /* "events": [], "failed": [...] */
} projector_notify_kind;

/* projector_notify_payload() for either kind (APPLIED builds exactly the same payload). */
long projector_notify_payload_kind(outbox_buf *buf, const char *projection,
                                   projector_notify_kind kind, const char *const *ids, size_t n,
                                   size_t start, size_t max_bytes)
    __attribute__((warn_unused_result));

/* What a NOTIFY payload says about one event of one projection. */
typedef enum projector_notify_match {
    PROJECTOR_NOTIFY_MALFORMED = -1, /* not a payload of the projector */
    PROJECTOR_NOTIFY_NONE = 0,       /* another projection, or the event is not listed */
    PROJECTOR_NOTIFY_HAS_APPLIED = 1,
    PROJECTOR_NOTIFY_HAS_FAILED = 2,
} projector_notify_match;

/* Parse `payload` (as built above) and look for `event_id` (lowercase uuid text) of
 * `projection`. Pure (jansson); any thread. */
projector_notify_match projector_notify_find(const char *payload, const char *projection,
                                             const char *event_id);

#endif
