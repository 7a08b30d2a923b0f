#ifndef PROJECTOR_PROJECTION_H
#define PROJECTOR_PROJECTION_H

/*
 * projector_projection: the declarative description of one projection, parsed from an ini
 * section `[projection NAME]` (handed over by lib/config's on_sections hook).
 *
 *   [projection posts]
 *   topics   = outbox.event.post, outbox.event.comment   ; required, comma/space separated
 *   database = host=127.0.0.1 dbname=blog_read           ; default: [postgres] conninfo
 *   group    = outbox-projector.posts                    ; default: outbox-projector.NAME
 *   tables   = posts, comments                           ; truncated by `replay`
 *   notify   = posts_changed                             ; NOTIFY channel, "" = none;
 *                                                        ; default: projector.NAME
 *   start    = earliest                                  ; no stored offset: earliest|latest
 *   reader-schemas = schemas/reader                      ; reader schemas (Avro resolution)
 *                                                        ; default: avro.reader-schema-dir
 *   ddl      = sql/projector.sql, model.sql           ; files `rebuild` runs, in order, to
 *                                                        ; create the model in a shadow schema
 *   sql.PostCreated = INSERT INTO posts ... $1 ...        ; one statement per event type
 *   sqlset.CommentCreated = INSERT INTO comments ...      ; or one per run of events (below)
 *       SELECT ... FROM jsonb_array_elements($1) ...
 *
 * sql.<Type> parameters (all bound as text, typed by the prepare):
 *   $1 jsonb  the event (Avro decoded to JSON, logical types rendered)
 *   $2 uuid   event id (header `id`)          $3 text  event type
 *   $4 text   aggregate id                    $5 text  topic
 *   $6 int4   partition                       $7 int8  offset
 *   $8 timestamptz  commit time (header outbox.commit_time; NULL when absent or when it
 *                   is not RFC 3339, e.g. epoch millis: see projector_decode.h)
 *
 * sqlset.<Type> (set-based, opt-in): ONE parameter, $1 jsonb, an array of the consecutive new
 * events of that type in batch order (a run stops at a new event of another type), each
 * element {"event": <$1 above>, "id", "type", "aggregate_id", "topic", "partition", "offset",
 * "commit_time"} (see projector_pgtext.h). An event type has sql.<Type> or sqlset.<Type>, not
 * both.
 *
 * Pure (no I/O). Parsing runs on the loading thread; the result is read-only afterwards and
 * any thread may read it.
 */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Longest projection name; names use [A-Za-z0-9_.-]. */
#define PROJECTOR_NAME_MAX 100
/* Longest NOTIFY channel (PostgreSQL identifiers: NAMEDATALEN - 1). */
#define PROJECTOR_CHANNEL_MAX 63

typedef enum projector_start {
    PROJECTOR_START_EARLIEST = 0,
    PROJECTOR_START_LATEST = 1,
} projector_start;

/* One event type's statement. */
typedef struct projector_mapping {
    char *event_type; /* "PostCreated" (the header event_type, or the schema's short name) */
    char *sql;
    char *origin; /* "blog.ini:12" for messages */
    bool set;     /* sqlset.<Type>: $1 = jsonb array of a run of events; else sql.<Type> */
} projector_mapping;

typedef struct projector_projection {
    char *name;
    char **topics;
    size_t topic_count;
    char *database;       /* NULL: the global [postgres] conninfo */
    char *reader_schemas; /* NULL: avro.reader-schema-dir; "" = none */
    char *group;
    char **tables;
    size_t table_count;
    char *notify; /* "" = no NOTIFY */
    char **ddl;   /* DDL files (relative ones resolved against the config file's directory) */
    size_t ddl_count;
    projector_start start;
    projector_mapping *mappings;
    size_t mapping_count;
    char **link_types; /* link.<Type>: event types with a resource link ... */
    char **links;      /* ... and their URL templates ("/posts/{aggregate_id}") */
    size_t link_count;
} projector_projection;

/* The link template of event_type (link.<Type>), or NULL. */
const char *projector_projection_link(const projector_projection *proj, const char *event_type);

/* True when a link template only uses the placeholders {aggregate_id}, {aggregate_type}, {id}
 * and {type}, has no other brace and starts with '/' or "http". Pure. */
bool projector_link_template_valid(const char *tmpl);

/* Every projection of a configuration, in order of first appearance. */
typedef struct projector_projections {
    projector_projection *items;
    size_t count;
} projector_projections;

/*
 * Parse the items of unknown sections (lib/config's outbox_conf_item list) into *out, which
 * must be zeroed. Sections must be `projection NAME`; keys as above. Errors name the file and
 * line, the key and the fix. Returns 0, or -1 with errstr filled and *out left empty.
 * Checks: valid names, topics given, at least one sql.* or sqlset.* key, not both for one event
 * type, no duplicate projection group, table names that are (optionally schema-qualified)
 * identifiers.
 */
int projector_projections_parse(const outbox_conf_item *items, size_t count,
                                projector_projections *out, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Free everything parse() allocated; *projections becomes empty. Safe twice. */
void projector_projections_free(projector_projections *projections);

/* The projection named `name`, or NULL. */
const projector_projection *projector_projections_find(const projector_projections *projections,
                                                       const char *name);

/* The first positional parameter outside $1..$max a statement uses ($N outside quotes and
 * comments), or 0 when it uses only those. A set statement has exactly one parameter (max 1),
 * a per-event statement eight (max 8): PostgreSQL prepares a statement naming more (it infers
 * the type) but every execution then fails. Pure. */
int projector_sql_param_beyond(const char *sql, int max);

/* "sql" or "sqlset": the key prefix of a mapping (for messages: "sqlset.PostCreated"). */
const char *projector_mapping_key(const projector_mapping *mapping);

/* The projection keys and statement parameters, for --help (one text, ends with a newline). */
extern const char projector_projection_help[];

/* Index of the mapping for event_type, or -1 (unmapped: counted and skipped). */
int projector_projection_mapping(const projector_projection *proj, const char *event_type);

/* Split a comma and/or whitespace separated list into a malloc'd array of malloc'd strings.
 * Empty items are dropped. 0, or -1 on ENOMEM. *items is NULL when *count is 0. */
int projector_list_split(const char *value, char ***items, size_t *count)
    __attribute__((warn_unused_result));
void projector_list_free(char **items, size_t count);

/* True for [A-Za-z_][A-Za-z0-9_$]* optionally "schema." prefixed the same way. */
bool projector_identifier_valid(const char *name);

#endif
