/*
 * A resume's reader of a file of fetch records: which input lines already
 * have a record (a line-number set), the file's run stamps
 * (fetch_stamp.h), and where a torn last record starts. The one reader of
 * that file for both front ends (mpfetch's --resume, mpool's resume=), so
 * what counts as a done line is decided once. A record is a line that
 * ends in a newline and either starts {"line":N (N of at most 19
 * digits, as a fetch task writes it, blanks allowed around the colon)
 * and is one whole object as far as its brackets and strings go, or
 * else is one JSON object (jansson) whose "line" is an integer; N >= 1.
 * Whatever the record says else, an error record too, its line is done.
 * Anything else (a torn last line, a blank line, a line that is not JSON
 * or is a torn record continued by another, a "line" that is a string,
 * a real, 0, negative or past 2^63 outside the fast form) counts for no
 * line.
 *
 * Read only: the file is never written here (mpfetch cuts the torn record
 * itself, src/mpfetch/resume.c).
 */
#ifndef FETCH_RESUME_H
#define FETCH_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "fetch_stamp.h"

/* A set of line numbers: a hash of 64-line words, so its memory follows
   the records (a dense million lines: 15,625 words in 32,768 slots,
   512 KiB), never the size of the numbers in them: one record
   {"line":9999999999} costs one word. Zeroed ({0}) is the empty set. */
typedef struct fetch_lineset {
    uint64_t *keys; /* word index + 1; 0: free slot */
    uint64_t *bits; /* the word's lines, bit k: line 64 * index + k */
    size_t cap;     /* power of two */
    size_t count;   /* words in use */
    uint64_t lines; /* lines in the set */
} fetch_lineset;

/* Adds line (>= 1). Returns 0 or -ENOMEM. */
int fetch_lineset_add(fetch_lineset *s, uint64_t line);

/* Returns 1 if line is in the set, else 0. */
int fetch_lineset_has(const fetch_lineset *s, uint64_t line);

/* Returns how many lines of the set are above line; the largest of them
   in *max (0 if none). */
uint64_t fetch_lineset_above(const fetch_lineset *s, uint64_t line,
                             uint64_t *max);

/* Frees the set and leaves it empty. */
void fetch_lineset_free(fetch_lineset *s);

/* What fetch_resume_load found in the file. */
#define FETCH_RESUME_MAX_STAMPS 8
typedef struct fetch_resume_info {
    uint64_t records;    /* with a line number, kept in the set */
    uint64_t torn_bytes; /* of a last record without its newline */
    uint64_t keep;       /* bytes before it (where appending starts) */
    uint64_t beyond;     /* records naming a line above max_line, ignored */
    uint64_t beyond_max; /* the largest such line */
    fetch_stamp stamps[FETCH_RESUME_MAX_STAMPS]; /* the distinct ones */
    unsigned n_stamps;
    uint64_t bad_stamps; /* records with a "run" member not a writer's */
} fetch_resume_info;

/*
 * Reads the file of records open on fd (readable) from its current
 * offset, the start for a file just opened: adds each record's line to
 * done and counts the records in r->records, and keeps the distinct run
 * stamps in r->stamps (more than FETCH_RESUME_MAX_STAMPS: the first
 * ones; two of them differ already). A record whose line is above
 * max_line (the input's number of lines; UINT64_MAX when unknown) is not
 * added: it is counted in r->beyond, the largest such line kept in
 * r->beyond_max. A last line without its newline is a torn record: its
 * size goes in r->torn_bytes, the bytes before it in r->keep. fd's
 * offset is left anywhere. Returns 0, or a negative errno (-ENOMEM, or
 * the read's: then done holds what was read so far).
 */
int fetch_resume_load(int fd, uint64_t max_line, fetch_lineset *done,
                      fetch_resume_info *r);

#endif
