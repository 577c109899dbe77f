/*
 * Internals shared by the dispatcher (http_api.c, mp_http) and the HTTP
 * engines below it: libcurl's (http/curl/) and the native one
 * (http/native/).
 */
#ifndef MP_HTTP_INT_H
#define MP_HTTP_INT_H

#include <stdint.h>
#include <stdio.h>

#include "mpool.h"

#define MP__HTTP_MAX_BODY ((size_t)16 << 20) /* default body cap, any mode */
#define MP__HTTP_CONNECT_MS 10000L /* default connect timeout */
#define MP__HTTP_URL_SHOWN 200     /* URL bytes quoted in messages */

/* ---- http_common.c: what every engine shares -------------------------- */

/* Stores err and a formatted message in resp (message allocation failure
   leaves message NULL). Returns err. */
int mp__http_error(mp_http_response *resp, int err, const char *fmt, ...)
    MP_PRINTF(3, 4);

/* Grows *body (capacity *body_cap) to hold need bytes plus a NUL,
   doubling, never past max_body + 1 unless need is. Returns 0 or -1. */
int mp__http_body_reserve(char **body, size_t *body_cap, size_t need,
                          size_t max_body);

/*
 * Creates the file for body_path afresh, never through a link planted at
 * its name: the name is unlinked relative to its directory's descriptor
 * (a symlink there is removed, its target untouched), then created with
 * O_CREAT | O_EXCL | O_NOFOLLOW, mode 0644 less the umask. Returns the
 * stream, or NULL with errno set.
 */
FILE *mp__http_body_file(const char *path);

/* Returns the connect timeout of req in ms, as curl takes it: the
   connect_timeout_ms (default MP__HTTP_CONNECT_MS), or timeout_ms if shorter.
   It covers resolving the name too. */
unsigned mp__http_connect_ms(const mp_http_request *req);

/* Returns url as curl prints it back (a "/" added when has_path is 0),
   malloc'd; NULL if out of memory. */
char *mp__http_final_url(const char *url, int has_path);

/* The method as it will be sent. */
const char *mp__http_method(const mp_http_request *req);

/* How many redirects req may follow (max_redirects: 0 is the default,
   MP_HTTP_NO_REDIRECTS none), the same on every engine. */
#define MP__HTTP_MAX_REDIRS 10u
unsigned mp__http_max_redirects(const mp_http_request *req);

/* ---- http_proxy.c: a request's proxy, the environment read once ------- */

/* Stores the proxy for req's URL in *proxy and the no-proxy list in
   *noproxy, "" for none: req's own, or the environment's as curl reads
   it (see mpool.h), read at the first call in the process and never
   again. */
void mp__http_proxy_get(const mp_http_request *req, const char **proxy,
                        const char **noproxy);

/* Returns 1 if the host host[0..len) (v6: an IPv6 literal, without its
   brackets) is in list, curl's NO_PROXY syntax: "*" for every host, else
   names, commas or blanks between them, each matching itself and the
   names below it ("example.com" matches "www.example.com"), and IP
   addresses with an optional "/bits". Else 0. */
int mp__http_noproxy_match(const char *list, const char *host, size_t len,
                           int v6);

/* Returns the proxy req goes through (its URL's host is not in the
   no-proxy list), or NULL if none. */
const char *mp__http_proxy_applies(const mp_http_request *req);

/* ---- the engines, called by mp_http (http_api.c) ----------------------- */

/* Runs req with libcurl, inside a worker task. Same contract as mp_http
   (resp is zeroed, the request checked). */
int mp__http_curl(mp_task *t, const mp_http_request *req,
                  mp_http_response *resp);

/* Returns 1 if this libcurl has the scheme s[0..n) (lower case) built
   in (curl_version_info's protocols): a redirect to it fails as curl's
   does. */
int mp__http_curl_knows_scheme(const char *s, size_t n);

/* The connection limits of mp_http_set_limits (0: none), stored and read
   (http_common.c); mp__http_limits_set returns 1 if one is set. */
void mp__http_limits_store(unsigned total, unsigned per_host);
void mp__http_limits_get(unsigned *total, unsigned *per_host);
int mp__http_limits_set(void);

/* The idle connections of mp_http_set_idle (http_common.c), defaults
   applied: the most kept by a worker, and the age (ms) that closes one. */
#define MP__HTTP_IDLE_AGE_MS 118000u /* libcurl's CURLOPT_MAXAGE_CONN */
#define MP__HTTP_IDLE_MIN 64u        /* the libcurl engine's, per multi */
void mp__http_idle_get(unsigned *max_idle, unsigned *age_ms);

/* mp__http_url.kind */
enum { MP__HU_IPV4, MP__HU_IPV6, MP__HU_NAME };

/* A URL the native engine takes, parsed (pointers into the URL). */
typedef struct mp__http_url {
    const char *host; /* as in the URL ("[::1]" with its brackets), not
                         NUL-terminated */
    size_t host_len;
    int kind; /* MP__HU_* */
    uint16_t port;
    int tls;            /* https */
    const char *target; /* path and query ("" for none) */
} mp__http_url;

/* Parses "http[s]://HOST[:port][/path]" in the canonical form curl would
   print back unchanged (HOST an IPv4 address without leading zeros, an
   IPv6 address in brackets as inet_ntop prints it, or a lower-case name;
   no ":80" for http, no ":443" for https, no dot segments, fragments, blanks or control bytes) into *u.
   Returns 0 or -1. */
int mp__http_native_url(const char *url, mp__http_url *u);

/* Returns NULL if the native engine can run req, else why not (static).
   On NULL, *u holds req's URL parsed (mp__http_native_url), for
   mp__http_native. */
const char *mp__http_native_why(const mp_http_request *req, mp__http_url *u);

/* Runs req with the native engine (mp__http_native_why said yes and
   parsed its URL into *u, which must last the call), inside a worker
   task: HTTP/1.1, or HTTP/2 where an https server chooses it (unless
   req->http1). Same contract as mp_http. */
int mp__http_native(mp_task *t, const mp_http_request *req,
                    const mp__http_url *u, mp_http_response *resp);

#endif
