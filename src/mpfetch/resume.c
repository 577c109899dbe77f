/*
 * --resume: collect the input line numbers that already have a record in
 * the output file, in a growable bitset (10 million lines: 1.25 MB), and
 * cut away a torn last record left by a crash so appending starts on a
 * line boundary.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpfetch.h"

/* Sets bit i, growing the set. Returns 0 or -ENOMEM. */
int mpf_bitset_set(mpf_bitset *b, uint64_t i)
{
    size_t w = (size_t)(i / 64);
    if (w >= b->n_words) {
        size_t n = b->n_words ? b->n_words : 1024;
        while (n <= w)
            n *= 2;
        uint64_t *v = realloc(b->words, n * sizeof(*v));
        if (!v)
            return -ENOMEM;
        memset(v + b->n_words, 0, (n - b->n_words) * sizeof(*v));
        b->words = v;
        b->n_words = n;
    }
    b->words[w] |= (uint64_t)1 << (i % 64);
    return 0;
}

/* Returns 1 if bit i is set, else 0. */
int mpf_bitset_test(const mpf_bitset *b, uint64_t i)
{
    size_t w = (size_t)(i / 64);
    return w < b->n_words && (b->words[w] >> (i % 64) & 1);
}

/* Frees the set. */
void mpf_bitset_free(mpf_bitset *b)
{
    free(b->words);
    b->words = NULL;
    b->n_words = 0;
}

/*
 * Finds the record's "line" number. Records written by mpfetch start with
 * {"line":N, so that is read directly; anything else goes through jansson.
 * Returns the line number (>= 1), or 0 if the text has none.
 */
static uint64_t record_line(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (end - p > 8 && memcmp(p, "{\"line\"", 7) == 0) {
        p += 7;
        while (p < end && (*p == ' ' || *p == ':'))
            p++;
        uint64_t v = 0;
        int digits = 0;
        while (p < end && *p >= '0' && *p <= '9' && digits < 19) {
            v = v * 10 + (uint64_t)(*p++ - '0');
            digits++;
        }
        if (digits && p < end && (*p == ',' || *p == '}' || *p == ' '))
            return v;
    }
    json_t *o = json_loadb(s, n, 0, NULL);
    json_t *l = o ? json_object_get(o, "line") : NULL;
    json_int_t v = json_is_integer(l) ? json_integer_value(l) : 0;
    json_decref(o);
    return v > 0 ? (uint64_t)v : 0;
}

/*
 * Reads the output file open on fd (read-write) from the start: sets a bit
 * in done for each record's line and counts the records in *n_records. A
 * last line without its newline is a torn record: the file is truncated
 * before it and its size stored in *torn_bytes. Leaves fd at the end of the
 * file. Returns 0, or a negative errno.
 */
int mpf_resume_load(int fd, mpf_bitset *done, uint64_t *n_records,
                    uint64_t *torn_bytes)
{
    int rc = 0, dfd = dup(fd);
    FILE *f = dfd >= 0 ? fdopen(dfd, "r") : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    off_t off = 0;
    *n_records = *torn_bytes = 0;
    if (!f) {
        rc = -errno;
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') {
            *torn_bytes = (uint64_t)n;
            break;
        }
        off += n;
        uint64_t l = record_line(line, (size_t)n - 1);
        if (l && (rc = mpf_bitset_set(done, l)) != 0)
            break;
        *n_records += l != 0;
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    free(line);
    fclose(f);
    if (rc == 0 && *torn_bytes && ftruncate(fd, off) != 0)
        rc = -errno;
    if (rc == 0 && lseek(fd, 0, SEEK_END) < 0)
        rc = -errno;
    return rc;
}
