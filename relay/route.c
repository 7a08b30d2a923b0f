#include "route.h"

#include "avro_schema.h"
#include "avro_text.h"
#include "hex.h"
#include "kafka_topics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const default_columns[RELAY_ROUTE_NCOLS] = {
    "id", "aggregate_type", "aggregate_id", "event_type", "payload", "headers",
};

/* Header names on every record (the Debezium outbox router calls the event id "id"). */
#define HDR_ID "id"
#define HDR_EVENT_TYPE "event_type"
#define HDR_AGGREGATE_TYPE "aggregate_type"
#define HDR_AGGREGATE_ID "aggregate_id"
#define HDR_LSN "outbox.commit_lsn"
#define HDR_XID "outbox.xid"
#define HDR_COMMIT_TIME "outbox.commit_time"
#define HDR_RESERVED_PREFIX "outbox." /* the relay's namespace: metadata, dead-letter headers */

/* A topic template, split into literal text and placeholders. */
enum tpl_kind { TPL_TEXT, TPL_AGGREGATE_TYPE, TPL_EVENT_TYPE };
struct tpl_part {
    enum tpl_kind kind;
    char *text;
    size_t len;
};

struct relay_route {
    bool lazy_payload;
    struct tpl_part *parts;
    size_t nparts;
    size_t literal_len;
    char *columns[RELAY_ROUTE_NCOLS];
};

void relay_route_free(relay_route *route)
{
    if (!route)
        return;
    for (size_t i = 0; i < route->nparts; i++)
        free(route->parts[i].text);
    free(route->parts);
    for (int c = 0; c < RELAY_ROUTE_NCOLS; c++)
        free(route->columns[c]);
    free(route);
}

static int route_add_part(relay_route *route, enum tpl_kind kind, const char *text, size_t len)
{
    struct tpl_part *parts = realloc(route->parts, (route->nparts + 1) * sizeof(*parts));
    if (!parts)
        return -1;
    route->parts = parts;
    struct tpl_part *part = &parts[route->nparts];
    part->kind = kind;
    part->text = NULL;
    part->len = len;
    if (kind == TPL_TEXT) {
        part->text = strndup(text, len);
        if (!part->text)
            return -1;
        route->literal_len += len;
    }
    route->nparts++;
    return 0;
}

/* The template's own text must be able to stand in a topic name: every event would otherwise
 * become an invalid_topic dead letter. */
static int template_literals_check(const relay_route *route, const char *topic_template,
                                   char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < route->nparts; i++) {
        const struct tpl_part *part = &route->parts[i];
        for (size_t k = 0; part->kind == TPL_TEXT && k < part->len; k++) {
            if (!outbox_kafka_topic_char_valid(part->text[k])) {
                snprintf(errstr, errstr_size,
                         "topic template \"%s\": '%c' cannot be in a Kafka topic name (1-249 "
                         "of a-z A-Z 0-9 . _ -)",
                         topic_template, part->text[k]);
                return -1;
            }
        }
    }
    if (route->literal_len > 249) {
        snprintf(errstr, errstr_size,
                 "topic template \"%s\" is longer than a Kafka topic name may be (249)",
                 topic_template);
        return -1;
    }
    return 0;
}

relay_route *relay_route_new(const char *topic_template, const char *const *column_names,
                             char *errstr, size_t errstr_size)
{
    relay_route *route = calloc(1, sizeof(*route));
    if (!route)
        goto oom;
    for (int c = 0; c < RELAY_ROUTE_NCOLS; c++) {
        const char *name = column_names && column_names[c] ? column_names[c] : default_columns[c];
        route->columns[c] = strdup(name);
        if (!route->columns[c])
            goto oom;
    }
    const char *p = topic_template;
    while (*p) {
        const char *open = strstr(p, "${");
        if (!open) {
            if (route_add_part(route, TPL_TEXT, p, strlen(p)) != 0)
                goto oom;
            break;
        }
        if (open > p && route_add_part(route, TPL_TEXT, p, (size_t)(open - p)) != 0)
            goto oom;
        const char *close = strchr(open, '}');
        if (!close) {
            snprintf(errstr, errstr_size, "topic template \"%s\": unterminated \"${\"",
                     topic_template);
            goto fail;
        }
        size_t nlen = (size_t)(close - open - 2);
        enum tpl_kind kind;
        if (nlen == 14 && strncmp(open + 2, "aggregate_type", 14) == 0)
            kind = TPL_AGGREGATE_TYPE;
        else if (nlen == 10 && strncmp(open + 2, "event_type", 10) == 0)
            kind = TPL_EVENT_TYPE;
        else {
            snprintf(errstr, errstr_size,
                     "topic template \"%s\": unknown placeholder \"%.*s\"; use "
                     "${aggregate_type} or ${event_type}",
                     topic_template, (int)(close - open + 1), open);
            goto fail;
        }
        if (route_add_part(route, kind, NULL, 0) != 0)
            goto oom;
        p = close + 1;
    }
    if (route->nparts == 0) {
        snprintf(errstr, errstr_size, "topic template is empty");
        goto fail;
    }
    if (template_literals_check(route, topic_template, errstr, errstr_size) != 0)
        goto fail;
    return route;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    relay_route_free(route);
    return NULL;
}

void relay_route_set_lazy_payload(relay_route *route, bool lazy)
{
    route->lazy_payload = lazy;
}

/* The class of a jansson load failure (`jerr` zeroed before the call). jansson names a syntax
 * error (with a text); it fails without touching `jerr` when its first allocation fails, and
 * says out_of_memory for later ones. */
static relay_route_err json_load_err(const json_error_t *jerr)
{
    if (json_error_code(jerr) == json_error_out_of_memory || jerr->text[0] == '\0')
        return RELAY_ROUTE_ERR_NOMEM;
    return RELAY_ROUTE_INVALID_JSON;
}

static relay_route_err route_nomem(char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "out of memory");
    return RELAY_ROUTE_ERR_NOMEM;
}

relay_route_err relay_event_parse_payload(relay_event *ev, char *errstr, size_t errstr_size)
{
    json_error_t jerr = {0}; /* jansson leaves it untouched when its first allocation fails */
    if (ev->payload_json || ev->payload_bytes)
        return RELAY_ROUTE_OK;
    ev->payload_json = json_loadb(ev->payload_text, ev->payload_text_len, JSON_DECODE_ANY, &jerr);
    if (!ev->payload_json) {
        if (json_load_err(&jerr) == RELAY_ROUTE_ERR_NOMEM)
            return route_nomem(errstr, errstr_size);
        snprintf(errstr, errstr_size, "payload is not valid JSON: %s at line %d column %d",
                 jerr.text, jerr.line, jerr.column);
        return RELAY_ROUTE_INVALID_JSON;
    }
    return RELAY_ROUTE_OK;
}

const char *relay_route_column_name(const relay_route *route, enum relay_col col)
{
    return route->columns[col];
}

bool relay_route_header_reserved(const char *name)
{
    static const char *const reserved[] = {HDR_ID, HDR_EVENT_TYPE, HDR_AGGREGATE_TYPE,
                                           HDR_AGGREGATE_ID};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return strncasecmp(name, HDR_RESERVED_PREFIX, strlen(HDR_RESERVED_PREFIX)) == 0;
}

/* ---------------------------------------------------------------- event storage */

void relay_event_init(relay_event *ev)
{
    memset(ev, 0, sizeof(*ev));
}

void relay_event_reset(relay_event *ev)
{
    if (ev->payload_json)
        json_decref(ev->payload_json);
    char *store = ev->store;
    size_t cap = ev->store_cap;
    relay_header *headers = ev->headers;
    size_t hcap = ev->headers_cap;
    memset(ev, 0, sizeof(*ev));
    ev->store = store;
    ev->store_cap = cap;
    ev->headers = headers;
    ev->headers_cap = hcap;
}

void relay_event_free(relay_event *ev)
{
    relay_event_reset(ev);
    free(ev->store);
    free(ev->headers);
    memset(ev, 0, sizeof(*ev));
}

/* Make room for `n` more bytes so that later ev_put calls never move the storage. */
static relay_route_err ev_reserve(relay_event *ev, size_t n)
{
    if (ev->store_len + n <= ev->store_cap)
        return RELAY_ROUTE_OK;
    if (ev->store_len > 0)
        return RELAY_ROUTE_ERR_INTERNAL; /* would move strings already handed out: a sizing bug */
    size_t cap = ev->store_cap ? ev->store_cap : 1024;
    while (cap < n)
        cap *= 2;
    char *store = realloc(ev->store, cap);
    if (!store)
        return RELAY_ROUTE_ERR_NOMEM;
    ev->store = store;
    ev->store_cap = cap;
    return RELAY_ROUTE_OK;
}

static const char *ev_put(relay_event *ev, const char *s, size_t len)
{
    char *dst = ev->store + ev->store_len;
    memcpy(dst, s, len);
    dst[len] = '\0';
    ev->store_len += len + 1;
    return dst;
}

static int ev_header(relay_event *ev, const char *name, const char *value, size_t len)
{
    if (ev->nheaders == ev->headers_cap) {
        size_t cap = ev->headers_cap ? ev->headers_cap * 2 : 16;
        relay_header *headers = realloc(ev->headers, cap * sizeof(*headers));
        if (!headers)
            return -1;
        ev->headers = headers;
        ev->headers_cap = cap;
    }
    ev->headers[ev->nheaders++] = (relay_header){name, value, len};
    return 0;
}

/* ---------------------------------------------------------------- routing */

struct route_fields {
    relay_value v[RELAY_ROUTE_NCOLS];
};

static void format_time(char *out, size_t size, int64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%06ldZ", frac);
}

void relay_txn_meta_format(relay_txn_meta *meta)
{
    struct relay_txn_text *t = &meta->text;
    t->commit_lsn = meta->commit_lsn;
    t->xid = meta->xid;
    t->commit_time_us = meta->commit_time_us;
    t->lsn_len = (size_t)snprintf(t->lsn, sizeof(t->lsn), "%X/%X",
                                  (uint32_t)(meta->commit_lsn >> 32), (uint32_t)meta->commit_lsn);
    t->xid_len = (size_t)snprintf(t->xid_text, sizeof(t->xid_text), "%" PRIu32, meta->xid);
    format_time(t->time, sizeof(t->time), meta->commit_time_us);
    t->time_len = strlen(t->time);
}

/* Copy the fields and metadata into the event and build topic and headers. The headers
 * object (may be NULL) contributes extra headers. */
static relay_route_err route_fill(const relay_route *route, const struct route_fields *f,
                                  json_t *headers, const relay_txn_meta *meta, relay_event *ev,
                                  char *errstr, size_t errstr_size)
{
    static const char *const what[RELAY_ROUTE_NCOLS] = {
        "id", "aggregate_type", "aggregate_id", "event_type", "payload", "headers"};
    relay_route_err rc = RELAY_ROUTE_ERR_NOMEM;
    char **dumped = NULL;
    size_t ndumped = 0;

    /* Size everything first so the storage never moves while pointers are handed out. */
    size_t need = 160 + route->literal_len + route->nparts;
    for (int c = 0; c < RELAY_ROUTE_NCOLS; c++)
        need += f->v[c].len + 1;
    need += (f->v[RELAY_COL_AGGREGATE_TYPE].len + f->v[RELAY_COL_EVENT_TYPE].len) * route->nparts;
    size_t nh = headers ? json_object_size(headers) : 0;
    if (nh) {
        dumped = calloc(nh, sizeof(*dumped));
        if (!dumped)
            goto oom;
        const char *k;
        json_t *v;
        json_object_foreach(headers, k, v)
        {
            if (relay_route_header_reserved(k))
                continue;
            need += strlen(k) + 1;
            if (json_is_string(v)) {
                need += json_string_length(v) + 1;
            } else {
                dumped[ndumped] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!dumped[ndumped])
                    goto oom;
                need += strlen(dumped[ndumped]) + 1;
                ndumped++;
            }
        }
    }
    rc = ev_reserve(ev, need);
    if (rc == RELAY_ROUTE_ERR_INTERNAL) {
        snprintf(errstr, errstr_size, "internal error: event storage sized wrong");
        goto done;
    }
    if (rc != RELAY_ROUTE_OK)
        goto oom;

    const char **slots[] = {&ev->id, &ev->aggregate_type, &ev->aggregate_id, &ev->event_type};
    for (int c = 0; c <= RELAY_COL_EVENT_TYPE; c++)
        if (f->v[c].ptr)
            *slots[c] = ev_put(ev, f->v[c].ptr, f->v[c].len);
    if (f->v[RELAY_COL_PAYLOAD].ptr) {
        ev->payload_raw = ev_put(ev, f->v[RELAY_COL_PAYLOAD].ptr, f->v[RELAY_COL_PAYLOAD].len);
        ev->payload_raw_len = f->v[RELAY_COL_PAYLOAD].len;
        ev->payload_text = ev->payload_raw; /* a message narrows it to its payload member */
        ev->payload_text_len = ev->payload_raw_len;
    }

    /* Metadata headers first: present even on a dead letter. */
    relay_txn_meta local;
    const struct relay_txn_text *t = &meta->text;
    if (t->commit_lsn != meta->commit_lsn || t->xid != meta->xid ||
        t->commit_time_us != meta->commit_time_us || t->time_len == 0) {
        local = *meta;
        relay_txn_meta_format(&local);
        t = &local.text;
    }
    if (ev->id && ev_header(ev, HDR_ID, ev->id, strlen(ev->id)) != 0)
        goto oom;
    if (ev->event_type && ev_header(ev, HDR_EVENT_TYPE, ev->event_type, strlen(ev->event_type)))
        goto oom;
    if (ev->aggregate_type &&
        ev_header(ev, HDR_AGGREGATE_TYPE, ev->aggregate_type, strlen(ev->aggregate_type)))
        goto oom;
    if (ev->aggregate_id &&
        ev_header(ev, HDR_AGGREGATE_ID, ev->aggregate_id, strlen(ev->aggregate_id)))
        goto oom;
    if (ev_header(ev, HDR_LSN, ev_put(ev, t->lsn, t->lsn_len), t->lsn_len) ||
        ev_header(ev, HDR_XID, ev_put(ev, t->xid_text, t->xid_len), t->xid_len) ||
        ev_header(ev, HDR_COMMIT_TIME, ev_put(ev, t->time, t->time_len), t->time_len))
        goto oom;
    if (nh) {
        const char *k;
        json_t *v;
        size_t d = 0;
        json_object_foreach(headers, k, v)
        {
            if (relay_route_header_reserved(k)) {
                /* The relay's own headers are the event's identity (the dedup id downstream):
                 * the headers column may add headers, never replace or shadow these. */
                ev->reserved_dropped++;
                continue;
            }
            const char *name = ev_put(ev, k, strlen(k));
            const char *val;
            size_t len;
            if (json_is_string(v)) {
                len = json_string_length(v);
                val = ev_put(ev, json_string_value(v), len);
            } else {
                len = strlen(dumped[d]);
                val = ev_put(ev, dumped[d++], len);
            }
            if (ev_header(ev, name, val, len) != 0)
                goto oom;
        }
    }

    /* The topic needs the fields its template names; without them the dead letter goes to
     * the fallback topic. */
    for (size_t i = 0; i < route->nparts; i++) {
        enum tpl_kind kind = route->parts[i].kind;
        if ((kind == TPL_AGGREGATE_TYPE && !ev->aggregate_type) ||
            (kind == TPL_EVENT_TYPE && !ev->event_type))
            goto required;
    }

    /* Topic from the template. */
    char *topic = ev->store + ev->store_len;
    size_t tlen = 0;
    for (size_t i = 0; i < route->nparts; i++) {
        const struct tpl_part *part = &route->parts[i];
        const char *src = part->text;
        size_t len = part->len;
        if (part->kind == TPL_AGGREGATE_TYPE) {
            src = ev->aggregate_type;
            len = f->v[RELAY_COL_AGGREGATE_TYPE].len;
        } else if (part->kind == TPL_EVENT_TYPE) {
            src = ev->event_type;
            len = f->v[RELAY_COL_EVENT_TYPE].len;
        }
        memcpy(topic + tlen, src, len);
        tlen += len;
    }
    topic[tlen] = '\0';
    ev->store_len += tlen + 1;
    ev->topic = topic;
    if (!outbox_kafka_topic_name_valid(topic)) {
        snprintf(errstr, errstr_size,
                 "topic \"%s\" is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)",
                 topic);
        ev->topic = NULL;
        rc = RELAY_ROUTE_INVALID_TOPIC;
        goto done;
    }
required:
    /* Required fields: checked after the topic, so a dead letter lands next to its stream. */
    for (int c = 0; c < RELAY_COL_HEADERS; c++) {
        if (!f->v[c].ptr) {
            snprintf(errstr, errstr_size, "required field %s (column \"%s\") is NULL", what[c],
                     route->columns[c]);
            rc = RELAY_ROUTE_NULL_COLUMN;
            goto done;
        }
    }
    rc = RELAY_ROUTE_OK;
    goto done;
oom:
    rc = route_nomem(errstr, errstr_size);
done:
    for (size_t i = 0; i < ndumped; i++)
        free(dumped[i]);
    free(dumped);
    return rc;
}

/* Decode the event's bytea payload text ("\x" then two hex digits a byte) in place into the
 * event's copy (it only shrinks). */
static relay_route_err route_bytea(relay_event *ev, char *errstr, size_t errstr_size)
{
    const char *raw = ev->payload_raw;
    size_t len = ev->payload_raw_len;
    if (len < 2 || raw[0] != '\\' || raw[1] != 'x' || (len - 2) % 2 != 0) {
        snprintf(errstr, errstr_size, "payload bytea is not in hex format (\\x...)");
        return RELAY_ROUTE_INVALID_JSON;
    }
    uint8_t *out = (uint8_t *)(uintptr_t)raw;
    size_t n = 0;
    for (size_t i = 2; i < len; i += 2) {
        int hi = outbox_hex_digit(raw[i]), lo = outbox_hex_digit(raw[i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(errstr, errstr_size, "payload bytea has a non-hex digit");
            return RELAY_ROUTE_INVALID_JSON;
        }
        out[n++] = (uint8_t)(hi << 4 | lo);
    }
    ev->payload_bytes = out;
    ev->payload_bytes_len = n;
    ev->payload_raw_len = n; /* the raw payload is now the bytes themselves */
    return RELAY_ROUTE_OK;
}

relay_route_err relay_route_row(const relay_route *route,
                                const relay_value values[RELAY_ROUTE_NCOLS], bool payload_is_bytea,
                                const relay_txn_meta *meta, relay_event *ev, char *errstr,
                                size_t errstr_size)
{
    struct route_fields f;
    json_t *headers = NULL;
    json_error_t jerr = {0}; /* jansson leaves it untouched when its first allocation fails */
    relay_route_err rc;
    relay_route_err bad = RELAY_ROUTE_OK;

    memcpy(f.v, values, sizeof(f.v));
    if (values[RELAY_COL_HEADERS].ptr) {
        headers =
            json_loadb(values[RELAY_COL_HEADERS].ptr, values[RELAY_COL_HEADERS].len, 0, &jerr);
        if (!headers && json_load_err(&jerr) == RELAY_ROUTE_ERR_NOMEM)
            return route_nomem(errstr, errstr_size);
        if (!headers || !json_is_object(headers)) {
            bad = RELAY_ROUTE_INVALID_JSON;
            json_decref(headers);
            headers = NULL;
        }
    }
    rc = route_fill(route, &f, headers, meta, ev, errstr, errstr_size);
    if (rc != RELAY_ROUTE_OK)
        goto done;
    if (bad != RELAY_ROUTE_OK) {
        snprintf(errstr, errstr_size, "headers column is not a JSON object");
        rc = bad;
        goto done;
    }
    if (payload_is_bytea)
        rc = route_bytea(ev, errstr, errstr_size);
    else if (!route->lazy_payload)
        rc = relay_event_parse_payload(ev, errstr, errstr_size);
done:
    json_decref(headers);
    return rc;
}

/* A logical message's envelope, read with the tokenizer the payload encoder uses
 * (lib/avro_text): it takes every JSON text jansson takes and numbers jansson cannot hold, so a
 * payload decides its outcome in the encoder, exactly as the same payload in a table row. */
struct envelope {
    outbox_avro_scratch scratch;
    const char *content;
    long payload, headers; /* token index of the member's value, or -1 */
    long payload_key;      /* token index of the payload's key */
};

/* The text of the value of the member whose key is token `key`: from after the key, the
 * whitespace and the ':' (JSON's whitespace: space, tab, LF, CR) to the value's end. */
static relay_value envelope_member_text(const struct envelope *e, long key)
{
    const outbox_avro_token *k = &e->scratch.toks[key], *v = &e->scratch.toks[key + 1];
    size_t s = k->end;
    while (s < v->end && e->content[s] != '\0' && strchr(" \t\n\r:", e->content[s]) != NULL)
        s++;
    return (relay_value){e->content + s, v->end - s};
}

/* The value of string member `tok` (or nothing for null); else `bad` names the field. */
static relay_value envelope_string(struct envelope *e, size_t tok, const char *key, char *bad,
                                   size_t bad_size)
{
    const outbox_avro_token *t = &e->scratch.toks[tok];
    if (t->type == OUTBOX_AVRO_TOK_STRING)
        return (relay_value){outbox_avro_tok_str(&e->scratch, e->content, t), t->len};
    if (t->type != OUTBOX_AVRO_TOK_NULL && !bad[0])
        snprintf(bad, bad_size, "envelope field \"%s\" must be a string", key);
    return (relay_value){NULL, 0};
}

/* Walk the envelope object's members into f and e (a repeated key: the last one counts, as
 * jansson keeps it). */
static void envelope_members(struct envelope *e, struct route_fields *f, char *bad, size_t bad_size)
{
    static const char *const fields[] = {"id", "aggregate_type", "aggregate_id", "event_type"};
    const outbox_avro_scratch *sc = &e->scratch;
    size_t key = 1;

    for (uint32_t m = 0; m < sc->toks[0].len; m++, key = sc->toks[key + 1].next) {
        const outbox_avro_token *k = &sc->toks[key];
        const char *name = outbox_avro_tok_str(sc, e->content, k);
        for (int c = 0; c <= RELAY_COL_EVENT_TYPE; c++)
            if (k->len == strlen(fields[c]) && memcmp(name, fields[c], k->len) == 0)
                f->v[c] = envelope_string(e, key + 1, fields[c], bad, bad_size);
        if (k->len == 7 && memcmp(name, "payload", 7) == 0) {
            e->payload = sc->toks[key + 1].type == OUTBOX_AVRO_TOK_NULL ? -1 : (long)key + 1;
            e->payload_key = (long)key;
        } else if (k->len == 7 && memcmp(name, "headers", 7) == 0)
            e->headers = (long)key + 1;
    }
}

/* The envelope's "headers" object as jansson reads the headers column of a table row. */
static relay_route_err envelope_headers(struct envelope *e, json_t **headers, char *bad,
                                        size_t bad_size)
{
    json_error_t jerr = {0}; /* jansson leaves it untouched when its first allocation fails */
    const outbox_avro_token *t;

    *headers = NULL;
    if (e->headers < 0 || e->scratch.toks[e->headers].type == OUTBOX_AVRO_TOK_NULL)
        return RELAY_ROUTE_OK;
    t = &e->scratch.toks[e->headers];
    if (t->type == OUTBOX_AVRO_TOK_OBJECT)
        *headers = json_loadb(e->content + t->start, t->end - t->start, 0, &jerr); /* '{'..'}' */
    if (*headers == NULL && t->type == OUTBOX_AVRO_TOK_OBJECT &&
        json_load_err(&jerr) == RELAY_ROUTE_ERR_NOMEM)
        return RELAY_ROUTE_ERR_NOMEM;
    if (*headers == NULL && !bad[0])
        snprintf(bad, bad_size, "envelope field \"headers\" must be an object");
    return RELAY_ROUTE_OK;
}

/* Content that is not a JSON object: a dead letter keeping the original bytes. */
static relay_route_err message_not_object(const relay_route *route, const char *content, size_t len,
                                          const relay_txn_meta *meta, relay_event *ev,
                                          const char *why, char *errstr, size_t errstr_size)
{
    struct route_fields f;
    memset(&f, 0, sizeof(f));
    f.v[RELAY_COL_PAYLOAD] = (relay_value){content, len};
    relay_route_err rc = route_fill(route, &f, NULL, meta, ev, errstr, errstr_size);
    if (!relay_route_err_is_event(rc) && rc != RELAY_ROUTE_OK)
        return rc;
    snprintf(errstr, errstr_size, "logical message content is %s", why);
    return RELAY_ROUTE_INVALID_JSON;
}

relay_route_err relay_route_message(const relay_route *route, const char *content, size_t len,
                                    const relay_txn_meta *meta, relay_event *ev, char *errstr,
                                    size_t errstr_size)
{
    struct envelope e = {.content = content, .payload = -1, .headers = -1};
    struct route_fields f;
    json_t *headers = NULL;
    char bad[128] = "", why[160];
    relay_route_err rc;

    memset(&f, 0, sizeof(f));
    outbox_avro_scratch_init(&e.scratch, 0);
    int trc = outbox_avro_text_tokenize(&e.scratch, content, len, bad, sizeof(bad));
    if (trc == OUTBOX_AVRO_ERR_NOMEM) {
        rc = route_nomem(errstr, errstr_size);
        goto done;
    }
    if (trc != OUTBOX_AVRO_OK || e.scratch.toks[0].type != OUTBOX_AVRO_TOK_OBJECT) {
        snprintf(why, sizeof(why), trc != OUTBOX_AVRO_OK ? "not valid JSON: %s" : "%s",
                 trc != OUTBOX_AVRO_OK ? bad : "not a JSON object");
        rc = message_not_object(route, content, len, meta, ev, why, errstr, errstr_size);
        goto done;
    }
    bad[0] = '\0';
    envelope_members(&e, &f, bad, sizeof(bad));
    if ((rc = envelope_headers(&e, &headers, bad, sizeof(bad))) != RELAY_ROUTE_OK) {
        rc = route_nomem(errstr, errstr_size);
        goto done;
    }
    /* The dead-letter copy of the payload is the whole original message. */
    if (e.payload >= 0)
        f.v[RELAY_COL_PAYLOAD] = (relay_value){content, len};
    rc = route_fill(route, &f, headers, meta, ev, errstr, errstr_size);
    if (rc != RELAY_ROUTE_OK)
        goto done;
    if (bad[0]) {
        snprintf(errstr, errstr_size, "%s", bad);
        rc = RELAY_ROUTE_INVALID_JSON;
        goto done;
    }
    /* What the encoder reads: the payload member's own text, inside the event's copy. */
    relay_value text = envelope_member_text(&e, e.payload_key);
    ev->payload_text = ev->payload_raw + (text.ptr - content);
    ev->payload_text_len = text.len;
    if (!route->lazy_payload)
        rc = relay_event_parse_payload(ev, errstr, errstr_size);
done:
    json_decref(headers);
    outbox_avro_scratch_free(&e.scratch);
    return rc;
}
