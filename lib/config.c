/*
 * outbox_conf: table-driven configuration (see config.h).
 *
 * Loading walks the sources in order and funnels every (section, key, value, origin) into
 * conf_assign(): table keys are parsed and stored into the target struct, [kafka] keys go to
 * the passthrough list, unknown sections to the hook's list. The first error stops loading.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafka_log.h"
#include "kafka_scope.h"
#include "log.h"

#define CONF_KAFKA_SECTION "kafka"
#define CONF_ENV_NAME_MAX 256
#define CONF_FILE_SUFFIX "-file"     /* KEY-file = PATH: the value of KEY is PATH's content */
#define CONF_ENV_FILE_SUFFIX "_FILE" /* the same in the environment: <VAR>_FILE=PATH */
#define CONF_VALUE_FILE_MAX (1024 * 1024)

/* ---------------------------------------------------------------------------------------- */
/* A small growable string with a sticky out-of-memory flag (private to this module).        */

typedef struct conf_str {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} conf_str;

static void conf_str_append(conf_str *s, const char *p, size_t n)
{
    if (s->failed)
        return;
    if (s->cap - s->len < n + 1) {
        size_t cap = s->cap ? s->cap : 128;
        while (cap - s->len < n + 1)
            cap *= 2;
        char *data = realloc(s->data, cap);
        if (data == NULL) {
            s->failed = true;
            return;
        }
        s->data = data;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
}

static void conf_str_puts(conf_str *s, const char *p)
{
    conf_str_append(s, p, strlen(p));
}

__attribute__((format(printf, 2, 3))) static void conf_str_printf(conf_str *s, const char *fmt, ...)
{
    char small[256];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        conf_str_append(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        s->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    conf_str_append(s, big, (size_t)n);
    free(big);
}

/* The finished string (caller frees), or NULL if any append failed. Never returns NULL for an
 * empty but successful string. */
static char *conf_str_take(conf_str *s)
{
    if (!s->failed && s->data == NULL)
        conf_str_append(s, "", 0);
    if (s->failed) {
        free(s->data);
        s->data = NULL;
        return NULL;
    }
    char *data = s->data;
    s->data = NULL;
    return data;
}

/* ---------------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void conf_errf(char *errstr, size_t errstr_size,
                                                            const char *fmt, ...)
{
    if (errstr == NULL || errstr_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

typedef struct conf_items {
    outbox_conf_item *items;
    bool *from_file; /* per item: the value was read from a KEY-file */
    size_t count;
    size_t cap;
} conf_items;

struct outbox_conf {
    const outbox_conf_spec *spec;
    size_t ndefs;
    char **origins;  /* per def: "default", "relay.ini:3", ... */
    bool *from_file; /* per def: the value was read from a KEY-file (never printed) */
    bool *by_name;   /* per def: the user set it by this very name (not through an alias) */
    conf_items kafka;
    conf_items deprecated; /* section = old key, key = new key, file/line = where */
    conf_items sections;
};

static void conf_item_clear(outbox_conf_item *item)
{
    free((char *)item->section);
    free((char *)item->key);
    free((char *)item->value);
    free((char *)item->file);
    memset(item, 0, sizeof *item);
}

static void conf_items_free(conf_items *list)
{
    for (size_t i = 0; i < list->count; i++)
        conf_item_clear(&list->items[i]);
    free(list->items);
    free(list->from_file);
    memset(list, 0, sizeof *list);
}

/* Append a copy of the item. 0, or -1 when out of memory (list unchanged). */
static int conf_items_add(conf_items *list, const char *section, const char *key, const char *value,
                          const char *file, int line)
{
    int rc = -1;
    outbox_conf_item item = {0};

    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        outbox_conf_item *items = realloc(list->items, cap * sizeof *items);
        if (items == NULL)
            goto out;
        list->items = items;
        bool *from_file = realloc(list->from_file, cap * sizeof *from_file);
        if (from_file == NULL)
            goto out;
        list->from_file = from_file;
        list->cap = cap;
    }
    item.section = strdup(section);
    item.key = strdup(key);
    item.value = strdup(value);
    item.file = strdup(file);
    item.line = line;
    if (!item.section || !item.key || !item.value || !item.file)
        goto out;
    list->from_file[list->count] = false;
    list->items[list->count++] = item;
    memset(&item, 0, sizeof item);
    rc = 0;
out:
    conf_item_clear(&item);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Table helpers.                                                                            */

static size_t conf_section_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

static bool conf_def_matches(const outbox_conf_def *def, const char *section, const char *key)
{
    size_t len = conf_section_len(def->name);
    return strlen(section) == len && strncmp(def->name, section, len) == 0 &&
           strcmp(def->name + len + 1, key) == 0;
}

static bool conf_section_known(const outbox_conf_def *defs, const char *section)
{
    size_t slen = strlen(section);
    for (const outbox_conf_def *def = defs; def->name; def++) {
        if (conf_section_len(def->name) == slen && strncmp(def->name, section, slen) == 0)
            return true;
    }
    return false;
}

static long conf_find_def(const outbox_conf_def *defs, const char *section, const char *key)
{
    for (long i = 0; defs[i].name; i++) {
        if (conf_def_matches(&defs[i], section, key))
            return i;
    }
    return -1;
}

static long conf_find_name(const outbox_conf_def *defs, const char *name)
{
    for (long i = 0; defs[i].name; i++) {
        if (strcmp(defs[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* Entries with a field of their own (every one but aliases). */
static bool conf_def_has_field(const outbox_conf_def *def)
{
    return !(def->flags & OUTBOX_CONF_F_ALIAS);
}

static void *conf_field(void *target, const outbox_conf_def *def)
{
    return (char *)target + def->offset;
}

static const void *conf_field_const(const void *target, const outbox_conf_def *def)
{
    return (const char *)target + def->offset;
}

/* A value of any table type; str is a heap string for STRING entries. */
typedef struct conf_value {
    char *str;
    int64_t num;
    bool flag;
    int enum_value;
} conf_value;

/* Stores v into the field of an entry of `type`, in the C type that table type has in a target
 * (STRING: char *, which the target owns from then on; INT, DURATION, SIZE: int64_t; BOOL:
 * bool; ENUM: int). A string already in the field is not freed: the caller frees one first. */
static void conf_field_store(void *field, outbox_conf_type type, const conf_value *v)
{
    switch (type) {
    case OUTBOX_CONF_STRING:
        *(char **)field = v->str;
        break;
    case OUTBOX_CONF_INT:
    case OUTBOX_CONF_DURATION:
    case OUTBOX_CONF_SIZE:
        *(int64_t *)field = v->num;
        break;
    case OUTBOX_CONF_BOOL:
        *(bool *)field = v->flag;
        break;
    case OUTBOX_CONF_ENUM:
        *(int *)field = v->enum_value;
        break;
    }
}

/* PREFIX_SECTION_KEY. 0, or -1 when it does not fit. */
static int conf_env_name(const char *prefix, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s_%s", prefix, name);
    if (n < 0 || (size_t)n >= size)
        return -1;
    for (char *p = out + strlen(prefix) + 1; *p; p++) {
        if (*p == '.' || *p == '-')
            *p = '_';
        else
            *p = (char)toupper((unsigned char)*p);
    }
    return 0;
}

/* Whether two keys map to the same environment variable name (conf_env_name() of both under
 * one prefix would be equal), without formatting either: every load checks the table. */
static bool conf_env_same(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = *a == '.' || *a == '-' ? '_' : toupper((unsigned char)*a);
        int cb = *b == '.' || *b == '-' ? '_' : toupper((unsigned char)*b);
        if (ca != cb)
            return false;
        if (ca == '\0')
            return true;
    }
}

/* Case-insensitive edit distance (optimal string alignment: Levenshtein with a swap of two
 * neighbours counted as one edit, so "kafak" is one from "kafka"); inputs longer than 63
 * bytes are compared on their first 63. */
static size_t conf_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][64];
    size_t *prev2 = rows[0], *prev = rows[1], *row = rows[2];

    if (la > 63)
        la = 63;
    if (lb > 63)
        lb = 63;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        int ca = tolower((unsigned char)a[i - 1]);
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            row[j] = best;
        }
        size_t *spare = prev2;
        prev2 = prev;
        prev = row;
        row = spare;
    }
    return prev[lb];
}

static bool conf_close_enough(const char *typed, size_t distance)
{
    size_t limit = strlen(typed) / 3;
    if (limit < 1)
        limit = 1;
    return distance <= limit;
}

/* The key of `section` closest to `key`, or NULL. Points into the table. */
static const char *conf_suggest_key(const outbox_conf_def *defs, const char *section,
                                    const char *key)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t slen = strlen(section);

    for (const outbox_conf_def *def = defs; def->name; def++) {
        if (conf_section_len(def->name) != slen || strncmp(def->name, section, slen) != 0)
            continue;
        size_t d = conf_distance(key, def->name + slen + 1);
        if (d < best_d) {
            best_d = d;
            best = def->name + slen + 1;
        }
    }
    return best && conf_close_enough(key, best_d) ? best : NULL;
}

/* The known section closest to `section` (written to out), or false. */
bool outbox_conf_suggest_section(const outbox_conf_def *defs, const char *section, char *out,
                                 size_t size)
{
    size_t best_d = conf_distance(section, CONF_KAFKA_SECTION);
    snprintf(out, size, "%s", CONF_KAFKA_SECTION);
    for (const outbox_conf_def *def = defs; def->name; def++) {
        char name[128];
        size_t len = conf_section_len(def->name);
        if (len >= sizeof name)
            continue;
        memcpy(name, def->name, len);
        name[len] = '\0';
        size_t d = conf_distance(section, name);
        if (d < best_d) {
            best_d = d;
            snprintf(out, size, "%s", name);
        }
    }
    return conf_close_enough(section, best_d);
}

/* ---------------------------------------------------------------------------------------- */
/* Value parsing and formatting.                                                             */

static const char *conf_skip_space(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* A decimal integer at s; *end after it. -1 on no digits or overflow. */
static int conf_parse_i64(const char *s, int64_t *out, const char **end)
{
    char *e = NULL;
    s = conf_skip_space(s);
    if (!isdigit((unsigned char)*s) && !((*s == '-' || *s == '+') && isdigit((unsigned char)s[1])))
        return -1;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (errno == ERANGE)
        return -1;
    *out = (int64_t)v;
    *end = e;
    return 0;
}

static bool conf_only_space(const char *s)
{
    return *conf_skip_space(s) == '\0';
}

static int conf_parse_int(const char *s, int64_t *out)
{
    const char *end;
    if (conf_parse_i64(s, out, &end) != 0 || !conf_only_space(end))
        return -1;
    return 0;
}

typedef struct conf_unit {
    const char *name;
    int64_t factor;
} conf_unit;

static const conf_unit conf_duration_units[] = {
    {"ms", 1},      {"s", 1000},    {"sec", 1000},   {"m", 60000},
    {"min", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
};

static const conf_unit conf_size_units[] = {
    {"b", 1},
    {"k", 1024},
    {"kb", 1024},
    {"kib", 1024},
    {"m", 1024 * 1024},
    {"mb", 1024 * 1024},
    {"mib", 1024 * 1024},
    {"g", 1024LL * 1024 * 1024},
    {"gb", 1024LL * 1024 * 1024},
    {"gib", 1024LL * 1024 * 1024},
    {"t", 1024LL * 1024 * 1024 * 1024},
    {"tb", 1024LL * 1024 * 1024 * 1024},
    {"tib", 1024LL * 1024 * 1024 * 1024},
    {NULL, 0},
};

/* number [space] [unit] with units case-insensitive; no unit = factor 1. */
static int conf_parse_units(const char *s, const conf_unit *units, int64_t *out)
{
    const char *end;
    int64_t v;
    char unit[8];
    size_t n = 0;

    if (conf_parse_i64(s, &v, &end) != 0)
        return -1;
    end = conf_skip_space(end);
    while (*end && !isspace((unsigned char)*end)) {
        if (n + 1 >= sizeof unit)
            return -1;
        unit[n++] = (char)tolower((unsigned char)*end++);
    }
    unit[n] = '\0';
    if (!conf_only_space(end))
        return -1;
    if (n == 0) {
        *out = v;
        return 0;
    }
    for (const conf_unit *u = units; u->name; u++) {
        if (strcmp(u->name, unit) == 0) {
            if (v > INT64_MAX / u->factor || v < INT64_MIN / u->factor)
                return -1;
            *out = v * u->factor;
            return 0;
        }
    }
    return -1;
}

static int conf_parse_size(const char *s, int64_t *out)
{
    if (*conf_skip_space(s) == '-')
        return -1;
    return conf_parse_units(s, conf_size_units, out);
}

static int conf_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    char word[8];
    size_t n = 0;

    s = conf_skip_space(s);
    while (*s && !isspace((unsigned char)*s)) {
        if (n + 1 >= sizeof word)
            return -1;
        word[n++] = *s++;
    }
    word[n] = '\0';
    if (!conf_only_space(s))
        return -1;
    for (size_t i = 0; yes[i]; i++) {
        if (strcasecmp(word, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(word, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int conf_parse_enum(const outbox_conf_enum *enums, const char *s, int *out)
{
    for (const outbox_conf_enum *e = enums; e && e->name; e++) {
        if (strcmp(e->name, s) == 0) {
            *out = e->value;
            return 0;
        }
    }
    return -1;
}

/* Largest unit that divides exactly: "10s", "5m", "250ms". */
static void conf_format_duration(int64_t ms, char *out, size_t size)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(out, size, "%lldh", (long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(out, size, "%lldm", (long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(out, size, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, size, "%lldms", (long long)ms);
}

static void conf_format_size(int64_t bytes, char *out, size_t size)
{
    static const char *const names[] = {"TB", "GB", "MB", "kB"};
    int64_t factor = 1024LL * 1024 * 1024 * 1024;

    for (size_t i = 0; i < 4; i++, factor /= 1024) {
        if (bytes != 0 && bytes % factor == 0) {
            snprintf(out, size, "%lld%s", (long long)(bytes / factor), names[i]);
            return;
        }
    }
    snprintf(out, size, "%lldB", (long long)bytes);
}

static void conf_format_number(const outbox_conf_def *def, int64_t v, char *out, size_t size)
{
    if (def->type == OUTBOX_CONF_DURATION)
        conf_format_duration(v, out, size);
    else if (def->type == OUTBOX_CONF_SIZE)
        conf_format_size(v, out, size);
    else
        snprintf(out, size, "%lld", (long long)v);
}

static bool conf_has_range(const outbox_conf_def *def)
{
    return (def->type == OUTBOX_CONF_INT || def->type == OUTBOX_CONF_DURATION ||
            def->type == OUTBOX_CONF_SIZE) &&
           !(def->min == 0 && def->max == 0);
}

static const char *conf_type_name(outbox_conf_type type)
{
    switch (type) {
    case OUTBOX_CONF_STRING:
        return "string";
    case OUTBOX_CONF_INT:
        return "int";
    case OUTBOX_CONF_BOOL:
        return "bool";
    case OUTBOX_CONF_DURATION:
        return "duration";
    case OUTBOX_CONF_SIZE:
        return "size";
    case OUTBOX_CONF_ENUM:
        return "enum";
    }
    return "?";
}

/* "[1, 65535]" / "[100ms, 1h]" into out (empty when the entry has no range). */
static void conf_format_range(const outbox_conf_def *def, char *out, size_t size)
{
    char lo[32], hi[32];
    if (!conf_has_range(def)) {
        snprintf(out, size, "%s", "");
        return;
    }
    conf_format_number(def, def->min, lo, sizeof lo);
    conf_format_number(def, def->max, hi, sizeof hi);
    snprintf(out, size, "[%s, %s]", lo, hi);
}

/* "one of: text, json" */
static void conf_enum_list(const outbox_conf_enum *enums, const char *sep, conf_str *s)
{
    for (const outbox_conf_enum *e = enums; e && e->name; e++)
        conf_str_printf(s, "%s%s", e == enums ? "" : sep, e->name);
}

/* The expected form of a value, with its range: "an integer in [1, 65535]". */
static void conf_expected(const outbox_conf_def *def, conf_str *s)
{
    char range[80];

    switch (def->type) {
    case OUTBOX_CONF_STRING:
        conf_str_puts(s, "a string");
        break;
    case OUTBOX_CONF_INT:
        conf_str_puts(s, "an integer");
        break;
    case OUTBOX_CONF_BOOL:
        conf_str_puts(s, "a boolean (true/false, yes/no, on/off, 1/0)");
        break;
    case OUTBOX_CONF_DURATION:
        conf_str_puts(s, "a duration such as 250ms, 10s, 5m or 1h (a plain number is "
                         "milliseconds)");
        break;
    case OUTBOX_CONF_SIZE:
        conf_str_puts(s, "a size such as 512kB, 64MB or 1GB (a plain number is bytes)");
        break;
    case OUTBOX_CONF_ENUM:
        conf_str_puts(s, "one of: ");
        conf_enum_list(def->enums, ", ", s);
        break;
    }
    conf_format_range(def, range, sizeof range);
    if (range[0])
        conf_str_printf(s, " in %s", range);
}

/* ---------------------------------------------------------------------------------------- */
/* Masking.                                                                                  */

/* Keys whose values are secrets or key material: never printed (print-config, error messages).
 * Matched case-insensitively anywhere in the key (table keys and [kafka] keys alike); to cover
 * a new kind of secret key, add a row. */
static const char *const conf_secret_key_parts[] = {
    "password",   /* sasl.password, ssl.key.password, ssl.keystore.password, ... */
    "passwd",     /* */
    "secret",     /* sasl.oauthbearer.client.secret */
    "sasl",       /* sasl.username, sasl.oauthbearer.config (may carry a secret) */
    "token",      /* bearer tokens */
    "credential", /* cloud credentials */
    "private",    /* private keys under any name */
    "basic-auth", /* registry.basic-auth: user:password */
    "ssl.key",    /* ssl.key.pem (the client's private key), ssl.key.password */
    "ssl_key",    /* librdkafka's ssl_key */
    ".pem",       /* ssl.certificate.pem, ssl.ca.pem: PEM material, shown as *** too */
    "keystore",   /* ssl.keystore.password and friends */
};

/* Values that are key material whatever their key is called (PEM armour). */
static const char *const conf_secret_value_parts[] = {
    "-----BEGIN",
};

/* Whether `text` contains any of the n `parts` (case-insensitively for key names). */
static bool conf_contains_any(const char *text, const char *const *parts, size_t n, bool icase)
{
    for (size_t i = 0; text && i < n; i++)
        if (icase ? strcasestr(text, parts[i]) != NULL : strstr(text, parts[i]) != NULL)
            return true;
    return false;
}

static bool conf_name_is_secret(const char *name)
{
    return conf_contains_any(name, conf_secret_key_parts,
                             sizeof conf_secret_key_parts / sizeof conf_secret_key_parts[0], true);
}

/* Whether the value of `name` must never be shown as it is. */
static bool conf_is_secret(const char *name, const char *value)
{
    return conf_name_is_secret(name) ||
           conf_contains_any(value, conf_secret_value_parts,
                             sizeof conf_secret_value_parts / sizeof conf_secret_value_parts[0],
                             false);
}

/* Replace the password of conninfo `password=...` (also sslpassword, quoted values, URI query
 * parameters) and of URL user:password@ with "***". */
static void conf_mask_inline(const char *v, conf_str *s)
{
    size_t n = strlen(v), i = 0;

    while (i < n) {
        if (strncmp(v + i, "://", 3) == 0) {
            size_t start = i + 3, end = start;
            while (end < n && !strchr("/?# \t\n,", v[end]))
                end++;
            const char *at = memrchr(v + start, '@', end - start);
            const char *colon = at ? memchr(v + start, ':', (size_t)(at - (v + start))) : NULL;
            if (colon) {
                conf_str_append(s, v + i, (size_t)(colon + 1 - (v + i)));
                conf_str_puts(s, "***");
                i = (size_t)(at - v);
                continue;
            }
            conf_str_append(s, v + i, 3);
            i += 3;
            continue;
        }
        if (strncasecmp(v + i, "password", 8) == 0) {
            size_t j = i + 8;
            while (j < n && (v[j] == ' ' || v[j] == '\t'))
                j++;
            if (j < n && v[j] == '=') {
                j++;
                while (j < n && (v[j] == ' ' || v[j] == '\t'))
                    j++;
                conf_str_append(s, v + i, j - i);
                if (j < n && v[j] == '\'') {
                    j++;
                    while (j < n && v[j] != '\'') {
                        if (v[j] == '\\' && j + 1 < n)
                            j++;
                        j++;
                    }
                    if (j < n)
                        j++;
                } else {
                    while (j < n && !isspace((unsigned char)v[j]) && v[j] != '&')
                        j++;
                }
                conf_str_puts(s, "***");
                i = j;
                continue;
            }
        }
        conf_str_append(s, v + i, 1);
        i++;
    }
}

char *outbox_conf_mask(const char *name, const char *value)
{
    conf_str s = {0};

    if (value == NULL)
        return NULL;
    if (conf_is_secret(name, value))
        conf_str_puts(&s, "***");
    else
        conf_mask_inline(value, &s);
    return conf_str_take(&s);
}

/* ---------------------------------------------------------------------------------------- */
/* Loading.                                                                                  */

typedef enum conf_prev_kind {
    CONF_PREV_NONE,
    CONF_PREV_TABLE,
    CONF_PREV_KAFKA,
    CONF_PREV_SECTION,
} conf_prev_kind;

typedef struct conf_loader {
    const outbox_conf_spec *spec;
    void *target;
    outbox_conf *conf;
    char *errstr;
    size_t errstr_size;
    bool failed;

    /* ini reading state, kept by conf_ini_reader() */
    FILE *fp;
    const char *path;
    int line;
    size_t line_len;
    bool at_line_start;
    bool indented;
    bool section_seen; /* a "[...]" line since the previous key */

    bool value_from_file; /* the value being assigned was read from a KEY-file */
    bool via_alias;       /* the value being assigned was given under an alias */

    /* the previous key, for continuation lines */
    conf_prev_kind prev_kind;
    char *prev_section;
    char *prev_key;
    long prev_index;   /* def index, or item index */
    conf_str prev_raw; /* TABLE: the accumulated raw value */
    int prev_line;
} conf_loader;

__attribute__((format(printf, 2, 3))) static void conf_fail(conf_loader *ld, const char *fmt, ...)
{
    if (ld->failed)
        return;
    ld->failed = true;
    if (ld->errstr == NULL || ld->errstr_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->errstr, ld->errstr_size, fmt, ap);
    va_end(ap);
}

/* "at relay.ini:3" / "in environment variable X" / "in --set" / "in the table default" */
static void conf_where(const char *file, int line, char *out, size_t size)
{
    if (line > 0)
        snprintf(out, size, "at %s:%d", file, line);
    else
        snprintf(out, size, "in %s", file);
}

static int conf_set_origin(conf_loader *ld, long idx, const char *file, int line)
{
    char *origin;
    if (line > 0) {
        if (asprintf(&origin, "%s:%d", file, line) < 0)
            origin = NULL;
    } else {
        origin = strdup(strcmp(file, "the table default") == 0 ? "default" : file);
    }
    if (origin == NULL) {
        conf_fail(ld, "out of memory");
        return -1;
    }
    free(ld->conf->origins[idx]);
    ld->conf->origins[idx] = origin;
    return 0;
}

/* `value` relative to the directory of config file `file` (malloc'd; NULL when out of memory):
 * unchanged when it is empty or absolute, or when `file` names no directory. */
char *outbox_conf_path_from(const char *file, const char *value)
{
    const char *slash = strrchr(file, '/');
    char *path;

    if (value[0] == '\0' || value[0] == '/' || slash == NULL)
        return strdup(value);
    if (asprintf(&path, "%.*s/%s", (int)(slash - file), file, value) < 0)
        return NULL;
    return path;
}

static bool conf_from_user(const char *file, int line)
{
    return line > 0 || strcmp(file, "the table default") != 0;
}

/* A use of a deprecated spelling (idx), once per place it is given (a continuation line
 * re-assigns the same key). */
static int conf_note_deprecated(conf_loader *ld, long idx, const char *file, int line)
{
    const outbox_conf_def *def = &ld->spec->defs[idx];
    conf_items *list = &ld->conf->deprecated;
    for (size_t i = 0; i < list->count; i++) {
        const outbox_conf_item *item = &list->items[i];
        if (strcmp(item->section, def->name) == 0 && strcmp(item->file, file) == 0 &&
            item->line == line)
            return 0;
    }
    if (conf_items_add(list, def->name, def->replaced_by, "", file, line) != 0) {
        conf_fail(ld, "out of memory");
        return -1;
    }
    return 0;
}

static int conf_set_def(conf_loader *ld, long idx, const char *value, const char *file, int line);

/* A value given under alias idx goes to the key that replaced it. */
static int conf_set_alias(conf_loader *ld, long idx, const char *value, const char *file, int line)
{
    long target = conf_find_name(ld->spec->defs, ld->spec->defs[idx].replaced_by);
    if (conf_set_origin(ld, idx, file, line) != 0 || conf_note_deprecated(ld, idx, file, line))
        return -1;
    ld->conf->by_name[idx] = true;
    ld->via_alias = true;
    int rc = conf_set_def(ld, target, value, file, line);
    ld->via_alias = false;
    return rc;
}

/* Parse `value` for table entry idx and store it into the target. */
static int conf_set_def(conf_loader *ld, long idx, const char *value, const char *file, int line)
{
    const outbox_conf_def *def = &ld->spec->defs[idx];
    if (def->flags & OUTBOX_CONF_F_ALIAS)
        return conf_set_alias(ld, idx, value, file, line);
    void *field = conf_field(ld->target, def);
    conf_value v = {0};
    int rc = -1;
    char where[512];
    conf_str expected = {0};

    conf_where(file, line, where, sizeof where);
    switch (def->type) {
    case OUTBOX_CONF_STRING:
        rc = 0;
        break;
    case OUTBOX_CONF_INT:
        rc = conf_parse_int(value, &v.num);
        break;
    case OUTBOX_CONF_DURATION:
        rc = conf_parse_units(value, conf_duration_units, &v.num);
        break;
    case OUTBOX_CONF_SIZE:
        rc = conf_parse_size(value, &v.num);
        break;
    case OUTBOX_CONF_BOOL:
        rc = conf_parse_bool(value, &v.flag);
        break;
    case OUTBOX_CONF_ENUM:
        rc = conf_parse_enum(def->enums, value, &v.enum_value);
        break;
    }
    if (rc != 0) {
        conf_expected(def, &expected);
        conf_fail(ld, "invalid value '%s' for %s %s: expected %s", value, def->name, where,
                  expected.failed ? "?" : expected.data);
        goto out;
    }
    if (conf_has_range(def) && (v.num < def->min || v.num > def->max)) {
        conf_expected(def, &expected);
        conf_fail(ld, "value '%s' for %s %s is out of range: expected %s", value, def->name, where,
                  expected.failed ? "?" : expected.data);
        rc = -1;
        goto out;
    }
    rc = -1;
    if (def->type == OUTBOX_CONF_STRING) {
        v.str = (def->flags & OUTBOX_CONF_F_PATH) && line > 0 ? outbox_conf_path_from(file, value)
                                                              : strdup(value);
        if (v.str == NULL) {
            conf_fail(ld, "out of memory");
            goto out;
        }
        free(*(char **)field);
    }
    conf_field_store(field, def->type, &v);
    rc = conf_set_origin(ld, idx, file, line);
    ld->conf->from_file[idx] = ld->value_from_file;
    if (rc == 0 && conf_from_user(file, line) && !ld->via_alias) {
        ld->conf->by_name[idx] = true;
        if (def->flags & OUTBOX_CONF_F_DEPRECATED)
            rc = conf_note_deprecated(ld, idx, file, line);
    }
out:
    free(expected.data);
    return rc;
}

/* Set (or replace in place) kafka property `key`. */
static int conf_kafka_set(conf_loader *ld, const char *key, const char *value, const char *file,
                          int line)
{
    conf_items *list = &ld->conf->kafka;
    for (size_t i = 0; i < list->count; i++) {
        outbox_conf_item *item = &list->items[i];
        if (strcmp(item->key, key) != 0)
            continue;
        char *v = strdup(value), *f = strdup(file);
        if (v == NULL || f == NULL) {
            free(v);
            free(f);
            conf_fail(ld, "out of memory");
            return -1;
        }
        free((char *)item->value);
        free((char *)item->file);
        item->value = v;
        item->file = f;
        item->line = line;
        list->from_file[i] = ld->value_from_file;
        ld->prev_index = (long)i;
        return 0;
    }
    if (conf_items_add(list, CONF_KAFKA_SECTION, key, value, file, line) != 0) {
        conf_fail(ld, "out of memory");
        return -1;
    }
    list->from_file[list->count - 1] = ld->value_from_file;
    ld->prev_index = (long)list->count - 1;
    return 0;
}

static void conf_fail_unknown_key(conf_loader *ld, const char *section, const char *key,
                                  const char *file, int line)
{
    char where[512];
    const char *hint = conf_suggest_key(ld->spec->defs, section, key);

    conf_where(file, line, where, sizeof where);
    if (hint)
        conf_fail(ld, "unknown key '%s' in [%s] %s; did you mean '%s'?", key, section, where, hint);
    else
        conf_fail(ld, "unknown key '%s' in [%s] %s", key, section, where);
}

static int conf_assign_file(conf_loader *ld, const char *section, const char *key,
                            const char *value, const char *file, int line);

/* Is `key` a KEY-file indirection: it ends in "-file" and is not itself a key of the table? */
static bool conf_is_file_key(const outbox_conf_def *defs, const char *section, const char *key)
{
    size_t len = strlen(key), slen = strlen(CONF_FILE_SUFFIX);
    return len > slen && strcmp(key + len - slen, CONF_FILE_SUFFIX) == 0 &&
           conf_find_def(defs, section, key) < 0;
}

/* One (section, key, value) from any source but the environment's table keys. */
static int conf_assign(conf_loader *ld, const char *section, const char *key, const char *value,
                       const char *file, int line)
{
    char where[512];

    if (section[0] == '\0') {
        conf_where(file, line, where, sizeof where);
        conf_fail(ld, "key '%s' %s is outside any [section]", key, where);
        return -1;
    }
    if (key[0] == '\0') {
        conf_where(file, line, where, sizeof where);
        conf_fail(ld, "empty key in [%s] %s", section, where);
        return -1;
    }
    if (conf_is_file_key(ld->spec->defs, section, key))
        return conf_assign_file(ld, section, key, value, file, line);
    if (strcmp(section, CONF_KAFKA_SECTION) == 0) {
        ld->prev_kind = CONF_PREV_KAFKA;
        return conf_kafka_set(ld, key, value, file, line);
    }
    if (conf_section_known(ld->spec->defs, section)) {
        long idx = conf_find_def(ld->spec->defs, section, key);
        if (idx < 0) {
            conf_fail_unknown_key(ld, section, key, file, line);
            return -1;
        }
        ld->prev_kind = CONF_PREV_TABLE;
        ld->prev_index = idx;
        return conf_set_def(ld, idx, value, file, line);
    }
    if (conf_items_add(&ld->conf->sections, section, key, value, file, line) != 0) {
        conf_fail(ld, "out of memory");
        return -1;
    }
    ld->conf->sections.from_file[ld->conf->sections.count - 1] = ld->value_from_file;
    ld->prev_kind = CONF_PREV_SECTION;
    ld->prev_index = (long)ld->conf->sections.count - 1;
    return 0;
}

/* The content of file `path` as a value (malloc'd into *out): at most CONF_VALUE_FILE_MAX bytes,
 * no NUL byte, one trailing newline ("\n" or "\r\n") removed. 0, or -1 with err filled. */
/* `path` opened for reading if it is a regular file (a symbolic link to one is fine: Kubernetes
 * secrets, systemd credentials). A FIFO or a device is refused, not read: opening a FIFO waits
 * for a writer and reading one, a pipe or a terminal may never end, so the daemon would hang at
 * start (found by fuzz_config: a relative "-file = 4" next to a config at /proc/self/fd/N read
 * an inherited pipe). NULL with err filled. */
static FILE *conf_open_value_file(const char *path, char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        conf_errf(err, err_size, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        conf_errf(err, err_size,
                  "it is not a regular file (a FIFO, socket or device is not read: it could "
                  "block the start); put the value in a file");
        close(fd);
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    FILE *fp = NULL;
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
        (fp = fdopen(fd, "rb")) == NULL) {
        conf_errf(err, err_size, "%s", strerror(errno));
        close(fd);
    }
    return fp;
}

static int conf_read_value_file(const char *path, char **out, char *err, size_t err_size)
{
    int rc = -1;
    conf_str s = {0};
    char buf[4096];
    size_t n;
    FILE *fp = conf_open_value_file(path, err, err_size);

    *out = NULL;
    if (fp == NULL)
        return -1;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        if (memchr(buf, '\0', n) != NULL) {
            conf_errf(err, err_size, "it contains a NUL byte (a value is text)");
            goto out;
        }
        if (s.len + n > CONF_VALUE_FILE_MAX) {
            conf_errf(err, err_size, "it is larger than %d bytes", CONF_VALUE_FILE_MAX);
            goto out;
        }
        conf_str_append(&s, buf, n);
    }
    if (ferror(fp)) {
        conf_errf(err, err_size, "%s", strerror(errno));
        goto out;
    }
    *out = conf_str_take(&s);
    if (*out == NULL) {
        conf_errf(err, err_size, "out of memory");
        goto out;
    }
    n = strlen(*out);
    if (n > 0 && (*out)[n - 1] == '\n')
        (*out)[--n] = '\0';
    if (n > 0 && (*out)[n - 1] == '\r')
        (*out)[--n] = '\0';
    rc = 0;
out:
    free(s.data);
    fclose(fp);
    return rc;
}

/* `section.KEY-file = PATH`: assign PATH's content to section.KEY, remembered as read from a file
 * (print-config never shows it). A relative PATH in a config file is taken relative to that
 * file's directory; from the environment or --set it is used as given. */
static int conf_assign_file(conf_loader *ld, const char *section, const char *key,
                            const char *value, const char *file, int line)
{
    int rc = -1;
    char where[512], err[256];
    char *base = strndup(key, strlen(key) - strlen(CONF_FILE_SUFFIX));
    char *path = line > 0 ? outbox_conf_path_from(file, value) : strdup(value);
    char *content = NULL, *origin = NULL;

    if (base == NULL || path == NULL) {
        conf_fail(ld, "out of memory");
        goto out;
    }
    conf_where(file, line, where, sizeof where);
    if (path[0] == '\0') {
        conf_fail(ld, "%s.%s %s is empty: name the file that holds the value of %s.%s", section,
                  key, where, section, base);
        goto out;
    }
    if (conf_read_value_file(path, &content, err, sizeof err) != 0) {
        conf_fail(ld,
                  "cannot read %s (%s.%s %s): %s; the file must exist and be readable by "
                  "this process",
                  path, section, key, where, err);
        goto out;
    }
    if (asprintf(&origin, "%s (%s.%s %s)", path, section, key, where) < 0) {
        origin = NULL;
        conf_fail(ld, "out of memory");
        goto out;
    }
    ld->value_from_file = true;
    rc = conf_assign(ld, section, base, content, origin, 0);
    ld->value_from_file = false;
    ld->prev_kind = CONF_PREV_NONE; /* continuation lines do not extend a file's content */
out:
    free(origin);
    if (content) {
        explicit_bzero(content, strlen(content));
        free(content);
    }
    free(path);
    free(base);
    return rc;
}

/* fgets() for inih that counts physical lines and notes what inih needs for continuation. */
static char *conf_ini_reader(char *str, int num, void *stream)
{
    conf_loader *ld = stream;

    if (ld->failed)
        return NULL; /* stop at the first error */
    if (fgets(str, num, ld->fp) == NULL)
        return NULL;
    size_t n = strlen(str);
    if (ld->at_line_start) {
        ld->line++;
        ld->line_len = 0;
        ld->indented = str[0] == ' ' || str[0] == '\t';
        if (str[0] == '[')
            ld->section_seen = true;
    }
    ld->line_len += n;
    ld->at_line_start = n > 0 && str[n - 1] == '\n';
    if (ld->line_len - (ld->at_line_start ? 1 : 0) > OUTBOX_CONF_MAX_LINE) {
        conf_fail(ld, "line %d of %s is longer than %d bytes", ld->line, ld->path,
                  OUTBOX_CONF_MAX_LINE);
        return NULL;
    }
    return str;
}

static int conf_continue(conf_loader *ld, const char *value)
{
    switch (ld->prev_kind) {
    case CONF_PREV_TABLE:
        conf_str_puts(&ld->prev_raw, "\n");
        conf_str_puts(&ld->prev_raw, value);
        if (ld->prev_raw.failed) {
            conf_fail(ld, "out of memory");
            return -1;
        }
        return conf_set_def(ld, ld->prev_index, ld->prev_raw.data, ld->path, ld->prev_line);
    case CONF_PREV_KAFKA:
    case CONF_PREV_SECTION: {
        conf_items *list =
            ld->prev_kind == CONF_PREV_KAFKA ? &ld->conf->kafka : &ld->conf->sections;
        outbox_conf_item *item = &list->items[ld->prev_index];
        char *joined;
        if (asprintf(&joined, "%s\n%s", item->value, value) < 0) {
            conf_fail(ld, "out of memory");
            return -1;
        }
        free((char *)item->value);
        item->value = joined;
        return 0;
    }
    case CONF_PREV_NONE:
        break;
    }
    return 0;
}

static int conf_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    conf_loader *ld = user;

    if (ld->failed)
        return 1; /* a partial line after the error: ignore */
    bool continuation = ld->indented && !ld->section_seen && ld->prev_kind != CONF_PREV_NONE &&
                        ld->prev_section && strcmp(ld->prev_section, section) == 0 &&
                        strcmp(ld->prev_key, name) == 0;
    ld->section_seen = false;
    if (continuation)
        return conf_continue(ld, value) == 0;

    free(ld->prev_section);
    free(ld->prev_key);
    ld->prev_section = strdup(section);
    ld->prev_key = strdup(name);
    ld->prev_kind = CONF_PREV_NONE;
    ld->prev_line = ld->line;
    free(ld->prev_raw.data);
    memset(&ld->prev_raw, 0, sizeof ld->prev_raw);
    conf_str_puts(&ld->prev_raw, value);
    if (!ld->prev_section || !ld->prev_key || ld->prev_raw.failed) {
        conf_fail(ld, "out of memory");
        return 0;
    }
    return conf_assign(ld, section, name, value, ld->path, ld->line) == 0;
}

static int conf_load_ini(conf_loader *ld, const char *path)
{
    int rc = -1;
    /* inih's options are process-wide: save them, use a growable line buffer and continuation
     * lines for this parse, restore them afterwards. */
    bool saved_use_stack = ini_use_stack, saved_realloc = ini_allow_realloc;
    bool saved_multiline = ini_allow_multiline, saved_no_value = ini_allow_no_value;
    bool saved_stop = ini_stop_on_first_error;
    int saved_max_line = ini_max_line, saved_initial = ini_initial_alloc;

    ld->path = path;
    ld->fp = fopen(path, "r");
    if (ld->fp == NULL) {
        conf_fail(ld, "cannot open config file %s: %s", path, strerror(errno));
        goto out;
    }
    ld->line = 0;
    ld->at_line_start = true;

    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = OUTBOX_CONF_MAX_LINE + 16;
    ini_initial_alloc = 512;
    ini_allow_multiline = true;
    ini_allow_no_value = false;
    ini_stop_on_first_error = false;
    int parsed = ini_parse_stream(conf_ini_reader, ld, conf_ini_handler, ld);
    ini_use_stack = saved_use_stack;
    ini_allow_realloc = saved_realloc;
    ini_max_line = saved_max_line;
    ini_initial_alloc = saved_initial;
    ini_allow_multiline = saved_multiline;
    ini_allow_no_value = saved_no_value;
    ini_stop_on_first_error = saved_stop;

    if (ld->failed)
        goto out;
    if (ferror(ld->fp)) {
        conf_fail(ld, "cannot read config file %s", path);
        goto out;
    }
    if (parsed == -2) {
        conf_fail(ld, "out of memory reading %s", path);
        goto out;
    }
    if (parsed != 0) {
        conf_fail(ld, "syntax error at %s:%d: expected '[section]' or 'key = value'", path, parsed);
        goto out;
    }
    rc = 0;
out:
    if (ld->fp)
        fclose(ld->fp);
    ld->fp = NULL;
    ld->prev_kind = CONF_PREV_NONE;
    return rc;
}

static const char *conf_env_get(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (char *const *e = envp; *e; e++) {
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    }
    return NULL;
}

typedef struct conf_env_kafka {
    char *name;
    const char *value;
    char *var;
    bool from_file; /* <PREFIX>_KAFKA_<NAME>_FILE: value names a file */
} conf_env_kafka;

/* Is environment variable `name` the <VAR>_FILE form of a table key's variable? */
static bool conf_env_is_table_file(const outbox_conf_spec *spec, const char *name)
{
    char var[CONF_ENV_NAME_MAX];
    for (const outbox_conf_def *def = spec->defs; def->name; def++) {
        if (conf_env_name(spec->env_prefix, def->name, var, sizeof var) == 0 &&
            strncmp(name, var, strlen(var)) == 0 &&
            strcmp(name + strlen(var), CONF_ENV_FILE_SUFFIX) == 0)
            return true;
    }
    return false;
}

/* Table key idx from the file named by <var>_FILE, when that is set; an error when <var> is set
 * too (`also_plain`): which one was meant cannot be guessed. */
static int conf_load_env_file(conf_loader *ld, char *const *envp, long idx, const char *var,
                              bool also_plain)
{
    char name[CONF_ENV_NAME_MAX + 8], file[CONF_ENV_NAME_MAX + 40], key[CONF_ENV_NAME_MAX + 8];
    const char *def_name = ld->spec->defs[idx].name;
    size_t slen = conf_section_len(def_name);
    char section[CONF_ENV_NAME_MAX];

    snprintf(name, sizeof name, "%s%s", var, CONF_ENV_FILE_SUFFIX);
    const char *path = conf_env_get(envp, name);
    if (path == NULL)
        return 0;
    if (also_plain) {
        conf_fail(ld, "both %s and %s are set: keep one (%s names a file holding the value)", var,
                  name, name);
        return -1;
    }
    snprintf(section, sizeof section, "%.*s", (int)slen, def_name);
    snprintf(key, sizeof key, "%s%s", def_name + slen + 1, CONF_FILE_SUFFIX);
    snprintf(file, sizeof file, "environment variable %s", name);
    return conf_assign_file(ld, section, key, path, file, 0);
}

static int conf_env_kafka_cmp(const void *a, const void *b)
{
    return strcmp(((const conf_env_kafka *)a)->name, ((const conf_env_kafka *)b)->name);
}

/* Does env suffix `rest` ("POSTGRES_CONNINF") start with a known section's env form? */
static bool conf_env_in_known_section(const outbox_conf_def *defs, const char *rest)
{
    for (const outbox_conf_def *def = defs; def->name; def++) {
        char sec[CONF_ENV_NAME_MAX];
        size_t len = conf_section_len(def->name);
        if (len + 1 >= sizeof sec)
            continue;
        for (size_t i = 0; i < len; i++) {
            char c = def->name[i];
            sec[i] = (c == '.' || c == '-') ? '_' : (char)toupper((unsigned char)c);
        }
        sec[len] = '_';
        sec[len + 1] = '\0';
        if (strncmp(rest, sec, len + 1) == 0)
            return true;
    }
    return false;
}

static int conf_load_env(conf_loader *ld, char *const *envp)
{
    const outbox_conf_spec *spec = ld->spec;
    char name[CONF_ENV_NAME_MAX], file[CONF_ENV_NAME_MAX + 32];
    char prefix[CONF_ENV_NAME_MAX], kafka_prefix[CONF_ENV_NAME_MAX];
    conf_env_kafka *kafka = NULL;
    size_t nkafka = 0, cap = 0;
    int rc = -1;

    /* table keys, in table order; <VAR>_FILE names a file holding the value */
    for (long i = 0; spec->defs[i].name; i++) {
        if (conf_env_name(spec->env_prefix, spec->defs[i].name, name, sizeof name) != 0)
            continue; /* validated earlier */
        const char *value = conf_env_get(envp, name);
        if (value != NULL) {
            snprintf(file, sizeof file, "environment variable %s", name);
            if (conf_set_def(ld, i, value, file, 0) != 0)
                goto out;
        }
        if (conf_load_env_file(ld, envp, i, name, value != NULL) != 0)
            goto out;
    }

    /* kafka properties (sorted by name: the environment has no order), and typos */
    snprintf(prefix, sizeof prefix, "%s_", spec->env_prefix);
    snprintf(kafka_prefix, sizeof kafka_prefix, "%s_KAFKA_", spec->env_prefix);
    for (char *const *e = envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (eq == NULL || len >= sizeof name || strncmp(*e, prefix, strlen(prefix)) != 0)
            continue;
        memcpy(name, *e, len);
        name[len] = '\0';
        if (conf_env_is_table_file(spec, name))
            continue; /* read above */
        if (strncmp(name, kafka_prefix, strlen(kafka_prefix)) == 0 &&
            name[strlen(kafka_prefix)] != '\0') {
            if (nkafka == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                conf_env_kafka *grown = realloc(kafka, ncap * sizeof *grown);
                if (grown == NULL) {
                    conf_fail(ld, "out of memory");
                    goto out;
                }
                kafka = grown;
                cap = ncap;
            }
            conf_env_kafka *k = &kafka[nkafka];
            k->name = strdup(name + strlen(kafka_prefix));
            k->var = strdup(name);
            k->value = eq + 1;
            if (k->name == NULL || k->var == NULL) {
                free(k->name);
                free(k->var);
                conf_fail(ld, "out of memory");
                goto out;
            }
            nkafka++;
            size_t klen = strlen(k->name), slen = strlen(CONF_ENV_FILE_SUFFIX);
            k->from_file = klen > slen && strcmp(k->name + klen - slen, CONF_ENV_FILE_SUFFIX) == 0;
            if (k->from_file)
                k->name[klen - slen] = '\0';
            for (char *p = k->name; *p; p++)
                *p = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
            continue;
        }
        bool is_key = false;
        const char *best = NULL;
        size_t best_d = (size_t)-1;
        char cand[CONF_ENV_NAME_MAX];
        for (const outbox_conf_def *def = spec->defs; def->name; def++) {
            if (conf_env_name(spec->env_prefix, def->name, cand, sizeof cand) != 0)
                continue;
            if (strcmp(cand, name) == 0) {
                is_key = true;
                break;
            }
            size_t d = conf_distance(name + strlen(prefix), cand + strlen(prefix));
            if (d < best_d) {
                best_d = d;
                best = def->name;
            }
        }
        if (is_key || !conf_env_in_known_section(spec->defs, name + strlen(prefix)))
            continue;
        if (best && conf_close_enough(name + strlen(prefix), best_d) &&
            conf_env_name(spec->env_prefix, best, cand, sizeof cand) == 0)
            conf_fail(ld, "unknown environment variable %s; did you mean %s?", name, cand);
        else
            conf_fail(ld, "unknown environment variable %s", name);
        goto out;
    }
    if (nkafka > 1)
        qsort(kafka, nkafka, sizeof *kafka, conf_env_kafka_cmp);
    for (size_t i = 0; i < nkafka; i++) {
        snprintf(file, sizeof file, "environment variable %s", kafka[i].var);
        if (kafka[i].from_file) {
            char key[CONF_ENV_NAME_MAX + 8];
            snprintf(key, sizeof key, "%s%s", kafka[i].name, CONF_FILE_SUFFIX);
            if (conf_assign_file(ld, CONF_KAFKA_SECTION, key, kafka[i].value, file, 0) != 0)
                goto out;
        } else if (conf_kafka_set(ld, kafka[i].name, kafka[i].value, file, 0) != 0) {
            goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < nkafka; i++) {
        free(kafka[i].name);
        free(kafka[i].var);
    }
    free(kafka);
    return rc;
}

static int conf_load_sets(conf_loader *ld, const char *const *sets, size_t count)
{
    int rc = -1;
    char *copy = NULL;

    for (size_t i = 0; i < count; i++) {
        free(copy);
        copy = strdup(sets[i]);
        if (copy == NULL) {
            conf_fail(ld, "out of memory");
            goto out;
        }
        char *eq = strchr(copy, '=');
        if (eq)
            *eq = '\0';
        char *dot = strchr(copy, '.');
        if (eq == NULL || dot == NULL || dot == copy || dot[1] == '\0') {
            conf_fail(ld, "--set '%s': expected section.key=value", copy);
            goto out;
        }
        *dot = '\0';
        /* trim spaces around the key and the value, as the ini file does */
        char *key = dot + 1, *value = eq + 1;
        while (*key == ' ')
            key++;
        for (char *end = key + strlen(key); end > key && end[-1] == ' ';)
            *--end = '\0';
        while (*value == ' ')
            value++;
        if (conf_assign(ld, copy, key, value, "--set", 0) != 0)
            goto out;
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

/* An alias or deprecated entry names a key of the table with a field (not another alias). */
static int conf_check_replaced_by(conf_loader *ld, const outbox_conf_def *def)
{
    long target = def->replaced_by != NULL ? conf_find_name(ld->spec->defs, def->replaced_by) : -1;
    if (target < 0 || !conf_def_has_field(&ld->spec->defs[target]) ||
        ((def->flags & OUTBOX_CONF_F_ALIAS) && def->def != NULL)) {
        conf_fail(ld, "config table: '%s' is replaced by '%s', which is not a key of the table",
                  def->name, def->replaced_by ? def->replaced_by : "(none)");
        return -1;
    }
    return 0;
}

/* Programmer errors in the table, reported like config errors. */
static int conf_check_spec(conf_loader *ld)
{
    const outbox_conf_spec *spec = ld->spec;
    char env[CONF_ENV_NAME_MAX];

    if (spec == NULL || spec->defs == NULL || spec->env_prefix == NULL ||
        spec->env_prefix[0] == '\0') {
        conf_fail(ld, "config table: spec, defs and env_prefix are required");
        return -1;
    }
    for (const outbox_conf_def *def = spec->defs; def->name; def++) {
        size_t slen = conf_section_len(def->name);
        if (slen == 0 || def->name[slen + 1] == '\0') {
            conf_fail(ld, "config table: '%s' is not section.key", def->name);
            return -1;
        }
        if (slen == strlen(CONF_KAFKA_SECTION) &&
            strncmp(def->name, CONF_KAFKA_SECTION, slen) == 0) {
            conf_fail(ld, "config table: '%s' is in [kafka], which belongs to librdkafka",
                      def->name);
            return -1;
        }
        if ((def->flags & (OUTBOX_CONF_F_ALIAS | OUTBOX_CONF_F_DEPRECATED)) &&
            conf_check_replaced_by(ld, def) != 0)
            return -1;
        if (def->type > OUTBOX_CONF_ENUM) {
            conf_fail(ld, "config table: '%s' has an unknown type", def->name);
            return -1;
        }
        if (def->type != OUTBOX_CONF_STRING && def->def == NULL) {
            conf_fail(ld, "config table: '%s' needs a default", def->name);
            return -1;
        }
        if (def->type == OUTBOX_CONF_ENUM && (def->enums == NULL || def->enums[0].name == NULL)) {
            conf_fail(ld, "config table: '%s' has no enum values", def->name);
            return -1;
        }
        if (def->min > def->max) {
            conf_fail(ld, "config table: '%s' has min > max", def->name);
            return -1;
        }
        if (conf_env_name(spec->env_prefix, def->name, env, sizeof env) != 0) {
            conf_fail(ld, "config table: '%s' is too long", def->name);
            return -1;
        }
        for (const outbox_conf_def *prev = spec->defs; prev != def; prev++) {
            if (conf_env_same(prev->name, def->name)) {
                conf_fail(ld, "config table: '%s' and '%s' share the variable %s", prev->name,
                          def->name, env);
                return -1;
            }
        }
    }
    return 0;
}

static int conf_apply_defaults(conf_loader *ld)
{
    for (long i = 0; ld->spec->defs[i].name; i++) {
        const outbox_conf_def *def = &ld->spec->defs[i];
        if (!conf_def_has_field(def))
            continue;
        /* the target's fields hold nothing yet: zero them, freeing nothing */
        conf_field_store(conf_field(ld->target, def), def->type, &(conf_value){0});
    }
    for (long i = 0; ld->spec->defs[i].name; i++) {
        const outbox_conf_def *def = &ld->spec->defs[i];
        if (def->def == NULL || !conf_def_has_field(def)) {
            if (conf_set_origin(ld, i, "the table default", 0) != 0)
                return -1;
            continue;
        }
        if (conf_set_def(ld, i, def->def, "the table default", 0) != 0)
            return -1;
    }
    return 0;
}

static int conf_check_required(conf_loader *ld)
{
    char env[CONF_ENV_NAME_MAX];

    for (const outbox_conf_def *def = ld->spec->defs; def->name; def++) {
        if (def->type != OUTBOX_CONF_STRING || !(def->flags & OUTBOX_CONF_F_REQUIRED))
            continue;
        const char *v = *(char *const *)conf_field(ld->target, def);
        if (v != NULL && v[0] != '\0')
            continue;
        size_t slen = conf_section_len(def->name);
        if (conf_env_name(ld->spec->env_prefix, def->name, env, sizeof env) != 0)
            env[0] = '\0';
        conf_fail(ld, "%s is required: set %s in [%.*s], or %s, or --set %s=...", def->name,
                  def->name + slen + 1, (int)slen, def->name, env, def->name);
        return -1;
    }
    return 0;
}

static int conf_check_sections(conf_loader *ld, void *opaque)
{
    const conf_items *list = &ld->conf->sections;
    char where[512], hint[128];

    if (list->count == 0 && ld->spec->on_sections == NULL)
        return 0;
    if (ld->spec->on_sections == NULL) {
        const outbox_conf_item *item = &list->items[0];
        conf_where(item->file, item->line, where, sizeof where);
        if (outbox_conf_suggest_section(ld->spec->defs, item->section, hint, sizeof hint))
            conf_fail(ld, "unknown section [%s] %s; did you mean [%s]?", item->section, where,
                      hint);
        else
            conf_fail(ld, "unknown section [%s] %s", item->section, where);
        return -1;
    }
    if (ld->errstr && ld->errstr_size)
        ld->errstr[0] = '\0';
    if (ld->spec->on_sections(ld->target, list->items, list->count, opaque, ld->errstr,
                              ld->errstr_size) != 0) {
        if (ld->errstr && ld->errstr_size && ld->errstr[0] == '\0')
            conf_errf(ld->errstr, ld->errstr_size, "configuration rejected (sections hook)");
        ld->failed = true;
        return -1;
    }
    return 0;
}

/* An old spelling and the key that replaced it, both set by the user: which one was meant
 * cannot be guessed. */
static int conf_check_replaced(conf_loader *ld)
{
    const outbox_conf *conf = ld->conf;
    for (size_t i = 0; i < conf->ndefs; i++) {
        const outbox_conf_def *def = &ld->spec->defs[i];
        if (!(def->flags & (OUTBOX_CONF_F_ALIAS | OUTBOX_CONF_F_DEPRECATED)) || !conf->by_name[i])
            continue;
        long t = conf_find_name(ld->spec->defs, def->replaced_by);
        if (!conf->by_name[t])
            continue;
        conf_fail(ld,
                  "both %s (%s) and %s (%s) are set: keep %s and remove %s, its deprecated "
                  "spelling",
                  def->name, conf->origins[i], def->replaced_by, conf->origins[t], def->replaced_by,
                  def->name);
        return -1;
    }
    return 0;
}

/* A key whose value the daemon's finalize builds from deprecated keys (http.listen from
 * http.enabled/bind/port) takes its origin from them, so print-config and error messages say
 * where the user set it, not "default": "<origin> (<old key>)", several joined by ", ". Its
 * replacement cannot be set by name as well (conf_check_replaced). A value read from a KEY-file
 * keeps the replacement masked too. */
static int conf_origin_from_deprecated(conf_loader *ld)
{
    outbox_conf *conf = ld->conf;
    for (size_t i = 0; i < conf->ndefs; i++) {
        const outbox_conf_def *def = &ld->spec->defs[i];
        if (!(def->flags & OUTBOX_CONF_F_DEPRECATED) || !conf->by_name[i])
            continue;
        long t = conf_find_name(ld->spec->defs, def->replaced_by);
        bool first = strcmp(conf->origins[t], "default") == 0;
        conf_str s = {0};
        if (!first)
            conf_str_printf(&s, "%s, ", conf->origins[t]);
        conf_str_printf(&s, "%s (%s)", conf->origins[i], def->name);
        char *origin = conf_str_take(&s);
        if (origin == NULL) {
            conf_fail(ld, "out of memory");
            return -1;
        }
        free(conf->origins[t]);
        conf->origins[t] = origin;
        conf->from_file[t] = conf->from_file[t] || conf->from_file[i];
    }
    return 0;
}

int outbox_conf_load(const outbox_conf_spec *spec, void *target, const outbox_conf_sources *src,
                     void *opaque, outbox_conf **confp, char *errstr, size_t errstr_size)
{
    int rc = -1;
    conf_loader ld = {.spec = spec, .target = target, .errstr = errstr, .errstr_size = errstr_size};
    bool target_touched = false;

    if (confp == NULL || target == NULL) {
        conf_errf(errstr, errstr_size, "outbox_conf_load: target and confp are required");
        return -1;
    }
    *confp = NULL;
    if (conf_check_spec(&ld) != 0)
        goto out;
    ld.conf = calloc(1, sizeof *ld.conf);
    if (ld.conf == NULL) {
        conf_fail(&ld, "out of memory");
        goto out;
    }
    ld.conf->spec = spec;
    while (spec->defs[ld.conf->ndefs].name)
        ld.conf->ndefs++;
    ld.conf->origins = calloc(ld.conf->ndefs + 1, sizeof *ld.conf->origins);
    ld.conf->from_file = calloc(ld.conf->ndefs + 1, sizeof *ld.conf->from_file);
    ld.conf->by_name = calloc(ld.conf->ndefs + 1, sizeof *ld.conf->by_name);
    if (ld.conf->origins == NULL || ld.conf->from_file == NULL || ld.conf->by_name == NULL) {
        conf_fail(&ld, "out of memory");
        goto out;
    }

    target_touched = true;
    if (conf_apply_defaults(&ld) != 0)
        goto out;
    if (src && src->path && conf_load_ini(&ld, src->path) != 0)
        goto out;
    if (src && src->envp && conf_load_env(&ld, src->envp) != 0)
        goto out;
    if (src && src->set_count && conf_load_sets(&ld, src->sets, src->set_count) != 0)
        goto out;
    if (conf_check_replaced(&ld) != 0)
        goto out;
    if (conf_origin_from_deprecated(&ld) != 0)
        goto out;
    if (conf_check_sections(&ld, opaque) != 0)
        goto out;
    if (conf_check_required(&ld) != 0)
        goto out;
    if (spec->finalize) {
        if (errstr && errstr_size)
            errstr[0] = '\0';
        if (spec->finalize(target, ld.conf, opaque, errstr, errstr_size) != 0) {
            if (errstr && errstr_size && errstr[0] == '\0')
                conf_errf(errstr, errstr_size, "configuration rejected (finalize)");
            goto out;
        }
    }
    *confp = ld.conf;
    ld.conf = NULL;
    rc = 0;
out:
    free(ld.prev_section);
    free(ld.prev_key);
    free(ld.prev_raw.data);
    outbox_conf_destroy(ld.conf);
    if (rc != 0 && target_touched)
        outbox_conf_free(spec->defs, target);
    return rc;
}

void outbox_conf_free(const outbox_conf_def *defs, void *target)
{
    if (defs == NULL || target == NULL)
        return;
    for (const outbox_conf_def *def = defs; def->name; def++) {
        if (def->type != OUTBOX_CONF_STRING || !conf_def_has_field(def))
            continue;
        char **field = conf_field(target, def);
        free(*field);
        *field = NULL;
    }
}

void outbox_conf_destroy(outbox_conf *conf)
{
    if (conf == NULL)
        return;
    if (conf->origins) {
        for (size_t i = 0; i < conf->ndefs; i++)
            free(conf->origins[i]);
        free(conf->origins);
    }
    free(conf->from_file);
    free(conf->by_name);
    conf_items_free(&conf->kafka);
    conf_items_free(&conf->deprecated);
    conf_items_free(&conf->sections);
    free(conf);
}

const outbox_conf_item *outbox_conf_kafka(const outbox_conf *conf, size_t *countp)
{
    *countp = conf->kafka.count;
    return conf->kafka.items;
}

const char *outbox_conf_kafka_get(const outbox_conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->kafka.count; i++) {
        if (strcmp(conf->kafka.items[i].key, name) == 0)
            return conf->kafka.items[i].value;
    }
    return NULL;
}

int outbox_conf_require_bootstrap(const outbox_conf *conf, char *errstr, size_t errstr_size)
{
    if (outbox_conf_kafka_get(conf, "bootstrap.servers") != NULL)
        return 0;
    conf_errf(errstr, errstr_size,
              "kafka.bootstrap.servers is not set: add it under [kafka] in the config file or set "
              "%s_KAFKA_BOOTSTRAP_SERVERS=host:port",
              conf->spec->env_prefix);
    return -1;
}

const outbox_conf_item *outbox_conf_deprecated(const outbox_conf *conf, size_t *countp)
{
    *countp = conf->deprecated.count;
    return conf->deprecated.items;
}

void outbox_conf_log_deprecated(const outbox_conf *conf, const char *component)
{
    char where[512];
    for (size_t i = 0; i < conf->deprecated.count; i++) {
        const outbox_conf_item *item = &conf->deprecated.items[i];
        conf_where(item->file, item->line, where, sizeof where);
        outbox_log(OUTBOX_LOG_WARN, component, NULL,
                   "configuration: %s %s is deprecated, use %s instead (the old name is accepted "
                   "until the next release)",
                   item->section, where, item->key);
    }
}

const outbox_conf_item *outbox_conf_sections(const outbox_conf *conf, size_t *countp)
{
    *countp = conf->sections.count;
    return conf->sections.items;
}

const char *outbox_conf_origin(const outbox_conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->ndefs; i++) {
        if (strcmp(conf->spec->defs[i].name, name) == 0)
            return conf->origins[i];
    }
    return NULL;
}

/* The [kafka] list into rk_conf; with `only_for`, the keys librdkafka lists as the other
 * client kind's are left out. */
static int kafka_apply(const outbox_conf *conf, rd_kafka_conf_t *rk_conf, bool only_for,
                       rd_kafka_type_t type, char *errstr, size_t errstr_size)
{
    char rk_err[512];
    char where[512];

    /* Every client of the daemons is configured here: its own log lines go through ours. */
    outbox_kafka_log_to_outbox(rk_conf);
    for (size_t i = 0; i < conf->kafka.count; i++) {
        const outbox_conf_item *item = &conf->kafka.items[i];
        if (only_for && !outbox_kafka_property_for(item->key, type))
            continue;
        rk_err[0] = '\0';
        if (rd_kafka_conf_set(rk_conf, item->key, item->value, rk_err, sizeof rk_err) ==
            RD_KAFKA_CONF_OK)
            continue;
        if (item->line > 0)
            snprintf(where, sizeof where, "%s:%d", item->file, item->line);
        else
            snprintf(where, sizeof where, "%s", item->file);
        if (conf_is_secret(item->key, item->value))
            conf_errf(errstr, errstr_size,
                      "kafka.%s (%s): librdkafka refused the value (not shown: a secret)",
                      item->key, where);
        else
            conf_errf(errstr, errstr_size, "kafka.%s (%s): %s", item->key, where, rk_err);
        return -1;
    }
    return 0;
}

int outbox_conf_kafka_apply(const outbox_conf *conf, rd_kafka_conf_t *rk_conf, char *errstr,
                            size_t errstr_size)
{
    return kafka_apply(conf, rk_conf, false, RD_KAFKA_PRODUCER, errstr, errstr_size);
}

int outbox_conf_kafka_apply_for(const outbox_conf *conf, rd_kafka_conf_t *rk_conf,
                                rd_kafka_type_t type, char *errstr, size_t errstr_size)
{
    return kafka_apply(conf, rk_conf, true, type, errstr, errstr_size);
}

bool outbox_conf_is_set(const outbox_conf *conf, const char *name)
{
    const char *kafka = CONF_KAFKA_SECTION ".";
    if (strncmp(name, kafka, strlen(kafka)) == 0)
        return outbox_conf_kafka_get(conf, name + strlen(kafka)) != NULL;
    const char *origin = outbox_conf_origin(conf, name);
    return origin != NULL && strcmp(origin, "default") != 0;
}

int outbox_conf_kafka_apply_defaults(const outbox_conf *conf, rd_kafka_conf_t *rk_conf,
                                     const outbox_conf_kafka_default *defaults, char *errstr,
                                     size_t errstr_size)
{
    char rk_err[512];

    for (const outbox_conf_kafka_default *d = defaults; d->name != NULL; d++) {
        if (conf != NULL && outbox_conf_kafka_get(conf, d->name) != NULL)
            continue; /* the user's value, applied unchanged by outbox_conf_kafka_apply */
        rk_err[0] = '\0';
        if (rd_kafka_conf_set(rk_conf, d->name, d->value, rk_err, sizeof rk_err) !=
            RD_KAFKA_CONF_OK) {
            conf_errf(errstr, errstr_size, "built-in default kafka.%s=%s: %s", d->name, d->value,
                      rk_err);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Help, Markdown, dump.                                                                     */

static void conf_default_text(const outbox_conf_def *def, conf_str *s)
{
    if (def->def == NULL)
        conf_str_puts(s, def->flags & OUTBOX_CONF_F_REQUIRED ? "(required)" : "(none)");
    else if (def->type == OUTBOX_CONF_STRING)
        conf_str_printf(s, "\"%s\"", def->def);
    else
        conf_str_puts(s, def->def);
}

/* The old spellings still accepted, with their replacements. */
static void conf_help_deprecated(const outbox_conf_spec *spec, conf_str *s)
{
    char env[CONF_ENV_NAME_MAX];
    bool first = true;
    for (const outbox_conf_def *def = spec->defs; def->name; def++) {
        if (!(def->flags & (OUTBOX_CONF_F_ALIAS | OUTBOX_CONF_F_DEPRECATED)))
            continue;
        if (first)
            conf_str_puts(s, "\nDeprecated spellings, accepted with a warning until the next "
                             "release (setting one and its replacement is an error):\n");
        first = false;
        conf_str_printf(s, "  %s  -> %s", def->name, def->replaced_by);
        if (conf_env_name(spec->env_prefix, def->name, env, sizeof env) == 0)
            conf_str_printf(s, "  (env %s)", env);
        conf_str_puts(s, "\n");
    }
}

char *outbox_conf_help(const outbox_conf_spec *spec)
{
    conf_str s = {0};
    char env[CONF_ENV_NAME_MAX], range[80];

    conf_str_printf(&s,
                    "Configuration of %s. Each key is section.key: in the ini file, key = value "
                    "under [section].\n"
                    "Later sources win: defaults, ini file, environment, --set "
                    "section.key=value.\n"
                    "Durations: 250ms, 10s, 5m, 1h (plain number = milliseconds). Sizes: "
                    "512kB, 64MB, 1GB (1kB = 1024 bytes).\n"
                    "Any key, [kafka] keys too, may come from a file: KEY-file = PATH (env "
                    "<VAR>_FILE=PATH, --set section.KEY-file=PATH)\n"
                    "reads the value from PATH (one trailing newline dropped; relative to the "
                    "config file's directory);\n"
                    "print-config shows such values as ***.\n\n",
                    spec->program ? spec->program : "this program");
    for (const outbox_conf_def *def = spec->defs; def->name; def++) {
        if (def->flags & (OUTBOX_CONF_F_ALIAS | OUTBOX_CONF_F_DEPRECATED))
            continue; /* listed at the end */
        conf_str_printf(&s, "  %s  (%s", def->name, conf_type_name(def->type));
        if (def->type == OUTBOX_CONF_ENUM) {
            conf_str_puts(&s, ": ");
            conf_enum_list(def->enums, "|", &s);
        }
        conf_str_puts(&s, ", default ");
        conf_default_text(def, &s);
        conf_format_range(def, range, sizeof range);
        if (range[0])
            conf_str_printf(&s, ", range %s", range);
        if (def->flags & OUTBOX_CONF_F_REQUIRED)
            conf_str_puts(&s, ", required");
        conf_str_puts(&s, ")\n");
        if (def->doc)
            conf_str_printf(&s, "      %s\n", def->doc);
        if (conf_env_name(spec->env_prefix, def->name, env, sizeof env) == 0)
            conf_str_printf(&s, "      env %s\n", env);
    }
    conf_str_printf(&s,
                    "\n  [kafka]  any key is passed to librdkafka unchanged (e.g. "
                    "bootstrap.servers)\n"
                    "      env %s_KAFKA_<NAME>, '_' -> '.' (%s_KAFKA_BOOTSTRAP_SERVERS -> "
                    "bootstrap.servers)\n",
                    spec->env_prefix, spec->env_prefix);
    conf_help_deprecated(spec, &s);
    return conf_str_take(&s);
}

/* Markdown table cell text: '|' escaped, newlines as spaces. */
static void conf_md_cell(conf_str *s, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            conf_str_puts(s, "\\|");
        else if (*p == '\n')
            conf_str_puts(s, " ");
        else
            conf_str_append(s, p, 1);
    }
}

static void conf_md_deprecated(const outbox_conf_spec *spec, const outbox_conf_def *def,
                               conf_str *s)
{
    char env[CONF_ENV_NAME_MAX];
    conf_str_printf(s, "| `%s` | deprecated | | | ", def->name);
    if (conf_env_name(spec->env_prefix, def->name, env, sizeof env) == 0)
        conf_str_printf(s, "`%s`", env);
    conf_str_printf(s,
                    " | old spelling of `%s`, accepted with a warning until the next release |\n",
                    def->replaced_by);
}

char *outbox_conf_markdown(const outbox_conf_spec *spec)
{
    conf_str s = {0}, cell = {0};
    char env[CONF_ENV_NAME_MAX], range[80];

    conf_str_puts(&s, "| Key | Type | Default | Range | Environment | Description |\n"
                      "|---|---|---|---|---|---|\n");
    for (const outbox_conf_def *def = spec->defs; def->name; def++) {
        if (def->flags & (OUTBOX_CONF_F_ALIAS | OUTBOX_CONF_F_DEPRECATED)) {
            conf_md_deprecated(spec, def, &s);
            continue;
        }
        conf_str_printf(&s, "| `%s` | %s", def->name, conf_type_name(def->type));
        if (def->type == OUTBOX_CONF_ENUM) {
            conf_str_puts(&s, ": ");
            conf_enum_list(def->enums, ", ", &s);
        }
        conf_str_puts(&s, " | ");
        if (def->def != NULL && def->def[0] != '\0') {
            conf_str_puts(&s, "`");
            conf_md_cell(&s, def->def);
            conf_str_puts(&s, "`");
        } else {
            free(cell.data);
            memset(&cell, 0, sizeof cell);
            conf_default_text(def, &cell);
            conf_md_cell(&s, cell.failed ? "?" : cell.data);
        }
        conf_format_range(def, range, sizeof range);
        conf_str_printf(&s, " | %s | ", range);
        if (conf_env_name(spec->env_prefix, def->name, env, sizeof env) == 0)
            conf_str_printf(&s, "`%s`", env);
        conf_str_puts(&s, " | ");
        conf_md_cell(&s, def->doc ? def->doc : "");
        conf_str_puts(&s, " |\n");
    }
    conf_str_printf(&s,
                    "| `kafka.*` | string | | | `%s_KAFKA_<NAME>` (`_` -> `.`) | "
                    "passed to librdkafka unchanged |\n",
                    spec->env_prefix);
    free(cell.data);
    return conf_str_take(&s);
}

static void conf_dump_value(const outbox_conf_def *def, const void *target, conf_str *s)
{
    const void *field = conf_field_const(target, def);
    char num[64];

    switch (def->type) {
    case OUTBOX_CONF_STRING: {
        const char *v = *(char *const *)field;
        if (v == NULL) {
            conf_str_puts(s, "(unset)");
        } else if ((def->flags & OUTBOX_CONF_F_SECRET) || conf_is_secret(def->name, v)) {
            conf_str_puts(s, "***");
        } else {
            conf_mask_inline(v, s);
        }
        break;
    }
    case OUTBOX_CONF_INT:
    case OUTBOX_CONF_DURATION:
    case OUTBOX_CONF_SIZE:
        conf_format_number(def, *(const int64_t *)field, num, sizeof num);
        conf_str_puts(s, num);
        break;
    case OUTBOX_CONF_BOOL:
        conf_str_puts(s, *(const bool *)field ? "true" : "false");
        break;
    case OUTBOX_CONF_ENUM: {
        int v = *(const int *)field;
        const char *name = "?";
        for (const outbox_conf_enum *e = def->enums; e && e->name; e++) {
            if (e->value == v) {
                name = e->name;
                break;
            }
        }
        conf_str_puts(s, name);
        break;
    }
    }
}

char *outbox_conf_dump(const outbox_conf *conf, const void *target)
{
    conf_str s = {0};

    for (size_t i = 0; i < conf->ndefs; i++) {
        const outbox_conf_def *def = &conf->spec->defs[i];
        if (def->flags & (OUTBOX_CONF_F_ALIAS | OUTBOX_CONF_F_DEPRECATED))
            continue; /* their values are in the keys that replaced them */
        conf_str_printf(&s, "%s = ", def->name);
        if (conf->from_file[i])
            conf_str_puts(&s, "***"); /* read from a KEY-file: a secret by choice */
        else
            conf_dump_value(def, target, &s);
        conf_str_printf(&s, "  # %s\n", conf->origins[i] ? conf->origins[i] : "default");
    }
    for (size_t i = 0; i < conf->kafka.count; i++) {
        const outbox_conf_item *item = &conf->kafka.items[i];
        conf_str_printf(&s, "kafka.%s = ", item->key);
        if (conf->kafka.from_file[i] || conf_is_secret(item->key, item->value))
            conf_str_puts(&s, "***");
        else
            conf_mask_inline(item->value, &s);
        if (item->line > 0)
            conf_str_printf(&s, "  # %s:%d\n", item->file, item->line);
        else
            conf_str_printf(&s, "  # %s\n", item->file);
    }
    return conf_str_take(&s);
}
