/*
 * The fuzz targets of python/record.c share this: an embedded CPython
 * whose allocations are counted, json as the oracle, and the strict
 * comparison of two values json makes (fuzz_record.c, fuzz_binrec.c).
 *
 * CPython's allocators are malloc (what PYTHONMALLOC=malloc sets, here in
 * the preconfiguration: no environment needed), so ASan sees every
 * object's bounds and LeakSanitizer every object; a counting wrapper
 * around its MEM and OBJ domains finds a leaked reference even where the
 * object stays reachable (a list is linked into the garbage collector's
 * lists). CPython is never finalized: what it holds stays reachable.
 * The interpreter is isolated (no PYTHON* variables, no user site).
 */
#ifndef PYORACLE_H
#define PYORACLE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>

/* CPython's allocations made minus those freed, so far. */
extern long pyo_live;
/* json.loads, and json.JSONDecoder().scan_once ((obj, end)). */
extern PyObject *pyo_loads, *pyo_scan_once;

/* Starts CPython and imports json (aborts if it cannot). */
void pyo_init(void);
/* Prints the Python error if one is set, then what, and aborts. */
void pyo_die(const char *what);
/* Returns 1 if a and b are the same JSON value the strict way: the same
   types (bool, int, float, str, list, dict, None exactly), dicts' keys
   in the same order, floats bit for bit (-0.0 and NaN included). */
int pyo_same(PyObject *a, PyObject *b);
/* Prints label: repr(x), for a mismatch's report. */
void pyo_show(const char *label, PyObject *x);
/* Prints the input as a bytes literal. */
void pyo_show_input(const uint8_t *data, size_t size);
/* The value fn(s, n) returns, or NULL with *type the type of the error
   it set (cleared); aborts when fn breaks the convention (a value with
   an error set, NULL without one). */
PyObject *pyo_call(PyObject *(*fn)(const char *, size_t), const char *s,
                   size_t n, PyObject **type);
/* Calls fn(s, n) again and aborts, naming who and showing the fuzz
   input data, if it did not free all it allocated once its result is
   released (a reference leaked). */
void pyo_no_leak(PyObject *(*fn)(const char *, size_t), const char *s,
                 size_t n, const uint8_t *data, size_t size,
                 const char *who);

#endif
