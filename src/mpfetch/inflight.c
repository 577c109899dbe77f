/*
 * Pool index -> (input line, output position) for the tasks in flight.
 * The pool reports results by index; a failed task carries no record, so
 * this map is how the CLI still names its line. Open addressing with linear
 * probing and backward-shift deletion: no tombstones, and the table only
 * ever holds what is in flight (bounded by the workers' credit).
 */
#include <errno.h>
#include <stdlib.h>

#include "mpfetch.h"

/* Returns the home slot of key in a table of cap (a power of two). */
static size_t home(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & (cap - 1);
}

/* Doubles the table (or makes the first one). Returns 0 or -ENOMEM. */
static int grow(mpf_inflight *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    mpf_inflight_entry *s = calloc(cap, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = home(m->slots[i].key, cap);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return 0;
}

/* Records that pool index carries input line, written at output position
   seq. Returns 0 or -ENOMEM. */
int mpf_inflight_put(mpf_inflight *m, uint64_t index, uint64_t line,
                     uint64_t seq)
{
    if ((m->count + 1) * 2 > m->cap && grow(m))
        return -ENOMEM;
    uint64_t key = index + 1;
    size_t j = home(key, m->cap);
    while (m->slots[j].key && m->slots[j].key != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->slots[j].key)
        m->count++;
    m->slots[j] = (mpf_inflight_entry){key, line, seq};
    return 0;
}

/*
 * Removes index, storing its line and seq. Backward-shift deletion moves
 * later members of the probe run into the hole. Returns 0, or -ENOENT for
 * an index that is not in flight.
 */
int mpf_inflight_take(mpf_inflight *m, uint64_t index, uint64_t *line,
                      uint64_t *seq)
{
    if (!m->cap)
        return -ENOENT;
    uint64_t key = index + 1;
    size_t mask = m->cap - 1, j = home(key, m->cap);
    while (m->slots[j].key != key) {
        if (!m->slots[j].key)
            return -ENOENT;
        j = (j + 1) & mask;
    }
    *line = m->slots[j].line;
    *seq = m->slots[j].seq;
    for (size_t k = (j + 1) & mask; m->slots[k].key; k = (k + 1) & mask) {
        size_t h = home(m->slots[k].key, m->cap);
        /* Move k into the hole j unless its home lies in (j, k]. */
        if (((k - h) & mask) >= ((k - j) & mask)) {
            m->slots[j] = m->slots[k];
            j = k;
        }
    }
    m->slots[j].key = 0;
    m->count--;
    return 0;
}

/* Frees the table. */
void mpf_inflight_free(mpf_inflight *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
