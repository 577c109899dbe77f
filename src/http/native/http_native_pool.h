/*
 * The native engine's connection pool (http_native_pool.c), used by its
 * transfers (http_native.c, http_native_h2.c): hosts keyed by name and
 * port, each with a free list of idle connections, opening and closing
 * connections, and the kicks that start transfers waiting for room.
 * The host and the connection are the contract of http_native_conn.h.
 */
#ifndef MP_HTTP_NATIVE_POOL_H
#define MP_HTTP_NATIVE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <event2/event.h>

#include "common/list.h"
#include "http/native/http_native_conn.h"

struct sockaddr;

#define MP__NATIVE_POOL_BUCKETS 1024 /* host table (power of two) */
#define MP__NATIVE_POOL_READ ((size_t)65536) /* bytes per recv */

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
    /* Idle connections (mp_http_set_idle): at most idle_max spare ones
       (one more kicks: on_kick closes the oldest), each closed idle_age
       after it went spare (its timer, on_timer with no transfer; a
       libevent common timeout, so arming and disarming are O(1)). Hosts
       without a connection or a user wait in empty, idle_max at most,
       the oldest freed. */
    unsigned n_spare, idle_max, n_empty;
    struct timeval idle_age;
    mp__list empty; /* empty hosts by empty_link, newest first */
    mp__list gq;       /* first waiters of hosts with room of their own,
                          waiting for the total's room, FIFO, by their
                          glink (http_native.c queues and takes them; the
                          pool asks whether any waits) */
    mp__list kicked;   /* hosts to look at (mp__native_pool_kicked), by
                          their kick_link */
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

/* Returns the next host marked by mp__native_pool_kick since it was last
   looked at, unmarked, or NULL once none is left (the mark of the total
   then goes too: the caller looks at the total's queue next). From the
   kick event's callback. */
mp__nhost *mp__native_pool_kicked(mp__native_pool *s);

/* Puts c in the spare list (spare 1: it is idle or has no stream; its
   timer then runs the idle age, and one spare too many kicks) or takes it
   out (0: its timer stops). */
void mp__native_pool_spare(mp__native_pool *s, mp__nconn *c, int spare);

/* Returns the host for (name[0..len), port, scope), adding it, held by
   one more user (mp__native_pool_host_put lets go); NULL if out of
   memory. */
mp__nhost *mp__native_pool_host(mp__native_pool *s, const char *name,
                                size_t len, uint16_t port, const void *scope);

/* A user of h lets go of it: with no connection and no user left it
   joins the empty hosts (the oldest of which may be freed: never h). */
void mp__native_pool_host_put(mp__native_pool *s, mp__nhost *h);

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
