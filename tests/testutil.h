/*
 * Helpers for the cmocka suites: the test HTTP server (mp-testserver),
 * nginx for end-to-end tests, free ports and scratch directories.
 *
 * Nothing here uses libmpool or curl. Processes are started with
 * posix_spawn (never a bare fork: a test may hold nanomsg sockets), with
 * default signal dispositions, an empty signal mask and no inherited fds
 * beyond 0-2.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A running mp-testserver. It exits when stopped, and also by itself as
 * soon as the test process dies (it holds a pipe to the server's stdin;
 * the server runs with --exit-on-stdin-eof). */
typedef struct tu_ts {
    pid_t pid;        /* 0 when not running */
    int port;
    int tls_port;     /* mp-badserver with --tls-cert: its TLS port */
    int stdin_fd;     /* write end of the server's stdin; -1 when closed */
    int ipv6;         /* started with --host ::1 */
    int exit_status;  /* wait status, filled by tu_ts_stop; -1 before */
    char base[64];    /* "http://127.0.0.1:PORT" or "http://[::1]:PORT" */
} tu_ts;

/* Starts mp-testserver with --exit-on-stdin-eof and extra_args (NULL or
 * whitespace-separated words, no quoting; e.g. "--procs 2"). The binary is
 * $MP_TEST_SERVER, else the build's tools/mp-testserver. Waits (10 s at most) for
 * its "PORT n" line. The function returns 0 with s filled, or -1 after a
 * message on stderr. */
int tu_ts_start(tu_ts *s, const char *extra_args);

/* Starts mp-badserver (tools/badserver: misbehaves on purpose, one path
 * per behaviour) like tu_ts_start: $MP_BAD_SERVER, else the build's. With
 * "--tls-cert F --tls-key K" in extra_args, s->tls_port is set too. Stop
 * it with tu_ts_stop. The function returns 0 or -1 after a message. */
int tu_bs_start(tu_ts *s, const char *extra_args);

/* Starts tools/h2reset/h2reset.py (HTTPS, HTTP/2 only, streams reset on
 * purpose; Debian's python3-h2) with that certificate and key, like
 * tu_ts_start: $MP_H2RESET, else the source tree's. The function returns
 * 0 or -1 (e.g. python3-h2 is missing). */
int tu_h2reset_start(tu_ts *s, const char *cert, const char *key);

/* Starts mp-testdns (tools/testdns: UDP 127.0.0.1; *.test answers
 * 127.0.0.1 and ::1, *.v4.test 127.0.0.1 only, *.silent.test never
 * answers, anything else is NXDOMAIN) like tu_ts_start: $MP_TEST_DNS,
 * else the build's; "--log FILE" in extra_args logs each question. Stop
 * it with tu_ts_stop. The function returns 0 or -1 after a message. */
int tu_dns_start(tu_ts *s, const char *extra_args);

/* Counts the questions of type ("A", "AAAA") for name in mp-testdns'
 * --log file. The function returns the count, or -1 if it cannot read
 * the file. */
long tu_dns_queries(const char *log, const char *type, const char *name);

/* Stops the server: SIGTERM, then SIGKILL if it has not exited within
 * 10 s; reaps it (s->exit_status) and closes the pipe. Safe to call twice
 * or after a failed start. */
void tu_ts_stop(tu_ts *s);

/* GETs path from the server over a raw HTTP/1.0 connection (10 s bound).
 * The function returns the HTTP status and stores the body, NUL-terminated
 * and malloc'd, in *body if body is not NULL (the caller frees it); it
 * returns -1 on failure. */
int tu_ts_http_get(const tu_ts *s, const char *path, char **body);

/* Reads /stats: accepted connections and served requests since start
 * (/stats traffic excluded; exact only with --procs 1). Either pointer may
 * be NULL. The function returns 0, or -1 on failure. */
int tu_ts_get_stats(tu_ts *s, long *connections, long *requests);

/* Like tu_ts_get_stats, for the number of connections open right now. */
int tu_ts_get_open(tu_ts *s, long *open);

/* Like tu_ts_get_stats, for the most connections open at once at a
   request since the previous /stats; and starts the next peak. */
int tu_ts_get_max_open(tu_ts *s, long *max_open);

/* Starts Debian's python3-httpbin (scripts/deps.sh) on a free port of
 * 127.0.0.1, its port in *port, and waits until it listens (up to 20 s).
 * The function returns its pid, or -1 if it is not installed or does not
 * come up (callers skip). Stop it with tu_httpbin_stop. */
pid_t tu_httpbin_start(int *port);
void tu_httpbin_stop(pid_t pid);

/* The function returns a TCP port on 127.0.0.1 that was free a moment
 * ago (bound to port 0, read, closed), or -1 on failure. */
int tu_free_port(void);

/* Returns a socket listening on 127.0.0.1 with backlog, its port in
 * *port, or -1. Connections to it complete in the kernel (up to backlog)
 * whether or not anyone accepts them. */
int tu_listen(int *port, int backlog);

/* Creates a fresh directory under $TMPDIR (or /tmp). The function returns
 * its path, malloc'd (the caller frees it), or NULL on failure. */
char *tu_tmpdir(void);

/* Removes dir and everything below it, without following symlinks. The
 * function returns 0, or -1 if something could not be removed. */
int tu_rm_rf(const char *dir);

/* Bounds on waits, so that a bug shows as a fast failure that says what
 * was waited for, not as a hang until ctest's timeout. Past a bound the
 * process writes "gave up waiting for WHAT after N s" to stderr and exits
 * 1 at once (a pool's processes die with it; tu_ts servers and nginx stop
 * by themselves).
 *
 * tu_bound arms a bound of seconds for the next blocking step; tu_unbound
 * ends it and re-arms the test's own bound (if any) for the time it has
 * left. what must stay valid while armed (a string literal). */
void tu_bound(unsigned seconds, const char *what);
void tu_unbound(void);

/* Processes a test started (negative: a process group), SIGKILLed when a
 * bound runs out and by tu_forked_kill_all (e.g. a cmocka teardown), so
 * nothing a test forked outlives it on any way out. Up to 8 at once. */
void tu_forked_add(pid_t pid);
void tu_forked_forget(pid_t pid);
int tu_forked_kill_all(void **state); /* a cmocka teardown; returns 0 */

/* Runs fn(in, len) as one task in p and copies its result, which must be
   exactly out_len bytes, into out. Returns 0, or -1 with why (at most
   why_len bytes) saying what went wrong (the call, the task's status, or
   the result's size). */
int tu_apply_copy(mp_pool *p, mp_task_fn fn, const void *in, size_t len,
                  void *out, size_t out_len, char *why, size_t why_len);

/* Destroys p (NULL is fine). The function returns how many of its
   workers died unasked (mp_pool_stats.workers_died): a suite asserts 0
   where a death is not the point, since the pool hides a crash (a new
   worker, the tasks re-run or ended as they would have ended). */
uint64_t tu_pool_destroy_deaths(mp_pool *p);

/* A host name that cannot resolve, and whose lookup fails before any
   packet leaves the machine (tests talk to loopback only): its first
   label is over DNS's 63 bytes, which the system's resolver, libcurl's
   and evdns all refuse locally. */
#define TU_BAD_NAME                                                           \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"   \
    ".invalid"

/* Unsets every variable libcurl and mp_http read a proxy from
   (http_proxy, HTTPS_PROXY, all_proxy, no_proxy... both cases), so a
   suite, or a worker's init, decides what is set. */
void tu_proxy_env_clear(void);

/* A whole cmocka test under one bound: TU_BOUNDED(fn, seconds) in the
 * test list instead of cmocka_unit_test(fn). Its teardown also kills what
 * the test left in tu_forked_add's list. */
typedef struct tu_bound_spec {
    const char *what;
    unsigned seconds;
} tu_bound_spec;
int tu_bound_setup(void **state);
int tu_bound_teardown(void **state);
#define TU_BOUNDED(fn, s)                                                  \
    {#fn, fn, tu_bound_setup, tu_bound_teardown,                           \
     (void *)&(const tu_bound_spec){"test " #fn " to finish", (s)}}

/* The function returns the parent of pid from /proc, or 0 if it cannot be
 * read. */
pid_t tu_parent_of(pid_t pid);

/* The function returns 1 once pid is gone (or a zombie awaiting its
 * reaper), else 0. */
int tu_gone(pid_t pid);

/* Waits (seconds at most, polling /proc) until every one of the n pids is
 * gone. The function returns how many remain. */
int tu_wait_gone(const pid_t *pids, int n, int seconds);

/* A running nginx (master_process on, one worker) serving dir/www:
 * /1k (1024 bytes), /256k (262144 bytes), /text (text/plain, a few KB,
 * gzip'd on request), /delay/100 ("ok" after 100 ms, when the echo module
 * is installed). */
typedef struct tu_nginx {
    pid_t pid;          /* the master; 0 when not running */
    int port;           /* HTTP/1.1 */
    int tls_port;       /* HTTPS with HTTP/2 (ALPN); 0 without tls */
    int tls1_port;      /* HTTPS, HTTP/1.1 only; 0 without tls */
    int tlsup_port;     /* TLS in front of --tls-upstream's port; or 0 */
    int has_echo;       /* /delay/100 is served */
    char dir[512];
    char cafile[560];   /* dir/cert.pem, self-signed for 127.0.0.1 and
                           localhost; "" without tls */
    pid_t watchdog;     /* stops nginx if the test process dies */
    int watch_fd;       /* write end of the watchdog's stdin */
} tu_nginx;

/* Runs tools/nginx.sh start dir [--tls] (the script the benchmarks use
 * too): it writes an nginx configuration, the files and (with tls) a
 * certificate into dir, which must exist, starts nginx and waits until its
 * ports accept connections (60 s bound on the whole). A watchdog process
 * stops nginx if the test process dies first. The function returns 0 with
 * n filled, or -1 after a message on stderr (also when nginx is not
 * installed: tests then skip). */
int tu_nginx_start(tu_nginx *n, const char *dir, int tls);

/* Like tu_nginx_start with nginx.sh's options opts (NULL or
 * whitespace-separated words: "--tls", "--tls-upstream PORT", "--log").
 * The function returns 0, or -1 after a message (also when nginx or the
 * stream module is not installed: tests then skip). */
int tu_nginx_start_opts(tu_nginx *n, const char *dir, const char *opts);

/* Stops nginx (tools/nginx.sh stop: SIGTERM, SIGKILL after 10 s). Safe to
 * call twice or after a failed start. */
void tu_nginx_stop(tu_nginx *n);

#ifdef __cplusplus
}
#endif

#endif /* TESTUTIL_H */
