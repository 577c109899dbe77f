/*
 * task.c: what runs in a worker (the Python task, the pool's init
 * function) and the module's OSError for a libmpool code. Calls nothing
 * of the module's (mpool_ext.h: the order of the files' calls).
 */
#ifndef MPOOL_TASK_H
#define MPOOL_TASK_H

#include "mpool_ext.h"

/* The Python task: in is a pickle of (function, args, kwargs). */
int pyx_task(mp_task *t, const void *in, size_t len);
/* The pool's init function: the fetch task's configuration (JSON). */
int pyx_worker_init(const void *arg, size_t len);
/* Sets OSError "what: strerror (NAME)[: mp_last_error()]"; returns NULL. */
PyObject *pyx_mp_error(int rc, const char *what);

#endif
