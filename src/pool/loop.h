/*
 * The pool's loop: the event_base its events are on (its own, or the
 * caller's after mp_pool_attach), and the one function that runs it for a
 * blocking call: mp_pool_create's wait for READY (pool_create.c), map,
 * imap and apply (pool.c), a future's wait and mp_pool_drain (future.c).
 * One blocking call runs it at a time; one made from inside it (from a
 * callback) is refused. Knows nothing of the pool: its users say when to
 * stop.
 */
#ifndef MP_POOL_LOOP_H
#define MP_POOL_LOOP_H

struct event_base;

typedef struct mp__loop {
    struct event_base *base; /* the pool's events are on it */
    struct event_base *own;  /* the pool's own (base until attached) */
    int attached;            /* base is the caller's (mp_pool_attach) */
    int driving;             /* mp__loop_run runs it now */
} mp__loop;

/* Creates the pool's own event_base. Returns 0 or MP_ESYS. */
int mp__loop_init(mp__loop *l);

/* Frees the pool's own event_base (never the caller's). A loop
   mp__loop_init never saw (zeroed) is fine. */
void mp__loop_free(mp__loop *l);

/* The pool's events move to the caller's base (the caller moves them):
   from now on the caller runs the loop, and mp__loop_run refuses to. */
void mp__loop_attach(mp__loop *l, struct event_base *base);

/* The question mp__loop_run asks before each pass of the loop (first: 1
   before the first pass, 0 after a pass): returns nonzero to stop. It may
   do work of its own (dispatch). */
typedef int (*mp__loop_until_fn)(void *ud, int first);

/* Runs the pool's own loop, one pass at a time, until until(ud) says stop
   or timeout_ms has passed (0: no limit). Returns 0 (stopped by until),
   MP_ETIMEDOUT, MP_EATTACHED, MP_EINVAL (it runs already: called from
   inside it), MP_ENOMEM (no timer) or MP_ESYS (event_base_loop failed). */
int mp__loop_run(mp__loop *l, mp__loop_until_fn until, void *ud,
                 unsigned timeout_ms);

#endif
