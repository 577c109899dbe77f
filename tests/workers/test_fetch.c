/*
 * test_fetch: the fetch task (workers/fetch.c) in real pools against the
 * test server: URL and JSON lines, malformed lines, retries, body modes,
 * headers, configuration errors, and a little fuzzing (every line, however
 * broken, must give one well-formed record).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "fetch_int.h"
#include "jsonw.h"
#include "mpool.h"
#include "testutil.h"

static tu_ts g_ts;

/* One record as the test sees it. */
typedef struct rec {
    fetch_out out;
    json_t *j;
} rec;

/* ---- helpers ---------------------------------------------------------- */

/* Creates a fetch pool with the configuration text cfg. */
static mp_pool *fetch_pool(const char *cfg, int workers, int conc)
{
    mp_pool_options o = {.workers = workers,
                         .concurrency = conc,
                         .init = fetch_init,
                         .init_arg = cfg,
                         .init_len = strlen(cfg)};
    mp_pool *p = NULL;

    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* Returns the pool-creation status for configuration cfg. */
static int fetch_pool_status(const char *cfg)
{
    mp_pool_options o = {.workers = 1,
                         .concurrency = 1,
                         .init = fetch_init,
                         .init_arg = cfg,
                         .init_len = strlen(cfg)};
    mp_pool *p = NULL;
    int rc = mp_pool_create(&p, &o);

    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    return rc;
}

/* Returns a malloc'd task input: header for line number no, then n bytes
   of line. */
static void *mkin(uint64_t no, const char *line, size_t n, size_t *len)
{
    fetch_in h = {.line = no};
    char *b = malloc(sizeof h + n + 1);

    assert_non_null(b);
    memcpy(b, &h, sizeof h);
    memcpy(b + sizeof h, line, n);
    *len = sizeof h + n;
    return b;
}

/* Checks one task result and parses its record into r. */
static void parse_result(mp_result *res, rec *r, uint64_t no)
{
    const char *text;
    size_t n;
    json_error_t je;

    if (res->status != 0)
        fail_msg("line %llu: task status %s (%s)", (unsigned long long)no,
                 mp_err_name(res->status), res->error ? res->error : "");
    assert_true(res->len > sizeof r->out);
    memcpy(&r->out, res->data, sizeof r->out);
    text = (const char *)res->data + sizeof r->out;
    n = res->len - sizeof r->out;
    assert_null(memchr(text, '\n', n));
    assert_null(memchr(text, '\0', n));
    r->j = json_loadb(text, n, 0, &je);
    if (!json_is_object(r->j))
        fail_msg("line %llu: record is not a JSON object: %s",
                 (unsigned long long)no, je.text);
    assert_int_equal(r->out.line, no);
    assert_int_equal(json_integer_value(json_object_get(r->j, "line")),
                     (json_int_t)no);
}

/* Runs n lines (line numbers 1..n) through p; fills recs[]. */
static void run_lines(mp_pool *p, const char *const *lines, const size_t *lens,
                      size_t n, rec *recs)
{
    mp_buf *in = calloc(n, sizeof *in);
    mp_result *out = calloc(n, sizeof *out);

    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        size_t len, l = lens ? lens[i] : strlen(lines[i]);
        in[i].data = mkin(i + 1, lines[i], l, &len);
        in[i].len = len;
    }
    assert_int_equal(mp_pool_map(p, fetch_task, in, n, out), 0);
    for (size_t i = 0; i < n; i++) {
        parse_result(&out[i], &recs[i], i + 1);
        mp_result_clear(&out[i]);
        free((void *)in[i].data);
    }
    free(in);
    free(out);
}

/* Runs one line as line number no. */
static rec run1(mp_pool *p, uint64_t no, const char *line)
{
    mp_result res;
    size_t len;
    void *in = mkin(no, line, strlen(line), &len);
    rec r;

    assert_int_equal(mp_pool_apply(p, fetch_task, in, len, &res), 0);
    parse_result(&res, &r, no);
    mp_result_clear(&res);
    free(in);
    return r;
}

static void rec_free(rec *r)
{
    json_decref(r->j);
    r->j = NULL;
}

/* Returns the string at key of o ("" when absent or not a string). */
static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Returns the error code name of a record, or "" for null. */
static const char *jerr(const rec *r)
{
    return jstr(json_object_get(r->j, "error"), "code");
}

/* Asserts a successful 200 record. */
static void expect_ok(const rec *r)
{
    if (!json_is_null(json_object_get(r->j, "error")))
        fail_msg("line %llu: %s: %s", (unsigned long long)r->out.line, jerr(r),
                 jstr(json_object_get(r->j, "error"), "message"));
    assert_int_equal(r->out.error, 0);
    assert_int_equal(r->out.status, 200);
    assert_int_equal(r->out.ok, 1);
    assert_true(json_is_true(json_object_get(r->j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r->j, "status")), 200);
}

/* Asserts an MP_EINPUT record for line no. */
static void expect_einput(const rec *r, const char *what)
{
    char want[32];
    const char *msg = jstr(json_object_get(r->j, "error"), "message");

    if (strcmp(jerr(r), "MP_EINPUT") != 0)
        fail_msg("line %llu: want MP_EINPUT, got \"%s\" (%s)",
                 (unsigned long long)r->out.line, jerr(r), msg);
    assert_int_equal(r->out.error, MP_EINPUT);
    assert_int_equal(r->out.status, 0);
    assert_int_equal(r->out.ok, 0);
    assert_int_equal(r->out.attempts, 0);
    assert_true(json_is_false(json_object_get(r->j, "ok")));
    snprintf(want, sizeof want, "line %llu:", (unsigned long long)r->out.line);
    assert_non_null(strstr(msg, want));
    if (what && !strstr(msg, what))
        fail_msg("message \"%s\" does not say \"%s\"", msg, what);
    assert_true(json_is_string(json_object_get(r->j, "input")));
    assert_true(strlen(jstr(r->j, "input")) <= 1024);
}

/* Returns the first n bytes of the test server's pattern. */
static char *pattern(size_t n)
{
    char *p = malloc(n + 1);

    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + i % 26);
    p[n] = '\0';
    return p;
}

/* ---- tests ------------------------------------------------------------ */

static void test_url_lines(void **state)
{
    mp_pool *p = fetch_pool("{}", 1, 8);
    char l[4][128];
    const char *lines[4] = {l[0], l[1], l[2], l[3]};
    rec r[4];

    snprintf(l[0], sizeof l[0], "%s/ok", g_ts.base);
    snprintf(l[1], sizeof l[1], "  %s/bytes/10 \r", g_ts.base);
    snprintf(l[2], sizeof l[2], "%s/status/404", g_ts.base);
    snprintf(l[3], sizeof l[3], "%s/redirect/2", g_ts.base);
    run_lines(p, lines, NULL, 4, r);
    expect_ok(&r[0]);
    assert_string_equal(jstr(r[0].j, "url"), l[0]);
    assert_string_equal(jstr(r[0].j, "final_url"), l[0]);
    assert_string_equal(jstr(r[0].j, "method"), "GET");
    assert_string_equal(jstr(r[0].j, "http_version"), "1.1");
    assert_int_equal(r[0].out.attempts, 1);
    assert_int_equal(r[0].out.bytes, 3);
    assert_true(r[0].out.total_us > 0);
    assert_true(json_real_value(json_object_get(
                    json_object_get(r[0].j, "time"), "total")) > 0);
    assert_null(json_object_get(r[0].j, "body")); /* body "none" */
    expect_ok(&r[1]);
    assert_int_equal(r[1].out.bytes, 10);
    assert_int_equal(r[2].out.status, 404);
    assert_int_equal(r[2].out.ok, 0);
    assert_int_equal(r[2].out.error, 0);
    assert_true(json_is_null(json_object_get(r[2].j, "error")));
    assert_true(json_is_false(json_object_get(r[2].j, "ok")));
    assert_int_equal(r[3].out.status, 302); /* "follow" is off */
    for (int i = 0; i < 4; i++)
        rec_free(&r[i]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    p = fetch_pool("{\"follow\":true,\"max_redirs\":5}", 1, 2);
    r[0] = run1(p, 9, l[3]);
    expect_ok(&r[0]);
    assert_int_equal(json_integer_value(json_object_get(r[0].j, "redirects")),
                     2);
    rec_free(&r[0]);
    r[0] =
        run1(p, 10,
             (snprintf(l[0], sizeof l[0], "%s/redirect/9", g_ts.base), l[0]));
    assert_string_equal(jerr(&r[0]), "MP_EREDIRECT");
    rec_free(&r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    /* 0 follows none, as curl's --max-redirs 0 (it was the default 10) */
    p = fetch_pool("{\"follow\":true,\"max_redirs\":0}", 1, 2);
    r[0] = run1(p, 11, l[3]);
    assert_string_equal(jerr(&r[0]), "MP_EREDIRECT");
    assert_int_equal(json_integer_value(json_object_get(r[0].j, "redirects")),
                     0);
    rec_free(&r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

static void test_json_lines(void **state)
{
    mp_pool *p =
        fetch_pool("{\"body\":\"inline\",\"headers\":[\"X-Cfg: yes\"]}", 1, 4);
    char l[3][512];
    const char *lines[3] = {l[0], l[1], l[2]};
    rec r[3];
    json_t *echo, *id;

    snprintf(l[0], sizeof l[0],
             "{\"url\":\"%s/echo\",\"method\":\"put\",\"headers\":{\"X-A\":"
             "\"1\",\"X-B\":\"two\"},\"body\":\"hello\",\"id\":{\"k\":[1,2]}}",
             g_ts.base);
    snprintf(l[1], sizeof l[1],
             "{\"id\":42,\"url\":\"%s/echo\",\"headers\":[\"X-C: 3\"],"
             "\"body\":\"x=1\"}",
             g_ts.base);
    snprintf(l[2], sizeof l[2], "{\"url\":\"%s/echo\",\"id\":null}",
             g_ts.base);
    run_lines(p, lines, NULL, 3, r);
    for (int i = 0; i < 3; i++)
        expect_ok(&r[i]);

    id = json_pack("{s:[i,i]}", "k", 1, 2);
    assert_true(json_equal(json_object_get(r[0].j, "id"), id));
    json_decref(id);
    assert_string_equal(jstr(r[0].j, "method"), "PUT");
    assert_string_equal(jstr(r[0].j, "body_encoding"), "utf-8");
    echo = json_loads(jstr(r[0].j, "body"), 0, NULL);
    assert_non_null(echo);
    assert_string_equal(jstr(echo, "method"), "PUT");
    assert_string_equal(jstr(echo, "body"), "hello");
    assert_string_equal(jstr(json_object_get(echo, "headers"), "X-A"), "1");
    assert_string_equal(jstr(json_object_get(echo, "headers"), "X-B"), "two");
    assert_string_equal(jstr(json_object_get(echo, "headers"), "X-Cfg"),
                        "yes");
    json_decref(echo);

    assert_int_equal(json_integer_value(json_object_get(r[1].j, "id")), 42);
    assert_string_equal(jstr(r[1].j, "method"), "POST");
    echo = json_loads(jstr(r[1].j, "body"), 0, NULL);
    assert_string_equal(jstr(echo, "method"), "POST");
    assert_string_equal(jstr(echo, "body"), "x=1");
    assert_string_equal(jstr(json_object_get(echo, "headers"), "X-C"), "3");
    json_decref(echo);

    assert_true(json_is_null(json_object_get(r[2].j, "id")));
    assert_string_equal(jstr(r[2].j, "method"), "GET");
    for (int i = 0; i < 3; i++)
        rec_free(&r[i]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

static void test_malformed(void **state)
{
    enum { N = 17, DEEP = 20000, HUGE = 1 << 20 };
    mp_pool *p = fetch_pool("{}", 1, 8);
    char l[8][256], *deep = malloc(DEEP * 2 + 64), *huge = malloc(HUGE);
    static const char nul[] = "http://127.0.0.1/a\0b";
    const char *lines[N];
    size_t lens[N];
    rec r[N];
    static const char *const why[N] = {
        "bad URL",   "scheme", "bad JSON", "unknown method", "\"url\"", NULL,
        "empty URL", NULL,     "header X", "bad header",     "nested",  "NUL",
        "UTF-8",     NULL,     "\"body\"", "\"headers\"",    "bad URL"};

    snprintf(l[0], sizeof l[0], "not a url");
    snprintf(l[1], sizeof l[1], "ftp://127.0.0.1/x");
    snprintf(l[2], sizeof l[2], "{\"url\": \"%s/ok\"", g_ts.base);
    snprintf(l[3], sizeof l[3], "{\"url\":\"%s/ok\",\"method\":\"FROB\"}",
             g_ts.base);
    snprintf(l[4], sizeof l[4], "{\"url\":5}");
    snprintf(l[5], sizeof l[5], "[1,2]");
    snprintf(l[6], sizeof l[6], "{\"url\":\"%s/ok\",\"headers\":{\"X\":1}}",
             g_ts.base);
    snprintf(l[7], sizeof l[7],
             "{\"url\":\"%s/ok\",\"headers\":{\"X\":\"a\\r\\nEvil: 1\"}}",
             g_ts.base);
    lines[0] = l[0], lines[1] = l[1], lines[2] = l[2], lines[3] = l[3];
    lines[4] = l[4], lines[5] = l[5];
    lines[6] = "   ";
    lines[7] = "http://";
    lines[8] = l[6];
    lines[9] = l[7];
    /* deep JSON */
    strcpy(deep, "{\"url\":");
    memset(deep + 7, '[', DEEP);
    memset(deep + 7 + DEEP, ']', DEEP);
    strcpy(deep + 7 + 2 * DEEP, "}");
    lines[10] = deep;
    lines[11] = nul;
    lines[12] = "http://\xff\xfe/x";
    /* a huge line: 1 MiB, not a URL */
    memset(huge, 'a', HUGE - 1);
    huge[HUGE - 1] = '\0';
    lines[13] = huge;
    lines[14] = "{\"url\":\"http://127.0.0.1/\",\"body\":[1]}";
    lines[15] = "{\"url\":\"http://127.0.0.1/\",\"headers\":\"X: 1\"}";
    lines[16] = "{\"url\":\"http:// spaces in host/\"}";
    for (int i = 0; i < N; i++)
        lens[i] = strlen(lines[i]);
    lens[11] = sizeof nul - 1;
    run_lines(p, lines, lens, N, r);
    for (int i = 0; i < N; i++) {
        expect_einput(&r[i], why[i]);
        rec_free(&r[i]);
    }
    /* the worker is fine afterwards */
    snprintf(l[0], sizeof l[0], "%s/ok", g_ts.base);
    r[0] = run1(p, 100, l[0]);
    expect_ok(&r[0]);
    rec_free(&r[0]);
    free(deep);
    free(huge);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

static void test_retries(void **state)
{
    mp_pool *p = fetch_pool("{\"retries\":3,\"retry_base_ms\":1,"
                            "\"retry_max_ms\":20,\"timeout_ms\":5000}",
                            1, 8);
    char l[5][160];
    const char *lines[5] = {l[0], l[1], l[2], l[3], l[4]};
    rec r[5];
    int pid = (int)getpid();

    snprintf(l[0], sizeof l[0], "%s/flaky/fetch-%d-a/2", g_ts.base, pid);
    snprintf(l[1], sizeof l[1], "%s/flaky/fetch-%d-b/9", g_ts.base, pid);
    snprintf(l[2], sizeof l[2], "%s/status/503?retry_after=100", g_ts.base);
    snprintf(l[3], sizeof l[3], "http://127.0.0.1:%d/", tu_free_port());
    snprintf(l[4], sizeof l[4], "http://" TU_BAD_NAME "/");
    run_lines(p, lines, NULL, 5, r);
    expect_ok(&r[0]);
    assert_int_equal(r[0].out.attempts, 3);
    assert_int_equal(json_integer_value(json_object_get(r[0].j, "attempts")),
                     3);
    assert_int_equal(r[1].out.status, 503); /* gave up: 1 + 3 attempts */
    assert_int_equal(r[1].out.attempts, 4);
    assert_int_equal(r[1].out.ok, 0);
    /* Retry-After: 100 s is capped at retry_max_ms */
    assert_int_equal(r[2].out.status, 503);
    assert_int_equal(r[2].out.attempts, 4);
    assert_string_equal(jerr(&r[3]), "MP_ECONNREFUSED");
    assert_int_equal(r[3].out.attempts, 4);
    assert_string_equal(jerr(&r[4]), "MP_EDNS"); /* not retried */
    assert_int_equal(r[4].out.attempts, 1);
    for (int i = 0; i < 5; i++)
        rec_free(&r[i]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* Returns the arrival times (us, the server's monotonic clock) of the
   first two requests for key on the test server, failing unless there
   were exactly two. */
static void arrivals(const char *key, long long *a0, long long *a1)
{
    char path[256], *body = NULL;
    long seen = 0;

    snprintf(path, sizeof path, "/arrivals/%s", key);
    assert_int_equal(tu_ts_http_get(&g_ts, path, &body), 200);
    if (sscanf(body, "{\"seen\":%ld,\"us\":[%lld,%lld]}", &seen, a0,
               a1) != 3 || seen != 2)
        fail_msg("%s: want two requests, server says %s", key, body);
    free(body);
}

/* 503 with Retry-After: 1, as seconds and as an HTTP-date, and a retry
   maximum of a few seconds: the second attempt reaches the server at least
   1 s after the first (the server's clock, not the run's wall time).
   Backoff alone would retry within 1 ms. */
static void test_retry_after(void **state)
{
    mp_pool *p = fetch_pool("{\"retries\":2,\"retry_base_ms\":1,"
                            "\"retry_max_ms\":4000,\"timeout_ms\":5000}",
                            1, 8);
    char key[2][64], l[2][256];
    const char *lines[2] = {l[0], l[1]};
    const char *form[2] = {"1", "date+1"};
    long long a0, a1;
    rec r[2];

    for (int i = 0; i < 2; i++) {
        snprintf(key[i], sizeof key[i], "fetch-ra-%d-%d", (int)getpid(), i);
        snprintf(l[i], sizeof l[i], "%s/retry-after/%s/%s", g_ts.base,
                 key[i], form[i]);
    }
    run_lines(p, lines, NULL, 2, r);
    for (int i = 0; i < 2; i++) {
        expect_ok(&r[i]);
        assert_int_equal(r[i].out.attempts, 2);
        arrivals(key[i], &a0, &a1);
        if (a1 - a0 < 1000000)
            fail_msg("Retry-After %s: the retry came %lld us after the "
                     "first attempt, want at least 1 s", form[i], a1 - a0);
        print_message("Retry-After %s: retry %lld ms after the first "
                      "attempt\n", form[i], (a1 - a0) / 1000);
        rec_free(&r[i]);
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* Returns the hex SHA-256 of p[0..n). */
static void sha256_hex(const char *p, size_t n, char *hex)
{
    unsigned char md[32];
    unsigned len = 0;

    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

static void test_body_modes(void **state)
{
    mp_pool *p = fetch_pool("{\"body\":\"inline\"}", 1, 4);
    char l[2][128], hex[65], cfg[600], path[600], *dir, *pat = pattern(5000);
    const char *lines[2] = {l[0], l[1]};
    unsigned char raw[64];
    rec r[2];
    FILE *f;
    size_t n;

    snprintf(l[0], sizeof l[0], "%s/bytes/5000", g_ts.base);
    snprintf(l[1], sizeof l[1], "%s/gzip", g_ts.base); /* binary: base64 */
    run_lines(p, lines, NULL, 2, r);
    expect_ok(&r[0]);
    assert_string_equal(jstr(r[0].j, "body_encoding"), "utf-8");
    assert_string_equal(jstr(r[0].j, "body"), pat);
    expect_ok(&r[1]);
    assert_string_equal(jstr(r[1].j, "body_encoding"), "base64");
    n = (size_t)EVP_DecodeBlock(
        raw, (const unsigned char *)jstr(r[1].j, "body"), 40);
    assert_true(n >= 2);
    assert_int_equal(raw[0], 0x1f);
    assert_int_equal(raw[1], 0x8b);
    rec_free(&r[0]);
    rec_free(&r[1]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    p = fetch_pool("{\"body\":\"sha256\"}", 1, 4);
    r[0] = run1(p, 1, l[0]);
    expect_ok(&r[0]);
    sha256_hex(pat, 5000, hex);
    assert_string_equal(jstr(r[0].j, "sha256"), hex);
    assert_null(json_object_get(r[0].j, "body"));
    rec_free(&r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    assert_non_null(dir = tu_tmpdir());
    snprintf(cfg, sizeof cfg, "{\"body\":\"dir\",\"body_dir\":\"%s/out\"}",
             dir);
    p = fetch_pool(cfg, 1, 4);
    r[0] = run1(p, 7, l[0]);
    expect_ok(&r[0]);
    snprintf(path, sizeof path, "%s/out/7.body", dir);
    assert_string_equal(jstr(r[0].j, "body_file"), path);
    assert_non_null(f = fopen(path, "rb"));
    memset(pat, 0, 5000);
    assert_int_equal(fread(pat, 1, 5000, f), 5000);
    fclose(f);
    assert_memory_equal(pat, "abcdefghijklmnopqrstuvwxyzab", 28);
    rec_free(&r[0]);
    snprintf(l[1], sizeof l[1], "%s/drop", g_ts.base);
    r[0] = run1(p, 8, l[1]);
    assert_string_equal(jerr(&r[0]), "MP_ECONNRESET");
    assert_null(json_object_get(r[0].j, "body_file"));
    snprintf(path, sizeof path, "%s/out/8.body", dir);
    assert_int_not_equal(access(path, F_OK), 0); /* partial file removed */
    rec_free(&r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    tu_rm_rf(dir);
    free(dir);
    free(pat);
}

static void test_headers(void **state)
{
    mp_pool *p = fetch_pool("{\"include_headers\":true}", 1, 2);
    char l[128];
    json_t *h;
    rec r;

    snprintf(l, sizeof l, "%s/status/503?retry_after=7", g_ts.base);
    r = run1(p, 1, l);
    assert_int_equal(r.out.status, 503);
    h = json_object_get(r.j, "headers");
    assert_true(json_is_object(h));
    assert_string_equal(jstr(h, "retry-after"), "7");
    assert_string_equal(jstr(h, "content-type"), "text/plain");
    assert_null(json_object_get(h, "Content-Type"));
    rec_free(&r);
    /* repeated fields: Set-Cookie an array (never folded), others joined */
    snprintf(l, sizeof l, "%s/cookies", g_ts.base);
    r = run1(p, 2, l);
    assert_int_equal(r.out.status, 200);
    h = json_object_get(r.j, "headers");
    assert_string_equal(jstr(h, "x-rep"), "one, two");
    json_t *c = json_object_get(h, "set-cookie");
    assert_true(json_is_array(c));
    assert_int_equal(json_array_size(c), 2);
    assert_string_equal(json_string_value(json_array_get(c, 0)),
                        "a=1; Path=/");
    assert_string_equal(json_string_value(json_array_get(c, 1)),
                        "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT");
    rec_free(&r);
    /* a failed transfer whose head arrived: what was received, error */
    snprintf(l, sizeof l, "%s/drop", g_ts.base);
    r = run1(p, 3, l);
    assert_int_equal(r.out.error, MP_ECONNRESET);
    assert_int_equal(r.out.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.j, "bytes")), 500);
    assert_string_equal(jstr(r.j, "http_version"), "1.1");
    h = json_object_get(r.j, "headers");
    assert_true(json_is_object(h));
    assert_string_equal(jstr(h, "content-length"), "1000");
    rec_free(&r);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* With "binary_records" every record a worker sends is in jsonw.h's
   binary form (what the Python module asks for): a fetched line's, and a
   malformed line's, which no request made. Without it, JSON text. */
static void test_binary_records(void **state)
{
    static const char bad[] = "not a url";
    char url[128];
    const char *lines[] = {url, bad};
    mp_buf in[2];
    mp_result out[2];
    size_t len;

    (void)state;
    snprintf(url, sizeof url, "%s/ok", g_ts.base);
    for (int bin = 0; bin < 2; bin++) {
        mp_pool *p = fetch_pool(bin ? "{\"binary_records\":true}" : "{}",
                                1, 2);
        for (size_t i = 0; i < 2; i++) {
            in[i].data = mkin(i + 1, lines[i], strlen(lines[i]), &len);
            in[i].len = len;
        }
        assert_int_equal(mp_pool_map(p, fetch_task, in, 2, out), 0);
        for (size_t i = 0; i < 2; i++) {
            fetch_out h;
            assert_int_equal(out[i].status, 0);
            assert_true(out[i].len > sizeof h + 1);
            memcpy(&h, out[i].data, sizeof h);
            assert_int_equal(h.line, i + 1);
            const unsigned char *r =
                (const unsigned char *)out[i].data + sizeof h;
            /* the first member, "line", right after the object's tag */
            if (bin) {
                assert_int_equal(r[0], JWB_OBJ);
                assert_int_equal(r[1], JWB_KEY);
                assert_int_equal(r[2], 4);
                assert_memory_equal(r + 3, "line", 4);
                assert_int_equal(r[7], JWB_INT);
            } else {
                assert_memory_equal(r, "{\"line\":", 8);
            }
            assert_int_equal(r[out[i].len - sizeof h - 1],
                             bin ? JWB_END : '}');
            mp_result_clear(&out[i]);
            free((void *)in[i].data);
        }
        assert_int_equal(tu_pool_destroy_deaths(p), 0);
    }
}

static void test_config_errors(void **state)
{
    static const char *const bad[] = {"not json",
                                      "[1]",
                                      "{\"body\":\"bogus\"}",
                                      "{\"nope\":1}",
                                      "{\"retries\":-1}",
                                      "{\"follow\":1}",
                                      "{\"method\":\"FROB\"}",
                                      "{\"headers\":[\"no colon\"]}",
                                      "{\"body\":\"dir\"}",
                                      "{\"method\":\"GET\\u0000X\"}",
                                      "{\"body_dir\":\"/tmp\\u0000x\"}",
                                      "{\"timeout_ms\":\"5\"}"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fetch_pool_status(bad[i]) != MP_EINIT)
            fail_msg("configuration %s was accepted", bad[i]);
    assert_int_equal(fetch_pool_status("{\"retries\":2,\"per_host\":4,"
                                       "\"total_conns\":8}"),
                     0);
}

/* The configuration's "data" is sent whole, NUL bytes included (mpfetch
   -d @FILE passes them on); it used to be cut at the first NUL. */
static void test_config_data_nul(void **state)
{
    mp_pool *p = fetch_pool("{\"body\":\"inline\",\"data\":\"a\\u0000b=1\"}",
                            1, 1);
    char l[1][256];
    const char *lines[1] = {l[0]};
    rec r[1];
    json_t *echo, *body;

    snprintf(l[0], sizeof l[0], "%s/echo", g_ts.base);
    run_lines(p, lines, NULL, 1, r);
    expect_ok(&r[0]);
    assert_string_equal(jstr(r[0].j, "method"), "POST");
    echo = json_loads(jstr(r[0].j, "body"), JSON_ALLOW_NUL, NULL);
    assert_non_null(echo);
    body = json_object_get(echo, "body");
    assert_true(json_is_string(body));
    assert_int_equal(json_string_length(body), 5);
    assert_memory_equal(json_string_value(body), "a\0b=1", 5);
    json_decref(echo);
    rec_free(&r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* The configuration's format is written and read in one place
   (fetch_config.c): what fetch_config_json builds parses back to the same
   values, the defaults included, and text that JSON cannot carry is named
   by its key. */
static void test_config_round_trip(void **state)
{
    static const char *hdrs[] = {"X-A: 1", "X-B;"};
    static const char *res[] = {"example.test:80:127.0.0.1"};
    fetch_cfg c, back, d;
    const char *bad;
    size_t bad_i;
    char *text;

    fetch_config_defaults(&c);
    text = fetch_config_json(&c, &bad, &bad_i);
    assert_non_null(text);
    assert_int_equal(fetch_config_parse(text, strlen(text), &back), 0);
    fetch_config_defaults(&d);
    assert_int_equal(back.timeout_ms, d.timeout_ms);
    assert_int_equal(back.max_redirs, d.max_redirs);
    assert_int_equal(back.retry_max_ms, d.retry_max_ms);
    assert_int_equal(back.max_body, d.max_body);
    assert_int_equal(back.engine, MP_HTTP_AUTO);
    assert_null(back.method);
    assert_null(back.proxy);
    assert_false(back.proxy_insecure);
    assert_null(back.proxy_cacert);
    assert_false(back.has_data);
    assert_false(back.binary_records);
    fetch_config_free(&back);
    free(text);

    c = (fetch_cfg){.method = "PUT", .headers = hdrs, .n_headers = 2,
                    .data = "a\0b", .data_len = 3, .has_data = 1,
                    .timeout_ms = 1234, .connect_timeout_ms = 56,
                    .max_redirs = 3, .follow = 1, .compressed = 1,
                    .insecure = 1, .include_headers = 1, .http1 = 1,
                    .engine = MP_HTTP_NATIVE, .cacert = "/ca.pem",
                    .proxy = "", .noproxy = "a,b", .retries = 2,
                    .retry_base_ms = 7, .retry_max_ms = 70, .per_host = 4,
                    .total_conns = 8, .body = FETCH_BODY_SHA256,
                    .max_body = 99, .speed_limit = 10, .speed_time = 20,
                    .resolve = res, .n_resolve = 1, .dns_servers = "127.0.0.1",
                    .proxy_insecure = 1, .proxy_cacert = "/pca.pem",
                    .binary_records = 1};
    text = fetch_config_json(&c, &bad, &bad_i);
    assert_non_null(text);
    assert_int_equal(fetch_config_parse(text, strlen(text), &back), 0);
    free(text);
    assert_string_equal(back.method, "PUT");
    assert_int_equal(back.n_headers, 2);
    assert_string_equal(back.headers[1], "X-B;");
    assert_int_equal(back.data_len, 3);
    assert_memory_equal(back.data, "a\0b", 3);
    assert_true(back.has_data);
    assert_int_equal(back.timeout_ms, 1234);
    assert_int_equal(back.connect_timeout_ms, 56);
    assert_int_equal(back.max_redirs, 3);
    assert_true(back.follow && back.compressed && back.insecure &&
                back.include_headers && back.http1);
    assert_int_equal(back.engine, MP_HTTP_NATIVE);
    assert_string_equal(back.cacert, "/ca.pem");
    assert_true(back.proxy_insecure);
    assert_string_equal(back.proxy_cacert, "/pca.pem");
    assert_true(back.binary_records);
    assert_string_equal(back.proxy, "");
    assert_string_equal(back.noproxy, "a,b");
    assert_int_equal(back.retries, 2);
    assert_int_equal(back.retry_base_ms, 7);
    assert_int_equal(back.retry_max_ms, 70);
    assert_int_equal(back.per_host, 4);
    assert_int_equal(back.total_conns, 8);
    assert_int_equal(back.body, FETCH_BODY_SHA256);
    assert_int_equal(back.max_body, 99);
    assert_int_equal(back.speed_limit, 10);
    assert_int_equal(back.speed_time, 20);
    assert_int_equal(back.n_resolve, 1);
    assert_string_equal(back.resolve[0], res[0]);
    assert_string_equal(back.dns_servers, "127.0.0.1");
    fetch_config_free(&back);

    hdrs[1] = "X-B: \xff"; /* not UTF-8 */
    assert_null(fetch_config_json(&c, &bad, &bad_i));
    assert_string_equal(bad, "headers");
    assert_int_equal(bad_i, 1);
    hdrs[1] = "X-B;";
    c.noproxy = "\xc3";
    assert_null(fetch_config_json(&c, &bad, &bad_i));
    assert_string_equal(bad, "noproxy");
    c.noproxy = NULL;

    /* the largest max_body the parser takes is written; one more is not
       (every worker's init would fail on it) */
    c.max_body = FETCH_MAX_BODY;
    text = fetch_config_json(&c, &bad, &bad_i);
    assert_non_null(text);
    assert_int_equal(fetch_config_parse(text, strlen(text), &back), 0);
    assert_int_equal(back.max_body, FETCH_MAX_BODY);
    fetch_config_free(&back);
    free(text);
    c.max_body = FETCH_MAX_BODY + 1;
    assert_null(fetch_config_json(&c, &bad, &bad_i));
    assert_string_equal(bad, "max_body");
}

/* The run stamp's check, both front ends' (fetch_stamp.h): the same
   input resumes, grown at its end too; another input, another shard, a
   "run" member no writer of ours wrote, or an input shorter than what was
   hashed is refused with a sentence naming the file and the front end's
   option. */
static void test_stamp_check(void **state)
{
    (void)state;
    const char *in = "http://a/1\nhttp://a/2\n";
    fetch_stamp want, found[2], got;
    char msg[1024];
    size_t len = 0;

    fetch_stamp_make(&found[0], 0, 0, "urls.txt", in, strlen(in));
    fetch_stamp_make(&want, 0, 0, "new.txt", in, strlen(in));
    assert_true(fetch_stamp_same(&want, &found[0]));
    assert_int_equal(fetch_stamp_need(found, 1), strlen(in));
    char *m = fetch_stamp_member(&found[0], &len), *text;
    assert_non_null(m);
    assert_true(asprintf(&text, "{\"line\":1,%s\"ok\":true}", m) > 0);
    assert_int_equal(fetch_stamp_parse(text, strlen(text), &got), 1);
    assert_true(fetch_stamp_same(&got, &found[0]));
    free(text);
    free(m);

    const char *grown = "http://a/1\nhttp://a/2\nhttp://a/3\n";
    assert_int_equal(fetch_stamp_check(&want, found, 1, 0, grown,
                                       strlen(grown), "out.jsonl", "-o FILE",
                                       msg, sizeof msg),
                     0);
    const char *other = "http://a/X\nhttp://a/2\n";
    assert_int_equal(fetch_stamp_check(&want, found, 1, 0, other,
                                       strlen(other), "out.jsonl", "-o FILE",
                                       msg, sizeof msg),
                     1);
    assert_string_equal(msg, "out.jsonl holds the records of another input "
                             "(urls.txt: its first 22 bytes are not those of "
                             "new.txt); resuming would merge two inputs into "
                             "one file. Give the same input, or another -o "
                             "FILE");
    assert_int_equal(fetch_stamp_check(&want, found, 1, 0, in, 5, "o", "X",
                                       msg, sizeof msg),
                     1); /* shorter than what was hashed */
    fetch_stamp_make(&found[1], 2, 4, "urls.txt", in, strlen(in));
    assert_int_equal(fetch_stamp_check(&want, found, 2, 0, in, strlen(in),
                                       "o", "resume=PATH", msg, sizeof msg),
                     1);
    assert_string_equal(msg, "o holds the records of --shard 2/4 of "
                             "urls.txt; this run has no --shard: resuming "
                             "would merge two shards into one file. Give "
                             "the same --shard, or another resume=PATH");
    assert_int_equal(fetch_stamp_check(&want, found, 1, 3, in, strlen(in),
                                       "o", "-o FILE", msg, sizeof msg),
                     1);
    assert_non_null(strstr(msg, "holds 3 records whose \"run\" member"));
    assert_int_equal(fetch_stamp_check(&want, NULL, 0, 0, "", 0, "o", "X",
                                       msg, sizeof msg),
                     0); /* no stamp: nothing to check */
}

/* The validators every front end shares: one table of values, each
   accepted or refused. */
static void test_validators(void **state)
{
    static const struct {
        const char *h;
        int ok;
    } hdr[] = {{"X-A: 1", 1},      {"X-A:", 1},       {"X-A;", 1},
               {"X-A:1", 1},       {"NoColon", 0},    {": v", 0},
               {"Bad Name: v", 0}, {"X-A: a\r\nB: c", 0},
               {"X-A: a\nB", 0},   {"\tX: v", 0},     {";", 0},
               {"", 0},            {"X\xc3\xa9: v", 0}};
    static const struct {
        const char *m, *canon;
    } meth[] = {{"GET", "GET"},       {"put", "PUT"},    {"Options", "OPTIONS"},
                {"PROPFIND", NULL},   {"", NULL},        {"GET ", NULL},
                {"delete", "DELETE"}, {"CONNECT", NULL}};
    static const struct {
        const char *name, *dir;
        int mode, dir_ok;
    } body[] = {{"none", NULL, FETCH_BODY_NONE, 1},
                {"inline", NULL, FETCH_BODY_INLINE, 1},
                {"sha256", NULL, FETCH_BODY_SHA256, 1},
                {"dir", "/tmp/x", FETCH_BODY_DIR, 1},
                {"dir", "", FETCH_BODY_DIR, 0},
                {"dir", NULL, FETCH_BODY_DIR, 0},
                {"none", "/tmp/x", FETCH_BODY_NONE, 0},
                {"Dir", NULL, -1, 0},
                {"", NULL, -1, 0}};

    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++)
        if (fetch_header_ok(hdr[i].h, strlen(hdr[i].h)) != hdr[i].ok)
            fail_msg("header \"%s\": want %d", hdr[i].h, hdr[i].ok);
    assert_int_equal(fetch_header_ok("X: a\0b", 6), 0); /* NUL inside */
    for (size_t i = 0; i < sizeof meth / sizeof meth[0]; i++) {
        const char *c = fetch_method_name(meth[i].m);
        if (!c != !meth[i].canon || (c && strcmp(c, meth[i].canon) != 0))
            fail_msg("method \"%s\" gave %s", meth[i].m, c ? c : "NULL");
    }
    for (size_t i = 0; i < sizeof body / sizeof body[0]; i++) {
        int m = fetch_body_mode(body[i].name, strlen(body[i].name));
        assert_int_equal(m, body[i].mode);
        if (m >= 0) {
            assert_string_equal(fetch_body_name(m), body[i].name);
            assert_int_equal(fetch_body_dir_ok(m, body[i].dir),
                             body[i].dir_ok);
        }
    }
    assert_int_equal(fetch_body_mode("dir:x", 3), FETCH_BODY_DIR);
    assert_null(fetch_body_name(4));
}

/* Returns 1 if curl's URL parser takes u as an http or https URL (what
   the fetch task's check asks of it). */
static int curl_takes(const char *u)
{
    CURLU *h = curl_url();
    char *scheme = NULL;
    int ok = h &&
             curl_url_set(h, CURLUPART_URL, u, CURLU_NON_SUPPORT_SCHEME) ==
                 CURLUE_OK &&
             curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_url_cleanup(h);
    return ok;
}

/* The URL check's shortcut (fetch_url_plain) takes only URLs curl takes:
   a table of plain and tricky URLs with the shortcut's answer, then
   thousands of mutations of them, each one it takes checked with curl. */
static void test_url_plain(void **state)
{
    static const struct {
        const char *u;
        int plain;
    } t[] = {{"http://127.0.0.1:8080/1k", 1},
             {"https://example.com/a/b?c=d&e=%20#f", 1},
             {"http://a-b_c.example.org", 1},
             {"http://EXAMPLE.com:65535/", 1},
             {"http://10.0.0.255/", 1},
             {"http://example.com:0/", 0},
             {"http://example.com:65536/", 0},
             {"http://example.com:080/", 0},
             {"http://example.com:/", 0},
             {"http://256.0.0.1/", 0},
             {"http://1.2.3/", 0},
             {"http://01.2.3.4/", 0},
             {"http://0x7f.0.0.1/", 0},
             {"http://127.1/", 0},
             {"http://1.2.3.4.5/", 0},
             {"http://example.123/", 0},
             {"http://a..b/", 0},
             {"http://.a/", 0},
             {"http://a./", 0},
             {"http:///x", 0},
             {"http://", 0},
             {"http://user:pw@host/", 0},
             {"http://[::1]:80/", 0},
             {"http://host?q", 0},
             {"http://host#f", 0},
             {"http://host/a b", 0},
             {"http://host/a\\b", 0},
             {"http://host/{x}", 0},
             {"http://host/\x7f", 0},
             {"HTTP://host/", 0},
             {"ftp://host/", 0},
             {"http:/host/", 0},
             {"http://ho st/", 0},
             {"http://h\xc3\xa9.example/", 0}};
    static const char alphabet[] = "aZ09.-_:/?#%@[] \\\"<>^`{|}~!$&'()*+,;=\x7f";
    unsigned seed = 4242, taken = 0;
    char u[256];

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (fetch_url_plain(t[i].u) != t[i].plain)
            fail_msg("fetch_url_plain(\"%s\") is not %d", t[i].u, t[i].plain);
        if (t[i].plain && !curl_takes(t[i].u))
            fail_msg("curl refuses \"%s\"", t[i].u);
    }
    for (int i = 0; i < 20000; i++) {
        const char *s = t[(size_t)rand_r(&seed) % (sizeof t / sizeof t[0])].u;
        size_t n = strlen(s);
        snprintf(u, sizeof u, "%s", s);
        for (int k = 0; k < 1 + i % 3 && n > 8; k++) {
            size_t at = 7 + (size_t)rand_r(&seed) % (n - 7);
            int op = rand_r(&seed) % 3;
            char c = alphabet[(size_t)rand_r(&seed) % (sizeof alphabet - 1)];
            if (op == 0) {
                u[at] = c; /* replace */
            } else if (op == 1 && n + 1 < sizeof u) {
                memmove(u + at + 1, u + at, n - at + 1); /* insert */
                u[at] = c;
                n++;
            } else {
                memmove(u + at, u + at + 1, n - at); /* delete */
                n--;
            }
        }
        if (fetch_url_plain(u)) {
            taken++;
            if (!curl_takes(u))
                fail_msg("fetch_url_plain takes \"%s\", curl does not", u);
        }
    }
    assert_true(taken > 1000); /* the mutations did reach the shortcut */
}

/* Random and mutated lines: each gives exactly one well-formed record. */
static void test_fuzz(void **state)
{
    enum { N = 400 };
    char conf[200];
    mp_pool *p;
    /* Mutated hosts are names: they go to a DNS server on loopback where
       nothing listens, never to the system's (tests talk to loopback). */
    snprintf(conf, sizeof conf,
             "{\"body\":\"inline\",\"include_headers\":true,"
             "\"timeout_ms\":2000,\"dns_servers\":\"127.0.0.1:%d\"}",
             tu_free_port());
    p = fetch_pool(conf, 2, 16);
    static const char *const seeds[] = {
        "{\"url\":\"%s/ok\",\"method\":\"GET\",\"headers\":{\"A\":\"b\"}}",
        "{\"url\":\"%s/echo\",\"body\":\"\\u00e9\",\"id\":[1,{\"x\":null}]}",
        "%s/bytes/20", "{\"url\":\"%s/gzip\",\"headers\":[\"A: b\"]}"};
    char *lines[N];
    size_t lens[N];
    rec r[N];
    unsigned seed = 12345;

    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(rand_r(&seed) % 300);
        char *b = malloc(512);
        if (i % 2 == 0) { /* random bytes, sometimes looking like JSON */
            for (size_t k = 0; k < n; k++)
                b[k] = (char)(rand_r(&seed) & 0xff);
            if (n && i % 4 == 0)
                b[0] = '{';
        } else { /* a valid line with a few bytes changed */
            n = (size_t)snprintf(b, 512, seeds[i / 2 % 4], g_ts.base);
            for (int k = 0; k < 1 + i % 3; k++)
                b[(size_t)rand_r(&seed) % n] = (char)(rand_r(&seed) & 0xff);
        }
        lines[i] = b;
        lens[i] = n;
    }
    run_lines(p, (const char *const *)lines, lens, N, r);
    for (int i = 0; i < N; i++) {
        assert_true(json_is_object(r[i].j));
        assert_true(json_is_boolean(json_object_get(r[i].j, "ok")));
        assert_int_equal(r[i].out.ok,
                         json_is_true(json_object_get(r[i].j, "ok")));
        rec_free(&r[i]);
        free(lines[i]);
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* ---- main ------------------------------------------------------------- */

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_ts_start(&g_ts, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    tu_ts_stop(&g_ts);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_url_lines, 90),
        TU_BOUNDED(test_json_lines, 90),
        TU_BOUNDED(test_malformed, 90),
        TU_BOUNDED(test_retries, 90),
        TU_BOUNDED(test_retry_after, 90),
        TU_BOUNDED(test_body_modes, 90),
        TU_BOUNDED(test_headers, 90),
        TU_BOUNDED(test_binary_records, 90),
        TU_BOUNDED(test_config_errors, 90),
        TU_BOUNDED(test_validators, 90),
        TU_BOUNDED(test_url_plain, 90),
        TU_BOUNDED(test_config_data_nul, 90),
        TU_BOUNDED(test_config_round_trip, 30),
        TU_BOUNDED(test_stamp_check, 30),
        TU_BOUNDED(test_fuzz, 90),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
