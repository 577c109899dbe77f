/*
 * The native engine's connection pool (http_native_pool.c), used by its
 * transfers (http_native.c): hosts keyed by name and port, each with a
 * free list of idle connections, and the connections themselves.
 */
#ifndef MP_HTTP_NATIVE_POOL_H
#define MP_HTTP_NATIVE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/list.h"
#include "dns/http_dns.h"

struct sockaddr;

#define MP__NATIVE_POOL_BUCKETS 1024 /* host table (power of two) */
#define MP__NATIVE_POOL_READ ((size_t)65536) /* bytes per recv */

struct mp__native_xfer;

/* A host: a name (as in the URL: a name, an IPv4 literal or a bracketed
   IPv6 literal), a port and a TLS scope (the TLS context of https, NULL
   for http), and its idle connections. Connections are pooled per name,
   never per address: two names on one address never share a connection
   (the Host header differs); nor do http and https, or two trust
   settings. */
typedef struct mp__nhost {
    char *name; /* NUL-terminated, owned */
    size_t name_len;
    uint16_t port;
    const void *scope; /* TLS context, or NULL */
    mp__dns_addrs last; /* where its latest new connection went */
    void *session;     /* the latest TLS session (http_tls.c fills it) */
    int alpn;          /* offered h2, the server chose: 0 not known yet,
                          1 HTTP/1.1, 2 h2 */
    mp__list h2free;   /* h2 connections with a free stream slot
                          (http_native_h2.c), by their link, newest first */
    struct mp__native_xfer *prober; /* its transfer whose handshake
                                       offering h2 runs now (alpn not 1),
                                       or NULL */
    mp__list waiters; /* transfers waiting for the prober's answer, by
                         their link, newest first */
    unsigned hash;
    mp__list idle;          /* idle connections by link, newest first */
    struct mp__nhost *next; /* bucket chain */
    /* connection limits (mp_http_set_limits) */
    unsigned n_conns; /* open: in use, idle or h2 */
    mp__list q;       /* transfers waiting for a connection, FIFO, by
                         their qlink */
    struct mp__nhost *kick_next; /* in the state's kicked list */
    int kicked;
} mp__nhost;

/* One connection. */
typedef struct mp__nconn {
    int fd;
    struct mp__tls *tls; /* https: the TLS connection; NULL for http */
    struct mp__h2 *h2;   /* an h2 connection (http_native_h2.c): many
                            transfers, never in the idle list */
    struct event *ev;    /* EV_READ|EV_PERSIST (+EV_WRITE while needed) */
    struct event *timer; /* the transfer's connect or total timeout */
    int want_write;
    mp__nhost *host;
    mp__list_node link;            /* in its host's idle or h2free list */
    struct mp__native_xfer *x;     /* the transfer on it, or NULL idle */
    char *wbuf;                    /* request bytes (kept across requests) */
    size_t wcap;
    mp__list_node spare_link;        /* in the pool's spare list */
    char *tbuf;                      /* a CONNECT tunnel's request, then
                                        the proxy's answer (NULL after) */
    size_t tlen, toff;
} mp__nconn;

/* The engine's state in one worker. on_conn and on_timer are the
   transfer side's callbacks (arg: the connection), set once. */
typedef struct mp__native_pool {
    struct event_base *base;
    event_callback_fn on_conn, on_timer;
    mp__nhost *hosts[MP__NATIVE_POOL_BUCKETS];
    char rbuf[MP__NATIVE_POOL_READ];
    /* Connection limits (mp_http_set_limits). A spare connection is one
       that can be closed to make room for another host's: idle HTTP/1.1,
       or h2 without a stream; the list is oldest last. A host with
       transfers waiting is kicked when it may have room (a connection of
       it closed, went idle, or an h2 stream slot freed), and the kick
       event (on_kick, with the state as its arg) runs once per loop turn
       for all of them. */
    unsigned n_conns;  /* open connections */
    mp__list spare;    /* spare connections by spare_link, newest first */
    mp__list gq;       /* first waiters of hosts with room of their own,
                          waiting for the total's room, FIFO, by their
                          glink */
    mp__nhost *kicked; /* hosts to look at */
    int any_kick;      /* the total may have room */
    struct event *kick;
} mp__native_pool;

/* Returns the worker's engine state, creating it on first use with the
   three callbacks; NULL outside a worker or when out of memory. */
mp__native_pool *mp__native_pool_get(event_callback_fn on_conn,
                                     event_callback_fn on_timer,
                                     event_callback_fn on_kick);

/* Marks h (NULL: none) to be looked at, and the total as having room if
   total, on the next kick, if any transfer waits. */
void mp__native_pool_kick(mp__native_pool *s, mp__nhost *h, int total);

/* Puts c in the spare list (spare 1: it is idle or has no stream) or
   takes it out (0). */
void mp__native_pool_spare(mp__native_pool *s, mp__nconn *c, int spare);

/* Returns the host for (name[0..len), port, scope), adding it; NULL if
   out of memory. */
mp__nhost *mp__native_pool_host(mp__native_pool *s, const char *name,
                                size_t len, uint16_t port, const void *scope);

/* Takes c out of its host's idle list. */
void mp__native_pool_idle_unlink(mp__nconn *c);

/* Puts c (no transfer) first in its host's idle list. */
void mp__native_pool_idle_push(mp__nconn *c);

/* Closes c (its TLS without a close_notify, as curl closes a pooled
   connection) and frees it (it is in no list but the spare list and has
   no transfer); its host and the total have room again. */
void mp__native_pool_conn_free(mp__nconn *c);

/* Watches c for writes too (want 1) or reads only. Returns 0 or -1. */
int mp__native_pool_want_write(mp__native_pool *s, mp__nconn *c, int want);

/* Opens a connection to h at the address sa (connect in progress or
   done). Returns it, or NULL with errno set. */
mp__nconn *mp__native_pool_conn_open(mp__native_pool *s, mp__nhost *h,
                                     const struct sockaddr *sa,
                                     unsigned salen);

#endif
