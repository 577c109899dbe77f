/*
 * Fuzz target: the resume reader (workers/fetch_resume.c, mpfetch's
 * --resume and mpool's resume=) and mpfetch's cut of a torn record
 * (src/mpfetch/resume.c). Any bytes as the output file left by an earlier
 * run: fetch_resume_load succeeds, counts no more records than there are
 * lines, keeps no line beyond the input, takes memory in proportion to
 * the records (never to the numbers in them: crash-huge-line-no-colon in
 * the corpus is what libFuzzer found before issue 9.7's fix), and cuts
 * exactly the torn last line (the bytes after the last newline) off the
 * file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mpfetch.h"

#define CHECK(c) ((c) ? (void)0 : abort())

static int fd = -1; /* one memory file, refilled per input */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fd = memfd_create("fuzz-resume", MFD_CLOEXEC);
    CHECK(fd >= 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fetch_lineset done = {0};
    fetch_resume_info ri = {.records = 99, .torn_bytes = 99, .beyond = 99,
                            .beyond_max = 99}; /* load sets them all */
    uint64_t lines = 0;
    size_t tail = size;
    /* the input's length: unknown (a pipe), or 100 lines */
    uint64_t max_line = size % 2 ? UINT64_MAX : 100, above_max;

    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            lines++, tail = size - i - 1;
    if (lines == 0)
        tail = size;
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK(fetch_resume_load(fd, max_line, &done, &ri) == 0);
    CHECK(ri.n_stamps <= FETCH_RESUME_MAX_STAMPS);
    CHECK(mpf_resume_cut(fd, &ri) == 0);
    CHECK(ri.records + ri.beyond <= lines);
    CHECK(max_line != UINT64_MAX || ri.beyond == 0);
    CHECK(ri.beyond == 0 || ri.beyond_max > max_line);
    CHECK(done.lines <= ri.records);
    /* memory follows the records, never the numbers in them (issue 9.7) */
    CHECK(done.count <= ri.records && done.cap <= 256 + 4 * done.count);
    CHECK(fetch_lineset_above(&done, max_line, &above_max) == 0);
    CHECK(ri.torn_bytes == tail);
    CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)(size - tail));
    CHECK(lseek(fd, 0, SEEK_END) == (off_t)(size - tail));
    fetch_lineset_free(&done);
    return 0;
}
