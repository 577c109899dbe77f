/*
 * The coordinator: pool creation, the calls (map, imap, apply), the ledger
 * of tasks handed to workers, credit-based dispatch, cancel and destroy.
 * Worker processes themselves are slots.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <nanomsg/nn.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "forkserver.h"
#include "pool.h"

#define MP_DEFAULT_CONCURRENCY 64
#define MP_DEFAULT_ATTEMPTS 3
#define MP_DEFAULT_STACK (256u << 10)
#define MP_BATCH_BYTES (512u << 10) /* stop filling a batch past this */
#define MP_CREATE_TIMEOUT_S 60

uint64_t mp__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the ledger ------------------------------------------------------- */

void mp__list_push(mp_pool *p, mp__list *l, uint32_t id)
{
    mp__entry *e = &p->ents[id];
    e->next = MP_NIL;
    e->prev = l->tail;
    if (l->tail != MP_NIL)
        p->ents[l->tail].next = id;
    else
        l->head = id;
    l->tail = id;
    l->n++;
}

void mp__list_unlink(mp_pool *p, mp__list *l, uint32_t id)
{
    mp__entry *e = &p->ents[id];
    if (e->prev != MP_NIL)
        p->ents[e->prev].next = e->next;
    else
        l->head = e->next;
    if (e->next != MP_NIL)
        p->ents[e->next].prev = e->prev;
    else
        l->tail = e->prev;
    l->n--;
}

uint32_t mp__list_pop(mp_pool *p, mp__list *l)
{
    uint32_t id = l->head;
    if (id != MP_NIL)
        mp__list_unlink(p, l, id);
    return id;
}

/* Returns a free entry, or MP_NIL when the ledger is full. */
static uint32_t entry_alloc(mp_pool *p)
{
    uint32_t id = p->free_head;
    if (id == MP_NIL)
        return MP_NIL;
    p->free_head = p->ents[id].next;
    mp__entry *e = &p->ents[id];
    memset(e, 0, sizeof(*e));
    e->slot = -1;
    e->state = E_QUEUED;
    if (++p->in_use > p->stats.max_buffered)
        p->stats.max_buffered = p->in_use;
    return id;
}

void mp__entry_free(mp_pool *p, uint32_t id)
{
    mp__entry *e = &p->ents[id];
    if (e->owned)
        free((void *)e->data);
    e->data = NULL;
    e->owned = 0;
    e->state = E_FREE;
    e->next = p->free_head;
    p->free_head = id;
    p->in_use--;
}

/* Hands one result to the call: into out[] (copied, owned by the result)
   for map, to on_result (borrowed) for imap. */
static void deliver_index(mp_pool *p, size_t index, int status,
                          const void *data, size_t len, const char *err)
{
    mp__call *c = p->call;
    c->delivered++;
    p->stats.tasks_done++;
    if (!c->imap) {
        mp_result *r = &c->out[index];
        r->status = status;
        r->data = NULL;
        r->len = 0;
        if (len && (r->data = malloc(len))) {
            memcpy(r->data, data, len);
            r->len = len;
        } else if (len && status == 0) {
            r->status = MP_ENOMEM;
        }
        r->error = err ? strdup(err) : NULL;
        return;
    }
    mp_result r = {status, (void *)data, len, (char *)err};
    if (c->on_result(c->ud, index, &r) != 0 && !c->status)
        mp__abort_call(p, MP_ECANCELED, "canceled by the result callback");
}

void mp__deliver(mp_pool *p, uint32_t id, int status, const void *data,
                 size_t len, const char *err)
{
    deliver_index(p, p->ents[id].index, status, data, len, err);
}

/* ---- input ------------------------------------------------------------ */

/* Takes a token for one task start when a rate is set. Returns 1, or 0
   (and arms the refill timer) when the bucket is empty. */
static int take_token(mp_pool *p)
{
    if (p->o.rate <= 0)
        return 1;
    uint64_t now = mp__now_ns();
    double burst = p->o.rate / 20 > 1 ? p->o.rate / 20 : 1;
    p->tokens += (double)(now - p->tokens_ns) / 1e9 * p->o.rate;
    p->tokens_ns = now;
    if (p->tokens > burst)
        p->tokens = burst;
    if (p->tokens >= 1) {
        p->tokens -= 1;
        return 1;
    }
    if (!p->rate_armed) {
        double wait = (1 - p->tokens) / p->o.rate;
        struct timeval tv = {(time_t)wait,
                             (suseconds_t)((wait - floor(wait)) * 1e6) + 1};
        event_add(p->rate_ev, &tv);
        p->rate_armed = 1;
    }
    return 0;
}

/* Pulls one input into a new entry. Returns the entry, or MP_NIL when there
   is no input now (ended, paused, ledger full, or no token). */
static uint32_t pull_input(mp_pool *p)
{
    mp__call *c = p->call;
    for (;;) {
        if (!c || c->input_done || c->input_paused || p->free_head == MP_NIL)
            return MP_NIL;
        mp_buf b = {0};
        if (!c->imap) {
            if (c->pulled == c->n) {
                c->input_done = 1;
                return MP_NIL;
            }
            b = c->in[c->pulled];
        } else {
            int rc = c->next(c->ud, &b);
            if (rc == 0 || rc == MP_EAGAIN || rc < 0) {
                if (rc == MP_EAGAIN)
                    c->input_paused = 1;
                else if (rc == 0)
                    c->input_done = 1;
                else
                    mp__abort_call(p, rc, NULL);
                return MP_NIL;
            }
        }
        size_t index = c->pulled++;
        if (b.len > MP_MAX_PAYLOAD || (!b.data && b.len)) {
            deliver_index(p, index, b.data ? MP_E2BIG : MP_EINVAL, NULL, 0,
                          b.data ? "input larger than MP_MAX_PAYLOAD"
                                 : "input with NULL data");
            continue;
        }
        uint32_t id = entry_alloc(p);
        mp__entry *e = &p->ents[id];
        e->index = index;
        e->len = (uint32_t)b.len;
        e->data = b.data;
        if (c->imap && b.len) { /* kept for a re-run if the worker dies */
            void *copy = b.len <= MP_INLINE_IN
                             ? p->inline_in + (size_t)id * MP_INLINE_IN
                             : malloc(b.len);
            if (!copy)
                abort();
            memcpy(copy, b.data, b.len);
            e->data = copy;
            e->owned = b.len > MP_INLINE_IN;
        }
        return id;
    }
}

/* The next task for a worker with room: retries first, then new input. */
static uint32_t next_task(mp_pool *p)
{
    if (!p->call || p->call->status)
        return MP_NIL;
    if (p->retry.n)
        return take_token(p) ? mp__list_pop(p, &p->retry) : MP_NIL;
    if (p->call->input_done || p->call->input_paused ||
        p->free_head == MP_NIL || !take_token(p))
        return MP_NIL;
    uint32_t id = pull_input(p);
    if (id == MP_NIL && p->o.rate > 0)
        p->tokens += 1; /* the token was not used */
    return id;
}

/* ---- dispatch --------------------------------------------------------- */

/* Room in a worker for tasks up to cap held: cap minus what it holds,
   capped by recycling. Returns 0 when a batch would be too small to be worth
   a message. */
static uint32_t room(mp_pool *p, mp__slot *s, uint32_t cap)
{
    if (s->inflight.n >= cap)
        return 0;
    uint32_t r = cap - s->inflight.n;
    uint32_t quarter = p->capacity / 4 ? p->capacity / 4 : 1;
    /* A busy worker waits for a quarter of its credit: fewer, bigger
       batches. An idle coroutine is fed at once. */
    if (s->inflight.n >= (uint32_t)p->o.concurrency && r < quarter)
        return 0;
    if (p->o.max_tasks_per_worker) {
        uint64_t left = p->o.max_tasks_per_worker - s->dispatched;
        if (left < r)
            r = (uint32_t)left;
    }
    return r;
}

/* Moves entry id into s's in-flight list. */
static void hand_over(mp_pool *p, mp__slot *s, uint32_t id)
{
    mp__entry *e = &p->ents[id];
    e->slot = s->index;
    e->state = E_SENT;
    mp__list_push(p, &s->inflight, id);
    s->dispatched++;
}

/* Sends a suspect task alone to an idle worker. Returns 1 if it did. */
static int dispatch_solo(mp_pool *p, mp__slot *s)
{
    if (!p->solo.n || s->inflight.n || !p->call || p->call->status)
        return 0;
    uint32_t id = mp__list_pop(p, &p->solo);
    mp__msg m;
    mp__entry *e = &p->ents[id];
    if (mp__msg_begin(&m, MP_MSG_TASKS, (uintptr_t)p->call->fn, e->len + 64))
        abort();
    if (mp__msg_put_task(&m, id, e->data, e->len))
        abort();
    hand_over(p, s, id);
    s->solo_busy = 1;
    mp__slot_send(p, s, &m);
    return 1;
}

/* Sends s a batch that brings what it holds up to cap tasks. */
static void dispatch_upto(mp_pool *p, mp__slot *s, uint32_t cap)
{
    if (s->state != S_READY || s->pending.buf || s->solo_busy || !p->call)
        return;
    if (p->o.max_tasks_per_worker &&
        s->dispatched >= p->o.max_tasks_per_worker) {
        s->state = S_RETIRING;
        mp__slot_retire(p, s);
        return;
    }
    if (dispatch_solo(p, s))
        return;
    uint32_t r = room(p, s, cap);
    if (r == 0)
        return;
    mp__msg m = {0};
    uint32_t id;
    while (r-- && (id = next_task(p)) != MP_NIL) {
        mp__entry *e = &p->ents[id];
        if (!m.buf && mp__msg_begin(&m, MP_MSG_TASKS, (uintptr_t)p->call->fn,
                                    16u << 10))
            abort();
        if (mp__msg_put_task(&m, id, e->data, e->len))
            abort();
        hand_over(p, s, id);
        if (m.len >= MP_BATCH_BYTES)
            break;
    }
    if (m.buf)
        mp__slot_send(p, s, &m);
}

void mp__dispatch(mp_pool *p, mp__slot *s)
{
    dispatch_upto(p, s, p->capacity);
}

void mp__dispatch_all(mp_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        dispatch_upto(p, &p->slots[i], p->capacity);
}

/* At the start of a call: feeds every worker's idle coroutines first, then
   the prefetch credit, so a small batch is spread over all workers instead
   of filling the first one's credit. (Only here: in steady state it would
   halve the batches.) */
static void dispatch_spread(mp_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        dispatch_upto(p, &p->slots[i], (uint32_t)p->o.concurrency);
    mp__dispatch_all(p);
}

static void on_rate(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    p->rate_armed = 0;
    mp__dispatch_all(p);
}

/* ---- stopping a call -------------------------------------------------- */

/* Ends the call with status and everything it still holds: queued tasks,
   unread map inputs, and tasks at workers (their late results are dropped:
   the entries become orphans and the workers are told to cancel them).
   Those tasks get MP_ECANCELED for a cancel and MP_EABORTED for anything
   else: a failure of the pool or of the call is never a task's own. */
void mp__abort_call(mp_pool *p, int status, const char *why)
{
    mp__call *c = p->call;
    if (!c || c->status)
        return;
    c->status = status;
    c->input_done = 1;
    if (!why)
        why = mp_strerror(status);
    status = status == MP_ECANCELED ? MP_ECANCELED : MP_EABORTED;
    uint32_t id;
    while ((id = mp__list_pop(p, &p->retry)) != MP_NIL ||
           (id = mp__list_pop(p, &p->solo)) != MP_NIL) {
        mp__deliver(p, id, status, NULL, 0, why);
        mp__entry_free(p, id);
    }
    while (!c->imap && c->pulled < c->n)
        deliver_index(p, c->pulled++, status, NULL, 0, why);
    for (int i = 0; i < p->nworkers; i++) {
        mp__slot *s = &p->slots[i];
        int any = 0;
        for (id = s->inflight.head; id != MP_NIL; id = p->ents[id].next) {
            if (p->ents[id].state != E_SENT)
                continue;
            p->ents[id].state = E_ORPHAN;
            mp__deliver(p, id, status, NULL, 0, why);
            any = 1;
        }
        if (any && s->state >= S_READY)
            mp__slot_control(p, s, MP_MSG_CANCEL);
    }
}

static void on_cancel(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    uint64_t v;
    if (read(p->cancel_fd, &v, sizeof(v)) < 0) {
    }
    if (p->call && atomic_exchange(&p->cancel_flag, 0))
        mp__abort_call(p, MP_ECANCELED, "canceled by mp_pool_cancel");
}

void mp_pool_cancel(mp_pool *p)
{
    if (!p)
        return;
    int saved = errno;
    uint64_t one = 1;
    atomic_store(&p->cancel_flag, 1);
    if (write(p->cancel_fd, &one, sizeof(one)) < 0) {
    }
    errno = saved;
}

/* ---- running a call --------------------------------------------------- */

/* Runs the loop until every input pulled has a result and no more input
   will come. Returns the call's status. */
static int run_call(mp_pool *p, mp__call *c)
{
    p->call = c;
    if (atomic_exchange(&p->cancel_flag, 0))
        mp__abort_call(p, MP_ECANCELED, "canceled by mp_pool_cancel");
    for (int i = 0; i < p->nworkers; i++) { /* a new call, new tries */
        mp__slot *s = &p->slots[i];
        if (s->state != S_DEAD || evtimer_pending(s->respawn, NULL))
            continue;
        if (s->fails >= MP_MAX_FAILS)
            s->fails = MP_MAX_FAILS - 1;
        mp__on_respawn(-1, 0, s);
    }
    dispatch_spread(p);
    while (!(c->input_done && c->delivered == c->pulled)) {
        if (c->input_paused && c->delivered == c->pulled) {
            c->input_paused = 0; /* nothing in flight to wait for */
            mp__dispatch_all(p);
            if (c->input_paused && c->delivered == c->pulled) {
                mp__abort_call(p, MP_EAGAIN, "input paused with nothing "
                               "in flight");
                break;
            }
            continue;
        }
        if (event_base_loop(p->base, EVLOOP_ONCE) < 0) {
            mp__abort_call(p, MP_ESYS, "event_base_loop failed");
            break;
        }
        if (c->input_paused && c->delivered) {
            c->input_paused = 0;
            mp__dispatch_all(p);
        }
    }
    p->call = NULL;
    return c->status;
}

int mp_pool_map(mp_pool *p, mp_task_fn fn, const mp_buf *in, size_t n,
                mp_result *out)
{
    if (!p || !fn || (n && (!in || !out)) || p->call)
        return MP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!in[i].data && in[i].len)
            return MP_EINVAL;
        if (in[i].len > MP_MAX_PAYLOAD)
            return MP_E2BIG;
    }
    if (n == 0)
        return 0;
    mp__call c = {.fn = fn, .in = in, .n = n, .out = out};
    return run_call(p, &c);
}

int mp_pool_imap(mp_pool *p, mp_task_fn fn, mp_next_fn next,
                 mp_result_fn on_result, void *ud)
{
    if (!p || !fn || !next || !on_result || p->call)
        return MP_EINVAL;
    mp__call c = {.imap = 1, .fn = fn, .next = next,
                  .on_result = on_result, .ud = ud};
    return run_call(p, &c);
}

int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *in, size_t len,
                  mp_result *out)
{
    if (!out)
        return MP_EINVAL;
    mp_buf b = {in, len};
    return mp_pool_map(p, fn, &b, 1, out);
}

/* ---- pool lifecycle --------------------------------------------------- */

/* Checks options and fills in defaults. Returns 0, MP_EINVAL or
   MP_E2BIG. */
static int resolve_options(mp_pool_options *o, const mp_pool_options *in)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (o->workers < 0 || o->workers > 1024 || o->concurrency < 0 ||
        o->concurrency > 65536 || o->prefetch < 0 || o->prefetch > 65536 ||
        !(o->rate >= 0) || isinf(o->rate) || (o->init_len && !o->init_arg))
        return MP_EINVAL;
    if (o->init_len > MP_MAX_PAYLOAD)
        return MP_E2BIG;
    if (o->workers == 0)
        o->workers = mp_cpus_available();
    if (o->concurrency == 0)
        o->concurrency = MP_DEFAULT_CONCURRENCY;
    if (o->prefetch == 0)
        o->prefetch = o->concurrency;
    if (o->max_attempts == 0)
        o->max_attempts = MP_DEFAULT_ATTEMPTS;
    if (o->stack_size == 0)
        o->stack_size = MP_DEFAULT_STACK;
    return 0;
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

static void remove_dir(mp_pool *p)
{
    DIR *d = p->dir[0] ? opendir(p->dir) : NULL;
    if (!d)
        return;
    struct dirent *de;
    char path[400];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", p->dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(p->dir);
}

static void on_create_timeout(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    if (!p->create_err)
        p->create_err = MP_ETIMEDOUT;
}

/* Allocates the pool's loop, channels and ledger. Returns 0 or an
   error. */
static int pool_setup(mp_pool *p)
{
    p->nents = (uint32_t)p->nworkers * p->capacity;
    p->ents = calloc(p->nents, sizeof(*p->ents));
    p->slots = calloc((size_t)p->nworkers, sizeof(*p->slots));
    p->inline_in = malloc((size_t)p->nents * MP_INLINE_IN);
    if (!p->ents || !p->slots || !p->inline_in)
        return MP_ENOMEM;
    for (uint32_t i = 0; i < p->nents; i++)
        p->ents[i].next = i + 1 < p->nents ? i + 1 : MP_NIL;
    p->free_head = 0;
    p->retry = p->solo = (mp__list){MP_NIL, MP_NIL, 0};
    if (make_dir(p) < 0)
        return MP_ESYS;
    p->base = event_base_new();
    if (!p->base || mp__fs_new_pool(&p->fs_fd) < 0)
        return MP_ESYS;
    p->cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->cancel_fd < 0)
        return MP_ESYS;
    p->fs_ev = event_new(p->base, p->fs_fd, EV_READ | EV_PERSIST,
                         mp__on_forkserver, p);
    p->cancel_ev = event_new(p->base, p->cancel_fd, EV_READ | EV_PERSIST,
                             on_cancel, p);
    p->rate_ev = evtimer_new(p->base, on_rate, p);
    p->create_ev = evtimer_new(p->base, on_create_timeout, p);
    if (!p->fs_ev || !p->cancel_ev || !p->rate_ev || !p->create_ev)
        return MP_ENOMEM;
    event_add(p->fs_ev, NULL);
    event_add(p->cancel_ev, NULL);
    p->tokens_ns = mp__now_ns();
    p->tokens = 1;
    return 0;
}

/* Spawns every worker and waits until all are ready. Returns 0, MP_EINIT,
   MP_EWORKER, MP_ETIMEDOUT or MP_ESYS. */
static int start_workers(mp_pool *p)
{
    p->creating = 1;
    for (int i = 0; i < p->nworkers; i++) {
        mp__slot *s = &p->slots[i];
        s->pool = p;
        s->index = i;
        s->sock = -1;
        s->respawn = evtimer_new(p->base, mp__on_respawn, s);
        if (!s->respawn)
            return MP_ENOMEM;
        int rc = mp__slot_spawn(p, s);
        if (rc < 0)
            return rc;
    }
    struct timeval tv = {MP_CREATE_TIMEOUT_S, 0};
    event_add(p->create_ev, &tv);
    while (p->ready < p->nworkers && !p->create_err)
        if (event_base_loop(p->base, EVLOOP_ONCE) < 0)
            return MP_ESYS;
    event_del(p->create_ev);
    p->creating = 0;
    return p->create_err;
}

int mp_pool_create(mp_pool **out, const mp_pool_options *opts)
{
    if (!out)
        return MP_EINVAL;
    *out = NULL;
    mp_pool_options o;
    int rc = resolve_options(&o, opts);
    if (rc < 0)
        return rc;
    if (mp_init() < 0)
        return MP_ESYS;
    mp_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return MP_ENOMEM;
    p->o = o;
    p->fs_fd = p->cancel_fd = -1;
    p->nworkers = o.workers;
    p->capacity = (uint32_t)(o.concurrency + o.prefetch);
    if (o.init_len) {
        if (!(p->init_copy = malloc(o.init_len))) {
            free(p);
            return MP_ENOMEM;
        }
        memcpy(p->init_copy, o.init_arg, o.init_len);
    }
    p->o.init_arg = p->init_copy;
    rc = pool_setup(p);
    if (rc == 0)
        rc = start_workers(p);
    if (rc < 0) {
        mp_pool_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Closes the pool forkserver's channel and waits until it has killed and
   reaped every worker and left (its end of the channel closes then). */
static void stop_forkserver(mp_pool *p)
{
    if (p->fs_fd < 0)
        return;
    shutdown(p->fs_fd, SHUT_WR);
    int fl = fcntl(p->fs_fd, F_GETFL);
    fcntl(p->fs_fd, F_SETFL, fl & ~O_NONBLOCK);
    uint64_t deadline = mp__now_ns() + 5000000000ull;
    for (;;) {
        struct pollfd pf = {p->fs_fd, POLLIN, 0};
        uint64_t now = mp__now_ns();
        if (now >= deadline)
            break;
        int n = poll(&pf, 1, (int)((deadline - now) / 1000000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        char buf[sizeof(mp__fs_msg)];
        if (n <= 0 || recv(p->fs_fd, buf, sizeof(buf), 0) <= 0)
            break;
    }
    close(p->fs_fd);
    p->fs_fd = -1;
}

void mp_pool_destroy(mp_pool *p)
{
    if (!p)
        return;
    for (int i = 0; p->slots && i < p->nworkers; i++) {
        mp__slot *s = &p->slots[i];
        mp__slot_close(p, s);
        if (s->respawn)
            event_free(s->respawn);
    }
    stop_forkserver(p);
    for (uint32_t i = 0; p->ents && i < p->nents; i++)
        if (p->ents[i].state != E_FREE && p->ents[i].owned)
            free((void *)p->ents[i].data);
    struct event *evs[] = {p->fs_ev, p->cancel_ev, p->rate_ev, p->create_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (p->base)
        event_base_free(p->base);
    if (p->cancel_fd >= 0)
        close(p->cancel_fd);
    remove_dir(p);
    free(p->ents);
    free(p->inline_in);
    free(p->slots);
    free(p->init_copy);
    free(p);
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
    out->worker_cpu_us = mp__workers_cpu_us(p);
}

void mp_result_clear(mp_result *r)
{
    if (!r)
        return;
    free(r->data);
    free(r->error);
    memset(r, 0, sizeof(*r));
}
