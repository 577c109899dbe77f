/* The record writer: see jsonw.h. */
#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

int jw__grow(jw *w, size_t n)
{
    if (w->oom)
        return -1;
    if (w->len + n <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 1024;
    while (cap < w->len + n)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->oom = 1;
        return -1;
    }
    w->buf = b;
    w->cap = cap;
    return 0;
}

/* Makes room for n more bytes. Returns 0, or -1 (w->oom set). */
static int reserve(jw *w, size_t n)
{
    return jw__room(w, n);
}

void jw_reset(jw *w, size_t keep)
{
    w->oom = 0;
    w->depth = 0;
    w->len = 0;
    if (reserve(w, keep) == 0)
        w->len = keep;
}

void jw_raw(jw *w, const void *p, size_t n)
{
    if (reserve(w, n) == 0) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
}

/* Writes the separator before a value: none right after a key, none in
   the binary form. */
static void value_sep(jw *w)
{
    if (!w->bin)
        jw__sep(w);
}

/* ---- the binary form (jsonw.h) ---------------------------------------- */

/* Writes tag t, then the n bytes at p. */
static void bin_put(jw *w, int t, const void *p, size_t n)
{
    if (reserve(w, n + 1) == 0) {
        w->buf[w->len] = (char)t;
        if (n)
            memcpy(w->buf + w->len + 1, p, n);
        w->len += n + 1;
    }
}

/* Writes tag t and n's u32, and makes room for the n bytes that follow.
   Returns where they go, or NULL (w->oom set). */
static char *bin_lead(jw *w, int t, size_t n)
{
    uint32_t n32 = (uint32_t)n;
    if (n > UINT32_MAX) { /* past what a record can be: cut */
        w->oom = 1;
        return NULL;
    }
    if (reserve(w, n + 5) != 0)
        return NULL;
    char *o = w->buf + w->len;
    o[0] = (char)t;
    memcpy(o + 1, &n32, 4);
    w->len += n + 5;
    return o + 5;
}

/* Returns 1 if p[0..n) is ASCII without NUL: text whatever else is in it
   (eight bytes at a time: no high bit, no zero byte). */
static int ascii_text(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
    size_t i = 0;
    for (uint64_t x; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        if ((x | ((x - ones) & ~x)) & high)
            return 0;
    }
    for (; i < n; i++)
        if ((unsigned char)p[i] - 1u >= 0x7f)
            return 0;
    return 1;
}

/* jw_str's binary form: the bytes the JSON string would hold. */
static void bin_str(jw *w, const char *p, size_t n)
{
    char *o = bin_lead(w, JWB_STR, n);
    if (!o)
        return;
    memcpy(o, p, n);
    if (ascii_text(p, n) || jw_is_text(p, n))
        return;
    for (size_t i = 0; i < n; i++) /* as str_general replaces them */
        if (o[i] == 0 || (unsigned char)o[i] >= 0x80)
            o[i] = '?';
}

void jw_open(jw *w)
{
    value_sep(w);
    if (w->bin)
        bin_put(w, JWB_OBJ, NULL, 0);
    else
        jw_raw(w, "{", 1);
    if (w->depth < JW_DEPTH)
        w->first[w->depth++] = 1;
}

void jw_close(jw *w)
{
    if (w->bin)
        bin_put(w, JWB_END, NULL, 0);
    else
        jw_raw(w, "}", 1);
    if (w->depth > 0)
        w->depth--;
}

void jw_key(jw *w, const char *key)
{
    jw_keyn(w, key, strlen(key));
}

int jw_is_text(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i], need, cp;
        if (c < 0x80) {
            if (!c)
                return 0;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07;
        else
            return 0;
        if (n - i <= need)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* Appends the escape of control or quote character c. */
static void escape(jw *w, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    switch (c) {
    case '"': jw_raw(w, "\\\"", 2); return;
    case '\\': jw_raw(w, "\\\\", 2); return;
    case '\n': jw_raw(w, "\\n", 2); return;
    case '\r': jw_raw(w, "\\r", 2); return;
    case '\t': jw_raw(w, "\\t", 2); return;
    case '\b': jw_raw(w, "\\b", 2); return;
    case '\f': jw_raw(w, "\\f", 2); return;
    default: jw_raw(w, e, 6);
    }
}

/* Returns 1 for a byte that a string value carries as it is whatever the
   rest of the string holds: printable ASCII other than '"' and '\\'. */
static int plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* jw_str's general case: p[0..n) holds a byte that is escaped, replaced
   or part of a multi-byte sequence. */
static void str_general(jw *w, const char *p, size_t n)
{
    int text = jw_is_text(p, n);
    size_t run = 0;
    jw_raw(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        int bad = !text && (c >= 0x80 || c == 0);
        if (c >= 0x20 && c != '"' && c != '\\' && !bad)
            continue;
        jw_raw(w, p + run, i - run); /* the clean run before it */
        run = i + 1;
        if (bad)
            jw_raw(w, "?", 1);
        else
            escape(w, c);
    }
    jw_raw(w, p + run, n - run);
    jw_raw(w, "\"", 1);
}

/* Returns 1 if each of the 8 bytes of x is plain (see plain_byte): the
   SWAR tests of "a byte below 0x20", "a zero byte" (x ^ '"', x ^ '\\')
   and "a high bit", exact as to whether any byte matches. */
static int plain8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t bad = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
                   ((b - ones) & ~b) | x;
    return (bad & high) == 0;
}

void jw_str(jw *w, const char *p, size_t n)
{
    size_t i = 0;
    if (w->bin) {
        bin_str(w, p, n);
        return;
    }
    value_sep(w);
    for (uint64_t x; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        if (!plain8(x))
            break;
    }
    while (i < n && plain_byte((unsigned char)p[i]))
        i++;
    if (i < n) {
        str_general(w, p, n);
        return;
    }
    if (reserve(w, n + 2) == 0) { /* the common case: one copy */
        char *o = w->buf + w->len;
        o[0] = '"';
        memcpy(o + 1, p, n);
        o[n + 1] = '"';
        w->len += n + 2;
    }
}

void jw_cstr(jw *w, const char *s)
{
    if (s)
        jw_str(w, s, strlen(s));
    else
        jw_null(w);
}

/* Writes the decimal digits of v backwards, ending before e. Returns
   where they start. */
static char *digits_before(char *e, uint64_t v)
{
    do
        *--e = (char)('0' + v % 10);
    while ((v /= 10));
    return e;
}

void jw_int(jw *w, int64_t v)
{
    char b[24], *e = b + sizeof b, *d;

    if (w->bin) {
        bin_put(w, JWB_INT, &v, sizeof v);
        return;
    }
    value_sep(w);
    if (v >= 0 && v < 10 && reserve(w, 1) == 0) { /* most counts */
        w->buf[w->len++] = (char)('0' + v);
        return;
    }
    d = digits_before(e, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--d = '-';
    jw_raw(w, d, (size_t)(e - d));
}

void jw_bool(jw *w, int v)
{
    if (w->bin) {
        bin_put(w, v ? JWB_TRUE : JWB_FALSE, NULL, 0);
        return;
    }
    value_sep(w);
    jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(jw *w)
{
    if (w->bin) {
        bin_put(w, JWB_NULL, NULL, 0);
        return;
    }
    value_sep(w);
    jw_raw(w, "null", 4);
}

void jw_secs(jw *w, uint64_t us)
{
    char b[32], *e = b + sizeof b, *d = e;
    uint64_t f = us % 1000000;

    if (w->bin && us < JWB_SECS_MAX) {
        bin_put(w, JWB_SECS, &us, sizeof us);
        return;
    }
    value_sep(w);
    if (us == 0 && reserve(w, 8) == 0) { /* dns, connect, tls on reuse */
        memcpy(w->buf + w->len, "0.000000", 8);
        w->len += 8;
        return;
    }
    for (int i = 0; i < 6; i++, f /= 10)
        *--d = (char)('0' + f % 10);
    *--d = '.';
    d = digits_before(d, us / 1000000);
    if (w->bin) { /* past a double's integers: the text itself */
        char *o = bin_lead(w, JWB_JSON, (size_t)(e - d));
        if (o)
            memcpy(o, d, (size_t)(e - d));
        return;
    }
    jw_raw(w, d, (size_t)(e - d));
}

void jw_json(jw *w, const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!s) {
        jw_null(w);
        return;
    }
    if (w->bin) {
        size_t n = strlen(s);
        char *o = bin_lead(w, JWB_JSON, n);
        if (o)
            memcpy(o, s, n);
    } else {
        value_sep(w);
        jw_raw(w, s, strlen(s));
    }
    free(s);
}
