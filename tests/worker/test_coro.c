/* Coroutines: switching, independent stacks, the guard page. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "worker/coro.h"

typedef struct ctx {
    mp__coro *co;
    int steps;
    int trace[8];
    int *log;
    int id;
    double f;
} ctx;

static void counter(void *arg)
{
    ctx *c = arg;
    volatile int local = 1000 * c->id; /* lives on this coroutine's stack */
    for (;;) {
        c->log[c->steps++] = local++;
        c->f *= 1.5;
        mp__coro_yield(c->co);
    }
}

static void interleaving_keeps_each_stack(void **state)
{
    int log_a[32], log_b[32];
    ctx a = {.log = log_a, .id = 1, .f = 1}, b = {.log = log_b, .id = 2, .f = 2};
    a.co = mp__coro_create(64 << 10, counter, &a);
    b.co = mp__coro_create(64 << 10, counter, &b);
    assert_non_null(a.co);
    assert_non_null(b.co);
    for (int i = 0; i < 10; i++) {
        mp__coro_resume(a.co);
        mp__coro_resume(b.co);
        mp__coro_resume(b.co);
    }
    assert_int_equal(a.steps, 10);
    assert_int_equal(b.steps, 20);
    for (int i = 0; i < 10; i++)
        assert_int_equal(log_a[i], 1000 + i);
    for (int i = 0; i < 20; i++)
        assert_int_equal(log_b[i], 2000 + i);
    assert_true(a.f > 57.0 && a.f < 58.0); /* 1.5^10 = 57.66 */
    mp__coro_destroy(a.co);
    mp__coro_destroy(b.co);
}

static mp__coro *deep_co;
static int deep_done;

static int recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : recurse(n - 1) + pad[0];
}

static void deep(void *arg)
{
    int n = *(int *)arg;
    deep_done = recurse(n) >= 0;
    for (;;)
        mp__coro_yield(deep_co);
}

static void deep_recursion_within_stack(void **state)
{
    int n = 100; /* ~60 KiB of frames on a 256 KiB stack */
    deep_co = mp__coro_create(256 << 10, deep, &n);
    assert_non_null(deep_co);
    mp__coro_resume(deep_co);
    assert_true(deep_done);
    mp__coro_destroy(deep_co);
}

static void overflow_hits_the_guard_page(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int n = 1 << 20; /* far past a 64 KiB stack */
        deep_co = mp__coro_create(64 << 10, deep, &n);
        mp__coro_resume(deep_co);
        _exit(0); /* not reached */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interleaving_keeps_each_stack),
        cmocka_unit_test(deep_recursion_within_stack),
        cmocka_unit_test(overflow_hits_the_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
