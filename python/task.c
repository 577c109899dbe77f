/*
 * What runs in a worker for the module, and its OSError: the Python task
 * (pyx_task), the pool's init function, pyx_mp_error. Every worker is a
 * fork of the interpreter as it was at `import mpool` (module.c's _init),
 * taken with the GIL held; a worker runs Python only for a Python task, on
 * its one thread, holding the GIL for good.
 */
#include "task.h"

PyObject *pyx_mp_error(int rc, const char *what)
{
    const char *last = rc == MP_EINIT || rc == MP_EWORKER ? mp_last_error()
                                                          : NULL;
    PyErr_Format(PyExc_OSError, "%s: %s (%s)%s%s", what, mp_strerror(rc),
                 mp_err_name(rc), last && *last ? ": " : "",
                 last ? last : "");
    return NULL;
}

/* ---- in a worker: the Python task --------------------------------------- */

static int py_forked; /* PyOS_AfterFork_Child ran in this worker */
static PyObject *py_run; /* mpool._worker.run */

/* Returns the module's run function, preparing the interpreter the first
   time in this worker. Returns a borrowed reference, or NULL with a Python
   error set. */
static PyObject *worker_run_fn(void)
{
    if (!py_forked) {
        /* The GIL was held by this thread when mp_init forked: the
           interpreter is ours alone; make it so (threads, locks, the
           os.register_at_fork hooks). */
        PyOS_AfterFork_Child();
        py_forked = 1;
    }
    if (!py_run) {
        PyObject *m = PyImport_ImportModule("mpool._worker");
        if (!m)
            return NULL;
        py_run = PyObject_GetAttrString(m, "run");
        Py_DECREF(m);
    }
    return py_run;
}

/* Says in a task's failure what Python raised where no pickled answer
   could be made. Returns the code stored. */
static int fail_with_python_error(mp_task *t)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    int rc = mp_fail(t, MP_ETASK, "%s: %s",
                     type ? ((PyTypeObject *)type)->tp_name : "error",
                     msg ? msg : "?");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return rc;
}

/*
 * The Python task: in is a pickle of (function, args, kwargs) made by
 * mpool.Pool; mpool._worker.run calls it and returns the pickled outcome,
 * (True, value) or (False, exception, traceback text). It runs to the end
 * without awaiting (a Python call cannot be suspended), so it holds its
 * worker's loop meanwhile. Returns 0, or MP_ETASK when no answer could be
 * pickled.
 */
int pyx_task(mp_task *t, const void *in, size_t len)
{
    PyObject *run = worker_run_fn();
    if (!run)
        return fail_with_python_error(t);
    PyObject *arg = PyBytes_FromStringAndSize(in, (Py_ssize_t)len);
    PyObject *res = arg ? PyObject_CallOneArg(run, arg) : NULL;
    Py_XDECREF(arg);
    if (!res || !PyBytes_Check(res)) {
        Py_XDECREF(res);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "run() returned no bytes");
        return fail_with_python_error(t);
    }
    int rc = mp_return(t, PyBytes_AS_STRING(res),
                       (size_t)PyBytes_GET_SIZE(res));
    Py_DECREF(res);
    return rc;
}

/* The pool's init function: the fetch task's configuration (JSON). */
int pyx_worker_init(const void *arg, size_t len)
{
    return fetch_init(arg, len);
}
