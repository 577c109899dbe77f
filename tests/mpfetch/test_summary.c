/*
 * mpfetch --summary-json against mp-testserver: the JSON summary holds the
 * numbers the records say (counts by status class and error code, bytes,
 * the slowest request) and the ones the human summary prints (records,
 * req/s, CPU); it is written with -q too; a bad path is a runtime error;
 * and "workers" shows the default following the affinity mask under
 * `taskset -c 0`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "mpfetch_e2e.h"
#include "testutil.h"

static struct {
    tu_ts ts;
    char *dir;
    const char *bin;
    char in[600], out[600], err[600], sum[600];
} g;

static int setup(void **state)
{
    memset(&g, 0, sizeof(g));
    g.bin = e2e_mpfetch();
    g.dir = tu_tmpdir();
    if (!g.bin || !g.dir || tu_ts_start(&g.ts, NULL) != 0)
        return -1;
    e2e_path(g.in, sizeof(g.in), g.dir, "in.txt");
    e2e_path(g.out, sizeof(g.out), g.dir, "out.jsonl");
    e2e_path(g.err, sizeof(g.err), g.dir, "err.txt");
    e2e_path(g.sum, sizeof(g.sum), g.dir, "summary.json");
    return 0;
}

static int teardown(void **state)
{
    tu_ts_stop(&g.ts);
    if (g.dir)
        tu_rm_rf(g.dir);
    free(g.dir);
    return 0;
}

/* Writes the mixed input: 40 x 200 with 100 bytes, 5 x 404, 3 x 503, 2
   refused connections, 1 malformed line. Returns the line count. */
static int write_mixed_input(void)
{
    int refused = tu_free_port();
    assert_true(refused > 0);
    FILE *f = fopen(g.in, "w");
    assert_non_null(f);
    int n = 0;
    for (int i = 0; i < 40; i++, n++)
        fprintf(f, "%s/bytes/100?i=%d\n", g.ts.base, i);
    for (int i = 0; i < 5; i++, n++)
        fprintf(f, "%s/status/404?i=%d\n", g.ts.base, i);
    for (int i = 0; i < 3; i++, n++)
        fprintf(f, "%s/status/503?i=%d\n", g.ts.base, i);
    for (int i = 0; i < 2; i++, n++)
        fprintf(f, "http://127.0.0.1:%d/x%d\n", refused, i);
    fputs("{\"url\":\n", f);
    n++;
    assert_int_equal(fclose(f), 0);
    return n;
}

/* Loads the summary file; asserts it is one JSON object on one line. */
static json_t *load_summary(void)
{
    size_t len = 0;
    char *s = e2e_slurp(g.sum, &len);
    assert_non_null(s);
    assert_true(len > 2 && s[len - 1] == '\n');
    assert_null(memchr(s, '\n', len - 1));
    json_error_t je;
    json_t *o = json_loads(s, 0, &je);
    if (!o)
        fprintf(stderr, "summary is not JSON (%s): %s\n", je.text, s);
    free(s);
    assert_true(json_is_object(o));
    return o;
}

static long long num(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

static double real(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void matches_the_records_and_the_human_summary(void **state)
{
    int n = write_mixed_input();
    char *argv[] = {(char *)g.bin, "-w",      "2",   "-o", g.out,
                    "--summary-json", g.sum, g.in, NULL};
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 0);
    json_t *recs = e2e_records(g.out), *sum = load_summary();
    assert_non_null(recs);
    assert_int_equal(json_array_size(recs), n);

    /* what the records say */
    long long cls[6] = {0}, bytes = 0, ok = 0, refused = 0, input = 0;
    double max_total = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        long long st = json_integer_value(json_object_get(r, "status"));
        cls[st >= 100 && st < 600 ? st / 100 : 0]++;
        bytes += json_integer_value(json_object_get(r, "bytes"));
        ok += json_is_true(json_object_get(r, "ok"));
        refused += strcmp(e2e_error_code(r), "MP_ECONNREFUSED") == 0;
        input += strcmp(e2e_error_code(r), "MP_EINPUT") == 0;
        double t = json_number_value(
            json_object_get(json_object_get(r, "time"), "total"));
        if (strcmp(e2e_error_code(r), "MP_EINPUT") && t > max_total)
            max_total = t;
    }
    assert_int_equal(cls[2], 40);
    assert_int_equal(refused, 2);
    assert_int_equal(input, 1);

    assert_int_equal(num(sum, "records", NULL), n);
    assert_int_equal(num(sum, "ok", NULL), ok);
    assert_int_equal(num(sum, "failed", NULL), n - ok);
    assert_int_equal(num(sum, "workers", NULL), 2);
    assert_int_equal(num(sum, "workers_died", NULL), 0);
    assert_int_equal(num(sum, "tasks_retried", NULL), 0);
    assert_true(json_is_false(json_object_get(sum, "interrupted")));
    assert_int_equal(num(sum, "status", "2xx"), cls[2]);
    assert_int_equal(num(sum, "status", "4xx"), cls[4]);
    assert_int_equal(num(sum, "status", "5xx"), cls[5]);
    assert_int_equal(num(sum, "status", "none"), cls[0]);
    assert_int_equal(num(sum, "status", "4xx"), 5);
    assert_int_equal(num(sum, "status", "5xx"), 3);
    assert_int_equal(num(sum, "errors", "MP_ECONNREFUSED"), 2);
    assert_int_equal(num(sum, "errors", "MP_EINPUT"), 1);
    assert_int_equal(json_object_size(json_object_get(sum, "errors")), 2);
    assert_int_equal(num(sum, "bytes", NULL), bytes);
    assert_int_equal(num(sum, "latency", "requests"), n - 1);

    double p50 = real(sum, "latency", "p50"), p90 = real(sum, "latency", "p90");
    double p99 = real(sum, "latency", "p99"), mx = real(sum, "latency", "max");
    assert_true(0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= mx);
    assert_true(fabs(mx - max_total) <= 1e-5 + max_total * 1e-3);

    /* what the human summary says, to its printed precision */
    char *text = e2e_slurp(g.err, NULL);
    assert_non_null(text);
    const char *line = strstr(text, "mpfetch: ");
    unsigned long long h_records = 0;
    double h_elapsed = 0, h_rate = 0, h_wcpu = 0, h_scpu = 0;
    assert_non_null(line);
    assert_int_equal(sscanf(line, "mpfetch: %llu records in %lf s: %lf req/s",
                            &h_records, &h_elapsed, &h_rate),
                     3);
    /* the JSON's ok, failed and canceled, in the same words (canceled
       was missing from the text; issue #21) */
    char counts[128];
    snprintf(counts, sizeof counts, "  ok %lld, failed %lld, canceled %lld\n",
             num(sum, "ok", NULL), num(sum, "failed", NULL),
             num(sum, "canceled", NULL));
    if (!strstr(text, counts))
        fail_msg("the summary lacks \"%s\": %s", counts, text);
    const char *cpu = strstr(text, "  cpu: workers ");
    assert_non_null(cpu);
    assert_int_equal(sscanf(cpu, "  cpu: workers %lf s, mpfetch %lf s",
                            &h_wcpu, &h_scpu),
                     2);
    assert_int_equal(h_records, n);
    assert_true(fabs(real(sum, "elapsed", NULL) - h_elapsed) <= 0.0051);
    assert_true(fabs(real(sum, "req_per_s", NULL) - h_rate) <= 0.51);
    assert_true(fabs(real(sum, "cpu", "workers") - h_wcpu) <= 0.0051);
    assert_true(fabs(real(sum, "cpu", "mpfetch") - h_scpu) <= 0.0051);
    double per = real(sum, "cpu", "per_request");
    assert_true(fabs(per - (real(sum, "cpu", "workers") +
                            real(sum, "cpu", "mpfetch")) / n) <= 1e-6);
    assert_non_null(strstr(text, "MP_ECONNREFUSED 2"));
    assert_non_null(strstr(text, "MP_EINPUT 1"));
    assert_null(strstr(text, "workers died")); /* only when one did */
    free(text);
    json_decref(sum);
    json_decref(recs);
}

/* --engine auto's choice is visible: the summary counts the requests
   each engine ran (a URL with a fragment goes to libcurl), in the JSON
   ("engines") and in the text ("engine:" line); a malformed line ran on
   none. */
static void counts_requests_by_engine(void **state)
{
    FILE *f = fopen(g.in, "w");
    assert_non_null(f);
    for (int i = 0; i < 6; i++)
        fprintf(f, "%s/bytes/100?e=%d\n", g.ts.base, i);
    for (int i = 0; i < 4; i++)
        fprintf(f, "%s/bytes/100?e=c%d#frag\n", g.ts.base, i);
    fputs("{\"url\":\n", f);
    assert_int_equal(fclose(f), 0);
    char *argv[] = {(char *)g.bin, "-w", "1", "-o", g.out,
                    "--summary-json", g.sum, g.in, NULL};
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 0);
    /* a crash in either engine would be hidden by the re-run of its
       requests: the summary shows it */
    e2e_assert_no_death(g.sum);
    json_t *sum = load_summary();
    assert_int_equal(num(sum, "engines", "native"), 6);
    assert_int_equal(num(sum, "engines", "curl"), 4);
    char *text = e2e_slurp(g.err, NULL);
    assert_non_null(text);
    if (!strstr(text, "  engine: native 6, curl 4\n"))
        fail_msg("no engine line in the summary: %s", text);
    free(text);
    json_decref(sum);
}

static void written_with_quiet_too(void **state)
{
    FILE *f = fopen(g.in, "w");
    assert_non_null(f);
    for (int i = 0; i < 7; i++)
        fprintf(f, "%s/bytes/10?q=%d\n", g.ts.base, i);
    assert_int_equal(fclose(f), 0);
    char *argv[] = {(char *)g.bin, "-q", "-w", "3", "-o", g.out,
                    "--summary-json", g.sum, g.in, NULL};
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 0);
    json_t *sum = load_summary();
    assert_int_equal(num(sum, "records", NULL), 7);
    assert_int_equal(num(sum, "status", "2xx"), 7);
    assert_int_equal(num(sum, "bytes", NULL), 70);
    assert_int_equal(num(sum, "workers", NULL), 3);
    assert_int_equal(num(sum, "workers_died", NULL), 0);
    assert_int_equal(json_object_size(json_object_get(sum, "errors")), 0);
    json_decref(sum);
    size_t len = 1;
    char *err = e2e_slurp(g.err, &len);
    assert_int_equal(len, 0); /* -q: nothing on stderr */
    free(err);
}

/* `mpfetch | head -n 5`: the summaries count the records written, not
   those made: the rest are "unwritten" (the output is far bigger than the
   pipe, so writes must fail after head leaves; then no more input is
   read). Before, both counted every record made, though the reader never
   got most of them. */
static void after_head_counts_what_was_written(void **state)
{
    enum { N = 3000 };
    FILE *f = fopen(g.in, "w");
    assert_non_null(f);
    for (int i = 0; i < N; i++)
        fprintf(f, "%s/bytes/100?pad=%0200d\n", g.ts.base, i);
    assert_int_equal(fclose(f), 0);
    char *argv[] = {"/bin/sh", "-c",
                    "\"$0\" -w 2 --summary-json \"$1\" \"$2\" | head -n 5",
                    (char *)g.bin, g.sum, g.in, NULL};
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
    assert_int_equal(e2e_count_lines(g.out), 5);
    json_t *sum = load_summary();
    long long written = num(sum, "records", NULL);
    long long unwritten = num(sum, "unwritten", NULL);
    assert_true(written + unwritten <= N); /* input stops at the failure */
    assert_true(written >= 5);
    assert_true(unwritten > 0);
    assert_int_equal(num(sum, "ok", NULL), written);
    assert_int_equal(num(sum, "bytes", NULL), 100 * written);
    json_decref(sum);
    char *text = e2e_slurp(g.err, NULL), want[96];
    assert_non_null(text);
    snprintf(want, sizeof(want), "mpfetch: %lld records in ", written);
    if (!strstr(text, want))
        fail_msg("the summary lacks \"%s\": %s", want, text);
    snprintf(want, sizeof(want), "not written: %lld records", unwritten);
    assert_non_null(strstr(text, want));
    free(text);
}

static void a_path_that_cannot_be_written_fails_the_run(void **state)
{
    assert_int_equal(e2e_write_file(g.in, "", 0), 0);
    char bad[700];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/s.json", g.dir);
    char *argv[] = {(char *)g.bin, "-q", "-o", g.out,
                    "--summary-json", bad, g.in, NULL};
    assert_int_equal(e2e_write_file(g.out, "kept\n", 5), 0);
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 1);
    char *err = e2e_slurp(g.err, NULL);
    assert_non_null(err);
    assert_non_null(strstr(err, "--summary-json"));
    free(err);
    /* checked before the run starts (it was after the run): the output
       was never opened, so it is as it was */
    char *out = e2e_slurp(g.out, NULL);
    assert_string_equal(out, "kept\n");
    free(out);
    char *argv2[] = {(char *)g.bin, "--summary-json", "", g.in, NULL};
    assert_int_equal(e2e_run(argv2, NULL, NULL, g.err), 2);
}

/* Asserts path holds exactly text. */
static void assert_file(const char *path, const char *text)
{
    char *s = e2e_slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s, text);
    free(s);
}

/* Runs argv (stdout to out_path) and asserts exit 2 with a complaint that
   names --summary-json. */
static void refused(char **argv, const char *out_path)
{
    assert_int_equal(e2e_run(argv, NULL, out_path, g.err), 2);
    char *err = e2e_slurp(g.err, NULL);
    assert_non_null(err);
    if (!strstr(err, "--summary-json"))
        fail_msg("stderr: %s", err);
    free(err);
}

/* --summary-json under -o's identity rules (issue #21): the -o file (there
   or not yet), /dev/stdout while the records go to stdout, or the input
   is refused with exit 2 and nothing touched; /dev/stdout beside -o, or
   /dev/null for both, is fine. Before, the summary overwrote the records
   or the URLs and the exit status was 0. */
static void the_output_stdout_or_input_is_refused(void **state)
{
    char url[300], none[700];
    (void)state;
    snprintf(url, sizeof url, "%s/bytes/3\n", g.ts.base);
    assert_int_equal(e2e_write_file(g.in, url, strlen(url)), 0);
    assert_int_equal(e2e_write_file(g.out, "kept\n", 5), 0);
    char *same[] = {(char *)g.bin, "-q", "-o", g.out, "--summary-json",
                    g.out, g.in, NULL};
    refused(same, NULL);
    assert_file(g.out, "kept\n");
    snprintf(none, sizeof none, "%s/not-yet.jsonl", g.dir);
    char *dotted = strrchr(none, '/'); /* the same file by another path */
    char other[720];
    snprintf(other, sizeof other, "%.*s/./%s", (int)(dotted - none), none,
             dotted + 1);
    char *fresh[] = {(char *)g.bin, "-q", "-o", none, "--summary-json",
                     other, g.in, NULL};
    refused(fresh, NULL);
    assert_int_equal(access(none, F_OK), -1);
    char *stdout_too[] = {(char *)g.bin, "-q", "--summary-json",
                          "/dev/stdout", g.in, NULL};
    refused(stdout_too, g.out);
    assert_file(g.out, "");
    char *input[] = {(char *)g.bin, "-q", "-o", g.out, "--summary-json",
                     g.in, g.in, NULL};
    assert_int_equal(e2e_write_file(g.out, "kept\n", 5), 0);
    refused(input, NULL);
    assert_file(g.in, url);
    assert_file(g.out, "kept\n");

    char *beside[] = {(char *)g.bin, "-q", "-o", g.out, "--summary-json",
                      "/dev/stdout", g.in, NULL};
    assert_int_equal(e2e_run(beside, NULL, g.sum, g.err), 0);
    json_t *sum = load_summary();
    assert_int_equal(num(sum, "records", NULL), 1);
    json_decref(sum);
    char *null[] = {(char *)g.bin, "-q", "-o", "/dev/null", "--summary-json",
                    "/dev/null", g.in, NULL};
    assert_int_equal(e2e_run(null, NULL, NULL, g.err), 0);
}

static void default_workers_follow_taskset(void **state)
{
    const char *taskset = access("/usr/bin/taskset", X_OK) == 0
                              ? "/usr/bin/taskset"
                              : NULL;
    if (!taskset)
        skip();
    FILE *f = fopen(g.in, "w");
    assert_non_null(f);
    fprintf(f, "%s/bytes/1\n", g.ts.base);
    assert_int_equal(fclose(f), 0);
    char *argv[] = {(char *)taskset, "-c", "0", (char *)g.bin, "-q", "-o",
                    g.out, "--summary-json", g.sum, g.in, NULL};
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 0);
    e2e_assert_no_death(g.sum);
    json_t *sum = load_summary();
    assert_int_equal(num(sum, "workers", NULL), 1);
    assert_int_equal(num(sum, "records", NULL), 1);
    json_decref(sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(matches_the_records_and_the_human_summary, 90),
        TU_BOUNDED(counts_requests_by_engine, 90),
        TU_BOUNDED(written_with_quiet_too, 90),
        TU_BOUNDED(after_head_counts_what_was_written, 90),
        TU_BOUNDED(a_path_that_cannot_be_written_fails_the_run, 90),
        TU_BOUNDED(default_workers_follow_taskset, 90),
        TU_BOUNDED(the_output_stdout_or_input_is_refused, 90),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
