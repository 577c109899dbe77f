/*
 * Fuzz target: the Python module's reader of a fetch task's record
 * (pyx_record in python/record.c), the JSON a worker sends over its pipe,
 * made into dicts in the parent by a fast parser that declines what it
 * does not read to json's scanner. json, in an embedded CPython, is the
 * oracle (record.h: "as json.loads gives it ... Text after the object is
 * ignored ... NULL with an error set (json's, for what is not JSON)"):
 *
 *   text = the bytes decoded as UTF-8 with "replace"
 *   ref  = json's scanner at text's first non-whitespace character: what
 *          json.loads(text) reads, text after the value ignored
 *
 * If json.loads(text) succeeds, so does ref, with the same value. Then
 * pyx_record succeeds if and only if ref does, with a value equal to it
 * the strict way: the same types (bool, int, float, str, list, dict,
 * None exactly), dicts' keys in the same order, floats bit for bit (-0.0
 * and NaN included); when it fails, with ref's exception type. A second
 * call on the same input frees all it allocates once its result is
 * released (no reference leaked; the first call may add keys to
 * record.c's cache).
 *
 * CPython's allocators are malloc (what PYTHONMALLOC=malloc sets, here in
 * the preconfiguration: no environment needed), so ASan sees every
 * object's bounds and LeakSanitizer every object; a counting wrapper
 * around its MEM and OBJ domains finds a leaked reference even where the
 * object stays reachable (a list is linked into the garbage collector's
 * lists). CPython is never finalized: what it holds stays reachable.
 * The interpreter is isolated (no PYTHON* variables, no user site).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/* ---- CPython's allocations, counted --------------------------------- */

static long live; /* allocations made minus allocations freed */
static PyMemAllocatorEx orig_mem, orig_obj;

static void *count_malloc(void *ctx, size_t n)
{
    void *p = ((PyMemAllocatorEx *)ctx)->malloc(
        ((PyMemAllocatorEx *)ctx)->ctx, n);
    live += p != NULL;
    return p;
}

static void *count_calloc(void *ctx, size_t k, size_t n)
{
    void *p = ((PyMemAllocatorEx *)ctx)->calloc(
        ((PyMemAllocatorEx *)ctx)->ctx, k, n);
    live += p != NULL;
    return p;
}

static void *count_realloc(void *ctx, void *old, size_t n)
{
    void *p = ((PyMemAllocatorEx *)ctx)->realloc(
        ((PyMemAllocatorEx *)ctx)->ctx, old, n);
    live += !old && p;
    return p;
}

static void count_free(void *ctx, void *p)
{
    live -= p != NULL;
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

static PyObject *loads;     /* json.loads */
static PyObject *scan_once; /* json.JSONDecoder().scan_once: (obj, end) */

static void die(const char *what)
{
    if (PyErr_Occurred())
        PyErr_Print();
    fprintf(stderr, "fuzz_record: %s\n", what);
    abort();
}

/* Returns 1 if a and b are the same JSON value the strict way (above),
   else 0. */
static int same(PyObject *a, PyObject *b)
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
            die("comparing");
        return eq;
    }
    if (PyList_CheckExact(a)) {
        Py_ssize_t n = PyList_GET_SIZE(a);
        if (n != PyList_GET_SIZE(b))
            return 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (!same(PyList_GET_ITEM(a, i), PyList_GET_ITEM(b, i)))
                return 0;
        return 1;
    }
    if (PyDict_CheckExact(a)) {
        Py_ssize_t i = 0, j = 0;
        PyObject *ka, *va, *kb, *vb;
        if (PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b))
            return 0;
        while (PyDict_Next(a, &i, &ka, &va)) /* in order */
            if (!PyDict_Next(b, &j, &kb, &vb) || !same(ka, kb) ||
                !same(va, vb))
                return 0;
        return 1;
    }
    return 0; /* not a type json makes */
}

/* Prints a value for a mismatch's report. */
static void show(const char *label, PyObject *x)
{
    PyObject *r = x ? PyObject_Repr(x) : NULL;
    const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
    fprintf(stderr, "%s: %s\n", label, s ? s : x ? "(no repr)" : "(failed)");
    Py_XDECREF(r);
}

/* Prints the input as a bytes literal. */
static void show_input(const uint8_t *data, size_t size)
{
    PyObject *b = PyBytes_FromStringAndSize((const char *)data,
                                            (Py_ssize_t)size);
    show("input", b);
    Py_XDECREF(b);
}

/* Calls pyx_record and returns its value, or NULL with *type the type of
   the error it set (cleared). */
static PyObject *record(const uint8_t *data, size_t size, PyObject **type)
{
    PyObject *v = pyx_record((const char *)data, size), *t, *e, *tb;
    *type = NULL;
    if (v && PyErr_Occurred())
        die("pyx_record returned a value with an error set");
    if (v)
        return v;
    PyErr_Fetch(&t, &e, &tb);
    if (!t)
        die("pyx_record returned NULL without an error");
    *type = t;
    Py_XDECREF(e);
    Py_XDECREF(tb);
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    PyPreConfig pre;
    PyConfig cfg;

    PyPreConfig_InitIsolatedConfig(&pre);
    pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    if (PyStatus_Exception(Py_PreInitialize(&pre)))
        die("Py_PreInitialize");
    count_domain(PYMEM_DOMAIN_MEM, &orig_mem);
    count_domain(PYMEM_DOMAIN_OBJ, &orig_obj);
    PyConfig_InitIsolatedConfig(&cfg);
    cfg.install_signal_handlers = 0; /* libFuzzer's are the handlers */
    if (PyStatus_Exception(Py_InitializeFromConfig(&cfg)))
        die("Py_InitializeFromConfig");
    PyConfig_Clear(&cfg);

    PyObject *json = PyImport_ImportModule("json");
    PyObject *dec_t = json ? PyObject_GetAttrString(json, "JSONDecoder")
                           : NULL;
    PyObject *dec = dec_t ? PyObject_CallNoArgs(dec_t) : NULL;
    loads = json ? PyObject_GetAttrString(json, "loads") : NULL;
    scan_once = dec ? PyObject_GetAttrString(dec, "scan_once") : NULL;
    Py_XDECREF(dec);
    Py_XDECREF(dec_t);
    Py_XDECREF(json);
    if (!loads || !scan_once)
        die("importing json");
    /* record.c's own scanner, made once (a \u escape is declined) */
    static const char warm[] = "{\"a\":\"\\u00e9\"}";
    PyObject *t, *w;
    if (!(w = record((const uint8_t *)warm, sizeof warm - 1, &t))) {
        show("error", t);
        die("the first record");
    }
    Py_DECREF(w);
    return 0;
}

/* ref for text: json's scanner at its first non-whitespace character.
   Returns its value, or NULL with *type the type of its error (cleared). */
static PyObject *reference(PyObject *text, PyObject **type)
{
    Py_ssize_t i = 0, n = PyUnicode_GET_LENGTH(text);
    PyObject *t, *e, *tb, *v = NULL;
    for (Py_UCS4 c; i < n && ((c = PyUnicode_READ_CHAR(text, i)) == ' ' ||
                              c == '\t' || c == '\n' || c == '\r');)
        i++; /* json's whitespace */
    PyObject *pair = PyObject_CallFunction(scan_once, "On", text, i);
    *type = NULL;
    if (pair) {
        v = PyTuple_GetItem(pair, 0);
        Py_XINCREF(v);
        Py_DECREF(pair);
        return v;
    }
    PyErr_Fetch(&t, &e, &tb);
    *type = t;
    Py_XDECREF(e);
    Py_XDECREF(tb);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *text, *ref, *ref_t, *got, *got_t, *want;

    if (!(text = PyUnicode_DecodeUTF8((const char *)data, (Py_ssize_t)size,
                                      "replace")))
        die("decoding");
    ref = reference(text, &ref_t);
    want = PyObject_CallOneArg(loads, text);
    if (want && (!ref || !same(want, ref)))
        die("json.loads and json's scanner differ");
    Py_XDECREF(want);
    PyErr_Clear();
    Py_DECREF(text);

    got = record(data, size, &got_t);
    if (ref ? !got || !same(got, ref) : got || got_t != ref_t) {
        show_input(data, size);
        show("json", ref ? ref : ref_t);
        show("pyx_record", got ? got : got_t);
        die("pyx_record differs from json");
    }
    Py_XDECREF(got);
    Py_XDECREF(got_t);
    Py_XDECREF(ref);
    Py_XDECREF(ref_t);

    long before = live;
    got = record(data, size, &got_t);
    Py_XDECREF(got);
    Py_XDECREF(got_t);
    if (live != before) {
        show_input(data, size);
        fprintf(stderr, "fuzz_record: %ld allocations not freed\n",
                live - before);
        abort();
    }
    return 0;
}
