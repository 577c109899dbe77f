/*
 * test_http_native_url: which URLs the native engine takes
 * (mp__http_native_url, src/http/native/http_native_url.c) and how it splits them; the
 * target's one-pass check against the strstr form it replaced, on a table
 * and on thousands of mutations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/shared/http_int.h"

/* The target check as it was written first (a byte loop, then strstr and
   strcmp for the dot segments): the reference for the one-pass form. */
static int target_ref(const char *p)
{
    size_t n = strlen(p);

    for (const char *q = p; *q; q++)
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f ||
            *q == '#' || *q == '\\')
            return 0;
    if (strchr(p, '?') && !strchr(p, '?')[1])
        return 0; /* an empty query: curl drops its '?' (fuzz_url found) */
    const char *q = strchr(p, '?');
    if (q && ((q - p >= 2 && memcmp(q - 2, "/.", 2) == 0) ||
              (q - p >= 3 && memcmp(q - 3, "/..", 3) == 0)))
        return 0; /* the path ends in a dot segment (fuzz_url found) */
    return !(strstr(p, "/./") || strstr(p, "/../") ||
             (n >= 2 && strcmp(p + n - 2, "/.") == 0) ||
             (n >= 3 && strcmp(p + n - 3, "/..") == 0));
}

/* Returns mp__http_native_url's answer for "http://h" + target. */
static int takes_target(const char *target)
{
    char url[300];
    mp__http_url u;

    snprintf(url, sizeof url, "http://h%s", target);
    return mp__http_native_url(url, &u) == 0;
}

static void test_split(void **state)
{
    mp__http_url u;

    (void)state;
    assert_int_equal(mp__http_native_url("http://127.0.0.1:8080/1k?a=b", &u),
                     0);
    assert_int_equal(u.kind, MP__HU_IPV4);
    assert_int_equal(u.host_len, 9);
    assert_memory_equal(u.host, "127.0.0.1", 9);
    assert_int_equal(u.port, 8080);
    assert_int_equal(u.tls, 0);
    assert_string_equal(u.target, "/1k?a=b");
    assert_int_equal(mp__http_native_url("https://[::1]:8443", &u), 0);
    assert_int_equal(u.kind, MP__HU_IPV6);
    assert_int_equal(u.host_len, 5);
    assert_int_equal(u.port, 8443);
    assert_int_equal(u.tls, 1);
    assert_string_equal(u.target, "");
    assert_int_equal(mp__http_native_url("https://a.example/x", &u), 0);
    assert_int_equal(u.kind, MP__HU_NAME);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.target, "/x");
}

static void test_targets(void **state)
{
    static const struct {
        const char *t;
        int ok;
    } t[] = {{"", 1},          {"/", 1},         {"/a/b", 1},
             {"/.a", 1},       {"/a.", 1},       {"/..a/", 1},
             {"/...", 1},      {"/a/./b", 0},    {"/a/../b", 0},
             {"/.", 0},        {"/..", 0},       {"/a/.", 0},
             {"/a/..", 0},     {"/./", 0},       {"?q=/./", 0},
             {"/x?q=/..", 0},  {"/x?q=.", 1},    {"//./", 0},
             {"/a b", 0},      {"/a#f", 0},      {"/a\\b", 0},
             {"/a\x7f", 0},    {"/\xc3\xa9", 0}, {"/a?b=c&d", 1},
             {"/.//", 0},       {"/./.", 0},      {"/x?", 0},
             {"?", 0},         {"/x??", 1},      {"/x?a?", 1},
             {"/a/..?x", 0},   {"/a/.?x", 0},    {"/a/x?/..?", 1},
             {"/a..?x", 1},    {"/x?a/.?", 1}};

    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (takes_target(t[i].t) != t[i].ok)
            fail_msg("target \"%s\": want %d", t[i].t, t[i].ok);
        if (t[i].t[0] == '/' && target_ref(t[i].t) != t[i].ok)
            fail_msg("reference, target \"%s\": want %d", t[i].t, t[i].ok);
    }
}

/* Mutations of targets built from '/', '.', letters and a few bytes the
   check refuses: the one-pass check agrees with the reference on each. */
static void test_targets_mutated(void **state)
{
    static const char alphabet[] = "/./../a?=#\\ ";
    unsigned seed = 4242;
    int taken = 0, refused = 0;

    (void)state;
    for (int i = 0; i < 50000; i++) {
        char t[24];
        size_t n = 1 + (size_t)rand_r(&seed) % (sizeof t - 2);
        t[0] = '/';
        for (size_t k = 1; k < n; k++)
            t[k] = alphabet[(size_t)rand_r(&seed) % (sizeof alphabet - 1)];
        t[n] = '\0';
        int want = target_ref(t), got = takes_target(t);
        if (got != want)
            fail_msg("target \"%s\": %d, the reference %d", t, got, want);
        want ? taken++ : refused++;
    }
    assert_true(taken > 1000 && refused > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_targets_mutated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
