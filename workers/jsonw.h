/*
 * A JSON writer into one growable buffer, for the fetch task's records:
 * one record per request is the hot path, and building a jansson tree only
 * to serialize it cost ~10% of a worker's CPU. Output is compact JSON with
 * the same escaping rules as jansson's JSON_COMPACT (UTF-8 kept as is).
 *
 * With bin set, the same calls write the same record in a binary form
 * instead, for a reader in another process of the same machine (the
 * Python module's parent, python/record.c) that would otherwise spend
 * most of its time scanning text back into numbers and strings:
 *
 *   value  := JWB_OBJ { key value } JWB_END
 *           | JWB_STR  u32 n, n bytes    jw_str's bytes, as the JSON
 *                                        string holds them unescaped
 *           | JWB_INT  i64               jw_int
 *           | JWB_SECS u64 us            jw_secs: us / 1e6 seconds, the
 *                                        double the six-decimal text
 *                                        reads as (us < 2^53)
 *           | JWB_TRUE | JWB_FALSE | JWB_NULL
 *           | JWB_JSON u32 n, n bytes    jw_json's compact JSON text
 *   key    := JWB_KEY u8 n, n bytes      jw_key's name (n <= 255)
 *
 * Numbers are in the machine's byte order, unaligned. A record is one
 * object, so its first byte is JWB_OBJ, which no JSON text starts with.
 * Both forms read back to the same value (tests/fuzz/fuzz_binrec.c).
 */
#ifndef JSONW_H
#define JSONW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JW_DEPTH 8

/* The binary form's tags (above). */
enum {
    JWB_OBJ = 0x02,
    JWB_END,
    JWB_STR,
    JWB_INT,
    JWB_SECS,
    JWB_TRUE,
    JWB_FALSE,
    JWB_NULL,
    JWB_JSON,
    JWB_KEY,
};
/* The largest us that JWB_SECS carries; jw_secs writes a larger one as
   JWB_JSON text (2^53: every smaller integer is a double). */
#define JWB_SECS_MAX ((uint64_t)1 << 53)

typedef struct jw {
    char *buf;
    size_t len, cap;
    int bin;                /* write the binary form (kept by jw_reset) */
    int oom;                /* an allocation failed: the output is cut */
    int depth;
    unsigned char first[JW_DEPTH]; /* nothing written yet at this depth */
} jw;

/* Empties w down to its first keep bytes (kept as they are); the buffer
   stays allocated for the next record, and w->bin as it is. */
void jw_reset(jw *w, size_t keep);
/* Makes w write the binary form (bin 1) or JSON text (0) from its next
   value on. */
static inline void jw_set_binary(jw *w, int bin)
{
    w->bin = bin;
}
/* Appends n raw bytes. */
void jw_raw(jw *w, const void *p, size_t n);
/* Opens / closes an object. */
void jw_open(jw *w);
void jw_close(jw *w);
/* Starts the member named key (a literal needing no escapes, at most
   255 bytes). */
void jw_key(jw *w, const char *key);
/* jw_key for a string literal: its length known at compile time. */
#define JW_KEY(w, lit) jw_keyn((w), "" lit, sizeof(lit) - 1)
/* A string value: p[0..n) escaped; when it is not UTF-8 text, NUL and every
   byte >= 0x80 become '?'. */
void jw_str(jw *w, const char *p, size_t n);
void jw_cstr(jw *w, const char *s); /* NUL-terminated; NULL writes null */
void jw_int(jw *w, int64_t v);
void jw_bool(jw *w, int v);
void jw_null(jw *w);
/* Microseconds as seconds with six decimals ("0.001234"). */
void jw_secs(jw *w, uint64_t us);
/* Any jansson value, serialized compactly (for the rarer, richer parts). */
void jw_json(jw *w, const json_t *v);

/* ---- the hot path, inline: one record per request -------------------- */

/* Grows w for n more bytes (reserve's slow path). Returns 0, or -1 (w->oom
   set). */
int jw__grow(jw *w, size_t n);

/* Makes room for n more bytes. Returns 0, or -1 (w->oom set). */
static inline int jw__room(jw *w, size_t n)
{
    return !w->oom && w->len + n <= w->cap ? 0 : jw__grow(w, n);
}

/* Writes the comma before a member or value when one is due; none right
   after a key (first == 2). */
static inline void jw__sep(jw *w)
{
    if (w->depth == 0)
        return;
    if (w->first[w->depth - 1] == 0 && jw__room(w, 1) == 0)
        w->buf[w->len++] = ',';
    w->first[w->depth - 1] = 0;
}

/* jw_key of key[0..n). */
static inline void jw_keyn(jw *w, const char *key, size_t n)
{
    if (w->bin) {
        if (n > 255)
            n = 255;
        if (jw__room(w, n + 2) == 0) {
            w->buf[w->len] = JWB_KEY;
            w->buf[w->len + 1] = (char)n;
            memcpy(w->buf + w->len + 2, key, n);
            w->len += n + 2;
        }
        return;
    }
    if (w->depth && w->first[w->depth - 1] == 0 && jw__room(w, 1) == 0)
        w->buf[w->len++] = ',';
    if (jw__room(w, n + 3) == 0) { /* "key": in one go */
        char *o = w->buf + w->len;
        o[0] = '"';
        memcpy(o + 1, key, n);
        o[n + 1] = '"';
        o[n + 2] = ':';
        w->len += n + 3;
    }
    if (w->depth)
        w->first[w->depth - 1] = 2; /* the value that follows: no comma */
}

/* Returns 1 if p[0..n) is valid UTF-8 (no overlongs, surrogates or code
   points past U+10FFFF) without NUL bytes, else 0. */
int jw_is_text(const char *p, size_t n);

#endif
