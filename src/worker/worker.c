/*
 * A worker process: one libevent loop, tasks as coroutines, batches in and
 * out over one nanomsg PAIR. Everything here runs in the worker, which is a
 * fork of the pool forkserver, itself a fork of the caller's image.
 *
 * Scheduling: a task runs on its coroutine until it awaits (mp_sleep,
 * mp_wait_fd, mp_http, mp_join, mp_gather) or returns. Wake-ups go through one ready
 * queue drained from the main context, so a coroutine is never resumed from
 * inside another coroutine or from inside a curl callback.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "worker/coro.h"
#include "wire/wire.h"
#include "worker/worker.h"

#define MP_SPIN_GRACE_MS 1000u /* CPU past the deadline before a kill */
#define MP_FLUSH_BYTES MP_BATCH_FILL
#define MP_FLUSH_WAIT_MS 5u /* the longest a result waits for company */
_Static_assert(MP_FLUSH_BYTES <= MP_BATCH_MAX, "a results batch fits MP_MAX_MSG");
_Static_assert(MP_READ == EV_READ && MP_WRITE == EV_WRITE,
               "mp_wait_fd passes MP_READ / MP_WRITE to libevent as they are");
#define PRIO_RECV 0
#define PRIO_TASK MP__PRIO_TASK
#define PRIO_FLUSH 2

/* A received TASKS message, freed when its last task is done. */
typedef struct mp__inmsg {
    void *buf;
    uint32_t refs;
} inmsg;

/* A task waiting for a coroutine. */
typedef struct queued {
    uint32_t id;
    uint32_t len;
    const void *data;
    mp_task_fn fn;
    inmsg *msg;
} queued;

static struct worker {
    struct event_base *base;
    mp__chan ch; /* to the coordinator */
    int slot, rfd, sfd;
    struct event *rev, *sev, *flush_ev, *flush_timer;
    pid_t coord_pid;         /* the coordinator, from CONFIG */
    int coord_fd;            /* its pidfd (readable once it exits), or -1 */
    struct event *coord_ev;  /* on coord_fd, or a 1 s timer without it */
    uint32_t concurrency, timeout_ms;
    const void *arg; /* the pool argument (mp_pool_arg), in CONFIG */
    size_t arg_len;
    unsigned http_share; /* of the pool's http_max_connections */
    size_t stack_size;
    queued *q; /* ring of tasks not started */
    size_t q_head, q_len, q_cap; /* q_cap: a power of 2 */
    uint64_t max_held; /* most tasks held at once, queued + running */
    uint32_t running;
    mp_task *free_tasks, *ready_head, *ready_tail;
    mp__list active; /* top-level tasks running (mp_task.active) */
    int draining, flush_scheduled, flush_timed;
    mp__msg out; /* results being batched */
    char init_msg[1024]; /* mp_init_fail's message */
    timer_t watchdog;
    int watchdog_ok, watchdog_armed; /* ok: the timer exists */
    char spin_path[256];
    mp_task *volatile current; /* on CPU now, for the watchdog */
} W = {.slot = -1, .coord_fd = -1};

struct event_base *mp__worker_base(void)
{
    return W.base;
}

int mp_worker_slot(void)
{
    return W.slot;
}

unsigned mp__worker_http_share(void)
{
    return W.http_share;
}

unsigned mp__worker_concurrency(void)
{
    return W.concurrency;
}

const void *mp_pool_arg(size_t *len)
{
    if (len)
        *len = W.arg_len;
    return W.arg_len ? W.arg : NULL;
}

/* ---- the coordinator's life -------------------------------------------- */

/* Learns the coordinator's pid and opens a pidfd on it. Its pool
   forkserver takes the workers down when the coordinator dies, but only
   if it can (it may be stopped, or a fork of the coordinator may hold its
   channel open): a worker also watches for itself, so it never waits
   forever for a reader that is gone. */
static void watch_coordinator(pid_t pid)
{
    W.coord_pid = pid;
#ifdef SYS_pidfd_open
    if (pid > 0)
        W.coord_fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
}

/* Returns 1 when the coordinator has exited: its pidfd is readable, or,
   without one, kill(pid, 0) finds no such process. */
static int coordinator_gone(void)
{
    if (W.coord_fd >= 0) {
        struct pollfd pf = {W.coord_fd, POLLIN, 0};
        return poll(&pf, 1, 0) > 0;
    }
    return W.coord_pid > 0 && kill(W.coord_pid, 0) < 0 && errno == ESRCH;
}

/* The coordinator's pidfd became readable, or the timer that stands in
   for it fired: a worker whose coordinator is gone leaves. */
static void on_coordinator(evutil_socket_t fd, short what, void *arg)
{
    if (coordinator_gone())
        _exit(1);
}

/* ---- results out ------------------------------------------------------ */

/* Sends what is batched, or parks it until the socket is writable. */
static void flush(void)
{
    if (mp__chan_parked(&W.ch) || !W.out.buf || W.out.count == 0)
        return;
    if (W.flush_timed)
        event_del(W.flush_timer);
    W.flush_timed = 0;
    mp__msg_set_arg(&W.out, W.max_held);
    if (mp__chan_send(&W.ch, &W.out) < 0)
        _exit(1); /* the coordinator is gone */
}

/* The loop ran out of other work with results batched: sends them when
   the coordinator should hear now, else waits for more, at most
   MP_FLUSH_WAIT_MS. Now: no task waits for a coroutine (credit is what
   the worker needs), or the batch holds a quarter of the most tasks this
   worker held, the credit the coordinator waits for before it sends more
   (ledger.c's room rule: a busy worker gets batches of a quarter). Every
   message costs both processes a wake-up of nanomsg's thread and a few
   system calls, so a busy worker sends a few big batches, not one per
   loop turn. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    uint64_t enough = W.max_held / 4 ? W.max_held / 4 : 1;
    W.flush_scheduled = 0;
    if (!W.out.buf || W.out.count == 0)
        return;
    if (W.q_len == 0 || W.out.count >= enough) {
        flush();
    } else if (!W.flush_timed) {
        struct timeval tv = mp__ms_tv(MP_FLUSH_WAIT_MS);
        W.flush_timed = event_add(W.flush_timer, &tv) == 0;
        if (!W.flush_timed)
            flush();
    }
}

static void on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
    W.flush_timed = 0;
    flush();
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    int rc = mp__chan_flush(&W.ch, 0);
    if (rc == MP_EAGAIN)
        return;
    if (rc < 0)
        _exit(1);
    flush();
}

/* Waits until the parked message has gone out (the coordinator drains
   all the time), or exits when the coordinator is gone: it is checked
   whenever the socket or the coordinator's pidfd wakes the wait, and at
   least once a second. */
static void wait_parked(void)
{
    for (;;) {
        int rc = mp__chan_flush(&W.ch, 0);
        if (rc == 0)
            return;
        if (rc != MP_EAGAIN || coordinator_gone())
            _exit(1);
        struct pollfd pf[2] = {{W.sfd, POLLIN, 0}, {W.coord_fd, POLLIN, 0}};
        if (poll(pf, W.coord_fd >= 0 ? 2 : 1, 1000) < 0 && errno != EINTR)
            _exit(1);
    }
}

/* Appends a result to the outgoing batch; sends when it is big, otherwise
   when the loop runs out of other work (the flush event has the lowest
   priority; on_flush decides). A batch never grows past MP_FLUSH_BYTES
   plus one record: when it is full and the previous one still waits for the socket, the
   worker waits for the socket (wait_parked), so memory and message sizes
   stay bounded (MP_MAX_MSG; mp__msg_put_result cuts a message at
   MP_MAX_ERROR). */
static void emit(uint32_t id, int status, const void *data, size_t len,
                 const char *err)
{
    if (W.out.buf && W.out.len >= MP_FLUSH_BYTES) {
        wait_parked();
        flush();
    }
    if (!W.out.buf && mp__msg_begin(&W.out, MP_MSG_RESULTS, 0, MP_BATCH_HINT))
        _exit(1);
    if (mp__msg_put_result(&W.out, id, status, data, (uint32_t)len, err))
        _exit(1);
    if (W.out.len >= MP_FLUSH_BYTES)
        flush();
    else if (!W.flush_scheduled) {
        W.flush_scheduled = 1;
        event_active(W.flush_ev, EV_TIMEOUT, 1);
    }
}

static void release_msg(inmsg *m)
{
    if (m && --m->refs == 0) {
        nn_freemsg(m->buf);
        free(m);
    }
}

/* ---- the spin watchdog ------------------------------------------------ */

/* SIGALRM while tasks run: a task still on the CPU past its deadline plus
   the grace period can't be woken, so the worker names it in a file beside
   its endpoint and exits; the coordinator reports that task MP_ETIMEDOUT
   and re-runs the others. Async-signal-safe. */
static void on_alarm(int sig)
{
    mp_task *t = W.current;
    if (!t || !t->deadline_ns)
        return;
    if (mp__now_ns() < t->deadline_ns + MP_SPIN_GRACE_MS * 1000000ull)
        return;
    mp__spin_note_write(W.spin_path, t->id);
    _exit(MP_EXIT_SPIN);
}

static void watchdog_arm(int on)
{
    if (!W.watchdog_ok || W.watchdog_armed == on)
        return;
    struct itimerspec its = {0};
    if (on) {
        its.it_interval.tv_nsec = 100 * 1000000;
        its.it_value = its.it_interval;
    }
    timer_settime(W.watchdog, 0, &its, NULL);
    W.watchdog_armed = on;
}

/* ---- tasks ------------------------------------------------------------ */

static void task_body(void *arg);

mp_task *mp__task_current(void)
{
    return W.current;
}

/* Returns a task from the free list or a new one, or NULL (no memory). */
static mp_task *task_alloc(void)
{
    mp_task *t = W.free_tasks;
    if (t) {
        W.free_tasks = t->next;
        return t;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->co = mp__coro_create(W.stack_size, task_body, t);
    if (!t->co) {
        free(t);
        return NULL;
    }
    mp__list_init(&t->kin.children);
    return t;
}

mp_task *mp__task_child(mp_task *parent, mp_task_fn fn, const void *in,
                        size_t len)
{
    mp_task *k = task_alloc();
    if (!k)
        return NULL;
    k->fn = fn;
    k->in = in;
    k->in_len = len;
    k->id = parent->id;
    k->deadline_ns = parent->deadline_ns;
    k->timed_out = parent->timed_out;
    k->canceled = parent->canceled;
    return k;
}

void mp__task_take_result(mp_task *t, int status, const char *msg,
                          mp_result *out)
{
    out->status = status;
    if (t->len) { /* the task's buffer becomes the result's */
        out->data = t->data;
        out->len = t->len;
        t->data = NULL;
        t->len = t->cap = 0;
    }
    if (msg && msg == t->error) {
        out->error = t->error;
        t->error = NULL;
    } else if (msg) {
        out->error = strdup(msg);
    }
}

/* Clears the per-run state of t (keeps its coroutine and buffer). */
static void task_reset(mp_task *t)
{
    free(t->error);
    t->error = NULL;
    t->rc = t->failed = t->status = 0;
    t->len = 0;
    t->suspended = t->wake_code = t->done = 0;
    t->timed_out = t->canceled = 0;
    t->cancel = NULL;
    t->kin.ops = NULL; /* its children list is empty again */
    t->kin.handle = NULL;
    t->msg = NULL;
    t->deadline_ns = 0;
}

void mp__task_schedule(mp_task *t)
{
    t->next = NULL;
    if (W.ready_tail)
        W.ready_tail->next = t;
    else
        W.ready_head = t;
    W.ready_tail = t;
}

static int task_chain(mp_task *t);

/* The coroutine of every task: runs one task per resume cycle, forever;
   a task that succeeded may hand its coroutine to the next queued task
   at once (task_chain). */
static void task_body(void *arg)
{
    mp_task *t = arg;
    for (;;) {
        t->rc = t->fn(t, t->in, t->in_len);
        t->done = 1;
        if (!task_chain(t))
            mp__coro_yield(t->co);
    }
}

/* Decides the status of a finished task. */
static int final_status(mp_task *t)
{
    if (t->timed_out)
        return MP_ETIMEDOUT;
    if (t->canceled)
        return MP_ECANCELED;
    if (t->failed)
        return t->status;
    return t->rc < 0 ? t->rc : t->rc > 0 ? MP_ETASK : 0;
}

static const char *final_message(mp_task *t, int status, char *buf,
                                 size_t n)
{
    if (t->timed_out && !t->kin.handle) {
        snprintf(buf, n, "task timed out after %u ms", W.timeout_ms);
        return buf;
    }
    if (t->canceled && !t->error)
        return "task canceled";
    if (t->error || status == 0)
        return t->error;
    if (!t->failed && t->rc > 0) { /* a bug worth naming, not success */
        snprintf(buf, n, "task returned %d: a task returns 0 or a "
                 "negative MP_E* code", t->rc);
        return buf;
    }
    return mp_strerror(status); /* a bare code: its sentence */
}

/* Emits the result of a task that returned and recycles the task. */
static void task_finish(mp_task *t)
{
    int status = final_status(t);
    char buf[96];
    const char *msg = final_message(t, status, buf, sizeof(buf));
    if (t->kin.ops)
        t->kin.ops->drop(t);
    if (t->kin.handle) {
        t->kin.ops->done(t, status, msg);
    } else {
        emit(t->id, status, t->len ? t->data : NULL, t->len, msg);
        release_msg(t->msg);
        if (t->deadline_armed)
            event_del(&t->deadline);
        t->deadline_armed = 0;
        mp__list_remove(&t->active);
        if (--W.running == 0)
            watchdog_arm(0);
    }
    task_reset(t);
    t->next = W.free_tasks;
    W.free_tasks = t;
}

/* Resumes t on its coroutine until it awaits or returns. */
static void task_run(mp_task *t)
{
    W.current = t;
    mp__coro_resume(t->co);
    W.current = NULL;
    if (t->done)
        task_finish(t);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg);

/* Takes the oldest queued task into *e, passing over those canceled
   while queued (answered already). Returns 1, or 0 when none is left. */
static int pop_queued(queued *e)
{
    while (W.q_len) {
        *e = W.q[W.q_head];
        W.q_head = (W.q_head + 1) & (W.q_cap - 1);
        W.q_len--;
        if (e->fn)
            return 1;
        release_msg(e->msg);
    }
    return 0;
}

/* Gives t, clean, the queued task e: it is running from now on (active,
   its deadline armed). */
static void task_begin(mp_task *t, const queued *e)
{
    t->fn = e->fn;
    t->in = e->data;
    t->in_len = e->len;
    t->id = e->id;
    t->msg = e->msg;
    mp__list_push_front(&W.active, &t->active);
    if (W.timeout_ms) {
        struct timeval tv = mp__ms_tv(W.timeout_ms);
        t->deadline_ns = mp__now_ns() + W.timeout_ms * 1000000ull;
        evtimer_assign(&t->deadline, W.base, on_deadline, t);
        evtimer_add(&t->deadline, &tv);
        t->deadline_armed = 1;
    }
    if (W.running++ == 0)
        watchdog_arm(1);
}

/* Starts the oldest queued task, if a coroutine is free, and runs it
   until it awaits or ends. Returns 1 if it did. */
static int start_one(void)
{
    queued e;
    if (W.running >= W.concurrency || !pop_queued(&e))
        return 0;
    mp_task *t = task_alloc();
    if (!t)
        _exit(1);
    task_begin(t, &e);
    task_run(t);
    return 1;
}

/* Runs t's coroutine on, in t's coroutine: t, a top-level task, has just
   succeeded; when no woken task waits to run and its record fits in the
   results batch as it is (nothing to send, nothing to allocate: the
   coroutine's stack may be small), its result is emitted here and t takes
   the next queued task, which saves the two switches to the loop and
   back. Returns 1 when t has a new task to run, 0 to finish as usual. */
static int task_chain(mp_task *t)
{
    size_t need = MP_ALIGN8(sizeof(mp__result_rec) + t->len);
    queued e;
    if (t->kin.handle || t->kin.ops || t->failed || t->rc || t->timed_out ||
        t->canceled || W.ready_head || !W.out.buf ||
        W.out.len + need > W.out.cap || W.out.len + need >= MP_FLUSH_BYTES ||
        !pop_queued(&e))
        return 0;
    emit(t->id, 0, t->len ? t->data : NULL, t->len, NULL);
    release_msg(t->msg);
    if (t->deadline_armed)
        event_del(&t->deadline);
    t->deadline_armed = 0;
    mp__list_remove(&t->active);
    W.running--; /* and up again at once: the watchdog stays armed */
    task_reset(t);
    task_begin(t, &e);
    return 1;
}

/* Runs woken tasks first, then starts queued ones, until neither is left.
   Not reentrant: a nested call (a wake inside a wake) only queues. */
static void drain(void)
{
    if (W.draining)
        return;
    W.draining = 1;
    for (;;) {
        mp_task *t = W.ready_head;
        if (!t) {
            if (!start_one())
                break;
            continue;
        }
        W.ready_head = t->next;
        if (!W.ready_head)
            W.ready_tail = NULL;
        task_run(t);
    }
    W.draining = 0;
}

void mp__task_abort(mp_task *t, int code)
{
    if (code == MP_ETIMEDOUT)
        t->timed_out = 1;
    else
        t->canceled = 1;
    if (t->kin.ops)
        t->kin.ops->abort(t, code);
    if (!t->suspended)
        return;
    if (t->cancel)
        t->cancel(t, t->cancel_arg);
    t->cancel = NULL;
    t->suspended = 0;
    t->wake_code = code;
    mp__task_schedule(t);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    mp_task *t = arg;
    t->deadline_armed = 0;
    mp__task_abort(t, MP_ETIMEDOUT);
    drain();
}

int mp__task_suspend(mp_task *t, mp__cancel_fn cancel, void *arg)
{
    if (t->timed_out)
        return MP_ETIMEDOUT;
    if (t->canceled)
        return MP_ECANCELED;
    t->cancel = cancel;
    t->cancel_arg = arg;
    t->suspended = 1;
    mp__coro_yield(t->co);
    t->cancel = NULL;
    return t->wake_code;
}

void mp__task_wake(mp_task *t, int code)
{
    if (!t->suspended)
        return;
    t->suspended = 0;
    t->wake_code = code;
    mp__task_schedule(t);
    drain();
}

/* ---- awaits ----------------------------------------------------------- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    mp__task_wake(arg, 0);
}

static void on_fd(evutil_socket_t fd, short what, void *arg)
{
    int code = what & EV_TIMEOUT ? MP_ETIMEDOUT : what & (EV_READ | EV_WRITE);
    mp__task_wake(arg, code);
}

static void cancel_event(mp_task *t, void *arg)
{
    event_del(&t->ev);
}

int mp_sleep(mp_task *t, unsigned ms)
{
    if (!t)
        return MP_EINVAL;
    if (t->timed_out || t->canceled)
        return t->timed_out ? MP_ETIMEDOUT : MP_ECANCELED;
    /* libevent measures the timer from the loop's cached (and coarse)
       clock, so it can fire a millisecond or so early: sleep again for
       what is left, so that the task sleeps at least ms (Retry-After). */
    uint64_t end = mp__now_ns() + (uint64_t)ms * 1000000u, now;
    struct timeval tv = mp__ms_tv(ms);
    for (;;) {
        evtimer_assign(&t->ev, W.base, on_timer, t);
        event_priority_set(&t->ev, PRIO_TASK);
        evtimer_add(&t->ev, &tv);
        int rc = mp__task_suspend(t, cancel_event, NULL);
        if (rc != 0 || (now = mp__now_ns()) >= end)
            return rc;
        uint64_t us = (end - now + 999) / 1000;
        tv.tv_sec = (time_t)(us / 1000000);
        tv.tv_usec = (suseconds_t)(us % 1000000);
    }
}

int mp_wait_fd(mp_task *t, int fd, short what, unsigned timeout_ms)
{
    if (!t || fd < 0 || !(what & (MP_READ | MP_WRITE)))
        return MP_EINVAL;
    if (t->timed_out || t->canceled)
        return t->timed_out ? MP_ETIMEDOUT : MP_ECANCELED;
    struct timeval tv = mp__ms_tv(timeout_ms);
    event_assign(&t->ev, W.base, fd, what & (EV_READ | EV_WRITE), on_fd, t);
    event_priority_set(&t->ev, PRIO_TASK);
    event_add(&t->ev, timeout_ms ? &tv : NULL);
    return mp__task_suspend(t, cancel_event, NULL);
}

int mp_return(mp_task *t, const void *data, size_t len)
{
    if (!t || (!data && len))
        return MP_EINVAL;
    if (len > MP_MAX_PAYLOAD) /* fails the task, should it return 0 now */
        return mp_fail(t, MP_E2BIG, "result of %zu bytes is larger than "
                       "MP_MAX_PAYLOAD", len);
    if (len > t->cap) {
        char *d = realloc(t->data, len);
        if (!d)
            return MP_ENOMEM;
        t->data = d, t->cap = len;
    }
    if (len)
        memcpy(t->data, data, len);
    t->len = len;
    return 0;
}

int mp_fail(mp_task *t, int err, const char *fmt, ...)
{
    if (!t)
        return MP_EINVAL;
    t->failed = 1;
    t->status = err < 0 ? err : MP_ETASK;
    free(t->error);
    t->error = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&t->error, fmt, ap) < 0)
            t->error = NULL;
        va_end(ap);
    }
    return t->status;
}

/* ---- tasks in --------------------------------------------------------- */

static void queue_push(const queued *e)
{
    if (W.q_len == W.q_cap) {
        size_t cap = W.q_cap ? W.q_cap * 2 : 256;
        queued *q = malloc(cap * sizeof(*q));
        if (!q)
            _exit(1);
        for (size_t i = 0; i < W.q_len; i++)
            q[i] = W.q[(W.q_head + i) & (W.q_cap - 1)];
        free(W.q);
        W.q = q, W.q_cap = cap, W.q_head = 0;
    }
    W.q[(W.q_head + W.q_len) & (W.q_cap - 1)] = *e;
    W.q_len++;
}

/* Checks every record of a received message (task records: TASKS and
   CANCEL carry them) before any is used. A malformed message means the
   pipe or the coordinator is not what we think: the worker exits with
   MP_EXIT_PROTO, and the coordinator runs what it held again, as after
   any death, instead of waiting for tasks this worker never read. */
static void check_records(const mp__reader *r)
{
    if (mp__check_tasks(r) < 0)
        _exit(MP_EXIT_PROTO);
}

/* Queues the tasks of a TASKS message; the message lives until the last
   of them is done. */
static void take_tasks(void *buf, const mp__hdr *h, mp__reader *r)
{
    check_records(r);
    inmsg *m = malloc(sizeof(*m));
    if (!m)
        _exit(1);
    m->buf = buf;
    m->refs = 1; /* held while queueing */
    queued e = {.fn = (mp_task_fn)(uintptr_t)h->arg, .msg = m};
    while (mp__read_task(r, &e.id, &e.data, &e.len) == 1) {
        m->refs++;
        queue_push(&e);
    }
    if (W.q_len + W.running > W.max_held) /* reported with the results */
        W.max_held = W.q_len + W.running;
    release_msg(m);
}

/* MP_MSG_CANCEL: every queued task ends now, every running one is woken
   with MP_ECANCELED. */
static void cancel_all(void)
{
    while (W.q_len) {
        queued *e = &W.q[W.q_head];
        if (e->fn) /* not canceled (and answered) already */
            emit(e->id, MP_ECANCELED, NULL, 0, "task canceled");
        release_msg(e->msg);
        W.q_head = (W.q_head + 1) & (W.q_cap - 1);
        W.q_len--;
    }
    MP__LIST_EACH(n, &W.active)
        mp__task_abort(MP__LIST_ENTRY(n, mp_task, active), MP_ECANCELED);
}

/* MP_MSG_CANCEL with records: only the tasks named (by task records
   without data) end, if queued, or are woken with MP_ECANCELED, if
   running; ids not held here any more are ignored. A queued one is left in
   the queue as a tombstone (fn NULL), answered now. */
static void cancel_some(mp__reader *r)
{
    uint32_t id, len;
    const void *data;
    check_records(r);
    while (mp__read_task(r, &id, &data, &len) == 1) {
        for (size_t i = 0; i < W.q_len; i++) {
            queued *e = &W.q[(W.q_head + i) & (W.q_cap - 1)];
            if (e->id == id && e->fn) {
                emit(id, MP_ECANCELED, NULL, 0, "task canceled");
                e->fn = NULL;
            }
        }
        MP__LIST_EACH(n, &W.active) {
            mp_task *t = MP__LIST_ENTRY(n, mp_task, active);
            if (t->id == id)
                mp__task_abort(t, MP_ECANCELED);
        }
    }
}

/* Drains the socket: every message the coordinator sent. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    void *buf;
    int n;
    while ((n = mp__chan_recv(&W.ch, &buf, 0)) >= 0) {
        mp__hdr h;
        mp__reader r;
        if (mp__reader_init(&r, buf, (size_t)n, &h) < 0)
            _exit(MP_EXIT_PROTO);
        if (h.type == MP_MSG_TASKS) {
            take_tasks(buf, &h, &r);
            continue;
        }
        if (h.type == MP_MSG_CANCEL && h.count)
            cancel_some(&r);
        else if (h.type == MP_MSG_CANCEL)
            cancel_all();
        nn_freemsg(buf);
        if (h.type == MP_MSG_EXIT)
            _exit(0);
    }
    if (n != MP_EAGAIN)
        _exit(1);
    drain();
}

/* ---- start-up --------------------------------------------------------- */

int mp_init_fail(int err, const char *fmt, ...)
{
    W.init_msg[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(W.init_msg, sizeof(W.init_msg), fmt, ap);
        va_end(ap);
    }
    return err < 0 ? err : MP_EINIT;
}

/* Receives CONFIG, runs the pool's init and answers READY with the init's
   status and, when it failed, its message. Returns the init status. */
static int handshake(void)
{
    void *buf = NULL;
    int n = mp__chan_recv(&W.ch, &buf, 1);
    mp__config c;
    if (n < (int)(sizeof(mp__hdr) + sizeof(c)))
        _exit(2);
    memcpy(&c, (char *)buf + sizeof(mp__hdr), sizeof(c));
    if ((uint64_t)n < sizeof(mp__hdr) + sizeof(c) + c.init_len + c.arg_len)
        _exit(2);
    W.concurrency = c.concurrency;
    W.timeout_ms = c.task_timeout_ms;
    W.stack_size = c.stack_size;
    W.slot = (int)c.slot;
    watch_coordinator((pid_t)c.coordinator);
    /* the CONFIG message stays alive: the arguments point into it */
    W.arg = (char *)buf + sizeof(mp__hdr) + sizeof(c) + c.init_len;
    W.arg_len = (size_t)c.arg_len;
    int rc = 0;
    if (c.http_max && c.workers) /* this worker's share, 1 at least */
        W.http_share = c.http_max / c.workers +
                       (c.slot < c.http_max % c.workers);
    int (*init)(const void *, size_t) =
        (int (*)(const void *, size_t))(uintptr_t)c.init_fn;
    if (init)
        rc = init((char *)buf + sizeof(mp__hdr) + sizeof(c), c.init_len);
    char msg[sizeof(W.init_msg) + 64];
    if (rc && W.init_msg[0])
        snprintf(msg, sizeof(msg), "%s", W.init_msg);
    else if (rc)
        snprintf(msg, sizeof(msg), "the init function returned %d (%s)",
                 rc, mp_strerror(rc));
    else
        msg[0] = '\0';
    size_t ml = strlen(msg) + 1;
    mp__msg m;
    mp__ready rd = {.status = rc, .pid = getpid()};
    char *at;
    if (mp__msg_begin(&m, MP_MSG_READY, 0, sizeof(rd) + ml + 64) ||
        !(at = mp__msg_reserve(&m, sizeof(rd) + ml)))
        _exit(2);
    memcpy(at, &rd, sizeof(rd));
    memcpy(at + sizeof(rd), msg, ml);
    if (mp__msg_send(W.ch.sock, &m, 1) < 0)
        _exit(2);
    return rc;
}

/* Sets up the loop's events. */
static void setup_loop(void)
{
    /* Both nanomsg fds signal readiness as readable (nanomsg docs). */
    W.rev = event_new(W.base, W.rfd, EV_READ | EV_PERSIST, on_readable,
                      NULL);
    W.sev = event_new(W.base, W.sfd, EV_READ | EV_PERSIST, on_writable,
                      NULL);
    W.flush_ev = event_new(W.base, -1, 0, on_flush, NULL);
    W.flush_timer = evtimer_new(W.base, on_flush_timer, NULL);
    struct timeval second = {1, 0};
    W.coord_ev = W.coord_fd >= 0
                     ? event_new(W.base, W.coord_fd, EV_READ | EV_PERSIST,
                                 on_coordinator, NULL)
                     : event_new(W.base, -1, EV_PERSIST, on_coordinator, NULL);
    if (!W.rev || !W.sev || !W.flush_ev || !W.flush_timer || !W.coord_ev)
        _exit(2);
    event_add(W.coord_ev, W.coord_fd >= 0 ? NULL : &second);
    mp__chan_watch(&W.ch, W.sev);
    event_priority_set(W.rev, PRIO_RECV);
    event_priority_set(W.sev, PRIO_RECV);
    event_priority_set(W.flush_ev, PRIO_FLUSH);
    event_priority_set(W.flush_timer, PRIO_FLUSH);
    event_add(W.rev, NULL);
}

/* Sets up the spin watchdog (only when tasks have a deadline). */
static void setup_watchdog(const char *endpoint)
{
    mp__spin_note_path(endpoint, W.spin_path, sizeof(W.spin_path));
    if (!W.timeout_ms)
        return;
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL,
                           .sigev_signo = SIGALRM};
    /* Without the timer (e.g. RLIMIT_SIGPENDING reached) only a task
       spinning on the CPU escapes its deadline: the deadlines of tasks that
       await stay on the event loop. */
    W.watchdog_ok = timer_create(CLOCK_MONOTONIC, &sev, &W.watchdog) == 0;
}

void mp__ignore_stop_signals(void)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
}

void mp__worker_main(const char *endpoint, int slot)
{
    mp__ignore_stop_signals(); /* the coordinator decides about those */
    signal(SIGPIPE, SIG_IGN);
    W.slot = slot;
    mp__list_init(&W.active);
    int timeout = 30000; /* for the handshake's blocking calls */
    if (mp__chan_open(&W.ch, endpoint, 0, &W.rfd, &W.sfd) < 0 ||
        nn_setsockopt(W.ch.sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout,
                      sizeof(int)) < 0 ||
        nn_setsockopt(W.ch.sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout,
                      sizeof(int)) < 0)
        _exit(2);
    /* Before init: it may use the loop. The epoll changelist folds the
       del + add curl asks for around every keep-alive transfer into no
       epoll_ctl at all (curl never dup()s its sockets, the changelist's one
       caveat). */
    struct event_config *cfg = event_config_new();
    if (cfg)
        event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    W.base = cfg ? event_base_new_with_config(cfg) : NULL;
    if (cfg)
        event_config_free(cfg);
    if (!W.base || event_base_priority_init(W.base, 3) < 0)
        _exit(2);
    if (handshake() != 0) {
        void *buf; /* wait to be told or killed: nanomsg has no linger */
        for (;;)
            if (mp__chan_recv(&W.ch, &buf, 1) >= 0 || coordinator_gone())
                _exit(0);
    }
    setup_watchdog(endpoint);
    setup_loop();
    event_base_dispatch(W.base);
    _exit(0);
}
