/*
 * run.c's type, for module.c: Run, a stream of tasks over a Pool (the
 * iterator of mpool.fetch, afetch and Pool.imap).
 */
#ifndef MPOOL_RUN_H
#define MPOOL_RUN_H

#include "mpool_ext.h"

extern PyTypeObject pyx_run_type;

/* _mpool.LATER (a new reference, or NULL with an error set): what a Run's
   input gives for "nothing yet, more to come" (afetch's bridge from an
   async iterable); the Run then pulls it again at its next step. */
PyObject *pyx_run_later(void);

#endif
