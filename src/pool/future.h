/*
 * Futures (future.c): the futures submitted and waiting for credit, those
 * in the ledger, and draining. The pool embeds one mp__futures and drives
 * it: it takes queued futures into the ledger when a worker has room
 * (mp__futs_take), hands their results here (mp__futs_complete), and ends
 * them when it cannot run them (mp__end_futures in pool.c). Futures never
 * call the pool: a canceled one leaves the ledger (which tells the pool
 * which worker to tell) and pokes the pool's kick event, which dispatches;
 * a wait runs the pool's loop (loop.h).
 */
#ifndef MP_POOL_FUTURE_H
#define MP_POOL_FUTURE_H

#include <stddef.h>
#include <stdint.h>

#include "common/list.h"
#include "mpool.h"
#include "pool/ledger.h"
#include "pool/loop.h"

struct event;

/* A future's ledger key: its address (even: malloc'ed, aligned), where a
   call's keys are odd (pool.h: MP__CALL_KEY). */
#define MP__FUT_KEY(f) ((size_t)(uintptr_t)(f))

typedef struct mp__futures {
    mp_pool *pool;      /* for the drained callback; never looked into */
    mp__ledger *L;      /* the pool's: a future in it has the key
                           MP__FUT_KEY */
    mp__loop *loop;     /* the pool's: waits and drains run it */
    struct event *kick; /* the pool's kick event: dispatch soon */
    mp__list queued;    /* submitted, waiting for credit, oldest first */
    mp__list running;   /* in the ledger */
    size_t nqueued, nrunning;
    size_t max_queued; /* the most that waited at once (the stats) */
    /* draining: no new future once closed */
    int closed, drain_done;
    int *drain_woken;          /* mp_pool_drain's flag while it waits */
    struct event *drain_timer; /* an attached pool's drain deadline */
    mp_drained_fn drained_cb;
    void *drained_ud;
} mp__futures;

/* Sets up F for pool, whose ledger, loop and kick event it uses (all
   borrowed for F's life). A zeroed F holds no future; mp__futs_free is
   fine on it. */
void mp__futs_init(mp__futures *F, mp_pool *pool, mp__ledger *L,
                   mp__loop *loop, struct event *kick);

/* Frees what F owns. Every future must have ended (mp__end_futures). */
void mp__futs_free(mp__futures *F);

/* mp_pool_submit, mp_pool_drain (but for the call in progress, which the
   pool checks), mp_pool_on_drained: mpool.h says what they do and
   return. */
int mp__futs_submit(mp__futures *F, mp_task_fn fn, const void *in, size_t len,
                    mp_future **out);
int mp__futs_drain(mp__futures *F, unsigned timeout_ms);
void mp__futs_on_drained(mp__futures *F, mp_drained_fn cb, void *ud);

/* Moves the oldest queued future into a new ledger entry. Returns the
   entry, or MP_NIL (none queued, or the ledger is full). */
uint32_t mp__futs_take(mp__futures *F);

/* Returns the task function of the future whose key is key. */
mp_task_fn mp__fut_fn(size_t key);

/* Ends the future of key, whose ledger entry is gone, with status and a
   copy of data and err, and runs its callback. */
void mp__futs_complete(mp__futures *F, size_t key, int status,
                       const void *data, size_t len, const char *err);

/* Ends every queued future (none is in the ledger) with status and why,
   and runs their callbacks. Those in the ledger end first, through it:
   mp__end_futures. */
void mp__futs_end_queued(mp__futures *F, int status, const char *why);

#endif
