/*
 * mpool._mpool: the module itself, the top of the C layer (it calls
 * run.c, pool.c, record.c and task.c; nothing calls it). Its _init() runs libmpool's mp_init at
 * the end of `import mpool` (before the program starts threads, as
 * mp_init's contract asks), so every worker of every pool is a fork of the
 * interpreter as it was then, taken with the GIL held and Python's fork
 * hooks run (PyOS_BeforeFork / AfterFork_Parent here, AfterFork_Child in a
 * worker before its first Python task). The forkserver and the workers of
 * the fetch task never run Python code (task.c: what runs in a worker).
 */
#include <string.h>
#include <sys/resource.h>

#include "pool_int.h"
#include "record.h"
#include "run.h"
#include "task.h"

/* ---- the module's functions ------------------------------------------- */

/* Raises the soft limit on open files to the hard one before the
   forkserver starts (it passes it on to workers), as mpfetch does: every
   connection is a descriptor. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static PyObject *m_init(PyObject *self, PyObject *unused)
{
    static int done;
    if (done)
        Py_RETURN_NONE;
    raise_nofile();
    PyOS_BeforeFork();
    int rc = mp_init(); /* forks the forkserver: GIL held, on purpose */
    PyOS_AfterFork_Parent();
    if (rc)
        return pyx_mp_error(rc, "could not start libmpool's forkserver");
    done = 1;
    Py_RETURN_NONE;
}

/* _pool_options_check(workers, concurrency, prefetch, rate, stack_size)
   -> None, or the sentence naming what is wrong. */
static PyObject *m_pool_options_check(PyObject *self, PyObject *args)
{
    mp_pool_options o;
    memset(&o, 0, sizeof(o));
    Py_ssize_t stack = 0;
    if (!PyArg_ParseTuple(args, "iiidn", &o.workers, &o.concurrency,
                          &o.prefetch, &o.rate, &stack))
        return NULL;
    o.stack_size = (size_t)stack;
    char msg[256];
    if (mp_pool_options_check(&o, msg, sizeof(msg)) == 0)
        Py_RETURN_NONE;
    return PyUnicode_FromString(msg);
}

static PyObject *m_method_name(PyObject *self, PyObject *arg)
{
    const char *m = PyUnicode_AsUTF8(arg);
    if (!m)
        return NULL;
    const char *c = fetch_method_name(m);
    if (!c)
        Py_RETURN_NONE;
    return PyUnicode_FromString(c);
}

static PyObject *m_header_ok(PyObject *self, PyObject *arg)
{
    Py_ssize_t n;
    const char *h = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!h)
        return NULL;
    return PyBool_FromLong(fetch_header_ok(h, (size_t)n));
}

static PyObject *m_engine_ok(PyObject *self, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8(arg);
    return s ? PyBool_FromLong(fetch_engine_code(s) >= 0) : NULL;
}

static PyObject *m_body_ok(PyObject *self, PyObject *arg)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
    return s ? PyBool_FromLong(fetch_body_mode(s, (size_t)n) >= 0) : NULL;
}

static PyObject *m_resolve_ok(PyObject *self, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8(arg);
    return s ? PyBool_FromLong(mp_http_resolve_check(s) == 0) : NULL;
}

static PyObject *m_dns_servers_ok(PyObject *self, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8(arg);
    return s ? PyBool_FromLong(mp_http_dns_servers_check(s) == 0) : NULL;
}

static PyObject *m_cpus(PyObject *self, PyObject *unused)
{
    return PyLong_FromLong(mp_cpus_available());
}

static PyObject *m_err_name(PyObject *self, PyObject *arg)
{
    int code = PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred())
        return NULL;
    return Py_BuildValue("ss", mp_err_name(code), mp_strerror(code));
}

/* _record(bytes) -> what a fetch record becomes (record.c), for tests. */
static PyObject *m_record(PyObject *self, PyObject *arg)
{
    char *s;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &s, &n) < 0)
        return NULL;
    return pyx_record(s, (size_t)n);
}

/* _json_line(x) -> bytes: compact JSON, as record.c writes it. */
static PyObject *m_json_line(PyObject *self, PyObject *arg)
{
    return pyx_json_line(arg);
}

static PyMethodDef methods[] = {
    {"_init", m_init, METH_NOARGS, "mp_init(): start the forkserver"},
    {"_pool_options_check", m_pool_options_check, METH_VARARGS,
     "mp_pool_options_check"},
    {"_method_name", m_method_name, METH_O, "fetch_method_name"},
    {"_header_ok", m_header_ok, METH_O, "fetch_header_ok"},
    {"_engine_ok", m_engine_ok, METH_O, "fetch_engine_code >= 0"},
    {"_body_ok", m_body_ok, METH_O, "fetch_body_mode >= 0"},
    {"_resolve_ok", m_resolve_ok, METH_O, "mp_http_resolve_check"},
    {"_dns_servers_ok", m_dns_servers_ok, METH_O,
     "mp_http_dns_servers_check"},
    {"cpus_available", m_cpus, METH_NOARGS,
     "The CPUs this process may use: the default number of workers."},
    {"_err_name", m_err_name, METH_O, "(mp_err_name, mp_strerror)"},
    {"_record", m_record, METH_O, "a fetch record's JSON as a dict"},
    {"_json_line", m_json_line, METH_O, "compact JSON (UTF-8 bytes)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mpool._mpool",
    .m_doc = "libmpool's C layer (see mpool)",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__mpool(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m || PyType_Ready(&pyx_pool_type) < 0 ||
        PyType_Ready(&pyx_run_type) < 0)
        return NULL;
    Py_INCREF(&pyx_pool_type);
    Py_INCREF(&pyx_run_type);
    PyModule_AddObject(m, "Pool", (PyObject *)&pyx_pool_type);
    PyModule_AddObject(m, "Run", (PyObject *)&pyx_run_type);
    PyObject *later = pyx_run_later();
    if (!later || PyModule_AddObject(m, "LATER", later) < 0)
        return NULL;
    PyModule_AddIntConstant(m, "FETCH", PYX_FETCH);
    PyModule_AddIntConstant(m, "PYTHON", PYX_PYTHON);
    PyModule_AddIntConstant(m, "MAX_WORKERS", MP_MAX_WORKERS);
    PyModule_AddIntConstant(m, "MAX_CONCURRENCY", MP_MAX_CONCURRENCY);
    PyModule_AddIntConstant(m, "MAX_PREFETCH", MP_MAX_PREFETCH);
    PyModule_AddStringConstant(m, "LIBMPOOL_VERSION", MP_VERSION_STRING);
    return m;
}
