/*
 * Result blocks: the data of many small results in one allocation.
 * mp_pool_map gives each result's data a piece of the current block (a
 * bump of a pointer, no malloc per result); mp_result_clear releases the
 * piece, and the block is freed with its last piece. A data pointer is
 * known to be a piece by its block's address alone (blocks are aligned to
 * their size and registered), so mp_result_clear frees everything else as
 * before.
 *
 * The builder (mp__rbuild) belongs to one thread, the one running the
 * pool's calls; pieces may be released from any thread.
 */
#ifndef MP_RBLOCK_H
#define MP_RBLOCK_H

#include <stddef.h>

#define MP__RB_SIZE ((size_t)32 << 10) /* a block, and its alignment */
#define MP__RB_PIECE ((size_t)1 << 10) /* larger results get a malloc */

struct mp__rblock;

typedef struct mp__rbuild {
    struct mp__rblock *cur; /* the block being filled, or NULL */
    size_t used;            /* bytes of cur handed out */
    size_t given;           /* pieces of cur not yet counted in its refs */
} mp__rbuild;

/* Returns len bytes (1..MP__RB_PIECE) aligned as malloc's, a piece of b's
   block (a new block when it is full), or NULL when memory runs out. The
   piece is counted when b is sealed: seal b before a piece can be
   released. */
void *mp__rb_alloc(mp__rbuild *b, size_t len);

/* Counts the pieces handed out since the last seal in their block, so
   that releasing them can free it. */
void mp__rb_seal(mp__rbuild *b);

/* Seals b and lets its block go (it is freed with its last piece). */
void mp__rb_drop(mp__rbuild *b);

/* Releases data if it is a piece of a block. Returns 1 if it was, 0 when
   data is not a piece (the caller frees it then). Any thread. */
int mp__rb_release(void *data);

#endif
