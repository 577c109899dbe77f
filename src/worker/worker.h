/*
 * Worker-side internals shared by the layers that run inside a worker
 * (worker.c owns the loop and the coroutines; http_curl.c drives curl on it).
 */
#ifndef MP_WORKER_H
#define MP_WORKER_H

#include <event2/event_struct.h>
#include <stdint.h>

#include "common/list.h"
#include "worker/coro.h"
#include "worker/kin.h"
#include "mpool.h"

#define MP__PRIO_TASK 1 /* libevent priority of a task's own events */

struct event_base;
struct mp__inmsg;

/*
 * Undoes what an await registered (removes its event, its curl handle)
 * without waking the task. Called by the worker when the task's deadline
 * passes or the task is canceled while suspended.
 */
typedef void (*mp__cancel_fn)(mp_task *t, void *arg);

/*
 * A task as the worker runs it: one the coordinator sent (top-level), or a
 * child started by mp_spawn / mp_gather inside another task. Allocated,
 * filled and recycled by worker.c; kin (kin.h) is spawn.c's.
 */
struct mp_task {
    mp__coro *co;
    struct event ev;       /* the current await's event */
    struct event deadline; /* task_timeout_ms (top-level tasks only) */
    mp_task *next;         /* free list or ready queue */
    mp__list_node active;  /* on the worker's top-level tasks running */
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
    mp__kin kin; /* its children, or its handle as a child (spawn.c) */
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

/* Returns a clean task with a coroutine that runs fn(in, len) as
   parent's child: it carries parent's task id and deadline, and is timed
   out or canceled if parent is. NULL when memory runs out. The caller
   sets its kin and schedules it. */
mp_task *mp__task_child(mp_task *parent, mp_task_fn fn, const void *in,
                        size_t len);

/* Moves what the finished child t produced into out: status, t's data
   buffer when it holds bytes, and msg (NULL: none), taken when it is t's
   own error message, else copied. */
void mp__task_take_result(mp_task *t, int status, const char *msg,
                          mp_result *out);

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

/* This worker's concurrency (tasks at once), or 0 outside a worker. */
unsigned mp__worker_concurrency(void);

/* Worker process entry, run in the child the forkserver forked. Never
   returns. */
void mp__worker_main(const char *endpoint, int slot) __attribute__((noreturn));

#endif
