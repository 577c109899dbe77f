/*
 * Run: a stream of one kind of task over a Pool, the iterator behind
 * mpool.fetch, afetch and Pool.imap (see pool.c for the turns on the
 * pool's loop). At most `window` tasks are in flight; the input is pulled
 * only as they complete.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "pool_int.h"
#include "record.h"
#include "run.h"
#include "task.h"

/* ---- Run --------------------------------------------------------------- */

/* Returns 1 if the n bytes at s are a line mpfetch skips (blank, or a
   comment after blanks): the same inputs get the same line numbers. */
static int skipped_line(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
                     s[i] == '\v' || s[i] == '\f'))
        i++;
    return i == n || s[i] == '#';
}

/* Makes x (one input) the task's bytes in r->buf: for the fetch task the
   fetch_in header and the line (a str, bytes, or a dict sent as a JSON
   line), for a Python task the pickle as it is. Returns the length, 0 for
   a line mpfetch skips, or -1 with an error set. */
static Py_ssize_t task_input(pyx_run *r, PyObject *x)
{
    PyObject *tmp = NULL;
    const char *s;
    Py_ssize_t n;
    if (r->kind == PYX_FETCH && PyDict_Check(x))
        x = tmp = pyx_json_line(x);
    if (!x)
        return -1;
    if (r->kind == PYX_FETCH && PyUnicode_Check(x)) {
        s = PyUnicode_AsUTF8AndSize(x, &n);
    } else if (PyBytes_Check(x)) {
        s = PyBytes_AS_STRING(x);
        n = PyBytes_GET_SIZE(x);
    } else {
        PyErr_Format(PyExc_TypeError,
                     "mpool: urls must give str, bytes or dict items "
                     "(URLs or mpfetch's JSON input lines), got %.100s "
                     "(item %llu)",
                     Py_TYPE(x)->tp_name, (unsigned long long)r->line);
        s = NULL;
    }
    Py_ssize_t len = -1;
    size_t hdr = r->kind == PYX_FETCH ? sizeof(fetch_in) : 0;
    if (!s)
        goto out;
    len = 0;
    if (r->kind == PYX_FETCH && skipped_line(s, (size_t)n))
        goto out;
    if (hdr + (size_t)n > r->buf_cap) {
        char *b = realloc(r->buf, hdr + (size_t)n);
        if (!b) {
            PyErr_NoMemory();
            len = -1;
            goto out;
        }
        r->buf = b;
        r->buf_cap = hdr + (size_t)n;
    }
    if (hdr) {
        fetch_in fi = {.line = r->line};
        memcpy(r->buf, &fi, sizeof(fi));
    }
    memcpy(r->buf + hdr, s, (size_t)n);
    len = (Py_ssize_t)(hdr + (size_t)n);
out:
    Py_XDECREF(tmp);
    return len;
}

/* Submits r->buf[0..len) as the run's next task. Returns 0 or -1. */
static int submit_one(pyx_run *r, size_t len)
{
    pyx_pool *p = r->p;
    pyx_item *it = calloc(1, sizeof(*it));
    if (!it) {
        PyErr_NoMemory();
        return -1;
    }
    it->p = p;
    it->run = r;
    it->kind = r->kind;
    it->line = r->line;
    it->index = r->next_index;
    /* The GIL is held: pool_lock may block on a driver's loop turn, which
       never waits for the GIL. */
    pyx_pool_lock(p);
    int rc = p->pool ? mp_pool_submit(p->pool,
                                      r->kind == PYX_FETCH ? fetch_task
                                                           : pyx_task,
                                      r->buf, len, &it->f)
                     : MP_EINVAL;
    if (rc == 0)
        mp_future_on_done(it->f, pyx_on_done, it);
    pyx_pool_unlock(p);
    if (rc) {
        free(it);
        if (rc == MP_EINVAL && !p->pool)
            PyErr_SetString(PyExc_ValueError, "the pool is closed");
        else
            pyx_mp_error(rc, "mp_pool_submit");
        return -1;
    }
    all_link(&r->all, it);
    if (r->ordered)
        r->ring[it->index % r->window] = it;
    r->next_index++;
    r->inflight++;
    return 0;
}

static PyObject *later; /* _mpool.LATER */

PyObject *pyx_run_later(void)
{
    if (!later)
        later = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    Py_XINCREF(later);
    return later;
}

/* Pulls inputs and submits them while the run has room, until the input
   ends or gives LATER (nothing yet: afetch's async input). Returns 0, or
   -1 with the input's error (or ours) set. */
static int fill(pyx_run *r)
{
    while (r->it && r->inflight < r->window) {
        PyObject *x = PyIter_Next(r->it);
        if (!x) {
            if (PyErr_Occurred())
                return -1;
            Py_CLEAR(r->it);
            break;
        }
        if (x == later) {
            Py_DECREF(x);
            break;
        }
        r->line++;
        Py_ssize_t len = task_input(r, x);
        Py_DECREF(x);
        if (len < 0 || (len > 0 && submit_one(r, (size_t)len) < 0))
            return -1;
    }
    return 0;
}

/* Returns 1 if a done item waits to be taken (mutex held). */
static int has_done(const pyx_run *r)
{
    if (!r->ordered)
        return r->done.n > 0;
    pyx_item *it = r->inflight ? r->ring[r->head_index % r->window] : NULL;
    return it && it->done;
}

/* Moves the done items the run may hand out, in its order, to its ready
   list. Takes the mutex (GIL held). */
static void collect(pyx_run *r)
{
    pyx_pool_lock(r->p);
    if (!r->ordered) {
        while (r->done.n)
            list_push(&r->ready, list_pop(&r->done));
    } else {
        while (has_done(r)) {
            size_t k = r->head_index++ % r->window;
            list_push(&r->ready, r->ring[k]);
            r->ring[k] = NULL;
        }
    }
    pyx_pool_unlock(r->p);
    if (r->notify_fd >= 0) {
        uint64_t n;
        if (read(r->notify_fd, &n, sizeof(n)) < 0) { /* nothing */ }
    }
}

/* Returns the next outcome from the ready list (a new reference), or NULL:
   none (no error set) or an error. Unfinished tasks are dropped, as
   mpfetch drops their lines. */
static PyObject *pop_ready(pyx_run *r)
{
    pyx_item *it;
    while ((it = list_pop(&r->ready))) {
        all_unlink(&r->all, it);
        r->inflight--;
        int code;
        PyObject *o = pyx_outcome(it, &code);
        pyx_item_free(it);
        if (!o || !code)
            return o;
        Py_DECREF(o);
    }
    return NULL;
}

/* Ends the run: no more input, the tasks not done canceled, every item
   freed; a pool of the run's own is destroyed with its workers. */
static void run_stop(pyx_run *r)
{
    if (r->stopped)
        return;
    r->stopped = 1;
    Py_CLEAR(r->it);
    if (r->all) {
        pyx_pool_lock(r->p);
        for (pyx_item *it = r->all; it; it = it->all_next)
            if (!it->done)
                mp_future_cancel(it->f);
        pyx_pool_unlock(r->p);
    }
    while (r->all) {
        pyx_item *it = r->all;
        all_unlink(&r->all, it);
        pyx_item_free(it);
    }
    memset(&r->done, 0, sizeof(r->done));
    memset(&r->ready, 0, sizeof(r->ready));
    r->inflight = 0;
    if (r->owns_pool)
        pyx_pool_close(r->p);
}

/* The pool went away under the run (Pool.close): raises. */
static int closed_under(pyx_run *r)
{
    if (!r->p->closed)
        return 0;
    PyErr_SetString(PyExc_ValueError, "the pool was closed during the run");
    return -1;
}

static PyObject *run_next(pyx_run *r)
{
    while (!r->stopped) {
        PyObject *o = pop_ready(r);
        if (o)
            return o;
        if (PyErr_Occurred() || fill(r) < 0)
            goto fail;
        if (!r->inflight && !r->it)
            break;
        collect(r);
        if (r->ready.n)
            continue;
        if (closed_under(r) < 0)
            goto fail;
        pyx_pool *p = r->p;
        Py_BEGIN_ALLOW_THREADS
        pyx_pool_lock_drive(p);
        if (!has_done(r) && p->pool)
            pyx_loop_once(p, 100); /* then Ctrl-C is looked at */
        pyx_pool_unlock(p);
        Py_END_ALLOW_THREADS
        if (PyErr_CheckSignals() < 0)
            goto fail;
    }
    run_stop(r);
    return NULL; /* StopIteration */
fail:
    run_stop(r);
    return NULL;
}

/* step(): for asyncio. Submits what fits, runs the loop without waiting,
   and returns (records, finished). */
static PyObject *run_step(pyx_run *r, PyObject *unused)
{
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    for (int round = 0; round < 2 && !r->stopped; round++) {
        if (fill(r) < 0 || closed_under(r) < 0)
            goto fail;
        pyx_pool_lock(r->p);
        for (int k = 0; k < 16; k++) {
            event_base_loop(r->p->base, EVLOOP_NONBLOCK);
            if (!event_base_get_num_events(r->p->base,
                                           EVENT_BASE_COUNT_ACTIVE))
                break;
        }
        pyx_pool_unlock(r->p);
        collect(r);
        PyObject *o;
        size_t got = 0;
        while ((o = pop_ready(r))) {
            got++;
            int rc = PyList_Append(out, o);
            Py_DECREF(o);
            if (rc < 0)
                goto fail;
        }
        if (PyErr_Occurred())
            goto fail;
        if (!got)
            break;
    }
    int finished = r->stopped || (!r->inflight && !r->it);
    if (finished)
        run_stop(r);
    return Py_BuildValue("(NO)", out, finished ? Py_True : Py_False);
fail:
    Py_DECREF(out);
    run_stop(r);
    return NULL;
}

struct fdscan {
    PyObject *rd, *wr;
    double delay; /* seconds to the nearest timer; < 0: none */
    struct timeval now;
};

static int scan_event(const struct event_base *b, const struct event *ev,
                      void *arg)
{
    struct fdscan *s = arg;
    short what = event_get_events(ev);
    evutil_socket_t fd = event_get_fd(ev);
    if (fd >= 0 && (what & (EV_READ | EV_WRITE))) {
        PyObject *n = PyLong_FromLong(fd);
        if (!n || PySet_Add(what & EV_READ ? s->rd : s->wr, n) < 0) {
            Py_XDECREF(n);
            return -1;
        }
        Py_DECREF(n);
    }
    struct timeval tv;
    if (event_pending(ev, EV_TIMEOUT, &tv)) {
        double d = (double)(tv.tv_sec - s->now.tv_sec) +
                   (double)(tv.tv_usec - s->now.tv_usec) / 1e6;
        if (d < 0)
            d = 0;
        if (s->delay < 0 || d < s->delay)
            s->delay = d;
    }
    return 0;
}

/* fds(): (readable fds, writable fds, seconds to the next timer or None):
   what the pool's loop waits for now, for loop.add_reader / add_writer
   and call_later (the fds of the pool that mp_pool_attach put on our
   event_base, its wake eventfd, and the run's own). */
static PyObject *run_fds(pyx_run *r, PyObject *unused)
{
    struct fdscan s = {PySet_New(NULL), PySet_New(NULL), -1.0, {0, 0}};
    if (!s.rd || !s.wr)
        goto fail;
    gettimeofday(&s.now, NULL);
    pyx_pool_lock(r->p);
    int rc = event_base_foreach_event(r->p->base, scan_event, &s);
    pyx_pool_unlock(r->p);
    if (rc < 0)
        goto fail;
    if (r->notify_fd >= 0) {
        PyObject *n = PyLong_FromLong(r->notify_fd);
        if (!n || PySet_Add(s.rd, n) < 0) {
            Py_XDECREF(n);
            goto fail;
        }
        Py_DECREF(n);
    }
    if (s.delay < 0)
        return Py_BuildValue("(NNO)", s.rd, s.wr, Py_None);
    return Py_BuildValue("(NNd)", s.rd, s.wr, s.delay);
fail:
    Py_XDECREF(s.rd);
    Py_XDECREF(s.wr);
    return NULL;
}

static PyObject *run_stop_m(pyx_run *r, PyObject *unused)
{
    run_stop(r);
    Py_RETURN_NONE;
}

/* __enter__ / __exit__: `with mpool.fetch(urls) as records:` stops the run
   on the way out, however the block ends, as close() does. */
static PyObject *run_enter(pyx_run *r, PyObject *unused)
{
    return Py_NewRef((PyObject *)r);
}

static PyObject *run_exit(pyx_run *r, PyObject *args)
{
    run_stop(r);
    Py_RETURN_FALSE;
}

static PyObject *run_inflight(pyx_run *r, PyObject *unused)
{
    return PyLong_FromSize_t(r->inflight);
}

/* Run(pool, iterable, kind, ordered, window, owns_pool, notify) */
static int run_init(pyx_run *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pool",   "iterable",  "kind",   "ordered",
                             "window", "owns_pool", "notify", NULL};
    PyObject *pool, *iterable;
    int kind, ordered, owns, notify = 0;
    Py_ssize_t window;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!Oipnp|p", kwlist,
                                     &pyx_pool_type, &pool, &iterable, &kind,
                                     &ordered, &window, &owns, &notify))
        return -1;
    if (r->p) {
        PyErr_SetString(PyExc_RuntimeError, "Run.__init__ called twice");
        return -1;
    }
    if (window < 1 || (kind != PYX_FETCH && kind != PYX_PYTHON)) {
        PyErr_SetString(PyExc_ValueError, "bad window or kind");
        return -1;
    }
    if (!((pyx_pool *)pool)->pool) {
        PyErr_SetString(PyExc_ValueError, "the pool is closed");
        return -1;
    }
    if (!(r->it = PyObject_GetIter(iterable)))
        return -1;
    r->p = (pyx_pool *)pool;
    Py_INCREF(pool);
    r->kind = kind;
    r->ordered = ordered;
    r->owns_pool = owns;
    r->window = (size_t)window;
    if (ordered && !(r->ring = calloc(r->window, sizeof(*r->ring)))) {
        PyErr_NoMemory();
        return -1;
    }
    if (notify &&
        (r->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *run_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    pyx_run *r = (pyx_run *)type->tp_alloc(type, 0);
    if (r)
        r->notify_fd = -1;
    return (PyObject *)r;
}

static void run_dealloc(pyx_run *r)
{
    if (r->p) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb); /* a KeyboardInterrupt on its way */
        run_stop(r);
        Py_DECREF(r->p);
        PyErr_Restore(type, value, tb);
    }
    Py_XDECREF(r->it);
    if (r->notify_fd >= 0)
        close(r->notify_fd);
    free(r->ring);
    free(r->buf);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyMethodDef run_methods[] = {
    {"step", (PyCFunction)run_step, METH_NOARGS, NULL},
    {"fds", (PyCFunction)run_fds, METH_NOARGS, NULL},
    {"stop", (PyCFunction)run_stop_m, METH_NOARGS, NULL},
    {"close", (PyCFunction)run_stop_m, METH_NOARGS,
     "close(): stop the run, as a generator's close(): the tasks not done "
     "are canceled, a pool of the run's own stops its workers, and next() "
     "raises StopIteration."},
    {"__enter__", (PyCFunction)run_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)run_exit, METH_VARARGS, NULL},
    {"inflight", (PyCFunction)run_inflight, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

PyTypeObject pyx_run_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "mpool._mpool.Run",
    .tp_basicsize = sizeof(pyx_run),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A stream of tasks over a Pool: an iterator of outcomes.",
    .tp_new = run_new,
    .tp_init = (initproc)run_init,
    .tp_dealloc = (destructor)run_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)run_next,
    .tp_methods = run_methods,
};
