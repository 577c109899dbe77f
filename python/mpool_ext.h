/*
 * The CPython module mpool._mpool: a thin layer over libmpool's public API
 * (include/mpool.h) and the fetch task (workers/fetch.h). No second engine.
 *
 *   module.c   the module: mp_init at import, the validators the Python
 *              front end calls, the Python task that runs in workers
 *   pool.c     Pool (a libmpool pool on an event_base of ours, attached)
 *              and Run (a stream of tasks over a pool: the iterator behind
 *              mpool.fetch, afetch, Pool.imap)
 *   record.c   a fetch record made into a dict, dict inputs as JSON
 *
 * Threads and the GIL: every call into libmpool for one pool happens with
 * that pool's mutex held (pool_lock), never with the GIL held while
 * waiting; a thread that holds the pool's mutex never takes the GIL. So
 * the caller of a blocking call (a Run's __next__) and Pool's driver
 * thread (which resolves submit()'s futures) take turns on the pool's
 * loop, and the done-callbacks (C, mutex held, no GIL) only link done
 * items into lists that a GIL holder turns into Python objects later.
 */
#ifndef MPOOL_EXT_H
#define MPOOL_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "fetch.h"
#include "mpool.h"

/* The two tasks a pool runs: the fetch task (mpfetch's) and a pickled
   Python call (module.c's pyx_task). */
enum { PYX_FETCH = 0, PYX_PYTHON = 1 };

extern PyTypeObject pyx_pool_type;
extern PyTypeObject pyx_run_type;

/* module.c */
int pyx_task(mp_task *t, const void *in, size_t len);
int pyx_worker_init(const void *arg, size_t len);
PyObject *pyx_mp_error(int rc, const char *what); /* sets OSError; NULL */

#endif
