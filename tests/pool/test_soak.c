/*
 * The fault soak: one mp_pool_imap of 200,000 tasks (most return at once,
 * one in ten sleeps a little) while a second thread SIGKILLs workers at
 * random points of the run, and once the pool forkserver (which takes
 * every worker with it), from a fixed seed. Every index must get exactly
 * one result, with the right value: none lost, none doubled. Afterwards no
 * process the pool ever had may be left.
 *
 * The kills are placed by progress (results delivered), not by time, so
 * the same schedule holds on a slow machine; the whole run has a bound of
 * its own well below ctest's.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mpool.h"
#include "testutil.h"

enum {
    N = 200000,
    WORKER_KILLS = 150,/* random workers SIGKILLed during the run */
    RECENT = 64,       /* pids remembered for the killer to pick from */
    MAX_PIDS = 4096,   /* every worker and forkserver seen */
    BOUND_S = 60,      /* the whole run, well below ctest's TIMEOUT */
};

typedef struct out3 {
    uint64_t value;
    int32_t pid, ppid;
} out3;

/* Most tasks return at once; one in ten sleeps 1-8 ms first. */
static int soak_task(mp_task *t, const void *in, size_t len)
{
    uint64_t i;
    memcpy(&i, in, sizeof(i));
    if (i % 10 == 3) {
        int rc = mp_sleep(t, 1 + (unsigned)(i / 10 % 8));
        if (rc < 0)
            return rc;
    }
    out3 o = {i * 3 + 1, getpid(), getppid()};
    return mp_return(t, &o, sizeof(o));
}

/* What the result callback shares with the killer thread. */
static struct {
    pthread_mutex_t lock;
    pid_t recent[RECENT][2]; /* (worker, its forkserver) */
    unsigned nrecent;
    pid_t all[MAX_PIDS]; /* every pid seen, workers and forkservers */
    int nall;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_size_t delivered;
static atomic_int stop_killer;
static unsigned char got[N];
static size_t bad_value, doubled, not_ok;
static int first_bad_status;

static void remember(pid_t pid)
{
    for (int i = 0; i < seen.nall; i++)
        if (seen.all[i] == pid)
            return;
    if (seen.nall < MAX_PIDS)
        seen.all[seen.nall++] = pid;
}

typedef struct src {
    uint64_t next;
} src;

static int soak_next(void *ud, mp_buf *in)
{
    src *s = ud;
    static uint64_t buf;
    if (s->next == N)
        return 0;
    buf = s->next++;
    *in = (mp_buf){&buf, sizeof(buf)};
    return 1;
}

static int soak_result(void *ud, size_t index, mp_result *r)
{
    if (index >= N)
        fail_msg("result for index %zu past the input", index);
    if (got[index]++)
        doubled++;
    if (r->status != 0) {
        if (!not_ok++)
            first_bad_status = r->status;
    } else {
        out3 o;
        if (r->len != sizeof(o)) {
            bad_value++;
        } else {
            memcpy(&o, r->data, sizeof(o));
            bad_value += o.value != index * 3 + 1;
            pthread_mutex_lock(&seen.lock);
            unsigned k = seen.nrecent++ % RECENT;
            seen.recent[k][0] = o.pid;
            seen.recent[k][1] = o.ppid;
            remember(o.pid);
            remember(o.ppid);
            pthread_mutex_unlock(&seen.lock);
        }
    }
    atomic_fetch_add(&delivered, 1);
    return 0;
}

/* SIGKILLs pid only if it is still the child of parent: through a pidfd
   taken first, so a pid reused meanwhile by some other process is never
   hit. Returns 1 if the signal was sent. */
static int kill_child_of(pid_t pid, pid_t parent)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return 0;
    int sent = tu_parent_of(pid) == parent &&
               syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0;
    close(fd);
    return sent;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull; /* the fixed seed */

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int by_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct plan {
    size_t at[WORKER_KILLS + 1]; /* progress points, in order */
    int fs_kill;                 /* which of them is the forkserver's */
    int workers_killed, fs_killed;
} plan;

/* The killer: at each planned point of progress, SIGKILLs a worker picked
   at random among those that answered lately (or, once, the pool
   forkserver of one of them). */
static void *killer(void *arg)
{
    plan *pl = arg;
    for (int k = 0; k <= WORKER_KILLS && !atomic_load(&stop_killer);) {
        if (atomic_load(&delivered) < pl->at[k]) {
            struct timespec ts = {0, 200000}; /* polls progress */
            nanosleep(&ts, NULL);
            continue;
        }
        pthread_mutex_lock(&seen.lock);
        unsigned n = seen.nrecent < RECENT ? seen.nrecent : RECENT;
        pid_t pid = 0, fs = 0;
        if (n) {
            unsigned pick = (unsigned)(next_rand() % n);
            pid = seen.recent[pick][0];
            fs = seen.recent[pick][1];
        }
        pthread_mutex_unlock(&seen.lock);
        pid_t main_fs = pid ? tu_parent_of(fs) : 0;
        if (k == pl->fs_kill) /* the pool forkserver, a grandchild of ours */
            pl->fs_killed += main_fs && tu_parent_of(main_fs) == getpid() &&
                             kill_child_of(fs, main_fs);
        else
            pl->workers_killed += pid && kill_child_of(pid, fs);
        k++;
    }
    return NULL;
}

static void imap_under_kills_loses_nothing(void **state)
{
    plan pl = {.fs_kill = (int)(next_rand() % WORKER_KILLS)};
    for (int k = 0; k <= WORKER_KILLS; k++)
        pl.at[k] = 1000 + next_rand() % (N - 2000);
    qsort(pl.at, WORKER_KILLS + 1, sizeof(pl.at[0]), by_size);
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 4, .concurrency = 32,
                         .max_attempts = 10};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, killer, &pl), 0);
    tu_bound(BOUND_S, "the imap of 200,000 tasks under kills to end");
    src s = {0};
    int rc = mp_pool_imap(p, soak_task, soak_next, soak_result, &s);
    tu_unbound();
    atomic_store(&stop_killer, 1);
    pthread_join(th, NULL);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    print_message("soak: %d workers and %d forkserver killed; died %llu, "
                  "started %llu, retried %llu\n", pl.workers_killed,
                  pl.fs_killed, (unsigned long long)st.workers_died,
                  (unsigned long long)st.workers_started,
                  (unsigned long long)st.tasks_retried);
    mp_pool_destroy(p);
    assert_int_equal(rc, 0);
    size_t lost = 0;
    for (size_t i = 0; i < N; i++)
        lost += !got[i];
    if (lost || doubled || bad_value || not_ok)
        fail_msg("lost %zu, doubled %zu, wrong value %zu, failed %zu (first "
                 "%s)", lost, doubled, bad_value, not_ok,
                 mp_err_name(first_bad_status));
    assert_int_equal(pl.fs_killed, 1);
    assert_true(pl.workers_killed >= WORKER_KILLS / 2);
    /* (a pid may be picked again before its death is reported, and the
       last deaths may come after the call: no exact count) */
    assert_true(st.workers_died >= (uint64_t)pl.workers_killed / 2);
    /* no process the pool ever had is left (bounded wait: 10 s) */
    int left = tu_wait_gone(seen.all, seen.nall, 10);
    if (left)
        fail_msg("%d of the pool's %d processes still there after destroy",
                 left, seen.nall);
}

int main(void)
{
    mp_init(); /* before the killer thread */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(imap_under_kills_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
