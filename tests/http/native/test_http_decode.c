/*
 * test_http_decode: the body codings of the native engine
 * (src/http/shared/http_decode.c), pure: encoded bytes in (tools/testserver/encode.c
 * makes them), fed whole and one byte at a time, decoded bytes out to a
 * sink. Each coding, curl's stacking order, identity, unknown codings,
 * bytes past a stream's end, a stream cut short, too many codings, and
 * a bomb that stops where the sink says stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "encode.h"
#include "http/shared/http_decode.h"

/* What came out. */
typedef struct got {
    char *p;
    size_t n, cap, limit, calls;
} got;

/* mp__dec_sink: keeps what comes, up to g->limit bytes (then stop). */
static int keep(void *ud, const char *p, size_t n)
{
    got *g = ud;

    g->calls++;
    if (g->limit && n > g->limit - g->n)
        return -1;
    if (g->n + n + 1 > g->cap) {
        g->cap = (g->n + n + 1) * 2;
        g->p = realloc(g->p, g->cap);
        assert_non_null(g->p);
    }
    memcpy(g->p + g->n, p, n);
    g->n += n;
    g->p[g->n] = '\0';
    return 0;
}

/* Decodes p[0..n) through the Content-Encoding ce (and Transfer-Encoding
   te if not NULL) in pieces of step bytes into g. Returns the first
   failing mp__dec_write's answer, or 0; *why says why. */
static int decode(const char *ce, const char *te, const void *p, size_t n,
                  size_t step, got *g, const char **why)
{
    mp__dec d = {0};
    int rc = 0;

    g->p = NULL;
    g->n = g->cap = g->calls = 0; /* g->limit stays */
    if (ce)
        assert_int_equal(mp__dec_add(&d, ce, strlen(ce), 0, why), 0);
    if (te)
        assert_int_equal(mp__dec_add(&d, te, strlen(te), 1, why), 0);
    for (size_t at = 0; at < n && rc == 0; at += step)
        rc = mp__dec_write(&d, (const char *)p + at,
                           n - at < step ? n - at : step, keep, g, why);
    mp__dec_end(&d);
    return rc;
}

/* Encodes text with the codings names[0..k) applied in order. Returns
   the bytes (malloc'd), *n their length. */
static unsigned char *encode(const char *const *names, int k,
                             const char *text, size_t *n)
{
    unsigned char *cur = (unsigned char *)strdup(text), *next;
    size_t len = strlen(text);

    for (int i = 0; i < k; i++) {
        assert_int_equal(ts_encode(names[i], cur, len, &next, &len), 0);
        free(cur);
        cur = next;
    }
    *n = len;
    return cur;
}

static const char text[] =
    "The quick brown fox jumps over the lazy dog. 0123456789 "
    "The quick brown fox jumps over the lazy dog. abcdefghij\n";

/* Each coding alone, as curl names it, whole and byte by byte. */
static void test_each(void **state)
{
    static const struct {
        const char *enc, *header;
    } c[] = {{"gzip", "gzip"},         {"gzip", "x-gzip"},
             {"deflate", "gzip"},      /* curl's gzip takes zlib data */
             {"deflate", "deflate"},   {"deflate-raw", "deflate"},
             {"br", "br"},             {"zstd", "ZSTD"},
             {"identity", "identity"}, {"identity", "none"}};
    const char *why = NULL;
    got g = {0};

    (void)state;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        size_t n;
        unsigned char *b = encode(&c[i].enc, 1, text, &n);
        for (size_t step = 1; step <= n; step += n - 1) {
            if (decode(c[i].header, NULL, b, n, step, &g, &why) != 0)
                fail_msg("%s as %s, step %zu: %s", c[i].enc, c[i].header,
                         step, why);
            assert_string_equal(g.p, text);
            free(g.p);
        }
        free(b);
    }
}

/* "gzip, br" was gzip'd, then br'd: br is undone first. Transfer codings
   come off before content codings whatever the header order. */
static void test_stacked(void **state)
{
    static const char *const gz_br[] = {"gzip", "br"};
    static const char *const br_zs_gz[] = {"br", "zstd", "gzip"};
    const char *why = NULL;
    got g = {0};
    size_t n;
    unsigned char *b;

    (void)state;
    b = encode(gz_br, 2, text, &n);
    assert_int_equal(decode("gzip, br", NULL, b, n, 7, &g, &why), 0);
    assert_string_equal(g.p, text);
    free(g.p);
    assert_int_equal(decode("br, gzip", NULL, b, n, n, &g, &why), -1);
    free(g.p);
    free(b);
    /* CE "br, zstd", TE "gzip, chunked": gzip came last, on the wire */
    b = encode(br_zs_gz, 3, text, &n);
    assert_int_equal(decode("br, zstd", "gzip, chunked", b, n, 5, &g, &why),
                     0);
    assert_string_equal(g.p, text);
    free(g.p);
    free(b);
}

/* An unknown coding fails when bytes reach it (curl's message), not
   before: an empty body through it is fine. */
static void test_unknown(void **state)
{
    const char *why = NULL;
    got g = {0};

    (void)state;
    assert_int_equal(decode("compress", NULL, "abc", 3, 3, &g, &why), -1);
    assert_non_null(strstr(why, "Unrecognized content encoding type"));
    assert_non_null(strstr(why, MP__DEC_ACCEPT));
    free(g.p);
    assert_int_equal(decode("foo", NULL, "", 0, 1, &g, &why), 0);
    assert_int_equal(g.n, 0);
    free(g.p);
}

/* Bytes past the end of a gzip or br stream are an error (curl's
   CURLE_WRITE_ERROR), up to 4 past a raw deflate's are not; a stream cut
   short is no error, what came out stays; garbage is an error. */
static void test_ends(void **state)
{
    const char *names[] = {"gzip", "br", "deflate-raw"};
    const char *why = NULL;
    got g = {0};

    (void)state;
    for (int i = 0; i < 3; i++) {
        size_t n;
        unsigned char *b = encode(&names[i], 1, text, &n), *x;
        x = malloc(n + 5);
        memcpy(x, b, n);
        memcpy(x + n, "junk!", 5);
        int want = i == 2 ? 0 : -1;
        assert_int_equal(decode(names[i][0] == 'd' ? "deflate" : names[i],
                                NULL, x, n + 4, 1, &g, &why),
                         want);
        free(g.p);
        assert_int_equal(decode(names[i][0] == 'd' ? "deflate" : names[i],
                                NULL, x, n + 5, n + 5, &g, &why),
                         -1);
        assert_non_null(why);
        free(g.p);
        assert_int_equal(decode(names[i][0] == 'd' ? "deflate" : names[i],
                                NULL, b, n / 2, 3, &g, &why),
                         0);
        free(g.p);
        free(x);
        free(b);
    }
    assert_int_equal(decode("gzip", NULL, /* a header, block type 3 */
                            "\x1f\x8b\x08\0\0\0\0\0\0\x03\xff\xff", 12,
                            12, &g, &why),
                     -1);
    free(g.p);
    assert_int_equal(decode("zstd", NULL, "not zstd at all", 15, 15, &g,
                            &why),
                     -1);
    free(g.p);
}

/* More than 5 codings (curl's MAX_ENCODE_STACK) are refused at once. */
static void test_too_many(void **state)
{
    const char *why = NULL;
    mp__dec d = {0};

    (void)state;
    assert_int_equal(mp__dec_add(&d, "identity, gzip, br", 18, 0, &why), 0);
    assert_int_equal(mp__dec_add(&d, "gzip, chunked, zstd", 19, 1, &why), 0);
    assert_int_equal(d.n, 5);
    assert_int_equal(mp__dec_add(&d, "br", 2, 0, &why), -1);
    assert_non_null(strstr(why, "more than 5"));
    mp__dec_end(&d);
    assert_int_equal(d.n, 0);
}

/* A 64 MiB bomb in gzip and in zstd stops at the sink's 1 MiB: -2, and
   nothing is decoded past the piece that crossed the limit. */
static void test_bomb(void **state)
{
    const char *names[] = {"gzip", "zstd", "br"};
    size_t big = 64u << 20;
    char *zeros = calloc(1, big + 1);
    const char *why = NULL;

    (void)state;
    assert_non_null(zeros);
    memset(zeros, 'a', big);
    for (int i = 0; i < 3; i++) {
        size_t n;
        unsigned char *b = encode(&names[i], 1, zeros, &n);
        got g = {.limit = 1u << 20};
        assert_true(n < big / 100);
        assert_int_equal(decode(names[i], NULL, b, n, n, &g, &why), -2);
        assert_true(g.n <= g.limit);
        assert_true(g.calls <= g.limit / 16384 + 2);
        free(g.p);
        free(b);
    }
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each),    cmocka_unit_test(test_stacked),
        cmocka_unit_test(test_unknown), cmocka_unit_test(test_ends),
        cmocka_unit_test(test_too_many), cmocka_unit_test(test_bomb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
