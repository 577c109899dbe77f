/*
 * mp-testserver internals: the server core (server.c: sockets, processes,
 * connection tracking, replies, /stats) and the routes (routes.c: every
 * other endpoint). A route is a handler_fn in ts_routes[]; a route that
 * answers later keeps a ts_pending record on its connection, which the
 * core frees when the connection goes away.
 *
 * This is a tool, not part of the library: its prefix is ts_.
 */
#ifndef TS_TESTSERVER_H
#define TS_TESTSERVER_H

#include <stddef.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#define TS_PATTERN_LEN (26 * 2520) /* a multiple of the period, 26 */

struct ts_server;
struct ts_conn;

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

/* mp-testserver --proxy (proxy.c): a forward proxy instead of the routes. */
struct px_conn;
struct ts_proxy {
    struct evconnlistener *listener;
    char *auth_b64;         /* --proxy-auth, base64; NULL: none asked */
    struct px_conn *conns;  /* open connections */
};

/* Serves the forward proxy on the listening socket *lfd (which becomes
 * the listener's: *lfd = -1); auth is "USER:PASS" or NULL. The function
 * returns 0, or -1 after saying what failed. */
int ts_proxy_init(struct ts_proxy *px, struct event_base *base, int *lfd,
                  const char *auth);

/* Closes the listener and every connection still open. */
void ts_proxy_free(struct ts_proxy *px);

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
    const char *proxy_auth; /* with proxy_mode: --proxy-auth or NULL */
    int proxy_mode;         /* --proxy: px instead of http */
    struct ts_proxy px;
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

/* ---- the routes (routes.c) ------------------------------------------- */

/* Answers req (now or later); arg is the path after a prefix route's
 * prefix, or the whole path. */
typedef void ts_handler_fn(struct ts_server *srv, struct ts_conn *c,
                           struct evhttp_request *req, const char *arg);

struct ts_route {
    const char *path;
    int prefix; /* path is a prefix; the handler gets the rest */
    ts_handler_fn *fn;
};

extern const struct ts_route ts_routes[];
extern const size_t ts_nroutes;

/* One line per route for --help. */
extern const char ts_routes_help[];

/* Builds what the routes serve (the /gzip body). The function returns 0,
 * or -1 after saying what failed. */
int ts_routes_init(void);

/* Frees what ts_routes_init and the routes built. */
void ts_routes_free(void);

/* ---- coded bodies (coded.c) ------------------------------------------ */

/* /encode/LIST: a text body with LIST's codings applied in order. */
ts_handler_fn ts_encode_route;

/* /gzip-bomb-gib/GIB: gzip decoding to GIB GiB of zeros (<= 16). */
ts_handler_fn ts_gzip_bomb_gib;

/* Frees the bomb's segment. */
void ts_coded_free(void);

#endif /* TS_TESTSERVER_H */
