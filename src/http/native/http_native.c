/*
 * The native HTTP engine: http:// and https:// to a host name or an IPv4
 * or IPv6 address, on the worker's libevent loop, for the common case
 * (mp_http picks it, see mp__http_native_why; libcurl does the rest).
 *
 * Connections (http_native_pool.c): one per transfer at a time, kept
 * alive in a free list per host (name and port), so taking one is O(1)
 * however many there are. An idle connection's event still watches for
 * reads: the server closing it (or sending anything) takes it out of the
 * list. A transfer that finds its reused connection
 * closed before the first response byte is sent again once on a new one,
 * as curl does. Under mp_http_set_limits a transfer that would open a
 * connection past a limit waits, FIFO, in its host's queue (and, first of
 * its host, in the total's), started again by the pool's kick once room
 * appears; under the total a spare connection of another host (idle, or
 * h2 without a stream) is closed to make room. The same list bounds idle
 * connections (mp_http_set_idle): one spare too many closes the oldest,
 * and one spare for the idle age closes (on_timer with no transfer).
 *
 * A new connection needs the host's addresses: the task looks its name up
 * (http_dns.c: --resolve, cache, evdns; it may suspend there) and the
 * connection tries them in order, as curl does, until one connects.
 *
 * A transfer (struct mp__native_xfer) lives on the task's coroutine stack: the
 * task sends the request and suspends; the connection's event callback reads,
 * feeds the response reader (http_native_resp.c: head, framing, body),
 * and wakes the task as its last act.
 *
 * https: TLS through http_tls.c on the same socket and event; a host is
 * its name, port and TLS context (cafile, insecure; NULL for http), so
 * connections and sessions are never shared across schemes or trust
 * settings. The handshake runs under the connect timeout, as in curl.
 * ALPN offers "h2,http/1.1" ("http/1.1" only with req->http1); a
 * server that picks h2 makes the connection an h2 connection
 * (http_native_h2.c) with this transfer as its first stream; later
 * transfers to the host take a free stream slot on one before they open
 * a connection. While a host's first handshake offering h2 is in flight
 * (its prober), the host's transfers that come meanwhile wait for its
 * answer, their connect timeout running: then they share its h2
 * connection, or (HTTP/1.1, or the handshake failed) open connections of
 * their own. An h2 stream
 * refused unanswered (GOAWAY, REFUSED_STREAM) is started again once here,
 * on a new connection.
 *
 * Through an http:// proxy (http_native_proxy.c): an http:// request's
 * connection goes to the proxy (one pool host per proxy) and the request
 * is in absolute form; an https:// one's connection sends CONNECT first
 * (MP__NX_TUNNEL, under the connect timeout), then TLS runs through the
 * tunnel as on a direct connection (its host: the target's, scoped by
 * TLS context and proxy). A CONNECT answered other than 2xx is PROXY.
 *
 * Failures take their codes from the engine-neutral table (http_fail.h):
 * a refused connect is REFUSED, timeouts TIMEOUT, a connection that ends
 * early CLOSED, a TLS handshake, trust or name failure TLS; the response
 * reader decides the rest (PROTOCOL, BODY_LIMIT, WRITE).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "http/shared/http_fail.h"
#include "dns/http_dns.h"
#include "http/shared/http_int.h"
#include "http/native/http_native_pool.h"
#include "http/native/http_native_h2.h"
#include "http/native/http_native_xfer.h"
#include "http/native/http_native_resp.h"
#include "http/tls/http_tls.h"
#include "mpool.h"
#include "worker/worker.h"

#define HN_READ MP__NATIVE_POOL_READ
#define HF(kind) mp__http_fail_code(MP__HF_##kind) /* http_fail.h */
#define MP__TUNNEL_HEAD 16384 /* a proxy's answer to CONNECT, at most */

typedef mp__nhost nhost;
typedef mp__nconn nconn;

/* The transfer whose node field is n, or NULL for no node. */
#define XFER_OF(n, field)                                                     \
    ((n) ? MP__LIST_ENTRY(n, mp__native_xfer, field) : NULL)
/* The connection whose link is n, or NULL. */
#define CONN_OF(n) ((n) ? MP__LIST_ENTRY(n, nconn, link) : NULL)

static mp__native_pool *g_hn;

static void on_conn(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_kick(evutil_socket_t fd, short what, void *arg);
static int limits_room(mp__native_xfer *x, nhost *h);
static int queue_add(mp__native_xfer *x, nhost *h);
static void spare_close(nconn *c);
static int close_spare(void);

/* ---- the transfer ---------------------------------------------------- */

/* A TLS context and a proxy: the scope of CONNECT tunnels' hosts, so
   that a tunnel is shared only by the same target, trust and proxy. */
typedef struct tscope {
    const void *tls;
    mp__nproxy px;
    struct tscope *next;
} tscope;

/* Returns x's tunnel scope, made on first use (kept for the worker's
   life: a few per proxy), or NULL (out of memory: the host lookup then
   fails too). */
static const void *tunnel_scope(const mp__native_xfer *x)
{
    static tscope *all;
    tscope *t;

    for (t = all; t; t = t->next)
        if (t->tls == x->tls && t->px.port == x->px.port &&
            strcmp(t->px.host, x->px.host) == 0 &&
            strcmp(t->px.auth, x->px.auth) == 0)
            return t;
    if ((t = calloc(1, sizeof *t)) != NULL) {
        t->tls = x->tls;
        t->px = x->px;
        t->next = all;
        all = t;
    }
    return t;
}

/* Returns x's host in the pool (name, port and TLS context), looked up
   once per transfer, or NULL (out of memory). */
static nhost *xhost(mp__native_xfer *x)
{
    static const char via_proxy; /* the scope of connections to proxies */

    if (!x->h && x->px.on && !x->u.tls) /* one per proxy, any target */
        x->h = mp__native_pool_host(g_hn, x->px.host, x->px.host_len,
                                    x->px.port, &via_proxy);
    else if (!x->h && x->px.on) { /* tunnels: per target and proxy */
        const void *scope = tunnel_scope(x);
        x->h = scope ? mp__native_pool_host(g_hn, x->u.host, x->u.host_len,
                                            x->u.port, scope)
                     : NULL;
    }
    else if (!x->h)
        x->h = mp__native_pool_host(g_hn, x->u.host, x->u.host_len, x->u.port,
                                    x->tls);
    return x->h;
}

static void probe_end(nhost *h, int ok);

/* Returns " (through the proxy)" if x went to a proxy and err is a
   failure to reach it (as the libcurl engine says), else "". */
static const char *via_proxy(const mp__native_xfer *x, int err)
{
    return x->px.on && (err == HF(REFUSED) || err == HF(TIMEOUT) ||
                        err == HF(UNREACHABLE) || err == HF(DNS) ||
                        err == HF(PROXY))
               ? " (through the proxy)"
               : "";
}

/* Ends x (err 0, or its failure: fmt and arg say why): on success its
   connection goes back to its host's free list (or is closed), on
   failure it is closed. Wakes the task if it waits: the caller must not
   touch x or its connection afterwards. */
static void xfer_end(mp__native_xfer *x, int err, const char *fmt,
                     const char *arg)
{
    nconn *c = x->c;

    if (x->h && x->h->prober == x)
        probe_end(x->h, 0); /* failed before its answer */
    if (err) /* the proxy is not named: its URL may hold a password */
        mp__http_error(x->resp, err, "%s %.*s%s: %s%s",
                       mp__http_method(x->orig), MP__HTTP_URL_SHOWN,
                       x->orig->url, via_proxy(x, err), fmt, arg ? arg : "");
    x->c = NULL;
    if (c) {
        evtimer_del(c->timer);
        c->x = NULL;
        /* bytes TLS read ahead past the response: nobody asked for them */
        if (!err && x->r.reusable && !(c->tls && mp__tls_pending(c->tls)) &&
            mp__native_pool_want_write(g_hn, c, 0) == 0) {
            mp__native_pool_idle_push(c);
            while (g_hn->n_spare > g_hn->idle_max && close_spare() == 0)
                ; /* the oldest, never c: at once, not at the kick */
        } else
            mp__native_pool_conn_free(c);
    }
    x->resp->t_total_us = mp__now_us() - x->t0;
    x->state = MP__NX_DONE;
    if (x->suspended)
        mp__task_wake(x->task, 0);
}

/* Feeds received bytes to x's response (http_native_resp.c). Returns 1
   if x ended. */
static int feed(mp__native_xfer *x, const char *p, size_t n)
{
    mp__http_fail kind = MP__HF_OTHER;
    char msg[160];
    int rc = mp__native_resp_feed(&x->r, p, n, &kind, msg, sizeof msg);

    if (rc == 0)
        return 0;
    xfer_end(x, rc > 0 ? 0 : mp__http_fail_code(kind), msg, NULL);
    return 1;
}

static int xfer_connect(mp__native_xfer *x);

/* The reused connection of x turned out closed before any response byte:
   sends x again on a new connection (once). Returns 1 if it did, 0 if x
   is not eligible. */
static int retry_fresh(mp__native_xfer *x)
{
    if (!x->reused || x->retried || x->r.hdr_len || x->r.in_body)
        return 0;
    x->retried = 1;
    evtimer_del(x->c->timer);
    x->c->x = NULL;
    mp__native_pool_conn_free(x->c);
    x->c = NULL;
    return xfer_connect(x) == 0 || x->state == MP__NX_DONE;
}

/* Receives up to n bytes from c (through TLS for https). Returns the
   count, 0 at the end, or -1 with errno (EAGAIN: wait). */
static ssize_t conn_recv(nconn *c, void *buf, size_t n)
{
    return c->tls ? mp__tls_read(c->tls, buf, n) : recv(c->fd, buf, n, 0);
}

/* Sends up to n bytes on c. Returns the count or -1 with errno. */
static ssize_t conn_send(nconn *c, const void *buf, size_t n)
{
    return c->tls ? mp__tls_write(c->tls, buf, n)
                  : send(c->fd, buf, n, MSG_NOSIGNAL);
}

/* Returns 1 if c, having got EAGAIN, waits to write (TLS may wait to
   read for a write, and to write for a read). */
static int conn_waits_write(const nconn *c, int sending)
{
    return c->tls ? mp__tls_want(c->tls) == MP__TLS_WANT_WRITE : sending;
}

/* Sends what is left of the request. Returns 1 if x ended. */
static int try_send(mp__native_xfer *x)
{
    nconn *c = x->c;

    while (x->wsent < x->wlen) {
        ssize_t k = conn_send(c, c->wbuf + x->wsent, x->wlen - x->wsent);
        if (k > 0) {
            x->wsent += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (mp__native_pool_want_write(g_hn, c,
                                           conn_waits_write(c, 1)) != 0) {
                xfer_end(x, HF(NOMEM), "event_add failed", NULL);
                return 1;
            }
            return 0;
        }
        if (retry_fresh(x))
            return 1;
        xfer_end(x, HF(CLOSED), "send failure: ", strerror(errno));
        return 1;
    }
    x->state = MP__NX_RECV;
    if (c->want_write && mp__native_pool_want_write(g_hn, c, 0) != 0) {
        xfer_end(x, HF(NOMEM), "event_add failed", NULL);
        return 1;
    }
    return 0;
}

/* Reads what the connection has for x. */
static void do_read(mp__native_xfer *x)
{
    nconn *c = x->c;

    if (c->tls && c->want_write &&
        mp__native_pool_want_write(g_hn, c, 0) != 0) {
        xfer_end(x, HF(NOMEM), "event_add failed", NULL);
        return;
    }
    for (;;) {
        ssize_t k = conn_recv(c, g_hn->rbuf, HN_READ);
        if (k > 0) {
            if (!x->t_first)
                x->t_first = mp__now_us();
            /* TLS reads a record at a time, and may hold more: read on */
            if (feed(x, g_hn->rbuf, (size_t)k) ||
                ((size_t)k < HN_READ && !c->tls))
                return;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (conn_waits_write(c, 0) &&
                mp__native_pool_want_write(g_hn, c, 1) != 0)
                xfer_end(x, HF(NOMEM), "event_add failed", NULL);
            return;
        }
        /* the connection ended */
        int e = k < 0 ? errno : 0;
        if (retry_fresh(x))
            return;
        if (e == EPROTO) { /* bytes that are no TLS record (http_tls.c):
                              invalid, as curl's SSL_read error says */
            xfer_end(x, HF(PROTOCOL), "Recv failure: ", strerror(e));
        } else if (e && !(x->r.in_body && x->r.body_mode == MP__NR_EOF)) {
            xfer_end(x, HF(CLOSED), "Recv failure: ", strerror(e));
        } else {
            mp__http_fail kind = MP__HF_OTHER;
            char msg[160];
            int rc = mp__native_resp_eof(&x->r, &kind, msg, sizeof msg);
            xfer_end(x, rc > 0 ? 0 : mp__http_fail_code(kind), msg, NULL);
        }
        return;
    }
}

/* Arms c's timer with what is left of x's whole-transfer timeout, once
   connected (and the TLS handshake done): the connect timeout ends. */
static void arm_total(mp__native_xfer *x, nconn *c)
{
    if (x->req->timeout_ms) {
        struct timeval tv = mp__ms_left_tv(x->req->timeout_ms, x->t0);
        evtimer_add(c->timer, &tv);
    } else {
        evtimer_del(c->timer);
    }
}

/* Returns 1 if x's TLS handshakes offer h2 (a server choosing it gets
   x as a stream, http_native_h2.c): not for HTTP/1.1 only (req->http1). */
static int offers_h2(const mp__native_xfer *x)
{
    return !x->req->http1;
}

/* x's connection is up: starts its TLS handshake. Returns 1 if x ended. */
static int tls_begin(mp__native_xfer *x)
{
    nconn *c = x->c;
    const char *name = c->host->name;
    char host[64];

    if (name[0] == '[') { /* an IPv6 literal: without its brackets */
        snprintf(host, sizeof host, "%.*s", (int)c->host->name_len - 2,
                 name + 1);
        name = host;
    }
    c->tls = mp__tls_new(x->tls, c->fd, name,
                         offers_h2(x), &c->host->session);
    if (!c->tls) {
        xfer_end(x, HF(NOMEM), "out of memory", NULL);
        return 1;
    }
    x->state = MP__NX_TLS;
    return 0;
}

/* Drives x's TLS handshake one step; once done, x sends (MP__NX_SEND), or
   becomes the first stream of the connection, now an h2 one, if the
   server chose h2. Returns 1 if x ended or went to HTTP/2. */
static int tls_step(mp__native_xfer *x)
{
    nconn *c = x->c;
    char msg[256];
    int rc = mp__tls_handshake(c->tls, msg, sizeof msg);

    if (rc < 0) {
        xfer_end(x, HF(TLS), msg, NULL);
        return 1;
    }
    if (rc > 0) {
        if (mp__native_pool_want_write(g_hn, c, rc == MP__TLS_WANT_WRITE) == 0)
            return 0;
        xfer_end(x, HF(NOMEM), "event_add failed", NULL);
        return 1;
    }
    x->t_tls = mp__now_us();
    if (offers_h2(x))
        c->host->alpn = mp__tls_alpn_h2(c->tls) ? 2 : 1;
    if (offers_h2(x) && mp__tls_alpn_h2(c->tls)) { /* x becomes a stream */
        nhost *h = c->host;
        evtimer_del(c->timer);
        c->x = NULL;
        x->c = NULL;
        if (mp__h2_attach(g_hn, c) != 0) {
            mp__native_pool_conn_free(c);
            xfer_end(x, HF(NOMEM), "out of memory", NULL);
            return 1;
        }
        if (h->prober == x)
            h->prober = NULL;
        mp__h2_submit(c, x);
        probe_end(h, 1); /* the waiters share c */
        return 1;
    }
    if (c->host->prober == x)
        probe_end(c->host, 1);
    x->state = MP__NX_SEND;
    arm_total(x, c);
    return 0;
}

/* x's connection to its proxy is up: writes the CONNECT request for
   its URL's host and port into the connection's tunnel buffer
   (MP__NX_TUNNEL). Returns 1 if x ended. */
static int tunnel_begin(mp__native_xfer *x)
{
    nconn *c = x->c;
    char req[1024];
    size_t n = mp__nproxy_connect_req(&x->px, &x->u, req, sizeof req);

    free(c->tbuf);
    if (!n || !(c->tbuf = malloc(n > MP__TUNNEL_HEAD ? n : MP__TUNNEL_HEAD))) {
        c->tbuf = NULL;
        xfer_end(x, HF(NOMEM), "out of memory", NULL);
        return 1;
    }
    memcpy(c->tbuf, req, n);
    c->tlen = n;
    c->toff = 0;
    x->state = MP__NX_TUNNEL;
    return 0;
}

/* Drives x's CONNECT one step: sends what is left of the request, then
   reads the answer's head a byte at a time (as curl 7.88 does: nothing
   of the tunnel's TLS is read with it). A 2xx starts the TLS handshake
   through the tunnel; another status ends x with MP_EPROXY, no status
   and no head in its record, as libcurl's. Returns 1 if x ended. */
static int tunnel_step(mp__native_xfer *x)
{
    nconn *c = x->c;
    int status = 0, rc;
    char msg[64];

    while (c->toff < c->tlen) { /* the request */
        ssize_t k = send(c->fd, c->tbuf + c->toff, c->tlen - c->toff,
                         MSG_NOSIGNAL);
        if (k > 0) {
            c->toff += (size_t)k;
            if (c->toff == c->tlen)
                c->tlen = c->toff = 0; /* the answer comes next */
            else
                continue;
            break;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return mp__native_pool_want_write(g_hn, c, 1) == 0
                       ? 0
                       : (xfer_end(x, HF(NOMEM), "event_add failed", NULL), 1);
        xfer_end(x, HF(CLOSED), "Send failure: ", strerror(errno));
        return 1;
    }
    if (c->want_write && mp__native_pool_want_write(g_hn, c, 0) != 0) {
        xfer_end(x, HF(NOMEM), "event_add failed", NULL);
        return 1;
    }
    for (;;) { /* the answer, up to its blank line */
        ssize_t k = recv(c->fd, c->tbuf + c->tlen, 1, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (k <= 0) {
            xfer_end(x, HF(CLOSED), "Proxy CONNECT aborted", NULL);
            return 1;
        }
        c->tlen++;
        rc = mp__nproxy_connect_resp(c->tbuf, c->tlen, &status);
        if (rc < 0 || (rc == 0 && c->tlen == MP__TUNNEL_HEAD)) {
            xfer_end(x, HF(PROTOCOL), "Proxy CONNECT: not an HTTP/1.x "
                     "answer", NULL);
            return 1;
        }
        if (rc > 0)
            break;
    }
    free(c->tbuf);
    c->tbuf = NULL;
    if (status < 200 || status > 299) {
        snprintf(msg, sizeof msg, "%d", status);
        xfer_end(x, HF(PROXY), "CONNECT tunnel failed, response ", msg);
        return 1;
    }
    return tls_begin(x);
}

/* The connect of x failed: tries its next address on a new connection,
   as curl does. Returns 1 if it did (x may have ended), 0 if none is
   left. */
static int next_address(mp__native_xfer *x)
{
    if (x->ai + 1 >= x->addrs.n)
        return 0;
    evtimer_del(x->c->timer);
    x->c->x = NULL;
    mp__native_pool_conn_free(x->c);
    x->c = NULL;
    x->ai++;
    xfer_connect(x);
    return 1;
}

/* libevent: c is readable or writable. */
static void on_conn(evutil_socket_t fd, short what, void *arg)
{
    nconn *c = arg;
    mp__native_xfer *x = c->x;

    if (c->h2) {
        mp__h2_io(c, what);
        return;
    }
    if (!x) { /* idle: the server closed it, or sent what nobody asked */
        mp__native_pool_idle_unlink(c);
        mp__native_pool_conn_free(c);
        return;
    }
    if (x->state == MP__NX_CONNECT) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err && next_address(x))
            return;
        if (err) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s", strerror(err));
            xfer_end(x, err == ECONNREFUSED ? HF(REFUSED)
                        : err == ETIMEDOUT  ? HF(TIMEOUT)
                                            : HF(UNREACHABLE),
                     "Failed to connect: ", msg);
            return;
        }
        if (!(what & EV_WRITE))
            return;
        x->t_conn = mp__now_us();
        if (x->tls && x->px.on && tunnel_begin(x))
            return;
        if (x->tls && !x->px.on && tls_begin(x))
            return;
        if (!x->tls) {
            x->state = MP__NX_SEND;
            arm_total(x, c);
        }
    }
    if (x->state == MP__NX_TUNNEL &&
        (tunnel_step(x) || x->state == MP__NX_TUNNEL))
        return;
    if (x->state == MP__NX_TLS && (tls_step(x) || x->state == MP__NX_TLS))
        return;
    if (x->state == MP__NX_SEND) {
        if (try_send(x) || x->state == MP__NX_SEND)
            return;
    }
    if ((what & EV_READ) ||
        (c->tls && mp__tls_want(c->tls) == MP__TLS_WANT_WRITE))
        do_read(x);
}

/* libevent: the transfer on c ran out of time. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    nconn *c = arg;
    mp__native_xfer *x = c->x;

    (void)fd;
    (void)what;
    if (!x) { /* idle for the idle age (mp__native_pool_spare) */
        if (mp__list_linked(&c->spare_link))
            spare_close(c);
        return;
    }
    xfer_end(x, HF(TIMEOUT),
             x->state == MP__NX_CONNECT  ? "Connection timed out"
             : x->state == MP__NX_TUNNEL ? "Proxy CONNECT aborted due to "
                                           "timeout"
             : x->state == MP__NX_TLS    ? "SSL connection timeout"
                                    : "Operation timed out",
             NULL);
}

/* Arms c's timer for ms milliseconds (0: none). */
static void timer_arm(nconn *c, uint64_t ms)
{
    struct timeval tv = mp__ms_tv(ms);

    if (ms)
        evtimer_add(c->timer, &tv);
}

/* Starts x on a new connection. Returns 0, or -1 if x ended. */
static int xfer_connect(mp__native_xfer *x)
{
    nhost *h = xhost(x);
    const mp_http_request *q = x->req;
    uint64_t ct = q->connect_timeout_ms ? q->connect_timeout_ms
                                        : (uint64_t)MP__HTTP_CONNECT_MS;
    nconn *c = NULL;

    x->reused = 0;
    if (h && !limits_room(x, h))
        return queue_add(x, h);
    if (h && !x->addrs.n)
        x->addrs = h->last; /* a reused connection failed: its addresses */
    if (h && x->addrs.n)
        h->last = x->addrs;
    while (h && x->ai < x->addrs.n &&
           !(c = mp__native_pool_conn_open(g_hn, h, &x->addrs.a[x->ai].sa,
                                           mp__sa_len(&x->addrs.a[x->ai]))) &&
           errno != ENOMEM && x->ai + 1 < x->addrs.n)
        x->ai++;
    if (!c) {
        int e = !h ? ENOMEM : x->addrs.n ? errno : EHOSTUNREACH;
        xfer_end(x, e == ENOMEM ? HF(NOMEM) : HF(UNREACHABLE),
                 "Failed to connect: ", strerror(e));
        return -1;
    }
    c->x = x;
    x->c = c;
    x->state = MP__NX_CONNECT;
    if (mp__native_req_build(x, c) < 0) {
        xfer_end(x, HF(NOMEM), "out of memory", NULL);
        return -1;
    }
    if (q->timeout_ms && q->timeout_ms < ct)
        ct = q->timeout_ms;
    timer_arm(c, ct);
    return 0;
}

/* ---- a host's first handshake offering h2, and its waiters ---------- */

/* Takes waiter x out of its host's list, and its timer away. */
static void wait_unlink(mp__native_xfer *x)
{
    mp__list_remove(&x->link);
    if (x->timer)
        event_free(x->timer);
    x->timer = NULL;
}

/* libevent: waiter x ran out of its connect time. */
static void on_wait_timer(evutil_socket_t fd, short what, void *arg)
{
    mp__native_xfer *x = arg;

    (void)fd;
    (void)what;
    wait_unlink(x);
    xfer_end(x, HF(TIMEOUT), "Connection timed out", NULL);
}

/* Makes x wait for the answer of its host h's prober (its handshake
   offering h2): if h2, x becomes a stream beside it instead of opening a
   connection of its own. Its connect timeout runs meanwhile. Returns 0,
   or -1 (out of memory: x connects now). */
static int wait_probe(mp__native_xfer *x, nhost *h)
{
    struct timeval tv = mp__ms_left_tv(mp__http_connect_ms(x->req), x->hop0);

    if (!(x->timer = evtimer_new(g_hn->base, on_wait_timer, x)) ||
        evtimer_add(x->timer, &tv) != 0) {
        if (x->timer)
            event_free(x->timer);
        x->timer = NULL;
        return -1;
    }
    mp__list_push_front(&h->waiters, &x->link);
    x->state = MP__NX_WAIT;
    return 0;
}

static int xfer_start(mp__native_xfer *x);

/* h's prober is done: ok 1, its handshake answered (h2: a connection
   with free stream slots; or HTTP/1.1) or its transfer was canceled,
   and each waiter starts as if it came now; ok 0, it failed, and each
   waiter opens a connection of its own. */
static void probe_end(nhost *h, int ok)
{
    mp__list ws; /* h's waiters: a waiter started may wait on h again */
    mp__list_node *n;

    h->prober = NULL;
    mp__list_init(&ws);
    while ((n = mp__list_pop_front(&h->waiters)) != NULL)
        mp__list_push_back(&ws, n);
    while ((n = mp__list_pop_front(&ws)) != NULL) {
        /* a waiter that ends at once wakes its task here */
        mp__native_xfer *w = XFER_OF(n, link);
        if (w->timer)
            event_free(w->timer);
        w->timer = NULL;
        w->state = MP__NX_CONNECT;
        if (ok)
            xfer_start(w);
        else
            xfer_connect(w);
    }
}

/* Starts x: as a stream on one of its host's h2 connections with a free
   slot, or on an idle connection, else waiting for the host's first
   handshake offering h2 to answer, else on a new connection. Returns 0,
   or -1 if x ended. */
static int xfer_start(mp__native_xfer *x)
{
    nhost *h = xhost(x);
    nconn *c = h ? CONN_OF(mp__list_first(&h->idle)) : NULL;
    int probe = h && x->u.tls && offers_h2(x) && h->alpn != 1;

    if (h && !mp__list_empty(&h->q) && !x->from_queue)
        return queue_add(x, h); /* behind the host's waiters */
    if (h && !mp__list_empty(&h->h2free) && offers_h2(x)) {
        x->reused = 1;
        x->t_conn = x->hop0;
        return mp__h2_submit(CONN_OF(mp__list_first(&h->h2free)), x);
    }
    if (probe && h->prober && !c && wait_probe(x, h) == 0)
        return 0;
    if (!c) {
        if (xfer_connect(x) < 0)
            return -1;
        if (probe && !h->prober)
            h->prober = x;
        return 0;
    }
    mp__native_pool_idle_unlink(c);
    c->x = x;
    x->c = c;
    x->reused = 1;
    x->t_conn = x->hop0;
    x->state = MP__NX_SEND;
    if (mp__native_req_build(x, c) < 0) {
        xfer_end(x, HF(NOMEM), "out of memory", NULL);
        return -1;
    }
    timer_arm(c, x->req->timeout_ms);
    return try_send(x) ? -1 : 0;
}

/* ---- connection limits (mp_http_set_limits) ---------------------- */

/* Closes c, a spare connection (idle, or h2 without a stream). */
static void spare_close(nconn *c)
{
    if (c->h2) {
        mp__h2_close_spare(c);
    } else {
        mp__native_pool_idle_unlink(c);
        mp__native_pool_conn_free(c);
    }
}

/* Closes the oldest spare connection: another host needs its place, or
   there are more than the idle count. Returns 0, or -1 if there is
   none. */
static int close_spare(void)
{
    mp__list_node *n = mp__list_last(&g_hn->spare);

    if (!n)
        return -1;
    spare_close(MP__LIST_ENTRY(n, nconn, spare_link));
    return 0;
}

/* Returns 1 if the total limit lets one more connection open now,
   closing a spare one if it must; 0 if not. */
static int total_room(unsigned total)
{
    while (total && g_hn->n_conns >= total)
        if (close_spare() != 0)
            return 0;
    return 1;
}

/*
 * Returns 1 if x may open a connection to h now, 0 if it must wait:
 * h is at its per-host limit, or the total is and no spare connection
 * can make room, or (FIFO) x comes fresh while others wait for the same
 * room. Without limits, 1 at once.
 */
static int limits_room(mp__native_xfer *x, nhost *h)
{
    unsigned total, per_host;

    mp__http_limits_get(&total, &per_host);
    if (!total && !per_host)
        return 1;
    if (!x->from_queue &&
        (!mp__list_empty(&h->q) || (total && !mp__list_empty(&g_hn->gq))))
        return 0;
    if (per_host && h->n_conns >= per_host)
        return 0;
    return total_room(total);
}

/* Takes x out of the state's queue for the total's room. */
static void gq_unlink(mp__native_xfer *x)
{
    if (mp__list_linked(&x->glink))
        mp__list_remove(&x->glink);
}

/* Puts x, the first waiter of a host with room of its own, last in the
   state's queue for the total's room. */
static void gq_push(mp__native_xfer *x)
{
    mp__list_push_back(&g_hn->gq, &x->glink);
}

/* Takes x out of its host's queue (and the state's). */
static void queue_unlink(mp__native_xfer *x)
{
    gq_unlink(x);
    mp__list_remove(&x->qlink);
}

/* Takes x, a waiter canceled, out of its queues. The one behind it,
   its host's first now, takes its place in the state's queue for the
   total's room, and the kick looks at it: else it could wait for a
   connection of its host to close that may never exist. */
static void queue_leave(mp__native_xfer *x)
{
    nhost *h = x->h;
    mp__native_xfer *next = NULL;

    if (mp__list_first(&h->q) == &x->qlink && x->qlink.next != &h->q)
        next = XFER_OF(x->qlink.next, qlink);
    if (next && mp__list_linked(&x->glink))
        mp__list_insert_before(x->glink.next, &next->glink);
    queue_unlink(x);
    if (next)
        mp__native_pool_kick(g_hn, h, 0);
}

/* Makes x wait, last in h's queue, for a connection the limits allow
   (no timer: as in curl, its timeouts start when it leaves the queue;
   the task's deadline still ends it); first in h's queue with room
   under h's own limit, it waits in the state's queue for the total's.
   Returns 0. */
static int queue_add(mp__native_xfer *x, nhost *h)
{
    unsigned total, per_host;

    mp__http_limits_get(&total, &per_host);
    mp__list_push_back(&h->q, &x->qlink);
    x->state = MP__NX_QUEUE;
    if (mp__list_first(&h->q) == &x->qlink && total &&
        !(per_host && h->n_conns >= per_host))
        gq_push(x);
    return 0;
}

/* Starts x, taken out of its queue, as if it came now. */
static void queue_start(mp__native_xfer *x)
{
    queue_unlink(x);
    x->state = MP__NX_CONNECT;
    x->t0 = mp__now_us(); /* curl 7.88's timeouts start here too */
    x->from_queue = 1;
    xfer_start(x);
    x->from_queue = 0;
}

/* Returns 1 if x can start on h without a new connection. */
static int can_reuse(const mp__native_xfer *x, const nhost *h)
{
    return !mp__list_empty(&h->idle) ||
           (!mp__list_empty(&h->h2free) && offers_h2(x)) ||
           (h->prober && x->u.tls && offers_h2(x) && h->alpn != 1);
}

/* Starts h's waiters in order while it has room: a connection to reuse,
   or room under its own limit and the total's; the first one with room
   of its own but not the total's waits in the state's queue. */
static void host_serve(nhost *h)
{
    unsigned total, per_host;
    mp__native_xfer *x;

    mp__http_limits_get(&total, &per_host);
    while ((x = XFER_OF(mp__list_first(&h->q), qlink)) != NULL) {
        if (can_reuse(x, h)) {
            queue_start(x);
            continue;
        }
        if (mp__list_linked(&x->glink) || (per_host && h->n_conns >= per_host))
            return;
        if (!mp__list_empty(&g_hn->gq) || !total_room(total)) {
            gq_push(x);
            return;
        }
        queue_start(x);
    }
}

/* libevent: a connection closed or went spare, or an h2 slot freed
   (mp__native_pool_kick): closes the oldest spare connections beyond the
   idle count, then starts the waiters that now have room, hosts first,
   then the total's queue in order. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    mp__native_pool *s = arg;
    unsigned total, per_host;
    mp__native_xfer *x;
    nhost *h;

    (void)fd;
    (void)what;
    while (s->n_spare > s->idle_max && close_spare() == 0)
        ;
    mp__http_limits_get(&total, &per_host);
    while ((h = mp__native_pool_kicked(s)) != NULL)
        host_serve(h);
    while ((x = XFER_OF(mp__list_first(&s->gq), glink)) != NULL) {
        h = x->h;
        if (per_host && h->n_conns >= per_host && !can_reuse(x, h)) {
            gq_unlink(x); /* its host's own room comes first now */
            continue;
        }
        if (!can_reuse(x, h) && !total_room(total))
            return;
        queue_start(x);
        if (!mp__list_empty(&h->q))
            mp__native_pool_kick(s, h, 0); /* its next waiter */
    }
}

/* mp__cancel_fn: the task's deadline passed or it was canceled. Undoes
   x once: mp__native_xfer_run calls it again after the wake (it cannot
   tell whether the worker did, see mp__task_suspend), and x, then
   MP__NX_CANCELED and off its lists, is left alone. */
static void xfer_cancel(mp_task *t, void *arg)
{
    mp__native_xfer *x = arg;

    (void)t;
    if (x->state == MP__NX_CANCELED)
        return;
    if (x->state == MP__NX_WAIT)
        wait_unlink(x);
    if (x->state == MP__NX_QUEUE)
        queue_leave(x);
    if (x->h && x->h->prober == x)
        probe_end(x->h, 1); /* the next one asks */
    if (x->h2c)
        mp__h2_cancel(x);
    if (x->c) {
        evtimer_del(x->c->timer);
        x->c->x = NULL;
        mp__native_pool_conn_free(x->c);
        x->c = NULL;
    }
    x->state = MP__NX_CANCELED;
}

/* Adds the times of x, a hop that ended, to r: each from the hop's
   start, summed over hops, as curl does. */
static void hop_keep(const mp__native_xfer *x, mp_http_response *r)
{
    if (x->t_conn && !x->reused)
        r->t_connect_us += x->t_conn - x->hop0;
    if (x->t_tls && !x->reused)
        r->t_tls_us += x->t_tls - x->hop0;
    if (x->t_first)
        r->t_first_byte_us += x->t_first - x->hop0;
}

/* Moves x's head into r (want_headers), replacing a previous hop's: the
   latest head that arrived whole is the record's. */
static void head_keep(mp__native_xfer *x, mp_http_response *r)
{
    char *head;
    size_t len;

    if (x->req->want_headers && x->state == MP__NX_DONE &&
        r->status && /* a head taken, not refused */
        (head = mp__native_resp_head_take(&x->r, &len)) != NULL) {
        free(r->headers);
        r->headers = head;
        r->headers_len = len;
    }
}

/* Moves the results of a finished x into resp. Returns resp->error. */
static int xfer_finish(mp__native_xfer *x, mp_http_response *r)
{
    int err = r->error, ferr = mp__native_resp_file_close(&x->r);

    if (ferr && !err)
        err = mp__http_error(r, HF(WRITE), "close(%s): %s", x->req->body_path,
                             strerror(ferr));
    hop_keep(x, r);
    r->body_len = x->r.body_seen;
    r->bytes_down = x->r.bytes_in;
    if (!err && !x->req->body_path && !x->req->no_body) {
        r->body = mp__native_resp_body_take(&x->r);
        if (!r->body)
            r->body = calloc(1, 1);
        if (!r->body)
            err = mp__http_error(r, HF(NOMEM), "out of memory");
    }
    if (!err && mp__native_resp_trailers_to_head(&x->r) < 0)
        err = mp__http_error(r, HF(NOMEM), "out of memory");
    head_keep(x, r);
    return err;
}

/* Finds where x connects, in the task (may suspend it) unless its host
   has an idle connection: fills x->addrs (http_dns.c). Returns 0, or the
   code stored in x->resp (MP_EDNS when the name does not resolve). */
static int resolve(mp__native_xfer *x)
{
    nhost *h = xhost(x);
    size_t n = x->px.on ? x->px.host_len : x->u.host_len;
    const char *p = x->px.on ? x->px.host : x->u.host;
    uint16_t port = x->px.on ? x->px.port : x->u.port;
    char why[320];
    uint64_t t;
    int rc;

    if (h && (!mp__list_empty(&h->idle) ||
              (!mp__list_empty(&h->h2free) && offers_h2(x))))
        return 0;
    if (p[0] == '[') {
        p++;
        n -= 2;
    }
    memcpy(x->name, p, n); /* n < 254: mp__http_native_url */
    x->name[n] = '\0';
    t = mp__now_us();
    rc = mp__dns_lookup(x->task, x->name, port,
                        mp__http_connect_ms(x->req), &x->addrs, why,
                        sizeof why);
    /* each hop's lookup time, as curl sums them; a lookup that failed
       counts none (curl's name lookup time stays 0 then) */
    if (rc == 0 && (x->u.kind == MP__HU_NAME || x->px.on))
        x->resp->t_dns_us += mp__now_us() - t;
    if (rc == MP_EDNS && x->px.on) /* curl's words for the proxy's name */
        snprintf(why, sizeof why, "Could not resolve proxy: %s", x->name);
    if (rc == MP_EDNS)
        rc = HF(DNS);
    else if (rc == MP_ETIMEDOUT)
        rc = HF(TIMEOUT);
    if (rc)
        mp__http_error(x->resp, rc, "%s %.*s%s: %s", mp__http_method(x->orig),
                       MP__HTTP_URL_SHOWN, x->orig->url, via_proxy(x, rc),
                       why);
    return rc;
}

int mp__native_xfer_ready(mp_http_response *resp)
{
    if ((g_hn = mp__native_pool_get(on_conn, on_timer, on_kick)) != NULL)
        return 0;
    return mp__http_error(resp, mp__worker_base() ? MP_ENOMEM : MP_EINVAL,
                          "mp_http: %s",
                          mp__worker_base() ? "out of memory"
                                            : "called outside a worker");
}

int mp__native_xfer_finish(mp__native_xfer *x)
{
    return xfer_finish(x, x->resp);
}

/* mp__native_xfer_run once its host is found (resolve): the hop from
   its start to its end. Returns what mp__native_xfer_run returns. */
static int xfer_run(mp__native_xfer *x)
{
    const mp_http_request *req = x->orig;
    int woke = 0;

    do { /* again (once, on a new connection) for an h2 stream refused
            unanswered: the connections it could share may be ending too */
        if (x->h2_retry) {
            x->h2_retry = 0;
            x->retried = 1;
            x->reused = 0;
            xfer_connect(x);
        } else {
            xfer_start(x);
        }
        if (x->state != MP__NX_DONE) {
            x->suspended = 1;
            woke = mp__task_suspend(x->task, xfer_cancel, x);
            x->suspended = 0;
        }
    } while (x->state == MP__NX_DONE && x->h2_retry && !woke);
    if (x->state == MP__NX_DONE && x->h2_retry)
        return mp__http_error(x->resp, HF(CLOSED), "%s %.*s: %s",
                              mp__http_method(req), MP__HTTP_URL_SHOWN,
                              req->url,
                              "the server refused the HTTP/2 stream twice");
    if (x->state == MP__NX_DONE && x->r.location && !x->resp->error) {
        hop_keep(x, x->resp); /* a redirect: the next hop comes */
        head_keep(x, x->resp);
        x->t_conn = x->t_tls = x->t_first = 0; /* counted once */
        return 0;
    }
    if (x->state == MP__NX_DONE)
        return xfer_finish(x, x->resp);
    xfer_cancel(x->task, x);
    return mp__http_error(x->resp, woke < 0 ? woke : MP_ECANCELED,
                          "%s %.*s: %s during the transfer",
                          mp__http_method(req), MP__HTTP_URL_SHOWN, req->url,
                          mp_strerror(woke));
}

int mp__native_xfer_run(mp__native_xfer *x)
{
    int rc;

    if (mp__nproxy_for(x->req, x->req->url, &x->px) != 0)
        return mp__http_error(x->resp, MP_EINVAL,
                              "%s %.*s: the native "
                              "engine cannot: a proxy of this kind",
                              mp__http_method(x->orig), MP__HTTP_URL_SHOWN,
                              x->req->url);
    rc = resolve(x);
    if (rc)
        x->resp->t_total_us = mp__now_us() - x->t0; /* as xfer_end sets it */
    else
        rc = xfer_run(x);
    if (x->h) /* the hop lets go of its host (xhost took it) */
        mp__native_pool_host_put(g_hn, x->h);
    x->h = NULL;
    return rc;
}
