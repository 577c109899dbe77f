/*
 * HTTP inside a worker with libcurl: the multi handles, the event loop
 * side and a transfer's life. A transfer's easy handle (its options, the
 * callbacks that check the response, what its outcome means) is
 * http_easy.c's; the two are the only files that talk to libcurl.
 *
 * Each worker process owns one curl multi handle (created on the first
 * mp_http call), driven by curl_multi_socket_action from the worker's
 * libevent loop: curl's socket callback keeps one persistent `event` per
 * socket, its timer callback one evtimer (curl's hiperfifo pattern). A share
 * handle holds the DNS cache and TLS sessions of every transfer; the multi's
 * own connection cache keeps connections alive across tasks.
 *
 * A transfer lives on the calling task's coroutine stack (struct
 * mp__curl_xfer): the task adds its easy handle and suspends. Finished
 * transfers are collected with curl_multi_info_read only after
 * curl_multi_socket_action returned, and only then is the task resumed: a
 * coroutine is never resumed from inside a curl callback, because it may call
 * into curl again.
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

#include "common/clock.h"
#include "dns/http_dns.h"
#include "http/curl/http_easy.h"
#include "http/shared/http_fail.h"
#include "http/shared/http_int.h"
#include "mpool.h"
#include "worker/worker.h"

#define HTTP_FREE_EASY 256   /* idle easy handles kept */
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
    unsigned res_gen;            /* --resolve entries in the DNS cache */
    int res_loaded;              /* ... of that generation */
    struct curl_slist *resolve;  /* those entries, built once */
} http_state;

static http_state g_http;

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
        mp__curl_xfer *x = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(m->multi, easy);
        if (!x || x->state != MP__CX_ACTIVE)
            continue;
        m->active--;
        x->result = cc;
        x->state = MP__CX_DONE;
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
    unsigned total, per_host;
    long idle;

    mp__http_limits_get(&total, &per_host);
    idle = total                        ? (long)total
           : per_host > HTTP_IDLE_CONNS ? (long)per_host
           : limits_set()               ? HTTP_IDLE_CONNS
                                        : HTTP_SHARD_IDLE;
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)total);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)per_host);
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
   memory. A transfer with the large receive buffer (big) gets a new one:
   curl 7.88 sets CURLOPT_BUFFERSIZE only on a handle that has no buffer
   yet, and curl_easy_reset keeps the buffer but not its size. */
static CURL *easy_get(http_state *s, int big)
{
    CURL *easy;

    if (s->n_free && !big)
        return s->free_easy[--s->n_free];
    easy = curl_easy_init();
    if (easy)
        curl_easy_setopt(easy, CURLOPT_SHARE, s->share); /* survives reset */
    return easy;
}

/* Takes back an easy handle that is in no multi handle (one with the
   large buffer, big, is freed: see easy_get). */
static void easy_put(http_state *s, CURL *easy, int big)
{
    curl_easy_reset(easy);
    if (s->n_free < HTTP_FREE_EASY && !big)
        s->free_easy[s->n_free++] = easy;
    else
        curl_easy_cleanup(easy);
}

/* ---- one transfer ------------------------------------------------------- */

/*
 * Releases what the transfer holds: takes its handle out of the multi if it
 * is still there, returns the easy handle to the idle list, closes the
 * file, frees the buffers. Idempotent. Safe to call from the worker's cancel
 * path (never from a curl callback).
 */
static void xfer_release(mp__curl_xfer *x)
{
    if (x->state == MP__CX_RELEASED)
        return;
    if (x->state == MP__CX_ACTIVE) {
        curl_multi_remove_handle(x->mh->multi, x->easy);
        x->mh->active--;
    }
    if (x->easy)
        easy_put(&g_http, x->easy, mp__http_easy_big_buffer(x->req));
    x->easy = NULL;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    curl_slist_free_all(x->resolve);
    x->resolve = NULL;
    if (x->file)
        fclose(x->file);
    x->file = NULL;
    free(x->body);
    free(x->hdr);
    x->body = x->hdr = NULL;
    x->state = MP__CX_RELEASED;
}

/* mp__cancel_fn: the task's deadline passed or it was canceled while its
   transfer ran. The task is not woken by us afterwards. */
static void xfer_cancel(mp_task *t, void *arg)
{
    (void)t;
    xfer_release(arg);
}

/*
 * Builds x's CURLOPT_RESOLVE list: the --resolve entries until a transfer
 * has loaded them into the share's DNS cache (curl keeps them there for
 * good; the list itself is built once per set of entries), and the URL's
 * host as http_dns.c resolved it (x->line). Returns 0 or -1 (out of
 * memory).
 */
static int set_resolve(http_state *s, mp__curl_xfer *x)
{
    const char *const *lines;
    unsigned gen;
    size_t n = mp__dns_resolve_lines(&lines, &gen);
    struct curl_slist *l;

    if (gen != s->res_gen || (!s->resolve && n)) {
        curl_slist_free_all(s->resolve);
        s->resolve = NULL;
        s->res_gen = gen;
        s->res_loaded = 0;
        for (size_t i = 0; i < n; i++) {
            if (!(l = curl_slist_append(s->resolve, lines[i])))
                return -1;
            s->resolve = l;
        }
    }
    x->res_global = !s->res_loaded && s->resolve;
    if (x->res_global)
        for (l = s->resolve; l; l = l->next) {
            struct curl_slist *m = curl_slist_append(x->resolve, l->data);
            if (!m)
                return -1;
            x->resolve = m;
        }
    if (x->line) {
        if (!(l = curl_slist_append(x->resolve, x->line)))
            return -1;
        x->resolve = l;
    }
    return 0;
}

/*
 * Prepares x (easy handle, options, body file) and adds it to the multi.
 * On failure fills resp and releases x. Returns 0 or the MP_E* code.
 */
static int xfer_start(http_state *s, mp__curl_xfer *x, mp_http_response *resp)
{
    const mp_http_request *req = x->req;
    CURLMcode mc;

    x->max_body = req->max_body ? req->max_body : MP__HTTP_MAX_BODY;
    if (!(x->easy = easy_get(s, mp__http_easy_big_buffer(req))) || mp__http_easy_headers(x) < 0) {
        xfer_release(x);
        return mp__http_error(resp, MP_ENOMEM, "%s %.*s: out of memory",
                              mp__http_method(req), MP__HTTP_URL_SHOWN,
                              req->url);
    }
    if (set_resolve(s, x) < 0) {
        xfer_release(x);
        return mp__http_error(resp, MP_ENOMEM, "%s %.*s: out of memory",
                              mp__http_method(req), MP__HTTP_URL_SHOWN,
                              req->url);
    }
    if (mp__http_easy_options(x) != CURLE_OK ||
        (x->resolve &&
         curl_easy_setopt(x->easy, CURLOPT_RESOLVE, x->resolve) != CURLE_OK)) {
        xfer_release(x);
        return mp__http_error(
            resp, MP_EINVAL, "%s %.*s: curl_easy_setopt refused an option",
            mp__http_method(req), MP__HTTP_URL_SHOWN, req->url);
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
                              mp__http_method(req), MP__HTTP_URL_SHOWN,
                              req->url);
    }
    if ((mc = curl_multi_add_handle(x->mh->multi, x->easy)) != CURLM_OK) {
        xfer_release(x);
        return mp__http_error(resp,
                         mc == CURLM_OUT_OF_MEMORY ? MP_ENOMEM : MP_EHTTP,
                         "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    }
    x->state = MP__CX_ACTIVE;
    x->mh->active++;
    return 0;
}


/*
 * Fills resp from a transfer that curl finished: info, error, and the body
 * and header block (moved into resp; on failure the body is dropped, and
 * status, version and head are those of the latest head that arrived
 * whole, none if it did not: a refused head is no response).
 * Returns 0 or the MP_E* code stored in resp->error.
 */
static int xfer_finish(mp__curl_xfer *x, mp_http_response *resp)
{
    int err, ferr = 0;

    mp__http_easy_info(x->easy, resp);
    err = mp__http_easy_error(x, resp);
    if (err) { /* what arrived whole: the record semantic of README */
        resp->status = x->head_status;
        resp->http_version = x->head_version;
    }
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
    if (x->req->want_headers && x->hdr && (!err || x->head_status)) {
        resp->headers = x->hdr;
        resp->headers_len = x->hdr_len;
        x->hdr = NULL;
    }
    return err;
}

#define HF_DNS mp__http_fail_code(MP__HF_DNS)

int mp__http_curl(mp_task *t, const mp_http_request *req,
                  mp_http_response *resp)
{
    http_state *s;
    mp__curl_xfer x;
    int rc, woke;
    char line[768], why[320];

    if ((rc = state_get(&s)) != 0)
        return mp__http_error(resp, rc, "mp_http: %s",
                         rc == MP_EINVAL ? "called outside a worker"
                                         : "curl setup failed");
    memset(&x, 0, sizeof x);
    x.task = t;
    x.req = req;
    rc = mp__http_proxy_applies(req) /* the proxy resolves the name */
             ? 0
             : mp__dns_for_curl(t, req->url, mp__http_connect_ms(req), line,
                                sizeof line, why, sizeof why);
    if (rc < 0) {
        const char *host = strstr(req->url, "://");
        resp->final_url = mp__http_final_url(
            req->url, host && strpbrk(host + 3, "/?") != NULL);
        return mp__http_error(resp, rc == MP_EDNS ? HF_DNS : rc, "%s %.*s: %s",
                              mp__http_method(req), MP__HTTP_URL_SHOWN,
                              req->url, why);
    }
    x.line = rc ? line : NULL;
    if ((rc = xfer_start(s, &x, resp)) != 0)
        return rc;
    woke = mp__task_suspend(t, xfer_cancel, &x);
    if (x.state == MP__CX_DONE) {
        if (x.res_global)
            s->res_loaded = 1; /* curl loaded them before it connected */
        rc = xfer_finish(&x, resp);
    } else {
        /* Deadline or cancel: cancel_fn released it, or (already past the
           deadline) nothing did yet. */
        xfer_release(&x);
        rc = mp__http_error(resp, woke < 0 ? woke : MP_ECANCELED,
                            "%s %.*s: %s during the transfer",
                            mp__http_method(req), MP__HTTP_URL_SHOWN, req->url,
                            mp_strerror(woke));
    }
    xfer_release(&x);
    return rc;
}

int mp_http_set_limits(unsigned total, unsigned per_host)
{
    if (total > INT_MAX || per_host > INT_MAX)
        return MP_EINVAL;
    mp__http_limits_store(total, per_host);
    for (int i = 0; i < g_http.n_mh; i++)
        apply_limits(g_http.mh[i]->multi);
    return 0;
}
