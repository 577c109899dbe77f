/*
 * mp-testserver's core: the server API the routes (routes.c, coded.c) and
 * the proxy (proxy.c) are written against (testserver.h); main.c picks what
 * it serves. It names none of them: the routes come as a table, the proxy
 * as start/stop calls (struct ts_service).

 *
 * Counters (/stats) are per process: they are exact only with --procs 1,
 * the default. /stats traffic is invisible in them: a /stats request is not
 * counted, and a connection whose only requests so far were /stats is not
 * counted either, so a client can take two readings and compare them.
 *
 * Connection tracking: evhttp reports no accepts, so the bufferevent
 * factory (evhttp_set_bevcb) counts each accept and queues the bufferevent;
 * a priority-0 event ("adopt") runs before any other callback, finds the
 * evhttp_connection (the bufferevent's callback argument) and sets a close
 * callback on it. Requests we answer later (/delay, /hang, /chunked, /drop)
 * hang off their connection as `ts_pending` records that the close callback
 * frees, so no path leaves a timer, an event or a request behind.
 *
 * Libevent 2.1 quirks handled here: it stops reading a connection while a
 * request is with the user, so a client that leaves during /delay or /hang
 * goes unnoticed; we watch the socket ourselves (MSG_PEEK). It sends the
 * body of a HEAD reply; ts_reply() drops it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "testserver.h"

static char pattern[TS_PATTERN_LEN + 26];

/* ---- small helpers -------------------------------------------------- */

/* Parses a decimal number made of digits only. The function returns 0 and
 * stores it in *out, or -1 if s is empty, has other characters or exceeds
 * max. */
int ts_parse_num(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (max - (unsigned long)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Appends n bytes of the pattern 'a'+i%26 starting at index off; big
 * bodies are references to the static block, not copies. */
void ts_add_pattern(struct evbuffer *out, size_t off, size_t n)
{
    while (n > 0) {
        size_t len = n < TS_PATTERN_LEN ? n : TS_PATTERN_LEN;
        const char *p = pattern + off % 26;

        if (len <= 16384)
            evbuffer_add(out, p, len);
        else
            evbuffer_add_reference(out, p, len, NULL, NULL);
        off += len;
        n -= len;
    }
}

/* Sends the request's output buffer with status code and, if type is set,
 * that Content-Type. A HEAD reply keeps the Content-Length the body would
 * have had but not the body; 1xx, 204 and 304 replies carry neither. */
void ts_reply(struct evhttp_request *req, int code, const char *type)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    size_t len = evbuffer_get_length(out);
    int bodyless = code < 200 || code == 204 || code == 304;

    if (type != NULL && !bodyless)
        evhttp_add_header(h, "Content-Type", type);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD && !bodyless) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", len);
        evhttp_add_header(h, "Content-Length", n);
        evbuffer_drain(out, len);
    } else if (bodyless) {
        evbuffer_drain(out, len);
    }
    evhttp_send_reply(req, code, NULL, NULL);
}

/* Sends a text/plain reply with body text. */
void ts_reply_text(struct evhttp_request *req, int code, const char *text)
{
    evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
    ts_reply(req, code, "text/plain");
}

/* ---- connection tracking -------------------------------------------- */

/* Frees p after unlinking it from its connection; the request stays. */
void ts_pending_free(struct ts_pending *p)
{
    struct ts_pending **pp = &p->conn->pending;

    while (*pp != NULL && *pp != p)
        pp = &(*pp)->next;
    if (*pp == p)
        *pp = p->next;
    if (p->timer != NULL)
        event_free(p->timer);
    if (p->watch != NULL)
        event_free(p->watch);
    if (p->buf != NULL)
        evbuffer_free(p->buf);
    free(p);
}

/* Runs when a connection goes away, whatever the reason. A request that
 * libevent detached from the connection (a client that left mid-answer)
 * is ours to free; an attached one libevent frees right after. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct ts_conn *c = arg;
    struct ts_server *srv = c->srv;

    while (c->pending != NULL) {
        struct evhttp_request *req = c->pending->req;

        if (evhttp_request_get_connection(req) == NULL)
            evhttp_request_free(req);
        ts_pending_free(c->pending);
    }
    if (c->counted)
        srv->open--;
    if ((size_t)c->fd < srv->capconns && srv->conns[c->fd] == c)
        srv->conns[c->fd] = NULL;
    free(c);
}

/* Makes srv->conns able to hold index fd. The function returns 0, or -1
 * if memory ran out. */
static int conns_reserve(struct ts_server *srv, int fd)
{
    size_t cap = srv->capconns ? srv->capconns : 256;
    struct ts_conn **n;

    if ((size_t)fd < srv->capconns)
        return 0;
    while (cap <= (size_t)fd)
        cap *= 2;
    n = realloc(srv->conns, cap * sizeof(*n));
    if (n == NULL)
        return -1;
    memset(n + srv->capconns, 0, (cap - srv->capconns) * sizeof(*n));
    srv->conns = n;
    srv->capconns = cap;
    return 0;
}

/* Starts tracking the connection evhttp built around bev. The function
 * returns 0, or -1 if it could not (the connection then is not counted). */
static int conn_adopt(struct ts_server *srv, struct bufferevent *bev,
                      struct evhttp_connection *evcon)
{
    int fd = (int)bufferevent_getfd(bev), one = 1;
    struct ts_conn *c;

    if (fd < 0 || conns_reserve(srv, fd) != 0)
        return -1;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return -1;
    c->srv = srv;
    c->evcon = evcon;
    c->fd = fd;
    c->counted = 1;
    srv->conns[fd] = c;
    evhttp_connection_set_closecb(evcon, on_conn_close, c);
    /* Chunked answers go out in several writes: no Nagle stalls. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

/* Priority-0 event: adopts the connections accepted since it last ran.
 * A bufferevent whose callbacks are gone was freed by evhttp already. */
static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
    struct ts_server *srv = arg;
    size_t i;

    for (i = 0; i < srv->nfresh; i++) {
        struct bufferevent *bev = srv->fresh[i];
        bufferevent_event_cb eventcb = NULL;
        void *cbarg = NULL;

        bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
        if (eventcb == NULL || conn_adopt(srv, bev, cbarg) != 0)
            srv->open--;
        bufferevent_decref(bev);
    }
    srv->nfresh = 0;
}

/* evhttp's bufferevent factory, called once per accepted connection. The
 * function returns the new bufferevent (evhttp sets its fd), or NULL to
 * let evhttp make its own. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    struct ts_server *srv = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

    if (bev == NULL)
        return NULL;
    if (srv->nfresh == srv->capfresh) {
        size_t cap = srv->capfresh ? srv->capfresh * 2 : 64;
        void *n = realloc(srv->fresh, cap * sizeof(*srv->fresh));
        if (n == NULL)
            return bev; /* untracked */
        srv->fresh = n;
        srv->capfresh = cap;
    }
    bufferevent_incref(bev); /* alive until on_adopt looks at it */
    srv->fresh[srv->nfresh++] = bev;
    srv->connections++;
    srv->open++;
    event_active(srv->adopt_ev, EV_TIMEOUT, 0);
    return bev;
}

/* The function returns the record of the connection carrying req, or NULL
 * if there is none. */
static struct ts_conn *conn_of(struct ts_server *srv, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    int fd;

    if (evcon == NULL)
        return NULL;
    fd = (int)bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0 || (size_t)fd >= srv->capconns)
        return NULL;
    if (srv->conns[fd] == NULL || srv->conns[fd]->evcon != evcon)
        return NULL;
    return srv->conns[fd];
}

/* Returns the connections open now as their sockets say: a client that
 * closed one and opened another at once may be read on the new one
 * before its close is (a connection limit's test must not count it). */
static long live_conns(struct ts_server *srv)
{
    long n = (long)srv->nfresh;
    char b;

    for (size_t fd = 0; fd < srv->capconns; fd++)
        if (srv->conns[fd] != NULL && srv->conns[fd]->counted &&
            recv((int)fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 0)
            n++;
    return n;
}

/* Accounts for one request; /stats traffic stays invisible (see top). */
static void count_request(struct ts_server *srv, struct ts_conn *c, int is_stats)
{
    if (is_stats) {
        if (c != NULL && c->counted && c->nreq == 0) {
            c->counted = 0;
            srv->connections--;
            srv->open--;
        }
        return;
    }
    srv->requests++;
    if (c == NULL)
        return;
    if (!c->counted) {
        c->counted = 1;
        srv->connections++;
        srv->open++;
    }
    c->nreq++;
    if (srv->open > srv->max_open) { /* a new peak, if all are live */
        long live = live_conns(srv);
        if (live > srv->max_open)
            srv->max_open = live;
    }
}

/* ---- answers that come later ---------------------------------------- */

/* Watcher of a pending request's socket: a client that closed (or reset)
 * takes its connection with it; one that sent more data is left alone. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct ts_pending *p = arg;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        event_del(p->watch);
        return;
    }
    /* on_conn_close frees p (and this event) and libevent the request. */
    evhttp_connection_free(p->conn->evcon);
}

/* Creates a pending record for req on connection c; with watch, the
 * socket is watched for the client leaving. The function returns the
 * record, or NULL (after answering 500) on failure. */
struct ts_pending *ts_pending_new(struct ts_conn *c,
                                  struct evhttp_request *req, int watch)
{
    struct ts_pending *p;

    if (c == NULL || (p = calloc(1, sizeof(*p))) == NULL)
        goto fail;
    p->conn = c;
    p->req = req;
    p->next = c->pending;
    c->pending = p;
    if (watch) {
        p->watch = event_new(c->srv->base, c->fd, EV_READ | EV_PERSIST,
                             on_watch, p);
        if (p->watch == NULL || event_add(p->watch, NULL) != 0) {
            ts_pending_free(p);
            goto fail;
        }
    }
    return p;
fail:
    ts_reply_text(req, 500, "out of memory or no connection record\n");
    return NULL;
}

/* ---- /stats and routing -------------------------------------------- */

static void h_stats(struct ts_server *srv, struct ts_conn *c,
                    struct evhttp_request *req, const char *arg)
{
    evbuffer_add_printf(evhttp_request_get_output_buffer(req),
                        "{\"connections\":%ld,\"requests\":%ld,\"open\":%ld,"
                        "\"max_open\":%ld}\n",
                        srv->connections, srv->requests, srv->open,
                        srv->max_open);
    srv->max_open = srv->open; /* the next /stats: the peak since now */
    ts_reply(req, 200, "application/json");
}

/* evhttp's generic callback: counts the request and routes it. */
static void on_request(struct evhttp_request *req, void *arg)
{
    struct ts_server *srv = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct ts_conn *c = conn_of(srv, req);
    size_t i;

    if (path == NULL || *path == '\0')
        path = "/";
    if (strcmp(path, "/stats") == 0) {
        count_request(srv, c, 1);
        h_stats(srv, c, req, NULL);
        return;
    }
    count_request(srv, c, 0);
    for (i = 0; i < srv->svc->nroutes; i++) {
        const struct ts_route *r = &srv->svc->routes[i];
        size_t n = strlen(r->path);

        if (r->prefix ? strncmp(path, r->path, n) == 0
                      : strcmp(path, r->path) == 0) {
            r->fn(srv, c, req, path + (r->prefix ? n : 0));
            return;
        }
    }
    ts_reply_text(req, 404, "not found\n");
}

/* ---- process setup -------------------------------------------------- */


socklen_t ts_loopback_addr(const char *host, int port,
                           struct sockaddr_storage *ss)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1 &&
        (ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1 &&
        IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return sizeof(*v6);
    }
    return 0;
}

int ts_listen(const char *host, int port, int *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = ts_loopback_addr(host, port, &ss);
    int fd, one = 1;

    if (len == 0) {
        fprintf(stderr, "mp-testserver: --host must be a loopback address "
                        "such as 127.0.0.1 or ::1, got %s\n", host);
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("mp-testserver: socket");
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "mp-testserver: bind(%s port %d): %s\n", host, port,
                strerror(errno));
        goto err;
    }
    if (listen(fd, 65535) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        perror("mp-testserver: listen/getsockname");
        goto err;
    }
    *bound = ntohs(ss.ss_family == AF_INET
                       ? ((struct sockaddr_in *)&ss)->sin_port
                       : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
err:
    close(fd);
    return -1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(((struct ts_server *)arg)->base);
}

/* stdin watcher (--exit-on-stdin-eof): EOF or a read error stops us. */
static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        event_base_loopbreak(((struct ts_server *)arg)->base);
}

/* Creates the evhttp server on the listening socket *lfd, which becomes
 * the server's (*lfd = -1) once a listener holds it. The function returns
 * 0, or -1 after saying which call failed. */
static int http_init(struct ts_server *srv, int *lfd)
{
    struct evconnlistener *l;

    if ((srv->http = evhttp_new(srv->base)) == NULL) {
        fprintf(stderr, "mp-testserver: evhttp_new failed\n");
        return -1;
    }
    l = evconnlistener_new(srv->base, NULL, NULL,
                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
                           *lfd);
    if (l == NULL) {
        fprintf(stderr, "mp-testserver: evconnlistener_new failed\n");
        return -1;
    }
    *lfd = -1;
    if (evhttp_bind_listener(srv->http, l) == NULL) {
        evconnlistener_free(l);
        fprintf(stderr, "mp-testserver: evhttp_bind_listener failed\n");
        return -1;
    }
    evhttp_set_bevcb(srv->http, on_new_bev, srv);
    evhttp_set_gencb(srv->http, on_request, srv);
    evhttp_set_max_headers_size(srv->http, 64 * 1024);
    evhttp_set_max_body_size(srv->http, 16 * 1024 * 1024);
    evhttp_set_allowed_methods(srv->http,
        EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
        EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
        EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    return 0;
}

/* Creates the event base (two priorities: adoption runs first), our
 * events and the evhttp server on *lfd (see http_init). The function
 * returns 0, or -1 after saying which call failed (server_free() cleans
 * up either way). */
static int server_init(struct ts_server *srv, int *lfd, int watch_stdin)
{
    struct event_base *b;
    const char *what = "event_base_new/priority_init";

    if ((b = srv->base = event_base_new()) == NULL ||
        event_base_priority_init(b, 2) != 0)
        goto err;
    what = "event_new";
    srv->adopt_ev = event_new(b, -1, 0, on_adopt, srv);
    srv->sig_term = evsignal_new(b, SIGTERM, on_signal, srv);
    srv->sig_int = evsignal_new(b, SIGINT, on_signal, srv);
    if (srv->adopt_ev == NULL || srv->sig_term == NULL || srv->sig_int == NULL
        || event_priority_set(srv->adopt_ev, 0) != 0)
        goto err;
    what = "event_add(signals)";
    if (event_add(srv->sig_term, NULL) != 0 || event_add(srv->sig_int, NULL))
        goto err;
    if (watch_stdin) {
        what = "event_add(stdin)";
        srv->stdin_ev = event_new(b, 0, EV_READ | EV_PERSIST, on_stdin, srv);
        if (srv->stdin_ev == NULL || event_add(srv->stdin_ev, NULL) != 0)
            goto err;
    }
    if (srv->svc->start)
        return srv->svc->start(srv->svc->arg, b, lfd);
    return http_init(srv, lfd);
err:
    fprintf(stderr, "mp-testserver: %s failed\n", what);
    return -1;
}

/* Tears down what server_init built, connections first (their close
 * callbacks free our records). */
static void server_free(struct ts_server *srv)
{
    size_t i;

    if (srv->http != NULL)
        evhttp_free(srv->http);
    if (srv->svc->stop)
        srv->svc->stop(srv->svc->arg);
    for (i = 0; i < srv->nfresh; i++)
        bufferevent_decref(srv->fresh[i]);
    if (srv->adopt_ev != NULL)
        event_free(srv->adopt_ev);
    if (srv->sig_term != NULL)
        event_free(srv->sig_term);
    if (srv->sig_int != NULL)
        event_free(srv->sig_int);
    if (srv->stdin_ev != NULL)
        event_free(srv->stdin_ev);
    if (srv->base != NULL)
        event_base_free(srv->base);
    free(srv->fresh);
    free(srv->conns);
}

int ts_serve(int lfd, int watch_stdin, const sigset_t *stops,
             const struct ts_service *svc)
{
    struct ts_server srv;
    int rc = TS_EXIT_SYSTEM, ok, i;

    for (i = 0; i < (int)sizeof(pattern); i++)
        pattern[i] = (char)('a' + i % 26);
    memset(&srv, 0, sizeof(srv));
    srv.svc = svc;
    ok = server_init(&srv, &lfd, watch_stdin) == 0;
    sigprocmask(SIG_UNBLOCK, stops, NULL);
    if (ok) {
        if (event_base_dispatch(srv.base) == 0 ||
            event_base_got_break(srv.base))
            rc = 0;
        else
            fprintf(stderr, "mp-testserver: event_base_dispatch failed\n");
    }
    if (lfd >= 0)
        close(lfd);
    server_free(&srv);
    return rc;
}
