/*
 * Host names for the HTTP engines, without a thread per lookup
 * (http_dns.c): --resolve entries, then a per-worker cache, then libevent's
 * evdns on the worker's loop (/etc/hosts, then the servers of
 * /etc/resolv.conf or mp_http_set_dns_servers). Concurrent lookups of one
 * name share one query.
 */
#ifndef MP_HTTP_DNS_H
#define MP_HTTP_DNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mpool.h"

#define MP__DNS_MAX 8          /* addresses kept per name */
#define MP__DNS_TTL_S 60       /* cache lifetime (curl's DNS cache: 60 s) */
#define MP__DNS_CACHE_MAX 4096 /* names cached per worker */

/* One address (its port is 0 in the cache; the caller sets it). */
typedef union mp__sa {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} mp__sa;

/* A name's addresses, in the order to try them. */
typedef struct mp__dns_addrs {
    int n;
    mp__sa a[MP__DNS_MAX];
} mp__dns_addrs;

/* Returns the length of the sockaddr in a. */
unsigned mp__sa_len(const mp__sa *a);

/*
 * Resolves name (NUL-terminated, no brackets) for port inside task t,
 * waiting timeout_ms at most for a query (0: evdns' own bound, 2 tries of
 * 2 s per server; curl's connect timeout covers resolving too):
 * an address literal as is, a --resolve entry for name:port, localhost
 * and *.localhost as 127.0.0.1 then ::1 (as curl does), the worker's cache,
 * else a query (one per name at a time: later askers wait for it). Fills
 * *out with port set. May suspend t. Returns 0, MP_EDNS (a message in
 * why), MP_ENOMEM, or MP_ETIMEDOUT (timeout_ms, t's deadline) /
 * MP_ECANCELED (a cancel).
 */
int mp__dns_lookup(mp_task *t, const char *name, uint16_t port,
                   unsigned timeout_ms, mp__dns_addrs *out, char *why,
                   size_t why_len);

/* Returns 1 if name:port has a --resolve entry (mp_http_set_resolve). */
int mp__dns_resolve_has(const char *name, uint16_t port);

/* The --resolve entries as given (curl's CURLOPT_RESOLVE lines): sets
   *lines and returns their number; *gen changes whenever they do. */
size_t mp__dns_resolve_lines(const char *const **lines, unsigned *gen);

/*
 * For the curl engine when mp_http_set_dns_servers named servers:
 * resolves url's host (may suspend t; timeout_ms as mp__dns_lookup) and
 * writes "HOST:PORT:ADDR[,...]"
 * (a CURLOPT_RESOLVE line) into line. Returns 1 when it did, 0 when
 * libcurl resolves the name itself (no servers set, an address, a
 * --resolve entry, a URL this does not read), or MP_EDNS (a message in
 * why), MP_ENOMEM, MP_ETIMEDOUT / MP_ECANCELED.
 */
int mp__dns_for_curl(mp_task *t, const char *url, unsigned timeout_ms,
                     char *line, size_t cap, char *why, size_t why_len);

#endif
