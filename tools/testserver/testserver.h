/*
 * mp-testserver's server API: the core (server.c: sockets, connection
 * tracking, replies, /stats, routing) as the routes (routes.c, coded.c)
 * and the proxy (proxy.c) use it, and what main.c hands it to serve. Calls
 * run one way: main.c -> routes, proxy -> this API; the core names none of
 * them. A route is a ts_handler_fn in a ts_route table; a route that
 * answers later keeps a ts_pending record on its connection, which the
 * core frees when the connection goes away.
 *
 * This is a tool, not part of the library: its prefix is ts_.
 */
#ifndef TS_TESTSERVER_H
#define TS_TESTSERVER_H

#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#define TS_PATTERN_LEN (26 * 2520) /* a multiple of the period, 26 */

struct ts_server;
struct ts_conn;
struct ts_service;

/* A request answered later; owned by its connection's list. */
struct ts_pending {
    struct ts_pending *next;
    struct ts_conn *conn;
    struct evhttp_request *req;
    struct event *timer;    /* /delay */
    struct event *watch;    /* notices a client that leaves */
    struct evbuffer *buf;   /* /chunked, /drop: the next chunk */
    size_t off, left, step; /* /chunked progress */
};

struct ts_conn {
    struct ts_server *srv;
    struct evhttp_connection *evcon;
    int fd;
    int counted;  /* included in connections/open (see server.c) */
    long nreq;    /* requests other than /stats */
    struct ts_pending *pending;
};

struct ts_server {
    struct event_base *base;
    struct evhttp *http;
    struct event *sig_term, *sig_int, *stdin_ev, *adopt_ev;
    struct bufferevent **fresh; /* accepted, not adopted yet */
    size_t nfresh, capfresh;
    struct ts_conn **conns;     /* by fd */
    size_t capconns;
    long connections, requests, open;
    long max_open; /* open's peak at a request since the last /stats */
    const struct ts_service *svc; /* what it serves (ts_serve's) */
};

/* ---- the core, for the routes (server.c) ----------------------------- */

/* Parses a decimal number made of digits only. The function returns 0 and
 * stores it in *out, or -1 if s is empty, has other characters or exceeds
 * max. */
int ts_parse_num(const char *s, unsigned long max, unsigned long *out);

/* Fills ss with the loopback address host (127.x.y.z or ::1) and port.
 * The function returns its length, or 0 if host is not one. */
socklen_t ts_loopback_addr(const char *host, int port,
                           struct sockaddr_storage *ss);

/* Appends n bytes of the pattern 'a'+i%26 starting at index off; big
 * bodies are references to a static block, not copies. */
void ts_add_pattern(struct evbuffer *out, size_t off, size_t n);

/* Sends the request's output buffer with status code and, if type is set,
 * that Content-Type. A HEAD reply keeps the Content-Length the body would
 * have had but not the body; 1xx, 204 and 304 replies carry neither. */
void ts_reply(struct evhttp_request *req, int code, const char *type);

/* Sends a text/plain reply with body text. */
void ts_reply_text(struct evhttp_request *req, int code, const char *text);

/* Creates a pending record for req on connection c; with watch, the
 * socket is watched for the client leaving. The function returns the
 * record, or NULL (after answering 500) on failure. */
struct ts_pending *ts_pending_new(struct ts_conn *c,
                                  struct evhttp_request *req, int watch);

/* Frees p after unlinking it from its connection; the request stays. */
void ts_pending_free(struct ts_pending *p);

/* ---- what the core serves ------------------------------------------ */

#define TS_EXIT_SYSTEM 1 /* exit status: a system call or library failed */

/* Answers req (now or later); arg is the path after a prefix route's
 * prefix, or the whole path. */
typedef void ts_handler_fn(struct ts_server *srv, struct ts_conn *c,
                           struct evhttp_request *req, const char *arg);

struct ts_route {
    const char *path;
    int prefix; /* path is a prefix; the handler gets the rest */
    ts_handler_fn *fn;
};

/* What ts_serve serves on its listening socket: the routes through
 * evhttp (start NULL), or a listener of the caller's own (the proxy):
 * start(arg, base, lfd) takes the socket *lfd (*lfd = -1 then) and returns
 * 0, or -1 after saying what failed; stop(arg) frees what start built, and
 * runs whenever start is set, even when start failed. /stats is the
 * core's. */
struct ts_service {
    const struct ts_route *routes;
    size_t nroutes;
    int (*start)(void *arg, struct event_base *base, int *lfd);
    void (*stop)(void *arg);
    void *arg;
};

/* Binds and listens on the loopback address host:port. The function
 * returns the socket and stores the bound port in *bound, or returns -1
 * after saying what failed. */
int ts_listen(const char *host, int port, int *bound);

/* Serves svc on lfd until SIGTERM, SIGINT or, with watch_stdin, EOF on
 * stdin. The stops signals arrive blocked and are unblocked once their
 * handlers exist, so one sent during start-up still means a clean exit.
 * The function returns the exit status: 0, or TS_EXIT_SYSTEM after saying
 * what failed. */
int ts_serve(int lfd, int watch_stdin, const sigset_t *stops,
             const struct ts_service *svc);

#endif /* TS_TESTSERVER_H */
