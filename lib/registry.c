#include "errstr.h"
#include "registry.h"
#include "version.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REGISTRY_CONTENT_TYPE "Content-Type: application/vnd.schemaregistry.v1+json"
#define REGISTRY_ACCEPT                                                                            \
    "Accept: application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; "        \
    "q=0.9, application/json; q=0.5"
/* An answer larger than this is not a registry's (a schema is kilobytes): refuse it. */
#define REGISTRY_MAX_ANSWER ((size_t)16 * 1024 * 1024)
/* How much of a body that is not the expected JSON goes into a message. */
#define REGISTRY_SNIPPET 160
/* Room for a message's detail before the caller's context is prefixed. */
#define REGISTRY_DETAIL 1024
#define REGISTRY_API_HINT                                                                          \
    "the registry URL must be the base of a Confluent-compatible API (Apicurio Registry: "         \
    "http://HOST:PORT/apis/ccompat/v7; Confluent Schema Registry: http://HOST:PORT)"

/* One cache entry. Register cache: key = subject '\0' schema text, value id. Lookup cache:
 * key = the 4 bytes of the id, value schema (the registry's text). */
typedef struct registry_entry {
    struct registry_entry *next;
    uint64_t hash;
    char *key;
    size_t key_len;
    int32_t id;
    char *schema;
} registry_entry;

typedef struct registry_cache {
    registry_entry **buckets;
    size_t nbuckets; /* a power of two; 0 before the first insert */
    size_t count;
} registry_cache;

struct outbox_registry {
    CURL *curl;
    struct curl_slist *get_headers;
    struct curl_slist *post_headers;
    char *base;      /* as given, trailing '/' dropped: what requests use */
    char *display;   /* base without "user:password@": what messages show */
    char *userpwd;   /* basic auth "user:password", or NULL */
    char *ca_file;   /* registry.ca-file as given, or NULL (the system's CAs): for messages */
    char *cert_file; /* registry.cert-file, or NULL: for messages */
    long timeout_ms;
    char curl_errbuf[CURL_ERROR_SIZE];
    char *answer; /* the last answer's body, NUL-terminated */
    size_t answer_len;
    size_t answer_cap;
    bool answer_too_big;
    bool answer_nomem;
    registry_cache registered;
    registry_cache schemas;
    outbox_registry_stats stats;
};

/* Up to `max` bytes of text for a one-line message: control characters become ' ', "..." marks
 * a cut. */
static void sanitize(const char *text, size_t len, size_t max, char *out, size_t out_size)
{
    size_t n = len < max ? len : max;
    size_t i;
    size_t o = 0;

    if (out_size == 0)
        return;
    for (i = 0; i < n && o + 1 < out_size; i++) {
        unsigned char c = (unsigned char)text[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[o] = '\0';
    if (n < len && o + 4 < out_size)
        memcpy(out + o, "...", 4);
}

/* ------------------------------------------------------------------ classification */

bool outbox_registry_err_is_retriable(outbox_registry_err err)
{
    switch (err) {
    case OUTBOX_REGISTRY_ERR_CONNECT:
    case OUTBOX_REGISTRY_ERR_TIMEOUT:
    case OUTBOX_REGISTRY_ERR_TRANSPORT:
    case OUTBOX_REGISTRY_ERR_UNAVAILABLE:
        return true;
    default:
        return false;
    }
}

const char *outbox_registry_err_name(outbox_registry_err err)
{
    switch (err) {
    case OUTBOX_REGISTRY_OK:
        return "OK";
    case OUTBOX_REGISTRY_ERR_CONNECT:
        return "CONNECT";
    case OUTBOX_REGISTRY_ERR_TIMEOUT:
        return "TIMEOUT";
    case OUTBOX_REGISTRY_ERR_TRANSPORT:
        return "TRANSPORT";
    case OUTBOX_REGISTRY_ERR_UNAVAILABLE:
        return "UNAVAILABLE";
    case OUTBOX_REGISTRY_ERR_INCOMPATIBLE:
        return "INCOMPATIBLE";
    case OUTBOX_REGISTRY_ERR_INVALID_SCHEMA:
        return "INVALID_SCHEMA";
    case OUTBOX_REGISTRY_ERR_NOT_FOUND:
        return "NOT_FOUND";
    case OUTBOX_REGISTRY_ERR_AUTH:
        return "AUTH";
    case OUTBOX_REGISTRY_ERR_HTTP:
        return "HTTP";
    case OUTBOX_REGISTRY_ERR_PROTOCOL:
        return "PROTOCOL";
    case OUTBOX_REGISTRY_ERR_INVALID:
        return "INVALID";
    case OUTBOX_REGISTRY_ERR_NOMEM:
        return "NOMEM";
    }
    return "?";
}

const char *outbox_registry_err_fix(outbox_registry_err err)
{
    switch (err) {
    case OUTBOX_REGISTRY_ERR_NOT_FOUND:
    case OUTBOX_REGISTRY_ERR_HTTP:
    case OUTBOX_REGISTRY_ERR_PROTOCOL:
        return "check registry.url: " REGISTRY_API_HINT;
    case OUTBOX_REGISTRY_ERR_AUTH:
        return "check registry.basic-auth (user:password) and that user's rights in the registry";
    case OUTBOX_REGISTRY_ERR_INVALID:
        return "check registry.url and the registry's TLS settings (registry.ca-file, "
               "registry.cert-file, registry.key-file, registry.key-password)";
    default:
        return "";
    }
}

outbox_registry_err outbox_registry_err_from_http_status(long status)
{
    if (status >= 200 && status <= 299)
        return OUTBOX_REGISTRY_OK;
    if ((status >= 500 && status <= 599) || status == 429 || status == 408)
        return OUTBOX_REGISTRY_ERR_UNAVAILABLE;
    switch (status) {
    case 409:
        return OUTBOX_REGISTRY_ERR_INCOMPATIBLE;
    case 422:
        return OUTBOX_REGISTRY_ERR_INVALID_SCHEMA;
    case 404:
        return OUTBOX_REGISTRY_ERR_NOT_FOUND;
    case 401:
    case 403:
        return OUTBOX_REGISTRY_ERR_AUTH;
    default:
        return OUTBOX_REGISTRY_ERR_HTTP;
    }
}

outbox_registry_err outbox_registry_err_from_curl(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        return OUTBOX_REGISTRY_OK;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
#if LIBCURL_VERSION_NUM >= 0x074d00
    case CURLE_SSL_CLIENTCERT:
#endif
        return OUTBOX_REGISTRY_ERR_INVALID;
    case CURLE_OUT_OF_MEMORY:
        return OUTBOX_REGISTRY_ERR_NOMEM;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return OUTBOX_REGISTRY_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return OUTBOX_REGISTRY_ERR_TIMEOUT;
    default:
        return OUTBOX_REGISTRY_ERR_TRANSPORT;
    }
}

/* ------------------------------------------------------------------ subject naming */

outbox_registry_err outbox_registry_strategy_parse(const char *name,
                                                   outbox_registry_strategy *strategy, char *errstr,
                                                   size_t errstr_size)
{
    if (!strategy) {
        outbox_errstr_set(errstr, errstr_size,
                          "registry subject strategy: no place for the result");
        return OUTBOX_REGISTRY_ERR_INVALID;
    }
    if (name && strcmp(name, "topic-record") == 0) {
        *strategy = OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD;
        return OUTBOX_REGISTRY_OK;
    }
    if (name && strcmp(name, "topic") == 0) {
        *strategy = OUTBOX_REGISTRY_STRATEGY_TOPIC;
        return OUTBOX_REGISTRY_OK;
    }
    if (name && strcmp(name, "record") == 0) {
        *strategy = OUTBOX_REGISTRY_STRATEGY_RECORD;
        return OUTBOX_REGISTRY_OK;
    }
    outbox_errstr_set(
        errstr, errstr_size,
        "registry subject strategy \"%s\" is not one of: topic-record (<topic>-<record full "
        "name>, the default), topic (<topic>-value), record (<record full name>)",
        name ? name : "(null)");
    return OUTBOX_REGISTRY_ERR_INVALID;
}

const char *outbox_registry_strategy_name(outbox_registry_strategy strategy)
{
    switch (strategy) {
    case OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD:
        return "topic-record";
    case OUTBOX_REGISTRY_STRATEGY_TOPIC:
        return "topic";
    case OUTBOX_REGISTRY_STRATEGY_RECORD:
        return "record";
    }
    return "?";
}

static bool name_start_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char_ok(char c)
{
    return name_start_ok(c) || (c >= '0' && c <= '9');
}

/* An Avro full name: dot-separated names, each [A-Za-z_][A-Za-z0-9_]*. */
static bool avro_full_name_ok(const char *s)
{
    bool at_start = true;

    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s == '.') {
            if (at_start)
                return false;
            at_start = true;
        } else if (at_start ? name_start_ok(*s) : name_char_ok(*s)) {
            at_start = false;
        } else {
            return false;
        }
    }
    return !at_start;
}

static bool topic_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

outbox_registry_err outbox_registry_subject_build(outbox_registry_strategy strategy,
                                                  const char *topic, const char *record_name,
                                                  char *subject, size_t subject_size, char *errstr,
                                                  size_t errstr_size)
{
    bool need_topic = strategy != OUTBOX_REGISTRY_STRATEGY_RECORD;
    bool need_record = strategy != OUTBOX_REGISTRY_STRATEGY_TOPIC;
    int n;

    if (strategy != OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD &&
        strategy != OUTBOX_REGISTRY_STRATEGY_TOPIC && strategy != OUTBOX_REGISTRY_STRATEGY_RECORD) {
        outbox_errstr_set(errstr, errstr_size, "registry subject: unknown strategy %d",
                          (int)strategy);
        return OUTBOX_REGISTRY_ERR_INVALID;
    }
    if (!subject || subject_size == 0) {
        outbox_errstr_set(errstr, errstr_size, "registry subject: no buffer for the subject");
        return OUTBOX_REGISTRY_ERR_INVALID;
    }
    subject[0] = '\0';
    if (need_topic && !topic_ok(topic)) {
        outbox_errstr_set(errstr, errstr_size, "registry subject (%s strategy): topic is %s",
                          outbox_registry_strategy_name(strategy),
                          !topic || !*topic ? "empty" : "not printable text");
        return OUTBOX_REGISTRY_ERR_INVALID;
    }
    if (need_record && !avro_full_name_ok(record_name)) {
        outbox_errstr_set(
            errstr, errstr_size,
            "registry subject (%s strategy): record name \"%s\" is not an Avro full name "
            "(namespace.Name, each part [A-Za-z_][A-Za-z0-9_]*)",
            outbox_registry_strategy_name(strategy), record_name ? record_name : "(null)");
        return OUTBOX_REGISTRY_ERR_INVALID;
    }
    switch (strategy) {
    case OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD:
        n = snprintf(subject, subject_size, "%s-%s", topic, record_name);
        break;
    case OUTBOX_REGISTRY_STRATEGY_TOPIC:
        n = snprintf(subject, subject_size, "%s-value", topic);
        break;
    default:
        n = snprintf(subject, subject_size, "%s", record_name);
        break;
    }
    if (n < 0 || (size_t)n >= subject_size) {
        subject[0] = '\0';
        outbox_errstr_set(errstr, errstr_size,
                          "registry subject (%s strategy): %d bytes, more than %zu",
                          outbox_registry_strategy_name(strategy), n, subject_size - 1);
        return OUTBOX_REGISTRY_ERR_INVALID;
    }
    return OUTBOX_REGISTRY_OK;
}

/* ------------------------------------------------------------------ URLs */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char *outbox_registry_url_escape(const char *segment)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;
    char *out;
    char *o;
    size_t len = 0;

    for (p = (const unsigned char *)segment; *p; p++)
        len += unreserved(*p) ? 1 : 3;
    out = malloc(len + 1);
    if (!out)
        return NULL;
    o = out;
    for (p = (const unsigned char *)segment; *p; p++) {
        if (unreserved(*p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

/* base (trailing '/' dropped) followed by path; malloc'd, NULL on ENOMEM. */
static char *url_join(const char *base, const char *path)
{
    size_t blen = strlen(base);
    size_t plen = strlen(path);
    char *url;

    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    url = malloc(blen + plen + 1);
    if (!url)
        return NULL;
    memcpy(url, base, blen);
    memcpy(url + blen, path, plen + 1);
    return url;
}

/* "/subjects/{escaped}/versions"; malloc'd, NULL on ENOMEM. */
static char *path_subject_versions(const char *subject)
{
    char *escaped = outbox_registry_url_escape(subject);
    char *path = NULL;
    size_t size;

    if (!escaped)
        return NULL;
    size = strlen("/subjects/") + strlen(escaped) + strlen("/versions") + 1;
    path = malloc(size);
    if (path)
        snprintf(path, size, "/subjects/%s/versions", escaped);
    free(escaped);
    return path;
}

char *outbox_registry_url_subject_versions(const char *base, const char *subject)
{
    char *path = path_subject_versions(subject);
    char *url;

    if (!path)
        return NULL;
    url = url_join(base, path);
    free(path);
    return url;
}

char *outbox_registry_url_schema_id(const char *base, int32_t id)
{
    char path[48];

    snprintf(path, sizeof(path), "/schemas/ids/%" PRId32, id);
    return url_join(base, path);
}

char *outbox_registry_url_config(const char *base)
{
    return url_join(base, "/config");
}

/* ------------------------------------------------------------------ answers */

/* Parses body as JSON; on failure (or when not an object) returns NULL with errstr. */
static json_t *load_object(const char *body, size_t len, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *root;
    char snip[REGISTRY_SNIPPET + 4];

    if (!body) {
        body = "";
        len = 0;
    }
    root = json_loadb(body, len, 0, &jerr);
    sanitize(body, len, REGISTRY_SNIPPET, snip, sizeof(snip));
    if (!root) {
        /* jansson quotes the offending bytes in its message: they may be control characters */
        char why[sizeof(jerr.text)];
        sanitize(jerr.text, strlen(jerr.text), sizeof(why) - 4, why, sizeof(why));
        outbox_errstr_set(errstr, errstr_size, "answer is not JSON (%s): \"%s\"", why, snip);
        return NULL;
    }
    if (!json_is_object(root)) {
        outbox_errstr_set(errstr, errstr_size, "answer is not a JSON object: \"%s\"", snip);
        json_decref(root);
        return NULL;
    }
    return root;
}

outbox_registry_err outbox_registry_parse_id(const char *body, size_t len, int32_t *id,
                                             char *errstr, size_t errstr_size)
{
    outbox_registry_err rc = OUTBOX_REGISTRY_ERR_PROTOCOL;
    json_t *root;
    json_t *jid;
    json_int_t value;

    root = load_object(body, len, errstr, errstr_size);
    if (!root)
        goto done;
    jid = json_object_get(root, "id");
    if (!json_is_integer(jid)) {
        outbox_errstr_set(errstr, errstr_size, "answer has no integer \"id\"");
        goto done;
    }
    value = json_integer_value(jid);
    if (value < 0 || value > INT32_MAX) {
        outbox_errstr_set(errstr, errstr_size,
                          "answer's \"id\" %" JSON_INTEGER_FORMAT " is not in 0..%" PRId32, value,
                          INT32_MAX);
        goto done;
    }
    if (id)
        *id = (int32_t)value;
    rc = OUTBOX_REGISTRY_OK;
done:
    json_decref(root);
    return rc;
}

outbox_registry_err outbox_registry_parse_schema(const char *body, size_t len, char **schema,
                                                 char *errstr, size_t errstr_size)
{
    outbox_registry_err rc = OUTBOX_REGISTRY_ERR_PROTOCOL;
    json_t *root;
    json_t *jschema;
    json_t *jtype;
    const char *text;

    if (schema)
        *schema = NULL;
    root = load_object(body, len, errstr, errstr_size);
    if (!root)
        goto done;
    jtype = json_object_get(root, "schemaType");
    if (jtype && !json_is_string(jtype)) {
        outbox_errstr_set(errstr, errstr_size, "answer's \"schemaType\" is not a string");
        goto done;
    }
    if (jtype && strcmp(json_string_value(jtype), "AVRO") != 0) {
        char type[REGISTRY_SNIPPET + 4];
        sanitize(json_string_value(jtype), json_string_length(jtype), 40, type, sizeof(type));
        outbox_errstr_set(errstr, errstr_size, "the schema is of type %s, not AVRO", type);
        goto done;
    }
    jschema = json_object_get(root, "schema");
    if (!json_is_string(jschema)) {
        outbox_errstr_set(errstr, errstr_size, "answer has no string \"schema\"");
        goto done;
    }
    text = json_string_value(jschema);
    if (strlen(text) != json_string_length(jschema) || text[0] == '\0') {
        outbox_errstr_set(errstr, errstr_size, "answer's \"schema\" is empty or contains NUL");
        goto done;
    }
    if (schema) {
        *schema = strdup(text);
        if (!*schema) {
            outbox_errstr_set(errstr, errstr_size, "out of memory");
            rc = OUTBOX_REGISTRY_ERR_NOMEM;
            goto done;
        }
    }
    rc = OUTBOX_REGISTRY_OK;
done:
    json_decref(root);
    return rc;
}

outbox_registry_err outbox_registry_parse_config(const char *body, size_t len, char *level,
                                                 size_t level_size, char *errstr,
                                                 size_t errstr_size)
{
    outbox_registry_err rc = OUTBOX_REGISTRY_ERR_PROTOCOL;
    json_t *root;
    json_t *jlevel;

    root = load_object(body, len, errstr, errstr_size);
    if (!root)
        goto done;
    /* GET /config answers "compatibilityLevel"; PUT /config echoes "compatibility". */
    jlevel = json_object_get(root, "compatibilityLevel");
    if (!jlevel)
        jlevel = json_object_get(root, "compatibility");
    if (!json_is_string(jlevel) || json_string_length(jlevel) == 0) {
        outbox_errstr_set(errstr, errstr_size, "answer has no string \"compatibilityLevel\"");
        goto done;
    }
    if (level && level_size > 0)
        sanitize(json_string_value(jlevel), json_string_length(jlevel), level_size - 1, level,
                 level_size);
    rc = OUTBOX_REGISTRY_OK;
done:
    json_decref(root);
    return rc;
}

static const char *http_reason(long status)
{
    switch (status) {
    case 400:
        return " Bad Request";
    case 401:
        return " Unauthorized";
    case 403:
        return " Forbidden";
    case 404:
        return " Not Found";
    case 405:
        return " Method Not Allowed";
    case 408:
        return " Request Timeout";
    case 409:
        return " Conflict";
    case 415:
        return " Unsupported Media Type";
    case 422:
        return " Unprocessable Entity";
    case 429:
        return " Too Many Requests";
    case 500:
        return " Internal Server Error";
    case 502:
        return " Bad Gateway";
    case 503:
        return " Service Unavailable";
    case 504:
        return " Gateway Timeout";
    default:
        return "";
    }
}

outbox_registry_err outbox_registry_parse_error(long status, const char *body, size_t len,
                                                char *errstr, size_t errstr_size)
{
    outbox_registry_err rc = outbox_registry_err_from_http_status(status);
    const char *reason = http_reason(status);
    json_t *root = NULL;
    json_t *jmsg = NULL;
    json_t *jcode = NULL;
    char text[REGISTRY_DETAIL];

    if (!body)
        len = 0;
    if (len > 0)
        root = json_loadb(body, len, 0, NULL);
    if (json_is_object(root)) {
        jmsg = json_object_get(root, "message");
        if (!json_is_string(jmsg))
            jmsg = json_object_get(root, "detail");
        if (!json_is_string(jmsg))
            jmsg = json_object_get(root, "title");
        if (!json_is_string(jmsg))
            jmsg = NULL;
        jcode = json_object_get(root, "error_code");
        if (!json_is_integer(jcode))
            jcode = NULL;
    }
    if (jmsg)
        sanitize(json_string_value(jmsg), json_string_length(jmsg), sizeof(text) - 4, text,
                 sizeof(text));
    if (jmsg && jcode)
        outbox_errstr_set(errstr, errstr_size,
                          "HTTP %ld%s: %s (registry error_code %" JSON_INTEGER_FORMAT ")", status,
                          reason, text, json_integer_value(jcode));
    else if (jmsg)
        outbox_errstr_set(errstr, errstr_size, "HTTP %ld%s: %s", status, reason, text);
    else if (jcode)
        outbox_errstr_set(errstr, errstr_size,
                          "HTTP %ld%s (registry error_code %" JSON_INTEGER_FORMAT ")", status,
                          reason, json_integer_value(jcode));
    else if (len > 0) {
        sanitize(body, len, REGISTRY_SNIPPET, text, sizeof(text));
        outbox_errstr_set(errstr, errstr_size, "HTTP %ld%s: \"%s\"", status, reason, text);
    } else
        outbox_errstr_set(errstr, errstr_size, "HTTP %ld%s (empty body)", status, reason);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ cache */

static uint64_t fnv1a(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static registry_entry *cache_find(const registry_cache *cache, const char *key, size_t key_len,
                                  uint64_t hash)
{
    registry_entry *entry;

    if (cache->nbuckets == 0)
        return NULL;
    for (entry = cache->buckets[hash & (cache->nbuckets - 1)]; entry; entry = entry->next) {
        if (entry->hash == hash && entry->key_len == key_len &&
            memcmp(entry->key, key, key_len) == 0)
            return entry;
    }
    return NULL;
}

/* Grows the table to keep at most one entry per bucket on average. -1 on ENOMEM. */
static int cache_grow(registry_cache *cache)
{
    size_t nbuckets = cache->nbuckets ? cache->nbuckets * 2 : 16;
    registry_entry **buckets;
    size_t i;

    buckets = calloc(nbuckets, sizeof(*buckets));
    if (!buckets)
        return -1;
    for (i = 0; i < cache->nbuckets; i++) {
        registry_entry *entry = cache->buckets[i];
        while (entry) {
            registry_entry *next = entry->next;
            size_t b = entry->hash & (nbuckets - 1);
            entry->next = buckets[b];
            buckets[b] = entry;
            entry = next;
        }
    }
    free(cache->buckets);
    cache->buckets = buckets;
    cache->nbuckets = nbuckets;
    return 0;
}

/* Adds an entry with a copy of key; takes `schema` (may be NULL) only on success. Returns the
 * entry, or NULL on ENOMEM. */
static registry_entry *cache_add(registry_cache *cache, const char *key, size_t key_len,
                                 uint64_t hash, int32_t id, char *schema)
{
    registry_entry *entry = NULL;
    size_t b;

    if (cache->count >= cache->nbuckets && cache_grow(cache) != 0)
        return NULL;
    entry = calloc(1, sizeof(*entry));
    if (!entry)
        return NULL;
    entry->key = malloc(key_len);
    if (!entry->key) {
        free(entry);
        return NULL;
    }
    memcpy(entry->key, key, key_len);
    entry->key_len = key_len;
    entry->hash = hash;
    entry->id = id;
    entry->schema = schema;
    b = hash & (cache->nbuckets - 1);
    entry->next = cache->buckets[b];
    cache->buckets[b] = entry;
    cache->count++;
    return entry;
}

static void cache_clear(registry_cache *cache)
{
    size_t i;

    for (i = 0; i < cache->nbuckets; i++) {
        registry_entry *entry = cache->buckets[i];
        while (entry) {
            registry_entry *next = entry->next;
            free(entry->schema);
            free(entry->key);
            free(entry);
            entry = next;
        }
    }
    free(cache->buckets);
    memset(cache, 0, sizeof(*cache));
}

/* ------------------------------------------------------------------ the client */

static size_t on_answer(char *data, size_t size, size_t nmemb, void *userdata)
{
    outbox_registry *reg = userdata;
    size_t n = size * nmemb;

    if (n > REGISTRY_MAX_ANSWER - reg->answer_len) {
        reg->answer_too_big = true;
        return 0;
    }
    if (reg->answer_len + n + 1 > reg->answer_cap) {
        size_t cap = reg->answer_cap ? reg->answer_cap : 4096;
        char *grown;
        while (cap < reg->answer_len + n + 1)
            cap *= 2;
        grown = realloc(reg->answer, cap);
        if (!grown) {
            reg->answer_nomem = true;
            return 0;
        }
        reg->answer = grown;
        reg->answer_cap = cap;
    }
    memcpy(reg->answer + reg->answer_len, data, n);
    reg->answer_len += n;
    reg->answer[reg->answer_len] = '\0';
    return n;
}

/* base_url without "user:password@" in its authority; malloc'd, NULL on ENOMEM. */
static char *url_without_userinfo(const char *url)
{
    const char *auth = strstr(url, "://");
    const char *end;
    const char *at = NULL;
    const char *p;
    size_t scheme_len;
    char *out;

    if (!auth)
        return strdup(url);
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (p = auth; p < end; p++) {
        if (*p == '@')
            at = p;
    }
    if (!at)
        return strdup(url);
    scheme_len = (size_t)(auth - url);
    out = malloc(scheme_len + strlen(at + 1) + 1);
    if (!out)
        return NULL;
    memcpy(out, url, scheme_len);
    strcpy(out + scheme_len, at + 1);
    return out;
}

/* One TLS file setting: readable now, or errstr naming the setting and the file. */
static int tls_file_ok(const char *setting, const char *path, char *errstr, size_t errstr_size)
{
    if (!path || !*path)
        return 0;
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
        return 0;
    }
    outbox_errstr_set(errstr, errstr_size, "%s \"%s\": cannot read it: %s", setting, path,
                      strerror(errno));
    return -1;
}

static bool tls_set(const char *value)
{
    return value && *value;
}

/* The TLS settings checked before any handle exists: -1 with errstr when one is unusable. */
static int tls_check(const outbox_registry_tls *tls, char *errstr, size_t errstr_size)
{
    if (!tls)
        return 0;
    if (tls_set(tls->key_file) && !tls_set(tls->cert_file)) {
        outbox_errstr_set(errstr, errstr_size,
                          "registry.key-file is set without registry.cert-file: set the client "
                          "certificate too (or neither)");
        return -1;
    }
    if (tls_file_ok("registry.ca-file", tls->ca_file, errstr, errstr_size) ||
        tls_file_ok("registry.cert-file", tls->cert_file, errstr, errstr_size) ||
        tls_file_ok("registry.key-file", tls->key_file, errstr, errstr_size))
        return -1;
    return 0;
}

/* The TLS options on the handle (libcurl copies the strings). */
static CURLcode tls_apply(outbox_registry *reg, const outbox_registry_tls *tls)
{
    CURLcode crc = curl_easy_setopt(reg->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!tls)
        return crc;
    if (!crc && tls_set(tls->ca_file))
        crc = curl_easy_setopt(reg->curl, CURLOPT_CAINFO, tls->ca_file);
    if (!crc && tls_set(tls->cert_file))
        crc = curl_easy_setopt(reg->curl, CURLOPT_SSLCERT, tls->cert_file);
    if (!crc && tls_set(tls->key_file))
        crc = curl_easy_setopt(reg->curl, CURLOPT_SSLKEY, tls->key_file);
    if (!crc && tls_set(tls->key_password))
        crc = curl_easy_setopt(reg->curl, CURLOPT_KEYPASSWD, tls->key_password);
    return crc;
}

/* Copies of the TLS file names for messages; -1 on ENOMEM. */
static int tls_remember(outbox_registry *reg, const outbox_registry_tls *tls)
{
    if (tls && tls_set(tls->ca_file) && !(reg->ca_file = strdup(tls->ca_file)))
        return -1;
    if (tls && tls_set(tls->cert_file) && !(reg->cert_file = strdup(tls->cert_file)))
        return -1;
    return 0;
}

outbox_registry *outbox_registry_new(const char *base_url, long timeout_ms, const char *basic_auth,
                                     char *errstr, size_t errstr_size)
{
    return outbox_registry_new_tls(base_url, timeout_ms, basic_auth, NULL, errstr, errstr_size);
}

outbox_registry *outbox_registry_new_tls(const char *base_url, long timeout_ms,
                                         const char *basic_auth, const outbox_registry_tls *tls,
                                         char *errstr, size_t errstr_size)
{
    outbox_registry *reg = NULL;
    const char *host;
    size_t len;
    CURLcode crc = CURLE_OK;

    if (!base_url ||
        (strncasecmp(base_url, "http://", 7) != 0 && strncasecmp(base_url, "https://", 8) != 0)) {
        outbox_errstr_set(errstr, errstr_size,
                          "registry URL \"%s\" does not start with http:// or https:// (e.g. "
                          "http://127.0.0.1:8081, or for Apicurio Registry "
                          "http://127.0.0.1:8080/apis/ccompat/v7)",
                          base_url ? base_url : "(null)");
        return NULL;
    }
    host = strstr(base_url, "://") + 3;
    if (*host == '\0' || *host == '/' || *host == '?' || *host == '#') {
        outbox_errstr_set(errstr, errstr_size, "registry URL \"%s\" has no host", base_url);
        return NULL;
    }
    if (timeout_ms <= 0) {
        outbox_errstr_set(errstr, errstr_size, "registry timeout %ld ms: must be > 0", timeout_ms);
        return NULL;
    }
    if (basic_auth && *basic_auth && !strchr(basic_auth, ':')) {
        outbox_errstr_set(errstr, errstr_size, "registry basic auth must be \"user:password\"");
        return NULL;
    }
    if (tls_check(tls, errstr, errstr_size))
        return NULL;

    reg = calloc(1, sizeof(*reg));
    if (!reg)
        goto nomem;
    reg->timeout_ms = timeout_ms;
    len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    reg->base = strndup(base_url, len);
    if (!reg->base)
        goto nomem;
    reg->display = url_without_userinfo(reg->base);
    if (!reg->display)
        goto nomem;
    if (basic_auth && *basic_auth) {
        reg->userpwd = strdup(basic_auth);
        if (!reg->userpwd)
            goto nomem;
    }
    if (tls_remember(reg, tls))
        goto nomem;
    reg->get_headers = curl_slist_append(NULL, REGISTRY_ACCEPT);
    if (!reg->get_headers)
        goto nomem;
    reg->post_headers = curl_slist_append(NULL, REGISTRY_ACCEPT);
    if (!reg->post_headers)
        goto nomem;
    if (!curl_slist_append(reg->post_headers, REGISTRY_CONTENT_TYPE) ||
        !curl_slist_append(reg->post_headers, "Expect:"))
        goto nomem;

    reg->curl = curl_easy_init();
    if (!reg->curl) {
        outbox_errstr_set(errstr, errstr_size, "registry: curl_easy_init failed");
        goto fail;
    }
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_NOSIGNAL, 1L);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_WRITEFUNCTION, on_answer);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_WRITEDATA, reg);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_ERRORBUFFER, reg->curl_errbuf);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    if (!crc)
        crc = curl_easy_setopt(reg->curl, CURLOPT_PROTOCOLS,
                               (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (!crc) {
        char agent[64];
        snprintf(agent, sizeof(agent), "outbox-toolkit/%s", outbox_version());
        crc = curl_easy_setopt(reg->curl, CURLOPT_USERAGENT, agent); /* libcurl copies it */
    }
    if (!crc && reg->userpwd)
        crc = curl_easy_setopt(reg->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    if (!crc && reg->userpwd)
        crc = curl_easy_setopt(reg->curl, CURLOPT_USERPWD, reg->userpwd);
    if (!crc)
        crc = tls_apply(reg, tls);
    if (crc) {
        outbox_errstr_set(errstr, errstr_size, "registry: libcurl setup failed: %s",
                          curl_easy_strerror(crc));
        goto fail;
    }
    return reg;

nomem:
    outbox_errstr_set(errstr, errstr_size, "registry: out of memory");
fail:
    outbox_registry_free(reg);
    return NULL;
}

void outbox_registry_free(outbox_registry *reg)
{
    if (!reg)
        return;
    cache_clear(&reg->schemas);
    cache_clear(&reg->registered);
    free(reg->answer);
    if (reg->curl)
        curl_easy_cleanup(reg->curl);
    curl_slist_free_all(reg->post_headers);
    curl_slist_free_all(reg->get_headers);
    if (reg->userpwd) {
        explicit_bzero(reg->userpwd, strlen(reg->userpwd));
        free(reg->userpwd);
    }
    free(reg->cert_file);
    free(reg->ca_file);
    free(reg->display);
    free(reg->base);
    free(reg);
}

const char *outbox_registry_base_url(const outbox_registry *reg)
{
    return reg ? reg->display : NULL;
}

void outbox_registry_stats_get(const outbox_registry *reg, outbox_registry_stats *stats)
{
    if (!stats)
        return;
    if (!reg) {
        memset(stats, 0, sizeof(*stats));
        return;
    }
    *stats = reg->stats;
}

/* Counts a finished call's outcome; returns rc. */
static outbox_registry_err count(outbox_registry *reg, outbox_registry_err rc)
{
    if (!reg || rc == OUTBOX_REGISTRY_OK)
        return rc;
    if (outbox_registry_err_is_retriable(rc))
        reg->stats.errors_retriable++;
    else
        reg->stats.errors_fatal++;
    return rc;
}

/* A TLS failure (by its libcurl code), naming the files in use and the setting to fix; false
 * for any other failure. */
static bool describe_tls(const outbox_registry *reg, CURLcode crc, const char *what, char *detail,
                         size_t detail_size)
{
    const char *ca = reg->ca_file ? reg->ca_file : "(none: the system's CAs)";
    switch (crc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
        outbox_errstr_set(detail, detail_size,
                          "TLS: the registry's certificate does not verify with CA file %s "
                          "(registry.ca-file): %s; set registry.ca-file to the CA that signed it, "
                          "and use a host name in registry.url that the certificate names",
                          ca, what);
        return true;
    case CURLE_SSL_CACERT_BADFILE:
        outbox_errstr_set(detail, detail_size,
                          "TLS: CA file %s (registry.ca-file) cannot be used: %s; it must hold "
                          "PEM certificates",
                          ca, what);
        return true;
    case CURLE_SSL_CERTPROBLEM:
        outbox_errstr_set(
            detail, detail_size,
            "TLS: client certificate %s or its key cannot be used (registry.cert-file, "
            "registry.key-file, registry.key-password): %s",
            reg->cert_file ? reg->cert_file : "(none)", what);
        return true;
    case CURLE_SSL_CONNECT_ERROR:
#if LIBCURL_VERSION_NUM >= 0x074d00
    case CURLE_SSL_CLIENTCERT:
#endif
        outbox_errstr_set(detail, detail_size,
                          "TLS handshake with the registry failed (CA file %s, client certificate "
                          "%s): %s; does the registry speak https on this port, and does it want "
                          "a client certificate (registry.cert-file, registry.key-file)?",
                          ca, reg->cert_file ? reg->cert_file : "none", what);
        return true;
    default:
        return false;
    }
}

/* What went wrong below HTTP, and what to do about it. */
static void describe_curl(const outbox_registry *reg, CURLcode crc, outbox_registry_err rc,
                          char *detail, size_t detail_size)
{
    const char *what = reg->curl_errbuf[0] ? reg->curl_errbuf : curl_easy_strerror(crc);

    switch (rc) {
    case OUTBOX_REGISTRY_ERR_TIMEOUT:
        outbox_errstr_set(
            detail, detail_size,
            "no answer within %ld ms (%s): the registry is overloaded or unreachable "
            "(firewall?); check host and port in the registry URL, or raise the timeout",
            reg->timeout_ms, what);
        break;
    case OUTBOX_REGISTRY_ERR_CONNECT:
        if (crc == CURLE_COULDNT_RESOLVE_HOST || crc == CURLE_COULDNT_RESOLVE_PROXY)
            outbox_errstr_set(detail, detail_size, "%s: check the host name in the registry URL",
                              what);
        else
            outbox_errstr_set(
                detail, detail_size,
                "%s: is the registry running, and are host and port in the registry URL "
                "right?",
                what);
        break;
    default:
        if (!describe_tls(reg, crc, what, detail, detail_size))
            outbox_errstr_set(detail, detail_size, "%s", what);
        break;
    }
}

/* One request: GET path, or POST body to path. On OK an answer came (any status): *status and
 * reg->answer[reg->answer_len] hold it. Otherwise no answer: the error, explained in detail. */
static outbox_registry_err http(outbox_registry *reg, const char *path, const char *body,
                                long *status, char *detail, size_t detail_size)
{
    outbox_registry_err rc;
    CURLcode crc;
    char *url;

    *status = 0;
    url = url_join(reg->base, path);
    if (!url) {
        outbox_errstr_set(detail, detail_size, "out of memory");
        return OUTBOX_REGISTRY_ERR_NOMEM;
    }
    reg->answer_len = 0;
    if (reg->answer)
        reg->answer[0] = '\0';
    reg->answer_too_big = false;
    reg->answer_nomem = false;
    reg->curl_errbuf[0] = '\0';

    crc = curl_easy_setopt(reg->curl, CURLOPT_URL, url);
    if (!crc && body) {
        crc = curl_easy_setopt(reg->curl, CURLOPT_POSTFIELDS, body);
        if (!crc)
            crc =
                curl_easy_setopt(reg->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        if (!crc)
            crc = curl_easy_setopt(reg->curl, CURLOPT_HTTPHEADER, reg->post_headers);
    } else if (!crc) {
        crc = curl_easy_setopt(reg->curl, CURLOPT_HTTPGET, 1L);
        if (!crc)
            crc = curl_easy_setopt(reg->curl, CURLOPT_HTTPHEADER, reg->get_headers);
    }
    if (!crc) {
        long connects = 0;
        reg->stats.requests++;
        crc = curl_easy_perform(reg->curl);
        if (curl_easy_getinfo(reg->curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
            connects > 0)
            reg->stats.connects += (uint64_t)connects;
    }
    /* POSTFIELDS points at the caller's body: forget it before the body goes away. */
    if (body) {
        curl_easy_setopt(reg->curl, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(reg->curl, CURLOPT_HTTPGET, 1L);
    }
    free(url);

    if (crc == CURLE_WRITE_ERROR && reg->answer_too_big) {
        outbox_errstr_set(detail, detail_size,
                          "answer larger than %zu bytes: not a schema registry's",
                          REGISTRY_MAX_ANSWER);
        return OUTBOX_REGISTRY_ERR_PROTOCOL;
    }
    if (crc == CURLE_WRITE_ERROR && reg->answer_nomem) {
        outbox_errstr_set(detail, detail_size, "out of memory for the answer");
        return OUTBOX_REGISTRY_ERR_NOMEM;
    }
    if (crc) {
        rc = outbox_registry_err_from_curl((int)crc);
        describe_curl(reg, crc, rc, detail, detail_size);
        return rc;
    }
    if (curl_easy_getinfo(reg->curl, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
        outbox_errstr_set(detail, detail_size, "no HTTP status in the answer");
        return OUTBOX_REGISTRY_ERR_TRANSPORT;
    }
    return OUTBOX_REGISTRY_OK;
}

outbox_registry_err outbox_registry_register(outbox_registry *reg, const char *subject,
                                             const char *schema_json, int32_t *id, char *errstr,
                                             size_t errstr_size)
{
    outbox_registry_err rc;
    char detail[REGISTRY_DETAIL];
    registry_entry *entry;
    json_t *request = NULL;
    json_t *jschema;
    char *body = NULL;
    char *path = NULL;
    char *key = NULL;
    size_t subject_len;
    size_t schema_len;
    size_t key_len;
    uint64_t hash;
    int32_t new_id = -1;
    long status;

    if (!reg || !subject || !*subject || !schema_json || !*schema_json || !id) {
        outbox_errstr_set(errstr, errstr_size, "registry register: %s is missing",
                          !reg                            ? "the handle"
                          : !subject || !*subject         ? "the subject"
                          : !schema_json || !*schema_json ? "the schema"
                                                          : "the place for the id");
        return count(reg, OUTBOX_REGISTRY_ERR_INVALID);
    }

    subject_len = strlen(subject);
    schema_len = strlen(schema_json);
    key_len = subject_len + 1 + schema_len;
    key = malloc(key_len);
    if (!key) {
        outbox_errstr_set(errstr, errstr_size, "registry register: out of memory");
        rc = OUTBOX_REGISTRY_ERR_NOMEM;
        goto done;
    }
    memcpy(key, subject, subject_len + 1);
    memcpy(key + subject_len + 1, schema_json, schema_len);
    hash = fnv1a(key, key_len);
    entry = cache_find(&reg->registered, key, key_len, hash);
    if (entry) {
        reg->stats.register_cached++;
        *id = entry->id;
        rc = OUTBOX_REGISTRY_OK;
        goto done;
    }

    /* The body is {"schema": "<schema text as a JSON string>"}; no "schemaType": AVRO is the
     * API's default. */
    jschema = json_string(schema_json); /* NULL for invalid UTF-8 (or ENOMEM) */
    if (!jschema) {
        outbox_errstr_set(errstr, errstr_size,
                          "registry register under subject \"%s\": the schema is not valid UTF-8",
                          subject);
        rc = OUTBOX_REGISTRY_ERR_INVALID;
        goto done;
    }
    request = json_object();
    if (!request || json_object_set_new(request, "schema", jschema) != 0) {
        if (!request)
            json_decref(jschema); /* json_object_set_new() consumes it even on failure */
        outbox_errstr_set(errstr, errstr_size, "registry register: out of memory");
        rc = OUTBOX_REGISTRY_ERR_NOMEM;
        goto done;
    }
    body = json_dumps(request, JSON_COMPACT);
    path = path_subject_versions(subject);
    if (!body || !path) {
        outbox_errstr_set(errstr, errstr_size, "registry register: out of memory");
        rc = OUTBOX_REGISTRY_ERR_NOMEM;
        goto done;
    }

    rc = http(reg, path, body, &status, detail, sizeof(detail));
    if (rc == OUTBOX_REGISTRY_OK &&
        outbox_registry_err_from_http_status(status) == OUTBOX_REGISTRY_OK)
        rc =
            outbox_registry_parse_id(reg->answer, reg->answer_len, &new_id, detail, sizeof(detail));
    else if (rc == OUTBOX_REGISTRY_OK)
        rc = outbox_registry_parse_error(status, reg->answer, reg->answer_len, detail,
                                         sizeof(detail));
    if (rc != OUTBOX_REGISTRY_OK) {
        outbox_errstr_set(errstr, errstr_size,
                          "registry register under subject \"%s\": POST %s%s: %s", subject,
                          reg->display, path, detail);
        goto done;
    }
    if (!cache_add(&reg->registered, key, key_len, hash, new_id, NULL)) {
        outbox_errstr_set(errstr, errstr_size, "registry register: out of memory");
        rc = OUTBOX_REGISTRY_ERR_NOMEM;
        goto done;
    }
    *id = new_id;

done:
    free(path);
    free(body);
    json_decref(request);
    free(key);
    return count(reg, rc);
}

outbox_registry_err outbox_registry_lookup(outbox_registry *reg, int32_t id,
                                           const char **schema_json, char *errstr,
                                           size_t errstr_size)
{
    outbox_registry_err rc;
    char detail[REGISTRY_DETAIL];
    char key[sizeof(id)];
    char path[48];
    registry_entry *entry;
    char *schema = NULL;
    uint64_t hash;
    long status;

    if (!reg || id < 0 || !schema_json) {
        outbox_errstr_set(errstr, errstr_size, "registry lookup: %s",
                          !reg     ? "the handle is missing"
                          : id < 0 ? "a schema id is never negative"
                                   : "the place for the schema is missing");
        return count(reg, OUTBOX_REGISTRY_ERR_INVALID);
    }
    *schema_json = NULL;
    memcpy(key, &id, sizeof(id));
    hash = fnv1a(key, sizeof(key));
    entry = cache_find(&reg->schemas, key, sizeof(key), hash);
    if (entry) {
        reg->stats.lookup_cached++;
        *schema_json = entry->schema;
        return OUTBOX_REGISTRY_OK;
    }

    snprintf(path, sizeof(path), "/schemas/ids/%" PRId32, id);
    rc = http(reg, path, NULL, &status, detail, sizeof(detail));
    if (rc == OUTBOX_REGISTRY_OK &&
        outbox_registry_err_from_http_status(status) == OUTBOX_REGISTRY_OK)
        rc = outbox_registry_parse_schema(reg->answer, reg->answer_len, &schema, detail,
                                          sizeof(detail));
    else if (rc == OUTBOX_REGISTRY_OK)
        rc = outbox_registry_parse_error(status, reg->answer, reg->answer_len, detail,
                                         sizeof(detail));
    if (rc != OUTBOX_REGISTRY_OK) {
        outbox_errstr_set(errstr, errstr_size,
                          "registry lookup of schema id %" PRId32 ": GET %s%s: %s", id,
                          reg->display, path, detail);
        goto done;
    }
    entry = cache_add(&reg->schemas, key, sizeof(key), hash, id, schema);
    if (!entry) {
        outbox_errstr_set(errstr, errstr_size, "registry lookup: out of memory");
        rc = OUTBOX_REGISTRY_ERR_NOMEM;
        goto done;
    }
    schema = NULL; /* now owned by the cache */
    *schema_json = entry->schema;

done:
    free(schema);
    return count(reg, rc);
}

outbox_registry_err outbox_registry_check(outbox_registry *reg, char *compat, size_t compat_size,
                                          char *errstr, size_t errstr_size)
{
    outbox_registry_err rc;
    char detail[REGISTRY_DETAIL];
    char *location = NULL;
    long status;

    if (compat && compat_size > 0)
        compat[0] = '\0';
    if (!reg) {
        outbox_errstr_set(errstr, errstr_size, "registry check: the handle is missing");
        return OUTBOX_REGISTRY_ERR_INVALID;
    }
    rc = http(reg, "/config", NULL, &status, detail, sizeof(detail));
    if (rc != OUTBOX_REGISTRY_OK) {
        outbox_errstr_set(errstr, errstr_size, "registry check: GET %s/config: %s", reg->display,
                          detail);
        return count(reg, rc);
    }
    if (status >= 200 && status <= 299) {
        rc = outbox_registry_parse_config(reg->answer, reg->answer_len, compat, compat_size, detail,
                                          sizeof(detail));
        if (rc != OUTBOX_REGISTRY_OK)
            outbox_errstr_set(
                errstr, errstr_size,
                "registry check: GET %s/config answers, but not like a Confluent-compatible "
                "schema registry (%s); " REGISTRY_API_HINT,
                reg->display, detail);
        return count(reg, rc);
    }
    rc = outbox_registry_parse_error(status, reg->answer, reg->answer_len, detail, sizeof(detail));
    if (status >= 300 && status <= 399) {
        if (curl_easy_getinfo(reg->curl, CURLINFO_REDIRECT_URL, &location) != CURLE_OK)
            location = NULL;
        outbox_errstr_set(
            errstr, errstr_size,
            "registry check: GET %s/config redirects (HTTP %ld) to %s; " REGISTRY_API_HINT,
            reg->display, status, location ? location : "(no Location)");
    } else if (status == 404) {
        outbox_errstr_set(errstr, errstr_size,
                          "registry check: GET %s/config: %s; no Confluent-compatible API "
                          "there: " REGISTRY_API_HINT,
                          reg->display, detail);
    } else if (status == 401 || status == 403) {
        outbox_errstr_set(
            errstr, errstr_size,
            "registry check: GET %s/config: %s; the registry %s: set the registry's basic "
            "auth to a valid user:password",
            reg->display, detail, reg->userpwd ? "refused the credentials" : "wants credentials");
    } else {
        outbox_errstr_set(errstr, errstr_size, "registry check: GET %s/config: %s", reg->display,
                          detail);
    }
    return count(reg, rc);
}

outbox_registry_err outbox_registry_request(outbox_registry *reg, const char *method,
                                            const char *path, const char *body, const char **answer,
                                            size_t *answer_len, char *errstr, size_t errstr_size)
{
    outbox_registry_err rc;
    char detail[REGISTRY_DETAIL];
    long status = 0;
    int custom = strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0;

    *answer = NULL;
    *answer_len = 0;
    if ((strcmp(method, "GET") == 0) != (body == NULL)) {
        outbox_errstr_set(errstr, errstr_size, "registry %s %s: %s", method, path,
                          body ? "a GET has no body" : "this method needs a body");
        return count(reg, OUTBOX_REGISTRY_ERR_INVALID);
    }
    /* PUT and the like: a POST's body under another method name */
    if (custom && curl_easy_setopt(reg->curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK) {
        outbox_errstr_set(errstr, errstr_size, "registry %s %s: libcurl refuses the method", method,
                          path);
        return count(reg, OUTBOX_REGISTRY_ERR_INVALID);
    }
    rc = http(reg, path, body, &status, detail, sizeof(detail));
    if (custom)
        curl_easy_setopt(reg->curl, CURLOPT_CUSTOMREQUEST, NULL);
    if (rc == OUTBOX_REGISTRY_OK &&
        outbox_registry_err_from_http_status(status) != OUTBOX_REGISTRY_OK)
        rc = outbox_registry_parse_error(status, reg->answer, reg->answer_len, detail,
                                         sizeof(detail));
    if (rc != OUTBOX_REGISTRY_OK) {
        outbox_errstr_set(errstr, errstr_size, "%s %s%s: %s", method, reg->display, path, detail);
        return count(reg, rc);
    }
    *answer = reg->answer ? reg->answer : "";
    *answer_len = reg->answer_len;
    return count(reg, rc);
}

outbox_registry_err outbox_registry_set_compatibility(outbox_registry *reg, const char *subject,
                                                      const char *level, char *errstr,
                                                      size_t errstr_size)
{
    char *esc = outbox_registry_url_escape(subject);
    char *path = esc ? malloc(strlen(esc) + sizeof("/config/")) : NULL;
    char body[128];
    const char *answer;
    size_t len;
    outbox_registry_err rc = OUTBOX_REGISTRY_ERR_NOMEM;

    if (path == NULL) {
        outbox_errstr_set(errstr, errstr_size, "registry: out of memory");
    } else {
        sprintf(path, "/config/%s", esc);
        snprintf(body, sizeof(body), "{\"compatibility\": \"%.64s\"}", level);
        rc = outbox_registry_request(reg, "PUT", path, body, &answer, &len, errstr, errstr_size);
    }
    free(path);
    free(esc);
    return rc;
}
