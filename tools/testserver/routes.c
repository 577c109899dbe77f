/*
 * mp-testserver's routes: every endpoint but /stats (see usage below and
 * testserver.h). Handlers answer at once with ts_reply, or later through a
 * ts_pending record that the core frees if the client leaves first.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <zlib.h>

#include "coded.h"
#include "routes.h"
#include "testserver.h"

#define MAX_BYTES (100ul << 20)     /* /bytes/N and /chunked/N limit */
#define MAX_DELAY_MS 600000ul       /* /delay/MS limit: 10 minutes */
#define MAX_REDIRECTS 100000ul
#define FLAKY_BUCKETS 1024
#define FLAKY_MAX_KEYS 65536        /* when full, the table starts over */
#define FLAKY_KEY_MAX 200
#define ARRIVALS_MAX 16             /* arrival times kept per key */
#define GZIP_TEXT "hello gzip\n"
#define GZIP_REPEAT 200
#define MAX_BOMB_MIB 256ul         /* /gzip-bomb/MIB limit */
#define DROP_ANNOUNCED 1000
#define DROP_SENT 500

/* Per-key state of /flaky and /retry-after, per process: requests seen
 * and the arrival times of the first ARRIVALS_MAX (/arrivals reads them). */
struct flaky {
    struct flaky *next;
    unsigned long seen;
    uint64_t at_us[ARRIVALS_MAX]; /* CLOCK_MONOTONIC */
    char key[];
};

static struct flaky *flaky[FLAKY_BUCKETS];
static size_t nflaky;
static unsigned char *gzip_body;
static size_t gzip_len;

/* ---- answers that come later ---------------------------------------- */
/* /delay timer: answers the request. */
static void on_delay(evutil_socket_t fd, short what, void *arg)
{
    struct ts_pending *p = arg;
    struct evhttp_request *req = p->req;

    ts_pending_free(p);
    ts_reply_text(req, 200, "ok\n");
}

/* Sends the next /chunked chunk, or ends the reply; libevent calls it
 * again once a chunk is written. */
static void on_chunk_written(struct evhttp_connection *evcon, void *arg)
{
    struct ts_pending *p = arg;
    struct evhttp_request *req = p->req;
    size_t n = p->left < p->step ? p->left : p->step;

    if (n == 0) {
        ts_pending_free(p);
        evhttp_send_reply_end(req);
        return;
    }
    ts_add_pattern(p->buf, p->off, n);
    p->off += n;
    p->left -= n;
    evhttp_send_reply_chunk_with_cb(req, p->buf, on_chunk_written, p);
}

/* /drop: half the announced body is written; cut the connection.
 * on_conn_close frees p, libevent the request. */
static void on_drop_written(struct evhttp_connection *evcon, void *arg)
{
    evhttp_connection_free(evcon);
}

/* ---- endpoints ------------------------------------------------------ */

static void h_ok(struct ts_server *srv, struct ts_conn *c,
                 struct evhttp_request *req, const char *arg)
{
    ts_reply_text(req, 200, "ok\n");
}

/* /cookies: repeated fields, Set-Cookie (never folded: RFC 6265) and
   X-Rep (a list, which may be) twice each. */
static void h_cookies(struct ts_server *srv, struct ts_conn *c,
                      struct evhttp_request *req, const char *arg)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Set-Cookie", "a=1; Path=/");
    evhttp_add_header(h, "X-Rep", "one");
    evhttp_add_header(h, "Set-Cookie",
                      "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
    evhttp_add_header(h, "X-Rep", "two");
    ts_reply_text(req, 200, "ok\n");
}

static void h_bytes(struct ts_server *srv, struct ts_conn *c,
                    struct evhttp_request *req, const char *arg)
{
    unsigned long n;

    if (ts_parse_num(arg, MAX_BYTES, &n) != 0) {
        ts_reply_text(req, 400, "N must be a number up to 104857600\n");
        return;
    }
    ts_add_pattern(evhttp_request_get_output_buffer(req), 0, n);
    ts_reply(req, 200, "application/octet-stream");
}

/* /status/CODE[?retry_after=S] */
static void h_status(struct ts_server *srv, struct ts_conn *c,
                     struct evhttp_request *req, const char *arg)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq q;
    unsigned long code, secs;
    const char *ra;

    if (ts_parse_num(arg, 599, &code) != 0 || code < 100) {
        ts_reply_text(req, 400, "CODE must be 100-599\n");
        return;
    }
    TAILQ_INIT(&q);
    if (query != NULL && evhttp_parse_query_str(query, &q) == 0 &&
        (ra = evhttp_find_header(&q, "retry_after")) != NULL) {
        if (ts_parse_num(ra, 1000000000ul, &secs) != 0) {
            evhttp_clear_headers(&q);
            ts_reply_text(req, 400, "retry_after must be a number of seconds\n");
            return;
        }
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Retry-After", ra);
    }
    evhttp_clear_headers(&q);
    evbuffer_add_printf(evhttp_request_get_output_buffer(req), "status %lu\n",
                        code);
    ts_reply(req, (int)code, "text/plain");
}

static void h_delay(struct ts_server *srv, struct ts_conn *c,
                    struct evhttp_request *req, const char *arg)
{
    unsigned long ms;
    struct ts_pending *p;
    struct timeval tv;

    if (ts_parse_num(arg, MAX_DELAY_MS, &ms) != 0) {
        ts_reply_text(req, 400, "MS must be a number up to 600000\n");
        return;
    }
    if ((p = ts_pending_new(c, req, 1)) == NULL)
        return;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    p->timer = evtimer_new(srv->base, on_delay, p);
    if (p->timer == NULL || evtimer_add(p->timer, &tv) != 0) {
        ts_pending_free(p);
        ts_reply_text(req, 500, "evtimer_add failed\n");
    }
}

static void h_redirect(struct ts_server *srv, struct ts_conn *c,
                       struct evhttp_request *req, const char *arg)
{
    unsigned long n;
    char loc[48];

    if (ts_parse_num(arg, MAX_REDIRECTS, &n) != 0) {
        ts_reply_text(req, 400, "N must be a number up to 100000\n");
        return;
    }
    if (n == 0) {
        ts_reply_text(req, 200, "ok\n");
        return;
    }
    snprintf(loc, sizeof(loc), "/redirect/%lu", n - 1);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
    ts_reply_text(req, 302, "redirect\n");
}

static void h_redirect_loop(struct ts_server *srv, struct ts_conn *c,
                            struct evhttp_request *req, const char *arg)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
                      "/redirect-loop");
    ts_reply_text(req, 302, "redirect\n");
}

/* /to/CODE?loc=L[&body=B]: status CODE with "Location: L" (L and B
   URL-decoded, so any bytes can be sent; no loc: no Location), B (or
   "redirect\n") the body. */
static void h_to(struct ts_server *srv, struct ts_conn *c,
                 struct evhttp_request *req, const char *arg)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq q;
    unsigned long code;
    const char *loc = NULL, *body = NULL;

    if (ts_parse_num(arg, 599, &code) != 0 || code < 200) {
        ts_reply_text(req, 400, "CODE must be 200-599\n");
        return;
    }
    TAILQ_INIT(&q);
    if (query != NULL && evhttp_parse_query_str(query, &q) == 0) {
        loc = evhttp_find_header(&q, "loc");
        body = evhttp_find_header(&q, "body");
    }
    if (loc != NULL)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
                          loc);
    ts_reply_text(req, (int)code, body != NULL ? body : "redirect\n");
    evhttp_clear_headers(&q);
}

/* /chunked/N: N pattern bytes in chunks of N/4 (1 to TS_PATTERN_LEN). */
static void h_chunked(struct ts_server *srv, struct ts_conn *c,
                      struct evhttp_request *req, const char *arg)
{
    unsigned long n;
    struct ts_pending *p;

    if (ts_parse_num(arg, MAX_BYTES, &n) != 0) {
        ts_reply_text(req, 400, "N must be a number up to 104857600\n");
        return;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        ts_reply(req, 200, "application/octet-stream");
        return;
    }
    if ((p = ts_pending_new(c, req, 0)) == NULL)
        return;
    if ((p->buf = evbuffer_new()) == NULL) {
        ts_pending_free(p);
        ts_reply_text(req, 500, "evbuffer_new failed\n");
        return;
    }
    p->left = n;
    p->step = n / 4 < 1 ? 1 : n / 4 > TS_PATTERN_LEN ? TS_PATTERN_LEN : n / 4;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/octet-stream");
    evhttp_send_reply_start(req, 200, NULL);
    on_chunk_written(NULL, p);
}

static void h_gzip(struct ts_server *srv, struct ts_conn *c,
                   struct evhttp_request *req, const char *arg)
{
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), gzip_body,
                           gzip_len, NULL, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Encoding", "gzip");
    ts_reply(req, 200, "text/plain");
}

/* Gzips mib MiB of zeros into out. The function returns 0, or -1 when
 * zlib fails. */
static int add_gzip_zeros(struct evbuffer *out, unsigned long mib)
{
    static const unsigned char zeros[1 << 16];
    unsigned char buf[1 << 14];
    unsigned long left = mib << 20;
    z_stream z;
    int rc = Z_OK;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    while (rc == Z_OK) {
        if (z.avail_in == 0 && left) {
            z.next_in = (unsigned char *)zeros;
            z.avail_in = (uInt)(left < sizeof(zeros) ? left : sizeof(zeros));
            left -= z.avail_in;
        }
        z.next_out = buf;
        z.avail_out = sizeof(buf);
        rc = deflate(&z, left || z.avail_in ? Z_NO_FLUSH : Z_FINISH);
        evbuffer_add(out, buf, sizeof(buf) - z.avail_out);
        if (rc == Z_BUF_ERROR)
            rc = Z_OK; /* no progress possible this round: feed more */
    }
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* /gzip-bomb/MIB: a small gzip body (about 1 KiB per MiB) that decodes to
 * MIB MiB of zeros, for clients' decoded-size limits. */
static void h_gzip_bomb(struct ts_server *srv, struct ts_conn *c,
                        struct evhttp_request *req, const char *arg)
{
    unsigned long mib;

    if (ts_parse_num(arg, MAX_BOMB_MIB, &mib) != 0) {
        ts_reply_text(req, 400, "MIB must be a number up to 256\n");
        return;
    }
    if (add_gzip_zeros(evhttp_request_get_output_buffer(req), mib) != 0) {
        ts_reply_text(req, 500, "deflate failed\n");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Encoding", "gzip");
    ts_reply(req, 200, "application/octet-stream");
}

/* Appends s[0..n) as a JSON string; bytes outside printable ASCII become
 * \u00XX (so a body reads as Latin-1). */
static void json_str(struct evbuffer *out, const char *s, size_t n)
{
    size_t i, run = 0;

    evbuffer_add(out, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            run++;
            continue;
        }
        evbuffer_add(out, s + i - run, run);
        run = 0;
        if (ch == '"' || ch == '\\')
            evbuffer_add_printf(out, "\\%c", ch);
        else if (ch == '\n')
            evbuffer_add(out, "\\n", 2);
        else if (ch == '\r')
            evbuffer_add(out, "\\r", 2);
        else if (ch == '\t')
            evbuffer_add(out, "\\t", 2);
        else
            evbuffer_add_printf(out, "\\u%04x", ch);
    }
    evbuffer_add(out, s + n - run, run);
    evbuffer_add(out, "\"", 1);
}

/* The function returns the name of req's method. */
static const char *method_name(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "UNKNOWN";
}

/* /echo: the request as JSON {"method","uri","headers","body"}. */
static void h_echo(struct ts_server *srv, struct ts_conn *c,
                   struct evhttp_request *req, const char *arg)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *uri = evhttp_request_get_uri(req);
    size_t blen = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, -1);
    struct evkeyval *kv;
    int first = 1;

    evbuffer_add_printf(out, "{\"method\":\"%s\",\"uri\":", method_name(req));
    json_str(out, uri, strlen(uri));
    evbuffer_add(out, ",\"headers\":{", 12);
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
        if (!first)
            evbuffer_add(out, ",", 1);
        first = 0;
        json_str(out, kv->key, strlen(kv->key));
        evbuffer_add(out, ":", 1);
        json_str(out, kv->value, strlen(kv->value));
    }
    evbuffer_add(out, "},\"body\":", 9);
    json_str(out, body != NULL ? body : "", body != NULL ? blen : 0);
    evbuffer_add(out, "}\n", 2);
    ts_reply(req, 200, "application/json");
}

/* /drop: announces DROP_ANNOUNCED bytes, sends DROP_SENT, then closes. */
static void h_drop(struct ts_server *srv, struct ts_conn *c,
                   struct evhttp_request *req, const char *arg)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct ts_pending *p;
    char n[16];

    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        ts_reply(req, 200, "application/octet-stream");
        return;
    }
    if ((p = ts_pending_new(c, req, 0)) == NULL)
        return;
    if ((p->buf = evbuffer_new()) == NULL) {
        ts_pending_free(p);
        ts_reply_text(req, 500, "evbuffer_new failed\n");
        return;
    }
    snprintf(n, sizeof(n), "%d", DROP_ANNOUNCED);
    evhttp_add_header(h, "Content-Length", n);
    evhttp_add_header(h, "Content-Type", "application/octet-stream");
    evhttp_send_reply_start(req, 200, NULL);
    ts_add_pattern(p->buf, 0, DROP_SENT);
    evhttp_send_reply_chunk_with_cb(req, p->buf, on_drop_written, p);
}

/* /hang: never answers; the connection's close callback cleans up. */
static void h_hang(struct ts_server *srv, struct ts_conn *c,
                   struct evhttp_request *req, const char *arg)
{
    ts_pending_new(c, req, 1);
}

/* The function returns the FNV-1a hash of the n bytes at s. */
static unsigned long hash(const char *s, size_t n)
{
    unsigned long h = 2166136261ul;

    while (n-- > 0)
        h = (h ^ (unsigned char)*s++) * 16777619ul;
    return h;
}

/* Frees every /flaky counter. */
static void flaky_clear(void)
{
    size_t i;

    for (i = 0; i < FLAKY_BUCKETS; i++) {
        while (flaky[i] != NULL) {
            struct flaky *f = flaky[i];
            flaky[i] = f->next;
            free(f);
        }
    }
    nflaky = 0;
}

/* The function returns the counter of key (n bytes), created at 0 if
 * new, or NULL if memory ran out. */
static struct flaky *flaky_get(const char *key, size_t n)
{
    struct flaky **b = &flaky[hash(key, n) % FLAKY_BUCKETS], *f;

    for (f = *b; f != NULL; f = f->next)
        if (strlen(f->key) == n && memcmp(f->key, key, n) == 0)
            return f;
    if (nflaky >= FLAKY_MAX_KEYS)
        flaky_clear();
    if ((f = calloc(1, sizeof(*f) + n + 1)) == NULL)
        return NULL;
    memcpy(f->key, key, n);
    f->next = *b;
    *b = f;
    nflaky++;
    return f;
}

/* Counts a request for f and notes when it arrived. */
static void flaky_arrive(struct flaky *f)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (f->seen < ARRIVALS_MAX)
        f->at_us[f->seen] =
            (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
    f->seen++;
}

/* Parses arg as KEY/N (skip bytes before N, such as "date+"), then counts
 * the request for KEY and notes its arrival. The function returns KEY's
 * state with N in *num, or NULL after answering 400 with usage (or 500). */
static struct flaky *key_arrive(struct evhttp_request *req, const char *arg,
                                size_t skip, unsigned long max,
                                unsigned long *num, const char *usage)
{
    const char *slash = strrchr(arg, '/');
    struct flaky *f;

    if (slash == NULL || slash == arg || slash - arg > FLAKY_KEY_MAX ||
        strlen(slash + 1) < skip ||
        ts_parse_num(slash + 1 + skip, max, num) != 0) {
        ts_reply_text(req, 400, usage);
        return NULL;
    }
    if ((f = flaky_get(arg, (size_t)(slash - arg))) == NULL) {
        ts_reply_text(req, 500, "out of memory\n");
        return NULL;
    }
    flaky_arrive(f);
    return f;
}

/* /retry-after/KEY/S or /retry-after/KEY/date+S: the first request for
 * KEY gets 503 with Retry-After: S, or with the HTTP-date S seconds after
 * the next whole second (so a client that honours it waits at least S s
 * after this answer); the rest get 200. */
static void h_retry_after(struct ts_server *srv, struct ts_conn *c,
                          struct evhttp_request *req, const char *arg)
{
    const char *slash = strrchr(arg, '/');
    int date = slash && strncmp(slash + 1, "date+", 5) == 0;
    unsigned long sec;
    struct flaky *f;
    char hdr[64];

    if ((f = key_arrive(req, arg, date ? 5 : 0, 86400ul, &sec,
                        "use /retry-after/KEY/S or KEY/date+S\n")) == NULL)
        return;
    if (f->seen > 1) {
        ts_reply_text(req, 200, "ok\n");
        return;
    }
    if (date) {
        struct timespec now;
        struct tm tm;
        time_t t;

        clock_gettime(CLOCK_REALTIME, &now);
        t = now.tv_sec + (now.tv_nsec > 0) + (time_t)sec;
        strftime(hdr, sizeof hdr, "%a, %d %b %Y %H:%M:%S GMT",
                 gmtime_r(&t, &tm));
    } else {
        snprintf(hdr, sizeof hdr, "%lu", sec);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
                      hdr);
    ts_reply_text(req, 503, "retry later\n");
}

/* /arrivals/KEY: {"seen":N,"us":[...]}, the monotonic arrival times (us)
 * of the first requests for KEY on /flaky or /retry-after. */
static void h_arrivals(struct ts_server *srv, struct ts_conn *c,
                       struct evhttp_request *req, const char *arg)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    size_t n = strlen(arg), i;
    struct flaky *f;

    if (n == 0 || n > FLAKY_KEY_MAX || (f = flaky_get(arg, n)) == NULL) {
        ts_reply_text(req, 400, "use /arrivals/KEY\n");
        return;
    }
    evbuffer_add_printf(out, "{\"seen\":%lu,\"us\":[", f->seen);
    for (i = 0; i < f->seen && i < ARRIVALS_MAX; i++)
        evbuffer_add_printf(out, "%s%llu", i ? "," : "",
                            (unsigned long long)f->at_us[i]);
    evbuffer_add_printf(out, "]}\n");
    ts_reply(req, 200, "application/json");
}

/* /flaky/KEY/K: the first K requests for KEY get 503, the rest 200. */
static void h_flaky(struct ts_server *srv, struct ts_conn *c,
                    struct evhttp_request *req, const char *arg)
{
    unsigned long k;
    struct flaky *f;

    if ((f = key_arrive(req, arg, 0, 1000000000ul, &k,
                        "use /flaky/KEY/K with K a number\n")) == NULL)
        return;
    if (f->seen <= k) {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Retry-After", "0");
        ts_reply_text(req, 503, "flaky\n");
        return;
    }
    ts_reply_text(req, 200, "ok\n");
}

const struct ts_route ts_routes[] = {
    {"/", 0, h_ok},
    {"/ok", 0, h_ok},
    {"/cookies", 0, h_cookies},
    {"/bytes/", 1, h_bytes},
    {"/status/", 1, h_status},
    {"/delay/", 1, h_delay},
    {"/redirect/", 1, h_redirect},
    {"/redirect-loop", 0, h_redirect_loop},
    {"/to/", 1, h_to},
    {"/chunked/", 1, h_chunked},
    {"/gzip-bomb/", 1, h_gzip_bomb},
    {"/gzip-bomb-gib/", 1, ts_gzip_bomb_gib},
    {"/encode/", 1, ts_encode_route},
    {"/gzip", 0, h_gzip},
    {"/echo", 0, h_echo},
    {"/drop", 0, h_drop},
    {"/hang", 0, h_hang},
    {"/flaky/", 1, h_flaky},
    {"/retry-after/", 1, h_retry_after},
    {"/arrivals/", 1, h_arrivals},
};
const size_t ts_nroutes = sizeof(ts_routes) / sizeof(ts_routes[0]);

const char ts_routes_help[] =
    "  / /ok               200 ok\n"
    "  /bytes/N            N pattern bytes (N <= 100 MiB)\n"
    "  /status/CODE        that status; ?retry_after=S adds Retry-After\n"
    "  /delay/MS           200 ok after MS ms\n"
    "  /redirect/N         302 to /redirect/N-1; /redirect/0 is 200\n"
    "  /redirect-loop      302 to itself\n"
    "  /to/CODE?loc=L      CODE with Location L (URL-decoded); &body=B\n"
    "  /chunked/N          N bytes, chunked\n"
    "  /cookies            Set-Cookie and X-Rep twice each, ok\n"
    "  /gzip               a gzip-encoded text body\n"
    "  /gzip-bomb/MIB      gzip body decoding to MIB MiB of zeros (<= 256)\n"
    "  /gzip-bomb-gib/GIB  about GIB MiB of gzip, GIB GiB of zeros (<= 16)\n"
    "  /encode/LIST        text with Content-Encoding LIST applied in order\n"
    "                      (gzip, deflate, deflate-raw, br, zstd, identity;\n"
    "                      other names sent, not applied)\n"
    "  /echo               the request as JSON (any method)\n"
    "  /drop               announces 1000 bytes, sends 500, closes\n"
    "  /hang               never answers\n"
    "  /flaky/KEY/K        503 (Retry-After: 0) K times per KEY, then 200\n"
    "  /retry-after/KEY/S  503 with Retry-After: S once per KEY, then 200;\n"
    "                      KEY/date+S: Retry-After as an HTTP-date\n"
    "  /arrivals/KEY       {seen, us: [arrival times]} of a KEY above\n";

/* ---- set-up --------------------------------------------------------- */

/* Compresses the /gzip body. */
int ts_routes_init(void)
{
    static const char text[] = GZIP_TEXT;
    unsigned char raw[sizeof(text) * GZIP_REPEAT];
    z_stream z;
    size_t i, n = (sizeof(text) - 1) * GZIP_REPEAT;
    int rc;

    for (i = 0; i < GZIP_REPEAT; i++)
        memcpy(raw + i * (sizeof(text) - 1), text, sizeof(text) - 1);
    memset(&z, 0, sizeof(z));
    if ((rc = deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY))
        != Z_OK) {
        fprintf(stderr, "mp-testserver: deflateInit2: error %d\n", rc);
        return -1;
    }
    gzip_len = deflateBound(&z, n);
    if ((gzip_body = malloc(gzip_len)) == NULL) {
        deflateEnd(&z);
        fprintf(stderr, "mp-testserver: malloc: out of memory\n");
        return -1;
    }
    z.next_in = raw;
    z.avail_in = (uInt)n;
    z.next_out = gzip_body;
    z.avail_out = (uInt)gzip_len;
    rc = deflate(&z, Z_FINISH);
    gzip_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        fprintf(stderr, "mp-testserver: deflate: error %d\n", rc);
        return -1;
    }
    return 0;
}

void ts_routes_free(void)
{
    flaky_clear();
    ts_coded_free();
    free(gzip_body);
    gzip_body = NULL;
}
