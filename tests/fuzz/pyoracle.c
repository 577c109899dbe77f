/* The fuzz targets' embedded CPython and json oracle: see pyoracle.h. */
#include "pyoracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CPython's allocations, counted --------------------------------- */

long pyo_live;
static PyMemAllocatorEx orig_mem, orig_obj;

static void *count_malloc(void *ctx, size_t n)
{
    void *p = ((PyMemAllocatorEx *)ctx)->malloc(
        ((PyMemAllocatorEx *)ctx)->ctx, n);
    pyo_live += p != NULL;
    return p;
}

static void *count_calloc(void *ctx, size_t k, size_t n)
{
    void *p = ((PyMemAllocatorEx *)ctx)->calloc(
        ((PyMemAllocatorEx *)ctx)->ctx, k, n);
    pyo_live += p != NULL;
    return p;
}

static void *count_realloc(void *ctx, void *old, size_t n)
{
    void *p = ((PyMemAllocatorEx *)ctx)->realloc(
        ((PyMemAllocatorEx *)ctx)->ctx, old, n);
    pyo_live += !old && p;
    return p;
}

static void count_free(void *ctx, void *p)
{
    pyo_live -= p != NULL;
    ((PyMemAllocatorEx *)ctx)->free(((PyMemAllocatorEx *)ctx)->ctx, p);
}

static void count_domain(PyMemAllocatorDomain d, PyMemAllocatorEx *orig)
{
    PyMemAllocatorEx a = {orig, count_malloc, count_calloc, count_realloc,
                          count_free};
    PyMem_GetAllocator(d, orig);
    PyMem_SetAllocator(d, &a);
}

/* ---- the oracle ------------------------------------------------------- */

PyObject *pyo_loads, *pyo_scan_once;

void pyo_die(const char *what)
{
    if (PyErr_Occurred())
        PyErr_Print();
    fprintf(stderr, "fuzz: %s\n", what);
    abort();
}

int pyo_same(PyObject *a, PyObject *b)
{
    if (Py_TYPE(a) != Py_TYPE(b))
        return 0;
    if (a == Py_None || PyBool_Check(a))
        return a == b;
    if (PyFloat_CheckExact(a)) {
        double x = PyFloat_AS_DOUBLE(a), y = PyFloat_AS_DOUBLE(b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    if (PyLong_CheckExact(a) || PyUnicode_CheckExact(a)) {
        int eq = PyObject_RichCompareBool(a, b, Py_EQ);
        if (eq < 0)
            pyo_die("comparing");
        return eq;
    }
    if (PyList_CheckExact(a)) {
        Py_ssize_t n = PyList_GET_SIZE(a);
        if (n != PyList_GET_SIZE(b))
            return 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (!pyo_same(PyList_GET_ITEM(a, i), PyList_GET_ITEM(b, i)))
                return 0;
        return 1;
    }
    if (PyDict_CheckExact(a)) {
        Py_ssize_t i = 0, j = 0;
        PyObject *ka, *va, *kb, *vb;
        if (PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b))
            return 0;
        while (PyDict_Next(a, &i, &ka, &va)) /* in order */
            if (!PyDict_Next(b, &j, &kb, &vb) || !pyo_same(ka, kb) ||
                !pyo_same(va, vb))
                return 0;
        return 1;
    }
    return 0; /* not a type json makes */
}

void pyo_show(const char *label, PyObject *x)
{
    PyObject *r = x ? PyObject_Repr(x) : NULL;
    const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
    fprintf(stderr, "%s: %s\n", label, s ? s : x ? "(no repr)" : "(failed)");
    Py_XDECREF(r);
}

void pyo_show_input(const uint8_t *data, size_t size)
{
    PyObject *b = PyBytes_FromStringAndSize((const char *)data,
                                            (Py_ssize_t)size);
    pyo_show("input", b);
    Py_XDECREF(b);
}

void pyo_init(void)
{
    PyPreConfig pre;
    PyConfig cfg;

    PyPreConfig_InitIsolatedConfig(&pre);
    pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    if (PyStatus_Exception(Py_PreInitialize(&pre)))
        pyo_die("Py_PreInitialize");
    count_domain(PYMEM_DOMAIN_MEM, &orig_mem);
    count_domain(PYMEM_DOMAIN_OBJ, &orig_obj);
    PyConfig_InitIsolatedConfig(&cfg);
    cfg.install_signal_handlers = 0; /* libFuzzer's are the handlers */
    if (PyStatus_Exception(Py_InitializeFromConfig(&cfg)))
        pyo_die("Py_InitializeFromConfig");
    PyConfig_Clear(&cfg);

    PyObject *json = PyImport_ImportModule("json");
    PyObject *dec_t = json ? PyObject_GetAttrString(json, "JSONDecoder")
                           : NULL;
    PyObject *dec = dec_t ? PyObject_CallNoArgs(dec_t) : NULL;
    pyo_loads = json ? PyObject_GetAttrString(json, "loads") : NULL;
    pyo_scan_once = dec ? PyObject_GetAttrString(dec, "scan_once") : NULL;
    Py_XDECREF(dec);
    Py_XDECREF(dec_t);
    Py_XDECREF(json);
    if (!pyo_loads || !pyo_scan_once)
        pyo_die("importing json");
}

PyObject *pyo_call(PyObject *(*fn)(const char *, size_t), const char *s,
                   size_t n, PyObject **type)
{
    PyObject *v = fn(s, n), *t, *e, *tb;
    *type = NULL;
    if (v && PyErr_Occurred())
        pyo_die("a value returned with an error set");
    if (v)
        return v;
    PyErr_Fetch(&t, &e, &tb);
    if (!t)
        pyo_die("NULL returned without an error");
    *type = t;
    Py_XDECREF(e);
    Py_XDECREF(tb);
    return NULL;
}

void pyo_no_leak(PyObject *(*fn)(const char *, size_t), const char *s,
                 size_t n, const uint8_t *data, size_t size,
                 const char *who)
{
    PyObject *t;
    long before = pyo_live;
    PyObject *v = pyo_call(fn, s, n, &t);
    Py_XDECREF(v);
    Py_XDECREF(t);
    if (pyo_live != before) {
        pyo_show_input(data, size);
        fprintf(stderr, "%s: %ld allocations not freed\n", who,
                pyo_live - before);
        abort();
    }
}
