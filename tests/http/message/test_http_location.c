/*
 * test_http_location: a redirect's Location resolved against the URL that
 * got it (mp__http_location, src/http/message/http_location.c), on a table of
 * references: RFC 3986's examples (5.4) where libcurl 7.88 agrees, curl's
 * encodings, what is another scheme and what the native form cannot hold.
 * tests/fuzz/fuzz_location.c checks the same against libcurl itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/message/http_location.h"

/* Asserts loc against base gives rc and, with OK or SCHEME, want. */
static void check(const char *base, const char *loc, int rc,
                  const char *want)
{
    char *out = (char *)1;
    int got = mp__http_location(base, loc, strlen(loc), &out);

    if (got != rc)
        fail_msg("%s + [%s]: %d, not %d (%s)", base, loc, got, rc,
                 out ? out : "-");
    if (want && (!out || strcmp(out, want) != 0))
        fail_msg("%s + [%s]: %s, not %s", base, loc, out ? out : "-", want);
    if (!want && out)
        fail_msg("%s + [%s]: out set", base, loc);
    free(out);
}

#define OK MP__LOC_OK
#define FOREIGN MP__LOC_FOREIGN

/* RFC 3986 5.4.1 and 5.4.2 (those without a fragment) with base
   "http://a/b/c/d;p?q" (here "a.test"). */
static void test_rfc3986_examples(void **state)
{
    static const char *const t[][2] = {
        {"g", "http://a.test/b/c/g"},
        {"./g", "http://a.test/b/c/g"},
        {"g/", "http://a.test/b/c/g/"},
        {"/g", "http://a.test/g"},
        {"//g.test", "http://g.test/"},
        {"?y", "http://a.test/b/c/d;p?y"},
        {"g?y", "http://a.test/b/c/g?y"},
        {";x", "http://a.test/b/c/;x"},
        {"g;x", "http://a.test/b/c/g;x"},
        {"g;x?y", "http://a.test/b/c/g;x?y"},
        {".", "http://a.test/b/c/"},
        {"./", "http://a.test/b/c/"},
        {"..", "http://a.test/b/"},
        {"../", "http://a.test/b/"},
        {"../g", "http://a.test/b/g"},
        {"../..", "http://a.test/"},
        {"../../", "http://a.test/"},
        {"../../g", "http://a.test/g"},
        {"../../../g", "http://a.test/g"},
        {"../../../../g", "http://a.test/g"},
        {"/./g", "http://a.test/g"},
        {"/../g", "http://a.test/g"},
        {"g.", "http://a.test/b/c/g."},
        {".g", "http://a.test/b/c/.g"},
        {"g..", "http://a.test/b/c/g.."},
        {"..g", "http://a.test/b/c/..g"},
        {"./../g", "http://a.test/b/g"},
        {"./g/.", "http://a.test/b/c/g/"},
        {"g/./h", "http://a.test/b/c/g/h"},
        {"g/../h", "http://a.test/b/c/h"},
        {"g;x=1/./y", "http://a.test/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a.test/b/c/y"},
        /* curl keeps these, the native form takes no dot segment in a
           query: libcurl follows them */
        {"g?y/./x", NULL},
        {"g?y/../x", NULL},
        {"http:g", NULL}, /* curl: not two slashes */
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        check("http://a.test/b/c/d;p?q", t[i][0], t[i][1] ? OK : FOREIGN,
              t[i][1]);
}

/* Absolute and network-path references, curl's encodings, the empty
   query, bases without a path. */
static void test_forms(void **state)
{
    check("http://h.test/a", "https://other.test:8443/x?y",
          OK, "https://other.test:8443/x?y");
    check("https://h.test/a", "//other.test/x", OK, "https://other.test/x");
    check("http://h.test/a", "HTTP://other.test/x", OK,
          "http://other.test/x");
    check("http://h.test/a", "http://other.test", OK, "http://other.test/");
    check("http://h.test/a", "http://other.test?x", OK,
          "http://other.test/?x");
    check("http://h.test", "x", OK, "http://h.test/x");
    check("http://h.test", "?x", OK, "http://h.test/?x");
    check("http://h.test:8080/a/b", "c", OK, "http://h.test:8080/a/c");
    check("http://[::1]:81/a/b", "/c/../d", OK, "http://[::1]:81/d");
    check("http://127.0.0.1:81/a/b", "http://127.0.0.1:82/a/../b", OK,
          "http://127.0.0.1:82/b");
    check("http://h.test/", "/a b?c d", OK, "http://h.test/a%20b?c+d");
    check("http://h.test/", "/\xc3\xa9?\xff", OK, "http://h.test/%c3%a9?%ff");
    check("http://h.test/x", "/y?", OK, "http://h.test/y");
    check("http://h.test/x?q", "?", OK, "http://h.test/x");
}

/* What is not http(s), and what libcurl must follow instead. */
static void test_others(void **state)
{
    check("http://h.test/", "ftp://f.test/x", MP__LOC_SCHEME,
          "ftp://f.test/x");
    check("http://h.test/", "JavaScript:alert(1)", MP__LOC_SCHEME,
          "javascript:alert(1)");
    check("http://h.test/", "localhost:8080/x", MP__LOC_SCHEME,
          "localhost:8080/x");
    check("http://h.test/", "/x#top", FOREIGN, NULL);
    check("http://h.test/", "http://user:pw@other.test/", FOREIGN, NULL);
    check("http://h.test/", "http://Other.test/", FOREIGN, NULL);
    check("http://h.test/", "http://other.test:80/", FOREIGN, NULL);
    check("http://h.test/", "http:///x", FOREIGN, NULL);
    check("http://h.test/", "http:/x", FOREIGN, NULL);
    check("http://h.test/", "/a\tb", FOREIGN, NULL);
    check("http://h.test/", "/a\\b", FOREIGN, NULL);
    /* a network-path reference with blanks: libcurl 7.88 encodes them by
       where the next "//" is (fuzz_location, crash-04bd29: curl "/.%20?
       a//t/.%20?", not "+" in the query) */
    check("http://h.test/", "//t.test/.  ?a//t/.  ?b", FOREIGN, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3986_examples),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
