/*
 * The native engine's HTTP/1.1 request as curl 7.88 sends it (the
 * HTTP/2 header fields are http_native_h2.c's): request line, Host,
 * User-Agent, Accept, Accept-Encoding with compressed, the request's own headers, Content-Length and
 * Content-Type with a body, then the body, into the connection's write
 * buffer (kept across requests). No I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/native/http_native_xfer.h"

/* Appends n bytes to c->wbuf at *len. Returns 0 or -1. */
static int wput(mp__nconn *c, size_t *len, const void *p, size_t n)
{
    if (*len + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 1024;
        while (cap < *len + n)
            cap *= 2;
        char *b = realloc(c->wbuf, cap);
        if (!b)
            return -1;
        c->wbuf = b;
        c->wcap = cap;
    }
    memcpy(c->wbuf + *len, p, n);
    *len += n;
    return 0;
}

static int wputs(mp__nconn *c, size_t *len, const char *p)
{
    return wput(c, len, p, strlen(p));
}

/* Appends the URL's host and its ":port" unless the scheme's default
   (line: scratch room). Returns 0 or -1. */
static int wput_hostport(const mp__native_xfer *x, mp__nconn *c, size_t *n,
                         char *line, size_t len)
{
    int rc = wput(c, n, x->u.host, x->u.host_len);

    if (x->u.port != (x->u.tls ? 443 : 80)) { /* ":port", no snprintf */
        char *e = line + len, *d = e;
        unsigned v = x->u.port;
        do
            *--d = (char)('0' + v % 10);
        while ((v /= 10));
        *--d = ':';
        rc |= wput(c, n, d, (size_t)(e - d));
    }
    return rc;
}

int mp__native_req_build(mp__native_xfer *x, mp__nconn *c)
{
    const mp_http_request *q = x->req;
    const char *m = mp__http_method(q);
    size_t n = 0;
    int body = q->body || strcasecmp(m, "POST") == 0;
    int rc = 0;
    char line[96];

    rc |= wputs(c, &n, m);
    rc |= wputs(c, &n, " ");
    if (x->px.on && !x->u.tls) { /* the absolute form, as curl */
        rc |= wputs(c, &n, "http://");
        rc |= wput_hostport(x, c, &n, line, sizeof line);
    }
    rc |= wputs(c, &n, x->u.target[0] ? x->u.target : "/");
    rc |= wputs(c, &n, " HTTP/1.1\r\nHost: ");
    rc |= wput_hostport(x, c, &n, line, sizeof line);
    rc |= wputs(c, &n, "\r\n");
    if (x->px.on && !x->u.tls)
        rc |= wputs(c, &n, x->px.auth);
    rc |= wputs(c, &n, "User-Agent: mpool/" MP_VERSION_STRING
                       "\r\nAccept: */*\r\n");
    if (q->compressed)
        rc |= wputs(c, &n, "Accept-Encoding: " MP__DEC_ACCEPT "\r\n");
    if (x->px.on && !x->u.tls)
        rc |= wputs(c, &n, "Proxy-Connection: Keep-Alive\r\n");
    for (size_t i = 0; i < q->n_headers; i++)
        if (q->headers[i]) {
            rc |= wputs(c, &n, q->headers[i]);
            rc |= wputs(c, &n, "\r\n");
        }
    if (body) {
        snprintf(line, sizeof line,
                 "Content-Length: %zu\r\nContent-Type: "
                 "application/x-www-form-urlencoded\r\n",
                 q->body ? q->body_len : 0);
        rc |= wputs(c, &n, line);
    }
    rc |= wputs(c, &n, "\r\n");
    if (q->body && q->body_len)
        rc |= wput(c, &n, q->body, q->body_len);
    x->wlen = n;
    x->wsent = 0;
    return rc ? -1 : 0;
}
