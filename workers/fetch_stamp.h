/*
 * The run stamp of a file of fetch records: which shard of which input the
 * file holds, so that a resume with another shard or another input is
 * refused instead of merging two shards (or two lists) into one file. The
 * format and the check are both front ends' (mpfetch's --resume, mpool's
 * resume=), so they live here, below both; mpfetch writes the stamp
 * (src/mpfetch/stamp.c says when and of which bytes).
 *
 * The first record a run writes to a file carries a "run" member right
 * after its "line":
 *
 *   {"line":7,"run":{"shard":"2/4","input":{"name":"urls.txt",
 *    "bytes":65536,"fnv1a64":"8c7f..."}},"url":...}
 *
 * shard is null without a shard. The digest is FNV-1a-64 of the input's
 * first bytes (at most FETCH_STAMP_BYTES). A resume hashes as many bytes
 * of the new input, so an input that only grew at its end still matches.
 * The name is only for messages: the same list may sit at another path.
 */
#ifndef FETCH_STAMP_H
#define FETCH_STAMP_H

#include <stddef.h>
#include <stdint.h>

#define FETCH_STAMP_BYTES 65536 /* the digest covers at most these */

typedef struct fetch_stamp {
    uint64_t shard_k, shard_n; /* shard_n 0: no shard */
    uint64_t bytes;            /* of the input's start, hashed */
    uint64_t fnv;              /* their FNV-1a-64 */
    char name[160];            /* the input's, for messages only */
} fetch_stamp;

/* Returns the 64-bit FNV-1a hash of n bytes: the stamp's digest and
   mpfetch's --shard function, stable across machines, runs and
   versions. */
uint64_t fetch_fnv1a64(const void *data, size_t n);

/* Fills s: shard k of n_shards (n_shards <= 1: none), the input's name
   (for messages), and the digest of head[0..n), the input's first bytes
   (FETCH_STAMP_BYTES at most: more are not hashed). */
void fetch_stamp_make(fetch_stamp *s, uint64_t k, uint64_t n_shards,
                      const char *name, const void *head, size_t n);

/* Returns 1 if a and b stamp the same shard of the same input, else 0. */
int fetch_stamp_same(const fetch_stamp *a, const fetch_stamp *b);

/* Returns the member a writer puts into a run's first record,
   "run":{...}, (with its comma), malloc'd, its length in *len; NULL when
   out of memory. */
char *fetch_stamp_member(const fetch_stamp *s, size_t *len);

/* Reads the run stamp of the record text s[0..n) (one line, no newline):
   a "run" member right after the record's line number, as the writer puts
   it. Returns 1 with *out filled, 0 when the record has none there, -1
   when it has one no writer of ours wrote (then it is not trusted either
   way: the caller refuses). */
int fetch_stamp_parse(const char *s, size_t n, fetch_stamp *out);

/* Returns the bytes of the new input that fetch_stamp_check needs for the
   n stamps found: the most any of them hashed, FETCH_STAMP_BYTES at
   most. */
size_t fetch_stamp_need(const fetch_stamp *found, size_t n);

/*
 * A resume's check, the same for every front end: the n distinct stamps
 * found in the file output (and bad, the count of records whose "run"
 * member fetch_stamp_parse refused) against want, this run's shard and
 * input name, and head[0..len), the new input's first bytes (as many as
 * fetch_stamp_need asks for, fewer only where the input is shorter).
 * out_opt is how the front end names the file (mpfetch: "-o FILE").
 * Returns 0 when every stamp agrees (or there is none), else 1 after
 * writing the sentence that says why into msg (cap bytes; no program
 * name, no newline).
 */
int fetch_stamp_check(const fetch_stamp *want, const fetch_stamp *found,
                      size_t n, uint64_t bad, const void *head, size_t len,
                      const char *output, const char *out_opt, char *msg,
                      size_t cap);

#endif
