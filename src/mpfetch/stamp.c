/*
 * The run stamp: which shard of which input an output file holds, so that
 * --resume with another --shard or another input is refused instead of
 * merging two shards (or two lists) into one file.
 *
 * The first record a run writes to -o FILE carries a "run" member right
 * after its "line" (writer.c puts it there):
 *
 *   {"line":7,"run":{"shard":"2/4","input":{"name":"urls.txt",
 *    "bytes":65536,"fnv1a64":"8c7f..."}},"url":...}
 *
 * shard is null without --shard. The digest is FNV-1a-64 of the input's
 * first bytes: of a regular file (the URL arguments too) min(64 KiB, its
 * size); of a pipe or a terminal its first line through the newline (at
 * most 64 KiB), which the run waits for before its first request anyway,
 * so stdin and an endless input cost nothing more. Resuming hashes as many
 * bytes of the new input, so an input that only grew at its end still
 * matches. It reads 64 KiB at most, once, and is sound for what it is for:
 * two different URL lists differ in their first 64 KiB (or first line)
 * unless one is the other with lines appended. The name is only for
 * messages: the same list may sit at another path on another machine.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfetch.h"

/*
 * The stamp of this run: --shard K/N (n <= 1: none), the input's name
 * for messages, and the digest of the input open in r (nothing of it
 * consumed yet; see the top of the file), read ahead into r's buffer.
 * Returns 0, or a negative errno from reading.
 */
int mpf_stamp_make(mpf_reader *r, uint64_t k, uint64_t n_shards,
                   const char *name, mpf_stamp *s)
{
    const char *p;
    size_t n;
    memset(s, 0, sizeof(*s));
    if (n_shards > 1) {
        s->shard_k = k;
        s->shard_n = n_shards;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    int rc = mpf_reader_peek(r, MPF_STAMP_BYTES, !r->is_regular, &p, &n);
    if (rc)
        return rc;
    if (!r->is_regular) {
        const char *nl = memchr(p, '\n', n);
        if (nl)
            n = (size_t)(nl - p) + 1;
    }
    s->bytes = n;
    s->fnv = mpf_fnv1a64(p, n);
    return 0;
}

/* Returns 1 if a and b stamp the same shard of the same input, else 0. */
int mpf_stamp_same(const mpf_stamp *a, const mpf_stamp *b)
{
    return a->shard_k == b->shard_k && a->shard_n == b->shard_n &&
           a->bytes == b->bytes && a->fnv == b->fnv;
}

/*
 * Returns the member the writer puts into the run's first record,
 * "run":{...}, (with its comma), malloc'd, its length in *len; NULL when
 * out of memory.
 */
char *mpf_stamp_member(const mpf_stamp *s, size_t *len)
{
    char shard[48], fnv[17];
    snprintf(shard, sizeof shard, "%" PRIu64 "/%" PRIu64, s->shard_k,
             s->shard_n);
    snprintf(fnv, sizeof fnv, "%016" PRIx64, s->fnv);
    json_t *in = json_pack("{s:s,s:I,s:s}", "name", s->name, "bytes",
                           (json_int_t)s->bytes, "fnv1a64", fnv);
    if (!in) /* a name that is not UTF-8: none */
        in = json_pack("{s:n,s:I,s:s}", "name", "bytes",
                       (json_int_t)s->bytes, "fnv1a64", fnv);
    json_t *o = in ? json_pack("{s:{s:s?,s:o}}", "run", "shard",
                               s->shard_n ? shard : NULL, "input", in)
                   : NULL;
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    size_t n = strlen(text); /* {"run":{...}} -> "run":{...}, */
    memmove(text, text + 1, n - 2);
    text[n - 2] = ',';
    text[n - 1] = '\0';
    *len = n - 1;
    return text;
}

/* Reads "K/N" into s's shard. Returns 0, or -1 if v is not that. */
static int parse_shard(const char *v, mpf_stamp *s)
{
    unsigned long long k, n;
    char end;
    if (sscanf(v, "%llu/%llu%c", &k, &n, &end) != 2 || k < 1 || k > n)
        return -1;
    s->shard_k = k;
    s->shard_n = n;
    return 0;
}

/*
 * Reads the run stamp of the record text s[0..n), when it carries one.
 * Returns 1 with *out filled, 0 when the record has no "run" member, -1
 * when it has one mpfetch did not write (then it is not trusted either
 * way: the caller refuses).
 */
int mpf_stamp_parse(const char *s, size_t n, mpf_stamp *out)
{
    json_t *o = json_loadb(s, n, 0, NULL), *run = json_object_get(o, "run");
    int rc = -1;
    if (!run) {
        json_decref(o);
        return 0;
    }
    json_t *sh = json_object_get(run, "shard"),
           *in = json_object_get(run, "input"),
           *name = json_object_get(in, "name"),
           *bytes = json_object_get(in, "bytes"),
           *fnv = json_object_get(in, "fnv1a64");
    memset(out, 0, sizeof(*out));
    if ((json_is_null(sh) || (json_is_string(sh) &&
                              parse_shard(json_string_value(sh), out) == 0)) &&
        json_is_integer(bytes) && json_integer_value(bytes) >= 0 &&
        json_is_string(fnv) && strlen(json_string_value(fnv)) == 16) {
        char *end;
        out->bytes = (uint64_t)json_integer_value(bytes);
        out->fnv = strtoull(json_string_value(fnv), &end, 16);
        snprintf(out->name, sizeof out->name, "%s",
                 json_is_string(name) ? json_string_value(name) : "?");
        rc = *end ? -1 : 1;
    }
    json_decref(o);
    return rc;
}

/* Writes "--shard K/N" or "no --shard" for s into buf. Returns buf. */
static const char *shard_words(const mpf_stamp *s, char *buf, size_t cap)
{
    if (!s->shard_n)
        snprintf(buf, cap, "no --shard");
    else
        snprintf(buf, cap, "--shard %" PRIu64 "/%" PRIu64, s->shard_k,
                 s->shard_n);
    return buf;
}

/*
 * --resume: checks each stamp found in the output file (named output)
 * against this run's, want: the same shard, and the same digest of as
 * many bytes of the input open in r (read ahead, nothing consumed).
 * Returns 0 when all agree, MPF_EXIT_USAGE after saying which does not,
 * MPF_EXIT_RUNTIME when the input cannot be read, or MPF_EXIT_INTERRUPTED
 * after a signal while waiting for it.
 */
int mpf_stamp_check(mpf_reader *r, const mpf_stamp *want,
                    const mpf_stamp *found, size_t n, const char *output)
{
    char a[64], b[64];
    for (size_t i = 0; i < n; i++) {
        const mpf_stamp *f = &found[i];
        if (f->shard_k != want->shard_k || f->shard_n != want->shard_n) {
            fprintf(stderr, "mpfetch: %s holds the records of %s of %s; "
                            "this run has %s: resuming would merge two "
                            "shards into one file. Give the same --shard, "
                            "or another -o FILE\n",
                    output, shard_words(f, a, sizeof a), f->name,
                    shard_words(want, b, sizeof b));
            return MPF_EXIT_USAGE;
        }
        const char *p;
        size_t got = 0;
        int rc = f->bytes <= MPF_STAMP_BYTES
                     ? mpf_reader_peek(r, (size_t)f->bytes, 0, &p, &got)
                     : 0;
        if (rc == -EINTR)
            return MPF_EXIT_INTERRUPTED;
        if (rc) {
            fprintf(stderr, "mpfetch: could not read %s: %s\n", want->name,
                    strerror(-rc));
            return MPF_EXIT_RUNTIME;
        }
        if (got < f->bytes || mpf_fnv1a64(p, (size_t)f->bytes) != f->fnv) {
            fprintf(stderr, "mpfetch: %s holds the records of another input "
                            "(%s: its first %" PRIu64 " bytes are not "
                            "those of %s); resuming would merge two inputs "
                            "into one file. Give the same input, or another "
                            "-o FILE\n",
                    output, f->name, f->bytes, want->name);
            return MPF_EXIT_USAGE;
        }
    }
    return 0;
}
