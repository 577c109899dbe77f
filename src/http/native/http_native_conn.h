/*
 * A host and a connection of the native engine: the contract its
 * connection pool (http_native_pool.c) and its two transfer sides share,
 * HTTP/1.1 (http_native.c, with http_native_req.c writing the request)
 * and HTTP/2 (http_native_h2.c). No .c owns this header: each group of
 * fields says which side writes it, and the others only read it. The
 * transfer on a connection is struct mp__native_xfer
 * (http_native_xfer.h).
 */
#ifndef MP_HTTP_NATIVE_CONN_H
#define MP_HTTP_NATIVE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/list.h"
#include "dns/http_dns.h"

struct mp__native_xfer;
struct mp__tls;
struct mp__h2;

/* A host: a name (as in the URL: a name, an IPv4 literal or a bracketed
   IPv6 literal), a port and a TLS scope (the TLS context of https, NULL
   for http), and its idle connections. Connections are pooled per name,
   never per address: two names on one address never share a connection
   (the Host header differs); nor do http and https, or two trust
   settings. */
typedef struct mp__nhost {
    /* the pool's: set when the host is added (mp__native_pool_host) */
    char *name; /* NUL-terminated, owned */
    size_t name_len;
    uint16_t port;
    const void *scope; /* TLS context, or NULL */
    unsigned hash;
    struct mp__nhost *next; /* bucket chain */
    /* the pool's: its connections, users and kicks */
    mp__list idle;      /* idle connections by link, newest first */
    unsigned n_conns;   /* open: in use, idle or h2 */
    unsigned users;     /* transfers that hold it (mp__native_pool_host
                           to mp__native_pool_host_put) */
    mp__list_node empty_link; /* in the pool's empty hosts: no connection,
                                 no user */
    mp__list_node kick_link;  /* in the pool's kicked list */
    /* http_tls.c's, through the pointer the HTTP/1.1 side gives it */
    void *session; /* the latest TLS session */
    /* the HTTP/1.1 side's: how the host answers, who waits for it */
    mp__dns_addrs last; /* where its latest new connection went */
    int alpn;           /* offered h2, the server chose: 0 not known yet,
                           1 HTTP/1.1, 2 h2 */
    struct mp__native_xfer *prober; /* its transfer whose handshake
                                       offering h2 runs now (alpn not 1),
                                       or NULL */
    mp__list waiters; /* transfers waiting for the prober's answer, by
                         their link, newest first */
    mp__list q;       /* transfers waiting for a connection the limits
                         allow (mp_http_set_limits), FIFO, by their qlink */
    /* the HTTP/2 side's */
    mp__list h2free; /* h2 connections with a free stream slot, by their
                        link, newest first */
} mp__nhost;

/* One connection. */
typedef struct mp__nconn {
    /* the pool's: opened, watched, listed and freed there */
    int fd;
    mp__nhost *host;
    struct event *ev;    /* EV_READ|EV_PERSIST (+EV_WRITE while needed) */
    struct event *timer; /* the transfer's connect or total timeout;
                            idle (spare), the idle age (the pool's) */
    int want_write;
    mp__list_node link;       /* in its host's idle list, or (HTTP/2
                                 side) its h2free */
    mp__list_node spare_link; /* in the pool's spare list */
    /* the HTTP/1.1 side's (the pool frees what they hold) */
    struct mp__tls *tls;       /* https: the TLS connection; NULL for http */
    struct mp__native_xfer *x; /* the transfer on it, or NULL idle */
    char *tbuf;                /* a CONNECT tunnel's request, then the
                                  proxy's answer (NULL after) */
    size_t tlen, toff;
    char *wbuf; /* request bytes, kept across requests (written by
                   http_native_req.c) */
    size_t wcap;
    /* the HTTP/2 side's */
    struct mp__h2 *h2; /* an h2 connection: many transfers, never in the
                          idle list */
} mp__nconn;

#endif
