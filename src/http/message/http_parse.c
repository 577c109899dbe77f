/*
 * HTTP/1.x response parsing (see http_parse.h). Lenient where curl is
 * (bare LF line ends, header lines without a colon are skipped), strict
 * where a mistake would mis-frame the body: Content-Length must be digits
 * and agree with itself, a chunk size must be hex.
 */
#include <string.h>
#include <strings.h>

#include "http/message/http_parse.h"

#define CHUNK_LINE_MAX 4096 /* bytes of one chunk-size or trailer line */

/* Returns the end of the line at p (at its '\n'), or NULL if p[0..end)
   has no '\n'. */
static const char *line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* Returns 1 if p[0..k) equals the lower-case name[0..k), ASCII letters
   compared without case (strncasecmp without the locale's cost). */
static int name_eq(const char *p, const char *name, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        char c = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
        if (c != name[i])
            return 0;
    }
    return 1;
}

/* Returns 1 if the header line p[0..n) is named name (lower case, a
   literal), with *v and *vn set to its value without surrounding blanks. */
#define HEADER_IS(p, n, name, v, vn) \
    header_is(p, n, name, sizeof(name) - 1, v, vn)
static int header_is(const char *p, size_t n, const char *name, size_t k,
                     const char **v, size_t *vn)
{
    if (n <= k || p[k] != ':' || !name_eq(p, name, k))
        return 0;
    p += k + 1;
    n -= k + 1;
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        n--;
    *v = p;
    *vn = n;
    return 1;
}

/* Returns 1 if v[0..n) contains token tok (lower case, k bytes; a
   comma-separated list, any case). */
#define HAS_TOKEN(v, n, tok) has_token(v, n, tok, sizeof(tok) - 1)
static int has_token(const char *v, size_t n, const char *tok, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if ((v[i] | 0x20) == tok[0] && name_eq(v + i, tok, k) &&
            (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + k == n || v[i + k] == ',' || v[i + k] == ' ' ||
             v[i + k] == ';'))
            return 1;
    return 0;
}

/* Returns 1 if the coding list v[0..n) names one other than chunked. */
static int other_coding(const char *v, size_t n)
{
    const char *end = v + n;

    while (v < end) {
        const char *t;
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        for (t = v; v < end && *v != ',' && *v != ' ' && *v != '\t'; v++)
            ;
        if (v > t && !((size_t)(v - t) == 7 && name_eq(t, "chunked", 7)))
            return 1;
        while (v < end && *v != ',')
            v++;
    }
    return 0;
}

/* Parses the status line p[0..n). Returns 0 or -1. */
static int status_line(const char *p, size_t n, mp__http_head *h)
{
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return -1;
    if (n > 12 && p[12] != ' ' && p[12] != '\r')
        return -1;
    h->version = p[7] == '1' ? 11 : 10;
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return h->status >= 100 ? 0 : -1;
}

/* Applies one header line p[0..n) to h. Returns 0 or -1 (*why set). */
static int header_line(const char *p, size_t n, mp__http_head *h, int *ka,
                       const char **why)
{
    const char *v;
    size_t vn;
    char c0 = (char)(p[0] | 0x20);

    if (c0 != 'c' && c0 != 't') /* none of the four names */
        return 0;
    if (HEADER_IS(p, n, "content-length", &v, &vn)) {
        int64_t x = 0;
        if (vn == 0 || vn > 18) {
            *why = "bad Content-Length";
            return -1;
        }
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9') {
                *why = "bad Content-Length";
                return -1;
            }
            x = x * 10 + (v[i] - '0');
        }
        if (h->clen >= 0 && h->clen != x) {
            *why = "conflicting Content-Length";
            return -1;
        }
        h->clen = x;
    } else if (HEADER_IS(p, n, "transfer-encoding", &v, &vn)) {
        if (HAS_TOKEN(v, vn, "chunked"))
            h->chunked = 1;
        if (other_coding(v, vn))
            h->te_codings = 1;
    } else if (HEADER_IS(p, n, "content-encoding", &v, &vn)) {
        h->has_ce = 1;
    } else if (HEADER_IS(p, n, "connection", &v, &vn)) {
        if (HAS_TOKEN(v, vn, "close"))
            h->conn_close = 1;
        if (HAS_TOKEN(v, vn, "keep-alive"))
            *ka = 1;
    }
    return 0;
}

int mp__http_parse_head(const char *p, size_t n, mp__http_head *h,
                        const char **why)
{
    const char *end = p + n, *q = p, *eol;
    int ka = 0, first = 1, has_te = 0;
    size_t lines = 0;

    memset(h, 0, sizeof *h);
    h->clen = -1;
    *why = "not an HTTP/1.x response";
    if (memcmp(p, "HTTP/", n < 5 ? n : 5) != 0)
        return -1;
    for (;;) {
        if (!(eol = line_end(q, end))) {
            if ((size_t)(end - q) > MP_HTTP_MAX_HEADER_LINE) {
                *why = "a response header line is longer than the limit "
                       "(MP_HTTP_MAX_HEADER_LINE, 100 KiB)";
                return -1;
            }
            if (n > MP_HTTP_MAX_HEADER_BYTES) {
                *why = "header block larger than the limit "
                       "(MP_HTTP_MAX_HEADER_BYTES)";
                return -1;
            }
            return 0;
        }
        size_t len = (size_t)(eol - q);
        if (len + 1 > MP_HTTP_MAX_HEADER_LINE) {
            *why = "a response header line is longer than the limit "
                   "(MP_HTTP_MAX_HEADER_LINE, 100 KiB)";
            return -1;
        }
        if ((size_t)(eol + 1 - p) > MP_HTTP_MAX_HEADER_BYTES) {
            *why = "header block larger than the limit "
                   "(MP_HTTP_MAX_HEADER_BYTES)";
            return -1;
        }
        if (len && q[len - 1] == '\r')
            len--;
        if (first) {
            if (status_line(q, len, h) < 0)
                return -1;
            if (h->status > 599) {
                *why = "status code outside 100-599";
                return -1;
            }
            first = 0;
        } else if (len == 0) {
            break;
        } else {
            if (++lines > MP_HTTP_MAX_HEADER_LINES) {
                *why = "more header lines than the limit "
                       "(MP_HTTP_MAX_HEADER_LINES)";
                return -1;
            }
            if (len > 18 && (q[0] | 0x20) == 't' &&
                name_eq(q, "transfer-encoding:", 18))
                has_te = 1;
            if (q[0] != ' ' && q[0] != '\t' &&
                header_line(q, len, h, &ka, why) < 0)
                return -1;
        }
        q = eol + 1;
    }
    h->head_len = (size_t)(eol + 1 - p);
    if (h->version == 10 && !ka)
        h->conn_close = 1;
    if (has_te && h->clen >= 0) {
        *why = "both Content-Length and Transfer-Encoding in a response";
        return -1;
    }
    return 1;
}

enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_END, CH_TRAILER, CH_TRAILER_END };

/* Returns the value of hex digit c, or -1. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void mp__http_dechunk_trailers(mp__http_chunked *c, mp__http_sink fn, void *ud)
{
    c->on_trailer = fn;
    c->trailer_ud = ud;
}

int mp__http_dechunk(mp__http_chunked *c, const char *p, size_t n,
                     size_t *used, mp__http_sink sink, void *ud)
{
    size_t i = 0;

    while (i < n) {
        char ch = p[i];
        switch (c->state) {
        case CH_SIZE: {
            int d = hexval(ch);
            if (d >= 0) {
                if (++c->digits > 15)
                    return -1;
                c->left = c->left * 16 + (uint64_t)d;
                i++;
                break;
            }
            if (!c->digits)
                return -1;
            c->state = CH_EXT;
            c->line = 0;
            break;
        }
        case CH_EXT:
            i++;
            if (ch == '\n') {
                c->state = c->left ? CH_DATA : CH_TRAILER;
                c->line = 0;
            } else if (++c->line > CHUNK_LINE_MAX ||
                       (c->line == 1 && ch != ';' && ch != '\r' &&
                        ch != ' ' && ch != '\t')) {
                return -1;
            }
            break;
        case CH_DATA: {
            size_t k = n - i < c->left ? n - i : (size_t)c->left;
            sink(ud, p + i, k);
            i += k;
            c->left -= k;
            if (!c->left) {
                c->state = CH_DATA_END;
                c->line = 0;
            }
            break;
        }
        case CH_DATA_END: /* CRLF or LF after the data */
            i++;
            if (ch == '\n') {
                c->state = CH_SIZE;
                c->digits = 0;
            } else if (ch != '\r' || c->line++) {
                return -1;
            }
            break;
        case CH_TRAILER: /* lines until an empty one */
            i++;
            if (ch == '\n') {
                if (c->line == 0) {
                    *used = i;
                    return 1;
                }
                c->line = 0;
                if (c->on_trailer)
                    c->on_trailer(c->trailer_ud, p + i - 1, 1);
            } else if (ch != '\r' || c->line) {
                if (++c->line > CHUNK_LINE_MAX)
                    return -1;
                if (c->on_trailer)
                    c->on_trailer(c->trailer_ud, p + i - 1, 1);
            }
            break;
        default:
            return -1;
        }
    }
    *used = i;
    return 0;
}

int mp__http_head_codings(const char *p, size_t n, int ce,
                          mp__http_coding_fn fn, void *ud)
{
    const char *end = p + n, *q = p, *eol, *v;
    size_t vn;
    int rc;

    for (; (eol = line_end(q, end)); q = eol + 1) {
        size_t len = (size_t)(eol - q);
        if (q == p || !len || q[0] == ' ' || q[0] == '\t')
            continue; /* the status line, the blank one, folded lines */
        if (HEADER_IS(q, len, "transfer-encoding", &v, &vn)) {
            if ((rc = fn(ud, v, vn, 1)) != 0)
                return rc;
        } else if (ce && HEADER_IS(q, len, "content-encoding", &v, &vn)) {
            if ((rc = fn(ud, v, vn, 0)) != 0)
                return rc;
        }
    }
    return 0;
}
