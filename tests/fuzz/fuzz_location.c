/*
 * Fuzz target: the redirect Location resolver (src/http/message/http_location.c),
 * against libcurl's own URL parser as the oracle. The first byte picks a
 * base URL, the rest is the Location. Whatever the resolver says is in
 * the native form (MP__LOC_OK) must be what libcurl 7.88 makes of the
 * same Location (curl_url_set with CURLOPT_FOLLOWLOCATION's flags), to
 * the byte, and must pass the native URL parser; a target it calls
 * another scheme must be one libcurl refuses or does not take as
 * http(s). Anything else may be MP__LOC_FOREIGN, never a crash.
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/shared/http_int.h"
#include "http/message/http_location.h"

static const char *const bases[] = {
    "http://h.test/a/b/c?q=1", "http://h.test", "https://h.test:8443/",
    "http://127.0.0.1:8080/x/", "http://[::1]:81/a/b",
    "https://www.example.com/dir/page.html?x=y&z",
};

/* Returns libcurl's URL for loc against base, malloc'd, or NULL (*uc:
   why). */
static char *curl_says(const char *base, const char *loc, CURLUcode *uc)
{
    CURLU *u = curl_url();
    char *s = NULL;

    if (!u)
        abort();
    *uc = curl_url_set(u, CURLUPART_URL, base,
                       CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
    if (*uc)
        abort(); /* every base is a URL */
    *uc = curl_url_set(u, CURLUPART_URL, loc,
                       CURLU_URLENCODE | CURLU_ALLOW_SPACE);
    if (!*uc)
        *uc = curl_url_get(u, CURLUPART_URL, &s, 0);
    curl_url_cleanup(u);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *base;
    char *loc, *ours = NULL, *theirs;
    mp__http_url u;
    CURLUcode uc;
    int rc;

    if (size < 2)
        return 0;
    base = bases[data[0] % (sizeof bases / sizeof bases[0])];
    size--;
    data++;
    /* the caller's precondition: no blanks around it (curl strips them) */
    if (strchr(" \t\r\n\v\f", data[0]) || strchr(" \t\r\n\v\f", data[size - 1]))
        return 0;
    if (!(loc = malloc(size + 1)))
        return 0;
    memcpy(loc, data, size);
    loc[size] = '\0';
    rc = mp__http_location(base, loc, size, &ours);
    if (rc == MP__LOC_NOMEM || rc == MP__LOC_FOREIGN) {
        if (ours)
            abort();
        free(loc);
        return 0;
    }
    if (!ours)
        abort();
    if (memchr(loc, '\0', size)) { /* curl sees a shorter string */
        if (rc == MP__LOC_OK)
            abort();
        free(ours);
        free(loc);
        return 0;
    }
    theirs = curl_says(base, loc, &uc);
    if (rc == MP__LOC_OK) {
        if (mp__http_native_url(ours, &u) != 0)
            abort();
        if (!theirs || strcmp(ours, theirs) != 0) {
            fprintf(stderr, "base %s loc [%s]: ours %s curl %s (%d)\n", base,
                    loc, ours, theirs ? theirs : "-", (int)uc);
            abort();
        }
    } else if (theirs && (strncmp(theirs, "http://", 7) == 0 ||
                          strncmp(theirs, "https://", 8) == 0)) {
        fprintf(stderr, "base %s loc [%s]: another scheme, curl %s\n", base,
                loc, theirs);
        abort();
    }
    curl_free(theirs);
    free(ours);
    free(loc);
    return 0;
}
