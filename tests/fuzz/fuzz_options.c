/*
 * Fuzz target: mpfetch's option parsing (src/mpfetch/cmdline.c). The input
 * is a command line, arguments separated by NUL bytes (after "mpfetch"):
 * mpf_options_parse returns "run" or one of the documented exit statuses,
 * and may be called again and again (no getopt state carried over).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpfetch.h"

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int null = open("/dev/null", O_RDONLY);

    /* "-d @-" reads stdin, and an empty command line checks isatty(0) */
    if (null < 0 || dup2(null, 0) < 0)
        abort();
    close(null);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *argv[MAX_ARGS + 2];
    int argc = 0, rc;
    mpf_config cfg;

    /* -d @FILE reads a file: keep away from endless and blocking ones */
    if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
        memmem(data, size, "/sys", 4))
        return 0;
    if (!(buf = malloc(size + 1)))
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    argv[argc++] = "mpfetch";
    for (char *p = buf; p < buf + size && argc <= MAX_ARGS;
         p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    mpf_config_defaults(&cfg);
    rc = mpf_options_parse(&cfg, argc, argv);
    if (rc != MPF_PARSE_RUN && rc != MPF_EXIT_OK && rc != MPF_EXIT_USAGE &&
        rc != MPF_EXIT_RUNTIME)
        abort();
    mpf_config_free(&cfg);
    free(buf);
    return 0;
}
