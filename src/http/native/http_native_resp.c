/*
 * The native engine's response reader (http_native_resp.h): head, framing and
 * body of one HTTP/1.x response, fed with the bytes as they arrive. Its
 * failures are kinds of http_fail.h; the messages are curl's where curl
 * has one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/shared/http_int.h"
#include "http/native/http_native_resp.h"

/* mp__dec_sink: stores, writes or counts decoded body bytes (like
   http_easy.c's on_body; max_body counts them). Returns 0, or -1:
   r->werr says why it stops taking them. */
static int body_out(void *ud, const char *p, size_t n)
{
    mp__native_resp *r = ud;

    if (n > r->max_body - r->body_seen) { /* in every mode */
        r->werr = MP_EFBIG;
        return -1;
    }
    r->body_seen += n;
    if (r->file) {
        errno = 0;
        if (fwrite(p, 1, n, r->file) != n) {
            r->werr = MP_EIO;
            r->werrno = errno ? errno : EIO;
            return -1;
        }
        return 0;
    }
    if (r->req->no_body)
        return 0;
    if (mp__http_body_reserve(&r->body, &r->body_cap, r->body_len + n,
                              r->max_body) < 0) {
        r->werr = MP_ENOMEM;
        return -1;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* mp__http_sink: counts body bytes as they came (curl's SIZE_DOWNLOAD:
   before decoding, and what it refuses too) and passes them on through
   the body's codings; r->werr says why it stops taking them. */
static void body_sink(void *ud, const char *p, size_t n)
{
    mp__native_resp *r = ud;

    if (r->werr || !n)
        return;
    r->bytes_in += n;
    if (r->ignore)
        return; /* a redirect's body: curl reads it and drops it, undecoded */
    if (!r->dec.n) {
        body_out(r, p, n);
    } else if (mp__dec_write(&r->dec, p, n, body_out, r, &r->dec_why) == -1) {
        r->werr = MP_EPROTO;
    }
}

/* Says why the body sink stopped. Returns -1. */
static int werr_fail(mp__native_resp *r, mp__http_fail *kind, char *msg,
                     size_t len)
{
    if (r->werr == MP_EPROTO) {
        *kind = MP__HF_ENCODING;
        snprintf(msg, len, "%s", r->dec_why);
    } else if (r->werr == MP_EIO) {
        *kind = MP__HF_WRITE;
        snprintf(msg, len, "write: %s", strerror(r->werrno));
    } else if (r->werr == MP_EFBIG) {
        *kind = MP__HF_BODY_LIMIT;
        snprintf(msg, len, "body larger than max_body (%zu bytes)",
                 r->max_body);
    } else {
        *kind = MP__HF_NOMEM;
        snprintf(msg, len, "out of memory");
    }
    return -1;
}

/* mp__http_sink: keeps trailer bytes for the head (curl's header
   callback gets a chunked body's trailer lines after the head, and
   counts them in the head's byte limit); r->trl_err says why it stops. */
static void trailer_sink(void *ud, const char *p, size_t n)
{
    mp__native_resp *r = ud;

    if (r->trl_err)
        return;
    if (r->head_len + r->trl_len + n > MP_HTTP_MAX_HEADER_BYTES) {
        r->trl_err = MP__HF_PROTOCOL + 1;
        return;
    }
    if (r->trl_len + n > r->trl_cap) {
        size_t cap = r->trl_cap ? r->trl_cap * 2 : 256;
        char *b;
        while (cap < r->trl_len + n)
            cap *= 2;
        if (!(b = realloc(r->trl, cap))) {
            r->trl_err = MP__HF_NOMEM + 1;
            return;
        }
        r->trl = b;
        r->trl_cap = cap;
    }
    memcpy(r->trl + r->trl_len, p, n);
    r->trl_len += n;
}

void mp__native_resp_init(mp__native_resp *r, const mp_http_request *req,
                          mp_http_response *resp, FILE *file, size_t max_body,
                          int follow)
{
    memset(r, 0, sizeof *r);
    r->req = req;
    r->resp = resp;
    r->file = file;
    r->max_body = max_body;
    r->follow = follow;
}

void mp__native_resp_free(mp__native_resp *r)
{
    free(r->body);
    free(r->hdr);
    free(r->trl);
    free(r->location);
    r->body = r->hdr = r->trl = r->location = NULL;
    mp__dec_end(&r->dec);
}

int mp__native_resp_file_close(mp__native_resp *r)
{
    int e = 0;

    if (r->file && fclose(r->file) != 0)
        e = errno;
    r->file = NULL;
    return e;
}

char *mp__native_resp_body_take(mp__native_resp *r)
{
    char *b = r->body;

    r->body = NULL;
    return b;
}

char *mp__native_resp_head_take(mp__native_resp *r, size_t *len)
{
    char *h = r->hdr;

    if (!h || !r->head_len)
        return NULL;
    h[r->head_len] = '\0'; /* room for it: mp__native_resp_head_add */
    *len = r->head_len;
    r->hdr = NULL;
    return h;
}

int mp__native_resp_trailers_to_head(mp__native_resp *r)
{
    if (!r->trl_len || !r->hdr)
        return 0;
    r->hdr_len = r->head_len; /* what followed the head: the body's */
    if (mp__native_resp_head_add(r, r->trl, r->trl_len) < 0)
        return -1;
    r->head_len += r->trl_len;
    return 0;
}

void mp__native_resp_head_start(mp__native_resp *r)
{
    r->hdr_len = 0;
}

void mp__native_resp_head_done(mp__native_resp *r)
{
    r->head_len = r->hdr_len;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

int mp__native_resp_location(mp__native_resp *r, const char *v, size_t n)
{
    while (n && is_blank(*v)) {
        v++;
        n--;
    }
    while (n && is_blank(v[n - 1]))
        n--;
    if (!n || r->location)
        return 0;
    if (!(r->location = malloc(n + 1)))
        return -1;
    memcpy(r->location, v, n);
    r->location[n] = '\0';
    r->ignore = 1;
    return 0;
}

/* Finds the Location of the head p[0..n) (a 3xx to follow), as curl's
   header parser: a line starting with "Location:" in any case. Returns 0
   or -1 (out of memory). */
static int location_find(mp__native_resp *r, const char *p, size_t n)
{
    const char *end = p + n, *eol;

    for (; p < end; p = eol + 1) {
        if (!(eol = memchr(p, '\n', (size_t)(end - p))))
            break;
        if ((size_t)(eol - p) >= 9 && strncasecmp(p, "Location:", 9) == 0 &&
            mp__native_resp_location(r, p + 9, (size_t)(eol - p) - 9) < 0)
            return -1;
    }
    return 0;
}

int mp__native_resp_coding(mp__native_resp *r, const char *v, size_t n,
                           int transfer, mp__http_fail *kind, char *msg,
                           size_t len)
{
    const char *why;

    if (!transfer && !r->req->compressed)
        return 0;
    if (mp__dec_add(&r->dec, v, n, transfer, &why) == 0)
        return 0;
    *kind = MP__HF_ENCODING;
    snprintf(msg, len, "%s", why);
    return -1;
}

/* mp__http_coding_fn: adds a coding list of the head to the body's. */
static int head_coding(void *ud, const char *v, size_t n, int transfer)
{
    mp__http_fail kind;
    char msg[8];

    return mp__native_resp_coding(ud, v, n, transfer, &kind, msg, sizeof msg);
}

/* Takes the codings of the head at head (its r->h.head_len bytes) for a
   body: its Transfer-Encoding's, and with req->compressed its
   Content-Encoding's. A head refused (too many codings) is no response
   (README, "One record"): status and version 0, no headers. Returns 0,
   or -1 with kind and msg. */
static int take_codings(mp__native_resp *r, const char *head,
                        mp__http_fail *kind, char *msg, size_t len)
{
    if (!r->h.te_codings && !(r->h.has_ce && r->req->compressed))
        return 0;
    if (mp__http_head_codings(head, r->h.head_len, r->req->compressed,
                              head_coding, r) == 0)
        return 0;
    r->resp->status = 0;
    r->resp->http_version = 0;
    *kind = MP__HF_ENCODING;
    snprintf(msg, len, "Reject response due to more than %d content "
             "encodings", MP__DEC_MAX);
    return -1;
}

/* Takes the head r->hdr[0..head_len): the response's status and framing.
   Returns the body mode. */
static int take_head(mp__native_resp *r)
{
    const char *m = mp__http_method(r->req);

    r->resp->status = r->h.status;
    r->resp->http_version = r->h.version;
    r->head_len = r->h.head_len;
    r->reusable = !r->h.conn_close;
    /* A HEAD whose head announces a body: a server that sends that body
       anyway (a common bug) would have it read as the start of the next
       response on the connection, whenever it arrives, so the connection
       is not kept (curl 7.88 keeps it: both engines drop it, http_easy.c) */
    if (strcasecmp(m, "HEAD") == 0 && (r->h.chunked || r->h.clen > 0))
        r->reusable = 0;
    if (strcasecmp(m, "HEAD") == 0 || r->h.status == 204 ||
        r->h.status == 304)
        return MP__NR_NONE;
    if (r->h.chunked)
        return MP__NR_CHUNKED;
    if (r->h.clen >= 0) {
        r->body_left = (uint64_t)r->h.clen;
        return r->h.clen ? MP__NR_CLEN : MP__NR_NONE;
    }
    r->reusable = 0;
    return MP__NR_EOF;
}

int mp__native_resp_head_add(mp__native_resp *r, const char *p, size_t n)
{
    size_t need = r->hdr_len + n;

    if (need > r->hdr_cap) {
        size_t cap = r->hdr_cap ? r->hdr_cap : 2048;
        while (cap < need)
            cap *= 2;
        char *b = realloc(r->hdr, cap + 1);
        if (!b)
            return -1;
        r->hdr = b;
        r->hdr_cap = cap;
    }
    memcpy(r->hdr + r->hdr_len, p, n);
    r->hdr_len += n;
    return 0;
}

/* Feeds head bytes. Returns 0 (more wanted), 1 (head done: the bytes past
   it are r->hdr[head_len..hdr_len)), or -1 with kind and msg. */
static int feed_head(mp__native_resp *r, const char *p, size_t n,
                     mp__http_fail *kind, char *msg, size_t len)
{
    *kind = MP__HF_PROTOCOL;
    if (mp__native_resp_head_add(r, p, n) < 0) {
        *kind = MP__HF_NOMEM;
        snprintf(msg, len, "out of memory");
        return -1;
    }
    for (;;) {
        const char *why;
        int rc = mp__http_parse_head(r->hdr, r->hdr_len, &r->h, &why);
        if (rc == 0)
            return 0;
        if (rc < 0 && r->h.status > 599) {
            snprintf(msg, len, "status code outside 100-599: %d",
                     r->h.status);
            return -1;
        }
        if (rc < 0) {
            snprintf(msg, len, "%s", why);
            return -1;
        }
        n = r->hdr_len - r->h.head_len; /* body or the next head */
        if (r->h.status >= 200 || r->h.status == 101)
            return 1;
        memmove(r->hdr, r->hdr + r->h.head_len, n); /* 1xx: skip */
        r->hdr_len = n;
    }
}

/* The common case: the first bytes received hold a whole final head (a
   status of 200 or more, or 101), parsed where they are instead of
   copied to r->hdr first; the head alone is copied, and only when the
   request wants the headers. Returns 1 (head taken: *p and *n are the
   bytes past it), 0 (not that case: feed_head takes the bytes), or -1
   (out of memory: kind and msg set). */
static int head_in_place(mp__native_resp *r, const char **p, size_t *n,
                         mp__http_fail *kind, char *msg, size_t len)
{
    const char *why;

    if (r->hdr_len || mp__http_parse_head(*p, *n, &r->h, &why) != 1 ||
        (r->h.status < 200 && r->h.status != 101))
        return 0;
    if (r->req->want_headers &&
        mp__native_resp_head_add(r, *p, r->h.head_len) < 0) {
        *kind = MP__HF_NOMEM;
        snprintf(msg, len, "out of memory");
        return -1;
    }
    *p += r->h.head_len;
    *n -= r->h.head_len;
    return 1;
}

int mp__native_resp_feed(mp__native_resp *r, const char *p, size_t n,
                         mp__http_fail *kind, char *msg, size_t len)
{
    if (!n)
        return 0; /* nothing new (every state wants more then) */
    if (!r->in_body) {
        int rc = head_in_place(r, &p, &n, kind, msg, len);
        const char *head = r->hdr;
        if (rc < 0)
            return rc;
        if (rc == 1)
            head = p - r->h.head_len; /* p moved past it */
        if (rc == 0) {
            if ((rc = feed_head(r, p, n, kind, msg, len)) <= 0)
                return rc;
            /* the leftover stays in r->hdr past the head until the end */
            head = r->hdr;
            p = r->hdr + r->h.head_len;
            n = r->hdr_len - r->h.head_len;
        }
        if (r->follow && r->h.status >= 300 && r->h.status < 400 &&
            location_find(r, p - r->h.head_len, r->h.head_len) < 0) {
            *kind = MP__HF_NOMEM;
            snprintf(msg, len, "out of memory");
            return -1;
        }
        r->body_mode = take_head(r);
        r->in_body = 1;
        if (r->ignore && !r->reusable)
            return 1; /* curl follows at once when the connection ends */
        if (r->body_mode != MP__NR_NONE && !r->ignore &&
            take_codings(r, head, kind, msg, len) < 0)
            return -1;
        if (r->body_mode == MP__NR_CHUNKED && r->req->want_headers)
            mp__http_dechunk_trailers(&r->ch, trailer_sink, r);
        if (r->body_mode == MP__NR_NONE) {
            if (n)
                r->reusable = 0; /* bytes nobody asked for */
            return 1;
        }
        if (!n)
            return 0;
    }
    if (r->body_mode == MP__NR_CLEN) {
        size_t k = n < r->body_left ? n : (size_t)r->body_left;
        body_sink(r, p, k);
        r->body_left -= k;
        if (k < n)
            r->reusable = 0;
        if (r->werr)
            return werr_fail(r, kind, msg, len);
        return r->body_left ? 0 : 1;
    }
    if (r->body_mode == MP__NR_CHUNKED) {
        size_t used = 0;
        int rc = mp__http_dechunk(&r->ch, p, n, &used, body_sink, r);
        if (r->werr)
            return werr_fail(r, kind, msg, len);
        if (rc < 0) {
            *kind = MP__HF_PROTOCOL;
            snprintf(msg, len, "malformed chunked body");
            return -1;
        }
        if (r->trl_err) {
            *kind = (mp__http_fail)(r->trl_err - 1);
            snprintf(msg, len, "%s", *kind == MP__HF_NOMEM
                                         ? "out of memory"
                                         : "header block larger than the "
                                           "limit (MP_HTTP_MAX_HEADER_BYTES)");
            return -1;
        }
        if (rc > 0 && used < n)
            r->reusable = 0;
        return rc > 0;
    }
    body_sink(r, p, n);
    return r->werr ? werr_fail(r, kind, msg, len) : 0;
}

int mp__native_resp_body(mp__native_resp *r, const char *p, size_t n,
                         mp__http_fail *kind, char *msg, size_t len)
{
    body_sink(r, p, n);
    return r->werr ? werr_fail(r, kind, msg, len) : 0;
}

int mp__native_resp_trailer(mp__native_resp *r, const char *name,
                            size_t name_len, const char *value,
                            size_t value_len, mp__http_fail *kind)
{
    trailer_sink(r, name, name_len);
    trailer_sink(r, ": ", 2);
    trailer_sink(r, value, value_len);
    trailer_sink(r, "\r\n", 2);
    if (!r->trl_err)
        return 0;
    *kind = (mp__http_fail)(r->trl_err - 1);
    return -1;
}

int mp__native_resp_eof(mp__native_resp *r, mp__http_fail *kind, char *msg,
                        size_t len)
{
    r->reusable = 0;
    if (r->in_body && r->body_mode == MP__NR_EOF)
        return 1;
    *kind = MP__HF_CLOSED;
    if (!r->in_body && !r->hdr_len)
        snprintf(msg, len, "Empty reply from server");
    else if (r->in_body && r->body_mode == MP__NR_CLEN)
        snprintf(msg, len, "transfer closed with %llu bytes remaining",
                 (unsigned long long)r->body_left);
    else
        snprintf(msg, len, "%s", !r->in_body
                                     ? "connection closed in the response head"
                                     : "connection closed in the chunked body");
    return -1;
}
