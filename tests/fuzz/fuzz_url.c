/*
 * Fuzz target: the native engine's URL parser (mp__http_native_url in
 * src/http/native/http_native_url.c). It promises that a URL it takes is in the form
 * libcurl prints back unchanged (so the native engine's final_url is
 * curl's): libcurl's own parser is the oracle. A URL it takes must come
 * back from curl_url the same, with a "/" added when it has no path; its
 * host, port and target must be where they are in the string.
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/shared/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url, *back = NULL, *want;
    mp__http_url u;
    CURLU *h;

    if (memchr(data, '\0', size) || !(url = malloc(size + 1)))
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    if (mp__http_native_url(url, &u) != 0) {
        free(url);
        return 0;
    }
    if (u.host != url + 7 + u.tls ||
        u.host_len == 0 || u.target < u.host + u.host_len ||
        (u.target[0] && u.target[0] != '/') || u.port == 0)
        abort();
    if (!(want = mp__http_final_url(url, u.target[0] != 0)) ||
        !(h = curl_url()))
        abort();
    if (curl_url_set(h, CURLUPART_URL, url,
                     CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) ||
        curl_url_get(h, CURLUPART_URL, &back, 0) || strcmp(back, want)) {
        fprintf(stderr, "[%s]: curl prints [%s]\n", url, back ? back : "-");
        abort();
    }
    curl_free(back);
    curl_url_cleanup(h);
    free(want);
    free(url);
    return 0;
}
