/*
 * The pool's options for the fetch task (fetch_pool.h): the one credit
 * rule and task deadline that mpfetch's options and mpool's keywords both
 * call.
 */
#include <limits.h>
#include <string.h>

#include "fetch_pool.h"

/* Returns the workers a pool of this many would start (0: the CPUs this
   process may use, at most MP_MAX_WORKERS, as mp_pool_create counts
   them). */
static long started(int workers)
{
    long w = workers ? workers : mp_cpus_available();
    return w > MP_MAX_WORKERS ? MP_MAX_WORKERS : w;
}

void fetch_pool_options(mp_pool_options *o, int workers, int concurrency)
{
    long c = concurrency;

    memset(o, 0, sizeof(*o));
    o->workers = workers;
    o->concurrency = concurrency;
    if (c < FETCH_MIN_CREDIT / 4)
        o->prefetch = (int)(FETCH_MIN_CREDIT - c);
    else if (c * 3 <= MP_MAX_PREFETCH &&
             started(workers) * c * 4 <= FETCH_MAX_CREDIT)
        o->prefetch = (int)(c * 3);
}

unsigned fetch_ms(double s)
{
    double ms = s * 1000.0 + 0.5;
    if (!(s > 0))
        return 0; /* front ends refuse less; NaN too */
    if (ms >= (double)UINT_MAX)
        return UINT_MAX;
    return ms < 1 ? 1 : (unsigned)ms;
}

unsigned fetch_task_timeout_ms(double timeout_s, double connect_timeout_s,
                               unsigned retries)
{
    if (timeout_s <= 0)
        return 0;
    double per_try = timeout_s + connect_timeout_s + 10.0;
    return fetch_ms(per_try * ((double)retries + 1) + 10.0);
}
