/*
 * A resume's reader of a file of fetch records (fetch_resume.h): the line
 * numbers that already have a record, the run stamps, and where a torn
 * last record starts. mpfetch's --resume and mpool's resume= both call
 * it, so they agree on every line of a file.
 *
 * The set is a hash of 64-line words (10 million lines: about 5 MB), so
 * its memory follows the records, never the size of the numbers in them:
 * one record {"line":9999999999} costs one entry. Records naming a line
 * beyond the input (when its length is known) are not kept at all. The
 * run stamps (fetch_stamp.h) ride in the same pass: a record with a "run"
 * member right after its line is read whole.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch_resume.h"

/* Returns the slot of word w in s: where it is, or the empty slot where
   it would go. s->cap must be a power of two with a free slot. */
static size_t slot_of(const fetch_lineset *s, uint64_t w)
{
    size_t i = (size_t)((w * 0x9e3779b97f4a7c15ULL) >> 32) & (s->cap - 1);
    while (s->keys[i] && s->keys[i] != w + 1)
        i = (i + 1) & (s->cap - 1);
    return i;
}

/* Doubles the table (or makes the first). Returns 0 or -ENOMEM. */
static int grow(fetch_lineset *s)
{
    fetch_lineset n = {.cap = s->cap ? s->cap * 2 : 256};
    n.keys = calloc(n.cap, sizeof(*n.keys));
    n.bits = calloc(n.cap, sizeof(*n.bits));
    if (!n.keys || !n.bits) {
        free(n.keys);
        free(n.bits);
        return -ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[i])
            continue;
        size_t j = slot_of(&n, s->keys[i] - 1);
        n.keys[j] = s->keys[i];
        n.bits[j] = s->bits[i];
    }
    n.count = s->count;
    n.lines = s->lines;
    free(s->keys);
    free(s->bits);
    *s = n;
    return 0;
}

/* Adds line (>= 1). Returns 0 or -ENOMEM. */
int fetch_lineset_add(fetch_lineset *s, uint64_t line)
{
    uint64_t w = line / 64, bit = (uint64_t)1 << (line % 64);
    if ((s->count + 1) * 2 > s->cap && grow(s) != 0)
        return -ENOMEM;
    size_t i = slot_of(s, w);
    if (!s->keys[i]) {
        s->keys[i] = w + 1;
        s->count++;
    }
    s->lines += !(s->bits[i] & bit);
    s->bits[i] |= bit;
    return 0;
}

/* Returns 1 if line is in the set, else 0. */
int fetch_lineset_has(const fetch_lineset *s, uint64_t line)
{
    if (!s->cap)
        return 0;
    size_t i = slot_of(s, line / 64);
    return s->keys[i] && (s->bits[i] >> (line % 64) & 1);
}

/* Returns how many lines of the set are above line; the largest of them
   in *max (0 if none). */
uint64_t fetch_lineset_above(const fetch_lineset *s, uint64_t line,
                             uint64_t *max)
{
    uint64_t n = 0;
    *max = 0;
    for (size_t i = 0; i < s->cap; i++) {
        for (uint64_t m = s->keys[i] ? s->bits[i] : 0; m; m &= m - 1) {
            uint64_t l = (s->keys[i] - 1) * 64 + (uint64_t)__builtin_ctzll(m);
            if (l > line) {
                n++;
                *max = l > *max ? l : *max;
            }
        }
    }
    return n;
}

/* Frees the set. */
void fetch_lineset_free(fetch_lineset *s)
{
    free(s->keys);
    free(s->bits);
    memset(s, 0, sizeof(*s));
}

/*
 * Returns 1 if the n bytes at s are one whole JSON object as far as its
 * brackets and strings go: every '{' and '[' outside strings closed in
 * order, strings closed, nothing but blanks after the last '}'. It reads
 * no token in between, but is enough to tell a record from one torn and
 * then continued on the same line (files joined with cat after a crash:
 * {"line":30,"ok":tr{"line":31,...}}), which must not count as done.
 * One pass that stops only at the six bytes that matter.
 */
static int whole_object(const char *s, size_t n)
{
    static const unsigned char special[256] = {
        ['"'] = 1, ['\\'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1};
    char open[64];
    size_t depth = 0, i = 0;
    int in_string = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i == n || s[i] != '{')
        return 0;
    for (; i < n; i++) {
        char c = s[i];
        if (!special[(unsigned char)c])
            continue;
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped byte, a '"' too */
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (depth == sizeof(open))
                return 0;
            open[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (!depth || open[--depth] != c)
                return 0;
            if (!depth)
                break;
        }
    }
    if (depth || i >= n)
        return 0;
    for (i++; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

/*
 * Finds the record's "line" number. Records a fetch task writes start
 * with {"line":N, so that is read directly when the line is one whole object
 * (whole_object, which a deeper one than it follows may fail); anything
 * else goes through jansson. Returns the line number (>= 1), or 0 if the
 * text has none or is not one JSON object.
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
        if (digits && p < end && (*p == ',' || *p == '}' || *p == ' ') &&
            whole_object(s, n))
            return v;
    }
    json_t *o = json_loadb(s, n, 0, NULL);
    json_t *l = o ? json_object_get(o, "line") : NULL;
    json_int_t v = json_is_integer(l) ? json_integer_value(l) : 0;
    json_decref(o);
    return v > 0 ? (uint64_t)v : 0;
}

/* Keeps the stamp of the record s[0..n) (whose line was read), if it
   has one (fetch_stamp_parse), in r, once per distinct stamp. */
static void add_stamp(fetch_resume_info *r, const char *s, size_t n)
{
    fetch_stamp st;
    int rc = fetch_stamp_parse(s, n, &st);
    if (rc < 0)
        r->bad_stamps++;
    if (rc <= 0)
        return;
    for (unsigned i = 0; i < r->n_stamps; i++)
        if (fetch_stamp_same(&r->stamps[i], &st))
            return;
    if (r->n_stamps < FETCH_RESUME_MAX_STAMPS) /* more: two differ */
        r->stamps[r->n_stamps++] = st;
}

/*
 * fetch_resume_load (fetch_resume.h). Reads through a FILE on a dup of
 * fd, so fd itself is never closed; a read that fails keeps its errno
 * ("Is a directory").
 */
int fetch_resume_load(int fd, uint64_t max_line, fetch_lineset *done,
                      fetch_resume_info *r)
{
    int rc = 0, dfd = dup(fd);
    FILE *f = dfd >= 0 ? fdopen(dfd, "r") : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    off_t off = 0;
    memset(r, 0, sizeof(*r));
    if (!f) {
        rc = -errno;
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') {
            r->torn_bytes = (uint64_t)n;
            break;
        }
        off += n;
        uint64_t l = record_line(line, (size_t)n - 1);
        if (l)
            add_stamp(r, line, (size_t)n - 1);
        if (l > max_line) {
            r->beyond++;
            r->beyond_max = l > r->beyond_max ? l : r->beyond_max;
            continue;
        }
        if (l && (rc = fetch_lineset_add(done, l)) != 0)
            break;
        r->records += l != 0;
    }
    if (rc == 0 && ferror(f))
        rc = errno > 0 ? -errno : -EIO;
    free(line);
    fclose(f);
    r->keep = (uint64_t)off;
    return rc;
}
