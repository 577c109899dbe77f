/*
 * The pipe between the coordinator and its workers, with real workers and
 * real nanomsg pipes, linked against mpool_faults (libmpool built with the
 * MP_FAULTS hooks of wire.h): a batch whose send fails, or whose parked
 * send fails later, is run anyway; results bigger than the socket takes at
 * once arrive whole; a result over the bound fails only its own task.
 * Every call is bounded by an alarm that cancels it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <fcntl.h>

#include "bound.h"
#include "mpool.h"
#include "wire/wire.h"

#define BOUND_S 60 /* per call: far above what any case needs */

/* Starts the bound on the call about to run on p. */
static void bound(mp_pool *p)
{
    tu_bound_start(p, BOUND_S);
}

static void unbound(void)
{
    if (tu_bound_end())
        fail_msg("the call did not end within %d s (canceled)", BOUND_S);
}

/* ---- tasks (they run in workers) ---- */

static int echo_after(mp_task *t, const void *in, size_t len)
{
    uint32_t v;
    memcpy(&v, in, sizeof(v));
    if (v % 7 == 0)
        mp_sleep(t, 5);
    return mp_return(t, &v, sizeof(v));
}

#define BIG ((size_t)8 << 20)

/* Returns BIG bytes, each the input's low byte. */
static int big_result(mp_task *t, const void *in, size_t len)
{
    char *b = malloc(BIG);
    if (!b)
        return mp_fail(t, MP_ENOMEM, "no memory");
    memset(b, *(const uint8_t *)in, BIG);
    int rc = mp_return(t, b, BIG);
    free(b);
    return rc;
}

/* Tries to return one byte more than MP_MAX_PAYLOAD and pretends it
   worked. */
static int too_big(mp_task *t, const void *in, size_t len)
{
    size_t n = MP_MAX_PAYLOAD + 1;
    char *b = malloc(n);
    if (!b)
        return mp_fail(t, MP_ENOMEM, "no memory");
    memset(b, 1, 4096); /* the call must refuse before reading it */
    mp_return(t, b, n);
    free(b);
    return 0;
}

/* Fails with a message of 1 MiB. */
static int long_message(mp_task *t, const void *in, size_t len)
{
    size_t n = (size_t)1 << 20;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    mp_fail(t, MP_ETASK, "%s", s);
    free(s);
    return 0;
}

/* Input of cut_once: a value to echo and, when path is set, a marker
   file: the first task to create it makes its worker cut its next
   RESULTS message short (the MP_FAULTS hook), so exactly one malformed
   message is sent, whichever worker runs the task and however often. */
typedef struct cut_in {
    uint32_t v;
    char path[60];
} cut_in;

static int cut_once(mp_task *t, const void *in, size_t len)
{
    const cut_in *c = in;
    if (c->path[0]) {
        int fd = open(c->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd >= 0) {
            close(fd);
            mp__fault_cut_results = 1;
        }
    }
    if (c->v % 7 == 0)
        mp_sleep(t, 5);
    return mp_return(t, &c->v, sizeof(c->v));
}

/* ---- helpers ---- */

static mp_pool *make_pool(int workers, int conc, int prefetch)
{
    mp_pool *p;
    mp_pool_options o = {.workers = workers, .concurrency = conc,
                         .prefetch = prefetch};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* Maps n echo tasks and checks every result. */
static void map_echo(mp_pool *p, size_t n)
{
    uint32_t *v = malloc(n * sizeof(*v));
    mp_buf *in = malloc(n * sizeof(*in));
    mp_result *out = calloc(n, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        v[i] = (uint32_t)i;
        in[i] = (mp_buf){&v[i], sizeof(v[i])};
    }
    bound(p);
    int rc = mp_pool_map(p, echo_after, in, n, out);
    unbound();
    assert_int_equal(rc, 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].status, 0);
        assert_int_equal(out[i].len, sizeof(uint32_t));
        assert_memory_equal(out[i].data, &v[i], sizeof(uint32_t));
        mp_result_clear(&out[i]);
    }
    free(v);
    free(in);
    free(out);
}

/* ---- cases ---- */

/* A TASKS batch whose send fails at once (not "socket full"): its tasks
   go back to the queue and run elsewhere or on the replacement worker.
   Before, they stayed marked as sent to a live worker and the call never
   ended. */
static void failed_send_requeues_its_tasks(void **state)
{
    for (int which = 1; which <= 3; which++) {
        mp_pool *p = make_pool(2, 4, 4);
        mp__fault_send_fail = which;
        map_echo(p, 300);
        assert_int_equal(mp__fault_send_fail, 0); /* the fault happened */
        mp_pool_stats st;
        mp_pool_get_stats(p, &st);
        assert_int_equal(st.sends_failed, 1);
        assert_int_equal(st.tasks_done, 300);
        map_echo(p, 50); /* and the pool goes on (its worker is replaced
                            when its exit is read: not asserted, since
                            that may come after the call) */
        mp_pool_destroy(p);
    }
}

/* A batch parked because the socket was full, whose later send fails: the
   same. */
static void failed_parked_send_requeues_its_tasks(void **state)
{
    for (int which = 1; which <= 3; which++) {
        mp_pool *p = make_pool(2, 4, 4);
        mp__fault_flush_fail = which;
        map_echo(p, 300);
        assert_int_equal(mp__fault_flush_fail, 0);
        mp_pool_stats st;
        mp_pool_get_stats(p, &st);
        assert_int_equal(st.sends_failed, 1);
        map_echo(p, 50);
        mp_pool_destroy(p);
    }
}

/* A TASKS batch that arrives malformed (its last record cut short): the
   worker that reads it exits (MP_EXIT_PROTO) and every task it held runs
   again. Before, the worker queued the records before the bad one and
   silently dropped the rest, so the call waited for them forever (the
   bound canceled it). */
static void malformed_tasks_batch_is_a_worker_fault(void **state)
{
    for (int which = 1; which <= 3; which++) {
        mp_pool *p = make_pool(2, 4, 4);
        mp__fault_cut_tasks = which;
        map_echo(p, 300);
        assert_int_equal(mp__fault_cut_tasks, 0); /* the fault happened */
        map_echo(p, 50);
        mp_pool_stats st;
        mp_pool_get_stats(p, &st);
        assert_int_equal(st.tasks_done, 350);
        assert_true(st.workers_died >= 1);
        mp_pool_destroy(p);
    }
}

/* A RESULTS batch that arrives malformed: the coordinator refuses it
   whole, kills its worker and runs the tasks it held again; every input
   still gets exactly one result, its own. Before, the coordinator took
   the records before the bad one and stopped reading: the rest stayed in
   flight and the call waited for them forever (the bound canceled it). */
static void malformed_results_batch_is_a_worker_fault(void **state)
{
    enum { N = 200, CUT = 77 };
    char path[60];
    snprintf(path, sizeof(path), "/tmp/mp-test-cut.%d", (int)getpid());
    unlink(path);
    mp_pool *p = make_pool(2, 4, 4);
    cut_in *v = calloc(N, sizeof(*v));
    mp_buf in[N];
    mp_result out[N];
    memset(out, 0, sizeof(out));
    for (size_t i = 0; i < N; i++) {
        v[i].v = (uint32_t)i;
        if (i == CUT)
            snprintf(v[i].path, sizeof(v[i].path), "%s", path);
        in[i] = (mp_buf){&v[i], sizeof(v[i])};
    }
    tu_bound_start(p, 20);
    int rc = mp_pool_map(p, cut_once, in, N, out);
    if (tu_bound_end())
        fail_msg("the call did not end within 20 s (canceled)");
    assert_int_equal(rc, 0);
    assert_int_equal(access(path, F_OK), 0); /* the cut happened */
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        assert_int_equal(out[i].len, sizeof(uint32_t));
        assert_memory_equal(out[i].data, &v[i].v, sizeof(uint32_t));
        mp_result_clear(&out[i]);
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.tasks_done, N);
    assert_true(st.workers_died >= 1);
    map_echo(p, 50); /* and the pool goes on */
    mp_pool_destroy(p);
    unlink(path);
    free(v);
}

typedef struct big_run {
    size_t n, next, seen;
    uint8_t keys[64];
    int bad;
} big_run;

static int big_next(void *ud, mp_buf *b)
{
    big_run *r = ud;
    if (r->next == r->n)
        return 0;
    r->keys[r->next] = (uint8_t)(r->next * 37 + 1);
    *b = (mp_buf){&r->keys[r->next], 1};
    r->next++;
    return 1;
}

static int big_check(void *ud, size_t index, mp_result *res)
{
    big_run *r = ud;
    const uint8_t *d = res->data;
    r->seen++;
    if (res->status != 0 || res->len != BIG || d[0] != r->keys[index] ||
        d[BIG - 1] != r->keys[index] || d[BIG / 2] != r->keys[index])
        r->bad++;
    return 0;
}

/* Results far bigger than the socket takes at once, from many coroutines
   of one worker: the worker's batches stay bounded while one waits for the
   socket, and every result arrives whole. */
static void big_results_arrive_whole(void **state)
{
    mp_pool *p = make_pool(1, 16, 16);
    big_run r = {.n = 48};
    bound(p);
    int rc = mp_pool_imap(p, big_result, big_next, big_check, &r);
    unbound();
    assert_int_equal(rc, 0);
    assert_int_equal(r.seen, r.n);
    assert_int_equal(r.bad, 0);
    mp_pool_destroy(p);
}

/* A result over MP_MAX_PAYLOAD fails its own task with MP_E2BIG, even if
   the task ignores mp_return's answer; its neighbours are fine. A 1 MiB
   message is cut to the bound. */
static void over_the_bound_fails_only_that_task(void **state)
{
    mp_pool *p = make_pool(1, 4, 4);
    uint8_t k = 9;
    mp_result r = {0};
    bound(p);
    int rc = mp_pool_apply(p, too_big, &k, 1, &r);
    unbound();
    assert_int_equal(rc, 0);
    assert_int_equal(r.status, MP_E2BIG);
    assert_null(r.data);
    assert_non_null(r.error);
    assert_non_null(strstr(r.error, "MP_MAX_PAYLOAD"));
    mp_result_clear(&r);

    bound(p);
    rc = mp_pool_apply(p, long_message, &k, 1, &r);
    unbound();
    assert_int_equal(rc, 0);
    assert_int_equal(r.status, MP_ETASK);
    assert_non_null(r.error);
    assert_int_equal(strlen(r.error), MP_MAX_ERROR - 1);
    mp_result_clear(&r);

    map_echo(p, 20); /* the worker lives on */
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 0);
    mp_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failed_send_requeues_its_tasks),
        cmocka_unit_test(failed_parked_send_requeues_its_tasks),
        cmocka_unit_test(malformed_tasks_batch_is_a_worker_fault),
        cmocka_unit_test(malformed_results_batch_is_a_worker_fault),
        cmocka_unit_test(big_results_arrive_whole),
        cmocka_unit_test(over_the_bound_fails_only_that_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
