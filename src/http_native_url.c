/*
 * What the native HTTP/1.1 engine (http_native.c) takes: its URLs, headers
 * and options; mp_http gives everything else to libcurl.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "mpool.h"

const char *mp__http_native_url(const char *url, uint32_t *ip, uint16_t *port)
{
    const char *p = url + 7;
    uint32_t a = 0;

    if (strncmp(url, "http://", 7) != 0)
        return NULL;
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, d = 0;
        while (p[d] >= '0' && p[d] <= '9' && d < 4)
            v = v * 10 + (unsigned)(p[d++] - '0');
        if (d == 0 || d > 3 || v > 255 || (d > 1 && p[0] == '0'))
            return NULL;
        a = a << 8 | v;
        p += d;
        if (i < 3 && *p++ != '.')
            return NULL;
    }
    *ip = htonl(a);
    *port = 80;
    if (*p == ':') {
        unsigned v = 0, d = 0;
        p++;
        while (p[d] >= '0' && p[d] <= '9' && d < 6)
            v = v * 10 + (unsigned)(p[d++] - '0');
        if (d == 0 || p[0] == '0' || v > 65535 || v == 80)
            return NULL;
        *port = (uint16_t)v;
        p += d;
    }
    if (*p && *p != '/')
        return NULL;
    for (const char *q = p; *q; q++)
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f ||
            *q == '#' || *q == '\\')
            return NULL;
    if (strstr(p, "/./") || strstr(p, "/../") ||
        (strlen(p) >= 2 && strcmp(p + strlen(p) - 2, "/.") == 0) ||
        (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
        return NULL;
    return p;
}

/* Header names the engine sets itself or curl treats specially. */
static const char *const own_headers[] = {
    "Host", "User-Agent", "Accept", "Content-Length", "Content-Type",
    "Expect", "Connection", "Transfer-Encoding", "Accept-Encoding",
    "Proxy-Connection", "TE"};

/* Returns 1 if header line h is one the engine sends as given. */
static int header_plain(const char *h)
{
    const char *colon = strchr(h, ':');
    size_t n;

    if (!colon || colon == h)
        return 0; /* "Name;" (empty value) and the like: curl's forms */
    n = (size_t)(colon - h);
    for (const char *v = colon + 1; *v == ' ' || *v == '\t'; v++)
        if (!v[1])
            return 0; /* "Name:" removes a header in curl */
    if (!colon[1])
        return 0;
    for (size_t i = 0; i < sizeof own_headers / sizeof own_headers[0]; i++)
        if (strlen(own_headers[i]) == n &&
            strncasecmp(h, own_headers[i], n) == 0)
            return 0;
    return 1;
}

/* Returns 1 if the environment names a proxy curl would use. */
static int proxy_in_env(void)
{
    static const char *const vars[] = {"http_proxy", "all_proxy",
                                       "ALL_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return 1;
    }
    return 0;
}

const char *mp__http_native_why(const mp_http_request *req, int limits)
{
    static int proxy = -1;
    uint32_t ip;
    uint16_t port;

    if (proxy < 0)
        proxy = proxy_in_env();
    if (!mp__http_native_url(req->url, &ip, &port))
        return "the URL is not http:// to an IPv4 address in plain form";
    if (req->follow_redirects)
        return "redirects";
    if (req->compressed)
        return "content decoding";
    if (limits)
        return "connection limits";
    if (req->speed_limit || req->speed_time_s)
        return "speed limits";
    if (proxy)
        return "a proxy (environment)";
    for (size_t i = 0; i < req->n_headers; i++)
        if (req->headers[i] && !header_plain(req->headers[i]))
            return "a header it sets itself, or curl's header forms";
    return NULL;
}

