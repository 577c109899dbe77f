/* Result blocks: see rblock.h. */
#include "common/rblock.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define NBUCKETS 4096u /* of the registry of live blocks */
#define HEAD 64u       /* the block's header, before its pieces */
#define ALIGN 16u      /* malloc's: alignof(max_align_t) on x86-64 */

typedef struct mp__rblock {
    struct mp__rblock *next; /* in its bucket */
    size_t refs;             /* pieces not released, + 1 while building */
} rblock;

_Static_assert(sizeof(rblock) <= HEAD, "rblock: header fits");
_Static_assert((MP__RB_SIZE & (MP__RB_SIZE - 1)) == 0, "rblock: a power of 2");

/* Every live block, by address; refs are changed under the same lock. */
static rblock *buckets[NBUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Returns the bucket of the block at base. */
static rblock **bucket(uintptr_t base)
{
    uint64_t k = (uint64_t)(base / MP__RB_SIZE) * 0x9E3779B97F4A7C15ull;
    return &buckets[k >> 52 & (NBUCKETS - 1)];
}

/* Drops one reference to block k; the caller holds the lock. Returns 1
   when it was the last (k is out of the registry then: free it). */
static int unref(rblock *k)
{
    if (--k->refs)
        return 0;
    rblock **at = bucket((uintptr_t)k);
    while (*at != k)
        at = &(*at)->next;
    *at = k->next;
    return 1;
}

void mp__rb_seal(mp__rbuild *b)
{
    if (!b->cur || !b->given)
        return;
    pthread_mutex_lock(&lock);
    b->cur->refs += b->given;
    pthread_mutex_unlock(&lock);
    b->given = 0;
}

void mp__rb_drop(mp__rbuild *b)
{
    rblock *k = b->cur;
    if (!k)
        return;
    mp__rb_seal(b);
    pthread_mutex_lock(&lock);
    int last = unref(k);
    pthread_mutex_unlock(&lock);
    if (last)
        free(k);
    *b = (mp__rbuild){0};
}

void *mp__rb_alloc(mp__rbuild *b, size_t len)
{
    /* aligned as malloc's, but to 8 for 8 bytes or less: nothing that
       small needs more */
    size_t align = len <= 8 ? 8 : ALIGN;
    size_t at = (b->used + align - 1) & ~(align - 1);
    if (!len || len > MP__RB_PIECE)
        return NULL;
    if (!b->cur || at + len > MP__RB_SIZE) {
        rblock *k = aligned_alloc(MP__RB_SIZE, MP__RB_SIZE);
        if (!k)
            return NULL;
        mp__rb_drop(b);
        k->refs = 1;
        pthread_mutex_lock(&lock);
        rblock **head = bucket((uintptr_t)k);
        k->next = *head;
        *head = k;
        pthread_mutex_unlock(&lock);
        b->cur = k;
        at = HEAD;
    }
    b->used = at + len;
    b->given++;
    return (char *)b->cur + at;
}

int mp__rb_release(void *data)
{
    uintptr_t base = (uintptr_t)data & ~(uintptr_t)(MP__RB_SIZE - 1);
    pthread_mutex_lock(&lock);
    rblock *k = *bucket(base);
    while (k && (uintptr_t)k != base)
        k = k->next;
    int last = k && unref(k);
    pthread_mutex_unlock(&lock);
    if (last)
        free(k);
    return k != NULL;
}
