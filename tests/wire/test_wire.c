/* Batched messages: records round-trip, malformed messages are refused
   (a table of lengths and counts that disagree with the bytes), and a
   batch really crosses a nanomsg PAIR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <nanomsg/nn.h>
#include <nanomsg/pair.h>

#include "mpool.h"
#include "wire/wire.h"

static void tasks_round_trip(void **state)
{
    mp__msg m;
    assert_int_equal(mp__msg_begin(&m, MP_MSG_TASKS, 0xabcdef, 16), 0);
    char big[5000];
    memset(big, 'x', sizeof(big));
    for (uint32_t i = 0; i < 100; i++)
        assert_int_equal(mp__msg_put_task(&m, i, big, i * 50), 0);
    mp__hdr h;
    mp__reader r;
    m.count = m.count; /* count is written at send; emulate */
    memcpy(m.buf + 4, &m.count, 4);
    assert_int_equal(mp__reader_init(&r, m.buf, m.len, &h), 0);
    assert_int_equal(h.type, MP_MSG_TASKS);
    assert_int_equal(h.arg, 0xabcdef);
    uint32_t id, len, seen = 0;
    const void *d;
    while (mp__read_task(&r, &id, &d, &len) == 1) {
        assert_int_equal(id, seen);
        assert_int_equal(len, seen * 50);
        assert_memory_equal(d, big, len);
        seen++;
    }
    assert_int_equal(seen, 100);
    mp__msg_discard(&m);
}

static void truncated_results_are_refused(void **state)
{
    mp__msg m;
    assert_int_equal(mp__msg_begin(&m, MP_MSG_RESULTS, 0, 64), 0);
    assert_int_equal(mp__msg_put_result(&m, 7, -5, "abc", 3, "oops"), 0);
    memcpy(m.buf + 4, &m.count, 4);
    mp__hdr h;
    mp__reader r;
    mp__result_view v;
    assert_int_equal(mp__reader_init(&r, m.buf, m.len, &h), 0);
    assert_int_equal(mp__read_result(&r, &v), 1);
    assert_int_equal(v.id, 7);
    assert_int_equal(v.status, -5);
    assert_memory_equal(v.data, "abc", 3);
    assert_string_equal(v.error, "oops");
    assert_int_equal(mp__read_result(&r, &v), 0);
    /* cut the message short: the reader must refuse, not overrun */
    assert_int_equal(mp__reader_init(&r, m.buf, m.len - 12, &h), 0);
    assert_int_equal(mp__read_result(&r, &v), MP_EPROTO);
    assert_int_equal(mp__reader_init(&r, m.buf, 3, &h), MP_EPROTO);
    mp__msg_discard(&m);
}

/* ---- table-driven decoder cases ------------------------------------------
   Each case builds a message byte by byte: a header, then records whose
   declared lengths may disagree with the bytes that follow. The decoder
   gets an exact-size heap copy, so under ASan any read past the end is a
   crash, not a silent pass. */

enum { BODY_MAX = 256 };

typedef struct wire_case {
    const char *name;
    uint32_t type;    /* MP_MSG_TASKS or MP_MSG_RESULTS */
    uint32_t count;   /* what the header claims */
    int nrec;         /* records actually written */
    struct {
        uint32_t len, errlen; /* declared (errlen: results only) */
        size_t present;       /* bytes after the record header */
    } rec[3];
    size_t chop;    /* bytes cut off the end of the finished message */
    int want_recs;  /* records decoded before the end or the error */
    int want_rc;    /* 0 (clean end) or MP_EPROTO */
    int no_nul;     /* results: the message's last byte is not NUL */
} wire_case;

/* Appends the bytes of one record: its header, then present bytes of
   payload ('x', with the message's NUL where it falls inside them), then
   padding to 8 when the whole declared body is there. Returns the new
   length. */
static size_t put_rec(char *b, size_t n, const wire_case *c, int i)
{
    size_t hdr = c->type == MP_MSG_TASKS ? sizeof(mp__task_rec)
                                         : sizeof(mp__result_rec);
    if (c->type == MP_MSG_TASKS) {
        mp__task_rec r = {.id = (uint32_t)i, .len = c->rec[i].len};
        memcpy(b + n, &r, sizeof(r));
    } else {
        mp__result_rec r = {.id = (uint32_t)i, .status = -i,
                            .len = c->rec[i].len, .errlen = c->rec[i].errlen};
        memcpy(b + n, &r, sizeof(r));
    }
    size_t body = (size_t)c->rec[i].len + c->rec[i].errlen;
    assert_true(n + hdr + c->rec[i].present + 8 <= BODY_MAX);
    memset(b + n + hdr, 'x', c->rec[i].present);
    if (c->rec[i].errlen && body - 1 < c->rec[i].present && !c->no_nul)
        b[n + hdr + body - 1] = '\0';
    n += hdr + c->rec[i].present;
    if (c->rec[i].present >= body)
        while (n % 8)
            b[n++] = 0;
    return n;
}

/* Decodes c's message and checks what comes out, record by record. */
static void run_wire_case(const wire_case *c)
{
    char b[BODY_MAX];
    mp__hdr h = {.type = c->type, .count = c->count, .arg = 42};
    memcpy(b, &h, sizeof(h));
    size_t n = sizeof(h);
    for (int i = 0; i < c->nrec; i++)
        n = put_rec(b, n, c, i);
    assert_true(c->chop <= n);
    n -= c->chop;
    char *msg = malloc(n ? n : 1); /* exact size: ASan sees any overrun */
    assert_non_null(msg);
    memcpy(msg, b, n);
    const char *end = msg + n;
    mp__reader r;
    mp__hdr got;
    assert_int_equal(mp__reader_init(&r, msg, n, &got), 0);
    int recs = 0, rc;
    for (;;) {
        if (c->type == MP_MSG_TASKS) {
            uint32_t id, len;
            const void *d;
            rc = mp__read_task(&r, &id, &d, &len);
            if (rc != 1)
                break;
            assert_int_equal(id, (uint32_t)recs);
            assert_int_equal(len, c->rec[recs].len);
            assert_true((const char *)d >= msg && (const char *)d + len <= end);
        } else {
            mp__result_view v;
            rc = mp__read_result(&r, &v);
            if (rc != 1)
                break;
            assert_int_equal(v.id, (uint32_t)recs);
            assert_int_equal(v.status, -recs);
            assert_int_equal(v.len, c->rec[recs].len);
            if (v.len)
                assert_true((const char *)v.data >= msg &&
                            (const char *)v.data + v.len <= end);
            else
                assert_null(v.data);
            if (v.error) {
                size_t el = strlen(v.error) + 1; /* stops at its own NUL */
                assert_int_equal(el, c->rec[recs].errlen);
                assert_true(v.error >= msg && v.error + el <= end);
            } else {
                assert_int_equal(c->rec[recs].errlen, 0);
            }
        }
        recs++;
        assert_true(recs <= c->nrec); /* never invents a record */
    }
    if (recs != c->want_recs || rc != c->want_rc)
        fail_msg("case \"%s\": %d records then rc %d, want %d then %d",
                 c->name, recs, rc, c->want_recs, c->want_rc);
    free(msg);
}

#define T MP_MSG_TASKS
#define R MP_MSG_RESULTS
#define EP MP_EPROTO
static const wire_case wire_cases[] = {
    /* every length field one byte past the end of the message */
    {"task len +1", T, 1, 1, {{5, 0, 4}}, 0, 0, EP, 0},
    {"task len +1, empty body", T, 1, 1, {{1, 0, 0}}, 0, 0, EP, 0},
    {"2nd task len +1", T, 2, 2, {{3, 0, 3}, {9, 0, 8}}, 0, 1, EP, 0},
    {"result len +1", R, 1, 1, {{4, 0, 3}}, 0, 0, EP, 0},
    {"result errlen +1", R, 1, 1, {{2, 5, 6}}, 0, 0, EP, 0},
    {"result errlen +1, no data", R, 1, 1, {{0, 1, 0}}, 0, 0, EP, 0},
    {"2nd result len +1", R, 2, 2, {{3, 2, 5}, {7, 0, 6}}, 0, 1, EP, 0},
    {"2nd result errlen +1", R, 2, 2, {{0, 0, 0}, {1, 4, 4}}, 0, 1, EP, 0},
    {"task len 4 GiB-1", T, 1, 1, {{UINT32_MAX, 0, 8}}, 0, 0, EP, 0},
    {"result len+errlen 8 GiB", R, 1, 1, {{UINT32_MAX, UINT32_MAX, 8}}, 0, 0,
     EP, 0},
    /* a record header cut short */
    {"task header 7 of 8", T, 1, 1, {{0, 0, 0}}, 1, 0, EP, 0},
    {"result header 15 of 16", R, 1, 1, {{0, 0, 0}}, 1, 0, EP, 0},
    {"result message without its NUL", R, 1, 1, {{0, 3, 3}}, 0, 0, EP, 1},
    /* zero-length records are real records */
    {"zero-length task", T, 1, 1, {{0, 0, 0}}, 0, 1, 0, 0},
    {"three zero-length tasks", T, 3, 3, {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}},
     0, 3, 0, 0},
    {"zero-length result", R, 1, 1, {{0, 0, 0}}, 0, 1, 0, 0},
    {"empty error message", R, 2, 2, {{0, 1, 1}, {0, 0, 0}}, 0, 2, 0, 0},
    {"exact fit, no padding", T, 1, 1, {{5, 0, 5}}, 3, 1, 0, 0},
    /* counts that disagree with the bytes */
    {"count 1, no record", T, 1, 0, {{0, 0, 0}}, 0, 0, EP, 0},
    {"count 3, two tasks", T, 3, 2, {{1, 0, 1}, {2, 0, 2}}, 0, 2, EP, 0},
    {"count 2, one result", R, 2, 1, {{4, 3, 7}}, 0, 1, EP, 0},
    {"count 1, two tasks", T, 1, 2, {{1, 0, 1}, {2, 0, 2}}, 0, 1, EP, 0},
    {"count 1, two results", R, 1, 2, {{1, 0, 1}, {0, 2, 2}}, 0, 1, EP, 0},
    {"count 0, one task", T, 0, 1, {{4, 0, 4}}, 0, 0, EP, 0},
    {"count 0, nothing", R, 0, 0, {{0, 0, 0}}, 0, 0, 0, 0},
    {"count UINT32_MAX, one task", T, UINT32_MAX, 1, {{4, 0, 4}}, 0, 1, EP, 0},
};
#undef T
#undef R
#undef EP

static void decoder_table(void **state)
{
    for (size_t i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++)
        run_wire_case(&wire_cases[i]);
}

static void batch_crosses_a_pair(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "ipc:///tmp/mp-test-wire-%d", getpid());
    int a = nn_socket(AF_SP, NN_PAIR), b = nn_socket(AF_SP, NN_PAIR);
    assert_true(a >= 0 && b >= 0);
    int unlimited = -1;
    nn_setsockopt(b, NN_SOL_SOCKET, NN_RCVMAXSIZE, &unlimited, sizeof(int));
    assert_true(nn_bind(a, url) >= 0);
    assert_true(nn_connect(b, url) >= 0);
    mp__msg m;
    assert_int_equal(mp__msg_begin(&m, MP_MSG_RESULTS, 0, 16), 0);
    static char payload[3 << 20]; /* over nanomsg's 1 MiB default limit */
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)(i * 7);
    assert_int_equal(mp__msg_put_result(&m, 1, 0, payload, sizeof(payload),
                                        NULL), 0);
    assert_int_equal(mp__msg_put_result(&m, 2, MP_ETIMEDOUT, NULL, 0, "late"),
                     0);
    assert_int_equal(mp__msg_send(a, &m, 1), 0);
    assert_null(m.buf);
    void *buf = NULL;
    int n = nn_recv(b, &buf, NN_MSG, 0);
    assert_true(n > (int)sizeof(payload));
    mp__hdr h;
    mp__reader r;
    mp__result_view v;
    assert_int_equal(mp__reader_init(&r, buf, (size_t)n, &h), 0);
    assert_int_equal(h.count, 2);
    assert_int_equal(mp__read_result(&r, &v), 1);
    assert_int_equal(v.len, sizeof(payload));
    assert_memory_equal(v.data, payload, sizeof(payload));
    assert_int_equal(mp__read_result(&r, &v), 1);
    assert_string_equal(v.error, "late");
    nn_freemsg(buf);
    nn_close(a);
    nn_close(b);
    unlink(url + 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tasks_round_trip),
        cmocka_unit_test(truncated_results_are_refused),
        cmocka_unit_test(decoder_table),
        cmocka_unit_test(batch_crosses_a_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
