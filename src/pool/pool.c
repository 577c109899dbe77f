/*
 * The coordinator at work: the calls (map, imap, apply), credit-based
 * dispatch, cancel, and every change of a slot's state (start, ready,
 * retire, death, respawn). It drives the ledger (ledger.c: which task is
 * where) and the slots (slots.c: worker processes), which report back only
 * through the hooks defined here. Creation and destruction are
 * pool_create.c's.
 */
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "pool/forkserver.h"
#include "pool/pool.h"


static void abort_call(mp_pool *p, int status, const char *why);

void mp__create_failed(mp_pool *p, int err, const char *fmt, ...)
{
    if (p->create_err)
        return;
    p->create_err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->create_msg, sizeof(p->create_msg), fmt, ap);
    va_end(ap);
}

/* ---- results ---------------------------------------------------------- */

/* Hands one result to its owner (key: see pool.h): to a future, or to the
   call: into out[] (copied, owned by the result: small data goes to a
   piece of the pool's current result block, mp_result_clear releases it)
   for map, to on_result
   (borrowed) for imap. A callback that asks to stop aborts the call. */
static void deliver(mp_pool *p, size_t key, int status, const void *data,
                    size_t len, const char *err)
{
    p->stats.tasks_done++;
    if (!MP__KEY_IS_CALL(key)) {
        mp__futs_complete(&p->F, key, status, data, len, err);
        return;
    }
    size_t index = MP__KEY_POS(key);
    mp__call *c = p->call;
    c->delivered++;
    if (!c->imap) {
        /* small data: a piece of the pool's block, shared with other
           results (common/rblock.h) */
        mp__result_set_in(&c->out[index], &p->rb, status, data, len, err);
        return;
    }
    mp_result r = {status, (void *)data, len, (char *)err};
    if (c->on_result(c->ud, index, &r) != 0 && !c->status)
        abort_call(p, MP_ECANCELED, "canceled by the result callback");
}

/* Delivers the ledger's verdict on a task whose worker died (how: the
   death in words). */
static void deliver_verdict(mp_pool *p, const mp__verdict *v,
                            const char *how)
{
    char msg[160];
    if (v->fs)
        snprintf(msg, sizeof(msg), "the pool forkserver died %u times "
                 "while this task ran, the last time alone in the pool",
                 v->deaths);
    else if (v->status == MP_ETIMEDOUT)
        snprintf(msg, sizeof(msg), "task ran on the CPU past its deadline "
                 "of %u ms; its worker was killed", p->o.task_timeout_ms);
    else
        snprintf(msg, sizeof(msg), "worker died %u times running this task "
                 "(last one %s)", v->deaths, how);
    deliver(p, v->index, v->status, NULL, 0, msg);
}

/* ---- input ------------------------------------------------------------ */

/* Takes a token for one task start when a rate is set. Returns 1, or 0
   (and arms the refill timer) when the bucket is empty. */
static int take_token(mp_pool *p)
{
    if (p->o.rate <= 0)
        return 1;
    uint64_t now = mp__now_ns();
    double burst = p->o.rate / 20 > 1 ? p->o.rate / 20 : 1;
    p->tokens += (double)(now - p->tokens_ns) / 1e9 * p->o.rate;
    p->tokens_ns = now;
    if (p->tokens > burst)
        p->tokens = burst;
    if (p->tokens >= 1) {
        p->tokens -= 1;
        return 1;
    }
    if (!p->rate_armed) {
        double wait = (1 - p->tokens) / p->o.rate;
        struct timeval tv = {(time_t)wait,
                             (suseconds_t)((wait - floor(wait)) * 1e6) + 1};
        event_add(p->rate_ev, &tv);
        p->rate_armed = 1;
    }
    return 0;
}

/* Pulls one input into a new ledger entry. Returns the entry, or MP_NIL
   when there is no input now (ended, paused, ledger full). */
static uint32_t pull_input(mp_pool *p)
{
    mp__call *c = p->call;
    for (;;) {
        if (!c || c->input_done || c->input_paused ||
            mp__ledger_full(&p->L))
            return MP_NIL;
        mp_buf b = {0};
        if (!c->imap) {
            if (c->pulled == c->n) {
                c->input_done = 1;
                return MP_NIL;
            }
            b = c->in[c->pulled];
        } else {
            int rc = c->next(c->ud, &b);
            if (rc == 0 || rc == MP_EAGAIN || rc < 0) {
                if (rc == MP_EAGAIN)
                    c->input_paused = 1;
                else if (rc == 0)
                    c->input_done = 1;
                else
                    abort_call(p, rc, NULL);
                return MP_NIL;
            }
        }
        size_t key = MP__CALL_KEY(c->pulled++);
        if (!c->imap && c->pulled == c->n)
            c->input_done = 1; /* known now: dispatch may not ask again */
        if (b.len > MP_MAX_PAYLOAD || (!b.data && b.len)) {
            deliver(p, key, b.data ? MP_E2BIG : MP_EINVAL, NULL, 0,
                    b.data ? "input larger than MP_MAX_PAYLOAD"
                           : "input with NULL data");
            continue;
        }
        return mp__ledger_add(&p->L, key, b.data, (uint32_t)b.len,
                              c->imap);
    }
}

/* Returns 1 when the call in progress has input to give now. */
static int call_open(const mp_pool *p)
{
    const mp__call *c = p->call;
    return c && !c->status && !c->input_done && !c->input_paused;
}

/* The next task for a worker with room: a retry first, then new input of
   the call (fut 0) or a queued future (fut 1). Returns an entry, or
   MP_NIL. */
static uint32_t next_task(mp_pool *p, int fut)
{
    if (p->L.retry.n)
        return take_token(p) ? mp__ledger_pop_retry(&p->L) : MP_NIL;
    if (!fut && p->L.staged.n)
        return take_token(p) ? mp__ledger_pop_staged(&p->L) : MP_NIL;
    if ((fut ? !p->F.nqueued : !call_open(p)) || mp__ledger_full(&p->L) ||
        !take_token(p))
        return MP_NIL;
    uint32_t id = fut ? mp__futs_take(&p->F) : pull_input(p);
    if (id == MP_NIL && p->o.rate > 0)
        p->tokens += 1; /* the token was not used */
    return id;
}

/* The task function of entry id: its call's or its future's. */
static mp_task_fn fn_of(mp_pool *p, uint32_t id)
{
    size_t key = p->L.ents[id].index;
    return MP__KEY_IS_CALL(key) ? p->call->fn : mp__fut_fn(key);
}

/* ---- dispatch --------------------------------------------------------- */

/* A message of k tasks to slot i could not be sent: they go back to the
   front of their queue, and the worker, whose pipe is in an unknown state,
   is killed (its death counts against no task). */
static void send_failed(mp_pool *p, int i, uint32_t k)
{
    mp__life *w = &p->life[i];
    mp__ledger_take_back(&p->L, i, k);
    p->stats.sends_failed++;
    if (w->state == MP__S_READY || w->state == MP__S_RETIRING) {
        w->state = MP__S_KILLED;
        mp__slot_kill(&p->S, i);
    }
}

/* Sends slot i message m, which carries the k tasks given to it last.
   Returns 0, or an error (the tasks are back in their queue then). */
static int send_batch(mp_pool *p, int i, mp__msg *m, uint32_t k)
{
    int rc = mp__slot_send(&p->S, i, m);
    if (rc < 0) {
        send_failed(p, i, k);
        return rc;
    }
    p->life[i].parked_tasks = mp__slot_parked(&p->S, i) ? k : 0;
    return 0;
}

/* Sends a suspect task alone to slot i if it is idle: first one
   suspected of killing the pool forkserver, when nothing runs anywhere in
   the pool, then one suspected of killing its worker. Returns 1 if it
   did. */
static int dispatch_solo(mp_pool *p, int i)
{
    uint32_t id = mp__ledger_give_alone(&p->L, i);
    if (id == MP_NIL && !mp__ledger_quiet(&p->L))
        id = mp__ledger_give_solo(&p->L, i);
    if (id == MP_NIL)
        return 0;
    mp__msg m;
    mp__entry *e = &p->L.ents[id];
    if (mp__msg_begin(&m, MP_MSG_TASKS, (uintptr_t)fn_of(p, id), e->len + 64))
        abort();
    if (mp__msg_put_task(&m, id, e->data, e->len))
        abort();
    send_batch(p, i, &m, 1);
    return 1;
}

/* Tells a worker that reached max_tasks_per_worker to leave, once every
   result it owed has arrived. */
static void retire(mp_pool *p, int i)
{
    mp__life *w = &p->life[i];
    if (w->state != MP__S_RETIRING || w->exit_sent ||
        mp__ledger_held(&p->L, i))
        return;
    w->exit_sent = 1; /* goes out now, or right after the parked message */
    mp__slot_control(&p->S, i, MP_MSG_EXIT);
}

/* Tells slot i's worker about the tasks it holds whose results are no
   longer wanted (orphans): "cancel everything" when that is all it holds,
   else their ids. Waits while a message is parked there. */
static void tell_cancels(mp_pool *p, int i)
{
    mp__life *w = &p->life[i];
    if (mp__slot_parked(&p->S, i) || !mp__ledger_take_untold(&p->L, i))
        return;
    if (w->state != MP__S_READY && w->state != MP__S_RETIRING)
        return;
    uint32_t cur = mp__ledger_first(&p->L, i), id, n = 0;
    mp__msg m = {0};
    while ((id = mp__ledger_next_orphan(&p->L, &cur)) != MP_NIL) {
        if (!m.buf && mp__msg_begin(&m, MP_MSG_CANCEL, 0, 4096))
            abort();
        if (mp__msg_put_task(&m, id, NULL, 0))
            abort();
        n++;
    }
    if (n && n == mp__ledger_held(&p->L, i)) {
        mp__msg_discard(&m);
        mp__slot_control(&p->S, i, MP_MSG_CANCEL);
    } else if (n && mp__slot_send(&p->S, i, &m) < 0) {
        send_failed(p, i, 0);
    }
}

/* Fills one message for slot i with up to *room tasks of one function.
   Returns the number of tasks in it (given to i), 0 when there is none. */
static uint32_t fill_batch(mp_pool *p, int i, mp__msg *m, uint32_t *room)
{
    mp_task_fn fn = NULL;
    uint32_t id = MP_NIL, k = 0;
    /* the call and the futures take turns, a batch each */
    int fut = p->F.nqueued && ((!call_open(p) && !p->L.staged.n) ||
                               (p->fut_turn ^= 1));
    if (*room && (id = next_task(p, fut)) == MP_NIL)
        id = next_task(p, fut = !fut);
    for (; id != MP_NIL; id = *room ? next_task(p, fut) : MP_NIL) {
        mp_task_fn f = fn_of(p, id);
        mp__ledger_give(&p->L, i, id);
        if (fn && f != fn) { /* the next message's: back to the queue */
            mp__ledger_take_back(&p->L, i, 1);
            break;
        }
        mp__entry *e = &p->L.ents[id];
        if (!m->buf && mp__msg_begin(m, MP_MSG_TASKS, (uintptr_t)f,
                                     MP_BATCH_HINT))
            abort();
        if (mp__msg_put_task(m, id, e->data, e->len))
            abort();
        fn = f;
        (*room)--;
        k++;
        if (m->len >= MP_BATCH_FILL) /* bounded: MP_MAX_MSG */
            break;
    }
    return k;
}

/* Sends slot i up to n more tasks in batches, one message per task
   function, while its pipe takes them; first what it is owed anyway
   (cancels, its EXIT once retiring, a suspect alone). */
static void dispatch_upto(mp_pool *p, int i, uint32_t n)
{
    mp__life *w = &p->life[i];
    tell_cancels(p, i);
    if (w->state != MP__S_READY || mp__slot_parked(&p->S, i) ||
        p->L.holders[i].solo_busy)
        return;
    if (p->o.max_tasks_per_worker &&
        p->L.holders[i].given >= p->o.max_tasks_per_worker) {
        w->state = MP__S_RETIRING;
        retire(p, i);
        return;
    }
    if (dispatch_solo(p, i) || mp__ledger_quiet(&p->L))
        return; /* a suspect of forkserver deaths waits for the pool to
                   be empty, or runs: nothing else meanwhile */
    uint32_t k;
    while (n && w->state == MP__S_READY && !mp__slot_parked(&p->S, i)) {
        mp__msg m = {0};
        if ((k = fill_batch(p, i, &m, &n)) == 0 ||
            send_batch(p, i, &m, k) < 0)
            break;
    }
}

/* Returns how many tasks slot i can take now (0 when it takes none: not
   ready, its pipe full, a suspect alone). */
static uint32_t room_of(mp_pool *p, int i)
{
    if (p->life[i].state != MP__S_READY || mp__slot_parked(&p->S, i) ||
        p->L.holders[i].solo_busy)
        return 0;
    return mp__ledger_room(&p->L, i, p->L.window);
}

/* An imap call's input is pulled ahead, up to what the workers can take
   now (so still only while a worker has room), into the staged queue:
   then it is known how much there is to spread. */
static void stage_input(mp_pool *p, uint32_t total)
{
    while (p->L.staged.n < total) {
        uint32_t id = pull_input(p);
        if (id == MP_NIL)
            return;
        mp__ledger_stage(&p->L, id);
    }
}

/* Returns the tasks waiting for a worker, at most cap: re-runs, staged
   input, the rest of a map's input, queued futures. */
static uint32_t pending(const mp_pool *p, uint32_t cap)
{
    uint64_t n = (uint64_t)p->L.retry.n + p->L.staged.n + p->F.nqueued;
    const mp__call *c = p->call;
    if (call_open(p))
        n += c->imap ? 0 : c->n - c->pulled;
    return n < cap ? (uint32_t)n : cap;
}

/* Placement. Every dispatch gives the tasks waiting to the least-loaded
   workers (load: the tasks a worker holds, queued there and running),
   water-filling: each worker with room is brought up to one level, the
   lowest that places every task, lower slots taking the remainder; a
   worker takes no more than its room (credit). So n tasks on W idle
   workers go n / W to each, and a stream longer than every worker's room
   fills them all. */
static void dispatch_all(mp_pool *p)
{
    int nw = p->nworkers;
    uint32_t *room = p->room, total = 0, hi = 0, lo = UINT32_MAX;
    for (int i = 0; i < nw; i++) {
        room[i] = room_of(p, i);
        total += room[i];
    }
    if (p->call && p->call->imap && call_open(p))
        stage_input(p, total);
    uint32_t left = pending(p, total);
    if (left == total) { /* more than all the room: everyone fills up */
        for (int i = 0; i < nw; i++)
            dispatch_upto(p, i, room[i]);
        return;
    }
    for (int i = 0; i < nw; i++) {
        uint32_t h = mp__ledger_held(&p->L, i);
        if (room[i] && h < lo)
            lo = h;
        if (room[i] && h + room[i] > hi)
            hi = h + room[i];
    }
    while (left && lo < hi) { /* the least level that places them all */
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t placed = 0;
        for (int i = 0; i < nw; i++) {
            uint32_t h = mp__ledger_held(&p->L, i);
            if (room[i] && mid > h)
                placed += mid - h < room[i] ? mid - h : room[i];
        }
        if (placed >= left)
            hi = mid;
        else
            lo = mid + 1;
    }
    for (int i = 0; i < nw; i++) {
        uint32_t h = mp__ledger_held(&p->L, i), give = 0;
        if (room[i] && hi > h)
            give = hi - h < room[i] ? hi - h : room[i];
        if (give > left)
            give = left;
        left -= give;
        dispatch_upto(p, i, give);
    }
}

void mp__on_rate(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    p->rate_armed = 0;
    dispatch_all(p);
}

/* ---- stopping a call -------------------------------------------------- */

/* Ends the tasks in the ledger whose key matches ((key & mask) == match)
   with status and why: queued ones are dropped, those at workers become
   orphans, and their workers are told to cancel them. */
static void drop_owned(mp_pool *p, size_t mask, size_t match, int status,
                       const char *why)
{
    size_t key;
    while (mp__ledger_drop_queued(&p->L, mask, match, &key))
        deliver(p, key, status, NULL, 0, why);
    for (int i = 0; i < p->nworkers; i++) {
        uint32_t cur = mp__ledger_first(&p->L, i);
        while (mp__ledger_orphan_next(&p->L, &cur, mask, match, &key))
            deliver(p, key, status, NULL, 0, why);
        tell_cancels(p, i);
    }
}

/* Ends the call with status and everything it still holds: queued tasks,
   unread map inputs, and tasks at workers (their late results are dropped:
   the entries become orphans and the workers are told to cancel them).
   Those tasks get MP_ECANCELED for a cancel and MP_EABORTED for anything
   else: a failure of the pool or of the call is never a task's own. */
static void abort_call(mp_pool *p, int status, const char *why)
{
    mp__call *c = p->call;
    if (!c || c->status)
        return;
    c->status = status;
    c->input_done = 1;
    if (!why)
        why = mp_strerror(status);
    status = status == MP_ECANCELED ? MP_ECANCELED : MP_EABORTED;
    drop_owned(p, 1, 1, status, why); /* the call's: odd keys */
    while (!c->imap && c->pulled < c->n)
        deliver(p, MP__CALL_KEY(c->pulled++), status, NULL, 0, why);
}

void mp__end_futures(mp_pool *p, int status, const char *why)
{
    drop_owned(p, 1, 0, status, why); /* futures': even keys */
    mp__futs_end_queued(&p->F, status, why);
}

/* Returns 1 when a call or a future waits for results. */
static int busy(const mp_pool *p)
{
    return p->call || p->F.nqueued || p->F.nrunning;
}

/* The pool cannot go on (status says why): ends the call and every
   future. */
static void fail_all(mp_pool *p, int status, const char *why)
{
    abort_call(p, status, why);
    mp__end_futures(p, MP_EABORTED, why);
}

void mp__on_cancel(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    uint64_t v;
    if (read(p->cancel_fd, &v, sizeof(v)) < 0) {
    }
    if (p->call && atomic_exchange(&p->cancel_flag, 0))
        abort_call(p, MP_ECANCELED, "canceled by mp_pool_cancel");
}

/* ---- futures (future.c holds them; the pool's calls on them) ---------- */

int mp_pool_submit(mp_pool *p, mp_task_fn fn, const void *in, size_t len,
                   mp_future **out)
{
    return p ? mp__futs_submit(&p->F, fn, in, len, out) : MP_EINVAL;
}

int mp_pool_cancel_futures(mp_pool *p)
{
    if (!p)
        return MP_EINVAL;
    size_t n = p->F.nqueued + p->F.nrunning;
    mp__end_futures(p, MP_ECANCELED, "canceled by mp_pool_cancel_futures");
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int mp_pool_on_drained(mp_pool *p, mp_drained_fn cb, void *ud)
{
    if (!p)
        return MP_EINVAL;
    mp__futs_on_drained(&p->F, cb, ud);
    return 0;
}

int mp_pool_drain(mp_pool *p, unsigned timeout_ms)
{
    if (!p || p->call)
        return MP_EINVAL;
    return mp__futs_drain(&p->F, timeout_ms);
}

void mp_pool_cancel(mp_pool *p)
{
    if (!p)
        return;
    int saved = errno;
    uint64_t one = 1;
    atomic_store(&p->cancel_flag, 1);
    if (write(p->cancel_fd, &one, sizeof(one)) < 0) {
    }
    errno = saved;
}

/* ---- slot lifecycle --------------------------------------------------- */

/* Starts a new worker in dead slot i. Returns 0 or an error (the slot stays
   dead). */
int mp__start_slot(mp_pool *p, int i)
{
    mp__life *w = &p->life[i];
    mp__ledger_holder_reset(&p->L, i);
    w->got_result = w->exit_sent = w->broken = 0;
    w->parked_tasks = 0;
    int rc = mp__slot_spawn(&p->S, i);
    if (rc < 0)
        return rc;
    w->state = MP__S_STARTING;
    p->stats.workers_started++;
    return 0;
}

static void start_failed(mp_pool *p, int i);

/* The respawn timer of a slot (arg: its mp__life) fired. */
void mp__on_respawn(int fd, short what, void *arg)
{
    mp__life *w = arg;
    mp_pool *p = w->pool;
    if (w->state != MP__S_DEAD)
        return;
    if (mp__start_slot(p, w->index) < 0)
        start_failed(p, w->index);
}

/* Returns 1 when every slot failed to start MP_MAX_FAILS times in a row. */
static int nobody_can_live(mp_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        if (p->life[i].fails < MP_MAX_FAILS)
            return 0;
    return 1;
}

/* Respawns slot i now, or after a back-off when it keeps dying young. */
static void schedule_respawn(mp_pool *p, int i)
{
    mp__life *w = &p->life[i];
    unsigned ms = w->fails <= 1 ? 0 : 10u << (w->fails < 8 ? w->fails : 8);
    if (ms > 1000)
        ms = 1000;
    if (ms == 0) {
        if (mp__start_slot(p, i) < 0)
            start_failed(p, i);
        return;
    }
    struct timeval tv = mp__ms_tv(ms);
    event_add(w->respawn, &tv);
}

/* Slot i could not even be started (no socket, no forkserver): counts it
   as a failed start, ends the call when no slot can start any more, and
   otherwise tries again after the back-off, so that no slot stays dead
   without a timer. */
static void start_failed(mp_pool *p, int i)
{
    p->life[i].fails++;
    if (busy(p) && nobody_can_live(p)) {
        fail_all(p, MP_EWORKER, "no worker could be kept alive");
        return;
    }
    schedule_respawn(p, i);
}

/* Hook: slot i's worker is gone. Its tasks go back to the queues or end
   (the ledger decides), the slot is respawned. */
static void on_exited(void *ud, int i, int status, uint32_t spin_task)
{
    mp_pool *p = ud;
    mp__life *w = &p->life[i];
    char how[96];
    mp__describe_exit(status, how, sizeof(how));
    int retired = w->state == MP__S_RETIRING && w->exit_sent &&
                  WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (w->state == MP__S_KILLED && !w->broken && spin_task == MP__NO_TASK)
        spin_task = MP__BLAMELESS; /* we killed it for a failed send */
    if (p->creating && !retired)
        mp__create_failed(p, MP_EWORKER, "worker %d %s before it was ready", i,
                      how);
    w->state = MP__S_DEAD;
    mp__verdict v;
    while (mp__ledger_reap(&p->L, i, spin_task, &v))
        deliver_verdict(p, &v, how);
    if (retired) {
        p->stats.workers_recycled++;
    } else {
        if (p->adaptive) /* a death re-runs what it held: hold less */
            mp__ledger_narrow(&p->L);
        p->stats.workers_died++;
        if (!w->got_result)
            w->fails++;
    }
    if (p->creating)
        return;
    if (busy(p) && nobody_can_live(p)) {
        fail_all(p, MP_EWORKER, "no worker could be kept alive");
        return;
    }
    schedule_respawn(p, i);
    dispatch_all(p);
}

/* Hook: the pool forkserver died and took every worker with it. When a
   new one replaced it, a loss is counted against each task they held (a
   task that kills the forkserver every time is isolated, alone in the
   pool, and ends MP_EWORKER, as one that kills its worker does; see
   mp__ledger_lose), and the others go back to the queues; without a new
   one, they just go back. Each slot counts a failed start if its worker
   never answered
   (so a forkserver that keeps dying ends in "no worker could be kept
   alive") and is respawned through the new forkserver; without one, the
   call ends with MP_ENOFORK. */
static void on_lost(void *ud, int replaced)
{
    mp_pool *p = ud;
    if (p->creating) {
        mp__create_failed(p, MP_ESYS, "the pool forkserver died");
        return;
    }
    mp__verdict v;
    for (int i = 0; i < p->nworkers; i++) {
        mp__life *w = &p->life[i];
        if (w->state == MP__S_DEAD)
            continue;
        if (!replaced)
            mp__ledger_return(&p->L, i);
        while (replaced && mp__ledger_lose(&p->L, i, &v))
            deliver_verdict(p, &v, "");
        w->state = MP__S_DEAD;
        p->stats.workers_died++;
        if (!w->got_result)
            w->fails++;
    }
    if (!replaced) {
        fail_all(p, MP_ENOFORK, "the pool forkserver died and no new one "
                 "could be started");
        return;
    }
    if (busy(p) && nobody_can_live(p)) {
        fail_all(p, MP_EWORKER, "no worker could be kept alive");
        return;
    }
    for (int i = 0; i < p->nworkers; i++)
        if (p->life[i].state == MP__S_DEAD &&
            !evtimer_pending(p->life[i].respawn, NULL))
            schedule_respawn(p, i);
    dispatch_all(p);
}

/* Hook: slot i's worker answered READY. A failed init kills it (it waits
   to be told; its exit is a death). */
static void on_ready(void *ud, int i, int status, const char *msg)
{
    mp_pool *p = ud;
    mp__life *w = &p->life[i];
    if (w->state != MP__S_STARTING)
        return;
    if (status != 0) {
        if (p->creating)
            mp__create_failed(p, MP_EINIT, "worker %d: init failed: %s", i,
                          msg ? msg : mp_strerror(status));
        mp__slot_kill(&p->S, i);
        return;
    }
    w->state = MP__S_READY;
    p->ready++;
    dispatch_all(p);
}

/* Hook: slot i's worker sent a malformed message. It is a fault of that
   worker, like a crash: it is killed, and its death counts against the
   tasks it held (a task that makes its worker garble its results every
   time ends MP_EWORKER, as one that kills it does); what else it sends
   until then is dropped (those tasks run again). */
static void on_broken(void *ud, int i)
{
    mp_pool *p = ud;
    mp__life *w = &p->life[i];
    if (w->broken || w->state == MP__S_DEAD)
        return;
    w->broken = 1;
    if (w->state != MP__S_KILLED) {
        w->state = MP__S_KILLED;
        mp__slot_kill(&p->S, i);
    }
}

/* Hook: takes the results of one RESULTS message from slot i, once every
   record has been checked (a malformed message is refused whole). */
static void on_results(void *ud, int i, const mp__hdr *h, mp__reader *r)
{
    mp_pool *p = ud;
    mp__life *w = &p->life[i];
    mp__result_view v;
    if (mp__check_results(r) < 0)
        on_broken(p, i);
    if (w->broken)
        return;
    if (h->arg > p->stats.worker_max_held)
        p->stats.worker_max_held = h->arg;
    while (mp__read_result(r, &v) == 1) {
        size_t index;
        int what = mp__ledger_result(&p->L, i, v.id, &index);
        if (what == MP__R_STRAY)
            continue;
        w->got_result = 1;
        w->fails = 0;
        if (what == MP__R_DELIVER)
            deliver(p, index, v.status, v.data, v.len, v.error);
    }
    /* Its coroutines ran dry while tasks waited here: the window is
       smaller than what a round trip takes at this task rate. */
    if (p->adaptive && mp__ledger_held(&p->L, i) < p->L.concurrency &&
        (pending(p, 1) || call_open(p)) && !p->L.retry.n &&
        !p->L.solo.n && !p->L.alone.n) /* not while re-runs wait */
        mp__ledger_widen(&p->L);
}

/* Hook: slot i's messages are all read: retire it if it is done, refill
   every worker. */
static void on_drained(void *ud, int i)
{
    mp_pool *p = ud;
    retire(p, i);
    dispatch_all(p);
}

/* Hook: slot i's parked message went out (rc 0): it can take more; or it
   failed (rc < 0): its tasks go back to the queue. */
static void on_writable(void *ud, int i, int rc)
{
    mp_pool *p = ud;
    mp__life *w = &p->life[i];
    uint32_t k = w->parked_tasks;
    w->parked_tasks = 0;
    if (rc < 0) {
        send_failed(p, i, k);
        return;
    }
    tell_cancels(p, i);
    if (w->state == MP__S_READY)
        dispatch_all(p);
}

const mp__slot_hooks mp__pool_hooks = {
    .ready = on_ready,
    .results = on_results,
    .broken = on_broken,
    .drained = on_drained,
    .writable = on_writable,
    .exited = on_exited,
    .lost = on_lost,
};

/* ---- running a call --------------------------------------------------- */

#define NO_FORKSERVER \
    "the pool forkserver died and no new one could be started"

/* New work after the pool gave up: a new forkserver if the old one died,
   new tries for the slots that stopped trying. Returns 0 or MP_ENOFORK. */
static int revive(mp_pool *p)
{
    if (mp__slots_new_forkserver(&p->S) < 0)
        return MP_ENOFORK;
    for (int i = 0; i < p->nworkers; i++) {
        mp__life *w = &p->life[i];
        if (w->state != MP__S_DEAD || evtimer_pending(w->respawn, NULL))
            continue;
        if (w->fails >= MP_MAX_FAILS)
            w->fails = MP_MAX_FAILS - 1;
        mp__on_respawn(-1, 0, w);
    }
    return 0;
}

/* The kick event (futures submitted or canceled): revives the pool for
   queued futures, tells workers about cancels, dispatches. */
void mp__on_kick(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    if (p->F.nqueued && revive(p) < 0) {
        mp__end_futures(p, MP_EABORTED, NO_FORKSERVER);
        return;
    }
    dispatch_all(p);
}

/* The loop's question (loop.h) while the call runs: is it over? It is
   when every input pulled has its result and no more input will come.
   Before the first pass it dispatches; after a pass, an imap input that
   paused (MP_EAGAIN) is asked again once results came; paused with nothing
   in flight, it is asked again at once, and a second pause ends the call
   with MP_EAGAIN. */
static int call_over(void *arg, int first)
{
    mp_pool *p = arg;
    mp__call *c = p->call;
    if (first) {
        if (p->adaptive)
            mp__ledger_narrow(&p->L);
        dispatch_all(p);
    } else if (c->input_paused && c->delivered) {
        c->input_paused = 0;
        dispatch_all(p);
    }
    if (c->input_done && c->delivered == c->pulled)
        return 1;
    if (!c->input_paused || c->delivered != c->pulled)
        return 0;
    c->input_paused = 0; /* nothing in flight to wait for */
    dispatch_all(p);
    if (c->input_paused && c->delivered == c->pulled) {
        abort_call(p, MP_EAGAIN, "input paused with nothing in flight");
        return 1;
    }
    return c->input_done && c->delivered == c->pulled;
}

/* Runs the loop until the call is over. Returns the call's status. */
static int run_call(mp_pool *p, mp__call *c)
{
    p->call = c;
    /* a cancel of an idle pool is spent: it never stops this call */
    atomic_store(&p->cancel_flag, 0);
    if (!c->status && revive(p) < 0) /* fails fast */
        abort_call(p, MP_ENOFORK, NO_FORKSERVER);
    if (mp__loop_run(&p->loop, call_over, p, 0) < 0)
        abort_call(p, MP_ESYS, "event_base_loop failed");
    mp__rb_seal(&p->rb); /* out[]'s pieces may be released from now on */
    p->call = NULL;
    return c->status;
}

int mp_pool_map(mp_pool *p, mp_task_fn fn, const mp_buf *in, size_t n,
                mp_result *out)
{
    if (!p || !fn || (n && (!in || !out)) || p->call || p->loop.driving)
        return MP_EINVAL;
    if (p->loop.attached)
        return MP_EATTACHED;
    if (p->F.closed)
        return MP_ECLOSED;
    for (size_t i = 0; i < n; i++) {
        if (!in[i].data && in[i].len)
            return MP_EINVAL;
        if (in[i].len > MP_MAX_PAYLOAD)
            return MP_E2BIG;
    }
    if (n == 0)
        return 0;
    mp__call c = {.fn = fn, .in = in, .n = n, .out = out};
    return run_call(p, &c);
}

int mp_pool_imap(mp_pool *p, mp_task_fn fn, mp_next_fn next,
                 mp_result_fn on_result, void *ud)
{
    if (!p || !fn || !next || !on_result || p->call || p->loop.driving)
        return MP_EINVAL;
    if (p->loop.attached)
        return MP_EATTACHED;
    if (p->F.closed)
        return MP_ECLOSED;
    mp__call c = {.imap = 1, .fn = fn, .next = next,
                  .on_result = on_result, .ud = ud};
    return run_call(p, &c);
}

int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *in, size_t len,
                  mp_result *out)
{
    if (!out)
        return MP_EINVAL;
    mp_buf b = {in, len};
    return mp_pool_map(p, fn, &b, 1, out);
}

