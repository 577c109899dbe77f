/*
 * test_badserver: mpfetch (the real binary) against mp-badserver, a server
 * that misbehaves on purpose. Every row of the tables below is one input
 * line; one run carries the rows that need the same options, each followed
 * by a good line (/ok), and the test asserts, from the records:
 *  - each bad line ends with exactly the error code of its row (the table
 *    of mpool.h's mp_http / README "Records");
 *  - every good line is ok: a misbehaving server stops no other request;
 *  - no request took longer than its timeout (time.total, measured by the
 *    transfer itself, within the run's --timeout or --speed-time plus a
 *    margin for a loaded machine), and none kept more than --max-body;
 *  - one record per line, and mpfetch exits 0.
 * With an mpfetch that has --engine, every run is made for each engine its
 * --help names among curl and native (or $MP_TEST_ENGINES,
 * space-separated). Every engine must run the plain rows; a forced engine
 * may refuse a run's other options (MP_EINVAL "... cannot ..."), and then
 * those rows are reported, not checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mpfetch_e2e.h"
#include "testutil.h"

#define TIMEOUT_S 8          /* run A's --timeout: the good lines share it */
#define SPEED_TIME_S 4       /* run B's --speed-time: the good lines too */
#define MAX_BODY (1 << 20)   /* --max-body */
#define MARGIN_S 10.0        /* scheduling slack on a loaded machine */
#define MAX_ENGINES 4

/* Where a row's URL points. */
enum { PLAIN, TLS_ON_PLAIN, TLS_WRONG_NAME };

/* What a row's run needs beyond --timeout and --max-body. */
enum { NEEDS_NOTHING, NEEDS_L, NEEDS_COMPRESSED, NEEDS_CACERT, N_NEEDS };

typedef struct row {
    const char *path;   /* on mp-badserver */
    const char *method; /* NULL: GET */
    int port;           /* PLAIN, TLS_ON_PLAIN or TLS_WRONG_NAME */
    int needs;          /* NEEDS_*: the rows of one run share it */
    const char *code;   /* expected error.code; NULL: no error */
    long status;        /* expected status; -1: any */
    const char *words;  /* expected in error.message; NULL: anything */
} row;

/* Runs A: --timeout 8 --max-body 1M, plus -L, --compressed or --cacert (a
   certificate for another name) in the run of the rows that need it. The
   issue's table first, then the extra behaviours, then the limits from
   both sides. */
static const row rows_a[] = {
    {"/not-http", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", 0, NULL},
    {"/huge-header", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1, "MP_HTTP_MAX_HEADER_LINE"},
    {"/bad-chunk", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", 200, NULL},
    {"/endless-chunked", NULL, PLAIN, NEEDS_NOTHING, "MP_EFBIG", 200, "max_body"},
    {"/short-body", NULL, PLAIN, NEEDS_NOTHING, "MP_ECONNRESET", 200, NULL},
    {"/trickle", NULL, PLAIN, NEEDS_NOTHING, "MP_ETIMEDOUT", 200, NULL},
    {"/redirect/file", NULL, PLAIN, NEEDS_L, "MP_EURL", 302, "file"},
    {"/redirect/gopher", NULL, PLAIN, NEEDS_L, "MP_EURL", 302, "gopher"},
    {"/redirect/ftp", NULL, PLAIN, NEEDS_L, "MP_EURL", 302, "ftp"},
    {"/bad-gzip", NULL, PLAIN, NEEDS_COMPRESSED, "MP_EPROTO", 200, NULL},
    {"/headers/20000", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1,
     "MP_HTTP_MAX_HEADER_LINES"},
    {"/reset-mid-header", NULL, PLAIN, NEEDS_NOTHING, "MP_ECONNRESET", -1, NULL},
    {"/continue-then-nothing", NULL, PLAIN, NEEDS_NOTHING, "MP_ETIMEDOUT", -1, NULL},
    {"/cl-and-te", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1, "Transfer-Encoding"},
    {"/status/999", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1, "999"},
    {"/status/099", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1, NULL},
    {"/status/100", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1, NULL},
    {"/head-body", "HEAD", PLAIN, NEEDS_NOTHING, NULL, 200, NULL},
    {"/ok", NULL, TLS_ON_PLAIN, NEEDS_CACERT, "MP_ETLS", 0, NULL},
    {"/ok", NULL, TLS_WRONG_NAME, NEEDS_CACERT, "MP_ETLS", 0, NULL},
    /* both sides of the limits */
    {"/headers/1000", NULL, PLAIN, NEEDS_NOTHING, NULL, 200, NULL},
    {"/headers/1001", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1,
     "MP_HTTP_MAX_HEADER_LINES"},
    {"/header-bytes/262144", NULL, PLAIN, NEEDS_NOTHING, NULL, 200, NULL},
    {"/header-bytes/262145", NULL, PLAIN, NEEDS_NOTHING, "MP_EPROTO", -1,
     "MP_HTTP_MAX_HEADER_BYTES"},
    {"/status/599", NULL, PLAIN, NEEDS_NOTHING, NULL, 599, NULL},
    {"/redirect/ok", NULL, PLAIN, NEEDS_L, NULL, 200, NULL},
};

/* Run B: --speed-limit 50 --speed-time 4 --body inline --max-body 1M. */
static const row rows_b[] = {
    {"/trickle", NULL, PLAIN, NEEDS_NOTHING, "MP_ESLOW", 200, "slow"},
    {"/hang", NULL, PLAIN, NEEDS_NOTHING, "MP_ESLOW", 0, NULL},
    {"/continue-then-nothing", NULL, PLAIN, NEEDS_NOTHING, "MP_ESLOW", -1, NULL},
    {"/endless-chunked", NULL, PLAIN, NEEDS_NOTHING, "MP_EFBIG", 200, "max_body"},
    {"/headers/1000", NULL, PLAIN, NEEDS_NOTHING, NULL, 200, NULL},
};

static struct {
    tu_ts bs;
    char *dir;
    const char *bin;
    char cert[600], key[600], in[600], out[600], err[600], sum[600];
    char *engines[MAX_ENGINES]; /* NULL: mpfetch has no --engine */
    int n_engines;
    char engine_text[256];
} g;

/* Makes a self-signed certificate for wrong.example (not 127.0.0.1).
   Returns 0 or -1. */
static int make_cert(void)
{
    char *argv[] = {"/usr/bin/openssl", "req", "-x509", "-newkey",
                    "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=wrong.example", "-addext",
                    "subjectAltName=DNS:wrong.example", "-keyout", g.key,
                    "-out", g.cert, NULL};
    return e2e_run(argv, NULL, NULL, g.err) == 0 ? 0 : -1;
}

/* Fills g.engines from $MP_TEST_ENGINES (space-separated), else, when
   mpfetch --help lists --engine, with the engines it names among those
   this suite knows; none when mpfetch has no --engine. */
static void find_engines(void)
{
    static const char *const known[] = {"curl", "native"};
    char *argv[] = {(char *)g.bin, "--help", NULL};
    const char *env = getenv("MP_TEST_ENGINES");
    char *help = NULL, *at, *save = NULL, *w;

    g.n_engines = 0;
    if (env && *env) {
        snprintf(g.engine_text, sizeof g.engine_text, "%s", env);
        for (w = strtok_r(g.engine_text, " ", &save);
             w && g.n_engines < MAX_ENGINES; w = strtok_r(NULL, " ", &save))
            g.engines[g.n_engines++] = w;
        return;
    }
    if (e2e_run(argv, NULL, g.out, NULL) != 0 ||
        !(help = e2e_slurp(g.out, NULL)) || !(at = strstr(help, "--engine"))) {
        free(help);
        return;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strstr(at, known[i]))
            g.engines[g.n_engines++] = (char *)known[i];
    free(help);
}

static int setup(void **state)
{
    char args[1400];

    (void)state;
    memset(&g, 0, sizeof g);
    if (!(g.bin = e2e_mpfetch()) || !(g.dir = tu_tmpdir()))
        return -1;
    e2e_path(g.cert, sizeof g.cert, g.dir, "cert.pem");
    e2e_path(g.key, sizeof g.key, g.dir, "key.pem");
    e2e_path(g.in, sizeof g.in, g.dir, "in.jsonl");
    e2e_path(g.out, sizeof g.out, g.dir, "out.jsonl");
    e2e_path(g.err, sizeof g.err, g.dir, "err.txt");
    e2e_path(g.sum, sizeof g.sum, g.dir, "summary.json");
    if (make_cert() != 0) {
        fprintf(stderr, "openssl req failed; see %s\n", g.err);
        return -1;
    }
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s", g.cert, g.key);
    if (tu_bs_start(&g.bs, args) != 0 || g.bs.tls_port <= 0) {
        fprintf(stderr, "mp-badserver did not start with a TLS port\n");
        return -1;
    }
    find_engines();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_ts_stop(&g.bs);
    if (g.dir)
        tu_rm_rf(g.dir);
    free(g.dir);
    return 0;
}

/* Writes the input: rows[i] is line 2i+1 (a JSON line), an /ok line
   follows each. */
static void write_input(const row *const *rows, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        const row *r = rows[i];
        int port = r->port == TLS_WRONG_NAME ? g.bs.tls_port : g.bs.port;

        fprintf(f, "{\"url\":\"%s://127.0.0.1:%d%s\"", r->port == PLAIN
                                                           ? "http"
                                                           : "https",
                port, r->path);
        if (r->method)
            fprintf(f, ",\"method\":\"%s\"", r->method);
        fprintf(f, "}\nhttp://127.0.0.1:%d/ok\n", g.bs.port);
    }
    fclose(f);
    assert_int_equal(e2e_write_file(g.in, text, len), 0);
    free(text);
}

/* Returns the number field key of rec (asserting it is one). */
static double num(json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);

    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* Returns 1 if rec says its (forced) engine cannot do what the run asks
   (MP_EINVAL, "... cannot ..."): the engine refuses, it does not guess. */
static int refused(json_t *rec)
{
    json_t *m = json_object_get(json_object_get(rec, "error"), "message");

    return strcmp(e2e_error_code(rec), "MP_EINVAL") == 0 &&
           json_is_string(m) && strstr(json_string_value(m), "cannot");
}

/* Checks the record of row r (input line `line`); limit_s bounds its
   time. */
static void check_row(json_t *rec, const row *r, long long line,
                      double limit_s)
{
    const char *code = e2e_error_code(rec);
    json_t *err = json_object_get(rec, "error");
    double total = json_number_value(
        json_object_get(json_object_get(rec, "time"), "total"));
    char *d = json_dumps(rec, JSON_COMPACT);

    fprintf(stderr, "line %lld %s -> %s\n", line, r->path, d ? d : "?");
    free(d);
    assert_string_equal(code, r->code ? r->code : "");
    if (r->status >= 0)
        assert_int_equal((long)num(rec, "status"), r->status);
    if (r->words)
        assert_non_null(strstr(e2e_str(err, "message"), r->words));
    assert_true(num(rec, "bytes") <= MAX_BODY);
    assert_true(total <= limit_s);
}

/* Runs mpfetch over rows with the extra options (NULL-terminated) and the
   engine (NULL: default) and checks every record. A forced engine may
   refuse a run's options (see refused) unless must is set. */
static void run_table(const row *const *rows, size_t n, char **extra,
                      const char *engine, double limit_s, int must)
{
    char *argv[40], max_body[32];
    int argc = 0;
    json_t *recs;

    if (n == 0)
        return;
    snprintf(max_body, sizeof max_body, "%d", MAX_BODY);
    write_input(rows, n);
    argv[argc++] = (char *)g.bin;
    argv[argc++] = "-w";
    argv[argc++] = "2";
    argv[argc++] = "-q";
    argv[argc++] = "--no-progress";
    argv[argc++] = "--max-body";
    argv[argc++] = max_body;
    argv[argc++] = "-o";
    argv[argc++] = g.out;
    argv[argc++] = "--summary-json";
    argv[argc++] = g.sum;
    if (engine) {
        argv[argc++] = "--engine";
        argv[argc++] = (char *)engine;
    }
    for (; *extra; extra++)
        argv[argc++] = *extra;
    argv[argc++] = g.in;
    argv[argc] = NULL;
    fprintf(stderr, "engine %s\n", engine ? engine : "(default)");
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 0);
    /* a parser that crashed on a bad response would be hidden by the
       pool's re-run of its requests: the summary shows it */
    e2e_assert_no_death(g.sum);
    assert_non_null(recs = e2e_records(g.out));
    assert_int_equal(json_array_size(recs), 2 * n);
    for (size_t i = 0; i < n; i++) {
        json_t *bad = e2e_by_line(recs, (long long)(2 * i + 1));
        json_t *ok = e2e_by_line(recs, (long long)(2 * i + 2));

        assert_non_null(bad);
        assert_non_null(ok);
        if (engine && !must && refused(bad)) {
            fprintf(stderr, "line %lld %s: engine %s refuses this run's "
                            "options\n", (long long)(2 * i + 1),
                    rows[i]->path, engine);
            continue;
        }
        check_row(bad, rows[i], (long long)(2 * i + 1), limit_s);
        assert_string_equal(e2e_error_code(ok), "");
        assert_int_equal((long)num(ok, "status"), 200);
        assert_true(json_is_true(json_object_get(ok, "ok")));
    }
    json_decref(recs);
}

/* Runs the rows of table[0..n) that need `needs` through every engine
   (or the default one). */
static void run_engines(const row *table, size_t n, int needs, char **extra,
                        double limit_s, int must)
{
    const row *rows[64];
    size_t k = 0;

    for (size_t i = 0; i < n && k < 64; i++)
        if (table[i].needs == needs)
            rows[k++] = &table[i];
    if (g.n_engines == 0) {
        run_table(rows, k, extra, NULL, limit_s, 1);
        return;
    }
    for (int i = 0; i < g.n_engines; i++)
        run_table(rows, k, extra, g.engines[i], limit_s, must);
}

/* The table, the extra behaviours and the limits; every engine
   must run the plain rows (no -L, --compressed or --cacert). */
static void test_codes(void **state)
{
    static const char *const need_opt[N_NEEDS] = {
        NULL, "-L", "--compressed", "--cacert"};
    char timeout[16];

    (void)state;
    snprintf(timeout, sizeof timeout, "%d", TIMEOUT_S);
    for (int needs = 0; needs < N_NEEDS; needs++) {
        char *extra[] = {"--timeout", timeout, (char *)need_opt[needs],
                         needs == NEEDS_CACERT ? g.cert : NULL, NULL};

        run_engines(rows_a, sizeof rows_a / sizeof rows_a[0], needs, extra,
                    TIMEOUT_S + MARGIN_S, needs == NEEDS_NOTHING);
    }
}

/* --speed-limit drops trickling and silent servers before --timeout;
   --max-body holds with the body in memory too. */
static void test_speed_limit(void **state)
{
    char speed_time[16];
    char *extra[] = {"--speed-limit", "50", "--speed-time", speed_time,
                     "--timeout", "60", "--body", "inline", NULL};

    (void)state;
    snprintf(speed_time, sizeof speed_time, "%d", SPEED_TIME_S);
    run_engines(rows_b, sizeof rows_b / sizeof rows_b[0], NEEDS_NOTHING,
                extra, SPEED_TIME_S + MARGIN_S, 0);
}

/* Runs mpfetch with one bad option: exit 2, and stderr holds want. */
static void expect_usage_error(const char *opt, const char *val,
                               const char *want)
{
    char *argv[] = {(char *)g.bin, (char *)opt, (char *)val, g.in, NULL};
    char *err;

    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 2);
    assert_non_null(err = e2e_slurp(g.err, NULL));
    if (!strstr(err, want))
        fprintf(stderr, "stderr was: %s", err);
    assert_non_null(strstr(err, want));
    free(err);
}

/* --speed-limit and --speed-time refuse what makes no sense. */
static void test_speed_options(void **state)
{
    (void)state;
    const row *one = &rows_b[0];

    write_input(&one, 1);
    expect_usage_error("--speed-limit", "0", "--speed-limit must be a "
                                             "positive size");
    expect_usage_error("--speed-limit", "5G", "--speed-limit must be below");
    expect_usage_error("--speed-time", "0",
                       "--speed-time must be at least 1, got 0");
    expect_usage_error("--speed-time", "soon", "\"soon\"");
    /* more than a worker's configuration holds (FETCH_MAX_BODY): refused
       here, not by every worker's init */
    expect_usage_error("--max-body", "2048G",
                       "--max-body must be at most 1T, got \"2048G\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_codes, 90),
        TU_BOUNDED(test_speed_limit, 90),
        TU_BOUNDED(test_speed_options, 90),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
