/*
 * One libcurl transfer (struct mp__curl_xfer, on the task's coroutine
 * stack while it runs): the contract between http_curl.c (the multi
 * handles, the event loop, a transfer's life) and http_easy.c (its easy
 * handle's options, the callbacks that check the response as it arrives,
 * and what its outcome means). No .c owns this header: each group of
 * fields says which side writes it. http_easy.c never calls
 * http_curl.c.
 */
#ifndef MP_HTTP_CURL_XFER_H
#define MP_HTTP_CURL_XFER_H

#include <stdio.h>

#include <curl/curl.h>

#include "mpool.h"

struct http_multi;

/* Where a transfer is. Only ACTIVE transfers are in the multi handle. */
enum { MP__CX_NEW, MP__CX_ACTIVE, MP__CX_DONE, MP__CX_RELEASED };

typedef struct mp__curl_xfer {
    /* http_curl.c's: the transfer's life; it moves body and hdr into the
       record and frees what the transfer still holds */
    mp_task *task;
    const mp_http_request *req;
    struct http_multi *mh; /* the multi handle it runs in */
    CURL *easy;
    struct curl_slist *resolve; /* this transfer's CURLOPT_RESOLVE */
    const char *line;           /* the URL's host, resolved (http_dns.c) */
    int res_global;             /* resolve holds the --resolve entries */
    int state;                  /* MP__CX_* */
    CURLcode result;
    FILE *file; /* body_path, or NULL */
    size_t max_body;
    /* http_easy.c's: the request's header list, and what the easy
       handle's callbacks find in the response */
    struct curl_slist *headers;
    int wfail;      /* MP__HF_* + 1 decided by a callback, or 0 */
    int werrno;     /* errno of a failed file write */
    char wmsg[112]; /* what the callback's check found */
    char *body;     /* in-memory body, NUL-terminated */
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
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's (CURLOPT_ERRORBUFFER) */
} mp__curl_xfer;

#endif
