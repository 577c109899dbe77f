/*
 * test_http_parse: the native engine's response parser (src/http/message/http_parse.c)
 * on known heads and chunked bodies, every one also fed byte by byte, and
 * fuzzed: random bytes and mutations of valid responses must give an
 * answer within bounds (and nothing ASan or UBSan can see).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/message/http_parse.h"

/* Returns the parse of the whole of s; asserts that every proper prefix
   needs more bytes (or fails like the whole). */
static int parse_all(const char *s, mp__http_head *h)
{
    size_t n = strlen(s);
    const char *why;
    int rc = mp__http_parse_head(s, n, h, &why);

    for (size_t i = 0; i < n && rc == 1; i++) {
        mp__http_head hp;
        int r = mp__http_parse_head(s, i, &hp, &why);
        if (r == 1 && hp.head_len > i)
            fail_msg("prefix %zu: head_len %zu past the input", i,
                     hp.head_len);
        if (r == 1 && hp.head_len != h->head_len)
            fail_msg("prefix %zu of \"%s\" parsed as complete", i, s);
    }
    return rc;
}

static void test_heads(void **state)
{
    mp__http_head h;

    assert_int_equal(parse_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                               "Server: x\r\n\r\nhello",
                               &h),
                     1);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.version, 11);
    assert_int_equal(h.clen, 5);
    assert_int_equal(h.head_len, 49);
    assert_false(h.conn_close);
    assert_false(h.chunked);

    assert_int_equal(parse_all("HTTP/1.1 404 Not Found\ntransfer-encoding: "
                               "chunked\n\n",
                               &h),
                     1);
    assert_int_equal(h.status, 404);
    assert_true(h.chunked);
    assert_int_equal(h.clen, -1);

    assert_int_equal(parse_all("HTTP/1.0 200 OK\r\n\r\n", &h), 1);
    assert_true(h.conn_close);
    assert_int_equal(h.version, 10);
    assert_int_equal(
        parse_all("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", &h),
        1);
    assert_false(h.conn_close);
    assert_int_equal(parse_all("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                               &h),
                     1);
    assert_true(h.conn_close);
    /* Connection tokens: any case, in a list, whole tokens only */
    static const struct {
        const char *head;
        int close;
    } conn[] = {
        {"HTTP/1.1 200 OK\r\nCONNECTION: Upgrade, CLOSE\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nconnection: close;x\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: x-close\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: cl\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nConnection: a,KEEP-ALIVE\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alived\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nXConnection: close\r\n\r\n", 0},
    };
    for (size_t i = 0; i < sizeof conn / sizeof conn[0]; i++) {
        assert_int_equal(parse_all(conn[i].head, &h), 1);
        if (h.conn_close != conn[i].close)
            fail_msg("%s: conn_close %d", conn[i].head, h.conn_close);
    }
    assert_int_equal(
        parse_all("HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\n",
                  &h),
        1);
    assert_true(h.chunked);
    assert_int_equal(parse_all("HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 12\r\n\r\n",
                               &h),
                     1);
    assert_int_equal(h.clen, 12);
    assert_int_equal(parse_all("HTTP/1.1 100 Continue\r\n\r\n", &h), 1);
    assert_int_equal(h.status, 100);
    /* the same Content-Length twice is fine */
    assert_int_equal(parse_all("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
                               "Content-Length: 7\r\n\r\n",
                               &h),
                     1);
    assert_int_equal(h.clen, 7);
}

/* Collects the coding lists mp__http_head_codings finds. */
static int collect(void *ud, const char *v, size_t n, int transfer)
{
    char *out = ud;
    size_t have = strlen(out);

    snprintf(out + have, 256 - have, "%c[%.*s]", transfer ? 'T' : 'C',
             (int)n, v);
    return 0;
}

/* Transfer codings other than chunked are the body's (curl removes them:
   http_decode.c), a body without chunked then runs to the close; the
   coding lines come out in their order, Content-Encoding's on demand. */
static void test_codings(void **state)
{
    static const char head[] =
        "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n"
        "Transfer-Encoding: gzip, chunked\r\nX: y\r\n"
        "content-encoding:  gzip , zstd \r\n\r\n";
    mp__http_head h;
    char got[256] = "";

    assert_int_equal(parse_all(head, &h), 1);
    assert_true(h.chunked);
    assert_true(h.te_codings);
    assert_true(h.has_ce);
    assert_int_equal(mp__http_head_codings(head, h.head_len, 1, collect, got),
                     0);
    assert_string_equal(got, "C[br]T[gzip, chunked]C[gzip , zstd]");
    got[0] = '\0';
    assert_int_equal(mp__http_head_codings(head, h.head_len, 0, collect, got),
                     0);
    assert_string_equal(got, "T[gzip, chunked]");

    assert_int_equal(
        parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &h),
        1);
    assert_false(h.chunked);
    assert_true(h.te_codings);
    assert_int_equal(h.clen, -1);
    assert_int_equal(
        parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked , CHUNKED"
                  "\r\n\r\n",
                  &h),
        1);
    assert_true(h.chunked);
    assert_false(h.te_codings);
    assert_false(h.has_ce);
}

static void test_bad_heads(void **state)
{
    static const char *const bad[] = {
        "NOT HTTP AT ALL\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 600 Beyond\r\n\r\n",
        "HTTP/1.1 200\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
        "\r\n\r\n",
    };
    mp__http_head h;
    const char *why = NULL;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mp__http_parse_head(bad[i], strlen(bad[i]), &h, &why) != -1)
            fail_msg("accepted: %s", bad[i]);
    assert_non_null(why);

    /* the limits of mpool.h, both sides of each */
    size_t n = MP_HTTP_MAX_HEADER_BYTES + 4096;
    char *big = malloc(n);
    assert_non_null(big);
    /* one line of MP_HTTP_MAX_HEADER_LINE bytes (CRLF included) passes,
       one byte more fails, complete or not */
    size_t k = 17, line = MP_HTTP_MAX_HEADER_LINE;
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memcpy(big + k, "X: ", 3);
    memset(big + k + 3, 'a', line - 5);
    memcpy(big + k + line - 2, "\r\n\r\n", 4);
    assert_int_equal(mp__http_parse_head(big, k + line + 2, &h, &why), 1);
    big[k + line - 2] = 'a';
    memcpy(big + k + line - 1, "\r\n\r\n", 4);
    assert_int_equal(mp__http_parse_head(big, k + line + 3, &h, &why), -1);
    assert_non_null(strstr(why, "MP_HTTP_MAX_HEADER_LINE"));
    memset(big + k + 3, 'c', line); /* no line end yet, already too long */
    assert_int_equal(mp__http_parse_head(big, k + line, &h, &why), 0);
    assert_int_equal(mp__http_parse_head(big, k + line + 1, &h, &why), -1);
    /* MP_HTTP_MAX_HEADER_LINES lines pass, one more fails */
    for (int extra = 0; extra < 2; extra++) {
        size_t m = 17;
        for (int i = 0; i < MP_HTTP_MAX_HEADER_LINES + extra; i++)
            m += (size_t)sprintf(big + m, "H%d: v\r\n", i);
        memcpy(big + m, "\r\n", 2);
        assert_int_equal(mp__http_parse_head(big, m + 2, &h, &why),
                         extra ? -1 : 1);
    }
    assert_non_null(strstr(why, "MP_HTTP_MAX_HEADER_LINES"));
    /* lines under both limits, but more bytes in all than allowed */
    size_t m = 17;
    while (m < MP_HTTP_MAX_HEADER_BYTES) {
        memcpy(big + m, "X: ", 3);
        memset(big + m + 3, 'b', 1000);
        memcpy(big + m + 1003, "\r\n", 2);
        m += 1005;
    }
    memcpy(big + m, "\r\n", 2);
    assert_int_equal(mp__http_parse_head(big, m + 2, &h, &why), -1);
    assert_non_null(strstr(why, "MP_HTTP_MAX_HEADER_BYTES"));
    free(big);
}

/* Collects decoded bytes. */
typedef struct out {
    char buf[256];
    size_t n;
} out;

static void sink(void *ud, const char *p, size_t n)
{
    out *o = ud;

    assert_true(o->n + n <= sizeof o->buf);
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

/* Decodes s whole and byte by byte; asserts both agree. Returns rc. */
static int dechunk_both(const char *s, out *o, size_t *used)
{
    mp__http_chunked c1, c2;
    out o2;
    size_t n = strlen(s), u = 0, total = 0;
    int rc = 0, rc2 = 0;

    memset(&c1, 0, sizeof c1);
    memset(&c2, 0, sizeof c2);
    memset(o, 0, sizeof *o);
    memset(&o2, 0, sizeof o2);
    rc = mp__http_dechunk(&c1, s, n, used, sink, o);
    for (size_t i = 0; i < n && rc2 == 0; i++) {
        rc2 = mp__http_dechunk(&c2, s + i, 1, &u, sink, &o2);
        total += u;
    }
    assert_int_equal(rc, rc2);
    if (rc == 1)
        assert_int_equal(*used, total);
    assert_int_equal(o->n, o2.n);
    assert_memory_equal(o->buf, o2.buf, o->n);
    return rc;
}

static void test_chunked(void **state)
{
    out o;
    size_t used;

    assert_int_equal(dechunk_both("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nX",
                                  &o, &used),
                     1);
    assert_int_equal(o.n, 11);
    assert_memory_equal(o.buf, "hello world", 11);
    assert_int_equal(used, 26); /* the X after the body is not taken */
    assert_int_equal(dechunk_both("A;ext=1\n0123456789\n0\nTrailer: x\n\n",
                                  &o, &used),
                     1);
    assert_int_equal(o.n, 10);
    assert_int_equal(dechunk_both("5\r\nhel", &o, &used), 0);
    assert_int_equal(o.n, 3);
    assert_int_equal(dechunk_both("ZZZ\r\n", &o, &used), -1);
    assert_int_equal(dechunk_both("\r\n", &o, &used), -1);
    assert_int_equal(dechunk_both("5\r\nhelloXX0\r\n\r\n", &o, &used), -1);
    assert_int_equal(dechunk_both("1000000000000000\r\n", &o, &used), -1);
}

/* xorshift64: deterministic fuzz input. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void drop(void *ud, const char *p, size_t n)
{
    size_t *total = ud;
    (void)p;
    *total += n;
}

static void test_fuzz(void **state)
{
    static const char *const seeds[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
        "HTTP/1.0 301 Moved\r\nLocation: /x\r\nTransfer-Encoding: chunked"
        "\r\n\r\n",
        "5\r\nhello\r\n1a;x=y\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: 1\r\n"
        "\r\n",
    };
    uint64_t seed = 0x9e3779b97f4a7c15u;
    char buf[512];

    for (int it = 0; it < 200000; it++) {
        size_t n;
        if (it % 4 == 0) { /* random bytes */
            n = rnd(&seed) % sizeof buf;
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)rnd(&seed);
        } else { /* a seed with a few bytes changed, cut somewhere */
            const char *s = seeds[rnd(&seed) % 3];
            n = strlen(s);
            memcpy(buf, s, n);
            for (int k = (int)(rnd(&seed) % 4); k >= 0; k--) {
                static const char pick[] = "\r\n :;0123456789aAfFzZ\t\x80";
                buf[rnd(&seed) % n] = pick[rnd(&seed) % (sizeof pick - 1)];
            }
            n = rnd(&seed) % (n + 1);
        }
        mp__http_head h;
        const char *why;
        int rc = mp__http_parse_head(buf, n, &h, &why);
        assert_true(rc >= -1 && rc <= 1);
        if (rc == 1) {
            assert_true(h.head_len <= n);
            assert_true(h.status >= 100 && h.status <= 999);
            assert_true(h.clen >= -1);
        }
        mp__http_chunked c;
        size_t used = 0, total = 0;
        memset(&c, 0, sizeof c);
        rc = mp__http_dechunk(&c, buf, n, &used, drop, &total);
        assert_true(rc >= -1 && rc <= 1);
        if (rc >= 0)
            assert_true(used <= n);
        assert_true(total <= n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_bad_heads),
        cmocka_unit_test(test_codings),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
