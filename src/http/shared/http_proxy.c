/*
 * A request's proxy, resolved the way curl resolves it, with the
 * environment read once per process (never per request).
 *
 * mp_http_request.proxy NULL means the environment, as curl reads it:
 * http_proxy for http:// (curl ignores upper-case HTTP_PROXY: a CGI
 * program's HTTP_PROXY may come from a request's "Proxy:" header),
 * https_proxy or HTTPS_PROXY for https://, then all_proxy or ALL_PROXY.
 * .noproxy NULL means no_proxy or NO_PROXY. "" means none. Both engines
 * ask here: the dispatcher (http_native_url.c) sends a request a proxy
 * applies to to libcurl, and libcurl (http_easy.c) gets the resolved
 * strings as CURLOPT_PROXY and CURLOPT_NOPROXY on every transfer, ""
 * included, which stops it from reading the environment per transfer.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/shared/http_int.h"
#include "mpool.h"

/* The environment's settings, read at the first request of the process. */
static struct {
    int read;
    const char *http, *https, *no; /* "" when unset */
} g_env;

/* Returns a copy of the first non-empty variable of names (NULL-ended),
   or "" (also when out of memory: then no proxy, as with none set). */
static const char *env_first(const char *const *names)
{
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (v && *v) {
            char *c = strdup(v);
            return c ? c : "";
        }
    }
    return "";
}

/* Reads the environment once. The copies live as long as the process. */
static void env_read(void)
{
    static const char *const http[] = {"http_proxy", "all_proxy", "ALL_PROXY",
                                       NULL};
    static const char *const https[] = {"https_proxy", "HTTPS_PROXY",
                                        "all_proxy", "ALL_PROXY", NULL};
    static const char *const no[] = {"no_proxy", "NO_PROXY", NULL};

    if (g_env.read)
        return;
    g_env.http = env_first(http);
    g_env.https = env_first(https);
    g_env.no = env_first(no);
    g_env.read = 1;
}

/*
 * Checks a proxy string (see mpool.h): the scheme before "://", if any,
 * one curl 7.88's parse_proxy() takes, then a host that is not empty
 * after any user:password@. Returns 0 or MP_EINVAL.
 */
int mp_http_proxy_check(const char *proxy)
{
    static const char *const schemes[] = {"http",    "https",  "socks",
                                          "socks4",  "socks4a", "socks5",
                                          "socks5h", NULL};
    if (!proxy)
        return MP_EINVAL;
    if (!*proxy)
        return 0;
    const char *sep = strstr(proxy, "://"), *host = proxy;
    if (sep) {
        size_t n = (size_t)(sep - proxy), i;
        for (i = 0; schemes[i]; i++)
            if (strlen(schemes[i]) == n &&
                strncasecmp(proxy, schemes[i], n) == 0)
                break;
        if (!schemes[i])
            return MP_EINVAL;
        host = sep + 3;
    }
    const char *at = strrchr(host, '@');
    if (at)
        host = at + 1;
    return *host && *host != ':' && *host != '/' ? 0 : MP_EINVAL;
}

/* Returns 1 if url's scheme is https (any case), else 0. */
static int is_https(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0;
}

void mp__http_proxy_get(const mp_http_request *req, const char **proxy,
                        const char **noproxy)
{
    if (!req->proxy || !req->noproxy)
        env_read();
    *proxy = req->proxy           ? req->proxy
             : is_https(req->url) ? g_env.https
                                  : g_env.http;
    *noproxy = req->noproxy ? req->noproxy : g_env.no;
}

/*
 * Finds the host of url ("scheme://[user@]host[:port]/..."): stores its
 * start and length (brackets of an IPv6 literal excluded) and whether it
 * was bracketed. Returns 0, or -1 if url has no "://" or no host.
 */
static int url_host(const char *url, const char **host, size_t *len, int *v6)
{
    const char *p = strstr(url, "://"), *end;

    if (!p)
        return -1;
    p += 3;
    end = p + strcspn(p, "/?#");
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            p = q + 1; /* the host follows the last '@' of the authority */
    *v6 = *p == '[';
    if (*v6) {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return -1;
        *host = p + 1;
        *len = (size_t)(rb - p - 1);
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        *host = p;
        *len = (size_t)((colon ? colon : end) - p);
    }
    return *len ? 0 : -1;
}

/* Returns 1 if address a (family af, text) is within pattern p[0..n)
   ("ADDR" or "ADDR/BITS", curl's CIDR form), else 0. */
static int ip_match(int af, const unsigned char *a, const char *p, size_t n)
{
    char buf[128];
    unsigned char b[16];
    char *slash;
    unsigned bits, max = af == AF_INET ? 32 : 128;

    if (n >= sizeof buf)
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    bits = (slash = strchr(buf, '/')) ? (unsigned)atoi(slash + 1) : 0;
    if (slash)
        *slash = '\0';
    if (bits == 0)
        bits = max;
    if (bits > max || inet_pton(af, buf, b) != 1)
        return 0;
    for (unsigned i = 0; i < bits / 8; i++)
        if (a[i] != b[i])
            return 0;
    if (bits % 8) {
        unsigned char m = (unsigned char)(0xff << (8 - bits % 8));
        if ((a[bits / 8] & m) != (b[bits / 8] & m))
            return 0;
    }
    return 1;
}

/* Returns 1 if name[0..n) is matched by the name pattern t[0..tn): equal,
   or a domain it belongs to (curl: leading and trailing dots ignored). */
static int name_match(const char *name, size_t n, const char *t, size_t tn)
{
    if (tn && t[tn - 1] == '.')
        tn--;
    if (tn && t[0] == '.') {
        t++;
        tn--;
    }
    if (tn == n)
        return strncasecmp(t, name, n) == 0;
    return tn < n && name[n - tn - 1] == '.' &&
           strncasecmp(t, name + n - tn, tn) == 0;
}

int mp__http_noproxy_match(const char *list, const char *host, size_t len,
                           int v6)
{
    char name[128];
    unsigned char addr[16];
    int af = 0;
    const char *p = list;

    if (!list || !*list || len == 0 || len >= sizeof name)
        return 0;
    if (strcmp(list, "*") == 0)
        return 1;
    memcpy(name, host, len);
    name[len] = '\0';
    if (v6 && inet_pton(AF_INET6, name, addr) == 1)
        af = AF_INET6;
    else if (!v6 && inet_pton(AF_INET, name, addr) == 1)
        af = AF_INET;
    else if (name[len - 1] == '.')
        len--;
    while (*p) {
        const char *t;
        size_t tn = 0;

        while (*p == ' ' || *p == '\t')
            p++;
        for (t = p; *p && *p != ' ' && *p != '\t' && *p != ','; p++)
            tn++;
        if (tn &&
            (af ? ip_match(af, addr, t, tn) : name_match(name, len, t, tn)))
            return 1;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
    }
    return 0;
}

const char *mp__http_proxy_applies(const mp_http_request *req)
{
    const char *proxy, *noproxy, *host;
    size_t len;
    int v6;

    mp__http_proxy_get(req, &proxy, &noproxy);
    if (!*proxy)
        return NULL;
    if (url_host(req->url, &host, &len, &v6) == 0 &&
        mp__http_noproxy_match(noproxy, host, len, v6))
        return NULL;
    return proxy;
}
