/*
 * End-to-end tests of mpfetch ($MP_MPFETCH) against mp-testserver under the
 * faults of issue #9: stop signals sent to the whole process group, then
 * --resume. Every wait is bounded and fails with a message; nothing sleeps
 * to synchronize (mid-run moments are found by polling the output).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mpfetch_e2e.h"
#include "testutil.h"

typedef struct fixture {
    tu_ts ts;
    char *dir;
    const char *bin;
    char in[600], out[600], err[600];
} fixture;

static fixture g;

/* Starts the test server once for the suite. Returns 0 or -1. */
static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    g.bin = e2e_mpfetch();
    g.dir = tu_tmpdir();
    if (!g.dir || tu_ts_start(&g.ts, NULL) != 0)
        return -1;
    e2e_path(g.in, sizeof(g.in), g.dir, "in.txt");
    e2e_path(g.out, sizeof(g.out), g.dir, "out.jsonl");
    e2e_path(g.err, sizeof(g.err), g.dir, "err.txt");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_ts_stop(&g.ts);
    if (g.dir)
        tu_rm_rf(g.dir);
    free(g.dir);
    return 0;
}

#define NEED_BIN()                                                          \
    do {                                                                    \
        if (!g.bin) {                                                       \
            fprintf(stderr, "MP_MPFETCH not set; skipping\n");              \
            skip();                                                         \
        }                                                                   \
    } while (0)

/* Writes n lines "BASE" + fmt(i) (i from 1) to g.in. */
static void write_urls(size_t n, const char *fmt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    for (size_t i = 1; i <= n; i++) {
        fputs(g.ts.base, f);
        fprintf(f, fmt, (unsigned)i);
        fputc('\n', f);
    }
    fclose(f);
    assert_int_equal(e2e_write_file(g.in, text, len), 0);
    free(text);
}

/* Prints stderr of the last run (on a failure, to see why). */
static void show_err(void)
{
    char *e = e2e_slurp(g.err, NULL);
    fprintf(stderr, "mpfetch stderr: %s\n", e ? e : "(none)");
    free(e);
}

/* Waits (bounded, 30 s) until path has more than n lines. Returns the
   count. */
static size_t wait_more_lines(const char *path, size_t n)
{
    size_t have = 0;
    for (int i = 0; i < 6000 && (have = e2e_count_lines(path)) <= n; i++)
        e2e_nap(5);
    return have;
}

/* Waits (bounded, 10 s) until no process of group pgid is left. Returns 0,
   or -1 if one still runs. */
static int wait_group_gone(pid_t pgid)
{
    for (int i = 0; i < 2000; i++) {
        if (kill(-pgid, 0) != 0 && errno == ESRCH)
            return 0;
        e2e_nap(5);
    }
    return -1;
}

/* Asserts out holds exactly one record for each of lines 1..n and none of
   them is MP_EWORKER. */
static void assert_complete_no_eworker(size_t n)
{
    json_t *recs = e2e_records(g.out), *r;
    size_t i;
    assert_non_null(recs);
    long long *lines = malloc(n * sizeof(*lines));
    assert_non_null(lines);
    for (i = 0; i < n; i++)
        lines[i] = (long long)i + 1;
    e2e_assert_exactly(recs, lines, n, (long long)n);
    json_array_foreach(recs, i, r) {
        if (strcmp(e2e_error_code(r), "MP_EWORKER") == 0)
            fail_msg("line %lld got MP_EWORKER", e2e_line_of(r));
        assert_true(json_is_true(json_object_get(r, "ok")));
    }
    free(lines);
    json_decref(recs);
}

/*
 * Issue #9.1: SIGTERM (and SIGHUP) to mpfetch's whole process group mid-run,
 * the way timeout(1), systemd or a closed terminal stop a job, ten times in
 * a row, each run resuming the last. The forkservers and workers must not
 * die of it (the pool would fail every task they held with MP_EWORKER, a
 * record --resume never runs again): every stopped run exits 130, leaves no
 * process behind, and after a last --resume every line has exactly one
 * record, none MP_EWORKER.
 */
static void test_group_sigterm_then_resume(void **state)
{
    (void)state;
    NEED_BIN();
    const size_t n = 400;
    write_urls(n, "/delay/300?%u");
    unlink(g.out);
    char *argv[] = {(char *)g.bin, "-w", "2", "-c", "16", "-q", "--resume",
                    "-o", g.out, g.in, NULL};
    int stopped = 0;
    for (int k = 0; k < 10; k++) {
        size_t before = e2e_count_lines(g.out);
        pid_t pid = e2e_spawn_pgroup(argv, NULL, NULL, g.err);
        assert_true(pid > 0);
        /* mid-run: after a few more records (more each round), while the
           workers hold requests */
        size_t now = wait_more_lines(g.out, before + (size_t)k);
        int sig = k % 3 == 2 ? SIGHUP : SIGTERM;
        if (now < n && kill(-pid, sig) != 0)
            fail_msg("kill(-%d): %s", (int)pid, strerror(errno));
        int st = e2e_wait(pid, E2E_RUN_TIMEOUT_S);
        if (wait_group_gone(pid) != 0)
            fail_msg("round %d: processes of group %d are left", k, (int)pid);
        if (st == 0 && e2e_count_lines(g.out) == n)
            break; /* it finished before the signal */
        if (st != 130)
            show_err();
        assert_int_equal(st, 130);
        stopped++;
        json_decref(e2e_records(g.out)); /* whole records only */
    }
    assert_true(stopped >= 3);
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 0);
    assert_complete_no_eworker(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_sigterm_then_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
