/*
 * A pool's life: options and their defaults, mp_pool_create (the private
 * endpoint directory, the loop, the ledger and the slots, every worker
 * started and READY), mp_pool_destroy, the stats. The calls and the slots'
 * state changes are pool.c's; the two files are one unit (pool.h), so
 * this one builds and frees the fields pool.c works with.
 */
#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "pool/forkserver.h"
#include "pool/pool.h"

#define MP_CREATE_TIMEOUT_S 60

/* Why the calling thread's last mp_pool_create failed ("" after a
   success). */
static _Thread_local char last_error[sizeof(((mp_pool *)0)->create_msg)];

const char *mp_last_error(void)
{
    return last_error[0] ? last_error : NULL;
}

/* Makes the private 0700 directory for the pool's endpoints. Returns 0 or
   MP_ESYS. */
static int make_dir(mp_pool *p)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > 60)
        tmp = "/tmp";
    snprintf(p->dir, sizeof(p->dir), "%s/mpool-XXXXXX", tmp);
    return mkdtemp(p->dir) ? 0 : MP_ESYS;
}

/* Workers were not all READY within MP_CREATE_TIMEOUT_S (arg: the pool):
   creation fails with MP_ETIMEDOUT. */
static void on_create_timeout(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    mp__create_failed(p, MP_ETIMEDOUT, "workers not ready after %d s",
                  MP_CREATE_TIMEOUT_S);
}

/* Allocates the pool's loop, ledger, slots and channels. Returns 0 or an
   error. */
static int pool_setup(mp_pool *p)
{
    const mp_pool_options *o = &p->o;
    int rc = mp__ledger_init(&p->L, p->nworkers, (uint32_t)o->concurrency,
                             (uint32_t)o->prefetch, o->max_tasks_per_worker,
                             o->max_attempts);
    p->life = calloc((size_t)p->nworkers, sizeof(*p->life));
    p->room = calloc((size_t)p->nworkers, sizeof(*p->room));
    if (rc < 0 || !p->life || !p->room)
        return MP_ENOMEM;
    if (p->adaptive) {
        uint32_t most = MP_MAX_POOL_TASKS / (uint32_t)p->nworkers;
        if (most > MP_MAX_WINDOW)
            most = MP_MAX_WINDOW;
        mp__ledger_set_max_window(&p->L, most);
    }
    if (make_dir(p) < 0 || mp__loop_init(&p->loop) < 0)
        return MP_ESYS;
    struct event_base *base = p->loop.base;
    mp__config cfg = {
        .concurrency = (uint32_t)o->concurrency,
        .prefetch = (uint32_t)o->prefetch,
        .task_timeout_ms = o->task_timeout_ms,
        .stack_size = o->stack_size,
        .init_fn = (uint64_t)(uintptr_t)o->init,
        .init_len = o->init_len,
        .http_max = o->http_max_connections,
        .workers = (uint32_t)p->nworkers,
        .arg_len = o->arg_len,
    };
    rc = mp__slots_init(&p->S, p->nworkers, base, p->dir, &cfg,
                        p->init_copy, &mp__pool_hooks, p);
    if (rc < 0)
        return rc;
    p->cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->cancel_fd < 0)
        return MP_ESYS;
    p->cancel_ev = event_new(base, p->cancel_fd, EV_READ | EV_PERSIST,
                             mp__on_cancel, p);
    p->rate_ev = evtimer_new(base, mp__on_rate, p);
    p->create_ev = evtimer_new(base, on_create_timeout, p);
    p->kick_ev = event_new(base, -1, 0, mp__on_kick, p);
    if (!p->cancel_ev || !p->rate_ev || !p->create_ev || !p->kick_ev)
        return MP_ENOMEM;
    mp__futs_init(&p->F, p, &p->L, &p->loop, p->kick_ev);
    event_add(p->cancel_ev, NULL);
    for (int i = 0; i < p->nworkers; i++) {
        mp__life *w = &p->life[i];
        w->pool = p;
        w->index = i;
        w->respawn = evtimer_new(base, mp__on_respawn, w);
        if (!w->respawn)
            return MP_ENOMEM;
    }
    p->tokens_ns = mp__now_ns();
    p->tokens = 1;
    return 0;
}

/* The loop's question (loop.h) while the pool is created: are all the
   workers READY, or has creation failed? */
static int created(void *arg, int first)
{
    mp_pool *p = arg;
    return p->ready >= p->nworkers || p->create_err;
}

/* Spawns every worker and waits until all are ready. Returns 0, MP_EINIT,
   MP_EWORKER, MP_ETIMEDOUT or MP_ESYS. */
static int start_workers(mp_pool *p)
{
    p->creating = 1;
    for (int i = 0; i < p->nworkers; i++) {
        int rc = mp__start_slot(p, i);
        if (rc < 0)
            return rc;
    }
    struct timeval tv = {MP_CREATE_TIMEOUT_S, 0};
    event_add(p->create_ev, &tv);
    if (mp__loop_run(&p->loop, created, p, 0) < 0)
        return MP_ESYS;
    event_del(p->create_ev);
    p->creating = 0;
    return p->create_err;
}

/* Workers of all live pools of this process: nanomsg's 512 sockets per
   process are shared by them (MP_MAX_WORKERS). */
static atomic_int workers_in_use;

/* Reserves n workers for a new pool. Returns 0, or MP_EINVAL with a
   sentence in why when the pools of this process would hold more than
   MP_MAX_WORKERS. */
static int reserve_workers(int n, char *why, size_t why_len)
{
    int before = atomic_fetch_add(&workers_in_use, n);
    if (before + n <= MP_MAX_WORKERS)
        return 0;
    atomic_fetch_sub(&workers_in_use, n);
    snprintf(why, why_len, "the workers of all pools of a process must be "
             "at most %d (MP_MAX_WORKERS); %d are in use, %d more asked for",
             MP_MAX_WORKERS, before, n);
    return MP_EINVAL;
}

/* Creates the pool into *out. Returns 0 or an error, with a message in
   p->create_msg when there is more to say than the code. */
static int create(mp_pool **out, const mp_pool_options *opts, char *why,
                  size_t why_len)
{
    mp_pool_options o;
    int rc = mp__options_resolve(&o, opts, why, why_len);
    if (rc < 0)
        return rc;
    if (mp_init() < 0)
        return MP_ESYS;
    mp_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return MP_ENOMEM;
    /* the init argument, then the pool argument, as CONFIG carries them */
    size_t both = o.init_len + o.arg_len;
    if (both && !(p->init_copy = malloc(both))) {
        free(p);
        return MP_ENOMEM;
    }
    if (o.init_len)
        memcpy(p->init_copy, o.init_arg, o.init_len);
    if (o.arg_len)
        memcpy((char *)p->init_copy + o.init_len, o.arg, o.arg_len);
    rc = reserve_workers(o.workers, why, why_len);
    if (rc < 0) {
        free(p->init_copy);
        free(p);
        return rc;
    }
    p->o = o;
    p->adaptive = !opts || !opts->prefetch;
    p->cancel_fd = -1;
    p->nworkers = o.workers; /* reserved: mp_pool_destroy gives them back */
    p->o.init_arg = p->init_copy;
    p->o.arg = o.arg_len ? (char *)p->init_copy + o.init_len : NULL;
    rc = pool_setup(p);
    if (rc == 0)
        rc = start_workers(p);
    if (rc < 0) {
        snprintf(why, why_len, "%s", p->create_msg);
        mp_pool_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

int mp_pool_create(mp_pool **out, const mp_pool_options *opts)
{
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    last_error[0] = '\0';
    int rc = create(out, opts, last_error, sizeof(last_error));
    if (rc < 0 && !last_error[0])
        snprintf(last_error, sizeof(last_error), "%s", mp_strerror(rc));
    return rc;
}

void mp_pool_destroy(mp_pool *p)
{
    if (!p)
        return;
    if (p->F.nqueued || p->F.nrunning)
        mp__end_futures(p, MP_EABORTED, "the pool was destroyed");
    atomic_fetch_sub(&workers_in_use, p->nworkers);
    mp__slots_close(&p->S);
    for (int i = 0; p->life && i < p->nworkers; i++)
        if (p->life[i].respawn)
            event_free(p->life[i].respawn);
    mp__ledger_free(&p->L);
    mp__futs_free(&p->F);
    mp__rb_drop(&p->rb); /* its block lives on with the results in it */
    struct event *evs[] = {p->cancel_ev, p->rate_ev, p->create_ev,
                           p->kick_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    mp__loop_free(&p->loop); /* not the caller's, after mp_pool_attach */
    if (p->cancel_fd >= 0)
        close(p->cancel_fd);
    mp__fs_rm_dir(p->dir); /* its forkserver did, unless it was lost */
    free(p->life);
    free(p->room);
    free(p->init_copy);
    free(p);
}

int mp_pool_attach(mp_pool *p, struct event_base *base)
{
    if (!p || !base || p->loop.attached || p->call || p->loop.driving)
        return MP_EINVAL;
    struct event *evs[] = {p->cancel_ev, p->rate_ev, p->kick_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (mp__event_rebase(evs[i], base) < 0)
            return MP_ESYS;
    for (int i = 0; i < p->nworkers; i++)
        if (mp__event_rebase(p->life[i].respawn, base) < 0)
            return MP_ESYS;
    if (mp__slots_attach(&p->S, base) < 0)
        return MP_ESYS;
    mp__loop_attach(&p->loop, base);
    event_active(p->kick_ev, EV_TIMEOUT, 1); /* work submitted before */
    return 0;
}

int mp_pool_workers(const mp_pool *p)
{
    return p ? p->nworkers : 0;
}

void mp_pool_get_stats(const mp_pool *p, mp_pool_stats *out)
{
    if (!p || !out)
        return;
    *out = p->stats;
    out->tasks_retried = p->L.requeued;
    out->tasks_alone = p->L.solo_given;
    out->max_buffered = p->L.max_in_use;
    out->worker_cpu_us = mp__slots_cpu_us(&p->S);
    out->futures_waiting = p->F.nqueued;
    out->max_futures_waiting = p->F.max_queued;
}
