#include "avro_text.h"
#include "avro_schema.h"
#include "errstr.h"
#include "hex.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void outbox_avro_scratch_init(outbox_avro_scratch *scratch, unsigned flags)
{
    memset(scratch, 0, sizeof(*scratch));
    scratch->flags = flags;
}

void outbox_avro_scratch_free(outbox_avro_scratch *scratch)
{
    unsigned flags;

    if (scratch == NULL)
        return;
    flags = scratch->flags;
    free(scratch->toks);
    free(scratch->str);
    free(scratch->marks);
    free(scratch->num);
    outbox_avro_scratch_init(scratch, flags);
}

/* Grow an array to hold at least `need` elements of `size` bytes; 0 or -1. */
static int grow(void **data, size_t *cap, size_t need, size_t size)
{
    size_t cap2 = *cap ? *cap : 16;
    void *data2;

    while (cap2 < need) {
        if (cap2 > SIZE_MAX / 2 / size)
            return -1;
        cap2 *= 2;
    }
    data2 = realloc(*data, cap2 * size);
    if (data2 == NULL)
        return -1;
    *data = data2;
    *cap = cap2;
    return 0;
}

/* ---- tokenizer ---------------------------------------------------------------------------- */

enum tok_fail { TOK_SYNTAX = 1, TOK_NOMEM = 2, TOK_LIMIT = 3 };

/* Bytes a string may hold without a closer look: printable ASCII other than '"' and '\\'. */
static const uint8_t plain_byte[256] = {
    /* 0x00-0x1f: control characters */
    ['\x20'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1,    ['\''] = 1, ['('] = 1,
    [')'] = 1,    ['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1,    ['/'] = 1,  ['0'] = 1,
    ['1'] = 1,    ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,    ['7'] = 1,  ['8'] = 1,
    ['9'] = 1,    [':'] = 1, [';'] = 1, ['<'] = 1, ['='] = 1, ['>'] = 1,    ['?'] = 1,  ['@'] = 1,
    ['A'] = 1,    ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,    ['G'] = 1,  ['H'] = 1,
    ['I'] = 1,    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,    ['O'] = 1,  ['P'] = 1,
    ['Q'] = 1,    ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,    ['W'] = 1,  ['X'] = 1,
    ['Y'] = 1,    ['Z'] = 1, ['['] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1,    ['`'] = 1,  ['a'] = 1,
    ['b'] = 1,    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,    ['h'] = 1,  ['i'] = 1,
    ['j'] = 1,    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,    ['p'] = 1,  ['q'] = 1,
    ['r'] = 1,    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,    ['x'] = 1,  ['y'] = 1,
    ['z'] = 1,    ['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1, ['\x7f'] = 1,
};

/* Length of the valid UTF-8 sequence of 2-4 bytes at p (jansson's rules: no overlong forms,
 * no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint32_t cp;
    size_t n;
    size_t i;

    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        cp = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        cp = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const uint8_t *p, const uint8_t *end, uint32_t *value)
{
    uint32_t v = 0;
    int i;

    if (end - p < 4)
        return 0;
    for (i = 0; i < 4; i++) {
        int d = outbox_hex_digit(p[i]);

        if (d < 0)
            return 0;
        v = v << 4 | (uint32_t)d;
    }
    *value = v;
    return 1;
}

struct tokenizer {
    outbox_avro_scratch *scratch;
    const uint8_t *start;
    const uint8_t *end;
    size_t fail_at;
};

static int tok_fail(struct tokenizer *tz, const uint8_t *p)
{
    tz->fail_at = (size_t)(p - tz->start);
    return TOK_SYNTAX;
}

/*
 * The string whose opening quote is at *pp; on success *pp is past the closing quote and the
 * token's start/len/escaped are set. `key`: a NUL is never allowed.
 */
static int scan_string(struct tokenizer *tz, const uint8_t **pp, outbox_avro_token *tok, int key)
{
    outbox_avro_scratch *scratch = tz->scratch;
    const uint8_t *p = *pp + 1;
    const uint8_t *begin = p;
    const uint8_t *end = tz->end;
    size_t n;
    char *out;

    for (;;) {
        while (p < end && plain_byte[*p])
            p++;
        if (p == end)
            return tok_fail(tz, p);
        if (*p == '"') {
            tok->start = (uint32_t)(begin - tz->start);
            tok->len = (uint32_t)(p - begin);
            tok->escaped = 0;
            *pp = p + 1;
            return 0;
        }
        if (*p == '\\')
            break;
        if (*p < 0x80)
            return tok_fail(tz, p); /* control character */
        n = utf8_seq(p, end);
        if (n == 0)
            return tok_fail(tz, p);
        p += n;
    }
    /* Escapes: decode into the scratch. The decoded string is never longer than its text. */
    if (scratch->str_cap - scratch->str_len < (size_t)(end - begin) &&
        grow((void **)&scratch->str, &scratch->str_cap, scratch->str_len + (size_t)(end - begin),
             1) != 0)
        return TOK_NOMEM;
    out = scratch->str + scratch->str_len;
    memcpy(out, begin, (size_t)(p - begin));
    out += p - begin;
    for (;;) {
        uint8_t c;

        if (p == end)
            return tok_fail(tz, p);
        c = *p;
        if (c == '"')
            break;
        if (plain_byte[c]) {
            *out++ = (char)c;
            p++;
        } else if (c == '\\') {
            uint32_t cp;
            uint32_t low;

            if (end - p < 2)
                return tok_fail(tz, p);
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
                *out++ = (char)p[1];
                p += 2;
                continue;
            case 'b':
                *out++ = '\b';
                p += 2;
                continue;
            case 'f':
                *out++ = '\f';
                p += 2;
                continue;
            case 'n':
                *out++ = '\n';
                p += 2;
                continue;
            case 'r':
                *out++ = '\r';
                p += 2;
                continue;
            case 't':
                *out++ = '\t';
                p += 2;
                continue;
            case 'u':
                break;
            default:
                return tok_fail(tz, p);
            }
            if (!hex4(p + 2, end, &cp))
                return tok_fail(tz, p);
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &low) ||
                    low < 0xDC00 || low > 0xDFFF)
                    return tok_fail(tz, p);
                p += 6;
                cp = ((cp - 0xD800) << 10) + (low - 0xDC00) + 0x10000;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return tok_fail(tz, p);
            }
            if (cp == 0 && (key || !(scratch->flags & OUTBOX_AVRO_TEXT_ALLOW_NUL)))
                return tok_fail(tz, p);
            if (cp < 0x80) {
                *out++ = (char)cp;
            } else if (cp < 0x800) {
                *out++ = (char)(0xC0 | (cp >> 6));
                *out++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *out++ = (char)(0xE0 | (cp >> 12));
                *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *out++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *out++ = (char)(0xF0 | (cp >> 18));
                *out++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *out++ = (char)(0x80 | (cp & 0x3F));
            }
        } else if (c < 0x80) {
            return tok_fail(tz, p); /* control character */
        } else {
            n = utf8_seq(p, end);
            if (n == 0)
                return tok_fail(tz, p);
            memcpy(out, p, n);
            out += n;
            p += n;
        }
    }
    tok->start = (uint32_t)scratch->str_len;
    tok->len = (uint32_t)(out - (scratch->str + scratch->str_len));
    tok->escaped = 1;
    scratch->str_len += tok->len;
    *pp = p + 1;
    return 0;
}

/* strtod of `len` bytes of number text, the way jansson does it (locale's decimal point). */
static int number_strtod(outbox_avro_scratch *scratch, const char *s, size_t len, double *value,
                         int *overflow)
{
    char local[64];
    char *text = local;
    const char *point;
    char *dot;

    if (len >= sizeof(local)) {
        if (scratch->num_cap < len + 1 &&
            grow((void **)&scratch->num, &scratch->num_cap, len + 1, 1) != 0)
            return -1;
        text = scratch->num;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    point = localeconv()->decimal_point;
    if (*point != '.') {
        dot = strchr(text, '.');
        if (dot != NULL)
            *dot = *point;
    }
    errno = 0;
    *value = strtod(text, NULL);
    *overflow = (*value == HUGE_VAL || *value == -HUGE_VAL) && errno == ERANGE;
    return 0;
}

/*
 * The number at *pp (jansson's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
 * An integer beyond int64 or a real beyond a double's range (PostgreSQL's jsonb prints 1e19 as
 * twenty digits) is a BIGNUM: still JSON, though jansson refuses the whole document for it.
 */
static int scan_number(struct tokenizer *tz, const uint8_t **pp, outbox_avro_token *tok)
{
    const uint8_t *s = *pp;
    const uint8_t *p = s;
    const uint8_t *end = tz->end;
    const uint8_t *digits;
    size_t int_digits;
    int real = 0;
    long exp10 = 0;
    int exp_neg = 0;

    if (*p == '-')
        p++;
    digits = p;
    if (p == end)
        return tok_fail(tz, p);
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return tok_fail(tz, p);
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return tok_fail(tz, p);
    }
    int_digits = (size_t)(p - digits);
    if (p < end && *p == '.') {
        p++;
        if (p == end || *p < '0' || *p > '9')
            return tok_fail(tz, p);
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        real = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            exp_neg = *p++ == '-';
        if (p == end || *p < '0' || *p > '9')
            return tok_fail(tz, p);
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*p - '0');
        }
        real = 1;
    }
    tok->start = (uint32_t)(s - tz->start);
    tok->len = (uint32_t)(p - s);
    tok->escaped = 0;
    if (!real) {
        tok->type = OUTBOX_AVRO_TOK_INTEGER;
        if (int_digits > 19 ||
            (int_digits == 19 &&
             memcmp(digits, s[0] == '-' ? "9223372036854775808" : "9223372036854775807", 19) > 0))
            tok->type = OUTBOX_AVRO_TOK_BIGNUM; /* jansson: "too big integer" */
    } else {
        tok->type = OUTBOX_AVRO_TOK_REAL;
        /* below 10^300 a double cannot overflow; look closer only at larger magnitudes */
        if ((long)int_digits + (exp_neg ? -exp10 : exp10) > 300) {
            double d;
            int overflow;

            if (number_strtod(tz->scratch, (const char *)s, (size_t)(p - s), &d, &overflow) != 0)
                return TOK_NOMEM;
            if (overflow)
                tok->type = OUTBOX_AVRO_TOK_BIGNUM; /* jansson: "real number overflow" */
        }
    }
    *pp = p;
    return 0;
}

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int literal(const uint8_t *p, const uint8_t *end, const char *word, size_t len)
{
    return (size_t)(end - p) >= len && memcmp(p, word, len) == 0;
}

/* Append a token slot; returns its index in *index. */
static int tok_new(outbox_avro_scratch *scratch, size_t *index)
{
    if (scratch->n_toks == scratch->toks_cap &&
        grow((void **)&scratch->toks, &scratch->toks_cap, scratch->n_toks + 1,
             sizeof(outbox_avro_token)) != 0)
        return TOK_NOMEM;
    *index = scratch->n_toks++;
    return 0;
}

static int tokenize(struct tokenizer *tz)
{
    outbox_avro_scratch *scratch = tz->scratch;
    const uint8_t *p = tz->start;
    const uint8_t *end = tz->end;
    uint32_t stack[OUTBOX_AVRO_TEXT_MAX_DEPTH];
    size_t depth = 0;
    size_t index;
    outbox_avro_token *tok;
    outbox_avro_token *top;
    int rc;

value:
    p = skip_ws(p, end);
    if (p == end)
        return tok_fail(tz, p);
    rc = tok_new(scratch, &index);
    if (rc != 0)
        return rc;
    tok = &scratch->toks[index];
    tok->next = (uint32_t)index + 1;
    tok->escaped = 0;
    tok->start = (uint32_t)(p - tz->start);
    tok->len = 0;
    switch (*p) {
    case '{':
    case '[':
        tok->type = *p == '{' ? OUTBOX_AVRO_TOK_OBJECT : OUTBOX_AVRO_TOK_ARRAY;
        if (depth == OUTBOX_AVRO_TEXT_MAX_DEPTH) {
            tok_fail(tz, p);
            return TOK_LIMIT;
        }
        stack[depth++] = (uint32_t)index;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (tok->type == OUTBOX_AVRO_TOK_OBJECT ? '}' : ']')) {
            p++;
            goto close;
        }
        tok->len = 1;
        if (tok->type == OUTBOX_AVRO_TOK_OBJECT)
            goto key;
        goto value;
    case '"':
        tok->type = OUTBOX_AVRO_TOK_STRING;
        rc = scan_string(tz, &p, tok, 0);
        if (rc != 0)
            return rc;
        break;
    case 't':
        if (!literal(p, end, "true", 4))
            return tok_fail(tz, p);
        tok->type = OUTBOX_AVRO_TOK_TRUE;
        p += 4;
        break;
    case 'f':
        if (!literal(p, end, "false", 5))
            return tok_fail(tz, p);
        tok->type = OUTBOX_AVRO_TOK_FALSE;
        p += 5;
        break;
    case 'n':
        if (!literal(p, end, "null", 4))
            return tok_fail(tz, p);
        tok->type = OUTBOX_AVRO_TOK_NULL;
        p += 4;
        break;
    default:
        if (*p != '-' && !(*p >= '0' && *p <= '9'))
            return tok_fail(tz, p);
        rc = scan_number(tz, &p, tok);
        if (rc != 0)
            return rc;
        break;
    }
    tok->end = (uint32_t)(p - tz->start);
after:
    /* A value ended; what may follow depends on the enclosing container. Letters directly
     * after a literal or number ("truex", "1true") fail here, as jansson fails them. */
    p = skip_ws(p, end);
    if (depth == 0)
        return p == end ? 0 : tok_fail(tz, p);
    if (p == end)
        return tok_fail(tz, p);
    top = &scratch->toks[stack[depth - 1]];
    if (*p == ',') {
        p++;
        top->len++;
        if (top->type == OUTBOX_AVRO_TOK_OBJECT)
            goto key;
        goto value;
    }
    if (*p != (top->type == OUTBOX_AVRO_TOK_OBJECT ? '}' : ']'))
        return tok_fail(tz, p);
    p++;
close:
    depth--;
    scratch->toks[stack[depth]].next = (uint32_t)scratch->n_toks;
    scratch->toks[stack[depth]].end = (uint32_t)(p - tz->start);
    goto after;
key:
    p = skip_ws(p, end);
    if (p == end || *p != '"')
        return tok_fail(tz, p);
    rc = tok_new(scratch, &index);
    if (rc != 0)
        return rc;
    tok = &scratch->toks[index];
    tok->type = OUTBOX_AVRO_TOK_STRING;
    tok->next = (uint32_t)index + 1;
    rc = scan_string(tz, &p, tok, 1);
    if (rc != 0)
        return rc;
    tok->end = (uint32_t)(p - tz->start);
    p = skip_ws(p, end);
    if (p == end || *p != ':')
        return tok_fail(tz, p);
    p++;
    goto value;
}

int outbox_avro_text_tokenize(outbox_avro_scratch *scratch, const char *json, size_t len,
                              char *errstr, size_t errstr_size)
{
    struct tokenizer tz;
    int rc;

    scratch->n_toks = 0;
    scratch->str_len = 0;
    scratch->over_limit = 0;
    if (json == NULL || len >= UINT32_MAX) {
        scratch->over_limit = 1;
        outbox_errstr_set(errstr, errstr_size, "no input, or input of 4 GiB or more");
        return OUTBOX_AVRO_ERR_MALFORMED;
    }
    tz.scratch = scratch;
    tz.start = (const uint8_t *)json;
    tz.end = tz.start + len;
    tz.fail_at = 0;
    rc = tokenize(&tz);
    if (rc == 0)
        return OUTBOX_AVRO_OK;
    scratch->n_toks = 0;
    if (rc == TOK_NOMEM) {
        outbox_errstr_set(errstr, errstr_size, "out of memory while tokenizing JSON");
        return OUTBOX_AVRO_ERR_NOMEM;
    }
    if (rc == TOK_LIMIT) {
        scratch->over_limit = 1;
        outbox_errstr_set(errstr, errstr_size, "JSON nested deeper than %d levels at byte %zu",
                          OUTBOX_AVRO_TEXT_MAX_DEPTH, tz.fail_at);
        return OUTBOX_AVRO_ERR_MALFORMED;
    }
    outbox_errstr_set(errstr, errstr_size, "invalid JSON at byte %zu", tz.fail_at);
    return OUTBOX_AVRO_ERR_MALFORMED;
}

int64_t outbox_avro_tok_integer(const char *json, const outbox_avro_token *tok)
{
    const char *s = json + tok->start;
    const char *end = s + tok->len;
    uint64_t v = 0;
    int negative = 0;

    if (*s == '-') {
        negative = 1;
        s++;
    }
    for (; s < end; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    /* the tokenizer checked the range; INT64_MIN's magnitude wraps correctly */
    return negative ? (int64_t)(0 - v) : (int64_t)v;
}

int outbox_avro_tok_double(outbox_avro_scratch *scratch, const char *json,
                           const outbox_avro_token *tok, double *value)
{
    int overflow;

    if (tok->type == OUTBOX_AVRO_TOK_INTEGER) {
        *value = (double)outbox_avro_tok_integer(json, tok);
        return 0;
    }
    if (number_strtod(scratch, json + tok->start, tok->len, value, &overflow) != 0)
        return OUTBOX_AVRO_ERR_NOMEM;
    return 0;
}
