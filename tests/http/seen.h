/*
 * The HTTP suites' one request and what it gave (tests/http/: test_http,
 * test_http_diff, test_http_redirect, test_http_limits, test_proxy,
 * tls/test_http_tls and native/h2util for the HTTP/2 suites): a flat
 * request description a task is handed (copied into the worker), the
 * fixed-size summary of the response a task returns, so each assertion
 * runs in the test process on what a worker saw, and the field-by-field
 * comparison of two engines' summaries. A suite's own spec embeds a
 * seen_req beside what only it needs (repeats, a follow-up URL, ...).
 */
#ifndef SEEN_H
#define SEEN_H

#include <stdint.h>

#include "mpool.h"

/* One request. A string field "" is the request's NULL (the default);
   proxy and noproxy are NULL unless proxy_set / noproxy_set, so that ""
   (no proxy, no list) can be asked for too. */
typedef struct seen_req {
    char url[300];
    char method[12];
    char header[2][96]; /* sent in this order; "" ends the list */
    char body[128];
    char cafile[600];
    char body_path[256];
    char proxy[300], noproxy[128];
    int proxy_set, noproxy_set;
    char proxy_cafile[600]; /* an https:// proxy's CAs ("": NULL) */
    int proxy_insecure;
    unsigned timeout_ms, connect_timeout_ms;
    int follow; /* follow_redirects, at most max_redirects */
    unsigned max_redirects;
    size_t max_body;
    size_t big_body; /* a body of this many bytes 'b' instead of body */
    int engine, want_headers, no_body, compressed, http1, insecure;
} seen_req;

/* What one request gave: every field of mp_http_response the suites
   assert on, the strings cut to their arrays (NUL-terminated). headers:
   the head without its Date lines (they move between two requests), the
   lines that fit; body: its first 1023 bytes. */
typedef struct seen {
    int rc;    /* what mp_http returned */
    int error; /* the response's error */
    int engine;
    long status, http_version;
    unsigned redirects;
    uint64_t body_len, bytes_down;
    uint64_t t_total_us, t_first_byte_us, t_connect_us, t_tls_us, t_dns_us;
    int body_null; /* r->body was NULL */
    char final_url[300];
    char message[300];
    char headers[1024];
    char body[1024];
} seen;

/* Fills o from rc, mp_http's return, and r (which stays the caller's). */
void seen_fill(seen *o, int rc, const mp_http_response *r);

/* Runs s once in t (mp_http) and fills o from what it gave. */
void seen_http(mp_task *t, const seen_req *s, seen *o);

/* An mp_task_fn: seen_http of its seen_req; returns the seen. */
int seen_task(mp_task *t, const void *in, size_t len);

/* Fails (cmocka) unless c (libcurl's) and n (the native engine's) are the
   same record: codes, status, version, redirects, sizes, body_null, final
   URL, head, body; bytes_down only if with_bytes_down. what names the
   request in the message. Times, messages and engines are not compared. */
void seen_compare(const char *what, const seen *c, const seen *n,
                  int with_bytes_down);

#endif
