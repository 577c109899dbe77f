/*
 * Worker-side internals shared by the layers that run inside a worker
 * (worker.c owns the loop and the coroutines; http_curl.c drives curl on it).
 */
#ifndef MP_WORKER_H
#define MP_WORKER_H

#include <event2/event_struct.h>
#include <stdint.h>

#include "worker/coro.h"
#include "mpool.h"

#define MP__PRIO_TASK 1 /* libevent priority of a task's own events */

struct event_base;
struct mp__inmsg;
typedef struct mp_child mp_child;

/*
 * Undoes what an await registered (removes its event, its curl handle)
 * without waking the task. Called by the worker when the task's deadline
 * passes or the task is canceled while suspended.
 */
typedef void (*mp__cancel_fn)(mp_task *t, void *arg);

/*
 * What a task's end and abort mean for its children. spawn.c points
 * t->kin at its table when t spawns a child or is one; worker.c calls
 * through it and never names spawn.c, so the dependency runs one way.
 *  drop(t):  t finished; cancel and orphan the children it did not join.
 *  done(t, status, msg): t is a child and finished; store its result in its
 *            handle (msg copied, unless it is t->error, which is taken) and
 *            wake a parent joining it.
 *  abort(t, code): t is timed out or canceled (code); so are its children.
 * All three run on the worker's loop or in a coroutine, and never block.
 */
typedef struct mp__kin_ops {
    void (*drop)(mp_task *t);
    void (*done)(mp_task *t, int status, const char *msg);
    void (*abort)(mp_task *t, int code);
} mp__kin_ops;

/*
 * A task as the worker runs it: one the coordinator sent (top-level), or a
 * child started by mp_spawn / mp_gather inside another task. Allocated and
 * recycled by worker.c; the child fields are spawn.c's.
 */
struct mp_task {
    mp__coro *co;
    struct event ev;       /* the current await's event */
    struct event deadline; /* task_timeout_ms (top-level tasks only) */
    mp_task *next;         /* free list or ready queue */
    mp_task *prev_active, *next_active; /* top-level tasks running */
    /* what runs */
    mp_task_fn fn;
    const void *in;
    size_t in_len;
    uint32_t id; /* a child carries its top-level task's id */
    struct mp__inmsg *msg;
    uint64_t deadline_ns;
    /* what it produced */
    int rc, failed, status;
    char *data;
    size_t len, cap;
    char *error;
    /* await state */
    int suspended, wake_code, done, timed_out, canceled, deadline_armed;
    mp__cancel_fn cancel;
    void *cancel_arg;
    /* children (spawn.c) */
    const mp__kin_ops *kin; /* NULL until it spawns or is spawned */
    mp_child *handle;   /* this task is a child: its handle; else NULL */
    mp_child *children; /* handles of its children not joined yet */
};

/* The running worker's event loop; NULL outside a worker. */
struct event_base *mp__worker_base(void);

/*
 * Suspends t until mp__task_wake(t, code). Must be called from t's own
 * coroutine. If t's deadline passes or t is canceled meanwhile, cancel(t,
 * arg) runs and the call returns MP_ETIMEDOUT / MP_ECANCELED. If t is
 * already past its deadline or canceled, returns that code at once without
 * suspending (cancel is not called). Returns the wake code.
 */
int mp__task_suspend(mp_task *t, mp__cancel_fn cancel, void *arg);

/*
 * Resumes t, suspended in mp__task_suspend, which then returns code. Call it
 * from the event loop (a libevent callback, or after curl_multi_socket_action
 * returned), never from a coroutine and never from inside a curl callback.
 * Returns when t suspends again or finishes.
 */
void mp__task_wake(mp_task *t, int code);

/* The task on the CPU now (inside its coroutine); NULL in the loop. */
mp_task *mp__task_current(void);

/* Returns a clean task with a coroutine, from the free list or new; NULL
   when memory runs out. The caller fills fn, in, id... and schedules it. */
mp_task *mp__task_alloc(void);

/* Appends t to the ready queue; it runs when the loop drains the queue
   (after the running coroutine yields). */
void mp__task_schedule(mp_task *t);

/*
 * Marks t timed out (code MP_ETIMEDOUT) or canceled (MP_ECANCELED), with
 * its children, and wakes it with code if it is suspended (undoing its
 * await). A task that is not suspended sees the flag at its next await.
 */
void mp__task_abort(mp_task *t, int code);

/* Ignores SIGINT, SIGTERM and SIGHUP. A terminal, timeout(1), systemd and
   Slurm signal the whole process group; only the coordinator decides what
   happens then, and forkservers and workers must outlive the signal so that
   no task they hold is lost. They still die with the coordinator (their
   channel closes; workers have PR_SET_PDEATHSIG). Forkservers call it too:
   it lives here because forkserver.c depends on worker.c, not back. */
void mp__ignore_stop_signals(void);

/* This worker's share of the pool's http_max_connections (0: none): the
   connection limit until mp_http_set_limits sets one (http_common.c). */
unsigned mp__worker_http_share(void);

/* Worker process entry, run in the child the forkserver forked. Never
   returns. */
void mp__worker_main(const char *endpoint, int slot) __attribute__((noreturn));

#endif
