/*
 * One libcurl transfer (struct mp__curl_xfer), shared by http_curl.c (the
 * multi handles, the event loop, a transfer's life) and http_easy.c (its easy
 * handle's options, the callbacks that check the response as it arrives, and
 * what its outcome means). http_easy.c never calls http_curl.c.
 */
#ifndef MP_HTTP_EASY_H
#define MP_HTTP_EASY_H

#include <stdio.h>

#include <curl/curl.h>

#include "http/shared/http_fail.h"
#include "mpool.h"

struct http_multi;

/* Where a transfer is. Only ACTIVE transfers are in the multi handle. */
enum { MP__CX_NEW, MP__CX_ACTIVE, MP__CX_DONE, MP__CX_RELEASED };

/* One transfer, on the task's coroutine stack while it runs. */
typedef struct mp__curl_xfer {
    mp_task *task;
    const mp_http_request *req;
    struct http_multi *mh; /* the multi handle it runs in */
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *resolve; /* this transfer's CURLOPT_RESOLVE */
    const char *line;           /* the URL's host, resolved (http_dns.c) */
    int res_global;             /* resolve holds the --resolve entries */
    int state;
    CURLcode result;
    int wfail;  /* MP__HF_* + 1 decided by a callback, or 0 */
    int werrno; /* errno of a failed file write */
    char wmsg[112]; /* what the callback's check found */
    FILE *file; /* body_path, or NULL */
    size_t max_body;
    char *body; /* in-memory body, NUL-terminated */
    size_t body_len, body_cap, body_seen;
    char *hdr; /* header block of the latest response (want_headers) */
    size_t hdr_len, hdr_cap;
    size_t hdr_lines, hdr_bytes; /* of the latest response, for limits */
    int hdr_done;                /* its blank line has arrived */
    int has_clen, has_te;        /* Content-Length, Transfer-Encoding seen */
    int body_said;               /* either announces a body (length > 0) */
    long hdr_code, hdr_version;  /* of the latest response's status line */
    /* The latest response whose head arrived whole and valid (a status of
       200 or more, or 101): its status and version (11, 20...), 0 while
       none has; what a failed transfer's record says it received. */
    long head_status, head_version;
    char errbuf[CURL_ERROR_SIZE];
} mp__curl_xfer;

/* Returns 1 if req's transfer gets the large receive buffer (https that
   may choose HTTP/2: see HTTP_H2_BUFFER in http_easy.c), else 0. */
int mp__http_easy_big_buffer(const mp_http_request *req);

/* Builds x->headers: the caller's lines, plus an empty "Expect:" with a
   body (no 100-continue round trip). Returns 0 or -1 (out of memory). */
int mp__http_easy_headers(mp__curl_xfer *x);

/* Sets every option of x->easy for x->req: protocols, callbacks, the
   request, its proxy (CURLOPT_PROXY and CURLOPT_NOPROXY always, "" for
   none: curl then never reads the environment). Returns a CURLcode. */
CURLcode mp__http_easy_options(mp__curl_xfer *x);

/*
 * Turns a finished transfer's outcome into our code and fills
 * resp->error/message with which transfer failed and why. Returns the code
 * (0 for CURLE_OK with no callback failure).
 */
int mp__http_easy_error(mp__curl_xfer *x, mp_http_response *resp);

/* Fills resp's status, version, URL, counters and timings from the
   finished easy handle. */
void mp__http_easy_info(CURL *e, mp_http_response *resp);

#endif
