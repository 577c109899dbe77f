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
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
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

/* _fetch_pool_options(workers, concurrency) -> (workers, concurrency,
   prefetch): the fetch task's pool options (fetch_pool_options, the
   credit rule mpfetch's -w and -c go through). */
static PyObject *m_fetch_pool_options(PyObject *self, PyObject *args)
{
    int workers, concurrency;
    mp_pool_options o;
    if (!PyArg_ParseTuple(args, "ii", &workers, &concurrency))
        return NULL;
    fetch_pool_options(&o, workers, concurrency);
    return Py_BuildValue("iii", o.workers, o.concurrency, o.prefetch);
}

/* _fetch_ms(seconds) -> milliseconds (fetch_ms: rounded, at least 1 for
   seconds > 0, at most UINT_MAX). */
static PyObject *m_fetch_ms(PyObject *self, PyObject *arg)
{
    double s = PyFloat_AsDouble(arg);
    if (s == -1.0 && PyErr_Occurred())
        return NULL;
    return PyLong_FromUnsignedLong(fetch_ms(s));
}

/* _fetch_task_timeout_ms(timeout, connect_timeout, retries) -> the pool's
   deadline for one fetch task in ms (fetch_task_timeout_ms, mpfetch's). */
static PyObject *m_fetch_task_timeout_ms(PyObject *self, PyObject *args)
{
    double timeout, connect_timeout;
    unsigned retries;
    if (!PyArg_ParseTuple(args, "ddI", &timeout, &connect_timeout, &retries))
        return NULL;
    return PyLong_FromUnsignedLong(
        fetch_task_timeout_ms(timeout, connect_timeout, retries));
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

/* ---- the fetch task's configuration ----------------------------------- */

/* How a field of fetch_cfg is given from Python. */
enum { CF_UINT, CF_BOOL, CF_TEXT, CF_TEXTS, CF_SIZE, CF_ENGINE, CF_BODY,
       CF_DATA };

/* The fields _fetch_config takes, by their fetch_cfg names; for CF_TEXTS
   n_off is where the count goes. */
static const struct cfg_field {
    const char *name;
    int kind;
    size_t off, n_off;
} cfg_fields[] = {
#define CF(f, kind) {#f, kind, offsetof(fetch_cfg, f), 0}
    CF(method, CF_TEXT),
    {"headers", CF_TEXTS, offsetof(fetch_cfg, headers),
     offsetof(fetch_cfg, n_headers)},
    CF(data, CF_DATA),
    CF(timeout_ms, CF_UINT),
    CF(connect_timeout_ms, CF_UINT),
    CF(max_redirs, CF_UINT),
    CF(follow, CF_BOOL),
    CF(compressed, CF_BOOL),
    CF(insecure, CF_BOOL),
    CF(include_headers, CF_BOOL),
    CF(http1, CF_BOOL),
    CF(engine, CF_ENGINE),
    CF(cacert, CF_TEXT),
    CF(proxy, CF_TEXT),
    CF(noproxy, CF_TEXT),
    CF(proxy_insecure, CF_BOOL),
    CF(proxy_cacert, CF_TEXT),
    CF(retries, CF_UINT),
    CF(per_host, CF_UINT),
    CF(body, CF_BODY),
    CF(body_dir, CF_TEXT),
    CF(max_body, CF_SIZE),
    CF(speed_limit, CF_UINT),
    CF(speed_time, CF_UINT),
    {"resolve", CF_TEXTS, offsetof(fetch_cfg, resolve),
     offsetof(fetch_cfg, n_resolve)},
    CF(dns_servers, CF_TEXT),
#undef CF
};

/* Returns the contents of the bytes object arg, its length in *n, or
   NULL with a TypeError (arg is not bytes). */
static const char *bytes_arg(PyObject *arg, size_t *n)
{
    char *s;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(arg, &s, &len) < 0)
        return NULL;
    *n = (size_t)len;
    return s;
}

/* Returns the bytes of text v (str: UTF-8, lone surrogates passed through,
   so that fetch_config_json refuses them by name; or bytes), a new
   reference appended to keep (which holds them alive), or NULL with an
   exception. A NUL would cut the text short: refused. */
static const char *cfg_bytes(PyObject *v, const char *name, PyObject *keep,
                             Py_ssize_t *len, int nul_ok)
{
    PyObject *b = PyUnicode_Check(v)
                      ? PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass")
                  : PyBytes_Check(v) ? Py_NewRef(v)
                                     : NULL;
    if (!b) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%s must be a str, got %R", name,
                         v);
        return NULL;
    }
    int rc = PyList_Append(keep, b);
    Py_DECREF(b);
    if (rc < 0)
        return NULL;
    *len = PyBytes_GET_SIZE(b);
    if (!nul_ok && memchr(PyBytes_AS_STRING(b), '\0', (size_t)*len)) {
        PyErr_Format(PyExc_ValueError, "%s must not hold a NUL", name);
        return NULL;
    }
    return PyBytes_AS_STRING(b);
}

/* Sets the CF_TEXTS field f of c from the list or tuple v. Returns 0, or
   -1 with an exception. */
static int cfg_texts(fetch_cfg *c, const struct cfg_field *f, PyObject *v,
                     PyObject *keep)
{
    PyObject *seq = PySequence_Fast(v, "a list of str");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), len;
    PyObject *arr = PyBytes_FromStringAndSize(NULL,
                                              (n + 1) * sizeof(char *));
    int rc = arr && PyList_Append(keep, arr) == 0 ? 0 : -1;
    const char **a = arr ? (const char **)PyBytes_AS_STRING(arr) : NULL;
    Py_XDECREF(arr);
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
        if (!(a[i] = cfg_bytes(PySequence_Fast_GET_ITEM(seq, i), f->name,
                               keep, &len, 0)))
            rc = -1;
    Py_DECREF(seq);
    if (rc == 0) {
        *(const char ***)((char *)c + f->off) = a;
        *(size_t *)((char *)c + f->n_off) = (size_t)n;
    }
    return rc;
}

/* Sets the field f of c from v. Returns 0, or -1 with an exception. */
static int cfg_set(fetch_cfg *c, const struct cfg_field *f, PyObject *v,
                   PyObject *keep)
{
    char *at = (char *)c + f->off;
    Py_ssize_t len;
    const char *s;
    unsigned long long u;
    switch (f->kind) {
    case CF_UINT:
    case CF_SIZE:
        u = PyLong_AsUnsignedLongLong(v);
        if (PyErr_Occurred())
            return -1;
        if (f->kind == CF_SIZE)
            *(size_t *)at = (size_t)u;
        else if (u > UINT_MAX)
            goto range;
        else
            *(unsigned *)at = (unsigned)u;
        return 0;
    case CF_BOOL:
        return (*(int *)at = PyObject_IsTrue(v)) < 0 ? -1 : 0;
    case CF_TEXTS:
        return cfg_texts(c, f, v, keep);
    case CF_DATA:
        if (!(c->data = cfg_bytes(v, f->name, keep, &len, 1)))
            return -1;
        c->data_len = (size_t)len;
        c->has_data = 1;
        return 0;
    }
    if (!(s = cfg_bytes(v, f->name, keep, &len, 0)))
        return -1;
    if (f->kind == CF_TEXT)
        *(const char **)at = s;
    else if ((*(int *)at = f->kind == CF_ENGINE
                               ? fetch_engine_code(s)
                               : fetch_body_mode(s, (size_t)len)) < 0)
        goto range;
    return 0;
range:
    PyErr_Format(PyExc_ValueError, "%s: %R is out of range", f->name, v);
    return -1;
}

/* _fetch_config(fields) -> bytes, or (key, index): the fetch task's
   configuration (the pool's init argument) built by the fetch task's own
   writer, fetch_config_json, from a fetch_cfg at its defaults (records
   in the binary form, which pyx_record_bin reads) with the
   dict's fields (fetch_cfg's names) set; (key, index) names the text
   that writer refused (fetch_config_json's bad_key, bad_index). An
   unknown field is a TypeError, a value of the wrong kind a TypeError or
   ValueError naming it: the Python front end checks its options first,
   under their own names. */
static PyObject *m_fetch_config(PyObject *self, PyObject *fields)
{
    fetch_cfg c;
    PyObject *key, *v, *keep = PyList_New(0), *out = NULL;
    Py_ssize_t pos = 0;
    if (!keep)
        return NULL;
    if (!PyDict_Check(fields)) {
        PyErr_SetString(PyExc_TypeError, "_fetch_config takes a dict");
        goto done;
    }
    fetch_config_defaults(&c);
    c.binary_records = 1; /* what record.c reads fastest */
    while (PyDict_Next(fields, &pos, &key, &v)) {
        const char *k = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        size_t i = 0, n = sizeof cfg_fields / sizeof cfg_fields[0];
        while (k && i < n && strcmp(k, cfg_fields[i].name) != 0)
            i++;
        if (!k || i == n) {
            PyErr_Format(PyExc_TypeError, "_fetch_config: no field %R", key);
            goto done;
        }
        if (cfg_set(&c, &cfg_fields[i], v, keep) < 0)
            goto done;
    }
    const char *bad_key;
    size_t bad_index;
    char *text = fetch_config_json(&c, &bad_key, &bad_index);
    if (text) {
        out = PyBytes_FromString(text);
        free(text);
    } else if (!bad_key) {
        PyErr_NoMemory();
    } else {
        out = Py_BuildValue("sn", bad_key, (Py_ssize_t)bad_index);
    }
done:
    Py_DECREF(keep);
    return out;
}

/* Returns the n strings a as a list, or NULL with an exception. */
static PyObject *str_list(const char *const *a, size_t n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *s = PyUnicode_FromString(a[i]);
        if (!s) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

/* Returns a text field as str, None for NULL. */
static PyObject *str_or_none(const char *s)
{
    return s ? PyUnicode_FromString(s) : Py_NewRef(Py_None);
}

/* _fetch_config_parse(bytes) -> dict of every fetch_cfg field (the
   names _fetch_config takes, and retry_base_ms, retry_max_ms,
   total_conns), or None: what a worker reads from the configuration
   (fetch_config_parse, as fetch_init calls it), for the tests. It
   creates body_dir, as a worker does. */
static PyObject *m_fetch_config_parse(PyObject *self, PyObject *arg)
{
    size_t n;
    fetch_cfg c;
    const char *s = bytes_arg(arg, &n);
    if (!s)
        return NULL;
    if (fetch_config_parse(s, n, &c) < 0)
        Py_RETURN_NONE;
    PyObject *d = Py_BuildValue(
        "{s:N,s:N,s:N,s:I,s:I,s:I,s:O,s:O,s:O,s:O,s:O,s:N,s:N,s:N,s:N,"
        "s:I,s:I,s:I,s:I,s:I,s:N,s:N,s:n,s:I,s:I,s:N,s:N,s:O,s:N,s:O}",
        "method", str_or_none(c.method), "headers",
        str_list(c.headers, c.n_headers), "data",
        c.has_data ? PyBytes_FromStringAndSize(c.data, (Py_ssize_t)c.data_len)
                   : Py_NewRef(Py_None),
        "timeout_ms", c.timeout_ms, "connect_timeout_ms",
        c.connect_timeout_ms, "max_redirs", c.max_redirs, "follow",
        c.follow ? Py_True : Py_False, "compressed",
        c.compressed ? Py_True : Py_False, "insecure",
        c.insecure ? Py_True : Py_False, "include_headers",
        c.include_headers ? Py_True : Py_False, "http1",
        c.http1 ? Py_True : Py_False, "engine",
        str_or_none(fetch_engine_name(c.engine)), "cacert",
        str_or_none(c.cacert), "proxy", str_or_none(c.proxy), "noproxy",
        str_or_none(c.noproxy), "retries", c.retries, "retry_base_ms",
        c.retry_base_ms, "retry_max_ms", c.retry_max_ms, "per_host",
        c.per_host, "total_conns", c.total_conns, "body",
        str_or_none(fetch_body_name(c.body)), "body_dir",
        str_or_none(c.body_dir), "max_body", (Py_ssize_t)c.max_body,
        "speed_limit", c.speed_limit, "speed_time", c.speed_time, "resolve",
        str_list(c.resolve, c.n_resolve), "dns_servers",
        str_or_none(c.dns_servers), "proxy_insecure",
        c.proxy_insecure ? Py_True : Py_False, "proxy_cacert",
        str_or_none(c.proxy_cacert), "binary_records",
        c.binary_records ? Py_True : Py_False);
    fetch_config_free(&c);
    return d;
}

/* ---- resume=: the file's done lines and run stamps ------------------ */

/* LineSet: the lines of a resume file that have a record, as
   fetch_resume_load (workers/fetch_resume.h, mpfetch --resume's reader)
   found them, in its compact set (a bit per line, in 64-line words):
   `n in s` and len(s), nothing else; made only by _resume_load. */
typedef struct {
    PyObject_HEAD
    fetch_lineset set;
} pyx_lineset;

static void lineset_dealloc(PyObject *o)
{
    fetch_lineset_free(&((pyx_lineset *)o)->set);
    Py_TYPE(o)->tp_free(o);
}

static Py_ssize_t lineset_len(PyObject *o)
{
    uint64_t n = ((pyx_lineset *)o)->set.lines;
    return n > (uint64_t)PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)n;
}

/* `k in s`: 1 for an int line number in the set, else 0 (any other
   object, 0, a negative or one past 2^64 is in no set). */
static int lineset_contains(PyObject *o, PyObject *k)
{
    if (!PyLong_Check(k))
        return 0;
    unsigned long long v = PyLong_AsUnsignedLongLong(k);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear(); /* negative, or too big for any file's line */
        return 0;
    }
    return fetch_lineset_has(&((pyx_lineset *)o)->set, v);
}

/* sys.getsizeof: the object and its table, what the set costs. */
static PyObject *lineset_sizeof(PyObject *o, PyObject *unused)
{
    const fetch_lineset *s = &((pyx_lineset *)o)->set;
    return PyLong_FromSize_t(sizeof(pyx_lineset) +
                             s->cap * (sizeof(*s->keys) + sizeof(*s->bits)));
}

static PySequenceMethods lineset_seq = {
    .sq_length = lineset_len,
    .sq_contains = lineset_contains,
};

static PyMethodDef lineset_methods[] = {
    {"__sizeof__", lineset_sizeof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject pyx_lineset_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mpool._mpool.LineSet",
    .tp_doc = "The lines of a resume file that have a record.",
    .tp_basicsize = sizeof(pyx_lineset),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = lineset_dealloc,
    .tp_as_sequence = &lineset_seq,
    .tp_methods = lineset_methods,
};

/* A run stamp as Python has it: (shard_k, shard_n, bytes, fnv, name),
   what _stamp_need and _stamp_check take back. Returns a new reference,
   or NULL with an exception. */
static PyObject *stamp_tuple(const fetch_stamp *st)
{
    /* the name may be cut inside a character (fetch_stamp.name) */
    PyObject *name = PyUnicode_DecodeUTF8(st->name,
                                          (Py_ssize_t)strlen(st->name),
                                          "replace");
    return name ? Py_BuildValue("KKKKN", (unsigned long long)st->shard_k,
                                (unsigned long long)st->shard_n,
                                (unsigned long long)st->bytes,
                                (unsigned long long)st->fnv, name)
                : NULL;
}

/* Returns the list of the n stamps a as stamp_tuple's, or NULL with an
   exception. */
static PyObject *stamp_list(const fetch_stamp *a, unsigned n)
{
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (unsigned i = 0; l && i < n; i++) {
        PyObject *t = stamp_tuple(&a[i]);
        if (!t)
            Py_CLEAR(l);
        else
            PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

/* _resume_load(fd) -> (lines, stamps, bad): the file of records open on
   fd read by fetch_resume_load, mpfetch --resume's reader, from its
   offset, the GIL released: the LineSet of the lines with a record, the
   distinct run stamps (stamp_tuple's, at most FETCH_RESUME_MAX_STAMPS)
   and the count of "run" members no writer of ours wrote. A torn last
   record counts for no line (the file is not written). OSError when the
   file cannot be read, MemoryError. */
static PyObject *m_resume_load(PyObject *self, PyObject *arg)
{
    int fd = PyObject_AsFileDescriptor(arg), rc;
    if (fd < 0)
        return NULL;
    fetch_resume_info *ri = PyMem_Malloc(sizeof(*ri));
    if (!ri)
        return PyErr_NoMemory();
    pyx_lineset *ls = PyObject_New(pyx_lineset, &pyx_lineset_type);
    if (!ls) {
        PyMem_Free(ri);
        return NULL;
    }
    memset(&ls->set, 0, sizeof(ls->set));
    Py_BEGIN_ALLOW_THREADS
    rc = fetch_resume_load(fd, UINT64_MAX, &ls->set, ri);
    Py_END_ALLOW_THREADS
    PyObject *stamps = NULL;
    if (rc == -ENOMEM)
        PyErr_NoMemory();
    else if (rc) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
    } else
        stamps = stamp_list(ri->stamps, ri->n_stamps);
    unsigned long long bad = ri->bad_stamps;
    PyMem_Free(ri);
    if (!stamps) {
        Py_DECREF(ls);
        return NULL;
    }
    return Py_BuildValue("NNK", (PyObject *)ls, stamps, bad);
}

/* Fills the n stamps a (malloc'd, *a) from the list of stamp_tuple's
   l. Returns 0, or -1 with an exception. */
static int stamps_from(PyObject *l, fetch_stamp **a, size_t *n)
{
    PyObject *seq = PySequence_Fast(l, "a list of stamps");
    if (!seq)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    *n = 0;
    *a = PyMem_Calloc((size_t)len + 1, sizeof(fetch_stamp));
    if (!*a) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned long long k, sn, bytes, fnv;
        const char *name;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "KKKKs", &k,
                              &sn, &bytes, &fnv, &name)) {
            Py_DECREF(seq);
            return -1;
        }
        fetch_stamp *st = &(*a)[i];
        st->shard_k = k;
        st->shard_n = sn;
        st->bytes = bytes;
        st->fnv = fnv;
        snprintf(st->name, sizeof st->name, "%s", name);
    }
    *n = (size_t)len;
    Py_DECREF(seq);
    return 0;
}

/* _stamp_need(stamps) -> how many of the new input's first bytes
   _stamp_check needs (fetch_stamp_need). */
static PyObject *m_stamp_need(PyObject *self, PyObject *arg)
{
    fetch_stamp *a = NULL;
    size_t n;
    if (stamps_from(arg, &a, &n) < 0) {
        PyMem_Free(a);
        return NULL;
    }
    size_t need = fetch_stamp_need(a, n);
    PyMem_Free(a);
    return PyLong_FromSize_t(need);
}

/* _stamp_check(output, stamps, bad, head, name) -> None when resuming
   the file output is safe for this input (no shard; its name for
   messages; head its first bytes, _stamp_need of them), else the
   sentence saying why: fetch_stamp_check, mpfetch --resume's check and
   words, the file named "resume=PATH". */
static PyObject *m_stamp_check(PyObject *self, PyObject *args)
{
    const char *output, *name, *head;
    PyObject *l;
    unsigned long long bad;
    Py_ssize_t len;
    fetch_stamp want, *a = NULL;
    size_t n;
    if (!PyArg_ParseTuple(args, "sOKy#s", &output, &l, &bad, &head, &len,
                          &name))
        return NULL;
    if (stamps_from(l, &a, &n) < 0) {
        PyMem_Free(a);
        return NULL;
    }
    fetch_stamp_make(&want, 0, 0, name, head, (size_t)len);
    char msg[8192]; /* two paths and a name */
    int rc = fetch_stamp_check(&want, a, n, bad, head, (size_t)len, output,
                               "resume=PATH", msg, sizeof msg);
    PyMem_Free(a);
    if (!rc)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
}

/* _record(bytes) -> what a fetch record becomes (record.c), for tests. */
static PyObject *m_record(PyObject *self, PyObject *arg)
{
    size_t n;
    const char *s = bytes_arg(arg, &n);
    return s ? pyx_record(s, n) : NULL;
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
    {"_fetch_pool_options", m_fetch_pool_options, METH_VARARGS,
     "fetch_pool_options: the pool's workers, concurrency, prefetch"},
    {"_fetch_ms", m_fetch_ms, METH_O, "fetch_ms: seconds to ms"},
    {"_fetch_task_timeout_ms", m_fetch_task_timeout_ms, METH_VARARGS,
     "fetch_task_timeout_ms: the pool's deadline for one fetch task"},
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
    {"_fetch_config", m_fetch_config, METH_O,
     "the fetch task's configuration: fetch_config_json"},
    {"_fetch_config_parse", m_fetch_config_parse, METH_O,
     "fetch_config_parse, as a worker reads the configuration"},
    {"_resume_load", m_resume_load, METH_O,
     "fetch_resume_load: (lines, stamps, bad) of a resume file's fd"},
    {"_stamp_need", m_stamp_need, METH_O, "fetch_stamp_need"},
    {"_stamp_check", m_stamp_check, METH_VARARGS, "fetch_stamp_check"},
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
        PyType_Ready(&pyx_run_type) < 0 ||
        PyType_Ready(&pyx_lineset_type) < 0)
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
    PyModule_AddIntConstant(m, "STAMP_BYTES", FETCH_STAMP_BYTES);
    /* the options' bounds (fetch_config.h, fetch_pool.h), mpfetch's too */
    if (PyModule_AddObject(m, "FETCH_MAX_BODY",
                           PyLong_FromSize_t(FETCH_MAX_BODY)) < 0 ||
        PyModule_AddIntConstant(m, "FETCH_MAX_RETRIES", FETCH_MAX_RETRIES) ||
        PyModule_AddIntConstant(m, "FETCH_MAX_REDIRS", FETCH_MAX_REDIRS) ||
        PyModule_AddIntConstant(m, "FETCH_MAX_PER_HOST", FETCH_MAX_PER_HOST) ||
        PyModule_AddIntConstant(m, "FETCH_MAX_SPEED_TIME",
                                FETCH_MAX_SPEED_TIME) ||
        PyModule_AddObject(m, "FETCH_MAX_SPEED_LIMIT",
                           PyLong_FromUnsignedLong(FETCH_MAX_SPEED_LIMIT)) ||
        PyModule_AddIntConstant(m, "FETCH_MAX_SECONDS", FETCH_MAX_SECONDS) ||
        PyModule_AddObject(m, "FETCH_MIN_CONNECT_TIMEOUT",
                           PyFloat_FromDouble(FETCH_MIN_CONNECT_TIMEOUT)) ||
        PyModule_AddObject(m, "FETCH_MAX_RATE",
                           PyFloat_FromDouble(FETCH_MAX_RATE)) ||
        PyModule_AddIntConstant(m, "FETCH_MIN_CREDIT", FETCH_MIN_CREDIT) ||
        PyModule_AddIntConstant(m, "FETCH_MAX_CREDIT", FETCH_MAX_CREDIT))
        return NULL;
    PyModule_AddStringConstant(m, "LIBMPOOL_VERSION", MP_VERSION_STRING);
    return m;
}
