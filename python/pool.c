/*
 * Pool: a libmpool pool attached to an event_base of ours, its mutex and
 * loop, and what a finished task becomes in Python (run.c's Run is a
 * stream of its tasks; pool.c calls record.c and task.c, never run.c).
 *
 * Every task is an mp_future (mp_pool_submit) with a done-callback that
 * only links its item into a list (mutex held, no GIL). Whoever waits
 * drives the loop: a Run's __next__ (GIL released, 100 ms at a time so
 * that Ctrl-C is seen), a Run's step() from asyncio (non-blocking, after
 * loop.add_reader said one of fds() is readable), or the driver thread
 * of mpool.Pool that resolves submit()'s futures (Pool.drive()). They take
 * turns on the pool's mutex; one that wants it writes the wake eventfd,
 * which the loop watches, so no one waits for a whole loop turn.
 *
 * A Run holds at most `window` tasks at once (submitted, not yet handed
 * to Python): it pulls its input iterator only as they complete, so an
 * endless generator runs in bounded memory (mp_pool_imap's contract).
 */
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "pool_int.h"
#include "record.h"
#include "task.h"

/* ---- the pool's mutex and loop ---------------------------------------- */

/* Takes p's mutex, waking whoever drives its loop. Call without the GIL. */
void pyx_pool_lock(pyx_pool *p)
{
    if (pthread_mutex_trylock(&p->mu) == 0)
        return;
    atomic_fetch_add(&p->waiters, 1);
    uint64_t one = 1;
    if (write(p->wake_fd, &one, sizeof(one)) < 0) { /* full: awake */ }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_sub(&p->waiters, 1);
}

void pyx_pool_unlock(pyx_pool *p)
{
    pthread_cond_broadcast(&p->turn);
    pthread_mutex_unlock(&p->mu);
}

/* Takes p's mutex to drive its loop, after every thread that asked for it
   with pool_lock had its turn. Call without the GIL. */
void pyx_pool_lock_drive(pyx_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->waiters) > 0)
        pthread_cond_wait(&p->turn, &p->mu);
}

/* Runs one turn of p's loop (mutex held): until events were handled, a
   wake, or ms milliseconds. Returns event_base_loop's value. */
int pyx_loop_once(pyx_pool *p, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(p->tick_ev, &tv);
    int rc = event_base_loop(p->base, EVLOOP_ONCE);
    event_del(p->tick_ev);
    return rc;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0) { /* EAGAIN: someone else read it */ }
    event_base_loopbreak(((pyx_pool *)arg)->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {}

/* The done-callback of every task (mutex held, no GIL). */
void pyx_on_done(mp_future *f, void *ud)
{
    pyx_item *it = ud;
    it->done = 1;
    pyx_run *r = it->run;
    if (!r) {
        pyx_pool *p = it->p;
        all_unlink(&p->fall, it);
        list_push(&p->fdone, it);
        p->fpending--;
        return;
    }
    if (!r->ordered)
        list_push(&r->done, it);
    if (r->notify_fd >= 0) {
        uint64_t one = 1;
        if (write(r->notify_fd, &one, sizeof(one)) < 0) { /* full */ }
    }
}

/* Ends p's pool (GIL held; released while the workers are reaped),
   keeping its counts for stats(). Futures not done end with MP_EABORTED
   and land in their lists. */
void pyx_pool_close(pyx_pool *p)
{
    if (p->closed)
        return;
    p->closed = 1;
    Py_BEGIN_ALLOW_THREADS
    pyx_pool_lock(p);
    if (p->pool)
        mp_pool_get_stats(p->pool, &p->last);
    mp_pool_destroy(p->pool);
    p->pool = NULL;
    pyx_pool_unlock(p);
    Py_END_ALLOW_THREADS
}

/* ---- outcomes: what a finished task becomes in Python ------------------ */

/* Returns 1 if code says the task did not finish for a reason not its own
   (a cancel, the pool's end), as mpfetch's pipeline.c decides. */
static int unfinished(int code)
{
    return code == MP_ECANCELED || code == MP_EABORTED;
}

/* mpfetch's record for an input with no record from a worker:
   {"line":N,"url":null,"ok":false,"status":0,"error":{code, message}}. */
static PyObject *error_record(uint64_t line, int code, const char *msg)
{
    return Py_BuildValue("{s:K,s:O,s:O,s:i,s:{s:s,s:s}}", "line",
                         (unsigned long long)line, "url", Py_None, "ok",
                         Py_False, "status", 0, "error", "code",
                         mp_err_name(code), "message",
                         msg ? msg : mp_strerror(code));
}

/*
 * Turns a done item into its outcome (GIL held): for the fetch task the
 * record (a dict, mpfetch's JSON line parsed), for a Python task the
 * pickled answer (bytes) or (code, name, message) when the pool failed
 * it. *code is 0, or the MP_E* code of a task that did not finish
 * (unfinished()). Returns a new reference, or NULL with an error set.
 */
PyObject *pyx_outcome(pyx_item *it, int *code)
{
    const mp_result *r = mp_future_result(it->f);
    *code = 0;
    if (it->kind == PYX_PYTHON) {
        if (r->status == 0 && r->data)
            return PyBytes_FromStringAndSize(r->data, (Py_ssize_t)r->len);
        if (unfinished(r->status))
            *code = r->status;
        return Py_BuildValue("(iss)", r->status, mp_err_name(r->status),
                             r->error ? r->error : mp_strerror(r->status));
    }
    fetch_out h;
    if (r->data && r->len >= sizeof(h)) {
        memcpy(&h, r->data, sizeof(h));
        if (unfinished(h.error))
            *code = h.error;
        return pyx_fetch_record((const char *)r->data + sizeof(h),
                          r->len - sizeof(h));
    }
    if (unfinished(r->status))
        *code = r->status;
    int c = r->status < 0 ? r->status : MP_EPROTO;
    return error_record(it->line, c,
                        r->error ? r->error
                        : r->status < 0 ? mp_strerror(c)
                                        : "the fetch task returned no record");
}

void pyx_item_free(pyx_item *it)
{
    mp_future_free(it->f); /* done: touches no pool */
    Py_XDECREF(it->cb);
    free(it);
}

/* ---- Pool -------------------------------------------------------------- */

static int pool_init(pyx_pool *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"workers", "concurrency", "prefetch", "rate",
                             "task_timeout_ms", "stack_size", "config",
                             NULL};
    mp_pool_options o;
    memset(&o, 0, sizeof(o));
    Py_ssize_t stack = 0;
    const char *conf = NULL;
    Py_ssize_t conf_len = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iiidIn|z#", kwlist,
                                     &o.workers, &o.concurrency, &o.prefetch,
                                     &o.rate, &o.task_timeout_ms, &stack,
                                     &conf, &conf_len))
        return -1;
    if (p->pool || p->base) {
        PyErr_SetString(PyExc_RuntimeError, "Pool.__init__ called twice");
        return -1;
    }
    o.stack_size = (size_t)stack;
    o.init = pyx_worker_init;
    o.init_arg = conf ? conf : "{}";
    o.init_len = conf ? (size_t)conf_len : 2;
    char why[256];
    if (mp_pool_options_check(&o, why, sizeof(why)) != 0) {
        PyErr_SetString(PyExc_ValueError, why);
        return -1;
    }
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->base = event_base_new();
    if (p->wake_fd < 0 || !p->base ||
        !(p->wake_ev = event_new(p->base, p->wake_fd, EV_READ | EV_PERSIST,
                                 on_wake, p)) ||
        !(p->tick_ev = evtimer_new(p->base, on_tick, p)) ||
        event_add(p->wake_ev, NULL) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mp_pool_create(&p->pool, &o);
    if (rc == 0 && (rc = mp_pool_attach(p->pool, p->base)) != 0) {
        mp_pool_destroy(p->pool);
        p->pool = NULL;
    }
    Py_END_ALLOW_THREADS
    if (rc) {
        p->closed = 1;
        if (rc == MP_EINVAL) {
            PyErr_Format(PyExc_ValueError, "%s", mp_last_error()
                                                     ? mp_last_error()
                                                     : mp_strerror(rc));
            return -1;
        }
        pyx_mp_error(rc, "could not start the worker pool");
        return -1;
    }
    return 0;
}

static PyObject *pool_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    pyx_pool *p = (pyx_pool *)type->tp_alloc(type, 0);
    if (!p)
        return NULL;
    p->wake_fd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->turn, NULL);
    return (PyObject *)p;
}

/* Hands the done submit() items to their callbacks (GIL held). Returns
   0, or -1 with the first callback's error set. */
static int resolve(item_list *got)
{
    int rc = 0;
    pyx_item *it;
    while ((it = list_pop(got))) {
        int code;
        PyObject *o = pyx_outcome(it, &code);
        PyObject *res = o ? PyObject_CallFunction(it->cb, "Oi", o, code)
                          : NULL;
        if (!res && rc == 0)
            rc = -1;
        if (!res && rc == -1 && got->n)
            PyErr_WriteUnraisable(it->cb);
        Py_XDECREF(res);
        Py_XDECREF(o);
        pyx_item_free(it);
    }
    return rc;
}

/* Takes the done submit() items (GIL held; the mutex taken briefly). */
static item_list take_fdone(pyx_pool *p)
{
    item_list got;
    Py_BEGIN_ALLOW_THREADS
    pyx_pool_lock(p);
    got = p->fdone;
    memset(&p->fdone, 0, sizeof(p->fdone));
    pyx_pool_unlock(p);
    Py_END_ALLOW_THREADS
    return got;
}

static void pool_dealloc(pyx_pool *p)
{
    pyx_pool_close(p);
    item_list got = p->fdone;
    memset(&p->fdone, 0, sizeof(p->fdone));
    if (resolve(&got) < 0)
        PyErr_WriteUnraisable((PyObject *)p);
    if (p->tick_ev)
        event_free(p->tick_ev);
    if (p->wake_ev)
        event_free(p->wake_ev);
    if (p->base)
        event_base_free(p->base);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->turn);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

static int pool_check(pyx_pool *p)
{
    if (!p->pool) {
        PyErr_SetString(PyExc_ValueError, "the pool is closed");
        return -1;
    }
    return 0;
}

/* submit(data, kind, line, cb) -> id: one task; cb(pyx_outcome, code) runs
   when it is done, from whichever thread drives the loop (Pool.drive);
   cancel(id) cancels it. */
static PyObject *pool_submit(pyx_pool *p, PyObject *args)
{
    Py_buffer in;
    int kind;
    unsigned long long line;
    PyObject *cb;
    if (!PyArg_ParseTuple(args, "y*iKO", &in, &kind, &line, &cb))
        return NULL;
    pyx_item *it = calloc(1, sizeof(*it));
    size_t hdr = kind == PYX_FETCH ? sizeof(fetch_in) : 0;
    char *buf = malloc(hdr + (size_t)in.len + 1);
    if (!it || !buf || pool_check(p) < 0) {
        free(it);
        free(buf);
        PyBuffer_Release(&in);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    fetch_in fi = {.line = line};
    if (hdr)
        memcpy(buf, &fi, sizeof(fi));
    memcpy(buf + hdr, in.buf, (size_t)in.len);
    it->p = p;
    it->kind = kind;
    it->line = line;
    it->cb = cb;
    Py_INCREF(cb);
    int rc;
    uint64_t id = 0;
    Py_BEGIN_ALLOW_THREADS
    pyx_pool_lock(p);
    rc = mp_pool_submit(p->pool, kind == PYX_FETCH ? fetch_task : pyx_task,
                        buf, hdr + (size_t)in.len, &it->f);
    if (rc == 0) {
        it->index = id = ++p->fnext_id;
        all_link(&p->fall, it);
        p->fpending++;
        mp_future_on_done(it->f, pyx_on_done, it);
    }
    pyx_pool_unlock(p);
    Py_END_ALLOW_THREADS
    free(buf);
    PyBuffer_Release(&in);
    if (rc) {
        Py_DECREF(cb);
        free(it);
        return pyx_mp_error(rc, "mp_pool_submit");
    }
    return PyLong_FromUnsignedLongLong(id); /* it may be freed by now */
}

/* cancel(id) -> True if submit()'s task id was not done and is canceled
   now (mp_future_cancel: queued, it never runs; at a worker, it is woken
   with MP_ECANCELED); its callback then gets code MP_ECANCELED from the
   driver. False when it is done already or the pool is closed. */
static PyObject *pool_cancel(pyx_pool *p, PyObject *arg)
{
    unsigned long long id = PyLong_AsUnsignedLongLong(arg);
    if (id == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    int hit = 0;
    Py_BEGIN_ALLOW_THREADS
    pyx_pool_lock(p);
    for (pyx_item *it = p->pool ? p->fall : NULL; it; it = it->all_next)
        if (it->index == id) {
            hit = mp_future_cancel(it->f) == 0; /* unlinks it */
            break;
        }
    pyx_pool_unlock(p);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(hit);
}

/* drive(): runs the loop (GIL released) while submit()'s tasks are
   pending, handing each done one to its callback. Returns the number of
   tasks still pending (0, or the pool closed). For the driver thread. */
static PyObject *pool_drive(pyx_pool *p, PyObject *unused)
{
    for (;;) {
        item_list got;
        size_t pending;
        Py_BEGIN_ALLOW_THREADS
        pyx_pool_lock_drive(p);
        while (!p->fdone.n && p->fpending && !p->closed &&
               atomic_load(&p->waiters) == 0)
            if (pyx_loop_once(p, 100) < 0)
                break;
        got = p->fdone;
        memset(&p->fdone, 0, sizeof(p->fdone));
        pending = p->closed ? 0 : p->fpending;
        pyx_pool_unlock(p);
        Py_END_ALLOW_THREADS
        if (resolve(&got) < 0)
            return NULL;
        if (!pending)
            return PyLong_FromSize_t(0);
        if (PyErr_CheckSignals() < 0)
            return NULL;
    }
}

static PyObject *pool_pending(pyx_pool *p, PyObject *unused)
{
    return PyLong_FromSize_t(p->closed ? 0 : p->fpending);
}

static PyObject *pool_close_m(pyx_pool *p, PyObject *unused)
{
    pyx_pool_close(p);
    item_list got = take_fdone(p);
    if (resolve(&got) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *pool_workers(pyx_pool *p, PyObject *unused)
{
    return PyLong_FromLong(p->pool ? mp_pool_workers(p->pool) : 0);
}

/* stats(): the pool's counts; once it is closed, those of its close
   (under mu: a close in another thread is writing them). */
static PyObject *pool_stats(pyx_pool *p, PyObject *unused)
{
    mp_pool_stats s;
    if (!p->closed && pool_check(p) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    pyx_pool_lock(p);
    if (p->pool)
        mp_pool_get_stats(p->pool, &s);
    else
        s = p->last;
    pyx_pool_unlock(p);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K}", "tasks_done",
                         (unsigned long long)s.tasks_done, "tasks_retried",
                         (unsigned long long)s.tasks_retried,
                         "workers_started",
                         (unsigned long long)s.workers_started,
                         "workers_died", (unsigned long long)s.workers_died,
                         "worker_cpu_us", (unsigned long long)s.worker_cpu_us);
}

static PyMethodDef pool_methods[] = {
    {"submit", (PyCFunction)pool_submit, METH_VARARGS, NULL},
    {"cancel", (PyCFunction)pool_cancel, METH_O, NULL},
    {"drive", (PyCFunction)pool_drive, METH_NOARGS, NULL},
    {"pending", (PyCFunction)pool_pending, METH_NOARGS, NULL},
    {"close", (PyCFunction)pool_close_m, METH_NOARGS, NULL},
    {"workers", (PyCFunction)pool_workers, METH_NOARGS, NULL},
    {"stats", (PyCFunction)pool_stats, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

PyTypeObject pyx_pool_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mpool._mpool.Pool",
    .tp_basicsize = sizeof(pyx_pool),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A libmpool pool running the fetch task and Python tasks.",
    .tp_new = pool_new,
    .tp_init = (initproc)pool_init,
    .tp_dealloc = (destructor)pool_dealloc,
    .tp_methods = pool_methods,
};

