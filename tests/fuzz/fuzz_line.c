/*
 * Fuzz target: the fetch task's input-line parser (a URL line or a JSON
 * line, workers/fetch.c) through fetch_line_check. Any bytes: the line is
 * accepted, or refused with MP_EINPUT and a reason; nothing else.
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>

#include "fetch_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[160] = "unset";
    int rc = fetch_line_check((const char *)data, size, why, sizeof why);

    if (rc != 0 && rc != MP_EINPUT)
        abort();
    if ((rc == 0) != (why[0] == '\0'))
        abort(); /* a refusal always says why; an acceptance never does */
    return 0;
}
