/*
 * test_http_h2_big: HTTP/2 responses of 1, 4 and 16 MiB from nginx
 * (tools/nginx.sh --tls, a server nobody here wrote) through mpfetch on
 * each engine, libcurl's multi_socket loop (src/http/curl/) and the
 * native one. An old report said such bodies stalled on libcurl; every
 * transfer must end within the test's bound with its whole body (the
 * byte count and the SHA-256 of --body sha256 against the file's), over
 * HTTP/2, at the first attempt, and both engines must write the same
 * record for each line (times and the head's date aside: the project's
 * rule, two engines, one record). The shapes: 50 streams of 1 MiB on one
 * connection (--per-host 1) and as a burst of 50 (libcurl spreads them
 * over two multi handles), 20 of 4 MiB ten at a time, and 16 MiB one
 * after the other at the default --max-body (16M: the limit is a size a
 * body may have). How fast is bench/'s business; none here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "mpfetch/mpfetch_e2e.h"
#include "testutil.h"
#include "mpfetch/mpfetch_nginx.h"

#define MIB ((size_t)1 << 20)

/* The bodies nginx serves, /bigN for N MiB: xorshift bytes, so no two
   64 KiB stretches are alike (a stream that gets another's frames, or the
   same ones twice, has another hash). */
static const unsigned sizes[] = {1, 4, 16};

static char sha[3][65]; /* of /big1, /big4, /big16 */

/* Writes DIR/www/bigN (n MiB) and its SHA-256 in hex to hex. Returns 0
   or -1. */
static int write_big(unsigned n, char hex[65])
{
    char path[700];
    size_t len = (size_t)n * MIB;
    unsigned char *p = malloc(len), md[32];
    uint64_t x = 0x9e3779b97f4a7c15ull ^ n;
    unsigned mdlen = 0;
    int rc = -1;

    if (!p)
        return -1;
    for (size_t i = 0; i < len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    snprintf(path, sizeof path, "%s/www/big%u", g.dir, n);
    if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
        mdlen == 32 && e2e_write_file(path, (const char *)p, len) == 0) {
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        rc = 0;
    }
    free(p);
    return rc;
}

/* Starts nginx (mpfetch_nginx.h) and writes the bodies. Returns 0 or
   -1. */
static int setup(void **state)
{
    if (nginx_setup(state) != 0)
        return -1;
    for (int i = 0; g.up && i < 3; i++)
        if (write_big(sizes[i], sha[i]) != 0)
            return -1;
    return 0;
}

/* Asserts r is line's whole /bigN over HTTP/2: ok, 200, its bytes and
   hash, one attempt. */
static void expect_whole(json_t *r, int idx, const char *engine)
{
    if (!json_is_true(json_object_get(r, "ok")) ||
        json_integer_value(json_object_get(r, "bytes")) !=
            (json_int_t)(sizes[idx] * MIB)) {
        char *d = json_dumps(r, JSON_COMPACT);
        fprintf(stderr, "%s: not the whole body: %s\n", engine, d);
        free(d);
    }
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
    assert_int_equal(json_integer_value(json_object_get(r, "bytes")),
                     sizes[idx] * MIB);
    assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 1);
    assert_string_equal(e2e_str(r, "http_version"), "2");
    assert_string_equal(e2e_str(r, "sha256"), sha[idx]);
}

/* Removes what may differ between two fetches of the same line: times
   and the head's date. */
static void strip(json_t *r)
{
    json_object_del(r, "time");
    json_object_del(json_object_get(r, "headers"), "date");
}

/*
 * Fetches /big<sizes[idx]> n times with -w 1 -c c (and --per-host 1 with
 * one_conn) on each engine; asserts every transfer whole and the two
 * engines' records equal line by line.
 */
static void both_engines(int idx, size_t n, const char *c, int one_conn)
{
    static const char *const engines[2] = {"native", "curl"};
    json_t *recs[2];
    char path[16];

    snprintf(path, sizeof path, "/big%u", sizes[idx]);
    write_urls(n, "https", g.ngx.tls_port, path);
    for (int e = 0; e < 2; e++) {
        char *argv[20] = {(char *)g.bin, "-w", "1", "-c", (char *)c,
                          "--engine", (char *)engines[e], "--cacert",
                          g.ngx.cafile, "-i", "--body", "sha256",
                          "--timeout", "60", "-q"};
        int k = 15;
        if (one_conn) {
            argv[k++] = "--per-host";
            argv[k++] = "1";
        }
        argv[k++] = g.in;
        argv[k] = NULL;
        double t0 = e2e_now();
        assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
        print_message("%zu x %u MiB -c %s%s, %s: %.2f s\n", n, sizes[idx], c,
                      one_conn ? " --per-host 1" : "", engines[e],
                      e2e_now() - t0);
        assert_non_null(recs[e] = e2e_records(g.out));
        assert_int_equal(json_array_size(recs[e]), n);
    }
    for (size_t line = 1; line <= n; line++) {
        json_t *r[2];
        for (int e = 0; e < 2; e++) {
            r[e] = e2e_by_line(recs[e], (long long)line);
            assert_non_null(r[e]);
            expect_whole(r[e], idx, engines[e]);
            strip(r[e]);
        }
        if (!json_equal(r[0], r[1])) {
            char *a = json_dumps(r[0], JSON_COMPACT);
            char *b = json_dumps(r[1], JSON_COMPACT);
            fail_msg("line %zu: native %s\n  curl %s", line, a, b);
        }
    }
    json_decref(recs[0]);
    json_decref(recs[1]);
}

/* 50 streams of 1 MiB at once on one connection. */
static void test_1mib_one_connection(void **state)
{
    (void)state;
    NEED_NGINX();
    both_engines(0, 50, "50", 1);
}

/* 50 of 1 MiB at once, connections as each engine opens them. */
static void test_1mib_burst(void **state)
{
    (void)state;
    NEED_NGINX();
    both_engines(0, 50, "50", 0);
}

/* 20 of 4 MiB, ten at a time. */
static void test_4mib(void **state)
{
    (void)state;
    NEED_NGINX();
    both_engines(1, 20, "10", 0);
}

/* 16 MiB, one after the other on the kept connection, at the default
   --max-body (16M). */
static void test_16mib(void **state)
{
    (void)state;
    NEED_NGINX();
    both_engines(2, 4, "1", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_1mib_one_connection, 120),
        TU_BOUNDED(test_1mib_burst, 120),
        TU_BOUNDED(test_4mib, 120),
        TU_BOUNDED(test_16mib, 120),
    };
    return cmocka_run_group_tests(tests, setup, nginx_teardown);
}
