/*
 * One libcurl transfer's easy handle (http_easy.c): its options, the
 * callbacks that check the response as it arrives, and what its outcome
 * means. The transfer itself is the contract of http_curl_xfer.h, which
 * http_curl.c (its life) and http_easy.c share. http_easy.c never calls
 * http_curl.c.
 */
#ifndef MP_HTTP_EASY_H
#define MP_HTTP_EASY_H

#include <stdio.h>

#include <curl/curl.h>

#include "http/curl/http_curl_xfer.h"
#include "http/shared/http_fail.h"
#include "mpool.h"

/* Returns 1 if req's transfer gets the large receive buffer (https that
   may choose HTTP/2: see HTTP_H2_BUFFER in http_easy.c), else 0. */
int mp__http_easy_big_buffer(const mp_http_request *req);

/* Builds x->headers: the caller's lines, plus an empty "Expect:" with a
   body (no 100-continue round trip). Returns 0 or -1 (out of memory). */
int mp__http_easy_headers(mp__curl_xfer *x);

/* Sets every option of x->easy for x->req: protocols, callbacks, the
   request, its proxy (CURLOPT_PROXY and CURLOPT_NOPROXY always, "" for
   none: curl then never reads the environment; an https:// proxy's TLS
   from proxy_insecure and proxy_cafile). Returns a CURLcode. */
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
