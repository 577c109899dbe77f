/*
 * The proxies the native engine speaks, parsed as curl 7.88 reads them:
 * "[http://][USER[:PASSWORD]@]HOST[:PORT][/]", HOST a name, an IPv4 or
 * a bracketed IPv6 address in the form curl prints back, PORT 1080 by
 * default (curl's), USER and PASSWORD %-decoded and sent as
 * "Proxy-Authorization: Basic" (curl's default proxy auth). A plain
 * http:// request goes to it in absolute form, an https:// one through a
 * CONNECT tunnel (its request and the answer's status line here).
 * Anything else (socks4, socks4a, socks5, socks5h, an https:// proxy)
 * stays on libcurl. Pure: no I/O.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/shared/http_int.h"
#include "http/native/http_native_proxy.h"

/* Returns the value of hex digit c, or -1. */
static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %-decodes p[0..n) onto the end of out (*len of cap used). Returns 0,
   or -1 (a malformed escape, a NUL, or no room). */
static int decode(const char *p, size_t n, char *out, size_t *len,
                  size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval(p[i + 1])) < 0 ||
                (lo = hexval(p[i + 2])) < 0)
                return -1; /* libcurl's to judge */
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || *len + 1 >= cap)
            return -1;
        out[(*len)++] = (char)c;
    }
    return 0;
}

/* Writes base64 of in[0..n) at out (room for 4 * ((n + 2) / 3) + 1). */
static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Fills px->auth from the credentials c[0..n) ("USER[:PASSWORD]").
   Returns 0 or -1. */
static int auth_of(const char *c, size_t n, mp__nproxy *px)
{
    char plain[MP__NPROXY_CRED];
    const char *colon = memchr(c, ':', n);
    size_t len = 0, un = colon ? (size_t)(colon - c) : n;
    static const char pre[] = "Proxy-Authorization: Basic ";

    if (decode(c, un, plain, &len, sizeof plain) != 0 || len + 1 >= sizeof plain)
        return -1;
    plain[len++] = ':';
    if (colon && decode(colon + 1, n - un - 1, plain, &len, sizeof plain) != 0)
        return -1;
    if (sizeof pre - 1 + 4 * ((len + 2) / 3) + 3 > sizeof px->auth)
        return -1;
    memcpy(px->auth, pre, sizeof pre - 1);
    base64((const unsigned char *)plain, len, px->auth + sizeof pre - 1);
    strcat(px->auth, "\r\n");
    return 0;
}

/* Returns 1 if h[0..n) is a host the resolver takes as curl would: a
   dotted IPv4 address, a bracketed IPv6 one, or a name of letters,
   digits, '-' and '.' that is no address in another form ("127.1"). */
static int host_ok(const char *h, size_t n)
{
    char buf[256];
    unsigned char a[16];
    int digits = 1;

    if (n == 0 || n >= sizeof buf)
        return 0;
    if (h[0] == '[') {
        if (n < 4 || h[n - 1] != ']')
            return 0;
        memcpy(buf, h + 1, n - 2);
        buf[n - 2] = '\0';
        return strchr(buf, '%') == NULL && inet_pton(AF_INET6, buf, a) == 1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return 0;
        digits &= (c >= '0' && c <= '9') || c == '.';
    }
    memcpy(buf, h, n);
    buf[n] = '\0';
    return !digits || inet_pton(AF_INET, buf, a) == 1;
}

int mp__nproxy_parse(const char *proxy, mp__nproxy *px)
{
    const char *p = proxy, *sep = strstr(proxy, "://"), *at, *end, *hp;
    unsigned port = 1080;

    memset(px, 0, sizeof *px);
    if (sep) {
        if (sep - proxy != 4 || strncasecmp(proxy, "http", 4) != 0)
            return -1; /* socks*, https: libcurl's */
        p = sep + 3;
    }
    end = p + strcspn(p, "/?#");
    if (*end && strcmp(end, "/") != 0)
        return -1;
    at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at && auth_of(p, (size_t)(at - p), px) != 0)
        return -1;
    hp = at ? at + 1 : p;
    const char *colon = *hp == '[' ? memchr(hp, ']', (size_t)(end - hp)) : hp;
    if (!colon)
        return -1;
    colon = memchr(colon, ':', (size_t)(end - colon));
    if (colon) {
        char *e;
        if (colon + 1 == end || colon[1] < '0' || colon[1] > '9')
            return -1;
        unsigned long v = strtoul(colon + 1, &e, 10);
        if (e != end || v == 0 || v > 65535)
            return -1;
        port = (unsigned)v;
    }
    size_t hn = (size_t)((colon ? colon : end) - hp);
    if (!host_ok(hp, hn))
        return -1;
    memcpy(px->host, hp, hn);
    px->host[hn] = '\0';
    px->host_len = hn;
    px->port = (uint16_t)port;
    px->on = 1;
    return 0;
}

int mp__nproxy_for(const mp_http_request *req, const char *url,
                   mp__nproxy *px)
{
    mp_http_request q = *req;
    const char *p;

    q.url = url;
    memset(px, 0, sizeof *px);
    if (!(p = mp__http_proxy_applies(&q)))
        return 0;
    return mp__nproxy_parse(p, px);
}

size_t mp__nproxy_connect_req(const mp__nproxy *px, const mp__http_url *u,
                              char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "CONNECT %.*s:%u HTTP/1.1\r\nHost: %.*s:%u\r\n%s"
                     "User-Agent: mpool/" MP_VERSION_STRING "\r\n"
                     "Proxy-Connection: Keep-Alive\r\n\r\n",
                     (int)u->host_len, u->host, (unsigned)u->port,
                     (int)u->host_len, u->host, (unsigned)u->port, px->auth);

    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int mp__nproxy_connect_resp(const char *p, size_t n, int *status)
{
    if (n < 4 || memcmp(p + n - 4, "\r\n\r\n", 4) != 0)
        return n >= 5 && memcmp(p, "HTTP/", n < 5 ? n : 5) != 0 ? -1 : 0;
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
        p[9] < '0' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
        p[11] < '0' || p[11] > '9')
        return -1;
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return 1;
}
