/*
 * Futures: one task submitted now, its result later (asyncio's
 * run_in_executor / ensure_future, add_done_callback, wait_for, wait with
 * FIRST_COMPLETED).
 *
 * A future is first in the pool's queue (submitted, not yet in the
 * ledger: credit applies, the queue is what waits), then in the ledger like
 * any map task (an entry whose index is the future's address, see pool.h:
 * dispatch, re-run on a worker's death, timeouts and recycling are the
 * same), then done. pool.c takes queued futures when a worker has room
 * (mp__fut_take) and hands their results here (mp__fut_complete); this
 * file never dispatches: it pokes the pool's kick event, which does.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "pool/pool.h"

enum { F_QUEUED, F_LEDGER, F_DONE };

struct mp_future {
    mp_pool *p;             /* NULL once done */
    mp_task_fn fn;
    int state;              /* F_* */
    uint32_t id;            /* its ledger entry, in F_LEDGER */
    mp_future *prev, *next; /* the pool's queue or its ledger list */
    mp_done_fn cb;
    void *ud;
    int *woken; /* a wait's flag, set when the future is done */
    int reported; /* mp_future_next returned it */
    mp_result res;
    size_t len;
    _Alignas(max_align_t) unsigned char in[]; /* the input's copy */
};

static void list_push(mp__futlist *l, mp_future *f)
{
    f->next = NULL;
    f->prev = l->tail;
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
    l->n++;
}

static void list_unlink(mp__futlist *l, mp_future *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
    l->n--;
}

/* Ends f with status (data copied, err copied) and runs its callback,
   which may free f: nothing touches f after it. */
static void complete(mp_future *f, int status, const void *data,
                     size_t len, const char *err)
{
    f->state = F_DONE;
    f->p = NULL;
    f->res.status = status;
    if (len && (f->res.data = malloc(len))) {
        memcpy(f->res.data, data, len);
        f->res.len = len;
    } else if (len && status == 0) {
        f->res.status = MP_ENOMEM;
    }
    f->res.error = err ? strdup(err) : NULL;
    if (f->woken)
        *f->woken = 1;
    f->woken = NULL;
    if (f->cb)
        f->cb(f, f->ud);
}

/* Ends a drain when p is closed and holds no future any more: its wait
   wakes, its deadline goes, the drained callback runs (once). */
static void drained_check(mp_pool *p)
{
    if (!p->closed || p->futq.n || p->futs.n || p->drain_done)
        return;
    p->drain_done = 1;
    if (p->drain_woken)
        *p->drain_woken = 1;
    if (p->drain_timer)
        event_del(p->drain_timer);
    if (p->drained_cb)
        p->drained_cb(p, 0, p->drained_ud);
}

/* Has the pool's loop dispatch soon (and flush cancels). */
static void kick(mp_pool *p)
{
    event_active(p->kick_ev, EV_TIMEOUT, 1);
}

int mp_pool_submit(mp_pool *p, mp_task_fn fn, const void *in, size_t len,
                   mp_future **out)
{
    if (!p || !fn || !out || (!in && len))
        return MP_EINVAL;
    if (len > MP_MAX_PAYLOAD)
        return MP_E2BIG;
    if (p->closed)
        return MP_ECLOSED;
    mp_future *f = malloc(sizeof(*f) + len);
    if (!f)
        return MP_ENOMEM;
    memset(f, 0, sizeof(*f));
    f->p = p;
    f->fn = fn;
    f->len = len;
    if (len)
        memcpy(f->in, in, len);
    list_push(&p->futq, f);
    if (p->futq.n > p->stats.max_futures_waiting)
        p->stats.max_futures_waiting = p->futq.n;
    kick(p);
    *out = f;
    return 0;
}

uint32_t mp__fut_take(mp_pool *p)
{
    mp_future *f = p->futq.head;
    if (!f || mp__ledger_full(&p->L))
        return MP_NIL;
    uint32_t id = mp__ledger_add(&p->L, MP__FUT_KEY(f), f->in,
                                 (uint32_t)f->len, 0);
    list_unlink(&p->futq, f);
    list_push(&p->futs, f);
    f->state = F_LEDGER;
    f->id = id;
    return id;
}

mp_task_fn mp__fut_fn(size_t key)
{
    return ((mp_future *)(uintptr_t)key)->fn;
}

void mp__fut_complete(mp_pool *p, size_t key, int status, const void *data,
                      size_t len, const char *err)
{
    mp_future *f = (mp_future *)(uintptr_t)key;
    list_unlink(&p->futs, f);
    p->stats.tasks_done++;
    complete(f, status, data, len, err);
    drained_check(p);
}

void mp__futs_end(mp_pool *p, int status, const char *why)
{
    mp_future *f;
    while ((f = p->futq.head) || (f = p->futs.head)) {
        list_unlink(f->state == F_QUEUED ? &p->futq : &p->futs, f);
        complete(f, status, NULL, 0, why);
    }
    drained_check(p);
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
    mp_pool *p = f->p;
    if (f->state == F_QUEUED) {
        list_unlink(&p->futq, f);
        complete(f, MP_ECANCELED, NULL, 0, "future canceled before it ran");
        drained_check(p);
        return 0;
    }
    if (mp__ledger_cancel(&p->L, f->id) >= 0)
        kick(p); /* at a worker: it is told, its late result dropped */
    list_unlink(&p->futs, f);
    complete(f, MP_ECANCELED, NULL, 0, "future canceled");
    drained_check(p);
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

static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

/* Runs p's own loop until *woken or timeout_ms (0: no limit). Returns 0,
   MP_ETIMEDOUT, MP_EATTACHED, MP_EINVAL (called from inside the pool's
   loop) or MP_ESYS. */
static int drive(mp_pool *p, int *woken, unsigned timeout_ms)
{
    if (p->attached)
        return MP_EATTACHED;
    if (p->driving)
        return MP_EINVAL;
    int timed_out = 0, rc = 0;
    struct event *t = NULL;
    if (timeout_ms) {
        struct timeval tv = mp__ms_tv(timeout_ms);
        if (!(t = evtimer_new(p->base, on_wait_timeout, &timed_out)))
            return MP_ENOMEM;
        evtimer_add(t, &tv);
    }
    p->driving = 1;
    kick(p);
    while (!*woken && !timed_out)
        if (event_base_loop(p->base, EVLOOP_ONCE) < 0) {
            rc = MP_ESYS;
            break;
        }
    p->driving = 0;
    if (t)
        event_free(t);
    return *woken ? 0 : rc ? rc : MP_ETIMEDOUT;
}

int mp_future_wait_any(mp_future *const *fs, size_t n, unsigned timeout_ms)
{
    if (!fs || !n)
        return MP_EINVAL;
    mp_pool *p = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i])
            return MP_EINVAL;
        if (fs[i]->state == F_DONE)
            return (int)i;
        if (p && fs[i]->p != p)
            return MP_EINVAL; /* one pool's loop is driven, not two */
        p = fs[i]->p;
    }
    int woken = 0;
    for (size_t i = 0; i < n; i++)
        fs[i]->woken = &woken;
    int rc = drive(p, &woken, timeout_ms);
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
    mp_pool *p = NULL;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i] || (p && fs[i]->p && fs[i]->p != p))
            return MP_EINVAL; /* one pool's loop is driven, not two */
        if (fs[i]->p)
            p = fs[i]->p;
        pending += fs[i]->state != F_DONE;
    }
    size_t i = next_unreported(fs, n);
    if (i < n || !pending)
        return (int)i;
    int woken = 0;
    for (size_t k = 0; k < n; k++)
        if (fs[k]->state != F_DONE)
            fs[k]->woken = &woken;
    int rc = drive(p, &woken, timeout_ms);
    for (size_t k = 0; k < n; k++)
        if (fs[k]->state != F_DONE)
            fs[k]->woken = NULL;
    i = next_unreported(fs, n);
    return i < n ? (int)i : rc < 0 ? rc : MP_ETIMEDOUT;
}

/* ---- draining ---------------------------------------------------------- */

int mp_pool_on_drained(mp_pool *p, mp_drained_fn cb, void *ud)
{
    if (!p)
        return MP_EINVAL;
    p->drained_cb = cb;
    p->drained_ud = ud;
    return 0;
}

/* An attached pool's drain deadline passed: the callback says so. */
static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    mp_pool *p = arg;
    if (p->drain_done)
        return;
    p->drain_done = 1;
    if (p->drained_cb)
        p->drained_cb(p, MP_ETIMEDOUT, p->drained_ud);
}

int mp_pool_drain(mp_pool *p, unsigned timeout_ms)
{
    if (!p || p->call || (p->driving && !p->attached))
        return MP_EINVAL;
    if (p->closed && (p->drain_done || p->attached))
        return p->drain_done && (p->futq.n || p->futs.n) ? MP_ETIMEDOUT
                                                         : 0;
    p->closed = 1;
    drained_check(p);
    if (p->drain_done)
        return 0;
    if (p->attached) { /* the caller's loop runs it; the callback tells */
        if (timeout_ms) {
            struct timeval tv = mp__ms_tv(timeout_ms);
            if (!p->drain_timer &&
                !(p->drain_timer = evtimer_new(p->base, on_drain_timeout,
                                               p)))
                return MP_ENOMEM;
            evtimer_add(p->drain_timer, &tv);
        }
        return 0;
    }
    int woken = 0;
    p->drain_woken = &woken;
    int rc = drive(p, &woken, timeout_ms);
    p->drain_woken = NULL;
    if (rc == MP_ETIMEDOUT && !p->drain_done) {
        p->drain_done = 1;
        if (p->drained_cb)
            p->drained_cb(p, MP_ETIMEDOUT, p->drained_ud);
    }
    return rc;
}
