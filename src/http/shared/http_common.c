/*
 * What every HTTP engine shares (http_curl.c for libcurl, http_native.c): the
 * error setter, the method, the body buffer's growth, the body file and
 * the connection limits and idle connections (mp_http_set_limits and
 * mp_http_set_idle store them here).
 * It calls no engine and not mp_http (http_api.c), so the engines and the
 * dispatcher all depend on it and it on none of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/shared/http_int.h"
#include "mpool.h"
#include "worker/worker.h"

int mp__http_error(mp_http_response *resp, int err, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(resp->message);
    resp->error = err;
    resp->message = msg;
    return err;
}

const char *mp__http_method(const mp_http_request *req)
{
    if (req->method && req->method[0])
        return req->method;
    return req->body ? "POST" : "GET";
}

unsigned mp__http_max_redirects(const mp_http_request *req)
{
    if (req->max_redirects == MP_HTTP_NO_REDIRECTS)
        return 0;
    return req->max_redirects ? req->max_redirects : MP__HTTP_MAX_REDIRS;
}

int mp__http_body_reserve(char **body, size_t *body_cap, size_t need,
                          size_t max_body)
{
    size_t cap = *body_cap ? *body_cap : 4096;
    char *p;

    if (need < *body_cap)
        return 0;
    while (cap <= need)
        cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
    if (cap > max_body + 1)
        cap = max_body + 1 > need ? max_body + 1 : need + 1;
    p = realloc(*body, cap);
    if (!p)
        return -1;
    *body = p;
    *body_cap = cap;
    return 0;
}

FILE *mp__http_body_file(const char *path)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t dir_len = slash == path ? 1 : (size_t)(slash - path);
    char *dir = slash ? strndup(path, dir_len) : strdup(".");
    int dfd = -1, fd = -1, e = ENOMEM;
    FILE *f = NULL;

    if (!dir)
        goto out;
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (unlinkat(dfd, base, 0) != 0 && errno != ENOENT) ||
        (fd = openat(dfd, base,
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0644)) < 0 ||
        !(f = fdopen(fd, "wb"))) {
        e = errno;
        goto out;
    }
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    if (!f)
        errno = e;
    return f;
}

unsigned mp__http_connect_ms(const mp_http_request *req)
{
    unsigned ct = req->connect_timeout_ms ? req->connect_timeout_ms
                                          : (unsigned)MP__HTTP_CONNECT_MS;

    return req->timeout_ms && req->timeout_ms < ct ? req->timeout_ms : ct;
}

char *mp__http_final_url(const char *url, int has_path)
{
    size_t n = strlen(url);
    char *u;

    if (has_path)
        return strdup(url);
    if ((u = malloc(n + 2)) != NULL) {
        memcpy(u, url, n);
        memcpy(u + n, "/", 2);
    }
    return u;
}

static unsigned g_limit_total, g_limit_host; /* mp_http_set_limits */
static int g_limits_given; /* else: the worker's share of the pool's */

void mp__http_limits_store(unsigned total, unsigned per_host)
{
    g_limit_total = total;
    g_limit_host = per_host;
    g_limits_given = 1;
}

void mp__http_limits_get(unsigned *total, unsigned *per_host)
{
    *total = g_limits_given ? g_limit_total : mp__worker_http_share();
    *per_host = g_limits_given ? g_limit_host : 0;
}

int mp__http_limits_set(void)
{
    unsigned total, per_host;
    mp__http_limits_get(&total, &per_host);
    return total || per_host;
}

static unsigned g_idle_max, g_idle_age_ms; /* mp_http_set_idle, 0: default */

int mp_http_set_idle(unsigned max_idle, unsigned age_ms)
{
    g_idle_max = max_idle;
    g_idle_age_ms = age_ms;
    return 0;
}

void mp__http_idle_get(unsigned *max_idle, unsigned *age_ms)
{
    unsigned conc = mp__worker_concurrency();

    if (g_idle_max)
        *max_idle = g_idle_max;
    else /* twice the tasks at once, as the libcurl engine keeps */
        *max_idle =
            conc > MP__HTTP_IDLE_MIN / 2 ? 2 * conc : MP__HTTP_IDLE_MIN;
    *age_ms = g_idle_age_ms ? g_idle_age_ms : MP__HTTP_IDLE_AGE_MS;
}
