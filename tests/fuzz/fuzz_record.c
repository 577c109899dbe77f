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
 * record.c's cache). pyoracle.c holds the embedded CPython and counts
 * its allocations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyoracle.h"
#include "record.h"

/* pyx_record's value, or NULL with *type its error's type. */
static PyObject *record(const uint8_t *data, size_t size, PyObject **type)
{
    return pyo_call(pyx_record, (const char *)data, size, type);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pyo_init();
    /* record.c's own scanner, made once (a \u escape is declined) */
    static const char warm[] = "{\"a\":\"\\u00e9\"}";
    PyObject *t, *w;
    if (!(w = record((const uint8_t *)warm, sizeof warm - 1, &t))) {
        pyo_show("error", t);
        pyo_die("the first record");
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
    PyObject *pair = PyObject_CallFunction(pyo_scan_once, "On", text, i);
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
        pyo_die("decoding");
    ref = reference(text, &ref_t);
    want = PyObject_CallOneArg(pyo_loads, text);
    if (want && (!ref || !pyo_same(want, ref)))
        pyo_die("json.loads and json's scanner differ");
    Py_XDECREF(want);
    PyErr_Clear();
    Py_DECREF(text);

    got = record(data, size, &got_t);
    if (ref ? !got || !pyo_same(got, ref) : got || got_t != ref_t) {
        pyo_show_input(data, size);
        pyo_show("json", ref ? ref : ref_t);
        pyo_show("pyx_record", got ? got : got_t);
        pyo_die("pyx_record differs from json");
    }
    Py_XDECREF(got);
    Py_XDECREF(got_t);
    Py_XDECREF(ref);
    Py_XDECREF(ref_t);

    pyo_no_leak(pyx_record, (const char *)data, size, data, size,
                "fuzz_record");
    return 0;
}
