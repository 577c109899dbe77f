/* Batched messages: records round-trip, malformed messages are refused,
   and a batch really crosses a nanomsg PAIR. */
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
#include "wire.h"

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
        cmocka_unit_test(batch_crosses_a_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
