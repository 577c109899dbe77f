/*
 * A redirect's Location resolved against the URL that got it
 * (http_location.c): pure, no I/O, so the fuzzer and the tests feed it
 * anything. The native engine (http_native.c) follows what it resolves.
 */
#ifndef MP_HTTP_LOCATION_H
#define MP_HTTP_LOCATION_H

#include <stddef.h>

/* mp__http_location's results */
enum {
    MP__LOC_OK,      /* *out: the target, in the native engine's form */
    MP__LOC_SCHEME,  /* an absolute URL of another scheme than http or
                        https; *out: it, its scheme in lower case */
    MP__LOC_FOREIGN, /* an http(s) target the native form cannot hold
                        (a fragment, a user name, an upper-case host,
                        ":80"...): libcurl has to follow it */
    MP__LOC_NOMEM
};

/*
 * Resolves loc[0..n) (the Location value without the blanks around it,
 * not empty) against base, a URL in the native engine's form
 * (mp__http_native_url accepts it), as libcurl 7.88 does
 * (CURLOPT_FOLLOWLOCATION: curl_url_set with CURLU_URLENCODE |
 * CURLU_ALLOW_SPACE): absolute, "//authority...", "/path", "?query" and
 * relative paths merged per RFC 3986 5.2 with its dot segments removed
 * (5.2.4); in the path a blank becomes %20, in the query '+'; bytes of
 * 0x80 and above %xx; an empty query ("?") is dropped. The result is
 * MP__LOC_OK only when it is in the native form and is libcurl's to the
 * byte (tests/fuzz/fuzz_location.c checks that against libcurl).
 * Returns an MP__LOC_* value; *out (malloc'd) is set with OK and SCHEME,
 * NULL otherwise.
 */
int mp__http_location(const char *base, const char *loc, size_t n,
                      char **out);

#endif
