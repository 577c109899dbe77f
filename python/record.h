/*
 * record.c: a fetch task's JSON record made into Python objects, and the
 * JSON line of an input given as a dict. Calls nothing of the module's
 * (mpool_ext.h: the order of the files' calls).
 */
#ifndef MPOOL_RECORD_H
#define MPOOL_RECORD_H

#include "mpool_ext.h"

/* The n bytes at s, one JSON object as the fetch task writes it (UTF-8,
   bad bytes read as U+FFFD), as json.loads gives it: dicts, lists, str,
   int, float, True, False, None; keys are interned and shared between
   records. json's whitespace before the object is skipped, as json.loads
   skips it; text after the object is ignored. Returns a new reference, or
   NULL with an error set (json's, for what is not JSON). GIL held. */
PyObject *pyx_record(const char *s, size_t n);

/* The n bytes at s, one record in jsonw.h's binary form, as pyx_record
   reads the same record written as JSON text: the same dict, the same
   types, floats bit for bit (tests/fuzz/fuzz_binrec.c). Bytes that do
   not follow the form are a ValueError. Returns a new reference, or NULL
   with an error set. GIL held. */
PyObject *pyx_record_bin(const char *s, size_t n);

/* A fetch task's record in either form (its first byte tells):
   pyx_record_bin or pyx_record. */
PyObject *pyx_fetch_record(const char *s, size_t n);

/* json.dumps(x, separators=(",", ":"), ensure_ascii=False) as UTF-8: a
   dict input as mpfetch's JSON input line, the fetch task's
   configuration. Written here for dicts, lists, tuples, str, int, float,
   True, False and None (json is imported only for the rest). Returns new
   bytes, or NULL with an error set. GIL held. */
PyObject *pyx_json_line(PyObject *x);

#endif
