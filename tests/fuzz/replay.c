/*
 * Runs a fuzz target once over each input file, without libFuzzer: with
 * any compiler, the seed corpus (and every crashing input kept in it) is a
 * regression suite. Usage: fuzz_<target> FILE|DIR...  A directory means
 * every regular file in it.
 *
 * Each input is read into a buffer of exactly its size, so under ASan a
 * read one byte past it is caught. The function main returns 0 after at
 * least one input ran, 1 if none did or one could not be read; a crash is
 * a crash, as under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Runs the target on the file at path. Returns 0, or -1 if it cannot be
   read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf = NULL;
    int rc = -1;

    if (!f || fstat(fileno(f), &st) != 0)
        goto out;
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        goto out;
    LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    long ran = 0, bad = 0;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *e;

        if (stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
            bad += run_file(argv[i]) != 0;
            ran++;
            continue;
        }
        if (!(d = opendir(argv[i]))) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            bad++;
            continue;
        }
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            bad += run_file(path) != 0;
            ran++;
        }
        closedir(d);
    }
    fprintf(stderr, "replay: %ld inputs run, %ld unreadable\n", ran, bad);
    return ran > 0 && bad == 0 ? 0 : 1;
}
