/*
 * End-to-end tests of the mpfetch binary ($MP_MPFETCH) against
 * mp-testserver on loopback: the records (one per input line, exactly
 * once, right fields), --ordered, --body, --rate, --shard, a worker killed
 * mid-run, SIGINT then --resume, and option errors. No sleep synchronizes
 * anything: runs are awaited, and mid-run events are triggered by polling
 * the output file for growth in bounded loops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "mpfetch_e2e.h"
#include "mpool.h"
#include "testutil.h"
#include "mpfetch_fixture.h"

/* Asserts the records in path are lines 1..n, each exactly once. */
static json_t *assert_all_lines(const char *path, size_t n)
{
    json_t *recs = e2e_records(path);
    assert_non_null(recs);
    long long *lines = malloc(n * sizeof(*lines));
    for (size_t i = 0; i < n; i++)
        lines[i] = (long long)i + 1;
    e2e_assert_exactly(recs, lines, n, (long long)n);
    free(lines);
    return recs;
}

/* Builds the mixed input (see the table in test_mixed_batch). */
static void write_mixed(int refused_port)
{
    char *text = NULL, *big;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *b = g.ts.base;
    fprintf(f, "%s/ok\n\n# a comment\n%s/status/404\n", b, b);
    fprintf(f, "http://127.0.0.1:%d/ok\n%s/hang\nnot a url\n", refused_port,
            b);
    fprintf(f, "{\"url\":\"%s/echo\",\"id\":\"abc\",\"method\":\"POST\","
               "\"body\":\"hi\"}\n{\"url\":\n", b);
    fprintf(f, "%s/bytes/100\n   # indented comment\n", b);
    fprintf(f, "{\"url\":\"%s/ok\",\"id\":42}\n", b);
    big = malloc((3u << 19) + 1);
    memset(big, 'a', 3u << 19);
    big[3u << 19] = '\0';
    fprintf(f, "%s/%s\n", b, big); /* line 13: 1.5 MiB */
    fprintf(f, "%s/ok", b);        /* line 14: no final newline */
    free(big);
    fclose(f);
    assert_int_equal(e2e_write_file(g.in, text, len), 0);
    free(text);
}

/* Asserts the record for line has this status, ok and error code. */
static void expect(json_t *recs, long long line, int status, int ok,
                   const char *code)
{
    json_t *r = e2e_by_line(recs, line);
    assert_non_null(r);
    if (status >= 0)
        assert_int_equal(json_integer_value(json_object_get(r, "status")),
                         status);
    assert_int_equal(json_is_true(json_object_get(r, "ok")), ok);
    assert_string_equal(e2e_error_code(r), code);
}

/*
 * Lines: 1 /ok, 2 blank, 3 comment, 4 /status/404, 5 refused port,
 * 6 /hang (--timeout 0.5), 7 "not a url", 8 JSON POST /echo id "abc",
 * 9 broken JSON, 10 /bytes/100, 11 indented comment, 12 JSON id 42,
 * 13 a 1.5 MiB line, 14 /ok without a final newline.
 */
static void test_mixed_batch(void **state)
{
    (void)state;
    NEED_BIN();
    write_mixed(tu_free_port());
    char *argv[] = {(char *)g.bin, "-w", "2", "-c", "8", "--timeout", "0.5",
                    "--summary-json", g.sum, g.in, NULL};
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
    e2e_assert_no_death(g.sum);
    json_t *recs = e2e_records(g.out);
    assert_non_null(recs);
    const long long want[] = {1, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14};
    e2e_assert_exactly(recs, want, 11, 14);
    expect(recs, 1, 200, 1, "");
    expect(recs, 4, 404, 0, "");
    expect(recs, 5, 0, 0, "MP_ECONNREFUSED");
    expect(recs, 6, 0, 0, "MP_ETIMEDOUT");
    expect(recs, 7, 0, 0, "MP_EINPUT");
    expect(recs, 8, 200, 1, "");
    expect(recs, 9, 0, 0, "MP_EINPUT");
    expect(recs, 10, 200, 1, "");
    expect(recs, 13, 0, 0, "MP_E2BIG");
    expect(recs, 14, 200, 1, "");
    json_t *r8 = e2e_by_line(recs, 8), *r12 = e2e_by_line(recs, 12);
    assert_string_equal(e2e_str(r8, "id"), "abc");
    assert_string_equal(e2e_str(r8, "method"), "POST");
    assert_int_equal(json_integer_value(json_object_get(r12, "id")), 42);
    assert_int_equal(json_integer_value(json_object_get(
                         e2e_by_line(recs, 10), "bytes")), 100);
    assert_true(json_is_null(json_object_get(e2e_by_line(recs, 13), "url")));
    /* input errors name their line, the long line's as the others */
    static const long long named[] = {7, 9, 13};
    for (size_t i = 0; i < 3; i++) {
        char pre[32];
        snprintf(pre, sizeof(pre), "line %lld: ", named[i]);
        const char *msg = e2e_str(json_object_get(e2e_by_line(recs,
                                  named[i]), "error"), "message");
        assert_non_null(msg);
        if (strncmp(msg, pre, strlen(pre)) != 0)
            fail_msg("line %lld's message lacks \"%s\": %s", named[i], pre,
                     msg);
    }
    char *err = e2e_slurp(g.err, NULL);
    assert_non_null(strstr(err, "11 records"));
    free(err);
    json_decref(recs);
}

/* --fail-on-http-error: 22 when a record is not ok, else 0. */
static void test_fail_on_http_error(void **state)
{
    (void)state;
    NEED_BIN();
    char *argv[] = {(char *)g.bin, "-w", "1", "-q", "--fail-on-http-error",
                    g.in, NULL};
    write_urls(3, "/ok?%u");
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
    write_urls(3, "/status/50%u");
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 22);
    assert_int_equal(e2e_count_lines(g.out), 3);
}

/* --ordered, input through a pipe: lines strictly increasing, all there,
   although the delays make them finish out of order. */
static void test_ordered_from_pipe(void **state)
{
    (void)state;
    NEED_BIN();
    write_urls(150, "/delay/%2$u?%1$u");
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char *argv[] = {(char *)g.bin, "-w", "2", "-c", "16", "--ordered", "-",
                    NULL};
    pid_t pid = e2e_spawn_fd(argv, NULL, p[0], g.out, g.err);
    assert_true(pid > 0);
    close(p[0]);
    size_t len = 0;
    char *text = e2e_slurp(g.in, &len);
    assert_non_null(text);
    for (size_t off = 0; off < len;) { /* in two writes: a slow producer */
        size_t n = off ? len - off : len / 2;
        ssize_t k = write(p[1], text + off, n);
        assert_true(k > 0);
        off += (size_t)k;
    }
    close(p[1]);
    free(text);
    assert_int_equal(e2e_wait(pid, E2E_RUN_TIMEOUT_S), 0);
    json_t *recs = assert_all_lines(g.out, 150);
    size_t i;
    json_t *r;
    long long prev = 0;
    json_array_foreach(recs, i, r) {
        assert_true(e2e_line_of(r) > prev);
        prev = e2e_line_of(r);
    }
    json_decref(recs);
}

/* Runs sha256sum on path. Returns the hex digest, malloc'd. */
static char *sha256_of(const char *path)
{
    char out[700];
    e2e_path(out, sizeof(out), g.dir, "sha.txt");
    char *argv[] = {"/usr/bin/sha256sum", (char *)path, NULL};
    assert_int_equal(e2e_run(argv, NULL, out, NULL), 0);
    char *s = e2e_slurp(out, NULL);
    assert_non_null(s);
    s[64] = '\0';
    return s;
}

/* --body inline, dir:PATH and sha256 agree with the server's bytes. */
static void test_body_modes(void **state)
{
    (void)state;
    NEED_BIN();
    char *ref = NULL, body_arg[700], ref_path[700];
    assert_int_equal(tu_ts_http_get(&g.ts, "/bytes/3000", &ref), 200);
    e2e_path(ref_path, sizeof(ref_path), g.dir, "ref.bin");
    assert_int_equal(e2e_write_file(ref_path, ref, 3000), 0);
    write_urls(2, "/bytes/3000?%u");
    const char *modes[3] = {"inline", "sha256", body_arg};
    snprintf(body_arg, sizeof(body_arg), "dir:%s/bodies", g.dir);
    char *sha = sha256_of(ref_path);
    for (int m = 0; m < 3; m++) {
        char *argv[] = {(char *)g.bin, "-w", "1", "--body", (char *)modes[m],
                        g.in, NULL};
        assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
        json_t *recs = assert_all_lines(g.out, 2);
        for (long long l = 1; l <= 2; l++) {
            json_t *r = e2e_by_line(recs, l);
            if (m == 0)
                assert_string_equal(e2e_str(r, "body"), ref);
            if (m == 1)
                assert_string_equal(e2e_str(r, "sha256"), sha);
            if (m == 2) {
                const char *f = e2e_str(r, "body_file");
                size_t n = 0;
                char *got = e2e_slurp(f, &n);
                assert_int_equal(n, 3000);
                assert_memory_equal(got, ref, 3000);
                free(got);
            }
        }
        json_decref(recs);
    }
    free(sha);
    free(ref);
}

/*
 * --rate R: no run of N requests can end sooner than the limit allows.
 * The bound is N <= R * elapsed + R (one second's worth of burst), with
 * elapsed measured around the whole run, so a slow machine only makes it
 * looser: this never fails for being slow.
 */
static void test_rate_bound(void **state)
{
    (void)state;
    NEED_BIN();
    const double rate = 100;
    const size_t n = 250;
    write_urls(n, "/ok?%u");
    char *argv[] = {(char *)g.bin, "-w", "2", "--rate", "100", g.in, NULL};
    double t0 = e2e_now();
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
    double elapsed = e2e_now() - t0;
    json_decref(assert_all_lines(g.out, n));
    fprintf(stderr, "rate test: %zu requests at --rate %.0f took %.2f s\n",
            n, rate, elapsed);
    assert_true((double)n <= rate * elapsed + rate);
}

/* More connections than the soft limit on open files allows: mpfetch
   raises it (to the hard limit), so every request still succeeds. */
static void test_many_connections_low_fd_limit(void **state)
{
    (void)state;
    NEED_BIN();
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 1024)
        skip(); /* the hard limit itself is too low to show anything */
    write_urls(600, "/delay/200?%u");
    low = old;
    low.rlim_cur = 128; /* mpfetch inherits this soft limit */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    char *argv[] = {(char *)g.bin, "-w", "1", "-c", "500", g.in, NULL};
    int rc = e2e_run(argv, NULL, g.out, g.err);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(rc, 0);
    json_t *recs = assert_all_lines(g.out, 600);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
        assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(recs);
}

/* The FNV-1a 64 hash --shard documents. */
static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

/* --shard K/3 for K = 1..3: disjoint, together the whole input, and each
   line where the documented hash puts it. */
static void test_shard_union(void **state)
{
    (void)state;
    NEED_BIN();
    const size_t n = 90;
    write_urls(n, "/ok?n=%u");
    json_t *all = json_array();
    for (int k = 1; k <= 3; k++) {
        char shard[16];
        snprintf(shard, sizeof(shard), "%d/3", k);
        char *argv[] = {(char *)g.bin, "-w", "2", "--shard", shard, g.in,
                        NULL};
        assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
        json_t *recs = e2e_records(g.out);
        assert_non_null(recs);
        assert_true(json_array_size(recs) > 0);
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r) {
            const char *u = e2e_str(r, "url");
            assert_int_equal(fnv1a64(u, strlen(u)) % 3, (uint64_t)k - 1);
        }
        json_array_extend(all, recs);
        json_decref(recs);
    }
    long long lines[90];
    for (size_t i = 0; i < n; i++)
        lines[i] = (long long)i + 1;
    e2e_assert_exactly(all, lines, n, (long long)n);
    json_decref(all);
}

/*
 * Returns a worker of root: a descendant at depth 2 or more with no
 * children of its own (mpfetch -> forkserver(s) -> workers; workers run
 * curl in-process and fork nothing). Returns -1 if there is none.
 */
static pid_t find_worker(pid_t root)
{
    e2e_proc ps[E2E_MAX_PROCS];
    int n = e2e_descendants(root, ps, E2E_MAX_PROCS);
    for (int i = 0; i < n; i++)
        if (ps[i].depth >= 2 && ps[i].leaf)
            return ps[i].pid;
    return -1;
}

/* Waits (bounded) until path has at least n lines. Returns the count. */
static size_t wait_lines(const char *path, size_t n)
{
    size_t have = 0;
    for (int i = 0; i < 6000 && (have = e2e_count_lines(path)) < n; i++)
        e2e_nap(5);
    return have;
}

/* SIGKILL of one worker mid-run: still exactly one record per input, and
   the summaries say one worker died (the JSON's workers_died, the warning
   line of the human one). */
static void test_worker_killed(void **state)
{
    (void)state;
    NEED_BIN();
    const size_t n = 600;
    write_urls(n, "/delay/50?%u");
    char *argv[] = {(char *)g.bin, "-w", "2", "-c", "8", "-o", g.out,
                    "--summary-json", g.sum, g.in, NULL};
    unlink(g.out);
    pid_t pid = e2e_spawn(argv, NULL, NULL, g.err);
    assert_true(pid > 0);
    size_t before = wait_lines(g.out, 20);
    assert_in_range(before, 20, n - 1);
    pid_t w = find_worker(pid);
    assert_true(w > 0);
    assert_int_equal(kill(w, SIGKILL), 0);
    assert_true(e2e_count_lines(g.out) < n); /* killed mid-run */
    assert_int_equal(e2e_wait(pid, E2E_RUN_TIMEOUT_S), 0);
    json_decref(assert_all_lines(g.out, n));
    assert_int_equal(e2e_summary_int(g.sum, "workers_died"), 1);
    char *err = e2e_slurp(g.err, NULL);
    assert_non_null(err);
    if (!strstr(err, "warning: workers died: 1 ("))
        fail_msg("no worker death in the summary: %s", err);
    free(err);
}

/* SIGINT mid-run exits 130 with fewer records; --resume (after a torn
   line) completes the set with no duplicate and exits 0. */
static void test_sigint_then_resume(void **state)
{
    (void)state;
    NEED_BIN();
    const size_t n = 600;
    write_urls(n, "/delay/50?%u");
    char *argv[] = {(char *)g.bin, "-w", "2", "-c", "8", "-o", g.out, g.in,
                    NULL};
    unlink(g.out);
    pid_t pid = e2e_spawn(argv, NULL, NULL, g.err);
    assert_true(pid > 0);
    assert_in_range(wait_lines(g.out, 10), 10, n - 1);
    assert_int_equal(kill(pid, SIGINT), 0);
    assert_int_equal(e2e_wait(pid, E2E_RUN_TIMEOUT_S), 130);
    size_t first = e2e_count_lines(g.out);
    assert_in_range(first, 10, n - 1);
    json_decref(e2e_records(g.out)); /* whole lines only */
    FILE *f = fopen(g.out, "a");     /* a crash's torn last record */
    fputs("{\"line\":1,\"url\":\"torn", f);
    fclose(f);
    char *again[] = {(char *)g.bin, "-w", "2", "-c", "8", "--resume", "-o",
                     g.out, g.in, NULL};
    assert_int_equal(e2e_run(again, NULL, NULL, g.err), 0);
    json_decref(assert_all_lines(g.out, n));
}

/* Runs mpfetch with one bad option. Asserts exit 2 and a message on stderr
   that holds want. */
static void expect_usage_error(const char *opt, const char *val,
                               const char *want)
{
    char *argv[] = {(char *)g.bin, (char *)opt, (char *)val, g.in, NULL};
    if (!val) {
        argv[2] = g.in;
        argv[3] = NULL;
    }
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 2);
    char *err = e2e_slurp(g.err, NULL);
    assert_non_null(err);
    if (!strstr(err, want))
        fprintf(stderr, "stderr was: %s", err);
    assert_non_null(strstr(err, want));
    free(err);
}

/* Option errors: exit 2 with a sentence naming the bad value. */
static void test_option_errors(void **state)
{
    (void)state;
    NEED_BIN();
    write_urls(1, "/ok?%u");
    expect_usage_error("-w", "0", "--workers must be at least 1, got 0");
    expect_usage_error("--shard", "4/3", "got 4/3");
    expect_usage_error("--body", "bogus", "\"bogus\"");
    expect_usage_error("--timeout", "soon", "\"soon\"");
    expect_usage_error("-H", "NoColon", "\"NoColon\"");
    /* The fetch task's own rules (fetch_method_name, fetch_header_ok,
       fetch_body_mode): refused here, not by every worker later. */
    expect_usage_error("-X", "PROPFIND", "got \"PROPFIND\"");
    expect_usage_error("-X", "GET /", "got \"GET /\"");
    expect_usage_error("-H", "Bad Name: v", "\"Bad Name: v\"");
    expect_usage_error("--body", "dir:", "\"dir:\"");
    expect_usage_error("--body", "inline:x", "\"inline:x\"");
    expect_usage_error("--resume", NULL, "--resume needs -o");
    expect_usage_error("--cacert", "", "--cacert must name a file");
    expect_usage_error("--proxy-cacert", "", "--proxy-cacert must name a file");
    expect_usage_error("--proxy-cacert", "/nonexistent/ca.pem",
                       "--proxy-cacert file /nonexistent/ca.pem cannot be read");
    expect_usage_error("--frobnicate", NULL, "--frobnicate");
    /* libmpool's limits (issue #9.5), named, and the same in --help */
    char want[160];
    snprintf(want, sizeof(want), "--workers must be at most %d (libmpool's "
             "limit, MP_MAX_WORKERS), got %d", MP_MAX_WORKERS,
             MP_MAX_WORKERS + 88);
    char w_big[16], w_max[16], c_max[16];
    snprintf(w_big, sizeof(w_big), "%d", MP_MAX_WORKERS + 88);
    snprintf(w_max, sizeof(w_max), "%d", MP_MAX_WORKERS);
    snprintf(c_max, sizeof(c_max), "%d", MP_MAX_CONCURRENCY);
    expect_usage_error("-w", w_big, want);
    expect_usage_error("-c", "100000", "(libmpool's limit, "
                                       "MP_MAX_CONCURRENCY), got 100000");
    char *both[] = {(char *)g.bin, "-w", w_max, "-c", c_max, g.in, NULL};
    assert_int_equal(e2e_run(both, NULL, g.out, g.err), 2);
    char *err = e2e_slurp(g.err, NULL);
    assert_non_null(strstr(err, "MP_MAX_POOL_TASKS"));
    free(err);
    char *help[] = {(char *)g.bin, "--help", NULL};
    assert_int_equal(e2e_run(help, NULL, g.out, g.err), 0);
    char *text = e2e_slurp(g.out, NULL), line[64];
    snprintf(line, sizeof(line), "at most %d)", MP_MAX_WORKERS);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof(line), "at most %d;", MP_MAX_CONCURRENCY);
    assert_non_null(strstr(text, line));
    free(text);
}

/* URLs as arguments, as curl and wget take them: fetched, one record each,
   line N the N-th URL, options before, between and after them. A URL
   beside a FILE is refused by name. Before, the URL was taken for a file
   name: "could not open the input file http://...", exit 1. */
static void test_url_arguments(void **state)
{
    (void)state;
    NEED_BIN();
    char u[3][300];
    snprintf(u[0], sizeof(u[0]), "%s/ok?a=1", g.ts.base);
    snprintf(u[1], sizeof(u[1]), "%s/status/404", g.ts.base);
    snprintf(u[2], sizeof(u[2]), "%s/bytes/7", g.ts.base);
    char *argv[] = {(char *)g.bin, u[0], "-w", "1", u[1], "-q", u[2], NULL};
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
    json_t *recs = assert_all_lines(g.out, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(e2e_str(e2e_by_line(recs, i + 1), "url"), u[i]);
    expect(recs, 1, 200, 1, "");
    expect(recs, 2, 404, 0, "");
    expect(recs, 3, 200, 1, "");
    json_decref(recs);

    char *one[] = {(char *)g.bin, "-q", "-o", g.out, u[0], NULL};
    assert_int_equal(e2e_run(one, NULL, NULL, g.err), 0);
    recs = assert_all_lines(g.out, 1);
    json_decref(recs);

    write_urls(1, "/ok?%u");
    char *mixed[] = {(char *)g.bin, u[0], g.in, NULL};
    assert_int_equal(e2e_run(mixed, NULL, g.out, g.err), 2);
    char *err = e2e_slurp(g.err, NULL);
    assert_non_null(strstr(err, "not both"));
    assert_non_null(strstr(err, g.in));
    free(err);
}

/* -X takes any case and sends the canonical method the fetch task knows. */
static void test_request_method(void **state)
{
    (void)state;
    NEED_BIN();
    write_urls(1, "/echo?%u");
    char *argv[] = {(char *)g.bin, "-w", "1", "-q", "-X", "put", "--body",
                    "inline", g.in, NULL};
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
    json_t *recs = assert_all_lines(g.out, 1);
    json_t *r = e2e_by_line(recs, 1);
    assert_string_equal(e2e_str(r, "method"), "PUT");
    json_t *echo = json_loads(e2e_str(r, "body"), 0, NULL);
    assert_non_null(echo);
    assert_string_equal(e2e_str(echo, "method"), "PUT");
    json_decref(echo);
    json_decref(recs);
}

/* ---- the progress line on a terminal (a pty) ---------------------------- */

/* What mpfetch wrote on its terminal, and where the last check ended. */
typedef struct pty_out {
    char buf[1 << 16];
    size_t len;
} pty_out;

/* Reads what the pty master fd has within 100 ms into o. Returns 0, or -1
   at its end (the child closed it, EIO) or when o is full. */
static int pty_read(int fd, pty_out *o)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0)
        return 0;
    ssize_t k = read(fd, o->buf + o->len, sizeof(o->buf) - 1 - o->len);
    if (k <= 0)
        return -1;
    o->len += (size_t)k;
    o->buf[o->len] = '\0';
    return o->len + 1 < sizeof(o->buf) ? 0 : -1;
}

/* Returns the longest of the pieces of o->buf from `from` on between '\r'
   and '\n' (what a terminal shows on one row); the first such piece
   holding want (NULL: any) in *hit (NULL if none). */
static size_t pty_widest(const pty_out *o, size_t from, const char *want,
                         const char **hit)
{
    size_t widest = 0;
    *hit = NULL;
    for (size_t i = from; i < o->len;) {
        size_t j = i;
        while (j < o->len && o->buf[j] != '\r' && o->buf[j] != '\n')
            j++;
        if (j - i > widest)
            widest = j - i;
        if (!*hit && j > i && (!want || memmem(o->buf + i, j - i, want,
                                                strlen(want))))
            *hit = o->buf + i;
        i = j + 1;
    }
    return widest;
}

/* Reads o until a piece from `from` on holds want (bounded: 60 s). Returns
   1 when one did, else 0. */
static int pty_until(int fd, pty_out *o, size_t from, const char *want)
{
    const char *hit = NULL;
    for (int i = 0; i < 600; i++) {
        pty_widest(o, from, want, &hit);
        if (hit || pty_read(fd, o) < 0)
            break;
    }
    pty_widest(o, from, want, &hit);
    return hit != NULL;
}

/* Writes n URL lines to fd (a FIFO mpfetch reads). */
static void feed(int fd, int n)
{
    char line[300];
    for (int i = 0; i < n; i++) {
        int k = snprintf(line, sizeof line, "%s/ok?%d\n", g.ts.base, i);
        assert_int_equal(write(fd, line, (size_t)k), k);
    }
}

/*
 * Issue #21: on a terminal 20 columns wide the progress line never takes
 * more than 19 (it wrapped and left a row per redraw: "5 done, 12 req/s,
 * 0 failed" is 25), in the summary's words; after TIOCSWINSZ to 100
 * columns and SIGWINCH, it widens to show the rate. mpfetch runs on a pty
 * (forkpty) and reads a FIFO the test feeds, so each phase waits for what
 * it looks for, never for a time.
 */
static void test_progress_fits_terminal(void **state)
{
    (void)state;
    NEED_BIN();
    char fifo[700];
    e2e_path(fifo, sizeof fifo, g.dir, "progress.fifo");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 20};
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(g.bin, g.bin, "--progress", "-w", "1", "-o", g.out, fifo,
              (char *)NULL);
        _exit(127);
    }
    int fd = -1;
    for (int i = 0; i < 3000 && fd < 0; i++) { /* mpfetch opens it */
        fd = open(fifo, O_WRONLY | O_NONBLOCK);
        if (fd < 0)
            e2e_nap(10);
    }
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
    static pty_out o;
    o.len = 0;
    const char *hit;

    feed(fd, 5);
    int seen = pty_until(master, &o, 0, "5 done");
    size_t narrow = pty_widest(&o, 0, NULL, &hit);
    if (!seen || narrow > 19)
        fprintf(stderr, "at 20 columns: %s\n", o.buf);
    assert_true(seen);
    assert_true(narrow <= 19);
    assert_non_null(strstr(o.buf, "failed 0")); /* the summary's words */

    ws.ws_col = 100;
    assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);
    kill(pid, SIGWINCH); /* the kernel sends one too, to the foreground */
    size_t mark = o.len;
    feed(fd, 5);
    seen = pty_until(master, &o, mark, "req/s");
    size_t wide = pty_widest(&o, mark, "req/s", &hit);
    if (!seen)
        fprintf(stderr, "at 100 columns: %s\n", o.buf + mark);
    assert_true(seen);
    assert_true(wide > 19 && wide <= 99);

    close(fd); /* end of input: the run ends; its terminal is drained
                  meanwhile, so no write to it can block */
    int st = -1;
    for (int i = 0; i < 600; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        st = -1;
        if (pty_read(master, &o) < 0) {
            o.len = 0; /* full, or closed: keep draining */
            e2e_nap(100);
        }
    }
    if (st == -1)
        kill(pid, SIGKILL);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    close(master);
    json_t *recs = e2e_records(g.out);
    assert_non_null(recs);
    assert_int_equal(json_array_size(recs), 10);
    json_decref(recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_option_errors, 150),
        TU_BOUNDED(test_request_method, 150),
        TU_BOUNDED(test_url_arguments, 150),
        TU_BOUNDED(test_mixed_batch, 150),
        TU_BOUNDED(test_fail_on_http_error, 150),
        TU_BOUNDED(test_ordered_from_pipe, 150),
        TU_BOUNDED(test_body_modes, 150),
        TU_BOUNDED(test_rate_bound, 150),
        TU_BOUNDED(test_many_connections_low_fd_limit, 150),
        TU_BOUNDED(test_shard_union, 150),
        TU_BOUNDED(test_worker_killed, 150),
        TU_BOUNDED(test_sigint_then_resume, 150),
        TU_BOUNDED(test_progress_fits_terminal, 150),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
