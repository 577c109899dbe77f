/*
 * Host names for both HTTP engines, on the worker's event loop (see
 * http_dns.h). The order of a lookup is curl's: an address literal, a
 * --resolve entry (mp_http_set_resolve), localhost, the cache, a query.
 *
 * Queries go through libevent's evdns (evdns_getaddrinfo: /etc/hosts
 * first, then A and AAAA from the servers of /etc/resolv.conf or of
 * mp_http_set_dns_servers): no thread per lookup. Each worker caches
 * answers for MP__DNS_TTL_S seconds (curl's DNS cache keeps them 60 s),
 * MP__DNS_CACHE_MAX names at most; failures are not cached (curl does not
 * either). While a name's query is in flight, every task that asks for it
 * waits for that one query (a waiter on the task's stack).
 *
 * evdns calls back from inside its own code: the answer is stored and the
 * waiters are woken from a separate event (never from evdns' callback, so
 * a woken task may start another lookup at once).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/clock.h"
#include "common/list.h"
#include "dns/http_dns.h"
#include "mpool.h"
#include "worker/worker.h"

#define DNS_BUCKETS 1024     /* cache table (power of two) */
#define DNS_TIMEOUT_S "2"    /* per attempt; evdns' default is 5 */
#define DNS_ATTEMPTS "2"     /* as glibc's default */

/* A --resolve entry. */
typedef struct dns_entry {
    char *name; /* lower case */
    uint16_t port;
    mp__dns_addrs addrs;
} dns_entry;

static dns_entry *g_res;    /* mp_http_set_resolve */
static char **g_res_lines;  /* the same, as given */
static size_t g_n_res;
static unsigned g_res_gen;
static char *g_servers;     /* mp_http_set_dns_servers, or NULL */

struct dns_name;

/* A task waiting for a name's query, on its coroutine stack. */
typedef struct dns_waiter {
    mp_task *t;
    struct dns_name *e; /* the name it waits for; NULL once off its list */
    mp__list_node link; /* in e->waiters */
    int err; /* 0, MP_EDNS or MP_ETIMEDOUT, set when woken */
    mp__dns_addrs *out;
    struct event *timer; /* the caller's bound, or NULL */
} dns_waiter;

/* A name in the cache: answered, or its query in flight. */
typedef struct dns_name {
    char *name;
    unsigned hash;
    struct dns_name *next; /* bucket chain */
    int pending;           /* a query is in flight */
    int waking;            /* its waiters are being woken: keep it */
    int result;            /* evdns' EVUTIL_EAI_* code (0: an answer) */
    uint64_t expires_ns;
    mp__dns_addrs addrs;
    mp__list waiters;   /* of dns_waiter, newest first */
    struct event *done; /* made active when the answer is in */
} dns_name;

typedef struct dns_state {
    struct event_base *base;
    struct evdns_base *dns;
    dns_name *tab[DNS_BUCKETS];
    size_t count;
} dns_state;

static dns_state *g_dns;

unsigned mp__sa_len(const mp__sa *a)
{
    return a->sa.sa_family == AF_INET6 ? sizeof a->in6 : sizeof a->in;
}

/* ---- configuration: --resolve and --dns-server ------------------------ */

/* Parses the address p[0..n) (IPv4, IPv6, or IPv6 in brackets) into *a,
   port 0. Returns 0 or -1. */
static int parse_addr(const char *p, size_t n, mp__sa *a)
{
    char buf[INET6_ADDRSTRLEN + 2];

    if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
        p++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, buf, &a->in.sin_addr) == 1) {
        a->in.sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

/* Parses "HOST:PORT:ADDR[,ADDR...]" (curl's --resolve) into *e, the name
   in lower case. Returns 0 or -1 (e->name is then NULL). */
static int parse_entry(const char *s, dns_entry *e)
{
    const char *c1 = strchr(s, ':'), *c2, *p;
    char *end;
    long port;

    memset(e, 0, sizeof *e);
    if (!c1 || c1 == s || !(c2 = strchr(c1 + 1, ':')) || c2 == c1 + 1)
        return -1;
    for (p = s; p < c1; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
            *p != '_')
            return -1;
    errno = 0;
    port = strtol(c1 + 1, &end, 10);
    if (end != c2 || port < 1 || port > 65535 || !isdigit((unsigned char)c1[1]))
        return -1;
    for (p = c2 + 1;;) {
        size_t n = strcspn(p, ",");
        if (e->addrs.n == MP__DNS_MAX ||
            parse_addr(p, n, &e->addrs.a[e->addrs.n]) != 0)
            return -1;
        e->addrs.n++;
        if (!p[n])
            break;
        p += n + 1;
    }
    if (!(e->name = strndup(s, (size_t)(c1 - s))))
        return -1;
    for (char *q = e->name; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    e->port = (uint16_t)port;
    return 0;
}

int mp_http_resolve_check(const char *entry)
{
    dns_entry e;

    if (!entry || parse_entry(entry, &e) != 0)
        return MP_EINVAL;
    free(e.name);
    return 0;
}

/* Frees the --resolve entries. */
static void resolve_clear(void)
{
    for (size_t i = 0; i < g_n_res; i++) {
        free(g_res[i].name);
        free(g_res_lines[i]);
    }
    free(g_res);
    free(g_res_lines);
    g_res = NULL;
    g_res_lines = NULL;
    g_n_res = 0;
}

int mp_http_set_resolve(const char *const *entries, size_t n)
{
    dns_entry *res = NULL;
    char **lines = NULL;
    size_t k = 0;
    int rc = MP_ENOMEM;

    if (n && !entries)
        return MP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (mp_http_resolve_check(entries[i]) != 0)
            return MP_EINVAL;
    if (n && (!(res = calloc(n, sizeof *res)) ||
              !(lines = calloc(n, sizeof *lines))))
        goto fail;
    for (k = 0; k < n; k++)
        if (parse_entry(entries[k], &res[k]) != 0 ||
            !(lines[k] = strdup(entries[k])))
            goto fail;
    resolve_clear();
    g_res = res;
    g_res_lines = lines;
    g_n_res = n;
    g_res_gen++;
    return 0;
fail:
    for (size_t i = 0; i <= k && i < n; i++) {
        free(res[i].name);
        free(lines ? lines[i] : NULL);
    }
    free(res);
    free(lines);
    return rc;
}

int mp__dns_resolve_has(const char *name, uint16_t port)
{
    for (size_t i = 0; i < g_n_res; i++)
        if (g_res[i].port == port && strcasecmp(g_res[i].name, name) == 0)
            return 1;
    return 0;
}

size_t mp__dns_resolve_lines(const char *const **lines, unsigned *gen)
{
    *lines = (const char *const *)g_res_lines;
    *gen = g_res_gen;
    return g_n_res;
}

int mp_http_dns_servers_check(const char *list)
{
    char one[INET6_ADDRSTRLEN + 16];

    if (!list || !*list)
        return MP_EINVAL;
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (n == 0 || n >= sizeof one)
            return MP_EINVAL;
        memcpy(one, p, n);
        one[n] = '\0';
        if (evutil_parse_sockaddr_port(one, (struct sockaddr *)&ss, &len) != 0)
            return MP_EINVAL;
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

int mp_http_set_dns_servers(const char *list)
{
    char *copy = NULL;

    if (list && *list && mp_http_dns_servers_check(list) != 0)
        return MP_EINVAL;
    if (g_dns && g_dns->base == mp__worker_base())
        return MP_EINVAL; /* this worker already resolved with others */
    if (list && *list && !(copy = strdup(list)))
        return MP_ENOMEM;
    free(g_servers);
    g_servers = copy;
    return 0;
}

/* ---- the resolver ----------------------------------------------------- */

/* Adds each server of g_servers to dns. Returns 0 or -1. */
static int add_servers(struct evdns_base *dns)
{
    char one[INET6_ADDRSTRLEN + 16];

    for (const char *p = g_servers;;) {
        size_t n = strcspn(p, ",");
        memcpy(one, p, n); /* checked by mp_http_dns_servers_check */
        one[n] = '\0';
        if (evdns_base_nameserver_ip_add(dns, one) != 0)
            return -1;
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

/* evdns' log: dropped (a failed server ends as MP_EDNS with a message). */
static void dns_quiet(int is_warning, const char *msg)
{
    (void)is_warning;
    (void)msg;
}

/* Returns the worker's resolver, creating it on first use (resolv.conf
   and /etc/hosts as the system reads them, or the servers set); NULL
   outside a worker or on failure. */
static dns_state *dns_get(void)
{
    struct event_base *base = mp__worker_base();
    dns_state *s;

    if (!base)
        return NULL;
    if (g_dns && g_dns->base == base)
        return g_dns;
    g_dns = NULL; /* a new worker image: the old state is not ours */
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    evdns_set_log_fn(dns_quiet); /* its notes are not the caller's */
    s->base = base;
    s->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE |
                                      (g_servers ? 0
                                       : EVDNS_BASE_INITIALIZE_NAMESERVERS));
    if (!s->dns)
        goto fail;
    if (g_servers && (evdns_base_load_hosts(s->dns, NULL) != 0 ||
                      add_servers(s->dns) != 0))
        goto fail;
    evdns_base_set_option(s->dns, "timeout:", DNS_TIMEOUT_S);
    evdns_base_set_option(s->dns, "attempts:", DNS_ATTEMPTS);
    return g_dns = s;
fail:
    if (s->dns)
        evdns_base_free(s->dns, 0);
    free(s);
    return NULL;
}

/* Returns the FNV-1a hash of name. */
static unsigned name_hash(const char *name)
{
    unsigned h = 2166136261u;

    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return h;
}

/* Takes e out of the table (it stays allocated). */
static void name_unlink(dns_state *s, dns_name *e)
{
    dns_name **pp = &s->tab[e->hash & (DNS_BUCKETS - 1)];

    for (; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            s->count--;
            return;
        }
}

static void name_free(dns_name *e)
{
    if (e->done)
        event_free(e->done);
    free(e->name);
    free(e);
}

/* Makes room for one more name: drops expired answers, then, if the table
   is still full, every answer (pending names and names being handed out
   stay). */
static void cache_trim(dns_state *s)
{
    uint64_t now = mp__now_ns();

    if (s->count < MP__DNS_CACHE_MAX)
        return;
    for (int pass = 0; pass < 2 && s->count >= MP__DNS_CACHE_MAX; pass++)
        for (unsigned b = 0; b < DNS_BUCKETS; b++)
            for (dns_name **pp = &s->tab[b]; *pp;) {
                dns_name *e = *pp;
                if (!e->pending && !e->waking && mp__list_empty(&e->waiters) &&
                    (pass || e->expires_ns <= now)) {
                    *pp = e->next;
                    s->count--;
                    name_free(e);
                } else {
                    pp = &e->next;
                }
            }
}

/* Copies an evdns answer into *a: IPv4 addresses first, then IPv6, in the
   order given, MP__DNS_MAX at most. */
static void take_answer(const struct evutil_addrinfo *res, mp__dns_addrs *a)
{
    a->n = 0;
    for (int fam = 0; fam < 2; fam++)
        for (const struct evutil_addrinfo *r = res; r; r = r->ai_next) {
            int want = fam ? AF_INET6 : AF_INET;
            if (r->ai_family != want || a->n == MP__DNS_MAX ||
                r->ai_addrlen > sizeof a->a[0])
                continue;
            memset(&a->a[a->n], 0, sizeof a->a[0]);
            memcpy(&a->a[a->n], r->ai_addr, r->ai_addrlen);
            a->a[a->n].in.sin_port = 0; /* same offset in both */
            a->n++;
        }
}

/* evdns: the answer for e (or a failure). Stores it and wakes e's waiters
   from the loop (on_done), never from here. */
static void on_answer(int result, struct evutil_addrinfo *res, void *arg)
{
    dns_name *e = arg;

    e->result = result;
    if (!result)
        take_answer(res, &e->addrs);
    if (!result && !e->addrs.n)
        e->result = EVUTIL_EAI_NONAME;
    if (res)
        evutil_freeaddrinfo(res);
    event_active(e->done, EV_TIMEOUT, 1);
}

/* libevent: e's answer is in. Caches it (a failure is dropped) and wakes
   every waiter, one at a time (a woken task runs at once and may look
   names up, or cancel other waiters). */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
    dns_name *e = arg;
    dns_state *s = g_dns;
    dns_waiter *w;

    (void)fd;
    (void)what;
    e->pending = 0;
    e->waking = 1;
    if (e->result)
        name_unlink(s, e);
    else
        e->expires_ns = mp__now_ns() + (uint64_t)MP__DNS_TTL_S * 1000000000u;
    for (mp__list_node *n; (n = mp__list_pop_front(&e->waiters)) != NULL;) {
        w = MP__LIST_ENTRY(n, dns_waiter, link);
        w->e = NULL;
        w->err = e->result ? MP_EDNS : 0;
        if (!e->result)
            *w->out = e->addrs;
        mp__task_wake(w->t, 0);
    }
    e->waking = 0;
    if (e->result)
        name_free(e);
}

/* mp__cancel_fn: a waiting task's deadline passed, or it was canceled. */
static void waiter_cancel(mp_task *t, void *arg)
{
    dns_waiter *w = arg;

    (void)t;
    if (!w->e)
        return;
    mp__list_remove(&w->link);
    w->e = NULL;
}

/* libevent: a waiter's own bound (its connect timeout) passed first. */
static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
    dns_waiter *w = arg;

    (void)fd;
    (void)what;
    waiter_cancel(w->t, w);
    w->err = MP_ETIMEDOUT;
    mp__task_wake(w->t, 0);
}

/* Returns the entry for name, starting its query if it has no fresh
   answer; NULL if out of memory. */
static dns_name *name_get(dns_state *s, const char *name)
{
    unsigned hash = name_hash(name);
    dns_name *e;
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
                                    .ai_socktype = SOCK_STREAM,
                                    .ai_protocol = IPPROTO_TCP};

    for (e = s->tab[hash & (DNS_BUCKETS - 1)]; e; e = e->next)
        if (e->hash == hash && strcmp(e->name, name) == 0)
            break;
    if (e && (e->pending || e->expires_ns > mp__now_ns()))
        return e;
    if (!e) {
        cache_trim(s);
        if (!(e = calloc(1, sizeof *e)) || !(e->name = strdup(name)) ||
            !(e->done = event_new(s->base, -1, 0, on_done, e))) {
            if (e)
                name_free(e);
            return NULL;
        }
        e->hash = hash;
        mp__list_init(&e->waiters);
        e->next = s->tab[hash & (DNS_BUCKETS - 1)];
        s->tab[hash & (DNS_BUCKETS - 1)] = e;
        s->count++;
    }
    e->pending = 1;
    e->result = 0;
    /* may answer at once (hosts file): on_answer then activates e->done */
    evdns_getaddrinfo(s->dns, name, NULL, &hints, on_answer, e);
    return e;
}

/* Fills out with localhost's addresses if name is localhost or ends in
   ".localhost" (curl answers those itself). Returns 1 if it did. */
static int localhost(const char *name, mp__dns_addrs *out)
{
    size_t n = strlen(name);

    if (strcasecmp(name, "localhost") != 0 &&
        (n < 10 || strcasecmp(name + n - 10, ".localhost") != 0))
        return 0;
    memset(out, 0, sizeof *out);
    out->a[0].in.sin_family = AF_INET;
    out->a[0].in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    out->a[1].in6.sin6_family = AF_INET6;
    out->a[1].in6.sin6_addr = in6addr_loopback;
    out->n = 2;
    return 1;
}

/* Sets port (host order) in every address of a. */
static void set_port(mp__dns_addrs *a, uint16_t port)
{
    for (int i = 0; i < a->n; i++)
        a->a[i].in.sin_port = htons(port); /* same offset in both */
}

int mp__dns_lookup(mp_task *t, const char *name, uint16_t port,
                   unsigned timeout_ms, mp__dns_addrs *out, char *why,
                   size_t why_len)
{
    dns_state *s;
    dns_name *e;
    dns_waiter w = {.t = t, .out = out};
    int rc;

    out->n = 0;
    if (parse_addr(name, strlen(name), &out->a[0]) == 0) {
        out->n = 1;
        goto found;
    }
    for (size_t i = 0; i < g_n_res; i++)
        if (g_res[i].port == port && strcasecmp(g_res[i].name, name) == 0) {
            *out = g_res[i].addrs;
            goto found;
        }
    if (localhost(name, out))
        goto found;
    if (!(s = dns_get()) || !(e = name_get(s, name))) {
        snprintf(why, why_len, "out of memory");
        return MP_ENOMEM;
    }
    if (!e->pending) {
        *out = e->addrs;
        goto found;
    }
    w.e = e;
    mp__list_push_front(&e->waiters, &w.link);
    if (timeout_ms) {
        struct timeval tv = mp__ms_tv(timeout_ms);
        if (!(w.timer = evtimer_new(s->base, on_wait_timeout, &w)) ||
            evtimer_add(w.timer, &tv) != 0) {
            waiter_cancel(t, &w);
            if (w.timer)
                event_free(w.timer);
            snprintf(why, why_len, "out of memory");
            return MP_ENOMEM;
        }
    }
    rc = mp__task_suspend(t, waiter_cancel, &w);
    if (w.timer)
        event_free(w.timer);
    if (rc) {
        waiter_cancel(t, &w); /* returned at once: still in the list */
        snprintf(why, why_len, "%s while resolving %s", mp_strerror(rc),
                 name);
        return rc;
    }
    if (w.err == MP_ETIMEDOUT) { /* curl's words */
        snprintf(why, why_len, "Resolving timed out after %u milliseconds",
                 timeout_ms);
        return w.err;
    }
    if (w.err) {
        snprintf(why, why_len, "Could not resolve host: %s", name);
        return w.err;
    }
found:
    set_port(out, port);
    return 0;
}

/* Finds the host and port of url ("scheme://[user@]host[:port]..."):
   copies the host (no brackets) into host and returns its port, or 0 if
   the URL is not one this understands. */
static unsigned url_host(const char *url, char *host, size_t cap)
{
    const char *p = strstr(url, "://"), *h, *end;
    unsigned port;

    if (!p)
        return 0;
    port = (p - url == 5 && strncasecmp(url, "https", 5) == 0)  ? 443
           : (p - url == 4 && strncasecmp(url, "http", 4) == 0) ? 80
                                                                : 0;
    h = p + 3;
    end = h + strcspn(h, "/?#");
    for (const char *q = h; q < end; q++)
        if (*q == '@')
            h = q + 1;
    if (*h == '[') {
        if (!(p = memchr(h, ']', (size_t)(end - h))))
            return 0;
        h++;
    } else {
        p = h + strcspn(h, ":/?#");
    }
    if (!port || p == h || (size_t)(p - h) >= cap)
        return 0;
    memcpy(host, h, (size_t)(p - h));
    host[p - h] = '\0';
    if (*p == ']')
        p++;
    if (*p == ':' && p[1] >= '0' && p[1] <= '9') {
        char *e;
        unsigned long v = strtoul(p + 1, &e, 10);
        if (v == 0 || v > 65535 || e > end)
            return 0;
        port = (unsigned)v;
    }
    return port;
}

int mp__dns_for_curl(mp_task *t, const char *url, unsigned timeout_ms,
                     char *line, size_t cap, char *why, size_t why_len)
{
    char host[256], addr[INET6_ADDRSTRLEN];
    mp__dns_addrs a;
    mp__sa lit;
    unsigned port;
    size_t n;
    int rc;

    if (!g_servers || !(port = url_host(url, host, sizeof host)) ||
        parse_addr(host, strlen(host), &lit) == 0 ||
        mp__dns_resolve_has(host, (uint16_t)port))
        return 0;
    if ((rc = mp__dns_lookup(t, host, (uint16_t)port, timeout_ms, &a, why,
                             why_len)))
        return rc;
    n = (size_t)snprintf(line, cap, "%s:%u:", host, port);
    for (int i = 0; i < a.n && n < cap; i++) {
        const void *src = a.a[i].sa.sa_family == AF_INET6
                              ? (const void *)&a.a[i].in6.sin6_addr
                              : (const void *)&a.a[i].in.sin_addr;
        inet_ntop(a.a[i].sa.sa_family, src, addr, sizeof addr);
        n += (size_t)snprintf(line + n, cap - n,
                              a.a[i].sa.sa_family == AF_INET6 ? "%s[%s]"
                                                               : "%s%s",
                              i ? "," : "", addr);
    }
    return n < cap ? 1 : 0;
}
