/*
 * The run stamp of a file of fetch records (fetch_stamp.h): its member as
 * a writer puts it, read back, and the check a resume makes against the
 * new input's first bytes. No I/O: the front ends read the files.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch_stamp.h"

uint64_t fetch_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void fetch_stamp_make(fetch_stamp *s, uint64_t k, uint64_t n_shards,
                      const char *name, const void *head, size_t n)
{
    memset(s, 0, sizeof(*s));
    if (n_shards > 1) {
        s->shard_k = k;
        s->shard_n = n_shards;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->bytes = n < FETCH_STAMP_BYTES ? n : FETCH_STAMP_BYTES;
    s->fnv = fetch_fnv1a64(head, (size_t)s->bytes);
}

int fetch_stamp_same(const fetch_stamp *a, const fetch_stamp *b)
{
    return a->shard_k == b->shard_k && a->shard_n == b->shard_n &&
           a->bytes == b->bytes && a->fnv == b->fnv;
}

char *fetch_stamp_member(const fetch_stamp *s, size_t *len)
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
static int parse_shard(const char *v, fetch_stamp *s)
{
    unsigned long long k, n;
    char end;
    if (sscanf(v, "%llu/%llu%c", &k, &n, &end) != 2 || k < 1 || k > n)
        return -1;
    s->shard_k = k;
    s->shard_n = n;
    return 0;
}

/* Returns 1 if the record s[0..n) has a "run" member right after its
   line number (within its first 32 bytes), as the writer puts it. */
static int has_run(const char *s, size_t n)
{
    const char *p = memchr(s, ',', n < 32 ? n : 32);
    return p && (size_t)(s + n - p) > 7 && memcmp(p + 1, "\"run\":", 6) == 0;
}

int fetch_stamp_parse(const char *s, size_t n, fetch_stamp *out)
{
    if (!has_run(s, n))
        return 0;
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

size_t fetch_stamp_need(const fetch_stamp *found, size_t n)
{
    uint64_t need = 0;
    for (size_t i = 0; i < n; i++)
        if (found[i].bytes > need)
            need = found[i].bytes;
    return need < FETCH_STAMP_BYTES ? (size_t)need : FETCH_STAMP_BYTES;
}

/* Writes "--shard K/N" or "no --shard" for s into buf. Returns buf. */
static const char *shard_words(const fetch_stamp *s, char *buf, size_t cap)
{
    if (!s->shard_n)
        snprintf(buf, cap, "no --shard");
    else
        snprintf(buf, cap, "--shard %" PRIu64 "/%" PRIu64, s->shard_k,
                 s->shard_n);
    return buf;
}

int fetch_stamp_check(const fetch_stamp *want, const fetch_stamp *found,
                      size_t n, uint64_t bad, const void *head, size_t len,
                      const char *output, const char *out_opt, char *msg,
                      size_t cap)
{
    char a[64], b[64];
    if (bad) {
        snprintf(msg, cap, "%s holds %" PRIu64 " records whose \"run\" "
                           "member mpfetch did not write; its shard and "
                           "input cannot be checked. Give another %s",
                 output, bad, out_opt);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const fetch_stamp *f = &found[i];
        if (f->shard_k != want->shard_k || f->shard_n != want->shard_n) {
            snprintf(msg, cap, "%s holds the records of %s of %s; this run "
                               "has %s: resuming would merge two shards "
                               "into one file. Give the same --shard, or "
                               "another %s",
                     output, shard_words(f, a, sizeof a), f->name,
                     shard_words(want, b, sizeof b), out_opt);
            return 1;
        }
        if (len < f->bytes || fetch_fnv1a64(head, (size_t)f->bytes) != f->fnv) {
            snprintf(msg, cap, "%s holds the records of another input (%s: "
                               "its first %" PRIu64 " bytes are not those "
                               "of %s); resuming would merge two inputs "
                               "into one file. Give the same input, or "
                               "another %s",
                     output, f->name, f->bytes, want->name, out_opt);
            return 1;
        }
    }
    return 0;
}
