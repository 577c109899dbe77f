/*
 * The CPython module mpool._mpool: a thin layer over libmpool's public API
 * (include/mpool.h) and the fetch task (workers/fetch.h). No second engine.
 *
 *   module.c   the module: mp_init at import, the validators the Python
 *              front end calls, the fetch task's configuration written
 *              by its fetch_config_json, resume='s file read by
 *              fetch_resume_load into a LineSet; calls the files below,
 *              nothing calls it
 *   run.c      Run (a stream of tasks over a pool: the iterator behind
 *              mpool.fetch, afetch, Pool.imap); calls pool.c and below
 *   pool.c     Pool (a libmpool pool on an event_base of ours, attached),
 *              its mutex and loop, outcomes; calls record.c and task.c
 *   record.c   a fetch record made into a dict (record.h); calls nothing
 *   task.c     what runs in a worker, OSError (task.h); calls nothing
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
   Python call (task.c's pyx_task). */
enum { PYX_FETCH = 0, PYX_PYTHON = 1 };

#endif
