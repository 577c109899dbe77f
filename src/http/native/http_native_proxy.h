/*
 * The proxies the native engine speaks (http_native_proxy.c): an HTTP
 * proxy, plain http:// requests in absolute form and https:// through a
 * CONNECT tunnel, with curl's Basic proxy credentials. Pure: no I/O.
 */
#ifndef MP_HTTP_NATIVE_PROXY_H
#define MP_HTTP_NATIVE_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "http/shared/http_int.h"
#include "mpool.h"

#define MP__NPROXY_CRED 256 /* decoded USER:PASSWORD, at most */

/* A proxy, parsed. */
typedef struct mp__nproxy {
    int on;         /* a proxy applies */
    char host[256]; /* as written: a name, IPv4, or [IPv6] */
    size_t host_len;
    uint16_t port;
    char auth[400]; /* "Proxy-Authorization: Basic ...\r\n", or "" */
} mp__nproxy;

/* Parses proxy (mp_http_request.proxy's syntax) into *px. Returns 0 if
   the native engine speaks it, else -1 (libcurl's). */
int mp__nproxy_parse(const char *proxy, mp__nproxy *px);

/* Fills *px with the proxy req's options (or the environment) give for
   url, px->on 0 for none. Returns 0, or -1 if one applies that the
   native engine does not speak (not an http:// proxy). */
int mp__nproxy_for(const mp_http_request *req, const char *url,
                   mp__nproxy *px);

/* Writes the CONNECT request for u through px into buf, as curl 7.88
   sends it ("CONNECT host:port", Host, Proxy-Authorization, User-Agent,
   Proxy-Connection). Returns its length, or 0 if cap is too small. */
size_t mp__nproxy_connect_req(const mp__nproxy *px, const mp__http_url *u,
                              char *buf, size_t cap);

/* Reads the proxy's answer to CONNECT so far, p[0..n): returns 0 (its
   head is not whole yet), 1 (whole: *status set), or -1 (not an
   HTTP/1.x head). */
int mp__nproxy_connect_resp(const char *p, size_t n, int *status);

#endif
