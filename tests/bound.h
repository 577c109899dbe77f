/*
 * A bound on one pool call in a test: an alarm cancels the call
 * (mp_pool_cancel is async-signal-safe), so a regression that would hang
 * fails with a message long before ctest's timeout. Header-only, so that
 * suites linked against either libmpool build can use it.
 */
#ifndef TU_BOUND_H
#define TU_BOUND_H

#include <signal.h>
#include <unistd.h>

#include "mpool.h"

static mp_pool *tu_bound_pool;
static volatile sig_atomic_t tu_bound_hit;

static void tu_bound_alarm(int sig)
{
    (void)sig;
    tu_bound_hit = 1;
    mp_pool_cancel(tu_bound_pool);
}

/* Cancels the call about to run on p if it is still running after
   seconds. */
static inline void tu_bound_start(mp_pool *p, unsigned seconds)
{
    tu_bound_pool = p;
    tu_bound_hit = 0;
    signal(SIGALRM, tu_bound_alarm);
    alarm(seconds);
}

/* Ends the bound. Returns 1 if it canceled the call, else 0. */
static inline int tu_bound_end(void)
{
    alarm(0);
    return tu_bound_hit;
}

#endif
