/*
 * Helpers of the HTTP/2 suites (test_http_h2.c, test_http_h2_paths.c):
 * one request described by a flat spec (copied into a worker), what it
 * gave, bursts of requests at once in one worker, and the record of
 * libcurl and of the native engine for the same request, compared.
 */
#ifndef H2UTIL_H
#define H2UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mpool.h"
#include "testutil.h"

#define BURST 50 /* streams at once, at most */

/* One request. */
typedef struct hspec {
    char url[200];
    char method[12];
    char header[64];
    char body[64];
    char cafile[600];
    char body_path[256];
    unsigned timeout_ms, connect_timeout_ms;
    size_t max_body;
    size_t big_body; /* a body of this many bytes 'b' instead of body */
    int engine, want_headers, no_body, http1;
    int compressed;
} hspec;

/* What it gave. headers: the head without its date line (the first 1023
   bytes). */
typedef struct hseen {
    int rc, error, engine;
    long status, http_version;
    uint64_t body_len, bytes_down;
    int body_null;
    char final_url[200];
    char headers[1024];
    char body[512];
    char message[300];
} hseen;

/* The suites' fixture: nginx (tools/nginx.sh options opts) in a fresh
   temporary directory *dir, after mp_init (the forkserver comes before
   any thread of the test). Returns 0 or -1 (everything stopped). */
int h2u_nginx_up(tu_nginx *n, char **dir, const char *opts);

/* Stops what h2u_nginx_up started and removes *dir. */
void h2u_nginx_down(tu_nginx *n, char **dir);

/* Runs s in t, into o. */
void h2u_one(mp_task *t, const hspec *s, hseen *o);

/* An mp_task_fn: h2u_one of its hspec; returns the hseen. */
int h2u_one_task(mp_task *t, const void *in, size_t len);

/* Returns a spec for the native engine with want_headers: https to
   127.0.0.1:port (0: n's h2 port) and the path made from fmt, trusting
   n's certificate. */
hspec h2u_mk(const tu_nginx *n, int port, const char *fmt, ...)
    MP_PRINTF(3, 4);

/* Fails unless o is a native HTTP/2 answer with status. */
void h2u_expect(const hspec *s, const hseen *o, long status);

/* n specs at once as children of one task in a one-worker pool, after a
   first request (has_first) and before one more (has_after). */
typedef struct burst {
    hspec first;
    int has_first, n;
    unsigned join_ms[BURST]; /* mp_join's timeout per child; 0 = none */
    hspec s[BURST];
    hspec after;
    int has_after;
} burst;

typedef struct burst_out {
    hseen first, after;
    hseen o[BURST];
    int join_rc[BURST];
} burst_out;

/* An mp_task_fn: runs its burst; returns the burst_out. */
int h2u_burst_task(mp_task *t, const void *in, size_t len);

/* Runs b in a fresh one-worker pool; fills *out. */
void h2u_run_burst(const burst *b, burst_out *out);

/* The same request through libcurl (c) and the native engine (n). */
typedef struct dpair {
    hseen c, n;
} dpair;

/* An mp_task_fn: its hspec through libcurl, then the native engine;
   returns the dpair. */
int h2u_diff_task(mp_task *t, const void *in, size_t len);

/* Fails unless c (libcurl) and n (native) gave the same record: codes,
   status, version, sizes, final URL, head, body (bytes_down aside for a
   body refused over max_body: where each engine stopped reading). */
void h2u_compare(const hspec *s, const hseen *c, const hseen *n);

#endif
