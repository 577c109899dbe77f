/*
 * mp_http: checks the request, picks the engine (pick_engine) and hands it
 * to libcurl (http.c) or the native HTTP/1.1 engine (http_native.c); and
 * what both engines share.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"
#include "mpool.h"

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

/* Checks mp_http's arguments. Returns 0 or MP_EINVAL (stored in resp). */
static int check_request(mp_task *t, const mp_http_request *req,
                         mp_http_response *resp)
{
    if (!t || !req || !req->url)
        return mp__http_error(resp, MP_EINVAL, "mp_http: %s is NULL",
                         !t     ? "the task"
                         : !req ? "the request"
                                : "the URL");
    if (req->n_headers && !req->headers)
        return mp__http_error(resp, MP_EINVAL,
                         "mp_http: n_headers is %zu but "
                         "headers is NULL",
                         req->n_headers);
    if (req->body_len && !req->body)
        return mp__http_error(resp, MP_EINVAL,
                         "mp_http: body_len is %zu but "
                         "body is NULL",
                         req->body_len);
    if (req->body_len > (size_t)INT64_MAX)
        return mp__http_error(resp, MP_EINVAL, "mp_http: body too large");
    if (req->speed_limit > (size_t)LONG_MAX)
        return mp__http_error(resp, MP_EINVAL, "mp_http: speed_limit %zu "
                         "is too large", req->speed_limit);
    return 0;
}

/* Returns the engine a request with engine AUTO gets in this process:
   MP_HTTP_ENGINE from the environment (read once), else AUTO. */
static int default_engine(void)
{
    static int eng = -1;
    const char *e;

    if (eng < 0) {
        e = getenv("MP_HTTP_ENGINE");
        eng = !e                        ? MP_HTTP_AUTO
              : strcmp(e, "curl") == 0   ? MP_HTTP_CURL
              : strcmp(e, "native") == 0 ? MP_HTTP_NATIVE
                                         : MP_HTTP_AUTO;
    }
    return eng;
}

/*
 * Chooses the engine for req: MP_HTTP_CURL or MP_HTTP_NATIVE; or fails
 * (MP_EINVAL stored in resp) when the native engine was asked for and
 * cannot run req, or req->engine is unknown. An explicit NATIVE that
 * cannot run req is refused; AUTO (and MP_HTTP_ENGINE=native) fall back
 * to curl, so a whole test suite can run with either.
 */
static int pick_engine(const mp_http_request *req, mp_http_response *resp)
{
    int eng = req->engine ? req->engine : default_engine();
    const char *why;

    if (eng == MP_HTTP_CURL)
        return MP_HTTP_CURL;
    if (eng != MP_HTTP_AUTO && eng != MP_HTTP_NATIVE)
        return mp__http_error(resp, MP_EINVAL, "mp_http: unknown engine %d",
                             eng);
    why = mp__http_native_why(req, mp__http_limits_set());
    if (!why)
        return MP_HTTP_NATIVE;
    if (req->engine == MP_HTTP_NATIVE)
        return mp__http_error(resp, MP_EINVAL,
                             "%s %.*s: the native engine cannot: %s",
                             mp__http_method(req), HTTP_URL_SHOWN, req->url,
                             why);
    return MP_HTTP_CURL;
}

int mp_http(mp_task *t, const mp_http_request *req, mp_http_response *resp)
{
    int rc;

    if (!resp)
        return MP_EINVAL;
    memset(resp, 0, sizeof *resp);
    if ((rc = check_request(t, req, resp)) != 0)
        return rc;
    if ((rc = pick_engine(req, resp)) != MP_HTTP_CURL)
        return rc == MP_HTTP_NATIVE ? mp__http_native(t, req, resp) : rc;
    return mp__http_curl(t, req, resp);
}

void mp_http_response_clear(mp_http_response *resp)
{
    if (!resp)
        return;
    free(resp->message);
    free(resp->final_url);
    free(resp->headers);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

