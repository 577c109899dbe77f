/*
 * HTTP inside a worker: the one file that talks to libcurl.
 *
 * Each worker process owns one curl multi handle (created on the first
 * mp_http call), driven by curl_multi_socket_action from the worker's
 * libevent loop: curl's socket callback keeps one persistent `event` per
 * socket, its timer callback one evtimer (curl's hiperfifo pattern). A share
 * handle holds the DNS cache and TLS sessions of every transfer; the multi's
 * own connection cache keeps connections alive across tasks.
 *
 * A transfer lives on the calling task's coroutine stack (struct xfer): the
 * task adds its easy handle and suspends. Finished transfers are collected
 * with curl_multi_info_read only after curl_multi_socket_action returned,
 * and only then is the task resumed: a coroutine is never resumed from
 * inside a curl callback, because it may call into curl again.
 *
 * Every failure becomes a kind of src/http_fail.h (the engine-neutral
 * table that gives the MP_E* code): CURLcodes through code_map, refined by
 * xfer_error where curl's code alone does not say what happened, and our
 * own checks of the response (header limits, status code, Content-Length
 * with Transfer-Encoding, max_body) through the callbacks. The message says
 * which transfer failed and why (curl's error buffer, or our check's).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clock.h"
#include "http_fail.h"
#include "http_int.h"
#include "mpool.h"
#include "worker.h"

#define HTTP_MAX_REDIRS 10L                /* default with follow_redirects */
#define HTTP_FREE_EASY 256                 /* idle easy handles kept */
#define HTTP_IDLE_CONNS 256 /* idle connections kept with limits set */
#define HTTP_SHARD_XFERS 32 /* transfers at once per multi without limits */
#define HTTP_SHARD_IDLE 64  /* connections kept per multi without limits */

/* One curl multi handle and its timer. Without connection limits a worker
   spreads its transfers over several of them, HTTP_SHARD_XFERS at most
   each: curl 7.88 walks every connection of a multi handle's cache when it
   looks for one to reuse, when a handle leaves the multi, and when it
   trims the cache, so the cost per transfer grows with the connections of
   one multi handle. */
typedef struct http_multi {
    CURLM *multi;
    struct event *timer;
    struct http_state *s;
    unsigned active; /* transfers in it now */
} http_multi;

/* The worker's curl state. One per worker process (workers never fork,
   and the forkserver they come from never runs mp_http). */
typedef struct http_state {
    CURLSH *share;
    struct event_base *base;
    http_multi **mh; /* multi handles, created as needed, never freed */
    int n_mh, cap_mh, cur;
    struct event **sock_ev; /* one event per fd number, kept and reused */
    int n_sock_ev;
    size_t n_free;
    CURL *free_easy[HTTP_FREE_EASY];
} http_state;

static http_state g_http;
static unsigned g_limit_total, g_limit_host; /* mp_http_set_limits */

/* Where a transfer is. Only ACTIVE transfers are in the multi handle. */
enum { XFER_NEW, XFER_ACTIVE, XFER_DONE, XFER_RELEASED };

/* One transfer, on the task's coroutine stack while it runs. */
typedef struct xfer {
    mp_task *task;
    const mp_http_request *req;
    http_multi *mh; /* the multi handle it runs in */
    CURL *easy;
    struct curl_slist *headers;
    int state;
    CURLcode result;
    int wfail;  /* MP__HF_* + 1 decided by a callback, or 0 */
    int werrno; /* errno of a failed file write */
    char wmsg[112]; /* what the callback's check found */
    FILE *file; /* body_path, or NULL */
    size_t max_body;
    char *body; /* in-memory body, NUL-terminated */
    size_t body_len, body_cap, body_seen;
    char *hdr; /* header block of the latest response (want_headers) */
    size_t hdr_len, hdr_cap;
    size_t hdr_lines, hdr_bytes; /* of the latest response, for limits */
    int hdr_done;                /* its blank line has arrived */
    int has_clen, has_te;        /* Content-Length, Transfer-Encoding seen */
    char errbuf[CURL_ERROR_SIZE];
} xfer;

/* ---- errors ------------------------------------------------------------ */

/* CURLcode -> failure kind (src/http_fail.h gives the code). Some are
   refined by xfer_error (see there). Unlisted codes: MP__HF_OTHER. */
static const struct {
    CURLcode cc;
    mp__http_fail kind;
} code_map[] = {
    /* clang-format off */
    {CURLE_UNSUPPORTED_PROTOCOL, MP__HF_URL}, {CURLE_URL_MALFORMAT, MP__HF_URL},
    {CURLE_COULDNT_RESOLVE_PROXY, MP__HF_DNS},
    {CURLE_COULDNT_RESOLVE_HOST, MP__HF_DNS},
    {CURLE_COULDNT_CONNECT, MP__HF_REFUSED},
    {CURLE_OPERATION_TIMEDOUT, MP__HF_TIMEOUT},
    {CURLE_TOO_MANY_REDIRECTS, MP__HF_REDIRECTS},
    {CURLE_PARTIAL_FILE, MP__HF_CLOSED}, {CURLE_RECV_ERROR, MP__HF_CLOSED},
    {CURLE_SEND_ERROR, MP__HF_CLOSED}, {CURLE_GOT_NOTHING, MP__HF_CLOSED},
    {CURLE_WRITE_ERROR, MP__HF_WRITE}, {CURLE_FILESIZE_EXCEEDED, MP__HF_BODY_LIMIT},
    {CURLE_OUT_OF_MEMORY, MP__HF_NOMEM},
    {CURLE_WEIRD_SERVER_REPLY, MP__HF_PROTOCOL}, {CURLE_HTTP2, MP__HF_PROTOCOL},
    {CURLE_HTTP2_STREAM, MP__HF_PROTOCOL},
    {CURLE_BAD_CONTENT_ENCODING, MP__HF_ENCODING},
    {CURLE_SSL_CONNECT_ERROR, MP__HF_TLS},
    {CURLE_PEER_FAILED_VERIFICATION, MP__HF_TLS},
    {CURLE_SSL_ENGINE_NOTFOUND, MP__HF_TLS},
    {CURLE_SSL_ENGINE_SETFAILED, MP__HF_TLS},
    {CURLE_SSL_ENGINE_INITFAILED, MP__HF_TLS},
    {CURLE_SSL_CERTPROBLEM, MP__HF_TLS}, {CURLE_SSL_CIPHER, MP__HF_TLS},
    {CURLE_SSL_CACERT_BADFILE, MP__HF_TLS}, {CURLE_SSL_CRL_BADFILE, MP__HF_TLS},
    {CURLE_SSL_SHUTDOWN_FAILED, MP__HF_TLS}, {CURLE_SSL_ISSUER_ERROR, MP__HF_TLS},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, MP__HF_TLS},
    {CURLE_SSL_INVALIDCERTSTATUS, MP__HF_TLS}, {CURLE_SSL_CLIENTCERT, MP__HF_TLS},
    {CURLE_USE_SSL_FAILED, MP__HF_TLS},
    /* clang-format on */
};

/* Returns the failure kind of cc from code_map (MP__HF_OTHER if
   unlisted). */
static mp__http_fail kind_lookup(CURLcode cc)
{
    for (size_t i = 0; i < sizeof code_map / sizeof code_map[0]; i++)
        if (code_map[i].cc == cc)
            return code_map[i].kind;
    return MP__HF_OTHER;
}

/*
 * Refines curl's verdict where its code alone does not say what happened.
 * Returns the kind.
 */
static mp__http_fail kind_refine(xfer *x, mp__http_fail kind)
{
    long oserr = 0, status = 0;
    curl_off_t connected = 0;

    switch (x->result) {
    case CURLE_COULDNT_CONNECT: /* refused, or timed out, or unreachable */
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr == ETIMEDOUT)
            return MP__HF_TIMEOUT;
        return oserr != 0 && oserr != ECONNREFUSED ? MP__HF_UNREACHABLE
                                                   : kind;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* A scheme we refused: the URL's (nothing connected) or a
           redirect's (the 3xx arrived). Otherwise the server's answer is
           not HTTP ("HTTP/0.9", an unparsable status line). */
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connected);
        return connected > 0 && (status < 300 || status > 399)
                   ? MP__HF_PROTOCOL
                   : kind;
    case CURLE_RECV_ERROR:
        /* With an OS error the connection broke; without one curl found
           the bytes it received invalid (a bad chunk size). */
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
        return oserr == 0 ? MP__HF_PROTOCOL : kind;
    case CURLE_OUT_OF_MEMORY:
        /* curl refuses a header line over CURL_MAX_HTTP_HEADER (100 KiB,
           our MP_HTTP_MAX_HEADER_LINE) with this code. */
        return !x->hdr_done ? MP__HF_PROTOCOL : kind;
    case CURLE_OPERATION_TIMEDOUT:
        return x->req->speed_limit || x->req->speed_time_s
                       ? strncmp(x->errbuf, "Operation too slow", 18) == 0
                             ? MP__HF_SLOW
                             : kind
                       : kind;
    default: return kind;
    }
}

/*
 * Turns a finished transfer's outcome into our code and fills
 * resp->error/message with which transfer failed and why. Returns the code
 * (0 for CURLE_OK with no callback failure).
 */
static int xfer_error(xfer *x, mp_http_response *resp)
{
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
    const char *m = mp__http_method(x->req);
    int u = HTTP_URL_SHOWN;
    mp__http_fail kind;

    if (x->wfail == MP__HF_WRITE + 1)
        return mp__http_error(resp, mp__http_fail_code(MP__HF_WRITE),
                         "%s %.*s: write(%s): %s", m, u, x->req->url,
                         x->req->body_path, strerror(x->werrno));
    if (x->wfail)
        return mp__http_error(resp, mp__http_fail_code(x->wfail - 1), "%s %.*s: %s",
                         m, u, x->req->url, x->wmsg);
    if (x->result == CURLE_OK)
        return 0;
    kind = kind_refine(x, kind_lookup(x->result));
    if (kind == MP__HF_PROTOCOL && x->result == CURLE_OUT_OF_MEMORY)
        why = "a response header line is longer than the limit "
              "(MP_HTTP_MAX_HEADER_LINE, 100 KiB)";
    return mp__http_error(resp, mp__http_fail_code(kind), "%s %.*s: %s", m, u,
                     x->req->url, why);
}

/* Records a failure found by a callback (the transfer is then aborted). */
static void xfer_wfail(xfer *x, mp__http_fail kind, const char *fmt, ...)
    MP_PRINTF(3, 4);
static void xfer_wfail(xfer *x, mp__http_fail kind, const char *fmt, ...)
{
    va_list ap;

    x->wfail = (int)kind + 1;
    va_start(ap, fmt);
    vsnprintf(x->wmsg, sizeof x->wmsg, fmt, ap);
    va_end(ap);
}

/* ---- curl callbacks (they never resume a task) -------------------------- */

/* Grows x->body to hold need bytes plus a NUL, doubling. Returns 0 or -1. */
static int body_reserve(xfer *x, size_t need)
{
    return mp__http_body_reserve(&x->body, &x->body_cap, need, x->max_body);
}

/*
 * Sizes the in-memory body from Content-Length before its first byte (not
 * with decoding: the header then counts encoded bytes). Returns 0, or -1
 * to abort: out of memory, or announced larger than max_body (x->wfail).
 */
static int body_first(xfer *x)
{
    curl_off_t clen = -1;

    if (x->req->compressed ||
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
                          &clen) != CURLE_OK ||
        clen <= 0)
        return 0;
    if ((uint64_t)clen > x->max_body) {
        xfer_wfail(x, MP__HF_BODY_LIMIT,
                   "Content-Length %lld is larger than max_body (%zu bytes)",
                   (long long)clen, x->max_body);
        return -1;
    }
    return body_reserve(x, (size_t)clen);
}

/*
 * CURLOPT_WRITEFUNCTION: stores, writes or counts body bytes. Aborts the
 * transfer (x->wfail says why) over max_body, in every mode and counting
 * decoded bytes (curl calls this after decoding: a gzip bomb stops at the
 * limit), or on a file write error. Returns n to go on, anything else to
 * abort.
 */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;

    (void)size; /* always 1 */
    if (n > x->max_body - x->body_seen) { /* body_seen <= max_body */
        xfer_wfail(x, MP__HF_BODY_LIMIT,
                   "body larger than max_body (%zu bytes)", x->max_body);
        return 0;
    }
    x->body_seen += n;
    if (x->file) {
        errno = 0;
        if (fwrite(p, 1, n, x->file) == n)
            return n;
        x->wfail = MP__HF_WRITE + 1;
        x->werrno = errno ? errno : EIO;
        return 0;
    }
    if (x->req->no_body)
        return n;
    if ((!x->body_cap && body_first(x) < 0) ||
        body_reserve(x, x->body_len + n) < 0)
        return 0;
    memcpy(x->body + x->body_len, p, n);
    x->body_len += n;
    x->body[x->body_len] = '\0';
    return n;
}

/*
 * Checks one header line of the latest response against the limits of
 * mpool.h and for what makes a response invalid: a status code outside
 * 100-599, Content-Length together with Transfer-Encoding. A status line
 * starts a new response (redirects, 1xx). Returns 0, or -1 after
 * xfer_wfail.
 */
static int header_check(xfer *x, const char *p, size_t n)
{
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', n);
        long code = sp && (size_t)(sp - p) + 4 <= n ? strtol(sp + 1, NULL, 10)
                                                    : 0;
        x->hdr_lines = x->hdr_bytes = 0;
        x->hdr_done = x->has_clen = x->has_te = 0;
        if (code < 100 || code > 599) {
            xfer_wfail(x, MP__HF_PROTOCOL,
                       "status code %ld is outside 100-599", code);
            return -1;
        }
    } else if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        x->hdr_done = 1;
    } else {
        x->hdr_lines++;
        x->has_clen |= n > 15 && strncasecmp(p, "content-length:", 15) == 0;
        x->has_te |= n > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0;
    }
    x->hdr_bytes += n;
    if (x->hdr_lines > MP_HTTP_MAX_HEADER_LINES) {
        xfer_wfail(x, MP__HF_PROTOCOL,
                   "more than %d header lines (MP_HTTP_MAX_HEADER_LINES)",
                   MP_HTTP_MAX_HEADER_LINES);
        return -1;
    }
    if (x->hdr_bytes > MP_HTTP_MAX_HEADER_BYTES) {
        xfer_wfail(x, MP__HF_PROTOCOL,
                   "header block larger than %zu bytes "
                   "(MP_HTTP_MAX_HEADER_BYTES)",
                   MP_HTTP_MAX_HEADER_BYTES);
        return -1;
    }
    if (x->hdr_done && x->has_clen && x->has_te) {
        xfer_wfail(x, MP__HF_PROTOCOL,
                   "both Content-Length and Transfer-Encoding in a response");
        return -1;
    }
    return 0;
}

/*
 * CURLOPT_HEADERFUNCTION: checks each line (header_check) and, with
 * want_headers, keeps the header block of the latest response; a status
 * line starts a new one, so after redirects (and 1xx responses) only the
 * final response's block remains. Returns n, or 0 to abort.
 */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t cap;
    char *q;

    (void)size;
    if (n == 0)
        return 0;
    if (header_check(x, p, n) < 0)
        return 0;
    if (!x->req->want_headers)
        return n;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        x->hdr_len = 0;
    if (x->hdr_len + n + 1 > x->hdr_cap) {
        cap = x->hdr_cap ? x->hdr_cap : 1024;
        while (cap < x->hdr_len + n + 1)
            cap *= 2;
        if (!(q = realloc(x->hdr, cap)))
            return 0;
        x->hdr = q;
        x->hdr_cap = cap;
    }
    memcpy(x->hdr + x->hdr_len, p, n);
    x->hdr_len += n;
    x->hdr[x->hdr_len] = '\0';
    return n;
}

/* ---- the event loop side ------------------------------------------------ */

/*
 * Collects every finished transfer after curl_multi_socket_action returned:
 * removes its handle, then resumes its task. One message at a time: a
 * resumed task may add a handle, or end a transfer whose message is still
 * queued (curl_multi_remove_handle drops that message), so nothing is
 * cached across a wake.
 */
static void drain(http_multi *m)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        CURL *easy = msg->easy_handle;
        CURLcode cc = msg->data.result;
        xfer *x = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(m->multi, easy);
        if (!x || x->state != XFER_ACTIVE)
            continue;
        m->active--;
        x->result = cc;
        x->state = XFER_DONE;
        mp__task_wake(x->task, 0);
    }
}

/* libevent: a socket curl watches is ready. */
static void on_event(evutil_socket_t fd, short what, void *arg)
{
    http_multi *m = arg;
    int flags = 0, running;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(m->multi, fd, flags, &running);
    drain(m);
}

/* libevent: curl's timer expired. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    http_multi *m = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(m);
}

/* Returns the event kept for fd number fd, allocating it (unassigned) the
   first time; NULL if out of memory. The table holds pointers, so growing
   it never moves an event libevent knows. */
static struct event *sock_event(http_state *s, curl_socket_t fd)
{
    if (fd >= s->n_sock_ev) {
        int n = s->n_sock_ev ? s->n_sock_ev : 64;
        while (n <= fd)
            n *= 2;
        struct event **t = realloc(s->sock_ev, (size_t)n * sizeof(*t));
        if (!t)
            return NULL;
        memset(t + s->n_sock_ev, 0, (size_t)(n - s->n_sock_ev) * sizeof(*t));
        s->sock_ev = t;
        s->n_sock_ev = n;
    }
    if (!s->sock_ev[fd])
        s->sock_ev[fd] = calloc(1, event_get_struct_event_size());
    return s->sock_ev[fd];
}

/*
 * CURLMOPT_SOCKETFUNCTION: keeps the event of each socket in step with what
 * curl waits for. Events are kept per fd number across transfers and
 * connections, so a keep-alive transfer allocates nothing here. Returns 0,
 * or -1 (curl then fails the transfers on the socket).
 */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *clientp,
                     void *sockp)
{
    http_multi *m = clientp;
    short kind = EV_PERSIST;

    (void)easy;
    (void)sockp;
    struct event *ev = sock_event(m->s, fd);
    if (!ev)
        return -1;
    if (event_initialized(ev))
        event_del(ev);
    if (what == CURL_POLL_REMOVE)
        return 0;
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    event_assign(ev, m->s->base, fd, kind, on_event, m);
    return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: (re)arms or deletes the one timer. Returns 0. */
static int on_timer(CURLM *multi, long ms, void *clientp)
{
    http_multi *m = clientp;
    struct timeval tv;

    (void)multi;
    if (ms < 0)
        return evtimer_del(m->timer) == 0 ? 0 : -1;
    tv = mp__ms_tv((uint64_t)ms);
    return evtimer_add(m->timer, &tv) == 0 ? 0 : -1;
}

/* ---- the per-worker state ----------------------------------------------- */

/* Returns 1 if connection limits are set: then every transfer runs in
   one multi handle, which enforces them. */
static int limits_set(void)
{
    return mp__http_limits_set();
}

/* Applies the connection limits to the multi handle. */
static void apply_limits(CURLM *multi)
{
    long idle = g_limit_total                    ? (long)g_limit_total
                : g_limit_host > HTTP_IDLE_CONNS ? (long)g_limit_host
                : limits_set()                   ? HTTP_IDLE_CONNS
                                                 : HTTP_SHARD_IDLE;

    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)g_limit_total);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)g_limit_host);
    /* A fixed idle cache: curl's default (four per handle in the multi)
       shrinks whenever few tasks are in flight and closes warm
       connections that the next burst must open again; and in curl 7.x,
       0 means no bound at all. Without limits a multi handle never holds
       more than HTTP_SHARD_XFERS transfers, so HTTP_SHARD_IDLE is above
       the connections it has in use: curl trims the cache (a walk over all
       of it, and a closed connection) only when it holds more. */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, idle);
}

/* Adds a multi handle (and its timer) to s. Returns it, or NULL if out of
   memory. */
static http_multi *multi_add(http_state *s)
{
    http_multi *m;

    if (s->n_mh == s->cap_mh) {
        int cap = s->cap_mh ? 2 * s->cap_mh : 8;
        http_multi **t = realloc(s->mh, (size_t)cap * sizeof *t);
        if (!t)
            return NULL;
        s->mh = t;
        s->cap_mh = cap;
    }
    if (!(m = calloc(1, sizeof *m)))
        return NULL;
    m->s = s;
    m->multi = curl_multi_init();
    m->timer = evtimer_new(s->base, on_timeout, m);
    if (!m->multi || !m->timer) {
        if (m->timer)
            event_free(m->timer);
        if (m->multi)
            curl_multi_cleanup(m->multi);
        free(m);
        return NULL;
    }
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    apply_limits(m->multi);
    s->mh[s->n_mh++] = m;
    return m;
}

/*
 * Returns the multi handle for the next transfer: the first one (with
 * limits set); else the latest used or the first one that runs fewer than
 * HTTP_SHARD_XFERS transfers (its idle connections are warm), else a new
 * one. NULL if out of memory.
 */
static http_multi *multi_pick(http_state *s)
{
    if (limits_set())
        return s->n_mh ? s->mh[0] : multi_add(s);
    if (s->cur < s->n_mh && s->mh[s->cur]->active < HTTP_SHARD_XFERS)
        return s->mh[s->cur];
    for (int i = 0; i < s->n_mh; i++)
        if (s->mh[i]->active < HTTP_SHARD_XFERS) {
            s->cur = i;
            return s->mh[i];
        }
    s->cur = s->n_mh;
    return multi_add(s);
}

/* Builds the share handle on base (multi handles come with transfers).
   Returns 0, MP_ENOMEM or MP_EHTTP (curl_global_init failed). */
static int state_create(http_state *s, struct event_base *base)
{
    static int global_done;

    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return MP_EHTTP;
        global_done = 1;
    }
    memset(s, 0, sizeof *s);
    s->base = base;
    if (!(s->share = curl_share_init()))
        return MP_ENOMEM;
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return 0;
}

/*
 * Returns the calling worker's curl state in *out, creating it on first
 * use. Returns 0, MP_EINVAL outside a worker, MP_ENOMEM or MP_EHTTP.
 */
static int state_get(http_state **out)
{
    struct event_base *base = mp__worker_base();
    int rc;

    if (!base)
        return MP_EINVAL;
    if (g_http.share && g_http.base != base)
        memset(&g_http, 0, sizeof g_http);
    if (!g_http.share && (rc = state_create(&g_http, base)) != 0)
        return rc;
    *out = &g_http;
    return 0;
}

/* Returns an idle easy handle (warm caches) or a new one; NULL if out of
   memory. */
static CURL *easy_get(http_state *s)
{
    CURL *easy;

    if (s->n_free)
        return s->free_easy[--s->n_free];
    easy = curl_easy_init();
    if (easy)
        curl_easy_setopt(easy, CURLOPT_SHARE, s->share); /* survives reset */
    return easy;
}

/* Takes back an easy handle that is in no multi handle. */
static void easy_put(http_state *s, CURL *easy)
{
    curl_easy_reset(easy);
    if (s->n_free < HTTP_FREE_EASY)
        s->free_easy[s->n_free++] = easy;
    else
        curl_easy_cleanup(easy);
}

/* ---- one transfer ------------------------------------------------------- */

/* Sets the method and the request body. Returns a CURLcode. */
static CURLcode set_method(CURL *e, const mp_http_request *req)
{
    const char *m = mp__http_method(req);
    CURLcode rc = CURLE_OK;

    if (strcasecmp(m, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (req->body || strcasecmp(m, "POST") == 0) {
        /* The body stays valid: the task is suspended until the end. */
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)(req->body ? req->body_len : 0));
        if (!rc)
            rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                                  req->body ? (const char *)req->body : "");
    }
    /* POST is curl's own method with a body; GET without one is the
       default; anything else (GET with a body too) is named. */
    if (!rc && strcmp(m, "POST") != 0 && (req->body || strcmp(m, "GET") != 0))
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return rc;
}

/* Builds the header list: the caller's lines, plus an empty "Expect:" with
   a body (no 100-continue round trip). Returns 0 or -1 (out of memory). */
static int set_headers(xfer *x)
{
    const mp_http_request *req = x->req;
    int has_expect = 0;
    struct curl_slist *l;

    for (size_t i = 0; i < req->n_headers; i++) {
        if (!req->headers[i])
            continue;
        if (strncasecmp(req->headers[i], "Expect:", 7) == 0)
            has_expect = 1;
        if (!(l = curl_slist_append(x->headers, req->headers[i])))
            return -1;
        x->headers = l;
    }
    if (req->body && !has_expect) {
        if (!(l = curl_slist_append(x->headers, "Expect:")))
            return -1;
        x->headers = l;
    }
    return 0;
}

/* Sets the options that do not depend on the request: protocol, signals,
   callbacks. Returns a CURLcode. */
static CURLcode set_common(xfer *x)
{
    CURL *e = x->easy;
    int rc = 0; /* OR of CURLcodes: any failure makes it non-zero */

    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                           (long)CURL_HTTP_VERSION_2TLS);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "mpool/" MP_VERSION_STRING);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    return rc ? CURLE_BAD_FUNCTION_ARGUMENT : CURLE_OK;
}

/* Sets the request's own options on x->easy. Returns a CURLcode. */
static CURLcode set_request(xfer *x)
{
    const mp_http_request *req = x->req;
    CURL *e = x->easy;
    int rc = 0; /* OR of CURLcodes */
    long ct = req->connect_timeout_ms ? (long)req->connect_timeout_ms
                                      : HTTP_CONNECT_MS;

    rc |= curl_easy_setopt(e, CURLOPT_URL, req->url);
    rc |= set_method(e, req);
    if (x->headers)
        rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ct);
    if (req->follow_redirects) {
        rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        rc |= curl_easy_setopt(e, CURLOPT_MAXREDIRS,
                               req->max_redirects ? (long)req->max_redirects
                                                  : HTTP_MAX_REDIRS);
    }
    if (req->compressed)
        rc |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (req->insecure) {
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->cafile)
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO, req->cafile);
    if (req->speed_limit || req->speed_time_s) {
        rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
                               req->speed_limit ? (long)req->speed_limit : 1L);
        rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                               req->speed_time_s ? (long)req->speed_time_s
                                                 : 30L);
    }
    return rc ? CURLE_BAD_FUNCTION_ARGUMENT : CURLE_OK;
}

/*
 * Releases what the transfer holds: takes its handle out of the multi if it
 * is still there, returns the easy handle to the idle list, closes the
 * file, frees the buffers. Idempotent. Safe to call from the worker's cancel
 * path (never from a curl callback).
 */
static void xfer_release(xfer *x)
{
    if (x->state == XFER_RELEASED)
        return;
    if (x->state == XFER_ACTIVE) {
        curl_multi_remove_handle(x->mh->multi, x->easy);
        x->mh->active--;
    }
    if (x->easy)
        easy_put(&g_http, x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    if (x->file)
        fclose(x->file);
    x->file = NULL;
    free(x->body);
    free(x->hdr);
    x->body = x->hdr = NULL;
    x->state = XFER_RELEASED;
}

/* mp__cancel_fn: the task's deadline passed or it was canceled while its
   transfer ran. The task is not woken by us afterwards. */
static void xfer_cancel(mp_task *t, void *arg)
{
    (void)t;
    xfer_release(arg);
}

/*
 * Prepares x (easy handle, options, body file) and adds it to the multi.
 * On failure fills resp and releases x. Returns 0 or the MP_E* code.
 */
static int xfer_start(http_state *s, xfer *x, mp_http_response *resp)
{
    const mp_http_request *req = x->req;
    CURLMcode mc;

    x->max_body = req->max_body ? req->max_body : HTTP_MAX_BODY;
    if (!(x->easy = easy_get(s)) || set_headers(x) < 0) {
        xfer_release(x);
        return mp__http_error(resp, MP_ENOMEM, "%s %.*s: out of memory",
                         mp__http_method(req), HTTP_URL_SHOWN, req->url);
    }
    if (set_common(x) != CURLE_OK || set_request(x) != CURLE_OK) {
        xfer_release(x);
        return mp__http_error(resp, MP_EINVAL,
                         "%s %.*s: curl_easy_setopt refused an option",
                         mp__http_method(req), HTTP_URL_SHOWN, req->url);
    }
    if (req->body_path && !(x->file = mp__http_body_file(req->body_path))) {
        int e = errno;
        xfer_release(x);
        return mp__http_error(resp, MP_EIO, "create %s: %s", req->body_path,
                         strerror(e));
    }
    if (!(x->mh = multi_pick(s))) {
        xfer_release(x);
        return mp__http_error(resp, MP_ENOMEM, "%s %.*s: out of memory",
                         mp__http_method(req), HTTP_URL_SHOWN, req->url);
    }
    if ((mc = curl_multi_add_handle(x->mh->multi, x->easy)) != CURLM_OK) {
        xfer_release(x);
        return mp__http_error(resp,
                         mc == CURLM_OUT_OF_MEMORY ? MP_ENOMEM : MP_EHTTP,
                         "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    }
    x->state = XFER_ACTIVE;
    x->mh->active++;
    return 0;
}

/* Returns a CURLINFO_*_TIME_T value in microseconds (0 if unknown). */
static uint64_t info_us(CURL *e, CURLINFO what)
{
    curl_off_t v = 0;

    if (curl_easy_getinfo(e, what, &v) != CURLE_OK || v < 0)
        return 0;
    return (uint64_t)v;
}

/* Fills resp's status, version, URL, counters and timings from the
   finished easy handle. */
static void fill_info(CURL *e, mp_http_response *resp)
{
    long v = 0;
    char *url = NULL;
    curl_off_t down = 0;

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v) == CURLE_OK)
        resp->http_version = v == CURL_HTTP_VERSION_1_0   ? 10
                             : v == CURL_HTTP_VERSION_1_1 ? 11
                             : v == CURL_HTTP_VERSION_2_0 ? 20
                             : v == CURL_HTTP_VERSION_3   ? 30
                                                          : 0;
    if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url)
        resp->final_url = strdup(url);
    if (curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &v) == CURLE_OK)
        resp->redirects = v > 0 ? (unsigned)v : 0;
    if (curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down) == CURLE_OK &&
        down > 0)
        resp->bytes_down = (uint64_t)down;
    resp->t_dns_us = info_us(e, CURLINFO_NAMELOOKUP_TIME_T);
    resp->t_connect_us = info_us(e, CURLINFO_CONNECT_TIME_T);
    resp->t_tls_us = info_us(e, CURLINFO_APPCONNECT_TIME_T);
    resp->t_first_byte_us = info_us(e, CURLINFO_STARTTRANSFER_TIME_T);
    resp->t_total_us = info_us(e, CURLINFO_TOTAL_TIME_T);
}

/*
 * Fills resp from a transfer that curl finished: info, error, and the body
 * and header block (moved into resp; on failure the body is dropped).
 * Returns 0 or the MP_E* code stored in resp->error.
 */
static int xfer_finish(xfer *x, mp_http_response *resp)
{
    int err, ferr = 0;

    fill_info(x->easy, resp);
    err = xfer_error(x, resp);
    if (x->file) {
        ferr = fclose(x->file) == 0 ? 0 : errno;
        x->file = NULL;
        if (ferr && !err)
            err = mp__http_error(resp, MP_EIO, "close(%s): %s", x->req->body_path,
                            strerror(ferr));
    }
    resp->body_len = x->body_seen;
    if (!err && !x->req->body_path && !x->req->no_body) {
        resp->body = x->body ? x->body : calloc(1, 1);
        x->body = NULL;
        if (!resp->body)
            err = mp__http_error(resp, MP_ENOMEM, "out of memory");
    }
    if (x->req->want_headers && x->hdr) {
        resp->headers = x->hdr;
        resp->headers_len = x->hdr_len;
        x->hdr = NULL;
    }
    return err;
}

int mp__http_curl(mp_task *t, const mp_http_request *req,
                  mp_http_response *resp)
{
    http_state *s;
    xfer x;
    int rc, woke;

    if ((rc = state_get(&s)) != 0)
        return mp__http_error(resp, rc, "mp_http: %s",
                         rc == MP_EINVAL ? "called outside a worker"
                                         : "curl setup failed");
    memset(&x, 0, sizeof x);
    x.task = t;
    x.req = req;
    if ((rc = xfer_start(s, &x, resp)) != 0)
        return rc;
    woke = mp__task_suspend(t, xfer_cancel, &x);
    if (x.state == XFER_DONE) {
        rc = xfer_finish(&x, resp);
    } else {
        /* Deadline or cancel: cancel_fn released it, or (already past the
           deadline) nothing did yet. */
        xfer_release(&x);
        rc = mp__http_error(resp, woke < 0 ? woke : MP_ECANCELED,
                       "%s %.*s: %s during the transfer", mp__http_method(req),
                       HTTP_URL_SHOWN, req->url, mp_strerror(woke));
    }
    xfer_release(&x);
    return rc;
}

int mp__http_limits_set(void)
{
    return g_limit_total || g_limit_host;
}

int mp_http_set_limits(unsigned total, unsigned per_host)
{
    if (total > INT_MAX || per_host > INT_MAX)
        return MP_EINVAL;
    g_limit_total = total;
    g_limit_host = per_host;
    for (int i = 0; i < g_http.n_mh; i++)
        apply_limits(g_http.mh[i]->multi);
    return 0;
}
