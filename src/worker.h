/*
 * Worker-side internals shared by the layers that run inside a worker
 * (worker.c owns the loop and the coroutines; http.c drives curl on it).
 */
#ifndef MP_WORKER_H
#define MP_WORKER_H

#include "mpool.h"

struct event_base;

/* The running worker's event loop; NULL outside a worker. */
struct event_base *mp__worker_base(void);

/*
 * Undoes what an await registered (removes its event, its curl handle)
 * without waking the task. Called by the worker when the task's deadline
 * passes or the task is canceled while suspended.
 */
typedef void (*mp__cancel_fn)(mp_task *t, void *arg);

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

/* Worker process entry, run in the child the forkserver forked. Never
   returns. */
void mp__worker_main(const char *endpoint, int slot) __attribute__((noreturn));

#endif
