/*
 * Fuzz target: the binary form of a fetch task's record (jsonw.h), the
 * bytes a worker sends the Python module's parent when it asks for
 * "binary_records", and its reader there (pyx_record_bin in
 * python/record.c). json, in an embedded CPython (pyoracle.c), is the
 * oracle. The input is either of:
 *
 *   a program (first byte < 0x80): the rest are calls of jsonw.h's
 *   writer, made on a text writer and on a binary one alike. The text
 *   must be JSON that json.loads reads, and pyx_record_bin must read the
 *   binary bytes as the same value the strict way (types, key order,
 *   floats bit for bit): both forms of a record are one record.
 *
 *   raw bytes (first byte >= 0x80): JWB_OBJ, then the rest, as bytes
 *   from a process that does not follow the form. pyx_record_bin gives a
 *   value or raises ValueError; it never reads past the end.
 *
 * Either way a second call frees all it allocates once its result is
 * released (no reference leaked).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "pyoracle.h"
#include "record.h"

/* The keys a program writes: names that need no escapes, as jw_key asks. */
static const char *const key_names[] = {
    "line", "url", "time", "dns", "a", "", "final_url", "x_y-z.0",
    "a_name_of_sixty_four_characters_or_more_for_the_key_cache_limit_",
};

typedef struct prog {
    const uint8_t *p, *end;
} prog;

static unsigned next(prog *g)
{
    return g->p < g->end ? *g->p++ : 0;
}

/* Takes up to n bytes of the program as data; returns how many. */
static size_t take(prog *g, const uint8_t **out, size_t n)
{
    size_t left = (size_t)(g->end - g->p);
    if (n > left)
        n = left;
    *out = g->p;
    g->p += n;
    return n;
}

static uint64_t take64(prog *g)
{
    const uint8_t *b;
    uint64_t v = 0;
    size_t n = take(g, &b, 8);
    memcpy(&v, b, n);
    return v;
}

/* Runs the program on both writers. */
static void run(prog *g, jw *t, jw *b)
{
    jw *ws[2] = {t, b};
    int depth = 1;
#define BOTH(call)                      \
    for (int k_ = 0; k_ < 2; k_++) {    \
        jw *w = ws[k_];                 \
        call;                           \
    }
    BOTH(jw_open(w));
    while (g->p < g->end) {
        unsigned op = next(g) % 9, n;
        const uint8_t *d;
        if (op == 8) { /* close */
            if (depth > 1) {
                BOTH(jw_close(w));
                depth--;
            }
            continue;
        }
        const char *key = key_names[next(g) % (sizeof key_names /
                                              sizeof key_names[0])];
        BOTH(jw_key(w, key));
        switch (op) {
        case 0:
            if (depth < 6) {
                BOTH(jw_open(w));
                depth++;
            } else {
                BOTH(jw_null(w));
            }
            break;
        case 1:
            n = (unsigned)take(g, &d, next(g) % 48);
            BOTH(jw_str(w, (const char *)d, n));
            break;
        case 2: {
            int64_t v = (int64_t)take64(g);
            BOTH(jw_int(w, v));
            break;
        }
        case 3: { /* the small times a record has, and any */
            uint64_t us = next(g) & 1 ? take64(g) : take64(g) % 100000000;
            BOTH(jw_secs(w, us));
            break;
        }
        case 4:
            n = next(g) % 3;
            BOTH(n == 2 ? jw_null(w) : jw_bool(w, (int)n));
            break;
        case 5: { /* a jansson value, as headers and ids are written */
            json_error_t e;
            n = (unsigned)take(g, &d, next(g) % 40);
            json_t *v = json_loadb((const char *)d, n, JSON_DECODE_ANY, &e);
            BOTH(jw_json(w, v));
            json_decref(v);
            break;
        }
        case 6:
            BOTH(jw_cstr(w, NULL));
            break;
        default: { /* a string of the bytes written as a C string */
            char s[64];
            n = (unsigned)take(g, &d, next(g) % (sizeof s - 1));
            memcpy(s, d, n);
            s[n] = '\0';
            BOTH(jw_cstr(w, s));
        }
        }
    }
    while (depth-- > 0)
        BOTH(jw_close(w));
#undef BOTH
}

/* pyx_record_bin's value, or NULL with *type its error's type. */
static PyObject *bin_record(const char *s, size_t n, PyObject **type)
{
    return pyo_call(pyx_record_bin, s, n, type);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pyo_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *t, *got;

    if (size && data[0] >= 0x80) {
        char *raw = malloc(size);
        if (!raw)
            abort();
        raw[0] = JWB_OBJ;
        memcpy(raw + 1, data + 1, size - 1);
        got = bin_record(raw, size, &t);
        if (!got && t != PyExc_ValueError) {
            pyo_show_input(data, size);
            pyo_show("error", t);
            pyo_die("pyx_record_bin raised other than ValueError");
        }
        Py_XDECREF(got);
        Py_XDECREF(t);
        pyo_no_leak(pyx_record_bin, raw, size, data, size, "fuzz_binrec");
        free(raw);
        return 0;
    }

    jw tw = {0}, bw = {.bin = 1};
    prog g = {data + (size > 0), data + size};
    jw_reset(&tw, 0);
    jw_reset(&bw, 0);
    run(&g, &tw, &bw);
    if (tw.oom || bw.oom)
        abort();
    PyObject *text = PyUnicode_DecodeUTF8(tw.buf, (Py_ssize_t)tw.len, NULL);
    PyObject *want = text ? PyObject_CallOneArg(pyo_loads, text) : NULL;
    Py_XDECREF(text);
    if (!want) {
        pyo_show_input(data, size);
        fprintf(stderr, "text: %.*s\n", (int)tw.len, tw.buf);
        pyo_die("the text writer wrote what json does not read");
    }
    got = bin_record(bw.buf, bw.len, &t);
    if (!got || !pyo_same(want, got)) {
        pyo_show_input(data, size);
        pyo_show("json of the text", want);
        pyo_show("pyx_record_bin", got ? got : t);
        pyo_die("the binary form reads otherwise than the text");
    }
    Py_DECREF(got);
    Py_DECREF(want);
    pyo_no_leak(pyx_record_bin, bw.buf, bw.len, data, size, "fuzz_binrec");
    free(tw.buf);
    free(bw.buf);
    return 0;
}
