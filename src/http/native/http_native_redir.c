/*
 * A native request from its first hop to its last: mp__http_native runs
 * each hop (http_native.c's mp__native_xfer_run) and, with follow_redirects,
 * follows a 3xx's Location as libcurl 7.88 does, so that the record is
 * curl's:
 *
 * - the Location is resolved by http_location.c; the count is checked
 *   before (mp__http_max_redirects: "Maximum (N) redirects followed",
 *   MP_EREDIRECT, the last 3xx's record);
 * - another scheme than http(s) fails with curl's message (MP_EURL);
 * - the method as curl changes it: on 301, 302 and 303 a POST becomes a
 *   GET and its body is dropped; HEAD stays HEAD; a method curl sends as
 *   a custom string (PUT, DELETE, PATCH, GET with a body...) keeps its
 *   name on every hop, its body dropped by 301/302/303 (curl's
 *   CURLOPT_CUSTOMREQUEST); 307 and 308 keep method and body;
 * - the request's Authorization and Cookie headers go only to the first
 *   URL's host, port and scheme (curl's CURLOPT_UNRESTRICTED_AUTH off,
 *   checked against the first URL on each hop, as curl does); an https
 *   -> http redirect is followed (curl's REDIR_PROTOCOLS "http,https"),
 *   the credentials then dropped as for any other scheme;
 * - a redirect body is read and dropped (the connection stays for the
 *   next hop, to the same host on the pool's connection or h2 stream);
 * - the times are summed over hops (each from its hop's start) and the
 *   total runs from the first; redirects counts the hops followed.
 *
 * A target the native form cannot hold (a fragment, an upper-case host,
 * a user name, ":80"...) goes to libcurl for the rest of the chain.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "http/shared/http_fail.h"
#include "http/shared/http_int.h"
#include "http/message/http_location.h"
#include "http/native/http_native_xfer.h"
#include "http/tls/http_tls.h"
#include "mpool.h"

#define HF(kind) mp__http_fail_code(MP__HF_##kind) /* http_fail.h */

/* The request of the hops after the first, as curl sends them. */
typedef struct hops {
    const mp_http_request *req; /* the first */
    mp__http_url first;          /* its URL, parsed */
    mp_http_request q;           /* the next hop's */
    const char **hdrs;           /* q.headers without credentials */
    int head, post, custom;      /* curl's NOBODY, HTTPREQ_POST (the body
                                    is sent), CUSTOMREQUEST */
} hops;

/* Sets h up for req as http_easy.c's set_method hands it to curl. */
static void hops_init(hops *h, const mp_http_request *req,
                      const mp__http_url *u)
{
    const char *m = mp__http_method(req);

    memset(h, 0, sizeof *h);
    h->req = req;
    h->first = *u;
    h->head = strcasecmp(m, "HEAD") == 0;
    h->post = !h->head && (req->body || strcasecmp(m, "POST") == 0);
    h->custom = !h->head && strcmp(m, "POST") != 0 &&
                (req->body || strcmp(m, "GET") != 0);
}

/* Returns 1 if u is the first URL's host, port and scheme. */
static int same_origin(const hops *h, const mp__http_url *u)
{
    return u->host_len == h->first.host_len &&
           strncasecmp(u->host, h->first.host, u->host_len) == 0 &&
           u->port == h->first.port && u->tls == h->first.tls;
}

/* Returns 1 if header line l is Authorization or Cookie (curl's
   checkprefix). */
static int credential(const char *l)
{
    return strncasecmp(l, "Authorization:", 14) == 0 ||
           strncasecmp(l, "Cookie:", 7) == 0;
}

/* Makes h->q the request for the hop to u after a status code (curl's
   Curl_follow and Curl_http_method). Returns 0 or -1 (out of memory). */
static int hops_next(hops *h, long status, int same)
{
    const mp_http_request *req = h->req;

    if (status == 301 || status == 302 || status == 303)
        h->post = 0;
    h->q = *req;
    h->q.method = h->custom ? mp__http_method(req)
                  : h->head ? "HEAD"
                  : h->post ? "POST"
                            : "GET";
    h->q.body = h->post ? req->body : NULL;
    h->q.body_len = h->post ? req->body_len : 0;
    if (same || !req->n_headers)
        return 0;
    if (!h->hdrs && !(h->hdrs = calloc(req->n_headers, sizeof *h->hdrs)))
        return -1;
    for (size_t i = 0; i < req->n_headers; i++)
        h->hdrs[i] = req->headers[i] && !credential(req->headers[i])
                         ? req->headers[i]
                         : NULL;
    h->q.headers = h->hdrs;
    return 0;
}

/* Sets x up for a hop of q to u. */
static void hop_init(mp__native_xfer *x, const hops *h,
                     const mp_http_request *q, const mp__http_url *u,
                     mp_http_response *resp, mp_task *t, FILE *file,
                     uint64_t t0)
{
    const mp_http_request *req = h->req;

    memset(x, 0, sizeof *x);
    x->task = t;
    x->req = q;
    x->orig = req;
    x->resp = resp;
    mp__native_resp_init(&x->r, q, resp, file,
                         req->max_body ? req->max_body : MP__HTTP_MAX_BODY,
                         req->follow_redirects);
    x->t0 = t0;
    x->hop0 = mp__now_us();
    x->u = *u;
}

/* Ends a chain on a redirect that is not followed (x done): x finished
   into resp as curl leaves it, err with curl's message why, the body
   dropped. Returns err. */
static int redirect_fail(mp__native_xfer *x, int err, const char *why)
{
    mp_http_response *resp = x->resp;

    mp__native_xfer_finish(x);
    free(resp->body);
    resp->body = NULL;
    return mp__http_error(resp, err, "%s %.*s: %s", mp__http_method(x->orig),
                          MP__HTTP_URL_SHOWN, x->orig->url, why);
}

/* Returns the absolute URL libcurl is given for loc against base (in
   the native form) when the native form cannot hold the target (curl
   resolves it again), or NULL (out of memory). */
static char *join_for_curl(const char *base, const char *loc)
{
    mp__http_url b;
    size_t origin, keep, ll = strlen(loc);
    char *u;

    if (mp__http_native_url(base, &b) != 0)
        return NULL;
    origin = (size_t)(b.target - base);
    if (strcspn(loc, ":") < strcspn(loc, "/?"))
        keep = 0; /* absolute */
    else if (loc[0] == '/' && loc[1] == '/')
        keep = (size_t)(strchr(base, ':') - base) + 1;
    else if (loc[0] == '/')
        keep = origin;
    else if (loc[0] == '?')
        keep = origin + strcspn(b.target, "?");
    else { /* relative: up to the base path's last '/' */
        keep = origin + strcspn(b.target, "?");
        while (keep > origin && base[keep - 1] != '/')
            keep--;
    }
    if (!(u = malloc(keep + 3 * ll + 2)))
        return NULL;
    memcpy(u, base, keep);
    if (keep && keep == origin && loc[0] != '/' && loc[0] != '?')
        u[keep++] = '/';
    for (size_t i = 0, q = 0; i <= ll; i++) { /* as curl's concat_url */
        unsigned char c = (unsigned char)loc[i];
        q |= c == '?';
        if (c == ' ' && !q)
            keep += (size_t)snprintf(u + keep, 4, "%%20");
        else if (c == ' ')
            u[keep++] = '+';
        else if (c >= 0x80)
            keep += (size_t)snprintf(u + keep, 4, "%%%02x", c);
        else
            u[keep++] = (char)c;
    }
    return u;
}

/* The rest of the chain from the redirect x is on (to loc, the native
   form cannot hold it) runs on libcurl: its hops are added to this
   one's, the record is curl's; max is the whole chain's limit, the hop to
   loc counted. Returns 0 or the code stored in resp. */
static int hand_to_curl(mp__native_xfer *x, hops *h, unsigned max)
{
    mp_http_response *resp = x->resp, r;
    unsigned left = max - resp->redirects;
    char *url = join_for_curl(resp->final_url, x->r.location);
    size_t ol = (size_t)(h->first.target - h->req->url);
    uint64_t total = mp__now_us() - x->t0;
    int same, rc;

    if (!url)
        return mp__http_error(resp, HF(NOMEM), "out of memory");
    /* credentials stay only if it is the first URL's origin as written */
    same = strncmp(url, h->req->url, ol) == 0 && strchr("/?#", url[ol]);
    if (hops_next(h, resp->status, same) < 0) {
        free(url);
        return mp__http_error(resp, HF(NOMEM), "out of memory");
    }
    h->q.url = url;
    h->q.max_redirects = left ? left : MP_HTTP_NO_REDIRECTS;
    h->q.follow_redirects = 1;
    h->q.engine = MP_HTTP_CURL;
    memset(&r, 0, sizeof r);
    rc = mp__http_curl(x->task, &h->q, &r);
    r.redirects += resp->redirects;
    r.t_dns_us += resp->t_dns_us;
    r.t_connect_us += resp->t_connect_us;
    r.t_tls_us += resp->t_tls_us;
    r.t_first_byte_us += resp->t_first_byte_us;
    r.t_total_us += total;
    r.engine = MP_HTTP_CURL;
    if (rc == MP_EREDIRECT) /* curl counted from loc: the whole chain's */
        mp__http_error(&r, HF(REDIRECTS), "Maximum (%u) redirects followed",
                       max);
    free(resp->message); /* mp_http_response_clear is http_api.c's,
                            above this file */
    free(resp->final_url);
    free(resp->headers);
    free(resp->body);
    *resp = r;
    free(url);
    return rc;
}

/* Follows the redirect x got (x->r.location) if it may: the next hop's
   URL in *next and its parsed form in *u. Returns 1 to go on, or 0 with
   *rc: the chain ended (the record is done). */
static int follow(mp__native_xfer *x, hops *h, char **next, mp__http_url *u,
                  int *rc)
{
    mp_http_response *resp = x->resp;
    unsigned max = mp__http_max_redirects(x->orig);
    char why[300];
    int lrc;

    if (resp->redirects >= max) {
        snprintf(why, sizeof why, "Maximum (%u) redirects followed", max);
        *rc = redirect_fail(x, HF(REDIRECTS), why);
        return 0;
    }
    resp->redirects++;
    lrc = mp__http_location(resp->final_url, x->r.location,
                            strlen(x->r.location), next);
    if (lrc == MP__LOC_SCHEME) { /* curl's two messages */
        size_t sl = strcspn(*next, ":");
        if (mp__http_curl_knows_scheme(*next, sl)) {
            snprintf(why, sizeof why,
                     "Protocol \"%.*s\" not supported or disabled in "
                     "libcurl", (int)(sl < 40 ? sl : 40), *next);
            free(resp->final_url);
            resp->final_url = *next;
        } else {
            snprintf(why, sizeof why, "The redirect target URL could not "
                                      "be parsed: Unsupported URL scheme");
            free(*next);
        }
        *next = NULL;
        *rc = redirect_fail(x, HF(URL), why);
        return 0;
    }
    if (lrc == MP__LOC_FOREIGN) {
        *rc = hand_to_curl(x, h, max);
        return 0;
    }
    if (lrc == MP__LOC_OK && mp__http_native_url(*next, u) == 0 &&
        mp__nproxy_for(x->orig, *next, &x->px) != 0) {
        free(*next); /* a proxy it does not speak: libcurl's from here */
        *next = NULL;
        *rc = hand_to_curl(x, h, max);
        return 0;
    }
    if (lrc != MP__LOC_OK || mp__http_native_url(*next, u) != 0 ||
        hops_next(h, resp->status, same_origin(h, u)) < 0) {
        free(*next);
        *next = NULL;
        *rc = redirect_fail(x, HF(NOMEM), "out of memory");
        return 0;
    }
    return 1;
}

int mp__http_native(mp_task *t, const mp_http_request *req,
                    const mp__http_url *u0, mp_http_response *resp)
{
    const mp_http_request *q = req;
    mp__http_url u = *u0;
    uint64_t t0 = mp__now_us();
    FILE *file = NULL;
    char msg[300];
    hops h;
    mp__native_xfer x;
    int rc;

    memset(&x, 0, sizeof x);
    if ((rc = mp__native_xfer_ready(resp)) != 0)
        return rc;
    hops_init(&h, req, u0);
    for (;;) {
        mp__tls_ctx *tls = NULL;
        char *next = NULL;
        if (u.tls && !(tls = mp__tls_ctx_get(req->cafile, req->insecure, msg,
                                             sizeof msg))) {
            rc = mp__http_error(resp, HF(TLS), "%s %.*s: %s",
                                mp__http_method(req), MP__HTTP_URL_SHOWN,
                                req->url, msg);
            break;
        }
        if (!resp->final_url && req->body_path &&
            !(file = mp__http_body_file(req->body_path))) {
            int e = errno;
            return mp__http_error(resp, HF(WRITE), "create %s: %s",
                                  req->body_path, strerror(e));
        }
        if (!resp->final_url)
            resp->final_url = mp__http_final_url(req->url, u.target[0] != 0);
        hop_init(&x, &h, q, &u, resp, t, file, t0);
        x.tls = tls;
        rc = mp__native_xfer_run(&x);
        file = x.r.file; /* closed if x finished */
        if (rc || !x.r.location || !follow(&x, &h, &next, &u, &rc))
            break;
        mp__native_resp_free(&x.r);
        free(resp->final_url);
        resp->final_url = next; /* u points into it */
        q = &h.q;
    }
    mp__native_resp_file_close(&x.r);
    mp__native_resp_free(&x.r);
    free(h.hdrs);
    return rc;
}
