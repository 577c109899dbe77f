/*
 * The default number of workers: the CPUs this process may use. The
 * affinity mask comes from the real kernel (ctest runs this suite a second
 * time under `taskset -c 0`, with MP_TEST_AFFINITY_ONE=1); the cgroup quota
 * from a fake cgroup tree that MP_CGROUP_ROOT points at. Pools are real:
 * workers = 0 must give that many worker processes.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mpool.h"

static char root[64]; /* the fake cgroup tree of this run */

/* The CPUs in our affinity mask, counted here without the library. */
static int mask_cpus(void)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    return CPU_COUNT(&set);
}

/* Writes text to root/rel, making root/dir first if given. */
static void put(const char *dir, const char *rel, const char *text)
{
    char path[256];
    if (dir) {
        snprintf(path, sizeof(path), "%s/%s", root, dir);
        mkdir(path, 0700);
    }
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Empties the fake tree. */
static int reset(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/*", root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* The slot number of the worker that ran the task. */
static int which_slot(mp_task *t, const void *in, size_t len)
{
    int slot = mp_worker_slot();
    return mp_return(t, &slot, sizeof(slot));
}

/* Creates a pool with workers = 0, checks it has want workers and that 64
   tasks ran on exactly want distinct slots. */
static void pool_has(int want)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 0, .concurrency = 1};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_int_equal(mp_pool_workers(p), want);
    enum { N = 64 };
    int in[N];
    mp_buf b[N];
    mp_result out[N];
    for (int i = 0; i < N; i++)
        b[i] = (mp_buf){&in[i], sizeof(in[i])};
    assert_int_equal(mp_pool_map(p, which_slot, b, N, out), 0);
    int seen[1024] = {0}, distinct = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        int slot;
        memcpy(&slot, out[i].data, sizeof(slot));
        assert_true(slot >= 0 && slot < want);
        distinct += !seen[slot]++;
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
    /* with concurrency 1 and 64 tasks spread over the workers, every
       worker runs some */
    assert_int_equal(distinct, want);
}

static void no_quota_means_the_mask(void **state)
{
    int n = mask_cpus();
    if (getenv("MP_TEST_AFFINITY_ONE"))
        assert_int_equal(n, 1); /* taskset -c 0 did its part */
    assert_int_equal(mp_cpus_available(), n > 1024 ? 1024 : n);
    put(NULL, "cpu.max", "max 100000\n");
    assert_int_equal(mp_cpus_available(), n > 1024 ? 1024 : n);
    if (n <= 8) /* a pool of that many workers is cheap enough */
        pool_has(n);
}

static void v2_quota_rounds_up(void **state)
{
    int n = mask_cpus();
    put(NULL, "cpu.max", "50000 100000\n"); /* half a CPU */
    assert_int_equal(mp_cpus_available(), 1);
    pool_has(1);
    put(NULL, "cpu.max", "150000 100000\n"); /* 1.5 CPUs: 2 */
    assert_int_equal(mp_cpus_available(), n < 2 ? n : 2);
    put(NULL, "cpu.max", "100000 100000\n");
    assert_int_equal(mp_cpus_available(), 1);
}

static void v1_quota(void **state)
{
    int n = mask_cpus();
    put("cpu", "cpu/cpu.cfs_period_us", "100000\n");
    put("cpu", "cpu/cpu.cfs_quota_us", "-1\n"); /* no limit */
    assert_int_equal(mp_cpus_available(), n);
    put("cpu", "cpu/cpu.cfs_quota_us", "20000\n");
    assert_int_equal(mp_cpus_available(), 1);
    pool_has(1);
    put("cpu,cpuacct", "cpu,cpuacct/cpu.cfs_period_us", "50000\n");
    put("cpu,cpuacct", "cpu,cpuacct/cpu.cfs_quota_us", "60000\n");
    put("cpu", "cpu/cpu.cfs_quota_us", "-1\n");
    assert_int_equal(mp_cpus_available(), n < 2 ? n : 2);
}

static void the_tightest_quota_wins(void **state)
{
    put(NULL, "cpu.max", "400000 100000\n");
    put("cpu", "cpu/cpu.cfs_period_us", "100000\n");
    put("cpu", "cpu/cpu.cfs_quota_us", "100000\n");
    assert_int_equal(mp_cpus_available(), 1);
}

static void garbage_is_no_limit(void **state)
{
    int n = mask_cpus();
    put(NULL, "cpu.max", "banana\n");
    put("cpu", "cpu/cpu.cfs_quota_us", "0\n");
    put("cpu", "cpu/cpu.cfs_period_us", "0\n");
    assert_int_equal(mp_cpus_available(), n);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/mp-cgroup-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("MP_CGROUP_ROOT", root, 1);
    assert_int_equal(mp_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(no_quota_means_the_mask, reset),
        cmocka_unit_test_setup(v2_quota_rounds_up, reset),
        cmocka_unit_test_setup(v1_quota, reset),
        cmocka_unit_test_setup(the_tightest_quota_wins, reset),
        cmocka_unit_test_setup(garbage_is_no_limit, reset),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
