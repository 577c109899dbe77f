/*
 * The HTTP suites' request and response summary (seen.h says what each
 * does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "seen.h"

/* Builds q from s; hdr holds the header list q points at. */
static void make_req(const seen_req *s, mp_http_request *q, const char *hdr[2])
{
    size_t n = 0;

    memset(q, 0, sizeof *q);
    q->url = s->url;
    q->method = s->method[0] ? s->method : NULL;
    while (n < 2 && s->header[n][0]) {
        hdr[n] = s->header[n];
        n++;
    }
    if (n) {
        q->headers = hdr;
        q->n_headers = n;
    }
    if (s->body[0]) {
        q->body = s->body;
        q->body_len = strlen(s->body);
    }
    q->cafile = s->cafile[0] ? s->cafile : NULL;
    q->body_path = s->body_path[0] ? s->body_path : NULL;
    q->proxy = s->proxy_set ? s->proxy : NULL;
    q->noproxy = s->noproxy_set ? s->noproxy : NULL;
    q->proxy_cafile = s->proxy_cafile[0] ? s->proxy_cafile : NULL;
    q->proxy_insecure = s->proxy_insecure;
    q->timeout_ms = s->timeout_ms;
    q->connect_timeout_ms = s->connect_timeout_ms;
    q->follow_redirects = s->follow;
    q->max_redirects = s->max_redirects;
    q->max_body = s->max_body;
    q->engine = s->engine;
    q->want_headers = s->want_headers;
    q->no_body = s->no_body;
    q->compressed = s->compressed;
    q->http1 = s->http1;
    q->insecure = s->insecure;
}

/* Copies the lines of head into buf (len), but Date lines and a line
   that no longer fits. */
static void head_without_date(const char *head, char *buf, size_t len)
{
    size_t have = 0;

    for (const char *p = head; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p + 1) : strlen(p);
        if (strncasecmp(p, "Date:", 5) != 0 && have + n < len) {
            memcpy(buf + have, p, n);
            have += n;
        }
        p += n;
    }
    buf[have] = '\0';
}

void seen_fill(seen *o, int rc, const mp_http_response *r)
{
    memset(o, 0, sizeof *o);
    o->rc = rc;
    o->error = r->error;
    o->engine = r->engine;
    o->status = r->status;
    o->http_version = r->http_version;
    o->redirects = r->redirects;
    o->body_len = r->body_len;
    o->bytes_down = r->bytes_down;
    o->t_total_us = r->t_total_us;
    o->t_first_byte_us = r->t_first_byte_us;
    o->t_connect_us = r->t_connect_us;
    o->t_tls_us = r->t_tls_us;
    o->t_dns_us = r->t_dns_us;
    o->body_null = r->body == NULL;
    if (r->final_url)
        snprintf(o->final_url, sizeof o->final_url, "%s", r->final_url);
    if (r->message)
        snprintf(o->message, sizeof o->message, "%s", r->message);
    head_without_date(r->headers, o->headers, sizeof o->headers);
    if (r->body)
        memcpy(o->body, r->body,
               r->body_len < sizeof o->body - 1 ? r->body_len
                                                : sizeof o->body - 1);
}

void seen_http(mp_task *t, const seen_req *s, seen *o)
{
    const char *hdr[2];
    mp_http_request q;
    mp_http_response r;
    char *big = NULL;
    int rc;

    make_req(s, &q, hdr);
    if (s->big_body && (big = malloc(s->big_body)) != NULL) {
        memset(big, 'b', s->big_body);
        q.body = big;
        q.body_len = s->big_body;
    }
    rc = mp_http(t, &q, &r);
    seen_fill(o, rc, &r);
    mp_http_response_clear(&r);
    free(big);
}

int seen_task(mp_task *t, const void *in, size_t len)
{
    seen o;

    if (len != sizeof(seen_req))
        return mp_fail(t, MP_EINVAL, "seen_task: %zu bytes, not a seen_req",
                       len);
    seen_http(t, in, &o);
    return mp_return(t, &o, sizeof o);
}

/* The record's times are curl's: each from the transfer's start, so the
   total is at least every phase, whatever the outcome (a failed lookup
   once gave a total of 0 on the native engine). */
static void phases_ok(const char *what, const char *engine, const seen *s)
{
    uint64_t t[] = {s->t_dns_us, s->t_connect_us, s->t_tls_us,
                    s->t_first_byte_us};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i] > s->t_total_us)
            fail_msg("%s: %s's time %zu (dns, connect, tls, first_byte) "
                     "%" PRIu64 " us is past its total %" PRIu64 " us (%s)",
                     what, engine, i, t[i], s->t_total_us, s->message);
}

void seen_compare(const char *what, const seen *c, const seen *n,
                  int with_bytes_down)
{
    phases_ok(what, "curl", c);
    phases_ok(what, "native", n);
#define SAME(f, fmt)                                                        \
    if (c->f != n->f)                                                       \
        fail_msg("%s: " #f " curl " fmt " native " fmt " (%s | %s)", what,  \
                 c->f, n->f, c->message, n->message)
    SAME(rc, "%d");
    SAME(error, "%d");
    SAME(status, "%ld");
    SAME(http_version, "%ld");
    SAME(redirects, "%u");
    SAME(body_len, "%" PRIu64);
    if (with_bytes_down)
        SAME(bytes_down, "%" PRIu64);
    SAME(body_null, "%d");
#undef SAME
    if (strcmp(c->final_url, n->final_url) != 0)
        fail_msg("%s: final_url curl %s native %s", what, c->final_url,
                 n->final_url);
    if (strcmp(c->headers, n->headers) != 0)
        fail_msg("%s: head differs:\ncurl:\n%s\nnative:\n%s", what, c->headers,
                 n->headers);
    if (strcmp(c->body, n->body) != 0)
        fail_msg("%s: body differs:\ncurl:   %s\nnative: %s", what, c->body,
                 n->body);
}
