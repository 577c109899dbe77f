/*
 * A fetch task's record (one JSON object, as jsonw.c writes it) made into
 * Python objects directly: dicts whose keys come from a cache of interned
 * strings, ints and floats without a text round trip, str values copied
 * from the bytes. The parent of a 20,000-URL run spent most of its time in
 * json's scanner (decode the whole record to str, then a new str, a memo
 * insert and a hash for every key of every record); this is the fast path.
 * Records have one shape, so each key is first tried as the one the last
 * record had at its place (no scan, no hash); strings are scanned eight
 * bytes at a time, numbers read in one pass, and final_url shares url's
 * str when they are equal (callgrind, 20,000 records: 8,480 instructions
 * each, from 10,160).
 *
 * It reads the JSON that jsonw.c writes and declines anything else (a
 * \u escape, a control character, a number json would read otherwise,
 * nesting deeper than 32): the record then goes through json's own
 * scanner, as before, so the result is always what json.loads gives.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "record.h"

/* ---- keys: interned once, reused by every record ------------------------ */

#define KEY_SLOTS 256 /* a power of 2 */
#define KEY_MAX 160   /* at most this many kept (header names vary) */
#define KEY_LEN 64    /* longer keys are made afresh each time */
#define SHORT_VALUE 8 /* str values this short are cached as keys are */

static struct key {
    PyObject *s;
    size_t len;
    int plain; /* bytes has no '"', '\\', control or non-ASCII byte */
    char bytes[KEY_LEN];
} keys[KEY_SLOTS];
static int nkeys;

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int plain_bytes(const char *s, size_t n);

/* The slot where the i-th key of the last record was: records have their
   keys in one order, so a key is most often found at once, unhashed. */
#define HINTS 64
static uint16_t hint[HINTS];

/* Returns the str of the n ASCII bytes at s, the i-th key of its record
   (a new reference), from the cache when it holds it, added to it while
   there is room. NULL with an error set. */
static PyObject *key_str(const char *s, size_t n, unsigned i)
{
    if (n > KEY_LEN)
        return PyUnicode_FromStringAndSize(s, (Py_ssize_t)n);
    struct key *k = i < HINTS ? &keys[hint[i]] : NULL;
    if (k && k->s && k->len == n && memcmp(k->bytes, s, n) == 0) {
        Py_INCREF(k->s);
        return k->s;
    }
    uint32_t h = fnv1a(s, n) & (KEY_SLOTS - 1);
    for (; keys[h].s; h = (h + 1) & (KEY_SLOTS - 1))
        if (keys[h].len == n && memcmp(keys[h].bytes, s, n) == 0)
            goto found;
    PyObject *u = PyUnicode_FromStringAndSize(s, (Py_ssize_t)n);
    if (!u || nkeys >= KEY_MAX)
        return u;
    PyUnicode_InternInPlace(&u);
    keys[h].s = u;
    keys[h].len = n;
    keys[h].plain = plain_bytes(s, n);
    memcpy(keys[h].bytes, s, n);
    nkeys++;
found:
    if (i < HINTS)
        hint[i] = (uint16_t)h;
    Py_INCREF(keys[h].s);
    return keys[h].s;
}

/* ---- the parser ------------------------------------------------------------ */

typedef struct parser {
    const char *p, *end;
    int depth;
    unsigned nkey; /* keys read so far */
    int declined; /* not jsonw.c's JSON: let json read it */
    PyObject *last; /* the last long str value made (a reference of its
                       own: a repeated key may drop it from its dict) */
    char tmp[256];
} parser;

static PyObject *value(parser *ps);

/* Returns NULL for "not ours" (no error set). */
static PyObject *decline(parser *ps)
{
    ps->declined = 1;
    return NULL;
}

/* The bytes a string's scan stops at: '"', '\\', controls, non-ASCII. */
static const unsigned char special[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1};

static int plain_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (special[(unsigned char)s[i]])
            return 0;
    return 1;
}

/* Returns the first byte from q on (before end) that special[] marks,
   or end: eight bytes at a time while eight are left. */
static const char *scan_plain(const char *q, const char *end)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - q >= 8) {
        uint64_t v;
        memcpy(&v, q, 8);
        uint64_t quote = v ^ (ones * '"'), bslash = v ^ (ones * '\\');
        /* a byte below 0x20, a zero byte of quote or bslash (a '"' or a
           '\\'), or a high bit: v has a special byte */
        uint64_t hit = (((v - ones * 0x20) & ~v) |
                        ((quote - ones) & ~quote) |
                        ((bslash - ones) & ~bslash) | v) & highs;
        if (hit)
            break;
        q += 8;
    }
    while (q < end && !special[(unsigned char)*q])
        q++;
    return q;
}

static void ws_skip(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                               *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* JSON's whitespace: jsonw.c writes none, so one test most often. */
static inline void ws(parser *ps)
{
    if (ps->p < ps->end && (unsigned char)*ps->p <= ' ')
        ws_skip(ps);
}

static int one_escape(char c, char *out)
{
    switch (c) {
    case '"': case '\\': case '/': *out = c; return 0;
    case 'b': *out = '\b'; return 0;
    case 'f': *out = '\f'; return 0;
    case 'n': *out = '\n'; return 0;
    case 'r': *out = '\r'; return 0;
    case 't': *out = '\t'; return 0;
    default: return -1; /* \u, or not JSON */
    }
}

/* A string at ps->p (after its quote). key: a dict's key (cached).
   Returns a new reference, or NULL (an error, or declined). */
static PyObject *string(parser *ps, int key)
{
    const char *s = ps->p, *q = s;
    int high = 0, esc = 0;
    if (key && ps->nkey < HINTS) { /* the key the last record had here */
        const struct key *k = &keys[hint[ps->nkey]];
        if (k->s && k->plain && (size_t)(ps->end - s) > k->len &&
            s[k->len] == '"' && memcmp(s, k->bytes, k->len) == 0) {
            ps->p = s + k->len + 1;
            ps->nkey++;
            Py_INCREF(k->s);
            return k->s;
        }
    }
    for (;; q++) {
        q = scan_plain(q, ps->end);
        if (q >= ps->end || *q == '"')
            break;
        unsigned char c = (unsigned char)*q;
        if (c < 0x20)
            return decline(ps);
        if (c >= 0x80)
            high = 1;
        if (c == '\\') {
            esc = 1;
            q++;
        }
    }
    if (q >= ps->end)
        return decline(ps);
    ps->p = q + 1;
    size_t n = (size_t)(q - s);
    if (esc) {
        if (n > sizeof(ps->tmp))
            return decline(ps);
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] != '\\') {
                ps->tmp[o++] = s[i];
            } else if (one_escape(s[++i], &ps->tmp[o++]) < 0) {
                return decline(ps);
            }
        }
        s = ps->tmp;
        n = o;
    }
    if (high) /* as the record's decode did: bad UTF-8 becomes U+FFFD */
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "replace");
    /* keys, and short values ("GET", "1.1"), from the cache */
    if (key || n <= SHORT_VALUE)
        return key_str(s, n, ps->nkey++);
    /* final_url is most often url again: one str for both */
    PyObject *u = ps->last;
    if (u && (size_t)PyUnicode_GET_LENGTH(u) == n &&
        memcmp(PyUnicode_1BYTE_DATA(u), s, n) == 0) {
        Py_INCREF(u);
        return u;
    }
    u = PyUnicode_New((Py_ssize_t)n, 127);
    if (!u)
        return NULL;
    memcpy(PyUnicode_1BYTE_DATA(u), s, n);
    Py_XSETREF(ps->last, Py_NewRef(u));
    return u;
}

static int is_digit(const parser *ps, const char *q)
{
    return q < ps->end && (unsigned)(*q - '0') < 10;
}

/* Reads digits from *q on into *m (m * 10 + digit each; past 19 digits
   it wraps, and the callers then take the slow path), counting the
   digits after the first nonzero one of the number into *sig. Returns
   the number of digits. */
static int digits(const parser *ps, const char **q, uint64_t *m, int *sig)
{
    const char *d = *q;
    for (; d < ps->end && (unsigned)(*d - '0') < 10; d++) {
        *m = *m * 10 + (uint64_t)(*d - '0');
        if (*m)
            ++*sig;
    }
    int n = (int)(d - *q);
    *q = d;
    return n;
}

/* A number, JSON's grammar: an int as int(), a float as float() reads
   its text (json's parse_int and parse_float). The digits are read once:
   an int of at most 18 characters is m itself; a float written as
   digits, a point and at most 22 digits after it, 15 significant digits
   in all (jsonw.c's times: "0.000311"), is m / 10^k with m and 10^k
   exact doubles, one rounding: the double strtod gives (Clinger's fast
   path), -0.0's sign aside. Other text goes through Python's own. */
static PyObject *number(parser *ps)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                 1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                                 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *s = ps->p, *q = s;
    int neg = 0, sig = 0, k = -1, expo = 0;
    uint64_t m = 0;
    if (q < ps->end && *q == '-') {
        neg = 1;
        q++;
    }
    if (!is_digit(ps, q))
        return decline(ps);
    if (*q == '0')
        q++;
    else
        digits(ps, &q, &m, &sig);
    if (q < ps->end && *q == '.') {
        q++;
        if ((k = digits(ps, &q, &m, &sig)) == 0)
            return decline(ps);
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        expo = 1;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(ps, q))
            return decline(ps);
        while (is_digit(ps, q))
            q++;
    }
    size_t n = (size_t)(q - s);
    ps->p = q;
    int frac = k >= 0 || expo;
    if (!frac && n <= 18)
        return PyLong_FromLongLong(neg ? -(long long)m : (long long)m);
    if (frac && !expo && k <= 22 && sig <= 15 && !(neg && m == 0)) {
        double v = (double)m / p10[k];
        return PyFloat_FromDouble(neg ? -v : v);
    }
    if (n >= 64)
        return decline(ps);
    char buf[64];
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!frac)
        return PyLong_FromString(buf, NULL, 10);
    double d = PyOS_string_to_double(buf, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(d);
}

static PyObject *word(parser *ps, const char *w, size_t n, PyObject *v)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return decline(ps);
    ps->p += n;
    Py_INCREF(v);
    return v;
}

/* The size of the last record's dict at each depth: a dict made that
   size at once grows no more (jsonw.c writes one shape of record). */
static Py_ssize_t last_size[33];

static PyObject *new_dict(int depth)
{
#if PY_VERSION_HEX < 0x030E0000
    return _PyDict_NewPresized(last_size[depth]);
#else
    (void)depth;
    return PyDict_New();
#endif
}

/* The members of an object (after its '{'), or of an array (after '[').
   Returns a new dict or list, or NULL. */
static PyObject *members(parser *ps, int obj)
{
    PyObject *c = obj ? new_dict(ps->depth) : PyList_New(0);
    char close = obj ? '}' : ']';
    if (!c)
        return NULL;
    ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return c;
    }
    for (;;) {
        PyObject *k = NULL, *v;
        ws(ps);
        if (obj) {
            if (ps->p >= ps->end || *ps->p != '"')
                goto no;
            ps->p++;
            if (!(k = string(ps, 1)))
                goto fail;
            ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                Py_DECREF(k);
                goto no;
            }
            ps->p++;
            ws(ps);
        }
        v = value(ps);
        int rc = !v ? -1 : obj ? PyDict_SetItem(c, k, v) : PyList_Append(c, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0)
            goto fail;
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            if (obj)
                last_size[ps->depth] = PyDict_GET_SIZE(c);
            return c;
        }
        goto no;
    }
no:
    decline(ps);
fail:
    Py_DECREF(c);
    return NULL;
}

static PyObject *value(parser *ps)
{
    if (ps->p >= ps->end)
        return decline(ps);
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > 32)
            return decline(ps);
        {
            int obj = *ps->p++ == '{';
            PyObject *c = members(ps, obj);
            ps->depth--;
            return c;
        }
    case '"':
        ps->p++;
        return string(ps, 0);
    case 't':
        return word(ps, "true", 4, Py_True);
    case 'f':
        return word(ps, "false", 5, Py_False);
    case 'n':
        return word(ps, "null", 4, Py_None);
    default:
        return number(ps);
    }
}

/* ---- json's scanner, for what the parser declines ---------------------- */

static PyObject *scan_once; /* json.JSONDecoder().scan_once, once needed */

static PyObject *json_record(const char *s, size_t n)
{
    if (!scan_once) {
        PyObject *json = PyImport_ImportModule("json");
        PyObject *dec_t = json ? PyObject_GetAttrString(json, "JSONDecoder")
                               : NULL;
        PyObject *dec = dec_t ? PyObject_CallNoArgs(dec_t) : NULL;
        /* the decoder's C scanner itself, scan_once(text, 0) ->
           (obj, end): json.loads adds three Python-level calls */
        scan_once = dec ? PyObject_GetAttrString(dec, "scan_once") : NULL;
        Py_XDECREF(dec);
        Py_XDECREF(dec_t);
        Py_XDECREF(json);
        if (!scan_once)
            return NULL;
    }
    PyObject *u = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "replace");
    PyObject *pair = u ? PyObject_CallFunction(scan_once, "Oi", u, 0) : NULL;
    Py_XDECREF(u);
    PyObject *rec = pair ? PyTuple_GetItem(pair, 0) : NULL;
    Py_XINCREF(rec);
    Py_XDECREF(pair);
    return rec;
}

PyObject *pyx_record(const char *s, size_t n)
{
    parser ps = {.p = s, .end = s + n};
    ws(&ps); /* json.loads's leading whitespace, skipped for both readers */
    const char *start = ps.p;
    PyObject *rec = NULL;
    if (ps.p < ps.end && *ps.p == '{')
        rec = value(&ps);
    Py_XDECREF(ps.last);
    if (rec || PyErr_Occurred())
        return rec;
    return json_record(start, (size_t)(ps.end - start));
}

/* ---- the binary form ----------------------------------------------------- */

/* jsonw.h's binary form: no text to scan, so a record costs its objects
   and little else. The writer is in the same build, on this machine; a
   record that does not follow the grammar (none does, but the bytes
   cross a process) is a ValueError, never a read past its end. */

typedef struct bparser {
    const unsigned char *p, *end;
    int depth;
    unsigned nkey;   /* as parser's: the key hints are shared */
    PyObject *last;  /* as parser's: final_url shares url's str */
} bparser;

static PyObject *bin_value(bparser *bp);

static PyObject *bin_bad(const bparser *bp, const char *what)
{
    PyErr_Format(PyExc_ValueError, "mpool: malformed binary record: %s",
                 what);
    return NULL;
}

/* Reads a u32 length and checks that many bytes follow. Returns 0 or -1
   (an error set). */
static int bin_len(bparser *bp, size_t *n)
{
    uint32_t v;
    if (bp->end - bp->p < 4) {
        bin_bad(bp, "a length runs past the end");
        return -1;
    }
    memcpy(&v, bp->p, 4);
    bp->p += 4;
    if ((size_t)(bp->end - bp->p) < v) {
        bin_bad(bp, "a string runs past the end");
        return -1;
    }
    *n = v;
    return 0;
}

/* Returns 1 if the n bytes at s are ASCII (eight at a time). */
static int ascii(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (uint64_t v; i + 8 <= n; i += 8) {
        memcpy(&v, s + i, 8);
        if (v & 0x8080808080808080u)
            return 0;
    }
    for (; i < n; i++)
        if (s[i] >= 0x80)
            return 0;
    return 1;
}

/* A JWB_STR's bytes, as string() makes a value of them: short ones from
   the key cache, a repeat of the last long one shared, non-ASCII as
   UTF-8 (bad bytes U+FFFD, as the text's reader has them). */
static PyObject *bin_str(bparser *bp, const unsigned char *s, size_t n)
{
    if (!ascii(s, n))
        return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n,
                                    "replace");
    if (n <= SHORT_VALUE)
        return key_str((const char *)s, n, bp->nkey++);
    PyObject *u = bp->last;
    if (u && (size_t)PyUnicode_GET_LENGTH(u) == n &&
        memcmp(PyUnicode_1BYTE_DATA(u), s, n) == 0)
        return Py_NewRef(u);
    if (!(u = PyUnicode_New((Py_ssize_t)n, 127)))
        return NULL;
    memcpy(PyUnicode_1BYTE_DATA(u), s, n);
    Py_XSETREF(bp->last, Py_NewRef(u));
    return u;
}

/* A JWB_JSON value: the text parser's (json's for what it declines),
   with the key hints carried on. */
static PyObject *bin_json(bparser *bp, const char *s, size_t n)
{
    parser ps = {.p = s, .end = s + n, .depth = bp->depth,
                 .nkey = bp->nkey};
    PyObject *v = value(&ps);
    Py_XDECREF(ps.last);
    bp->nkey = ps.nkey;
    if (!v && !PyErr_Occurred())
        v = json_record(s, n);
    /* json's errors (StopIteration where the text does not start a
       value, JSONDecodeError) all say the bytes are malformed */
    if (!v && !PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyErr_Clear();
        bin_bad(bp, "a JSON value that is not JSON");
    }
    return v;
}

/* The members of an object, after its JWB_OBJ. */
static PyObject *bin_members(bparser *bp)
{
    PyObject *d = new_dict(bp->depth);
    if (!d)
        return NULL;
    for (;;) {
        if (bp->p >= bp->end) {
            bin_bad(bp, "an object runs past the end");
            break;
        }
        if (*bp->p == JWB_END) {
            bp->p++;
            last_size[bp->depth] = PyDict_GET_SIZE(d);
            return d;
        }
        if (*bp->p != JWB_KEY || bp->end - bp->p < 2) {
            bin_bad(bp, "a member without a key");
            break;
        }
        size_t kn = bp->p[1];
        bp->p += 2;
        if ((size_t)(bp->end - bp->p) < kn) {
            bin_bad(bp, "a key runs past the end");
            break;
        }
        const char *ks = (const char *)bp->p;
        bp->p += kn;
        PyObject *k = ascii(bp->p - kn, kn) ? key_str(ks, kn, bp->nkey++)
                      : PyUnicode_DecodeUTF8(ks, (Py_ssize_t)kn, "replace");
        PyObject *v = k ? bin_value(bp) : NULL;
        int rc = v ? PyDict_SetItem(d, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0)
            break;
    }
    Py_DECREF(d);
    return NULL;
}

static PyObject *bin_value(bparser *bp)
{
    int64_t i;
    uint64_t us;
    size_t n;
    if (bp->p >= bp->end)
        return bin_bad(bp, "a value is missing");
    int tag = *bp->p++;
    switch (tag) {
    case JWB_OBJ: {
        if (++bp->depth > 32)
            return bin_bad(bp, "nested deeper than 32");
        PyObject *d = bin_members(bp);
        bp->depth--;
        return d;
    }
    case JWB_STR:
    case JWB_JSON: {
        if (bin_len(bp, &n) < 0)
            return NULL;
        const unsigned char *s = bp->p;
        bp->p += n;
        return tag == JWB_STR ? bin_str(bp, s, n)
                              : bin_json(bp, (const char *)s, n);
    }
    case JWB_INT:
    case JWB_SECS:
        if (bp->end - bp->p < 8)
            return bin_bad(bp, "a number runs past the end");
        memcpy(tag == JWB_INT ? (void *)&i : (void *)&us, bp->p, 8);
        bp->p += 8;
        if (tag == JWB_INT)
            return PyLong_FromLongLong(i);
        if (us >= JWB_SECS_MAX)
            return bin_bad(bp, "a time past 2^53 microseconds");
        /* one rounding of the exact us / 10^6: the double the text's
           six decimals read as */
        return PyFloat_FromDouble((double)us / 1e6);
    case JWB_TRUE:
        return Py_NewRef(Py_True);
    case JWB_FALSE:
        return Py_NewRef(Py_False);
    case JWB_NULL:
        return Py_NewRef(Py_None);
    default:
        return bin_bad(bp, "an unknown tag");
    }
}

PyObject *pyx_record_bin(const char *s, size_t n)
{
    bparser bp = {.p = (const unsigned char *)s,
                  .end = (const unsigned char *)s + n};
    if (n == 0 || *bp.p != JWB_OBJ)
        return bin_bad(&bp, "it is not an object");
    PyObject *rec = bin_value(&bp);
    Py_XDECREF(bp.last);
    if (rec && bp.p != bp.end) {
        Py_DECREF(rec);
        return bin_bad(&bp, "bytes after the record");
    }
    return rec;
}

PyObject *pyx_fetch_record(const char *s, size_t n)
{
    if (n && (unsigned char)*s == JWB_OBJ)
        return pyx_record_bin(s, n);
    return pyx_record(s, n);
}

/* ---- JSON text of a dict: an input line -------------------------------- */

typedef struct obuf {
    char *b;
    size_t n, cap;
} obuf;

static int put(obuf *o, const char *s, size_t n)
{
    if (o->n + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->n + n)
            cap *= 2;
        char *b = PyMem_Realloc(o->b, cap);
        if (!b) {
            PyErr_NoMemory();
            return -1;
        }
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->n, s, n);
    o->n += n;
    return 0;
}

/* A str as json.dumps(ensure_ascii=False) writes it. */
static int put_str(obuf *o, PyObject *u)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(u, &n);
    if (!s || put(o, "\"", 1) < 0)
        return -1;
    Py_ssize_t from = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char e[8];
        size_t en = 2;
        e[0] = '\\';
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            snprintf(e, sizeof(e), "\\u%04x", c);
            en = 6;
        }
        if (put(o, s + from, (size_t)(i - from)) < 0 || put(o, e, en) < 0)
            return -1;
        from = i + 1;
    }
    return put(o, s + from, (size_t)(n - from)) < 0 ? -1 : put(o, "\"", 1);
}

/* Writes x; returns 0, -1 with an error set, or 1: a type json would
   write another way (then json writes the whole of it). */
static int put_value(obuf *o, PyObject *x, int depth)
{
    if (depth > 32)
        return 1;
    if (x == Py_None)
        return put(o, "null", 4);
    if (x == Py_True)
        return put(o, "true", 4);
    if (x == Py_False)
        return put(o, "false", 5);
    if (PyUnicode_CheckExact(x))
        return put_str(o, x);
    if (PyLong_CheckExact(x) || PyFloat_CheckExact(x)) {
        if (PyFloat_CheckExact(x) && !isfinite(PyFloat_AS_DOUBLE(x)))
            return 1; /* NaN, Infinity: json's words */
        PyObject *s = PyObject_Repr(x);
        Py_ssize_t n;
        const char *t = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
        int rc = t ? put(o, t, (size_t)n) : -1;
        Py_XDECREF(s);
        return rc;
    }
    int list = PyList_CheckExact(x) || PyTuple_CheckExact(x);
    if (!list && !PyDict_CheckExact(x))
        return 1;
    if (put(o, list ? "[" : "{", 1) < 0)
        return -1;
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    PyObject *seq = list ? PySequence_Fast(x, "") : NULL;
    if (list && !seq)
        return -1;
    int rc = 0;
    while (rc == 0) {
        if (list) {
            if (i >= PySequence_Fast_GET_SIZE(seq))
                break;
            v = PySequence_Fast_GET_ITEM(seq, i);
        } else if (!PyDict_Next(x, &pos, &k, &v)) {
            break;
        } else if (!PyUnicode_CheckExact(k)) {
            rc = 1; /* json turns numbers and None into keys */
            break;
        }
        if ((i++ && put(o, ",", 1) < 0) ||
            (!list && (put_str(o, k) < 0 || put(o, ":", 1) < 0))) {
            rc = -1;
            break;
        }
        rc = put_value(o, v, depth + 1);
    }
    Py_XDECREF(seq);
    return rc ? rc : put(o, list ? "]" : "}", 1);
}

static PyObject *encode; /* a compact json.JSONEncoder().encode */

static PyObject *json_text(PyObject *x)
{
    if (!encode) {
        PyObject *json = PyImport_ImportModule("json");
        PyObject *enc = json ? PyObject_GetAttrString(json, "JSONEncoder")
                             : NULL;
        PyObject *kw = Py_BuildValue("{s:(ss),s:O}", "separators", ",", ":",
                                     "ensure_ascii", Py_False);
        PyObject *noargs = PyTuple_New(0);
        PyObject *e = enc && kw && noargs ? PyObject_Call(enc, noargs, kw)
                                          : NULL;
        encode = e ? PyObject_GetAttrString(e, "encode") : NULL;
        Py_XDECREF(e);
        Py_XDECREF(noargs);
        Py_XDECREF(kw);
        Py_XDECREF(enc);
        Py_XDECREF(json);
        if (!encode)
            return NULL;
    }
    PyObject *s = PyObject_CallOneArg(encode, x);
    PyObject *b = s ? PyUnicode_AsUTF8String(s) : NULL;
    Py_XDECREF(s);
    return b;
}

PyObject *pyx_json_line(PyObject *x)
{
    obuf o = {NULL, 0, 0};
    int rc = put_value(&o, x, 0);
    PyObject *b = rc == 0 ? PyBytes_FromStringAndSize(o.b, (Py_ssize_t)o.n)
                          : NULL;
    PyMem_Free(o.b);
    if (rc > 0)
        return json_text(x);
    return b;
}
