/*
 * test_http_native_resp: the native engine's response reader
 * (src/http/native/http_native_resp.c). Each response is fed whole, in two pieces cut
 * at every byte, and one byte at a time; the outcome (status, framing,
 * body, the head kept for the headers, reuse) must be the same however
 * the bytes arrive: a head that comes whole in the first bytes is parsed
 * in place, any other is gathered first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/native/http_native_resp.h"

/* What a response came to. */
typedef struct outcome {
    int rc; /* the last feed's answer */
    long status;
    int reusable;
    size_t body_len, body_seen;
    char body[256];
    char head[512]; /* the head kept for the headers ("" if none) */
} outcome;

/* Feeds s[0..n) in pieces of at most step bytes (the first piece cut at
   first when first > 0) and returns the outcome. */
static outcome feed(const char *s, size_t n, size_t first, size_t step,
                    const char *method, int want_headers)
{
    mp_http_request q = {.url = "http://h/", .method = method,
                         .want_headers = want_headers};
    mp_http_response resp = {0};
    mp__native_resp r = {.req = &q, .resp = &resp, .max_body = 1 << 20};
    outcome o = {0};
    size_t at = 0;
    char msg[160];

    while (at < n && o.rc == 0) {
        size_t k = at == 0 && first ? first : step;
        mp__http_fail kind;
        if (k > n - at)
            k = n - at;
        o.rc = mp__native_resp_feed(&r, s + at, k, &kind, msg, sizeof msg);
        at += k;
    }
    o.status = resp.status;
    o.reusable = r.reusable;
    o.body_len = r.body_len;
    o.body_seen = r.body_seen;
    if (r.body)
        snprintf(o.body, sizeof o.body, "%s", r.body);
    if (want_headers && r.hdr && r.h.head_len)
        snprintf(o.head, sizeof o.head, "%.*s", (int)r.h.head_len, r.hdr);
    free(r.body);
    free(r.hdr);
    return o;
}

/* Asserts that a and b are the same outcome. */
static void same(const outcome *a, const outcome *b, const char *what,
                 size_t cut)
{
    if (a->rc != b->rc || a->status != b->status ||
        a->reusable != b->reusable || a->body_len != b->body_len ||
        a->body_seen != b->body_seen || strcmp(a->body, b->body) != 0 ||
        strcmp(a->head, b->head) != 0)
        fail_msg("%s cut at %zu: rc %d/%d status %ld/%ld reusable %d/%d "
                 "body %zu/%zu \"%s\"/\"%s\" head \"%s\"/\"%s\"",
                 what, cut, a->rc, b->rc, a->status, b->status, a->reusable,
                 b->reusable, a->body_len, b->body_len, a->body, b->body,
                 a->head, b->head);
}

static void test_any_cut(void **state)
{
    static const struct {
        const char *resp, *method;
        int rc, reusable;
        long status;
        const char *body;
    } t[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 1, 1,
         200, "hello"},
        {"HTTP/1.1 204 No Content\r\n\r\n", "GET", 1, 1, 204, ""},
        /* a HEAD that announces a body: not kept (the body may come) */
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD", 1, 0, 200,
         ""},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HEAD", 1, 1, 200,
         ""},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
         "Content-Length: 2\r\n\r\nok",
         "POST", 1, 1, 201, "ok"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
         "GET", 1, 1, 200, "abcde"},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nz",
         "GET", 1, 0, 200, "z"},
        {"HTTP/1.1 200 OK\r\n\r\nuntil the end", "GET", 0, 0, 200,
         "until the end"},
        {"HTTP/1.0 200 OK\nContent-Length: 3\n\nabc", "GET", 1, 0, 200, "abc"},
        {"HTTP/1.1 999 Bad\r\n\r\n", "GET", -1, 0, 0, ""},
        {"SSH-2.0\r\n\r\n", "GET", -1, 0, 0, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *s = t[i].resp;
        size_t n = strlen(s);
        for (int wh = 0; wh < 2; wh++) {
            outcome ref = feed(s, n, 0, 1, t[i].method, wh);
            if (ref.rc != t[i].rc || ref.status != t[i].status ||
                ref.reusable != t[i].reusable ||
                strcmp(ref.body, t[i].body) != 0)
                fail_msg("response %zu byte by byte: rc %d status %ld "
                         "reusable %d body \"%s\"",
                         i, ref.rc, ref.status, ref.reusable, ref.body);
            if (wh && t[i].rc == 1 && !strstr(s, ref.head))
                fail_msg("response %zu: head \"%s\" not its own", i,
                         ref.head);
            outcome whole = feed(s, n, 0, n, t[i].method, wh);
            same(&whole, &ref, t[i].resp, n);
            for (size_t cut = 1; cut < n; cut++) {
                outcome two = feed(s, n, cut, n, t[i].method, wh);
                same(&two, &ref, t[i].resp, cut);
            }
        }
    }
}

/* Bytes past the response in the same read: the body is cut at its
   length and the connection is not reused (nobody asked for them). */
static void test_bytes_past_the_end(void **state)
{
    static const char *const t[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello",
        "HTTP/1.1 204 No Content\r\n\r\nX"};

    (void)state;
    for (int wh = 0; wh < 2; wh++) {
        outcome a = feed(t[0], strlen(t[0]), 0, 64, "GET", wh);
        assert_int_equal(a.rc, 1);
        assert_int_equal(a.reusable, 0);
        assert_string_equal(a.body, "he");
        outcome b = feed(t[1], strlen(t[1]), 0, 64, "GET", wh);
        assert_int_equal(b.rc, 1);
        assert_int_equal(b.status, 204);
        assert_int_equal(b.reusable, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_cut),
        cmocka_unit_test(test_bytes_past_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
