/*
 * The run stamp (workers/fetch_stamp.h: its format and the check, which
 * mpool's resume= makes too) of this run: which shard of which input an
 * output file holds, so that --resume with another --shard or another
 * input is refused instead of merging two shards (or two lists) into one
 * file. The first record a run writes to -o FILE carries it (writer.c).
 *
 * The digest is of the input's first bytes: of a regular file (the URL
 * arguments too) min(64 KiB, its size); of a pipe or a terminal its first
 * line through the newline (at most 64 KiB), which the run waits for
 * before its first request anyway, so stdin and an endless input cost
 * nothing more. Resuming hashes as many bytes of the new input, so an
 * input that only grew at its end still matches. It reads 64 KiB at most,
 * once, and is sound for what it is for: two different URL lists differ
 * in their first 64 KiB (or first line) unless one is the other with
 * lines appended.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mpfetch.h"

/*
 * The stamp of this run: --shard K/N (n <= 1: none), the input's name
 * for messages, and the digest of the input open in r (nothing of it
 * consumed yet; see the top of the file), read ahead into r's buffer.
 * Returns 0, or a negative errno from reading.
 */
int mpf_stamp_make(mpf_reader *r, uint64_t k, uint64_t n_shards,
                   const char *name, fetch_stamp *s)
{
    const char *p;
    size_t n;
    int rc = mpf_reader_peek(r, FETCH_STAMP_BYTES, !r->is_regular, &p, &n);
    if (rc)
        return rc;
    if (!r->is_regular) {
        const char *nl = memchr(p, '\n', n);
        if (nl)
            n = (size_t)(nl - p) + 1;
    }
    fetch_stamp_make(s, k, n_shards, name, p, n);
    return 0;
}

/*
 * --resume: checks the n stamps found in the output file (named output)
 * and the bad ones (records with a "run" member mpfetch did not write)
 * against this run's, want: fetch_stamp_check over as many bytes of the
 * input open in r as it needs (read ahead, nothing consumed). Returns 0
 * when all agree, MPF_EXIT_USAGE after saying which does not,
 * MPF_EXIT_RUNTIME when the input cannot be read, or MPF_EXIT_INTERRUPTED
 * after a signal while waiting for it.
 */
int mpf_stamp_check(mpf_reader *r, const fetch_stamp *want,
                    const fetch_stamp *found, size_t n, uint64_t bad,
                    const char *output)
{
    const char *p = "";
    size_t got = 0, need = bad ? 0 : fetch_stamp_need(found, n);
    int rc = need ? mpf_reader_peek(r, need, 0, &p, &got) : 0;
    if (rc == -EINTR)
        return MPF_EXIT_INTERRUPTED;
    if (rc) {
        fprintf(stderr, "mpfetch: could not read %s: %s\n", want->name,
                strerror(-rc));
        return MPF_EXIT_RUNTIME;
    }
    char msg[8192]; /* two paths and a name */
    if (!fetch_stamp_check(want, found, n, bad, p, got, output, "-o FILE",
                           msg, sizeof msg))
        return 0;
    fprintf(stderr, "mpfetch: %s\n", msg);
    return MPF_EXIT_USAGE;
}
