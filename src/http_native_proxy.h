/*
 * The proxies the native engine speaks (http_native_proxy.c): an HTTP
 * proxy for plain http:// requests, in absolute form, with curl's Basic
 * proxy credentials. Pure: no I/O.
 */
#ifndef MP_HTTP_NATIVE_PROXY_H
#define MP_HTTP_NATIVE_PROXY_H

#include <stddef.h>
#include <stdint.h>

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
   url (tls: https), px->on 0 for none. Returns 0, or -1 if one applies
   that the native engine does not speak (an https:// URL's tunnel, or
   not an http:// proxy). */
int mp__nproxy_for(const mp_http_request *req, const char *url, int tls,
                   mp__nproxy *px);

#endif
