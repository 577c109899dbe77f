/*
 * mpfetch against a real nginx (tu_nginx_start): HTTP/1.1 keep-alive with
 * many requests, HTTPS with and without --cacert, HTTP/2 over TLS, gzip
 * with --compressed. Skipped when nginx is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mpfetch_e2e.h"
#include "testutil.h"
#include "mpfetch_nginx.h"

#define TEXT_LEN (70 * 56) /* /text: 70 lines of 56 bytes */

/* Runs mpfetch with extra (NULL-terminated, at most 8) on g.in. Asserts
   exit 0, n records and no worker died (the summary's count: the pool
   would re-run a crashed worker's requests and the records come out
   right anyway). Returns the records. */
static json_t *fetch(size_t n, char *const extra[])
{
    char *argv[18] = {(char *)g.bin, "-w", "2", "-c", "8", "--summary-json",
                      g.sum};
    int k = 7;
    for (int i = 0; extra[i] && k < 16; i++)
        argv[k++] = extra[i];
    argv[k++] = g.in;
    argv[k] = NULL;
    assert_int_equal(e2e_run(argv, NULL, g.out, g.err), 0);
    e2e_assert_no_death(g.sum);
    json_t *recs = e2e_records(g.out);
    assert_non_null(recs);
    assert_int_equal(json_array_size(recs), n);
    return recs;
}

/* Asserts every record is ok with this body size and HTTP version. */
static void all_ok(json_t *recs, long long bytes, const char *version)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (!json_is_true(json_object_get(r, "ok"))) {
            char *d = json_dumps(r, JSON_COMPACT);
            fprintf(stderr, "not ok: %s\n", d);
            free(d);
        }
        assert_true(json_is_true(json_object_get(r, "ok")));
        assert_int_equal(json_integer_value(json_object_get(r, "status")),
                         200);
        assert_int_equal(json_integer_value(json_object_get(r, "bytes")),
                         bytes);
        assert_string_equal(e2e_str(r, "http_version"), version);
    }
}

/* Many requests over HTTP/1.1 keep-alive connections: all ok. */
static void test_keepalive_many(void **state)
{
    (void)state;
    NEED_NGINX();
    write_urls(2000, "http", g.ngx.port, "/1k");
    char *extra[] = {"--per-host", "4", NULL};
    json_t *recs = fetch(2000, extra);
    all_ok(recs, 1024, "1.1");
    json_decref(recs);
}

/* HTTPS with --cacert: ok, over HTTP/2 (ALPN). */
static void test_https_cacert_http2(void **state)
{
    (void)state;
    NEED_NGINX();
    write_urls(50, "https", g.ngx.tls_port, "/256k");
    char *extra[] = {"--cacert", g.ngx.cafile, NULL};
    json_t *recs = fetch(50, extra);
    all_ok(recs, 256 * 1024, "2");
    json_decref(recs);
}

/* HTTPS with --http1.1 on the same server: HTTP/1.1, on every engine. */
static void test_https_http1(void **state)
{
    (void)state;
    NEED_NGINX();
    write_urls(50, "https", g.ngx.tls_port, "/256k");
    const char *engines[] = {"auto", "native", "curl"};
    for (int i = 0; i < 3; i++) {
        char *extra[] = {"--cacert", g.ngx.cafile, "--http1.1", "--engine",
                         (char *)engines[i], NULL};
        json_t *recs = fetch(50, extra);
        all_ok(recs, 256 * 1024, "1.1");
        json_decref(recs);
    }
}

/* HTTPS without --cacert: the self-signed certificate fails, MP_ETLS. */
static void test_https_untrusted(void **state)
{
    (void)state;
    NEED_NGINX();
    write_urls(3, "https", g.ngx.tls_port, "/1k");
    char *extra[] = {NULL};
    json_t *recs = fetch(3, extra);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        assert_false(json_is_true(json_object_get(r, "ok")));
        assert_string_equal(e2e_error_code(r), "MP_ETLS");
    }
    json_decref(recs);
}

/* gzip: with --compressed the response is gzip'd on the wire and the
   record counts the decoded bytes. */
static void test_gzip_compressed(void **state)
{
    (void)state;
    NEED_NGINX();
    write_urls(5, "http", g.ngx.port, "/text");
    char *extra[] = {"--compressed", "-i", NULL};
    json_t *recs = fetch(5, extra);
    all_ok(recs, TEXT_LEN, "1.1");
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_t *h = json_object_get(r, "headers");
        assert_true(json_is_object(h));
        assert_string_equal(e2e_str(h, "content-encoding"), "gzip");
    }
    json_decref(recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_keepalive_many, 120),
        TU_BOUNDED(test_https_cacert_http2, 120),
        TU_BOUNDED(test_https_http1, 120),
        TU_BOUNDED(test_https_untrusted, 120),
        TU_BOUNDED(test_gzip_compressed, 120),
    };
    return cmocka_run_group_tests(tests, nginx_setup, nginx_teardown);
}
