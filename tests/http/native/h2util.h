/*
 * Helpers of the HTTP/2 suites (test_http_h2.c, test_http_h2_paths.c):
 * bursts of requests at once in one worker, and the record of libcurl
 * and of the native engine for the same request, compared. A request is
 * a seen_req and what it gave a seen (../seen.h).
 */
#ifndef H2UTIL_H
#define H2UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mpool.h"
#include "seen.h"
#include "testutil.h"

#define BURST 50 /* streams at once, at most */

/* The suites' fixture: nginx (tools/nginx.sh options opts) in a fresh
   temporary directory *dir, after mp_init (the forkserver comes before
   any thread of the test). Returns 0 or -1 (everything stopped). */
int h2u_nginx_up(tu_nginx *n, char **dir, const char *opts);

/* Stops what h2u_nginx_up started and removes *dir. */
void h2u_nginx_down(tu_nginx *n, char **dir);

/* Returns a spec for the native engine with want_headers: https to
   127.0.0.1:port (0: n's h2 port) and the path made from fmt, trusting
   n's certificate. */
seen_req h2u_mk(const tu_nginx *n, int port, const char *fmt, ...)
    MP_PRINTF(3, 4);

/* Fails unless o is a native HTTP/2 answer with status. */
void h2u_expect(const seen_req *s, const seen *o, long status);

/* n specs at once as children of one task in a one-worker pool, after a
   first request (has_first) and before one more (has_after). */
typedef struct burst {
    seen_req first;
    int has_first, n;
    unsigned join_ms[BURST]; /* mp_join's timeout per child; 0 = none */
    seen_req s[BURST];
    seen_req after;
    int has_after;
} burst;

typedef struct burst_out {
    seen first, after;
    seen o[BURST];
    int join_rc[BURST];
} burst_out;

/* An mp_task_fn: runs its burst; returns the burst_out. */
int h2u_burst_task(mp_task *t, const void *in, size_t len);

/* Runs b in a fresh one-worker pool; fills *out. */
void h2u_run_burst(const burst *b, burst_out *out);

/* The same request through libcurl (c) and the native engine (n). */
typedef struct dpair {
    seen c, n;
} dpair;

/* An mp_task_fn: its seen_req through libcurl, then the native engine;
   returns the dpair. */
int h2u_diff_task(mp_task *t, const void *in, size_t len);

/* Fails unless c (libcurl) and n (native) gave the same record
   (seen_compare: bytes_down aside for a body refused over max_body, where
   each engine stopped reading) on their own engines. */
void h2u_compare(const seen_req *s, const seen *c, const seen *n);

#endif
