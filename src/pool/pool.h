/*
 * The coordinator's own state: the calls, and each slot's lifecycle. It
 * drives the ledger (ledger.h: who holds which task), the futures
 * (future.h) and the slots (slots.h: worker processes), which never call
 * it except through the hooks it registers with the slots. One unit in two
 * files: pool.c is the pool at work, pool_create.c its beginning and end
 * (it builds and frees every field here; scripts/check_arch.py reads the
 * line below).
 *
 * unit: pool.c pool_create.c
 */
#ifndef MP_POOL_H
#define MP_POOL_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/rblock.h"
#include "pool/future.h"
#include "pool/ledger.h"
#include "pool/loop.h"
#include "mpool.h"
#include "pool/slots.h"

#define MP_MAX_FAILS 5 /* failed starts in a row before a slot gives up */
#define MP_DEFAULT_CONCURRENCY 64
#define MP_DEFAULT_ATTEMPTS 3
#define MP_DEFAULT_STACK (256u << 10)

/* pool_options.c: checks *in (NULL: all defaults) with mp_pool_options_check,
   copies it to *o with every default filled in and stack_size rounded up
   to whole pages. Returns 0, or its error with a sentence in msg. */
int mp__options_resolve(mp_pool_options *o, const mp_pool_options *in,
                        char *msg, size_t n);

struct event;
struct event_base;

/* A slot's state; pool.c alone changes it. */
enum {
    MP__S_DEAD,     /* no worker: closed, maybe a respawn timer pending */
    MP__S_STARTING, /* spawned, READY not yet received */
    MP__S_READY,    /* takes tasks */
    MP__S_RETIRING, /* reached max_tasks_per_worker: EXIT once empty */
    MP__S_KILLED,   /* a send to it failed, or it sent a malformed
                       message (broken): killed, its exit awaited */
};

/* The lifecycle of one slot, beside its process (slots.h) and what it
   holds (the ledger's holder of the same index). */
typedef struct mp__life {
    struct mp_pool *pool;
    int index;
    int state;              /* MP__S_* */
    struct event *respawn;  /* the back-off timer */
    unsigned fails;         /* starts in a row that produced no result */
    int got_result;         /* this generation sent a result */
    int exit_sent;          /* this generation was told to leave */
    uint32_t parked_tasks;  /* tasks in its parked message */
    int broken;             /* it sent a malformed message: its death
                               counts like a crash, its results no more */
} mp__life;

/* One call in progress: map, imap or apply. */
typedef struct mp__call {
    int imap;
    mp_task_fn fn;
    const mp_buf *in;
    size_t n;
    mp_result *out;
    mp_next_fn next;
    mp_result_fn on_result;
    void *ud;
    size_t pulled, delivered;
    int input_done, input_paused;
    int status; /* 0, or why the call stopped early */
} mp__call;

/*
 * Ledger entries carry a key in their index, which the ledger only echoes
 * back: a call's task at input position pos has the odd key 2 * pos + 1; a
 * future's task has the future's address (even: malloc'ed, aligned). So
 * one ledger serves the call in progress and every future at once.
 */
#define MP__CALL_KEY(pos) ((size_t)(pos) * 2 + 1)
#define MP__KEY_POS(key) ((size_t)(key) >> 1)
#define MP__KEY_IS_CALL(key) ((size_t)(key) & 1)
/* a future's key: MP__FUT_KEY (future.h) */

struct mp_pool {
    mp_pool_options o;
    void *init_copy;
    int nworkers;
    mp__loop loop;  /* the event_base, and who runs it */
    int cancel_fd;
    struct event *cancel_ev, *rate_ev, *create_ev;
    atomic_int cancel_flag;
    char dir[120];
    mp__ledger L;   /* who holds which task */
    mp__slots S;    /* the worker processes */
    mp__life *life; /* each slot's state */
    mp__call *call;
    mp__rbuild rb;  /* the block small map results' data is cut from */
    mp_pool_stats stats;
    double tokens;
    uint64_t tokens_ns;
    int rate_armed, creating, create_err, ready;
    char create_msg[1100]; /* why creation failed, for mp_last_error */
    mp__futures F;            /* the futures, and draining (future.h) */
    struct event *kick_ev;    /* active: dispatch and tell cancels soon */
    int fut_turn;             /* futures and the call take turns */
    uint32_t *room;           /* dispatch_all's room per slot */
    int adaptive;             /* prefetch was 0: the window adapts */
};

/* pool.c, for pool_create.c (the pool's creation and end): */

/* The hooks the pool registers with its slots (mp__slots_init). */
extern const mp__slot_hooks mp__pool_hooks;

/* Starts a new worker in dead slot i. Returns 0 or an error (the slot
   stays dead). */
int mp__start_slot(mp_pool *p, int i);

/* Records the first reason the pool's creation fails: err, and a message
   for mp_last_error. Later reasons are ignored. */
void mp__create_failed(mp_pool *p, int err, const char *fmt, ...)
    MP_PRINTF(3, 4);

/* Event callbacks (arg: the pool, or for the respawn timer the slot's
   mp__life): the cancel eventfd became readable, the rate limiter's
   refill timer fired, a slot's back-off timer fired. */
void mp__on_cancel(int fd, short what, void *arg);
void mp__on_rate(int fd, short what, void *arg);
void mp__on_respawn(int fd, short what, void *arg);
/* The kick event: futures were submitted or canceled (arg: the pool). */
void mp__on_kick(int fd, short what, void *arg);

/* Ends every future not done with status and why: those in the ledger
   through it (their workers are told), then the queued ones; their
   callbacks run. For mp_pool_cancel_futures (MP_ECANCELED), and with
   MP_EABORTED when the pool cannot run tasks any more or goes away. */
void mp__end_futures(mp_pool *p, int status, const char *why);

#endif
