#ifndef OUTBOX_REGISTRY_H
#define OUTBOX_REGISTRY_H

/*
 * outbox_registry: a client for a Confluent-compatible schema registry (Confluent Schema
 * Registry at http://HOST:PORT, Apicurio Registry at http://HOST:PORT/apis/ccompat/v7), on
 * libcurl.
 *
 * The relay registers the Avro schema of each (topic, event type) the first time it meets one
 * and frames records with the id (Confluent wire format); consumers look schemas up by the id
 * in a record; `outbox-relay check` probes the registry.
 *
 * Bounded: every call makes at most one HTTP request, and every request is bounded by the
 * handle's timeout_ms, total (CURLOPT_TIMEOUT_MS), which is also the connect timeout
 * (CURLOPT_CONNECTTIMEOUT_MS); no signals are used (CURLOPT_NOSIGNAL). So no call blocks
 * longer than timeout_ms, and the relay may call outbox_registry_register() from its
 * replication loop if timeout_ms leaves room before wal_sender_timeout. Host names are
 * resolved inside that bound only by a libcurl with an asynchronous resolver (threaded or
 * c-ares; Debian's is): with a synchronous resolver a DNS lookup cannot be interrupted, so use
 * an IP address in the URL there. Nothing retries: a failed call returns at once with an error
 * that outbox_registry_err_is_retriable() classifies; the caller backs off and calls again.
 *
 * Caches: (subject, schema text) -> id and id -> schema text, for the handle's life, one entry
 * per distinct schema (unbounded; a registry id never changes meaning). A cached answer makes
 * no request.
 *
 * Threads: a handle is NOT thread-safe: it owns one CURL easy handle, reused so the connection
 * stays alive; call it from one thread at a time (distinct handles may live on distinct
 * threads). Call curl_global_init(CURL_GLOBAL_DEFAULT) in main() before any thread starts,
 * unless the libcurl in use is thread-safe (curl_version_info(): CURL_VERSION_THREADSAFE,
 * 7.84+). The pure helpers (strategy, subject, URL, parse, classification functions) keep no
 * state: any thread.
 *
 * Errors: functions that can fail return an outbox_registry_err and write a one-line message
 * to the caller's errstr (truncated to errstr_size; errstr may be NULL). Messages name the
 * method and URL (credentials removed) and, for HTTP errors, the registry's error_code and
 * message.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbox_registry outbox_registry;

typedef enum outbox_registry_err {
    OUTBOX_REGISTRY_OK = 0,
    /* Retriable: the same call may succeed later. */
    OUTBOX_REGISTRY_ERR_CONNECT,     /* host not resolved, connection refused or unreachable */
    OUTBOX_REGISTRY_ERR_TIMEOUT,     /* no complete answer within timeout_ms */
    OUTBOX_REGISTRY_ERR_TRANSPORT,   /* the connection broke (reset, empty reply, TLS, ...) */
    OUTBOX_REGISTRY_ERR_UNAVAILABLE, /* HTTP 5xx, 429 Too Many Requests, 408 Request Timeout */
    /* Fatal: the same call will fail again until someone changes something. */
    OUTBOX_REGISTRY_ERR_INCOMPATIBLE,   /* HTTP 409: incompatible with the subject's versions */
    OUTBOX_REGISTRY_ERR_INVALID_SCHEMA, /* HTTP 422: not a valid schema (or reference) */
    OUTBOX_REGISTRY_ERR_NOT_FOUND,      /* HTTP 404: unknown id or subject, or wrong base URL */
    OUTBOX_REGISTRY_ERR_AUTH,           /* HTTP 401, 403: credentials missing or refused */
    OUTBOX_REGISTRY_ERR_HTTP,           /* any other non-2xx status (other 4xx, 3xx) */
    OUTBOX_REGISTRY_ERR_PROTOCOL,       /* a 2xx answer that is not what the API specifies */
    OUTBOX_REGISTRY_ERR_INVALID,        /* invalid argument or setting (URL, strategy, TLS) */
    OUTBOX_REGISTRY_ERR_NOMEM,          /* out of memory */
} outbox_registry_err;

/* True for the retriable codes above (CONNECT, TIMEOUT, TRANSPORT, UNAVAILABLE). Any thread. */
bool outbox_registry_err_is_retriable(outbox_registry_err err);

/* The code's name without prefix ("TIMEOUT", "INCOMPATIBLE"; "OK"). Static storage. */
const char *outbox_registry_err_name(outbox_registry_err err);

/* For a fatal code that says the caller's registry settings are wrong (NOT_FOUND, AUTH, HTTP,
 * PROTOCOL, INVALID): what to fix, naming the registry.* settings ("check registry.basic-auth
 * ..."). "" for any other code (the retriable ones, INCOMPATIBLE, INVALID_SCHEMA, NOMEM, OK).
 * Static storage. Pure. */
const char *outbox_registry_err_fix(outbox_registry_err err);

/* Classification of an HTTP status: OK for 2xx, else the codes above (5xx, 429, 408 are
 * UNAVAILABLE; 409 INCOMPATIBLE; 422 INVALID_SCHEMA; 404 NOT_FOUND; 401, 403 AUTH; anything
 * else, including 1xx and 3xx, HTTP). Pure. */
outbox_registry_err outbox_registry_err_from_http_status(long status);

/* Classification of a libcurl result (a CURLcode, as int): OK for CURLE_OK; configuration
 * errors (malformed URL, unsupported protocol, TLS peer verification, CA file, client
 * certificate or key) INVALID;
 * out-of-memory NOMEM; resolve and connect failures CONNECT; CURLE_OPERATION_TIMEDOUT
 * TIMEOUT; every other failure TRANSPORT. Pure. */
outbox_registry_err outbox_registry_err_from_curl(int curl_code);

/* ------------------------------------------------------------------ subject naming */

/* How a subject is named from the topic and the record. */
typedef enum outbox_registry_strategy {
    OUTBOX_REGISTRY_STRATEGY_TOPIC_RECORD = 0, /* "topic-record": <topic>-<record full name>;
                                                  the default: a topic carries several event
                                                  types, each evolves under its own subject */
    OUTBOX_REGISTRY_STRATEGY_TOPIC,            /* "topic": <topic>-value (one type per topic) */
    OUTBOX_REGISTRY_STRATEGY_RECORD,           /* "record": <record full name>, all topics */
} outbox_registry_strategy;

/* Recommended size of a subject buffer; outbox_registry_subject_build() fails on longer. */
#define OUTBOX_REGISTRY_SUBJECT_MAX 1024

/* Parses a config value: "topic-record", "topic" or "record" (exact, lowercase). On anything
 * else returns INVALID and says which values are accepted. Pure. */
outbox_registry_err outbox_registry_strategy_parse(const char *name,
                                                   outbox_registry_strategy *strategy, char *errstr,
                                                   size_t errstr_size)
    __attribute__((warn_unused_result));

/* The config spelling of a strategy ("topic-record"); "?" for an unknown value. Static. */
const char *outbox_registry_strategy_name(outbox_registry_strategy strategy);

/* Writes the subject for (topic, record_name) under `strategy` to subject[subject_size].
 * topic: non-empty, no control characters (unused by "record"). record_name: the record's
 * full name ("blog.events.PostCreated"), checked against Avro's name rules (unused by "topic",
 * may be NULL there). Returns OK, or INVALID (bad input, or the subject does not fit). Pure. */
outbox_registry_err outbox_registry_subject_build(outbox_registry_strategy strategy,
                                                  const char *topic, const char *record_name,
                                                  char *subject, size_t subject_size, char *errstr,
                                                  size_t errstr_size)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ URLs (pure) */

/* `segment` percent-encoded for one URL path segment: every byte except RFC 3986 unreserved
 * characters (A-Z a-z 0-9 - . _ ~) becomes %XX, so '/', ' ', '+', ':' are encoded. The caller
 * frees the result; NULL on ENOMEM. */
char *outbox_registry_url_escape(const char *segment) __attribute__((warn_unused_result));

/* "{base}/subjects/{escaped subject}/versions": where a schema is registered. Trailing '/' of
 * base are dropped. The caller frees the result; NULL on ENOMEM. */
char *outbox_registry_url_subject_versions(const char *base, const char *subject)
    __attribute__((warn_unused_result));

/* "{base}/schemas/ids/{id}": where a schema is looked up. As above. */
char *outbox_registry_url_schema_id(const char *base, int32_t id)
    __attribute__((warn_unused_result));

/* "{base}/config": the global compatibility level, probed by check(). As above. */
char *outbox_registry_url_config(const char *base) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ answers (pure) */

/* A register answer ({"id": N}, other members ignored): *id = N, 0 <= N <= INT32_MAX.
 * PROTOCOL when the body is not that. */
outbox_registry_err outbox_registry_parse_id(const char *body, size_t len, int32_t *id,
                                             char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* A lookup answer ({"schema": "<text>"}, optional "schemaType" which must be "AVRO"):
 * *schema = a malloc'd copy of the text, owned by the caller. PROTOCOL when the body is not
 * that or the schema is not Avro; NOMEM. */
outbox_registry_err outbox_registry_parse_schema(const char *body, size_t len, char **schema,
                                                 char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* A config answer ({"compatibilityLevel": "BACKWARD"}): the level copied to level[level_size]
 * (truncated). PROTOCOL when the body is not that. */
outbox_registry_err outbox_registry_parse_config(const char *body, size_t len, char *level,
                                                 size_t level_size, char *errstr,
                                                 size_t errstr_size)
    __attribute__((warn_unused_result));

/* A non-2xx answer: returns outbox_registry_err_from_http_status(status) and writes
 * "HTTP 409 Conflict: <message> (registry error_code 409)" from the registry's JSON error body
 * ({"error_code": N, "message": "..."}; "detail" or "title" of a framework error page when
 * there is no "message"), or the start of a non-JSON body, or the status alone. */
outbox_registry_err outbox_registry_parse_error(long status, const char *body, size_t len,
                                                char *errstr, size_t errstr_size);

/* ------------------------------------------------------------------ the client */

/* A client for the registry API at base_url ("http://127.0.0.1:18081/apis/ccompat/v7"; http or
 * https; trailing '/' ignored). timeout_ms (> 0) bounds each request, connect included.
 * basic_auth: "user:password" or NULL/"" for none. Makes no request (see check()).
 * Returns NULL with errstr on a bad argument, ENOMEM or a libcurl failure. The caller owns the
 * handle and frees it with outbox_registry_free(); the arguments are copied. */
outbox_registry *outbox_registry_new(const char *base_url, long timeout_ms, const char *basic_auth,
                                     char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* TLS settings of an https registry (config keys registry.ca-file, registry.cert-file,
 * registry.key-file, registry.key-password). Every member may be NULL or "" (not used). */
typedef struct outbox_registry_tls {
    const char *ca_file;      /* PEM CA certificates that verify the registry's certificate
                                 (CURLOPT_CAINFO); NULL/"": the system's CAs */
    const char *cert_file;    /* PEM client certificate (CURLOPT_SSLCERT), for mutual TLS */
    const char *key_file;     /* PEM key of cert_file (CURLOPT_SSLKEY); NULL/"": in cert_file */
    const char *key_password; /* passphrase of an encrypted key_file (CURLOPT_KEYPASSWD) */
} outbox_registry_tls;

/* outbox_registry_new() with TLS settings (tls may be NULL: none). The peer's certificate and
 * host name are always verified. Each named file must be readable now: otherwise NULL with
 * errstr naming the setting and the file (a key without a certificate is refused as well).
 * Messages of later TLS failures name the URL and the CA file in use. The strings are copied;
 * ownership and threads as outbox_registry_new(). */
outbox_registry *outbox_registry_new_tls(const char *base_url, long timeout_ms,
                                         const char *basic_auth, const outbox_registry_tls *tls,
                                         char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Frees the handle, its connection and its caches (pointers from lookup() become invalid).
 * NULL is a no-op. */
void outbox_registry_free(outbox_registry *reg);

/* The base URL as used, credentials removed: for logs. Valid until free. */
const char *outbox_registry_base_url(const outbox_registry *reg);

/* Registers schema_json (Avro schema text) under subject: POST {base}/subjects/{subject}/
 * versions with {"schema": "<text>"}. Registering a schema the subject already has returns its
 * existing id (the registry's rule). *id = the schema id for the wire format. Cached per
 * (subject, exact schema text): a repeated call makes no request. Fatal errors include
 * INCOMPATIBLE (409) and INVALID_SCHEMA (422), with the registry's message. */
outbox_registry_err outbox_registry_register(outbox_registry *reg, const char *subject,
                                             const char *schema_json, int32_t *id, char *errstr,
                                             size_t errstr_size)
    __attribute__((warn_unused_result));

/* Looks up schema `id`: GET {base}/schemas/ids/{id}. *schema_json = the registry's text of
 * the schema (it may be reformatted from what was registered), owned by the handle, valid until
 * outbox_registry_free(). Cached: a repeated call makes no request. NOT_FOUND for an unknown
 * id. */
outbox_registry_err outbox_registry_lookup(outbox_registry *reg, int32_t id,
                                           const char **schema_json, char *errstr,
                                           size_t errstr_size) __attribute__((warn_unused_result));

/* Probes the registry for `check`: GET {base}/config must answer a Confluent-style
 * {"compatibilityLevel": ...}. On success the global level ("BACKWARD", "NONE") is copied to
 * compat[compat_size] (compat may be NULL). On failure errstr says what is wrong and what to
 * change: connection refused (not running, wrong host or port), timeout, host not resolved,
 * redirect or 404 (not the base of a Confluent-compatible API; for Apicurio append
 * /apis/ccompat/v7), 401/403 (credentials), an answer that is not the API's. Makes a request
 * every time. */
outbox_registry_err outbox_registry_check(outbox_registry *reg, char *compat, size_t compat_size,
                                          char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* One request for what the calls above do not cover (subjects, versions, per-subject config):
 * `method` GET (body NULL), POST or PUT (body: JSON text) to {base}{path}; path segments must
 * be escaped by the caller (outbox_registry_url_escape()). A 2xx answer: *answer (owned by the
 * handle, NUL-terminated, valid until the next call on it) and *answer_len. A non-2xx answer is
 * the error of its status (outbox_registry_err_from_http_status()) with the registry's message
 * in errstr. Not cached: one request every time. */
outbox_registry_err outbox_registry_request(outbox_registry *reg, const char *method,
                                            const char *path, const char *body, const char **answer,
                                            size_t *answer_len, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Sets the compatibility level of `subject` ("BACKWARD", "FULL_TRANSITIVE", ...): PUT
 * {base}/config/{subject} with {"compatibility": level}. Errors as outbox_registry_request(). */
outbox_registry_err outbox_registry_set_compatibility(outbox_registry *reg, const char *subject,
                                                      const char *level, char *errstr,
                                                      size_t errstr_size)
    __attribute__((warn_unused_result));

/* Counters since new(); for metrics and tests. */
typedef struct outbox_registry_stats {
    uint64_t requests;         /* HTTP requests started, whatever their outcome */
    uint64_t connects;         /* connections opened for them (keep-alive: 1 while all goes
                                  well; each timeout or broken connection costs a new one) */
    uint64_t register_cached;  /* register() calls answered from the cache */
    uint64_t lookup_cached;    /* lookup() calls answered from the cache */
    uint64_t errors_retriable; /* calls that failed with a retriable error */
    uint64_t errors_fatal;     /* calls that failed with a fatal error */
} outbox_registry_stats;

/* Copies the handle's counters to *stats. Same thread rule as the handle. */
void outbox_registry_stats_get(const outbox_registry *reg, outbox_registry_stats *stats);

#endif
