/*
 * The contract between a worker's tasks (worker.c) and their children
 * (spawn.c): what a task's end and abort mean for its children, and the
 * state spawn.c keeps in each task (mp_task.kin). spawn.c points kin.ops at
 * its table when a task spawns a child or is one, and keeps the rest;
 * worker.c calls through kin.ops, never names spawn.c (the dependency runs
 * one way), and only clears kin when it recycles a task.
 */
#ifndef MP_WORKER_KIN_H
#define MP_WORKER_KIN_H

#include "common/list.h"
#include "mpool.h"

typedef struct mp_child mp_child;

/*
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

typedef struct mp__kin {
    const mp__kin_ops *ops; /* NULL until the task spawns or is spawned */
    mp_child *handle;       /* the task is a child: its handle; else NULL */
    mp__list children;      /* handles of its children not joined yet
                               (worker.c makes it an empty list once) */
} mp__kin;

#endif
