/*
 * The pool's options for the fetch task, as every front end sets them
 * (mpfetch's -w/-c/--rate, mpool's workers=, concurrency=, rate=): one
 * rule for a worker's credit, so the same options move the same batches
 * whichever front end runs them. Pure: no I/O but mp_cpus_available.
 */
#ifndef FETCH_POOL_H
#define FETCH_POOL_H

#include "mpool.h"

/* Tasks a worker may hold, queued and running, at the least
   (fetch_pool_options raises prefetch to it). */
#define FETCH_MIN_CREDIT 64
/* Tasks the pool holds in all beyond which a worker's credit is not
   raised: the library's default prefetch then. */
#define FETCH_MAX_CREDIT 65536
/* The most request starts per second a run asks for ("rate"). */
#define FETCH_MAX_RATE 1e9

/*
 * Fills o (everything else zero: the caller adds rate, the task deadline,
 * the init function and its argument) with workers (0: the library's
 * default, mp_cpus_available), concurrency and prefetch: a worker's credit
 * of 4 x concurrency (prefetch 3 x), at least FETCH_MIN_CREDIT tasks. The
 * batches each way carry a quarter of the credit, and every batch costs
 * both processes nanomsg's wake-ups (about ten context switches a pair);
 * with the library's default (prefetch = concurrency) -c 10 holds 20 and
 * the batches carry 5. Where the pool would hold more than
 * FETCH_MAX_CREDIT tasks in all (workers 0 counted as the workers the
 * library starts), or prefetch would pass MP_MAX_PREFETCH, prefetch is 0:
 * the library's default. Values past libmpool's limits are copied as they
 * are, for mp_pool_options_check to name.
 */
void fetch_pool_options(mp_pool_options *o, int workers, int concurrency);

/* Returns s seconds as whole milliseconds, rounded, at least 1 when
   s > 0 (0 for s <= 0), at most UINT_MAX: how front ends turn their seconds into the
   configuration's "timeout_ms" and the pool's task_timeout_ms. */
unsigned fetch_ms(double s);

/*
 * The pool's own deadline for one fetch task (mp_pool_options'
 * task_timeout_ms) of a run with these per-attempt timeouts and retries:
 * a safety net well beyond what the task's own timeouts, retries and
 * backoff can take, so a task that never finishes still gets a record.
 * Returns milliseconds (fetch_ms); 0 (none) when timeout_s <= 0 asks for
 * no limit.
 */
unsigned fetch_task_timeout_ms(double timeout_s, double connect_timeout_s,
                               unsigned retries);

#endif
