/*
 * mp_http: checks the request, picks the engine (pick_engine) and hands it
 * to libcurl (http_curl.c) or the native engine (http_native.c: HTTP/1.1, and
 * HTTP/2 in http_native_h2.c). What both engines share is in
 * http_common.c, below all three.
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

#include "http/shared/http_int.h"
#include "mpool.h"

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
static int pick_engine(const mp_http_request *req, mp__http_url *u,
                       mp_http_response *resp)
{
    int eng = req->engine ? req->engine : default_engine();
    const char *why;

    if (eng == MP_HTTP_CURL)
        return MP_HTTP_CURL;
    if (eng != MP_HTTP_AUTO && eng != MP_HTTP_NATIVE)
        return mp__http_error(resp, MP_EINVAL, "mp_http: unknown engine %d",
                             eng);
    why = mp__http_native_why(req, u);
    if (!why)
        return MP_HTTP_NATIVE;
    if (req->engine == MP_HTTP_NATIVE)
        return mp__http_error(
            resp, MP_EINVAL, "%s %.*s: the native engine cannot: %s",
            mp__http_method(req), MP__HTTP_URL_SHOWN, req->url, why);
    return MP_HTTP_CURL;
}

int mp_http(mp_task *t, const mp_http_request *req, mp_http_response *resp)
{
    mp__http_url u; /* the URL, parsed once for both engine and transfer */
    int rc;

    if (!resp)
        return MP_EINVAL;
    memset(resp, 0, sizeof *resp);
    if ((rc = check_request(t, req, resp)) != 0)
        return rc;
    if ((rc = pick_engine(req, &u, resp)) == MP_HTTP_NATIVE) {
        rc = mp__http_native(t, req, &u, resp);
        if (!resp->engine) /* a redirect may have gone to curl */
            resp->engine = MP_HTTP_NATIVE;
        return rc;
    } else if (rc != MP_HTTP_CURL) {
        return rc;
    }
    rc = mp__http_curl(t, req, resp);
    resp->engine = MP_HTTP_CURL;
    return rc;
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

