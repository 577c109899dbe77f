/*
 * A redirect's Location resolved against the URL that got it, as libcurl
 * 7.88 resolves it (see http_location.h). Pure: bytes in, bytes out.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/shared/http_int.h"
#include "http/message/http_location.h"

#define SCHEME_MAX 40 /* curl's MAX_SCHEME_LEN */

/* Returns the length of loc's scheme if loc[0..n) starts with one and a
   ':' (curl's Curl_is_absolute_url: letters, digits, '+', '-', '.'), or
   0 (a reference relative to the base). */
static size_t scheme_len(const char *loc, size_t n)
{
    size_t i = 0;

    while (i < n && i < SCHEME_MAX &&
           ((loc[i] >= 'a' && loc[i] <= 'z') ||
            (loc[i] >= 'A' && loc[i] <= 'Z') ||
            (loc[i] >= '0' && loc[i] <= '9') || loc[i] == '+' ||
            loc[i] == '-' || loc[i] == '.'))
        i++;
    return i && i < n && loc[i] == ':' ? i : 0;
}

/* Appends p[0..n) to the path or query at *d, as curl's URL encoding
   writes it: a blank as "%20" in the path, '+' in the query (after the
   first '?'), a byte of 0x80 or more as "%xx". Returns the new end. */
static char *encode(char *d, const char *p, size_t n, int *in_query)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '?')
            *in_query = 1;
        if (c == ' ' && !*in_query) {
            memcpy(d, "%20", 3);
            d += 3;
        } else if (c == ' ') {
            *d++ = '+';
        } else if (c >= 0x80) {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        } else {
            *d++ = (char)c;
        }
    }
    return d;
}

/* Removes the dot segments of the path p[0..n) (it starts with '/'),
   RFC 3986 5.2.4, into out (room for n + 1 bytes). Returns the length
   written (at least 1: "/"). */
static size_t remove_dots(const char *p, size_t n, char *out)
{
    const char *end = p + n;
    size_t o = 0;

    while (p < end) {
        size_t left = (size_t)(end - p);
        if (left >= 3 && memcmp(p, "/./", 3) == 0) {
            p += 2; /* B: "/./" -> "/" */
        } else if (left == 2 && memcmp(p, "/.", 2) == 0) {
            p += 1; /* B: a final "/." -> "/" */
            out[o++] = '/';
            break;
        } else if ((left >= 4 && memcmp(p, "/../", 4) == 0) ||
                   (left == 3 && memcmp(p, "/..", 3) == 0)) {
            p += 3; /* C: drop the last output segment */
            while (o > 0 && out[--o] != '/')
                ;
            if (left == 3) {
                out[o++] = '/';
                break;
            }
        } else { /* E: move the first segment ("/" and up to the next) */
            out[o++] = *p++;
            while (p < end && *p != '/')
                out[o++] = *p++;
        }
    }
    if (o == 0)
        out[o++] = '/';
    return o;
}

/* Writes the target t[0..n) (path from its '/', then the query) into d,
   dot segments out of the path, an empty query ("?") dropped. Returns
   the end. */
static char *target_put(char *d, const char *t, size_t n)
{
    const char *q = memchr(t, '?', n);
    size_t plen = q ? (size_t)(q - t) : n;

    d += remove_dots(t, plen, d);
    if (q && n - plen > 1) {
        memcpy(d, q, n - plen);
        d += n - plen;
    }
    return d;
}

/* Lower-cases p[0..n) into d. Returns the end. */
static char *lower_put(char *d, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *d++ = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 'a' - 'A') : p[i];
    return d;
}

/* Writes the reference r[0..rn) (no authority: from its path, query or
   relative path) as a target into t: merged with the base's target bt
   unless it is a path from the root, encoded. Returns the end, or NULL
   where curl's merge is not RFC 3986's. */
static char *tail_put(char *t, const char *r, size_t rn, const char *bt,
                      int merge)
{
    int in_query = 0;

    if (merge && (rn == 0 || r[0] != '/')) {
        size_t bp = strcspn(bt, "?"), i = 0;
        /* curl skips one "./" and then every "../" before it merges: what
           starts with '/' or '?' after them it puts elsewhere than RFC
           3986 does ("./?x": curl ".../b?x", RFC ".../b/?x") */
        if (rn >= 2 && r[0] == '.' && r[1] == '/')
            i = 2;
        while (rn - i >= 3 && memcmp(r + i, "../", 3) == 0)
            i += 3;
        if (i && i < rn && (r[i] == '/' || r[i] == '?'))
            return NULL;
        if (rn == 0 || r[0] != '?') /* up to its last '/' */
            while (bp > 0 && bt[bp - 1] != '/')
                bp--;
        if (bp == 0)
            *t++ = '/';
        memcpy(t, bt, bp);
        t += bp;
    } else if (rn == 0 || r[0] != '/') {
        *t++ = '/'; /* "http://h?x": curl's path is "/" */
    }
    return encode(t, r, rn, &in_query);
}

int mp__http_location(const char *base, const char *loc, size_t n,
                      char **out)
{
    mp__http_url b, u;
    size_t sl = scheme_len(loc, n), blen = strlen(base);
    size_t auth_len = 0, ref_at = 0;
    const char *auth = NULL;
    char *res = NULL, *tail = NULL, *d, *t;

    *out = NULL;
    if (mp__http_native_url(base, &b) != 0)
        return MP__LOC_FOREIGN;
    if (sl && !((sl == 4 && strncasecmp(loc, "http", 4) == 0) ||
                (sl == 5 && strncasecmp(loc, "https", 5) == 0))) {
        if (!(res = malloc(n + 1)))
            return MP__LOC_NOMEM;
        d = lower_put(res, loc, sl);
        memcpy(d, loc + sl, n - sl);
        res[n] = '\0';
        *out = res;
        return MP__LOC_SCHEME;
    }
    for (size_t i = 0; i < n; i++) /* curl refuses control bytes, even in
                                      a segment that dot removal drops */
        if ((unsigned char)loc[i] < 0x20 || loc[i] == 0x7f)
            return MP__LOC_FOREIGN;
    if (memchr(loc, '#', n))
        return MP__LOC_FOREIGN; /* curl keeps a fragment in the URL */
    if (sl) { /* "http://authority...": exactly two slashes */
        if (n < sl + 3 || loc[sl + 1] != '/' || loc[sl + 2] != '/')
            return MP__LOC_FOREIGN;
        ref_at = sl + 1;
    }
    if (n - ref_at >= 2 && loc[ref_at] == '/' && loc[ref_at + 1] == '/') {
        /* "//host..." with a blank: curl 7.88's concat_url looks for the
           host's end from the next "//" after the one it skipped, so its
           blanks come out as no RFC says (fuzz_location's crash-04bd29) */
        if (!sl && memchr(loc, ' ', n))
            return MP__LOC_FOREIGN;
        auth = loc + ref_at + 2;
        while (auth + auth_len < loc + n && auth[auth_len] != '/' &&
               auth[auth_len] != '?')
            auth_len++;
        ref_at += 2 + auth_len;
    }
    if (!(tail = malloc(blen + 3 * n + 2)) ||
        !(res = malloc(2 * blen + 4 * n + 16)))
        goto nomem;
    if (auth) { /* the reference's scheme, or the base's */
        d = sl ? lower_put(res, loc, sl)
               : lower_put(res, base, (size_t)(strchr(base, ':') - base));
        memcpy(d, "://", 3);
        memcpy(d + 3, auth, auth_len);
        d += 3 + auth_len;
    } else {
        memcpy(res, base, (size_t)(b.target - base));
        d = res + (b.target - base);
    }
    if (!(t = tail_put(tail, loc + ref_at, n - ref_at, b.target, !auth))) {
        free(tail);
        free(res);
        return MP__LOC_FOREIGN;
    }
    d = target_put(d, tail, (size_t)(t - tail));
    *d = '\0';
    free(tail);
    if (mp__http_native_url(res, &u) != 0) {
        free(res);
        return MP__LOC_FOREIGN;
    }
    *out = res;
    return MP__LOC_OK;
nomem:
    free(tail);
    free(res);
    return MP__LOC_NOMEM;
}
