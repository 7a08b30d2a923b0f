#ifndef OUTBOX_CONFIG_H
#define OUTBOX_CONFIG_H

/*
 * outbox_conf: a daemon's configuration is ONE TABLE of outbox_conf_def entries.
 *
 * Each entry names a key ("postgres.conninfo" = ini section [postgres], key conninfo), its
 * type, where it lives in the daemon's own config struct (offsetof), its default as text, its
 * range and one doc line. The same table drives loading, validation, `--help`, the README's
 * Markdown reference and the effective-config dump, so they cannot drift apart.
 *
 * Load order (later wins):
 *   1. table defaults,
 *   2. the ini file (inih),
 *   3. environment: <PREFIX>_<SECTION>_<KEY>, uppercased, '.' and '-' -> '_'
 *      (postgres.conninfo with prefix OUTBOX_RELAY -> OUTBOX_RELAY_POSTGRES_CONNINFO),
 *   4. command-line `--set section.key=value`, in command-line order.
 *
 * [kafka] belongs to librdkafka: every key in it (ini [kafka], env <PREFIX>_KAFKA_<NAME> with
 * '_' -> '.' and lowercased, `--set kafka.<name>=v`) is kept verbatim in an ordered list that
 * outbox_conf_kafka_apply() hands to rd_kafka_conf_set() unchanged. The order is the order of
 * first appearance (ini order, then env sorted by name, then --set); setting a name again
 * replaces its value in place. A table entry may not live in [kafka].
 *
 * Sections the table does not know are errors, unless the spec has an on_sections hook: then
 * their (section, key, value, file, line) items are handed to it, in file order (e.g. the
 * projector's [projection posts] with `sql.PostCreated = INSERT ...`). Env cannot address
 * them; `--set "projection posts.sql.PostCreated=..."` can (section = up to the first '.').
 *
 * Values from files: any key K (table, [kafka] or hook section) may instead be given as
 * `K-file = PATH` (env <VAR>_FILE=PATH, e.g. OUTBOX_RELAY_POSTGRES_CONNINFO_FILE or
 * OUTBOX_RELAY_KAFKA_SASL_PASSWORD_FILE; --set section.K-file=PATH): the value of K is PATH's
 * content, one trailing newline dropped, at most 1 MiB of text. A relative PATH in the ini file
 * is taken relative to the file's directory. So no secret needs the command line or the
 * environment. Such values are secrets by choice: outbox_conf_dump() prints them as "***" and
 * their origin as "PATH (section.K-file at relay.ini:3)". A table key that itself ends in
 * "-file" is an ordinary key. Setting both <VAR> and <VAR>_FILE is an error.
 *
 * ini syntax (inih): `;`/`#` comments at line start, ` ;` inline comments, no quote stripping,
 * lines up to OUTBOX_CONF_MAX_LINE bytes, and continuation lines (indented lines following a
 * key) appended to the previous value with '\n', so a long SQL statement may span lines.
 * A key set twice in the file keeps the last value.
 *
 * Types and the C type of the field they write (checked at compile time by the OUTBOX_CONF_*
 * entry macros):
 *   STRING   char *   owned by the target struct; free with outbox_conf_free()
 *   INT      int64_t  decimal, optional sign
 *   BOOL     bool     true/false, yes/no, on/off, 1/0 (any case)
 *   DURATION int64_t  milliseconds; "250ms", "10s", "5m", "1h", "1d" (integers); plain = ms
 *   SIZE     int64_t  bytes; "512kB", "64MB", "1GB" (1kB = 1024 bytes); plain number = bytes
 *   ENUM     int      the .value of the matching outbox_conf_enum name (exact match)
 *
 * Errors: every function returning int returns 0 or -1 and fills the caller's errstr; all
 * config errors are fatal (nothing to retry). Messages name the key, the value, where it came
 * from (file:line, environment variable, --set), the expected form and the range, e.g.
 *   unknown key 'conninf' in [postgres] at relay.ini:3; did you mean 'conninfo'?
 *   invalid value 'abc' for relay.status-interval at relay.ini:7: expected a duration ...
 *
 * Threads: load/free/destroy/apply run on the main thread during startup (load temporarily
 * changes inih's process-wide options, so nothing else may use inih meanwhile). After load the
 * target struct and the outbox_conf handle are read-only and any thread may read them.
 *
 * Example (a daemon's table):
 *
 *   typedef struct relay_config {
 *       char *conninfo;
 *       int64_t status_interval_ms;
 *       int log_format;
 *   } relay_config;
 *
 *   static const outbox_conf_enum log_formats[] = {
 *       {"text", OUTBOX_LOG_FORMAT_TEXT}, {"json", OUTBOX_LOG_FORMAT_JSON}, {NULL, 0}};
 *
 *   static const outbox_conf_def relay_conf_defs[] = {
 *       OUTBOX_CONF_STR("postgres.conninfo", relay_config, conninfo, NULL,
 *                       OUTBOX_CONF_F_REQUIRED, "libpq connection string of the source"),
 *       OUTBOX_CONF_DURATION("relay.status-interval", relay_config, status_interval_ms,
 *                            "10s", 100, 3600000, "Standby status update interval"),
 *       OUTBOX_CONF_ENUM("log.format", relay_config, log_format, "text", log_formats,
 *                        "Log line format"),
 *       OUTBOX_CONF_END};
 *
 *   static const outbox_conf_spec relay_conf_spec = {
 *       .program = "outbox-relay", .env_prefix = "OUTBOX_RELAY", .defs = relay_conf_defs};
 *
 *   relay_config cfg;
 *   outbox_conf *conf = NULL;
 *   outbox_conf_sources src = {.path = path, .envp = environ, .sets = sets, .set_count = n};
 *   if (outbox_conf_load(&relay_conf_spec, &cfg, &src, NULL, &conf, errstr, sizeof errstr))
 *       ... print errstr, return 2 ...
 *   ... outbox_conf_kafka_apply(conf, rk_conf, errstr, sizeof errstr) ...
 *   outbox_conf_destroy(conf);             // the kafka list is no longer needed
 *   ... run ...
 *   outbox_conf_free(relay_conf_defs, &cfg);
 */

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef OUTBOX_MUSTCHECK
#define OUTBOX_MUSTCHECK __attribute__((warn_unused_result))
#endif

/* Longest accepted ini line in bytes (a longer line is an error naming its line number). */
#define OUTBOX_CONF_MAX_LINE 65536

typedef enum outbox_conf_type {
    OUTBOX_CONF_STRING,
    OUTBOX_CONF_INT,
    OUTBOX_CONF_BOOL,
    OUTBOX_CONF_DURATION,
    OUTBOX_CONF_SIZE,
    OUTBOX_CONF_ENUM,
} outbox_conf_type;

/* One allowed value of an ENUM entry; arrays end with {NULL, 0}. */
typedef struct outbox_conf_enum {
    const char *name;
    int value;
} outbox_conf_enum;

/* Entry flags. */
#define OUTBOX_CONF_F_SECRET 0x1u   /* always masked in outbox_conf_dump() */
#define OUTBOX_CONF_F_REQUIRED 0x2u /* STRING: must be set and non-empty after loading */
/* STRING naming a file or directory: a relative value read from a config file is taken
 * relative to that file's directory (so a config and the files it names move together);
 * values from the environment, --set or the default are used as given. */
#define OUTBOX_CONF_F_PATH 0x4u
/* The old name of key `replaced_by` (OUTBOX_CONF_ALIAS): a value given under it (file,
 * environment <PREFIX>_<OLD_NAME>, --set) goes to the new key, with a deprecation notice
 * (outbox_conf_deprecated); setting both names is an error naming both. No field of its own. */
#define OUTBOX_CONF_F_ALIAS 0x8u
/* An old key with a field of its own whose meaning moved into key `replaced_by` in another
 * form (e.g. http.port into http.listen): the daemon's finalize translates it. A user value
 * gives a deprecation notice; setting it and `replaced_by` is an error naming both. */
#define OUTBOX_CONF_F_DEPRECATED 0x10u

/* One table entry. Tables end with OUTBOX_CONF_END ({.name = NULL}). */
typedef struct outbox_conf_def {
    const char *name;      /* "section.key": section up to the first '.', key the rest */
    outbox_conf_type type; /* decides the field's C type, see the list above */
    size_t offset;         /* offsetof() of the field in the daemon's config struct */
    const char *def;       /* default as text; NULL only for STRING (field stays NULL) */
    int64_t min, max;      /* inclusive range for INT/DURATION(ms)/SIZE(bytes); 0,0 = none */
    const outbox_conf_enum *enums; /* ENUM: the allowed names */
    unsigned flags;                /* OUTBOX_CONF_F_* */
    const char *doc;               /* one line for --help and the README */
    const char *replaced_by;       /* ALIAS/DEPRECATED entries: the key that replaces it */
} outbox_conf_def;

/* offsetof(T, m), and a compile error unless T.m has type `ctype`. */
#define OUTBOX_CONF_FIELD_(T, m, ctype)                                                            \
    (offsetof(T, m) + 0 * sizeof(_Generic(((T *)0)->m, ctype : 1)))

#define OUTBOX_CONF_STR(name_, T, m, def_, flags_, doc_)                                           \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_STRING, .offset = OUTBOX_CONF_FIELD_(T, m, char *),   \
        .def = (def_), .flags = (flags_), .doc = (doc_)                                            \
    }
#define OUTBOX_CONF_INT(name_, T, m, def_, min_, max_, doc_)                                       \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_INT, .offset = OUTBOX_CONF_FIELD_(T, m, int64_t),     \
        .def = (def_), .min = (min_), .max = (max_), .doc = (doc_)                                 \
    }
#define OUTBOX_CONF_BOOL(name_, T, m, def_, doc_)                                                  \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_BOOL, .offset = OUTBOX_CONF_FIELD_(T, m, bool),       \
        .def = (def_), .doc = (doc_)                                                               \
    }
#define OUTBOX_CONF_DURATION(name_, T, m, def_, min_ms_, max_ms_, doc_)                            \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_DURATION,                                             \
        .offset = OUTBOX_CONF_FIELD_(T, m, int64_t), .def = (def_), .min = (min_ms_),              \
        .max = (max_ms_), .doc = (doc_)                                                            \
    }
#define OUTBOX_CONF_SIZE(name_, T, m, def_, min_, max_, doc_)                                      \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_SIZE, .offset = OUTBOX_CONF_FIELD_(T, m, int64_t),    \
        .def = (def_), .min = (min_), .max = (max_), .doc = (doc_)                                 \
    }
#define OUTBOX_CONF_ENUM(name_, T, m, def_, enums_, doc_)                                          \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_ENUM, .offset = OUTBOX_CONF_FIELD_(T, m, int),        \
        .def = (def_), .enums = (enums_), .doc = (doc_)                                            \
    }
/* `old_` is the deprecated spelling of table key `new_`, accepted for one release. */
#define OUTBOX_CONF_ALIAS(old_, new_)                                                              \
    {                                                                                              \
        .name = (old_), .type = OUTBOX_CONF_STRING, .flags = OUTBOX_CONF_F_ALIAS,                  \
        .replaced_by = (new_)                                                                      \
    }
/* Deprecated keys with a field of their own, replaced by `new_` in another form. */
#define OUTBOX_CONF_OLD_STR(name_, T, m, def_, new_)                                               \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_STRING, .offset = OUTBOX_CONF_FIELD_(T, m, char *),   \
        .def = (def_), .flags = OUTBOX_CONF_F_DEPRECATED, .replaced_by = (new_)                    \
    }
#define OUTBOX_CONF_OLD_BOOL(name_, T, m, def_, new_)                                              \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_BOOL, .offset = OUTBOX_CONF_FIELD_(T, m, bool),       \
        .def = (def_), .flags = OUTBOX_CONF_F_DEPRECATED, .replaced_by = (new_)                    \
    }
#define OUTBOX_CONF_OLD_INT(name_, T, m, def_, min_, max_, new_)                                   \
    {                                                                                              \
        .name = (name_), .type = OUTBOX_CONF_INT, .offset = OUTBOX_CONF_FIELD_(T, m, int64_t),     \
        .def = (def_), .min = (min_), .max = (max_), .flags = OUTBOX_CONF_F_DEPRECATED,            \
        .replaced_by = (new_)                                                                      \
    }
#define OUTBOX_CONF_END                                                                            \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* The loaded configuration: kafka passthrough list, items of unknown sections, and where each
 * table value came from. Opaque. */
typedef struct outbox_conf outbox_conf;

/* One name = value item with its origin. For ini items `file` is the path as given and `line`
 * is 1-based; for environment items `file` is "environment variable NAME" and for --set items
 * "--set", both with line 0. Strings are owned by the outbox_conf. */
/* `value` as a path relative to the directory of the config file `file` (absolute values and
 * files without a directory: a copy). malloc'd, NULL on ENOMEM. Pure. */
char *outbox_conf_path_from(const char *file, const char *value);

typedef struct outbox_conf_item {
    const char *section;
    const char *key;
    const char *value;
    const char *file;
    int line;
} outbox_conf_item;

/* The section of the table (or [kafka]) closest to `section`, a typo's likely meaning, written
 * to out; false when none is close. For a sections hook's own "did you mean". Pure. */
bool outbox_conf_suggest_section(const outbox_conf_def *defs, const char *section, char *out,
                                 size_t size);

/* Hook for sections the table does not know: called exactly once after every source is read
 * (also with count 0, so a daemon can insist on having some), with the items in order. Return 0, or
 * -1 with errstr filled (load then fails with that message). Runs on the loading thread; `items` is
 * only valid during the call (or via outbox_conf_sections() until outbox_conf_destroy()). */
typedef int (*outbox_conf_sections_cb)(void *target, const outbox_conf_item *items, size_t count,
                                       void *opaque, char *errstr, size_t errstr_size);

/* Cross-field checks, called last with everything loaded. May also normalise fields (a
 * replaced STRING field must be malloc'd; free the old one). 0, or -1 with errstr filled. */
typedef int (*outbox_conf_finalize_cb)(void *target, const outbox_conf *conf, void *opaque,
                                       char *errstr, size_t errstr_size);

/* A daemon's static description of its configuration. */
typedef struct outbox_conf_spec {
    const char *program;                 /* "outbox-relay", used in --help */
    const char *env_prefix;              /* "OUTBOX_RELAY" */
    const outbox_conf_def *defs;         /* the table */
    outbox_conf_sections_cb on_sections; /* NULL: unknown sections are errors */
    outbox_conf_finalize_cb finalize;    /* NULL: no cross-field checks */
} outbox_conf_spec;

/* Where to read from. Every member may be NULL/0. */
typedef struct outbox_conf_sources {
    const char *path;        /* ini file; NULL = none */
    char *const *envp;       /* "NAME=value" array ending in NULL (usually `environ`) */
    const char *const *sets; /* "section.key=value" strings from --set, in order */
    size_t set_count;
} outbox_conf_sources;

/*
 * Load the configuration into `target` (the daemon's struct described by spec->defs).
 * Every table field of `target` is overwritten without being freed: pass a fresh struct (or
 * one emptied by outbox_conf_free()). Environment variables with the prefix whose section part
 * names a known section but match no key are errors (typo protection); others are ignored.
 * On success *confp receives the handle (the caller owns it: outbox_conf_destroy()) and the
 * STRING fields of target are owned by target (outbox_conf_free()). On failure returns -1,
 * errstr says why, *confp is NULL and target holds no allocated strings. `opaque` is passed to
 * the hooks. Main thread, at startup.
 */
int outbox_conf_load(const outbox_conf_spec *spec, void *target, const outbox_conf_sources *src,
                     void *opaque, outbox_conf **confp, char *errstr,
                     size_t errstr_size) OUTBOX_MUSTCHECK;

/* Free every STRING field of `target` listed in `defs` and set it to NULL. The target owns
 * those strings from outbox_conf_load() on; this is the only way to release them. Safe to call
 * twice. */
void outbox_conf_free(const outbox_conf_def *defs, void *target);

/* Release the handle (kafka list, unknown-section items, origins). NULL is a no-op. Items and
 * strings obtained from it become invalid. Independent of outbox_conf_free(). */
void outbox_conf_destroy(outbox_conf *conf);

/* The [kafka] passthrough list in order; *countp receives its length. Owned by conf. */
const outbox_conf_item *outbox_conf_kafka(const outbox_conf *conf, size_t *countp);

/* The value of kafka property `name` as configured, or NULL if not set. Owned by conf. */
const char *outbox_conf_kafka_get(const outbox_conf *conf, const char *name);

/* For a finalize hook of a daemon that talks to Kafka: 0 when kafka.bootstrap.servers is set,
 * else -1 with errstr naming the key and the daemon's environment variable (without it
 * librdkafka only warns and the client never connects). */
int outbox_conf_require_bootstrap(const outbox_conf *conf, char *errstr, size_t errstr_size);

/* The items of sections the table does not know, in order. Owned by conf. */
const outbox_conf_item *outbox_conf_sections(const outbox_conf *conf, size_t *countp);

/* The deprecated spellings the user gave, one item per use: section = the old key, key = the
 * key that replaces it, value = "", file/line = where (as for outbox_conf_item). In load
 * order; *countp receives the count. Owned by conf. */
const outbox_conf_item *outbox_conf_deprecated(const outbox_conf *conf, size_t *countp);

/* Log each deprecation notice at WARN (component `component`): the old key, the new one and
 * where it was set. Main thread, after the log level and format are set. */
void outbox_conf_log_deprecated(const outbox_conf *conf, const char *component);

/* Where the effective value of table key `name` came from: "default", "relay.ini:3",
 * "environment variable OUTBOX_RELAY_X", "--set", or NULL for an unknown name. A key built from
 * deprecated keys (OUTBOX_CONF_F_DEPRECATED, e.g. http.listen from http.port) names theirs:
 * "relay.ini:3 (http.port)", several joined by ", ". Owned by conf. */
const char *outbox_conf_origin(const outbox_conf *conf, const char *name);

/* Whether the user set key `name` (file, environment or --set): a table key whose value is not
 * its default, or "kafka.<property>" present in the [kafka] list. Owned by nobody; pure. */
bool outbox_conf_is_set(const outbox_conf *conf, const char *name);

/* A daemon's own default for a librdkafka property; arrays end with {NULL, NULL}. */
typedef struct outbox_conf_kafka_default {
    const char *name;
    const char *value;
} outbox_conf_kafka_default;

/*
 * Set each of `defaults` in rk_conf unless the user set that property ([kafka] list of conf;
 * conf may be NULL: then every default is set). Call it BEFORE outbox_conf_kafka_apply(_for), so
 * the user's keys, applied after, win even when the user spells a defaulted property by one of
 * librdkafka's aliases (compression.codec for compression.type). A user's value that happens
 * to equal librdkafka's own default is still the user's: it is never replaced. -1 with errstr
 * when librdkafka refuses a default (a programming error). Main thread.
 */
int outbox_conf_kafka_apply_defaults(const outbox_conf *conf, rd_kafka_conf_t *rk_conf,
                                     const outbox_conf_kafka_default *defaults, char *errstr,
                                     size_t errstr_size) OUTBOX_MUSTCHECK;

/*
 * Apply the [kafka] list, in order, to rk_conf with rd_kafka_conf_set(), and route the client's
 * own log lines through outbox_log (kafka_log.h). Stops at the first property librdkafka
 * rejects: returns -1 with errstr = "kafka.<name> (<origin>): <librdkafka's own message>".
 * rk_conf stays owned by the caller. Main thread.
 */
int outbox_conf_kafka_apply(const outbox_conf *conf, rd_kafka_conf_t *rk_conf, char *errstr,
                            size_t errstr_size) OUTBOX_MUSTCHECK;

/*
 * The same for a client of one kind, when one [kafka] list serves a consumer and a producer:
 * the keys librdkafka lists as the other kind's (e.g. session.timeout.ms for a producer,
 * linger.ms for a consumer; see kafka_scope.h) are left out, so neither client warns that it
 * ignores them. Keys of both kinds and unknown keys are applied (and rejected) as above.
 */
int outbox_conf_kafka_apply_for(const outbox_conf *conf, rd_kafka_conf_t *rk_conf,
                                rd_kafka_type_t type, char *errstr,
                                size_t errstr_size) OUTBOX_MUSTCHECK;

/*
 * Text for `--help`: every table key with type, default, range, environment variable name and
 * doc line, then how [kafka] is passed through. Returns a malloc'd string the caller frees, or
 * NULL when out of memory. Any thread (reads only the static spec).
 */
char *outbox_conf_help(const outbox_conf_spec *spec);

/* The same as a Markdown table (Key | Type | Default | Range | Environment | Description) for
 * the README, for `--help-config-markdown`. malloc'd, caller frees; NULL when out of memory. */
char *outbox_conf_markdown(const outbox_conf_spec *spec);

/*
 * The effective configuration, one `section.key = value  # origin` line per table key, then
 * the kafka list, with secrets masked: values of keys flagged SECRET, of keys whose name
 * carries a secret or key material (config.c's conf_secret_key_parts: "password", "secret",
 * "sasl", "token", "ssl.key", ".pem", ...) and values holding PEM armour ("-----BEGIN")
 * become "***"; in every other string a conninfo `password=...` or a URL's `user:password@`
 * has the password replaced by "***".
 * `conf` and `target` as returned by outbox_conf_load(). malloc'd, caller frees; NULL when out
 * of memory. Any thread (both are read-only after load).
 */
char *outbox_conf_dump(const outbox_conf *conf, const void *target);

/* `value` as outbox_conf_dump() would print it for key `name` (e.g. a conninfo before logging
 * it). malloc'd, caller frees; NULL when out of memory or value is NULL. Any thread. */
char *outbox_conf_mask(const char *name, const char *value);

/*
 * Keys every daemon shares (relay, projector, consumers), defined once here so that their
 * names, types, ranges, defaults and help cannot drift apart: a daemon's table includes the
 * macro with its own struct type and members. Old spellings are listed with them.
 */

/* log.level, log.format: values are lib/log.h's outbox_log_level / outbox_log_format. */
extern const outbox_conf_enum outbox_conf_log_levels[];
extern const outbox_conf_enum outbox_conf_log_formats[];
#define OUTBOX_CONF_DEFS_LOG(T, level_m, format_m)                                                 \
    OUTBOX_CONF_ENUM("log.level", T, level_m, "info", outbox_conf_log_levels,                      \
                     "error, warn, info or debug"),                                                \
        OUTBOX_CONF_ENUM("log.format", T, format_m, "text", outbox_conf_log_formats,               \
                         "text or json lines")

/* postgres.conninfo; `doc_` says which database and role (flags_: OUTBOX_CONF_F_REQUIRED or 0). */
#define OUTBOX_CONF_DEFS_CONNINFO(T, m, flags_, doc_)                                              \
    OUTBOX_CONF_STR("postgres.conninfo", T, m, NULL, (flags_),                                     \
                    "libpq connection string (conninfo or URI) of " doc_)

/* registry.url, registry.timeout, registry.basic-auth. */
#define OUTBOX_CONF_DEFS_REGISTRY(T, url_m, timeout_m, auth_m)                                     \
    OUTBOX_CONF_STR("registry.url", T, url_m, "", 0,                                               \
                    "Confluent-compatible schema registry base URL, e.g. "                         \
                    "http://127.0.0.1:8081/apis/ccompat/v7 (empty: no registry; the relay then "   \
                    "uses Avro single-object encoding)"),                                          \
        OUTBOX_CONF_DURATION("registry.timeout", T, timeout_m, "5s", 100, 120000,                  \
                             "bound on one registry request, connect included (the relay keeps "   \
                             "its status updates meanwhile)"),                                     \
        OUTBOX_CONF_STR("registry.basic-auth", T, auth_m, "", OUTBOX_CONF_F_SECRET,                \
                        "user:password for the registry, if it needs one")

/* registry.ca-file, registry.cert-file, registry.key-file, registry.key-password (TLS). */
#define OUTBOX_CONF_DEFS_REGISTRY_TLS(T, ca_m, cert_m, key_m, password_m)                          \
    OUTBOX_CONF_STR("registry.ca-file", T, ca_m, "", OUTBOX_CONF_F_PATH,                           \
                    "PEM file of the CA certificates that verify an https registry's "             \
                    "certificate (empty: the system's CAs; relative: to the config file's "        \
                    "directory)"),                                                                 \
        OUTBOX_CONF_STR("registry.cert-file", T, cert_m, "", OUTBOX_CONF_F_PATH,                   \
                        "PEM client certificate for a registry that wants one (mutual TLS; "       \
                        "empty: none; relative: to the config file's directory)"),                 \
        OUTBOX_CONF_STR("registry.key-file", T, key_m, "", OUTBOX_CONF_F_PATH,                     \
                        "PEM key of registry.cert-file (empty: in the certificate file; "          \
                        "relative: to the config file's directory)"),                              \
        OUTBOX_CONF_STR("registry.key-password", T, password_m, "", OUTBOX_CONF_F_SECRET,          \
                        "passphrase of an encrypted registry.key-file (a secret: give it as "      \
                        "key-password-file = PATH)")

/* http.listen; `def_` is the daemon's own default address ("127.0.0.1:9187", or "off"). */
#define OUTBOX_CONF_DEFS_HTTP_LISTEN(T, m, def_)                                                   \
    OUTBOX_CONF_STR("http.listen", T, m, def_, 0,                                                  \
                    "HOST:PORT of the HTTP server (/metrics, /healthz, ...; port 0: any free "     \
                    "port, logged); off or empty: no HTTP server")

/* The old http.enabled, http.bind and http.port of the projector and the consumers, replaced by
 * http.listen: outbox_conf_http_finalize() translates them. */
#define OUTBOX_CONF_DEFS_HTTP_OLD(T, enabled_m, bind_m, port_m, enabled_def, port_def)             \
    OUTBOX_CONF_OLD_BOOL("http.enabled", T, enabled_m, enabled_def, "http.listen"),                \
        OUTBOX_CONF_OLD_STR("http.bind", T, bind_m, "127.0.0.1", "http.listen"),                   \
        OUTBOX_CONF_OLD_INT("http.port", T, port_m, port_def, 0, 65535, "http.listen")

/* avro.schema-dir and avro.schema-history (relative paths: to the config file's directory). */
extern const char outbox_conf_schema_dir_default[]; /* <datadir>/outbox-toolkit/schemas */
#define OUTBOX_CONF_DEFS_SCHEMAS(T, dir_m, history_m)                                              \
    OUTBOX_CONF_STR("avro.schema-dir", T, dir_m, outbox_conf_schema_dir_default,                   \
                    OUTBOX_CONF_F_PATH,                                                            \
                    "directory of <EventType>.avsc schemas; the event type names the record "      \
                    "(relative: to the config file's directory)"),                                 \
        OUTBOX_CONF_STR("avro.schema-history", T, history_m, "", OUTBOX_CONF_F_PATH,               \
                        "directory of earlier schema versions, <EventType>/<version>.avsc: the "   \
                        "writer schemas of single-object encoded events avro.schema-dir no "       \
                        "longer has, and what the relay's `schemas` and `check` compare with "     \
                        "(empty: none; relative: to the config file's directory)")

/* avro.reader-schema-dir (projector and consumers). */
#define OUTBOX_CONF_DEFS_READER_SCHEMAS(T, m)                                                      \
    OUTBOX_CONF_STR("avro.reader-schema-dir", T, m, "", OUTBOX_CONF_F_PATH,                        \
                    "directory of *.avsc reader schemas: each event is resolved (Avro schema "     \
                    "resolution) to the reader schema of its record, so the statement or handler " \
                    "sees that shape (empty: the writer's shape; relative: to the config file's "  \
                    "directory)")

/*
 * http.listen after loading, for a daemon with the old keys (enabled/bind/port non-NULL:
 * the fields of OUTBOX_CONF_DEFS_HTTP_OLD): when the user set any old key, *listen becomes
 * "BIND:PORT" or "off" from them (the deprecation is noted by the loader; http.listen set
 * too is already an error). Then *listen is checked and, with the old fields, split into
 * *enabled, *bind (replaced, malloc'd) and *port. For the relay pass NULL for the three: it
 * only checks. 0, or -1 with errstr naming http.listen and the expected form. For finalize.
 */
int outbox_conf_http_finalize(const outbox_conf *conf, char **listen, bool *enabled, char **bind,
                              int64_t *port, char *errstr, size_t errstr_size) OUTBOX_MUSTCHECK;

/* http.listen `listen` split: *enabled false for "off" or "", else HOST and PORT. 0, or -1
 * when it is not HOST:PORT. Pure. */
int outbox_conf_http_listen_parse(const char *listen, bool *enabled, char *host, size_t host_size,
                                  uint16_t *port);

#endif
