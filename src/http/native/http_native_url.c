/*
 * What the native HTTP/1.1 engine (http_native.c) takes: its URLs, headers
 * and options; mp_http gives everything else to libcurl.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/shared/http_int.h"
#include "http/native/http_native_proxy.h"
#include "mpool.h"

/* Returns 1 if h[0..n) is a host name curl prints back unchanged and
   never reads as an address: labels of [a-z0-9-] (1-63 bytes, no '-' at
   either end), 253 bytes at most, no trailing dot, the last label
   starting with a letter. */
static int name_ok(const char *h, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (ch == '.') {
            if (!label || h[i - 1] == '-')
                return 0;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                   (ch == '-' && label)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    if (!label || h[n - 1] == '-')
        return 0;
    return h[n - label] >= 'a' && h[n - label] <= 'z';
}

/* Returns 1 if h[0..n) is an IPv4 address in dotted form without leading
   zeros. */
static int ipv4_ok(const char *h, size_t n)
{
    const char *p = h;

    for (int i = 0; i < 4; i++) {
        unsigned v = 0, d = 0;
        while (p + d < h + n && p[d] >= '0' && p[d] <= '9' && d < 4)
            v = v * 10 + (unsigned)(p[d++] - '0');
        if (d == 0 || d > 3 || v > 255 || (d > 1 && p[0] == '0'))
            return 0;
        p += d;
        if (i < 3 && (p >= h + n || *p++ != '.'))
            return 0;
    }
    return p == h + n;
}

/* Returns 1 if h[0..n) is "[IPv6]" in the form inet_ntop prints. */
static int ipv6_ok(const char *h, size_t n)
{
    char in[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
    struct in6_addr a;

    if (n < 4 || n - 2 >= sizeof in || h[0] != '[' || h[n - 1] != ']')
        return 0;
    memcpy(in, h + 1, n - 2);
    in[n - 2] = '\0';
    return inet_pton(AF_INET6, in, &a) == 1 &&
           inet_ntop(AF_INET6, &a, out, sizeof out) &&
           strcmp(in, out) == 0;
}

/* Returns 1 if the target p (empty, or from its first '/') holds no blank,
   control byte, DEL, byte >= 0x80, '#' or '\\', has no empty query
   (curl prints "/x?" back as "/x"), and no dot segment ("." or ".."
   between two '/', or after the last one at the end or before the first
   '?') anywhere, query included, in one pass. */
static int target_ok(const char *p)
{
    const char *seg = p; /* the current segment's '/' */
    int query = 0;

    for (const char *q = p;; q++) {
        unsigned char c = (unsigned char)*q;
        int path_end = c == '?' && !query; /* "/a/..?q": curl's "/?q" */
        if (c == '/' || c == '\0' || path_end) {
            size_t n = (size_t)(q - seg);
            if (q > p && *seg == '/' && ((n == 2 && seg[1] == '.') ||
                          (n == 3 && seg[1] == '.' && seg[2] == '.')))
                return 0;
            if (!c)
                return 1;
            if (path_end && !q[1])
                return 0; /* an empty query: curl drops the '?' */
            query |= path_end;
            seg = q;
        } else if (c <= ' ' || c >= 0x7f || c == '#' || c == '\\') {
            return 0;
        }
    }
}

int mp__http_native_url(const char *url, mp__http_url *u)
{
    const char *p, *end;
    unsigned dflt;

    if (strncmp(url, "http://", 7) == 0)
        u->tls = 0;
    else if (strncmp(url, "https://", 8) == 0)
        u->tls = 1;
    else
        return -1;
    p = url + 7 + u->tls;
    dflt = u->tls ? 443 : 80;
    u->host = p;
    end = p[0] == '[' ? strchr(p, ']') : p + strcspn(p, ":/?#");
    if (!end)
        return -1;
    if (p[0] == '[')
        end++;
    u->host_len = (size_t)(end - p);
    u->kind = ipv4_ok(p, u->host_len)   ? MP__HU_IPV4
              : ipv6_ok(p, u->host_len) ? MP__HU_IPV6
              : name_ok(p, u->host_len) ? MP__HU_NAME
                                        : -1;
    if (u->kind < 0)
        return -1;
    p = end;
    u->port = (uint16_t)dflt;
    if (*p == ':') {
        unsigned v = 0, d = 0;
        p++;
        while (p[d] >= '0' && p[d] <= '9' && d < 6)
            v = v * 10 + (unsigned)(p[d++] - '0');
        if (d == 0 || p[0] == '0' || v > 65535 || v == dflt)
            return -1;
        u->port = (uint16_t)v;
        p += d;
    }
    if (*p && *p != '/')
        return -1;
    if (!target_ok(p))
        return -1;
    u->target = p;
    return 0;
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

const char *mp__http_native_why(const mp_http_request *req, mp__http_url *u)
{
    if (mp__http_native_url(req->url, u) != 0)
        return "the URL is not http:// or https:// to a host in plain form";
    if (req->speed_limit || req->speed_time_s)
        return "speed limits";
    if (mp__nproxy_for(req, req->url, &(mp__nproxy){0}) != 0)
        return "a proxy other than http://";
    for (size_t i = 0; i < req->n_headers; i++)
        if (req->headers[i] && !header_plain(req->headers[i]))
            return "a header it sets itself, or curl's header forms";
    return NULL;
}

