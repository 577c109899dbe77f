/*
 * The native engine's connection pool: hosts keyed by (name, port), a
 * free list of idle connections per host (taking one is O(1) however many
 * there are), and opening and closing connections. Idle connections are
 * bounded (mp_http_set_idle: a count across hosts and an age), and so
 * are hosts: one with no connection and no transfer joins a list of
 * empty hosts, of which the oldest beyond the idle count is freed. Each
 * connection owns one persistent libevent event for its whole life
 * (registered with epoll once) and one timer; their callbacks are the
 * transfer side's
 * (http_native.c), which this file never calls otherwise.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "http/native/http_native_pool.h"
#include "http/shared/http_int.h"
#include "http/tls/http_tls.h"
#include "worker/worker.h"

static mp__native_pool *g_hn;

/* Sets s's idle bounds from mp_http_set_idle. Returns 0, or -1 if
   libevent has no common timeout for the age. */
static int idle_init(mp__native_pool *s)
{
    unsigned age_ms;
    struct timeval tv;
    const struct timeval *common;

    mp__http_idle_get(&s->idle_max, &age_ms);
    tv.tv_sec = age_ms / 1000;
    tv.tv_usec = (age_ms % 1000) * 1000;
    if (!(common = event_base_init_common_timeout(s->base, &tv)))
        return -1;
    s->idle_age = *common;
    return 0;
}

mp__native_pool *mp__native_pool_get(event_callback_fn on_conn,
                                     event_callback_fn on_timer,
                                     event_callback_fn on_kick)
{
    struct event_base *base = mp__worker_base();

    if (!base)
        return NULL;
    if (g_hn && g_hn->base != base)
        g_hn = NULL; /* a new worker image: the old state is not ours */
    if (!g_hn && (g_hn = calloc(1, sizeof *g_hn)) != NULL) {
        g_hn->base = base;
        g_hn->on_conn = on_conn;
        g_hn->on_timer = on_timer;
        mp__list_init(&g_hn->spare);
        mp__list_init(&g_hn->gq);
        mp__list_init(&g_hn->empty);
        mp__list_init(&g_hn->kicked);
        if (!(g_hn->kick = event_new(base, -1, 0, on_kick, g_hn)) ||
            idle_init(g_hn) != 0) {
            if (g_hn->kick)
                event_free(g_hn->kick);
            free(g_hn);
            g_hn = NULL;
        }
    }
    return g_hn;
}

void mp__native_pool_kick(mp__native_pool *s, mp__nhost *h, int total)
{
    if (h && !mp__list_empty(&h->q) && !mp__list_linked(&h->kick_link))
        mp__list_push_back(&s->kicked, &h->kick_link);
    s->any_kick |= total && !mp__list_empty(&s->gq);
    if (!mp__list_empty(&s->kicked) || s->any_kick)
        event_active(s->kick, EV_TIMEOUT, 0);
}

mp__nhost *mp__native_pool_kicked(mp__native_pool *s)
{
    mp__list_node *n = mp__list_pop_front(&s->kicked);

    if (!n) {
        s->any_kick = 0;
        return NULL;
    }
    return MP__LIST_ENTRY(n, mp__nhost, kick_link);
}

void mp__native_pool_spare(mp__native_pool *s, mp__nconn *c, int spare)
{
    if (spare == mp__list_linked(&c->spare_link))
        return;
    if (spare) {
        mp__list_push_front(&s->spare, &c->spare_link);
        evtimer_add(c->timer, &s->idle_age);
        if (++s->n_spare > s->idle_max) /* on_kick closes the oldest */
            event_active(s->kick, EV_TIMEOUT, 0);
    } else {
        mp__list_remove(&c->spare_link);
        evtimer_del(c->timer);
        s->n_spare--;
    }
}

/* Returns the FNV-1a hash of name[0..len) mixed with port. */
static unsigned host_hash(const char *name, size_t len, uint16_t port)
{
    unsigned h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return (h ^ port) * 2654435761u;
}

mp__nhost *mp__native_pool_host(mp__native_pool *s, const char *name,
                                size_t len, uint16_t port, const void *scope)
{
    unsigned hash = host_hash(name, len, port);
    unsigned b = hash & (MP__NATIVE_POOL_BUCKETS - 1);
    mp__nhost *h;

    for (h = s->hosts[b]; h; h = h->next)
        if (h->hash == hash && h->port == port && h->scope == scope &&
            h->name_len == len && memcmp(h->name, name, len) == 0) {
            if (mp__list_linked(&h->empty_link)) {
                mp__list_remove(&h->empty_link);
                s->n_empty--;
            }
            h->users++;
            return h;
        }
    if (!(h = calloc(1, sizeof *h)) || !(h->name = malloc(len + 1))) {
        free(h);
        return NULL;
    }
    memcpy(h->name, name, len);
    h->name[len] = '\0';
    h->name_len = len;
    h->port = port;
    h->scope = scope;
    h->hash = hash;
    h->users = 1;
    mp__list_init(&h->h2free);
    mp__list_init(&h->waiters);
    mp__list_init(&h->idle);
    mp__list_init(&h->q);
    h->next = s->hosts[b];
    s->hosts[b] = h;
    return h;
}

/* Frees h, an empty host: out of its bucket, the kicked list and the
   empty list, its TLS session released. */
static void host_free(mp__native_pool *s, mp__nhost *h)
{
    mp__nhost **p = &s->hosts[h->hash & (MP__NATIVE_POOL_BUCKETS - 1)];

    while (*p != h)
        p = &(*p)->next;
    *p = h->next;
    if (mp__list_linked(&h->kick_link))
        mp__list_remove(&h->kick_link);
    mp__list_remove(&h->empty_link);
    s->n_empty--;
    mp__tls_session_free(&h->session);
    free(h->name);
    free(h);
}

/* Makes h an empty host if it has no connection and no user, and frees
   the oldest empty hosts beyond the idle count (h is the newest). */
static void host_park(mp__native_pool *s, mp__nhost *h)
{
    mp__list_node *n;

    if (h->n_conns || h->users || mp__list_linked(&h->empty_link))
        return;
    mp__list_push_front(&s->empty, &h->empty_link);
    s->n_empty++;
    while (s->n_empty > s->idle_max && s->n_empty > 1 &&
           (n = mp__list_last(&s->empty)) != NULL)
        host_free(s, MP__LIST_ENTRY(n, mp__nhost, empty_link));
}

void mp__native_pool_host_put(mp__native_pool *s, mp__nhost *h)
{
    h->users--;
    host_park(s, h);
}

void mp__native_pool_idle_unlink(mp__nconn *c)
{
    if (mp__list_linked(&c->link))
        mp__list_remove(&c->link);
    mp__native_pool_spare(g_hn, c, 0);
}

void mp__native_pool_idle_push(mp__nconn *c)
{
    mp__list_push_front(&c->host->idle, &c->link);
    mp__native_pool_spare(g_hn, c, 1);
    /* its waiters, or another's room */
    mp__native_pool_kick(g_hn, c->host, 1);
}

void mp__native_pool_conn_free(mp__nconn *c)
{
    if (c->host) {
        mp__native_pool_spare(g_hn, c, 0);
        g_hn->n_conns--;
        c->host->n_conns--;
        mp__native_pool_kick(g_hn, c->host, 1);
        host_park(g_hn, c->host);
    }
    if (c->ev)
        event_free(c->ev);
    if (c->timer)
        event_free(c->timer);
    mp__tls_free(c->tls);
    if (c->fd >= 0)
        close(c->fd);
    free(c->wbuf);
    free(c->tbuf);
    free(c);
}

int mp__native_pool_want_write(mp__native_pool *s, mp__nconn *c, int want)
{
    if (c->want_write == want)
        return 0;
    event_del(c->ev);
    event_assign(c->ev, s->base, c->fd,
                 EV_READ | EV_PERSIST | (want ? EV_WRITE : 0), s->on_conn,
                 c);
    c->want_write = want;
    return event_add(c->ev, NULL);
}

mp__nconn *mp__native_pool_conn_open(mp__native_pool *s, mp__nhost *h,
                                     const struct sockaddr *sa, unsigned salen)
{
    mp__nconn *c = calloc(1, sizeof *c);
    int one = 1;

    if (!c)
        return NULL;
    c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
    if (c->fd < 0)
        goto fail;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, sa, (socklen_t)salen) != 0 && errno != EINPROGRESS)
        goto fail;
    c->host = h; /* counted from here on (mp__native_pool_conn_free) */
    h->n_conns++;
    s->n_conns++;
    c->ev = event_new(s->base, c->fd, EV_READ | EV_WRITE | EV_PERSIST,
                      s->on_conn, c);
    c->timer = evtimer_new(s->base, s->on_timer, c);
    if (!c->ev || !c->timer || event_add(c->ev, NULL) != 0) {
        errno = ENOMEM;
        goto fail;
    }
    c->want_write = 1;
    return c;
fail:;
    int e = errno;
    mp__native_pool_conn_free(c);
    errno = e;
    return NULL;
}
