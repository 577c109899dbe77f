/*
 * Child coroutines inside a task: mp_spawn starts one now, mp_join awaits
 * it later (asyncio.create_task, then await asyncio.wait_for), mp_gather
 * spawns all and joins each in turn (asyncio.gather).
 *
 * A child is an ordinary mp_task on its own coroutine (its awaits are the
 * same, it can spawn in turn) plus a handle, mp_child, which holds the
 * child's copy of its input and, once the child has finished, its result.
 * A handle sits on its parent's list until mp_join takes it. A handle whose
 * parent let go of it (the parent finished, or mp_join gave up waiting) is
 * an orphan: its child is canceled, and the child's end frees the handle.
 * The parent's deadline and cancellation reach every child on its list.
 */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "worker/worker.h"

struct mp_child {
    mp_task *task;         /* the child while it runs; NULL once done */
    mp_task *parent;       /* NULL once orphaned */
    mp__list_node link;    /* on the parent's kin.children */
    mp_task *joiner;       /* the parent, while suspended in mp_join */
    struct event timer;    /* mp_join's timeout */
    int timer_armed, done;
    mp_result res; /* the child's result, once done */
    _Alignas(max_align_t) unsigned char in[]; /* the input's copy */
};

static void unlink_child(mp_child *c)
{
    mp__list_remove(&c->link);
    c->parent = NULL;
}

static void free_child(mp_child *c)
{
    mp_result_clear(&c->res);
    free(c);
}

/* Lets go of c: a finished child's handle is freed; a running one is
   canceled and freed by its own end. */
static void orphan(mp_child *c)
{
    if (c->parent)
        unlink_child(c);
    if (c->done)
        free_child(c);
    else
        mp__task_abort(c->task, MP_ECANCELED);
}

/* kin.drop: t is done with the children it did not join. */
static void children_drop(mp_task *t)
{
    mp__list_node *n;
    while ((n = mp__list_first(&t->kin.children)))
        orphan(MP__LIST_ENTRY(n, mp_child, link));
}

/* kin.abort: t's deadline or cancellation reaches its children. */
static void children_abort(mp_task *t, int code)
{
    MP__LIST_EACH(n, &t->kin.children) {
        mp_child *c = MP__LIST_ENTRY(n, mp_child, link);
        if (!c->done)
            mp__task_abort(c->task, code);
    }
}

/* Stops mp_join's wait: removes its timer. */
static void stop_waiting(mp_child *c)
{
    if (c->timer_armed)
        event_del(&c->timer);
    c->timer_armed = 0;
    c->joiner = NULL;
}

/* kin.done: the child t finished; its handle takes the result. */
static void child_done(mp_task *t, int status, const char *msg)
{
    mp_child *c = t->kin.handle;
    c->task = NULL;
    c->done = 1;
    mp__task_take_result(t, status, msg, &c->res);
    if (!c->parent) {
        free_child(c);
        return;
    }
    mp_task *j = c->joiner;
    if (j) {
        stop_waiting(c);
        mp__task_wake(j, 0);
    }
}

static const mp__kin_ops spawn_kin = {children_drop, child_done,
                                      children_abort};

int mp_spawn(mp_task *t, mp_task_fn fn, const void *in, size_t len,
             mp_child **out)
{
    if (!t || !fn || !out || (!in && len) || t != mp__task_current())
        return MP_EINVAL;
    if (len > MP_MAX_PAYLOAD)
        return MP_E2BIG;
    mp_child *c = calloc(1, sizeof(*c) + len);
    mp_task *k = c ? mp__task_child(t, fn, c->in, len) : NULL;
    if (!k) {
        free(c);
        return MP_ENOMEM;
    }
    if (len)
        memcpy(c->in, in, len);
    c->task = k;
    c->parent = t;
    mp__list_push_front(&t->kin.children, &c->link);
    k->kin.handle = c;
    k->kin.ops = t->kin.ops = &spawn_kin;
    mp__task_schedule(k);
    *out = c;
    return 0;
}

static void on_join_timeout(evutil_socket_t fd, short what, void *arg)
{
    mp_child *c = arg;
    mp_task *j = c->joiner;
    c->timer_armed = 0;
    c->joiner = NULL;
    mp__task_wake(j, MP_ETIMEDOUT);
}

/* mp__cancel_fn of mp_join: the parent's deadline or cancellation. */
static void join_cancel(mp_task *t, void *arg)
{
    stop_waiting(arg);
}

int mp_join(mp_child *c, mp_result *out, unsigned timeout_ms)
{
    if (!c || !out)
        return MP_EINVAL;
    mp_task *t = c->parent;
    if (!t || t != mp__task_current())
        return MP_EINVAL; /* only the parent, from its own coroutine */
    int rc = t->timed_out ? MP_ETIMEDOUT : t->canceled ? MP_ECANCELED : 0;
    if (!c->done && rc == 0) {
        if (timeout_ms) {
            struct timeval tv = mp__ms_tv(timeout_ms);
            evtimer_assign(&c->timer, mp__worker_base(), on_join_timeout, c);
            event_priority_set(&c->timer, MP__PRIO_TASK);
            evtimer_add(&c->timer, &tv);
            c->timer_armed = 1;
        }
        c->joiner = t;
        rc = mp__task_suspend(t, join_cancel, c);
    }
    if (c->done) { /* a result beats a timeout that came with it */
        *out = c->res;
        c->res = (mp_result){0};
        unlink_child(c);
        free_child(c);
        return 0;
    }
    *out = (mp_result){.status = rc};
    orphan(c);
    return rc;
}

int mp_gather(mp_task *t, mp_task_fn fn, const mp_buf *in, size_t n,
              mp_result *out)
{
    if (!t || !fn || (n && (!in || !out)) || t != mp__task_current())
        return MP_EINVAL;
    mp_child **cs = n ? calloc(n, sizeof(*cs)) : NULL;
    if (n && !cs)
        return MP_ENOMEM;
    int rc = 0;
    size_t started = 0;
    while (started < n && rc == 0)
        if ((rc = mp_spawn(t, fn, in[started].data, in[started].len,
                           &cs[started])) == 0)
            started++;
    for (size_t i = 0; i < n; i++) {
        out[i] = (mp_result){.status = rc};
        if (i < started && rc < 0)
            orphan(cs[i]);
        else if (i < started)
            mp_join(cs[i], &out[i], 0);
    }
    free(cs);
    return rc;
}

int mp_gather_max(mp_task *t, mp_task_fn fn, const mp_buf *in, size_t n,
                  mp_result *out, size_t max_at_once)
{
    if (!t || !fn || (n && (!in || !out)) || t != mp__task_current())
        return MP_EINVAL;
    if (max_at_once == 0 || max_at_once >= n)
        return mp_gather(t, fn, in, n, out);
    mp_child **cs = calloc(n, sizeof(*cs));
    if (!cs)
        return MP_ENOMEM;
    int rc = 0;
    size_t started = 0, joined = 0;
    /* a window of max_at_once children: the oldest is joined, then the
       next one starts */
    while (joined < n && rc == 0) {
        while (started < n && started - joined < max_at_once && rc == 0)
            if ((rc = mp_spawn(t, fn, in[started].data, in[started].len,
                               &cs[started])) == 0)
                started++;
        if (rc == 0)
            mp_join(cs[joined], &out[joined], 0), joined++;
    }
    for (size_t i = joined; i < n; i++) { /* a spawn failed: the rest */
        out[i] = (mp_result){.status = rc};
        if (i < started)
            orphan(cs[i]);
    }
    free(cs);
    return rc;
}
