/*
 * Pool options: the one place their limits are checked (mp_pool_create and
 * every front end call mp_pool_options_check) and their defaults filled in.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mpool.h"
#include "pool/pool.h"

/* Writes a sentence to msg (if any) and returns err. */
static int refuse(char *msg, size_t n, int err, const char *fmt, ...)
    MP_PRINTF(4, 5);
static int refuse(char *msg, size_t n, int err, const char *fmt, ...)
{
    if (msg && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, n, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Returns the system's page size. */
static size_t page_size(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

/* http_max_connections is split over the workers, each getting one at
   least. Returns MP_EINVAL with the sentence. */
static int max_conns_refused(char *msg, size_t n, unsigned total, int w)
{
    return refuse(msg, n, MP_EINVAL, "http_max_connections must be at "
                  "least the number of workers (%d), each worker taking one "
                  "share, or 0 for no limit; got %u", w, total);
}

int mp_pool_options_check(const mp_pool_options *o, char *msg, size_t n)
{
    if (msg && n)
        msg[0] = '\0';
    if (!o)
        return 0;
    if (o->workers < 0 || o->workers > MP_MAX_WORKERS)
        return refuse(msg, n, MP_EINVAL, "workers must be between 1 and %d "
                      "(MP_MAX_WORKERS), or 0 for the CPUs; got %d",
                      MP_MAX_WORKERS, o->workers);
    if (o->concurrency < 0 || o->concurrency > MP_MAX_CONCURRENCY)
        return refuse(msg, n, MP_EINVAL, "concurrency must be between 1 and "
                      "%d (MP_MAX_CONCURRENCY), or 0 for %d; got %d",
                      MP_MAX_CONCURRENCY, MP_DEFAULT_CONCURRENCY,
                      o->concurrency);
    if (o->prefetch < 0 || o->prefetch > MP_MAX_PREFETCH)
        return refuse(msg, n, MP_EINVAL, "prefetch must be between 1 and %d "
                      "(MP_MAX_PREFETCH), or 0 for the concurrency; got %d",
                      MP_MAX_PREFETCH, o->prefetch);
    uint64_t c = o->concurrency ? (uint64_t)o->concurrency
                                : MP_DEFAULT_CONCURRENCY;
    uint64_t held = c + (o->prefetch ? (uint64_t)o->prefetch : c);
    uint64_t w = o->workers ? (uint64_t)o->workers : 1;
    if (w * held > MP_MAX_POOL_TASKS)
        return refuse(msg, n, MP_EINVAL, "workers x (concurrency + "
                      "prefetch) must be at most %d (MP_MAX_POOL_TASKS); got "
                      "%llu", MP_MAX_POOL_TASKS,
                      (unsigned long long)(w * held));
    if (o->stack_size > MP_MAX_STACK_SIZE)
        return refuse(msg, n, MP_EINVAL, "stack_size must be at most %zu "
                      "(MP_MAX_STACK_SIZE); got %zu", (size_t)MP_MAX_STACK_SIZE,
                      o->stack_size);
    if (!(o->rate >= 0) || isinf(o->rate))
        return refuse(msg, n, MP_EINVAL, "rate must be a finite number of "
                      "tasks per second, 0 for no limit; got %g", o->rate);
    if (o->init_len && !o->init_arg)
        return refuse(msg, n, MP_EINVAL, "init_len is %zu but init_arg is "
                      "NULL", o->init_len);
    if (o->init_len > MP_MAX_PAYLOAD)
        return refuse(msg, n, MP_E2BIG, "init_len must be at most %zu "
                      "(MP_MAX_PAYLOAD); got %zu", (size_t)MP_MAX_PAYLOAD,
                      o->init_len);
    if (o->arg_len && !o->arg)
        return refuse(msg, n, MP_EINVAL, "arg_len is %zu but arg is NULL",
                      o->arg_len);
    if (o->arg_len > MP_MAX_PAYLOAD)
        return refuse(msg, n, MP_E2BIG, "arg_len must be at most %zu "
                      "(MP_MAX_PAYLOAD); got %zu", (size_t)MP_MAX_PAYLOAD,
                      o->arg_len);
    if (o->http_max_connections && o->workers &&
        o->http_max_connections < (unsigned)o->workers)
        return max_conns_refused(msg, n, o->http_max_connections,
                                 o->workers);
    return 0;
}

int mp__options_resolve(mp_pool_options *o, const mp_pool_options *in,
                        char *msg, size_t n)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    int rc = mp_pool_options_check(o, msg, n);
    if (rc < 0)
        return rc;
    if (o->workers == 0) {
        o->workers = mp_cpus_available();
        if (o->workers > MP_MAX_WORKERS)
            o->workers = MP_MAX_WORKERS;
        int c = o->concurrency ? o->concurrency : MP_DEFAULT_CONCURRENCY;
        int held = c + (o->prefetch ? o->prefetch : c);
        if ((int64_t)o->workers * held > MP_MAX_POOL_TASKS)
            o->workers = MP_MAX_POOL_TASKS / held;
    }
    if (o->http_max_connections &&
        o->http_max_connections < (unsigned)o->workers)
        return max_conns_refused(msg, n, o->http_max_connections,
                                 o->workers);
    if (o->concurrency == 0)
        o->concurrency = MP_DEFAULT_CONCURRENCY;
    if (o->prefetch == 0)
        o->prefetch = o->concurrency;
    if (o->max_attempts == 0)
        o->max_attempts = MP_DEFAULT_ATTEMPTS;
    if (o->stack_size == 0)
        o->stack_size = MP_DEFAULT_STACK;
    size_t page = page_size(); /* no wrap: at most MP_MAX_STACK_SIZE */
    o->stack_size = (o->stack_size + page - 1) / page * page;
    return 0;
}
