/*
 * The fixture the mpfetch end-to-end suites share (test_mpfetch.c,
 * test_mpfetch_faults.c): one test server for the suite, a scratch
 * directory with the input, output, stderr and --summary-json files,
 * and the input writer. Header-only, like mpfetch_e2e.h: each suite is its own
 * executable. Include after mpfetch_e2e.h and testutil.h.
 */
#ifndef MPFETCH_FIXTURE_H
#define MPFETCH_FIXTURE_H

typedef struct fixture {
    tu_ts ts;
    char *dir;
    const char *bin;
    char in[600], out[600], err[600], sum[600];
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
    e2e_path(g.sum, sizeof(g.sum), g.dir, "summary.json");
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

/* Skips the test when the binary is not there. */
#define NEED_BIN()                                                          \
    do {                                                                    \
        if (!g.bin) {                                                       \
            fprintf(stderr, "MP_MPFETCH not set; skipping\n");              \
            skip();                                                         \
        }                                                                   \
    } while (0)

/* Writes n lines "BASE/PATH" to g.in, PATH built by fmt from i (i from 1)
   and, for a second %u, i * 7 % 40 (a spread of delays). */
static void write_urls(size_t n, const char *fmt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    for (size_t i = 1; i <= n; i++) {
        fputs(g.ts.base, f);
        fprintf(f, fmt, (unsigned)i, (unsigned)(i * 7 % 40));
        fputc('\n', f);
    }
    fclose(f);
    assert_int_equal(e2e_write_file(g.in, text, len), 0);
    free(text);
}

#endif
