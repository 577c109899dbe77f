/*
 * Futures: one task submitted now, its result later (asyncio's
 * run_in_executor / ensure_future, add_done_callback, wait_for, wait with
 * FIRST_COMPLETED).
 *
 * A future is first in the queue (submitted, not yet in the ledger:
 * credit applies, the queue is what waits), then in the ledger like any
 * map task (an entry whose key is the future's address, see pool.h:
 * dispatch, re-run on a worker's death, timeouts and recycling are the
 * same), then done. The pool takes queued futures when a worker has room
 * (mp__futs_take) and hands their results here (mp__futs_complete); this
 * file never dispatches: it pokes the pool's kick event, which does. Its
 * state is its own (future.h); it sees the pool only through what
 * mp__futs_init gave it.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/errors.h"
#include "pool/future.h"

enum { F_NEW, F_QUEUED, F_LEDGER, F_DONE };

struct mp_future {
    mp__futures *F; /* NULL once done */
    mp_task_fn fn;
    int state;          /* F_* */
    uint32_t id;        /* its ledger entry, in F_LEDGER */
    mp__list_node link; /* F's queue or its ledger list */
    mp_done_fn cb;
    void *ud;
    int *woken;   /* a wait's flag, set when the future is done */
    int reported; /* mp_future_next returned it */
    mp_result res;
    size_t len;
    _Alignas(max_align_t) unsigned char in[]; /* the input's copy */
};

void mp__futs_init(mp__futures *F, mp_pool *pool, mp__ledger *L,
                   mp__loop *loop, struct event *kick)
{
    memset(F, 0, sizeof(*F));
    F->pool = pool;
    F->L = L;
    F->loop = loop;
    F->kick = kick;
    mp__list_init(&F->queued);
    mp__list_init(&F->running);
}

void mp__futs_free(mp__futures *F)
{
    if (F->drain_timer)
        event_free(F->drain_timer);
    F->drain_timer = NULL;
}

/* Returns the oldest future of list l, NULL when it is empty. */
static mp_future *oldest(mp__list *l)
{
    mp__list_node *n = mp__list_first(l);
    return n ? MP__LIST_ENTRY(n, mp_future, link) : NULL;
}

/* Moves f to state (F_*): off its old state's list, onto the new one's
   (F_DONE has none), with F's counts. */
static void move(mp__futures *F, mp_future *f, int state)
{
    if (f->state == F_QUEUED)
        F->nqueued--;
    else if (f->state == F_LEDGER)
        F->nrunning--;
    if (mp__list_linked(&f->link))
        mp__list_remove(&f->link);
    f->state = state;
    if (state == F_QUEUED) {
        mp__list_push_back(&F->queued, &f->link);
        F->nqueued++;
    } else if (state == F_LEDGER) {
        mp__list_push_back(&F->running, &f->link);
        F->nrunning++;
    }
}

/* Ends a drain when F is closed and holds no future any more: its wait
   wakes, its deadline goes, the drained callback runs (once). */
static void drained_check(mp__futures *F)
{
    if (!F->closed || F->nqueued || F->nrunning || F->drain_done)
        return;
    F->drain_done = 1;
    if (F->drain_woken)
        *F->drain_woken = 1;
    if (F->drain_timer)
        event_del(F->drain_timer);
    if (F->drained_cb)
        F->drained_cb(F->pool, 0, F->drained_ud);
}

/* Ends f with status (data copied, err copied), runs its callback, which
   may free f (nothing touches f after it), and ends a drain that waited
   for it. */
static void complete(mp_future *f, int status, const void *data, size_t len,
                     const char *err)
{
    mp__futures *F = f->F;
    move(F, f, F_DONE);
    f->F = NULL;
    mp__result_set(&f->res, status, data, len, err);
    if (f->woken)
        *f->woken = 1;
    f->woken = NULL;
    if (f->cb)
        f->cb(f, f->ud);
    drained_check(F);
}

/* Has the pool's loop dispatch soon (and tell cancels). */
static void kick(mp__futures *F)
{
    event_active(F->kick, EV_TIMEOUT, 1);
}

int mp__futs_submit(mp__futures *F, mp_task_fn fn, const void *in, size_t len,
                    mp_future **out)
{
    if (!fn || !out || (!in && len))
        return MP_EINVAL;
    if (len > MP_MAX_PAYLOAD)
        return MP_E2BIG;
    if (F->closed)
        return MP_ECLOSED;
    mp_future *f = malloc(sizeof(*f) + len);
    if (!f)
        return MP_ENOMEM;
    memset(f, 0, sizeof(*f));
    f->F = F;
    f->fn = fn;
    f->len = len;
    if (len)
        memcpy(f->in, in, len);
    move(F, f, F_QUEUED);
    if (F->nqueued > F->max_queued)
        F->max_queued = F->nqueued;
    kick(F);
    *out = f;
    return 0;
}

uint32_t mp__futs_take(mp__futures *F)
{
    mp_future *f = oldest(&F->queued);
    if (!f || mp__ledger_full(F->L))
        return MP_NIL;
    f->id = mp__ledger_add(F->L, MP__FUT_KEY(f), f->in, (uint32_t)f->len, 0);
    move(F, f, F_LEDGER);
    return f->id;
}

mp_task_fn mp__fut_fn(size_t key)
{
    return ((mp_future *)(uintptr_t)key)->fn;
}

void mp__futs_complete(mp__futures *F, size_t key, int status,
                       const void *data, size_t len, const char *err)
{
    complete((mp_future *)(uintptr_t)key, status, data, len, err);
}

void mp__futs_end_queued(mp__futures *F, int status, const char *why)
{
    mp_future *f;
    while ((f = oldest(&F->queued)))
        complete(f, status, NULL, 0, why);
}

int mp_future_on_done(mp_future *f, mp_done_fn cb, void *ud)
{
    if (!f || !cb)
        return MP_EINVAL;
    f->cb = cb;
    f->ud = ud;
    if (f->state == F_DONE)
        cb(f, ud);
    return 0;
}

int mp_future_done(const mp_future *f)
{
    return f && f->state == F_DONE;
}

const mp_result *mp_future_result(const mp_future *f)
{
    return f && f->state == F_DONE ? &f->res : NULL;
}

int mp_future_cancel(mp_future *f)
{
    if (!f || f->state == F_DONE)
        return MP_EINVAL;
    if (f->state == F_QUEUED) {
        complete(f, MP_ECANCELED, NULL, 0, "future canceled before it ran");
        return 0;
    }
    if (mp__ledger_cancel(f->F->L, f->id) >= 0)
        kick(f->F); /* at a worker: it is told, its late result dropped */
    complete(f, MP_ECANCELED, NULL, 0, "future canceled");
    return 0;
}

int mp_future_take(mp_future *f, mp_result *out)
{
    if (!f || !out || f->state != F_DONE)
        return MP_EINVAL;
    *out = f->res;
    f->res.data = NULL; /* the status stays: mp_future_result says it */
    f->res.len = 0;
    f->res.error = NULL;
    return 0;
}

void mp_future_free(mp_future *f)
{
    if (!f)
        return;
    if (f->state != F_DONE) {
        f->cb = NULL; /* canceled without a callback */
        mp_future_cancel(f);
    }
    mp_result_clear(&f->res);
    free(f);
}

/* ---- waiting ---------------------------------------------------------- */

struct wait {
    mp__futures *F;
    int *woken;
};

/* A wait's question to the loop (loop.h): the first time, it has the
   pool dispatch (futures queued meanwhile); it stops once *woken. */
static int woken(void *arg, int first)
{
    struct wait *w = arg;
    if (first)
        kick(w->F);
    return *w->woken;
}

/* Runs F's pool's loop until *flag or timeout_ms (0: no limit). Returns
   0, or mp__loop_run's MP_ETIMEDOUT, MP_EATTACHED, MP_EINVAL (called
   from inside the pool's loop), MP_ENOMEM or MP_ESYS. */
static int drive(mp__futures *F, int *flag, unsigned timeout_ms)
{
    struct wait w = {F, flag};
    return mp__loop_run(F->loop, woken, &w, timeout_ms);
}

int mp_future_wait_any(mp_future *const *fs, size_t n, unsigned timeout_ms)
{
    if (!fs || !n)
        return MP_EINVAL;
    mp__futures *F = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i])
            return MP_EINVAL;
        if (fs[i]->state == F_DONE)
            return (int)i;
        if (F && fs[i]->F != F)
            return MP_EINVAL; /* one pool's loop is driven, not two */
        F = fs[i]->F;
    }
    int woken = 0;
    for (size_t i = 0; i < n; i++)
        fs[i]->woken = &woken;
    int rc = drive(F, &woken, timeout_ms);
    for (size_t i = 0; i < n; i++) /* the done ones cleared theirs */
        if (fs[i]->state != F_DONE)
            fs[i]->woken = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (fs[i]->state == F_DONE)
            return (int)i;
    return rc < 0 ? rc : MP_ETIMEDOUT;
}

int mp_future_wait(mp_future *f, unsigned timeout_ms)
{
    int rc = mp_future_wait_any(&f, 1, timeout_ms);
    return rc < 0 ? rc : 0;
}

int mp_future_wait_all(mp_future *const *fs, size_t n, unsigned timeout_ms)
{
    if (!fs && n)
        return MP_EINVAL;
    uint64_t end = mp__now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i])
            return MP_EINVAL;
        if (fs[i]->state == F_DONE)
            continue;
        unsigned left = 0; /* 0: no limit */
        if (timeout_ms) {
            uint64_t now = mp__now_ns();
            if (now >= end)
                return MP_ETIMEDOUT;
            left = (unsigned)((end - now + 999999) / 1000000);
        }
        int rc = mp_future_wait(fs[i], left);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Returns the lowest index of a done future mp_future_next has not
   returned yet, marking it; n when none. */
static size_t next_unreported(mp_future *const *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fs[i]->state == F_DONE && !fs[i]->reported) {
            fs[i]->reported = 1;
            return i;
        }
    return n;
}

int mp_future_next(mp_future *const *fs, size_t n, unsigned timeout_ms)
{
    if (!fs || n > INT32_MAX)
        return MP_EINVAL;
    mp__futures *F = NULL;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i] || (F && fs[i]->F && fs[i]->F != F))
            return MP_EINVAL; /* one pool's loop is driven, not two */
        if (fs[i]->F)
            F = fs[i]->F;
        pending += fs[i]->state != F_DONE;
    }
    size_t i = next_unreported(fs, n);
    if (i < n || !pending)
        return (int)i;
    int woken = 0;
    for (size_t k = 0; k < n; k++)
        if (fs[k]->state != F_DONE)
            fs[k]->woken = &woken;
    int rc = drive(F, &woken, timeout_ms);
    for (size_t k = 0; k < n; k++)
        if (fs[k]->state != F_DONE)
            fs[k]->woken = NULL;
    i = next_unreported(fs, n);
    return i < n ? (int)i : rc < 0 ? rc : MP_ETIMEDOUT;
}

/* ---- draining ---------------------------------------------------------- */

void mp__futs_on_drained(mp__futures *F, mp_drained_fn cb, void *ud)
{
    F->drained_cb = cb;
    F->drained_ud = ud;
}

/* The drain's deadline passed first: the callback says so, once. */
static void drain_timed_out(mp__futures *F)
{
    if (F->drain_done)
        return;
    F->drain_done = 1;
    if (F->drained_cb)
        F->drained_cb(F->pool, MP_ETIMEDOUT, F->drained_ud);
}

/* An attached pool's drain deadline passed (arg: the futures). */
static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    drain_timed_out(arg);
}

int mp__futs_drain(mp__futures *F, unsigned timeout_ms)
{
    mp__loop *l = F->loop;
    if (l->driving && !l->attached)
        return MP_EINVAL;
    if (F->closed && (F->drain_done || l->attached))
        return F->drain_done && (F->nqueued || F->nrunning) ? MP_ETIMEDOUT : 0;
    F->closed = 1;
    drained_check(F);
    if (F->drain_done)
        return 0;
    if (l->attached) { /* the caller's loop runs it; the callback tells */
        if (timeout_ms) {
            struct timeval tv = mp__ms_tv(timeout_ms);
            if (!F->drain_timer &&
                !(F->drain_timer = evtimer_new(l->base, on_drain_timeout, F)))
                return MP_ENOMEM;
            evtimer_add(F->drain_timer, &tv);
        }
        return 0;
    }
    int woken = 0;
    F->drain_woken = &woken;
    int rc = drive(F, &woken, timeout_ms);
    F->drain_woken = NULL;
    if (rc == MP_ETIMEDOUT)
        drain_timed_out(F);
    return rc;
}
