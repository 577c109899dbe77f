/*
 * run.c's type, for module.c: Run, a stream of tasks over a Pool (the
 * iterator of mpool.fetch, afetch and Pool.imap).
 */
#ifndef MPOOL_RUN_H
#define MPOOL_RUN_H

#include "mpool_ext.h"

extern PyTypeObject pyx_run_type;

#endif
