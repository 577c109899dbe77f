/*
 * The pool under faults, with real processes: workers killed, crashing,
 * exiting, spinning past their deadline, recycled; cancel from a signal
 * handler; destroy with work in flight; the coordinator SIGKILLed; workers
 * that cannot start; and an idle pool that must not use CPU.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mpool.h"
#include "testutil.h"

extern char **environ;
static char self_path[512];
static char tmpdir[64];

typedef struct job {
    uint64_t value;
    int kind; /* what the task does, see chaos() */
    int arg;
    char marker[96];
} job;

enum { J_OK, J_KILL_ONCE, J_SEGV, J_EXIT_ONCE, J_SLEEP, J_SPIN, J_PID,
       J_SIGNAL, J_DIE_IF_MARKER, J_BLOCK, J_ANNOUNCE, J_KILL_FS_ONCE,
       J_KILL_BOTH_FS_ONCE, J_HIDE_DIR_AND_DIE, J_KILL_FS, J_BIG_AFTER_FD };

/* Returns 1 the first time it is called for path across all processes. */
static int first_time(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* Renames the one mpool-* directory in dir (a pool's endpoints) to
   dir.hidden, so that no worker of that pool can be started. */
static void hide_pool_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char from[600], to[300];
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "mpool-", 6) != 0)
            continue;
        snprintf(from, sizeof(from), "%s/%s", dir, de->d_name);
        snprintf(to, sizeof(to), "%s.hidden", dir);
        if (rename(from, to) < 0)
            abort();
        break;
    }
    if (d)
        closedir(d);
}

static int chaos(mp_task *t, const void *in, size_t len)
{
    const job *j = in;
    switch (j->kind) {
    case J_KILL_ONCE:
        if (first_time(j->marker))
            kill(getpid(), SIGKILL);
        break;
    case J_SEGV:
        raise(SIGSEGV);
        break;
    case J_EXIT_ONCE:
        if (first_time(j->marker))
            exit(3);
        break;
    case J_SLEEP: {
        int rc = mp_sleep(t, (unsigned)j->arg);
        if (rc < 0)
            return rc;
        break;
    }
    case J_SPIN:
        for (volatile uint64_t i = 0;; i++)
            ;
    case J_PID: {
        int pids[2] = {getpid(), getppid()};
        return mp_return(t, pids, sizeof(pids));
    }
    case J_SIGNAL: /* exactly one signal: no stale one for a later call */
        if (first_time(j->marker))
            kill((pid_t)j->arg, SIGUSR1);
        return mp_sleep(t, 20000);
    case J_BLOCK: { /* a blocking read nobody will ever satisfy */
        int fds[2];
        char c;
        if (pipe(fds) == 0 && read(fds[0], &c, 1) < 0)
            return MP_EIO;
        break;
    }
    case J_DIE_IF_MARKER:
        if (access(j->marker, F_OK) == 0)
            _exit(1);
        break;
    case J_KILL_FS_ONCE: /* the pool forkserver, and so every worker */
        if (first_time(j->marker)) {
            kill(getppid(), SIGKILL);
            for (;;) /* until PR_SET_PDEATHSIG: no result, so the call */
                pause(); /* cannot end before the loss is seen */
        }
        break;
    case J_KILL_FS: /* the pool forkserver, every time */
        kill(getppid(), SIGKILL);
        for (;;) /* as above */
            pause();
    case J_KILL_BOTH_FS_ONCE: /* the main forkserver too: no new one */
        if (first_time(j->marker)) {
            kill(tu_parent_of(getppid()), SIGKILL);
            kill(getppid(), SIGKILL);
            for (;;) /* as above */
                pause();
        }
        break;
    case J_HIDE_DIR_AND_DIE: { /* marker: the TMPDIR of the pool */
        char once[128];
        snprintf(once, sizeof(once), "%s.once", j->marker);
        if (first_time(once)) {
            hide_pool_dir(j->marker);
            kill(getpid(), SIGKILL);
        }
        break;
    }
    case J_BIG_AFTER_FD: { /* when fd arg is readable: tells the test (on
                              fd 1), then returns 512 KiB */
        if (mp_wait_fd(t, j->arg, MP_READ, 30000) != MP_READ)
            return MP_ETIMEDOUT;
        char line[32];
        int n = snprintf(line, sizeof(line), "S %d\n", (int)getpid());
        if (write(1, line, (size_t)n) < 0)
            return MP_EIO;
        size_t big = (size_t)512 << 10;
        char *b = calloc(1, big);
        int rc = b ? mp_return(t, b, big) : MP_ENOMEM;
        free(b);
        return rc;
    }
    case J_ANNOUNCE: { /* tells the test (on fd 1) it runs, then sleeps */
        char line[32];
        int n = snprintf(line, sizeof(line), "S %d\n", (int)getpid());
        if (write(1, line, (size_t)n) < 0)
            return MP_EIO;
        int rc = mp_sleep(t, (unsigned)j->arg);
        if (rc < 0)
            return rc;
        break;
    }
    }
    uint64_t v = j->value * 3;
    return mp_return(t, &v, sizeof(v));
}

static int init_die_if_marker(const void *arg, size_t len)
{
    if (access((const char *)arg, F_OK) == 0)
        _exit(1);
    return 0;
}

static job *make_jobs(size_t n, int kind)
{
    job *jobs = calloc(n, sizeof(*jobs));
    for (size_t i = 0; i < n; i++) {
        jobs[i].value = i;
        jobs[i].kind = kind;
        snprintf(jobs[i].marker, sizeof(jobs[i].marker), "%s/m%d", tmpdir,
                 kind);
    }
    return jobs;
}

static mp_buf *bufs_of(job *jobs, size_t n)
{
    mp_buf *in = malloc(n * sizeof(*in));
    for (size_t i = 0; i < n; i++)
        in[i] = (mp_buf){&jobs[i], sizeof(job)};
    return in;
}

/* Asserts out[i] is the right value for every input but the listed
   exception, and clears them. */
static void check_values(mp_result *out, size_t n, size_t except)
{
    for (size_t i = 0; i < n; i++) {
        if (i != except) {
            assert_int_equal(out[i].status, 0);
            assert_int_equal(out[i].len, 8);
            assert_int_equal(*(uint64_t *)out[i].data, 3 * i);
        }
        mp_result_clear(&out[i]);
    }
}

static mp_pool *pool(int workers, int conc, unsigned timeout_ms,
                     unsigned max_tasks)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = workers, .concurrency = conc,
                         .task_timeout_ms = timeout_ms,
                         .max_tasks_per_worker = max_tasks};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

static void sigkill_mid_map_loses_nothing(void **state)
{
    enum { N = 100000 };
    job *jobs = make_jobs(N, J_OK);
    jobs[N / 2].kind = J_KILL_ONCE; /* kills its worker, mid-map */
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 64, 0, 0);
    tu_bound(30, "the map of 100,000 tasks, a worker SIGKILLed mid-map");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    check_values(out, N, SIZE_MAX);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 1);
    assert_true(st.tasks_retried >= 1);
    assert_int_equal(st.workers_started, 3); /* a replacement was forked */
    assert_int_equal(st.tasks_done, N);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static void poison_task_fails_alone(void **state)
{
    enum { N = 2000 };
    job *jobs = make_jobs(N, J_OK);
    jobs[777].kind = J_SEGV;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 32, 0, 0);
    tu_bound(30, "the map with a task that crashes its worker every time");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    assert_int_equal(out[777].status, MP_EWORKER);
    assert_non_null(strstr(out[777].error, "3 times"));
    /* "killed by signal 11"; under ASan, whose SEGV handler exits: "exited
       with status 1" */
    assert_non_null(strstr(out[777].error, "(last one "));
    check_values(out, N, 777);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static void exit_in_a_task_is_survived(void **state)
{
    enum { N = 5000 };
    job *jobs = make_jobs(N, J_OK);
    jobs[100].kind = J_EXIT_ONCE;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 16, 0, 0);
    tu_bound(30, "the map with a task that exits its worker once");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    check_values(out, N, SIZE_MAX);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static void await_timeout_wakes_the_task(void **state)
{
    enum { N = 50 };
    job *jobs = make_jobs(N, J_OK);
    jobs[5].kind = J_SLEEP;
    jobs[5].arg = 20000;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(1, 8, 200, 0);
    tu_bound(10, "the 200 ms deadline to wake a task sleeping 20 s");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    assert_int_equal(out[5].status, MP_ETIMEDOUT);
    assert_non_null(strstr(out[5].error, "200 ms"));
    check_values(out, N, 5);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 0); /* the worker went on */
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

/* Init that leaves the worker no pending-signal slot, so that its
   timer_create (the spin watchdog's) fails. Fails itself if timer_create
   still works, so the test below cannot pass without the fault. */
static int init_no_sigqueue(const void *arg, size_t len)
{
    struct rlimit rl;
    getrlimit(RLIMIT_SIGPENDING, &rl);
    rl.rlim_cur = 0;
    if (setrlimit(RLIMIT_SIGPENDING, &rl) < 0)
        return -1;
    timer_t probe;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL,
                           .sigev_signo = SIGALRM};
    if (timer_create(CLOCK_MONOTONIC, &sev, &probe) == 0) {
        timer_delete(probe);
        return -1;
    }
    return 0;
}

/* timer_create failing in a worker costs the spin watchdog only: the
   deadlines of tasks that await still fire. */
static void deadlines_hold_without_timer_create(void **state)
{
    enum { N = 4 };
    job *jobs = make_jobs(N, J_OK);
    jobs[1].kind = J_SLEEP;
    jobs[1].arg = 5000;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 1, .task_timeout_ms = 200,
                         .init = init_no_sigqueue};
    int rc = mp_pool_create(&p, &o);
    if (rc == MP_EINIT)
        fail_msg("could not make timer_create fail in the worker");
    assert_int_equal(rc, 0);
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    assert_int_equal(out[1].status, MP_ETIMEDOUT);
    check_values(out, N, 1);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static void cpu_spin_gets_its_worker_replaced(void **state)
{
    enum { N = 40 };
    job *jobs = make_jobs(N, J_OK);
    jobs[3].kind = J_SPIN;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 8, 200, 0);
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    assert_int_equal(out[3].status, MP_ETIMEDOUT);
    assert_non_null(strstr(out[3].error, "CPU"));
    check_values(out, N, 3);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 1);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

/* In a pool with a deadline, a task that crashes its worker every time
   is told from one that spins past the deadline: the crash's message
   says its worker died and how (the exit status the forkserver
   reported), and only the spinning task, which its worker named in the
   spin note before exiting, gets the deadline's words. */
static void a_crash_under_a_deadline_is_told_from_it(void **state)
{
    enum { N = 40, CRASH = 4, SPIN = 9 };
    job *jobs = make_jobs(N, J_OK);
    jobs[CRASH].kind = J_SEGV;
    jobs[SPIN].kind = J_SPIN;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 8, 200, 0);
    tu_bound(30, "the map with a crashing task and a spinning one");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    const char *crash = out[CRASH].error, *spin = out[SPIN].error;
    assert_int_equal(out[CRASH].status, MP_EWORKER);
    /* "killed by signal 11 (...)"; under ASan: "exited with status 1" */
    if (!crash ||
        !strstr(crash, "worker died 3 times running this task (last one ") ||
        strstr(crash, "deadline"))
        fail_msg("the crashing task says: %s", crash ? crash : "(null)");
    assert_int_equal(out[SPIN].status, MP_ETIMEDOUT);
    if (!spin || !strstr(spin, "ran on the CPU past its deadline of 200 ms"))
        fail_msg("the spinning task says: %s", spin ? spin : "(null)");
    for (size_t i = 0; i < N; i++) {
        if (i != CRASH && i != SPIN)
            assert_int_equal(out[i].status, 0);
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static void blocking_syscall_gets_its_worker_replaced(void **state)
{
    enum { N = 30 };
    job *jobs = make_jobs(N, J_OK);
    jobs[7].kind = J_BLOCK;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 8, 200, 0);
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    assert_int_equal(out[7].status, MP_ETIMEDOUT);
    check_values(out, N, 7);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 1);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static void recycling_every_100_tasks(void **state)
{
    enum { N = 10000 };
    job *jobs = make_jobs(N, J_PID);
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 16, 0, 100);
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    int *pids = calloc(N, sizeof(int)), npids = 0;
    int *counts = calloc(N, sizeof(int));
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        int pid = ((int *)out[i].data)[0], k;
        for (k = 0; k < npids && pids[k] != pid; k++)
            ;
        if (k == npids)
            pids[npids++] = pid;
        counts[k]++;
        mp_result_clear(&out[i]);
    }
    for (int k = 0; k < npids; k++)
        assert_true(counts[k] <= 100);
    assert_true(npids >= N / 100);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 0);
    assert_true(st.workers_recycled >= N / 100 - 2);
    assert_int_equal(st.tasks_done, N);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out), free(pids), free(counts);
}

/* Reads one line (without its newline) from fd into buf within seconds;
   fails the test, naming what it waited for, on timeout or end of file. */
static void read_line_within(int fd, char *buf, size_t n, int seconds,
                             const char *what)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t len = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (long)(now.tv_sec - t0.tv_sec) * 1000 +
                  (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= seconds * 1000L)
            fail_msg("no %s within %d s (read so far: \"%.*s\")", what,
                     seconds, (int)len, buf);
        struct pollfd pf = {fd, POLLIN, 0};
        int rc = poll(&pf, 1, (int)(seconds * 1000L - ms));
        if (rc <= 0)
            continue;
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got == 0)
            fail_msg("end of output while waiting for %s (read so far: "
                     "\"%.*s\")", what, (int)len, buf);
        if (got < 0)
            continue;
        if (c == '\n' || len + 1 == n) {
            buf[len] = '\0';
            return;
        }
        buf[len++] = c;
    }
}

/* Waits for pid to exit within seconds and returns its wait status;
   fails the test, naming what it waited for, if it does not. */
static int wait_exit_within(pid_t pid, int seconds, const char *what)
{
    for (int tries = 0; tries < seconds * 100; tries++) {
        int st;
        pid_t rc = waitpid(pid, &st, WNOHANG);
        if (rc == pid)
            return st;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("%s did not exit within %d s", what, seconds);
    return -1;
}

enum { SPAWN_OWN_GROUP = 1, SPAWN_CLOSED_STD = 2 };

/* Starts this test program again as a child in mode, its stdout a pipe
   whose read end goes to *out, and remembers it for tu_forked_kill_all. Flags:
   SPAWN_OWN_GROUP, a process group of its own; SPAWN_CLOSED_STD, fds 0-2
   closed and the pipe on fd 3 instead. Returns its pid. */
static pid_t spawn_child(const char *mode, int flags, int *out)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1],
                                     flags & SPAWN_CLOSED_STD ? 3 : 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    for (int fd = 0; flags & SPAWN_CLOSED_STD && fd < 3; fd++)
        posix_spawn_file_actions_addclose(&fa, fd);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    int own_group = flags & SPAWN_OWN_GROUP;
    if (own_group) {
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&at, 0);
    }
    char *argv[] = {self_path, (char *)mode, NULL};
    pid_t child;
    int rc = posix_spawn(&child, self_path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        fail_msg("posix_spawn %s: %s", mode, strerror(rc));
    }
    tu_forked_add(own_group ? -child : child);
    *out = fds[0];
    return child;
}

/* Runs this test program as a child in mode (spawn_child's flags), reads
   its one-line report ("what", for the message if it never comes) into
   line, and expects it to exit 0, all within bounds. */
static void child_report(const char *mode, int flags, const char *what,
                         char *line, size_t n)
{
    int fd;
    pid_t child = spawn_child(mode, flags, &fd);
    read_line_within(fd, line, n, 30, what);
    close(fd);
    int st = wait_exit_within(child, 10, "the child coordinator");
    tu_forked_forget(flags & SPAWN_OWN_GROUP ? -child : child);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

typedef struct feed {
    job *jobs;
    size_t i, n;
    int pids[2];
} feed;

static int feed_next(void *ud, mp_buf *in)
{
    feed *f = ud;
    if (f->i == f->n)
        return 0;
    *in = (mp_buf){&f->jobs[f->i++], sizeof(job)};
    return 1;
}

static int stop_after_first(void *ud, size_t index, mp_result *r)
{
    feed *f = ud;
    if (r->status == 0 && r->len == sizeof(f->pids))
        memcpy(f->pids, r->data, sizeof(f->pids));
    return 1; /* cancel the rest: they stay in flight as orphans */
}

/* Echoes its input; the first task whose input starts with a marker path
   that does not exist yet kills its worker. */
static int echo_kill_once(mp_task *t, const void *in, size_t len)
{
    const char *marker = in; /* NUL-terminated path at the start */
    if (marker[0] == '/' && first_time(marker))
        kill(getpid(), SIGKILL);
    return mp_return(t, in, len);
}

typedef struct echo_feed {
    size_t i, n;
    char buf[1100];
    unsigned char *got;
    size_t bad;
    char marker[96];
} echo_feed;

/* Input i: 100 or 1000 bytes (inline and malloc'd coordinator copies),
   filled with a pattern of i; input 50 carries the kill marker. */
static int echo_next(void *ud, mp_buf *in)
{
    echo_feed *f = ud;
    if (f->i == f->n)
        return 0;
    size_t len = f->i % 2 ? 1000 : 100;
    for (size_t k = 0; k < len; k++)
        f->buf[k] = (char)(f->i * 7 + k);
    f->buf[0] = 'x';
    if (f->i == 50)
        memcpy(f->buf, f->marker, strlen(f->marker) + 1);
    *in = (mp_buf){f->buf, len};
    f->i++;
    return 1;
}

static int echo_result(void *ud, size_t index, mp_result *r)
{
    echo_feed *f = ud;
    size_t len = index % 2 ? 1000 : 100;
    int ok = r->status == 0 && r->len == len && !f->got[index];
    const char *d = r->data;
    for (size_t k = 40; ok && k < len; k++) /* past a possible marker */
        ok = d[k] == (char)(index * 7 + k);
    f->bad += !ok;
    f->got[index] = 1;
    return 0;
}

static void imap_reruns_keep_their_input(void **state)
{
    echo_feed f = {.n = 400};
    f.got = calloc(f.n, 1);
    snprintf(f.marker, sizeof(f.marker), "%s/echo", tmpdir);
    mp_pool *p = pool(2, 16, 0, 0);
    tu_bound(30, "the imap whose input 50 kills its worker once");
    assert_int_equal(mp_pool_imap(p, echo_kill_once, echo_next, echo_result,
                                  &f), 0);
    tu_unbound();
    for (size_t i = 0; i < f.n; i++)
        assert_true(f.got[i]);
    assert_int_equal(f.bad, 0);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 1);
    assert_true(st.tasks_retried >= 1);
    mp_pool_destroy(p);
    free(f.got);
}

static void destroy_with_work_in_flight(void **state)
{
    enum { N = 20 };
    job *jobs = make_jobs(N, J_SLEEP);
    for (int i = 0; i < N; i++)
        jobs[i].arg = 30000;
    jobs[0].kind = J_PID;
    mp_pool *p = pool(1, 32, 0, 0);
    feed f = {jobs, 0, N, {0, 0}};
    assert_int_equal(mp_pool_imap(p, chaos, feed_next, stop_after_first, &f),
                     MP_ECANCELED);
    assert_true(f.pids[0] > 0 && f.pids[1] > 0);
    mp_pool_destroy(p); /* 19 tasks still sleeping in the worker */
    assert_int_equal(tu_wait_gone(f.pids, 2, 2), 0);
    free(jobs);
}

/* --child-coordinator: a coordinator for the SIGKILL test. Prints the pids
   of its workers, their forkserver and the main forkserver, then waits to
   be killed. */
static int child_coordinator(void)
{
    mp_init();
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 2, .concurrency = 1, .prefetch = 1};
    if (mp_pool_create(&p, &o) < 0)
        return 1;
    job jobs[4];
    mp_buf in[4];
    mp_result out[4];
    for (int i = 0; i < 4; i++) {
        memset(&jobs[i], 0, sizeof(job));
        jobs[i].kind = J_PID;
        in[i] = (mp_buf){&jobs[i], sizeof(job)};
    }
    if (mp_pool_map(p, chaos, in, 4, out) < 0)
        return 1;
    int fs = ((int *)out[0].data)[1];
    int main_fs = tu_parent_of(fs);
    printf("%d %d %d %d\n", ((int *)out[0].data)[0],
           ((int *)out[3].data)[0], fs, main_fs);
    fflush(stdout);
    for (;;)
        pause();
}

/* Returns the number of entries (but . and ..) in dir, -1 if it cannot be
   read. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static void coordinator_sigkill_leaves_nothing(void **state)
{
    char pools[128]; /* the child's TMPDIR: its pool's directory goes here */
    snprintf(pools, sizeof(pools), "%s/sigkill-pools", tmpdir);
    assert_int_equal(mkdir(pools, 0700), 0);
    setenv("TMPDIR", pools, 1);
    int fd;
    pid_t child = spawn_child("--child-coordinator", 0, &fd);
    unsetenv("TMPDIR");
    char line[256];
    read_line_within(fd, line, sizeof(line), 30,
                     "the child coordinator's pids");
    close(fd);
    pid_t pids[4] = {0};
    assert_int_equal(sscanf(line, "%d %d %d %d", &pids[0], &pids[1],
                            &pids[2], &pids[3]), 4);
    assert_true(pids[0] != pids[1]); /* two distinct workers */
    for (int i = 0; i < 4; i++)
        assert_false(tu_gone(pids[i]));
    assert_int_equal(count_entries(pools), 1); /* its mpool-XXXXXX */
    kill(child, SIGKILL);
    wait_exit_within(child, 10, "the SIGKILLed child coordinator");
    tu_forked_forget(child);
    assert_int_equal(tu_wait_gone(pids, 4, 2), 0); /* within 2 s */
    /* the pool forkserver removed the endpoint directory before it left */
    assert_int_equal(count_entries(pools), 0);
    rmdir(pools);
}

/* --child-blocked-results: a coordinator that stops reading. Its one
   worker gets 16 tasks that, once fd MP_GO_FD is readable, announce
   themselves and return 512 KiB each; it waits only for a first task's
   pids, prints "P worker forkserver" and pauses, so the worker's results
   fill the pipe and it waits for a reader. */
static int child_blocked_results(void)
{
    enum { N = 17 };
    mp_init();
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 1, .concurrency = 32};
    if (mp_pool_create(&p, &o) < 0)
        return 1;
    job jobs[N];
    mp_future *f[N];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < N; i++) {
        jobs[i].kind = i ? J_BIG_AFTER_FD : J_PID;
        jobs[i].arg = atoi(getenv("MP_GO_FD"));
        if (mp_pool_submit(p, chaos, &jobs[i], sizeof(job), &f[i]) < 0)
            return 1;
    }
    if (mp_future_wait(f[0], 30000) < 0 || mp_future_result(f[0])->status)
        return 1;
    const int *pids = mp_future_result(f[0])->data;
    printf("P %d %d\n", pids[0], pids[1]);
    fflush(stdout);
    for (;;)
        pause();
}

/* A worker whose results fill its pipe waits for the coordinator to read
   them; if the coordinator is SIGKILLed meanwhile and its pool forkserver
   cannot take the workers down (here it is stopped; a fork of the
   coordinator holding the forkserver's channel does the same), the worker
   leaves on its own. Before, it waited for the socket forever (the
   10 s bound below failed). */
static void worker_blocked_on_results_leaves_with_its_coordinator(
    void **state)
{
    int go[2];
    assert_int_equal(pipe(go), 0);
    char num[16];
    snprintf(num, sizeof(num), "%d", go[0]);
    setenv("MP_GO_FD", num, 1);
    int fd;
    pid_t child = spawn_child("--child-blocked-results", 0, &fd);
    unsetenv("MP_GO_FD");
    close(go[0]);
    char line[256];
    read_line_within(fd, line, sizeof(line), 30,
                     "the child coordinator's pids");
    pid_t pids[2] = {0, 0};
    assert_int_equal(sscanf(line, "P %d %d", &pids[0], &pids[1]), 2);
    /* The 16 tasks return 8 MiB that nobody will read: far more than the
       pipe holds, so the worker ends up waiting in its results. */
    assert_int_equal(write(go[1], "g", 1), 1);
    read_line_within(fd, line, sizeof(line), 30,
                     "the announcement of a task returning 512 KiB");
    close(fd);
    close(go[1]);
    assert_int_equal(kill(pids[1], SIGSTOP), 0); /* the pool forkserver */
    kill(child, SIGKILL);
    wait_exit_within(child, 10, "the SIGKILLed child coordinator");
    tu_forked_forget(child);
    int left = tu_wait_gone(&pids[0], 1, 10);
    kill(pids[1], SIGKILL); /* and its workers with it (PDEATHSIG) */
    if (left)
        fail_msg("the worker %d blocked on its results was still there "
                 "10 s after its coordinator was SIGKILLed", (int)pids[0]);
}

static mp_pool *volatile g_stop_pool;

static void on_stop_signal(int sig)
{
    if (g_stop_pool)
        mp_pool_cancel(g_stop_pool);
}

/* --child-group-signal: a coordinator in its own process group, as under
   timeout(1) or a terminal. SIGTERM, SIGINT and SIGHUP cancel its call. It
   learns its workers and forkservers, runs slow tasks that announce
   themselves on stdout, and after the call (the test signals the group
   meanwhile) prints what its tasks got and whether its processes lived
   through the signals. */
static int child_group_signal(void)
{
    mp_init(); /* first, as mpfetch does: the forkservers' dispositions
                  are their own, not the handlers below */
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 2, .concurrency = 1, .prefetch = 1};
    if (mp_pool_create(&p, &o) < 0)
        return 1;
    enum { N = 8 };
    job jobs[N];
    mp_buf in[N];
    mp_result out[N];
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof(job));
        jobs[i].kind = J_PID;
        in[i] = (mp_buf){&jobs[i], sizeof(job)};
    }
    if (mp_pool_map(p, chaos, in, 4, out) < 0)
        return 1;
    pid_t pids[4] = {((int *)out[0].data)[0], ((int *)out[3].data)[0],
                     ((int *)out[0].data)[1]};
    pids[3] = tu_parent_of(pids[2]);
    for (int i = 0; i < 4; i++)
        mp_result_clear(&out[i]);
    for (int i = 0; i < N; i++) {
        jobs[i].kind = J_ANNOUNCE;
        jobs[i].arg = 30000;
    }
    g_stop_pool = p;
    int rc = mp_pool_map(p, chaos, in, N, out);
    int ok = 0, canceled = 0, eworker = 0, other = 0, alive = 0;
    for (int i = 0; i < N; i++) {
        ok += out[i].status == 0;
        canceled += out[i].status == MP_ECANCELED;
        eworker += out[i].status == MP_EWORKER;
        other += out[i].status != 0 && out[i].status != MP_ECANCELED &&
                 out[i].status != MP_EWORKER;
        mp_result_clear(&out[i]);
    }
    for (int i = 0; i < 4; i++)
        alive += pids[i] > 0 && !tu_gone(pids[i]);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    g_stop_pool = NULL;
    mp_pool_destroy(p);
    int left = tu_wait_gone(pids, 3, 5);
    printf("R rc=%d ok=%d canceled=%d eworker=%d other=%d alive=%d "
           "died=%d left=%d\n", rc, ok, canceled, eworker, other, alive,
           (int)st.workers_died, left);
    fflush(stdout);
    return 0;
}

/* SIGHUP, SIGINT and SIGTERM to the coordinator's whole process group, as
   timeout(1), systemd, Slurm or a closed terminal send them, while tasks
   run: the workers and forkservers ignore them, the coordinator's handler
   cancels the call, and no task ends up looking like it crashed its
   worker. */
static void group_signals_leave_workers_alone(void **state)
{
    int fd;
    pid_t child = spawn_child("--child-group-signal", SPAWN_OWN_GROUP, &fd);
    char line[256];
    read_line_within(fd, line, sizeof(line), 30,
                     "line from a task saying it runs");
    assert_int_equal(line[0], 'S');
    assert_int_equal(kill(-child, SIGHUP), 0);
    assert_int_equal(kill(-child, SIGINT), 0);
    assert_int_equal(kill(-child, SIGTERM), 0);
    do
        read_line_within(fd, line, sizeof(line), 30,
                         "the coordinator's report after the signals");
    while (line[0] == 'S');
    close(fd);
    int st = wait_exit_within(child, 10, "the child coordinator");
    tu_forked_forget(-child);
    kill(-child, SIGKILL); /* its main forkserver, if still there */
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int rc, ok, canceled, eworker, other, alive, died, left;
    assert_int_equal(sscanf(line, "R rc=%d ok=%d canceled=%d eworker=%d "
                            "other=%d alive=%d died=%d left=%d", &rc, &ok,
                            &canceled, &eworker, &other, &alive, &died,
                            &left), 8);
    assert_int_equal(rc, MP_ECANCELED);
    assert_int_equal(ok + canceled, 8);
    assert_int_equal(eworker, 0);
    assert_int_equal(other, 0);
    assert_int_equal(alive, 4); /* 2 workers, pool and main forkserver */
    assert_int_equal(died, 0);
    assert_int_equal(left, 0);  /* and gone after mp_pool_destroy */
}

/* --child-closed-std: runs a pool with fds 0-2 closed at its start and
   reports on fd 3 whether the pool worked and 0-2 are /dev/null. */
static int child_closed_std(void)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 2};
    int ok = mp_pool_create(&p, &o) == 0;
    job jobs[4] = {{.value = 1}, {.value = 2}, {.value = 3}, {.value = 4}};
    mp_buf in[4];
    mp_result out[4];
    for (int i = 0; i < 4; i++)
        in[i] = (mp_buf){&jobs[i], sizeof(job)};
    ok = ok && mp_pool_map(p, chaos, in, 4, out) == 0;
    for (int i = 0; ok && i < 4; i++) {
        ok = out[i].status == 0 && *(uint64_t *)out[i].data == 3 * (i + 1u);
        mp_result_clear(&out[i]);
    }
    int devnull = 0;
    for (int fd = 0; fd < 3; fd++) {
        char path[64], target[256] = "";
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        devnull += n > 0 && strcmp(target, "/dev/null") == 0;
    }
    mp_pool_destroy(p);
    dprintf(3, "R ok=%d devnull=%d\n", ok, devnull);
    return 0;
}

/* A coordinator started with fds 0-2 closed: its sockets must not become
   standard descriptors (mpfetch read its forkserver's socket as input). */
static void closed_std_fds_stay_free(void **state)
{
    char line[256];
    child_report("--child-closed-std", SPAWN_CLOSED_STD,
                 "the report of a coordinator with fds 0-2 closed", line,
                 sizeof(line));
    int ok, devnull;
    assert_int_equal(sscanf(line, "R ok=%d devnull=%d", &ok, &devnull), 2);
    assert_int_equal(ok, 1);
    assert_int_equal(devnull, 3);
}

/* A task SIGKILLs its pool forkserver (and so every worker): a new
   forkserver and new workers take over, the tasks they held run again
   (one loss is counted against each, far from final), and the next call
   works. */
static void pool_forkserver_death_is_survived(void **state)
{
    enum { N = 2000 };
    job *jobs = make_jobs(N, J_OK);
    jobs[N / 2].kind = J_KILL_FS_ONCE;
    snprintf(jobs[N / 2].marker, sizeof(jobs[N / 2].marker), "%s/kill-fs",
             tmpdir);
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 16, 0, 0);
    tu_bound(60, "mp_pool_map while the pool forkserver is killed");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    check_values(out, N, SIZE_MAX);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 2);
    assert_int_equal(st.workers_started, 4);
    tu_bound(60, "the mp_pool_map after the forkserver was replaced");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    check_values(out, N, SIZE_MAX);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

/* A task that SIGKILLs its pool forkserver every time is isolated like
   one that kills its worker: after a loss in company it runs again, at
   its last try alone in the pool, and ends with a final MP_EWORKER that
   says why; every other task succeeds, the call returns 0, and the pool
   goes on. Before, each loss sent the tasks back uncounted, until no slot
   could be kept alive: the call ended MP_EWORKER and that task (with its
   neighbours) MP_EABORTED, "not final", which a caller that re-runs
   aborted tasks re-runs forever. */
static void forkserver_killer_task_fails_alone(void **state)
{
    enum { N = 400, K = 123 };
    job *jobs = make_jobs(N, J_OK);
    jobs[K].kind = J_KILL_FS;
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = pool(2, 8, 0, 0);
    tu_bound(60, "mp_pool_map with a task that kills the pool forkserver "
             "every time");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    assert_int_equal(out[K].status, MP_EWORKER);
    assert_non_null(out[K].error);
    assert_non_null(strstr(out[K].error, "forkserver died 3 times"));
    check_values(out, N, K);
    tu_bound(60, "the mp_pool_map after it");
    jobs[K].kind = J_OK;
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    check_values(out, N, SIZE_MAX);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

/* The only worker dies and can never be started again (its endpoint
   directory is gone): each failed start is retried after a back-off (no
   slot left dead without a timer, which hung the call), and after
   MP_MAX_FAILS of them the call ends with MP_EWORKER, the tasks with
   MP_EABORTED. Once the directory is back, the next call works. */
static void failed_respawns_end_the_call(void **state)
{
    enum { N = 10 };
    char pools[80], dir[400], hidden[100];
    snprintf(pools, sizeof(pools), "%s/respawn-pools", tmpdir);
    snprintf(hidden, sizeof(hidden), "%s.hidden", pools);
    assert_int_equal(mkdir(pools, 0700), 0);
    setenv("TMPDIR", pools, 1);
    mp_pool *p = pool(1, 4, 0, 0);
    unsetenv("TMPDIR");
    DIR *d = opendir(pools);
    struct dirent *de;
    while ((de = readdir(d)) && strncmp(de->d_name, "mpool-", 6))
        ;
    assert_non_null(de);
    snprintf(dir, sizeof(dir), "%s/%s", pools, de->d_name);
    closedir(d);
    job *jobs = make_jobs(N, J_OK);
    jobs[0].kind = J_HIDE_DIR_AND_DIE;
    snprintf(jobs[0].marker, sizeof(jobs[0].marker), "%s", pools);
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    tu_bound(30, "mp_pool_map while no worker can be started");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), MP_EWORKER);
    tu_unbound();
    assert_int_equal(out[0].status, MP_EABORTED);
    for (int i = 0; i < N; i++) {
        assert_true(out[i].status == 0 || out[i].status == MP_EABORTED);
        mp_result_clear(&out[i]);
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_started, 1); /* no respawn got a process */
    assert_int_equal(rename(hidden, dir), 0);
    tu_bound(30, "mp_pool_map after the directory came back");
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    tu_unbound();
    check_values(out, N, SIZE_MAX);
    mp_pool_destroy(p);
    rmdir(pools);
    free(jobs), free(in), free(out);
}

/* --child-fs-gone: a task kills both forkservers, so no new pool
   forkserver can be had; reports what the call and the next one
   returned. */
static int child_fs_gone(void)
{
    mp_init();
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 2, .concurrency = 4};
    if (mp_pool_create(&p, &o) < 0)
        return 1;
    enum { N = 200 };
    job *jobs = make_jobs(N, J_OK);
    jobs[N / 2].kind = J_KILL_BOTH_FS_ONCE;
    snprintf(jobs[N / 2].marker, sizeof(jobs[N / 2].marker), "%s/both-fs",
             getenv("MP_FAULTS_TMP"));
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    int rc[2], ok[2] = {0, 0}, aborted[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        rc[k] = mp_pool_map(p, chaos, in, N, out);
        for (int i = 0; i < N; i++) {
            ok[k] += out[i].status == 0;
            aborted[k] += out[i].status == MP_EABORTED;
            mp_result_clear(&out[i]);
        }
    }
    mp_pool_destroy(p);
    printf("R rc=%d,%d ok=%d,%d aborted=%d,%d\n", rc[0], rc[1], ok[0], ok[1],
           aborted[0], aborted[1]);
    fflush(stdout);
    free(jobs), free(in), free(out);
    return 0;
}

/* Both forkservers gone: the call ends with MP_ENOFORK (unfinished tasks
   MP_EABORTED), and the next call fails at once with it: no hang. */
static void forkserver_gone_for_good_fails_fast(void **state)
{
    setenv("MP_FAULTS_TMP", tmpdir, 1);
    char line[256];
    child_report("--child-fs-gone", 0,
                 "the report of a coordinator whose forkservers died", line,
                 sizeof(line));
    unsetenv("MP_FAULTS_TMP");
    int rc[2], ok[2], aborted[2];
    assert_int_equal(sscanf(line, "R rc=%d,%d ok=%d,%d aborted=%d,%d", &rc[0],
                            &rc[1], &ok[0], &ok[1], &aborted[0],
                            &aborted[1]), 6);
    assert_int_equal(rc[0], MP_ENOFORK);
    assert_int_equal(ok[0] + aborted[0], 200);
    assert_true(aborted[0] >= 1);
    assert_int_equal(rc[1], MP_ENOFORK);
    assert_int_equal(aborted[1], 200);
}

static mp_pool *volatile g_pool;

/* Stays installed after the test: tasks started before the cancel reached
   their worker may still signal. */
static void on_usr1(int sig)
{
    if (g_pool)
        mp_pool_cancel(g_pool);
}

static void cancel_from_a_signal_handler(void **state)
{
    enum { N = 100 };
    job *jobs = make_jobs(N, J_SIGNAL);
    for (int i = 0; i < N; i++)
        jobs[i].arg = getpid();
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    g_pool = pool(2, 8, 0, 0);
    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    assert_int_equal(mp_pool_map(g_pool, chaos, in, N, out), MP_ECANCELED);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, MP_ECANCELED);
        mp_result_clear(&out[i]);
    }
    /* the pool is still good for the next call */
    job ok = {.value = 5, .kind = J_OK};
    mp_result r;
    assert_int_equal(mp_pool_apply(g_pool, chaos, &ok, sizeof(ok), &r), 0);
    assert_int_equal(*(uint64_t *)r.data, 15);
    mp_result_clear(&r);
    mp_pool *p = g_pool;
    g_pool = NULL;
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static void workers_that_cannot_start_back_off(void **state)
{
    enum { N = 10 };
    job *jobs = make_jobs(N, J_DIE_IF_MARKER);
    mp_buf *in = bufs_of(jobs, N);
    mp_result *out = calloc(N, sizeof(*out));
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 2, .init = init_die_if_marker,
                         .init_arg = jobs[0].marker,
                         .init_len = strlen(jobs[0].marker) + 1};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_true(first_time(jobs[0].marker)); /* from now on, all die */
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), MP_EWORKER);
    for (int i = 0; i < N; i++) { /* not the tasks' fault: not final */
        assert_int_equal(out[i].status, MP_EABORTED);
        mp_result_clear(&out[i]);
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_true(st.workers_started <= 2 + 2 * 6); /* backed off, no spin */
    unlink(jobs[0].marker); /* workers can live again */
    assert_int_equal(mp_pool_map(p, chaos, in, N, out), 0);
    check_values(out, N, SIZE_MAX);
    mp_pool_destroy(p);
    free(jobs), free(in), free(out);
}

static int cpu_usage(mp_task *t, const void *in, size_t len)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                 ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    return mp_return(t, &us, sizeof(us));
}

static void idle_pool_uses_no_cpu(void **state)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 1, .task_timeout_ms = 1000};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    mp_result a, b;
    assert_int_equal(mp_pool_apply(p, cpu_usage, NULL, 0, &a), 0);
    struct timespec idle = {1, 0}; /* the interval measured, not a sync */
    nanosleep(&idle, NULL);
    assert_int_equal(mp_pool_apply(p, cpu_usage, NULL, 0, &b), 0);
    int64_t used = *(int64_t *)b.data - *(int64_t *)a.data;
    assert_true(used >= 0);
    assert_true(used < 10000); /* under 1% of a core over that second */
    mp_result_clear(&a);
    mp_result_clear(&b);
    mp_pool_destroy(p);
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mp-faults-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child-coordinator") == 0)
        return child_coordinator();
    if (argc > 1 && strcmp(argv[1], "--child-group-signal") == 0)
        return child_group_signal();
    if (argc > 1 && strcmp(argv[1], "--child-closed-std") == 0)
        return child_closed_std();
    if (argc > 1 && strcmp(argv[1], "--child-fs-gone") == 0)
        return child_fs_gone();
    if (argc > 1 && strcmp(argv[1], "--child-blocked-results") == 0)
        return child_blocked_results();
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    if (n > 0)
        self_path[n] = '\0';
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore); /* the crashes below are on purpose */
    mp_init();
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(sigkill_mid_map_loses_nothing, 60),
        TU_BOUNDED(poison_task_fails_alone, 60),
        TU_BOUNDED(exit_in_a_task_is_survived, 60),
        TU_BOUNDED(await_timeout_wakes_the_task, 60),
        TU_BOUNDED(deadlines_hold_without_timer_create, 60),
        TU_BOUNDED(cpu_spin_gets_its_worker_replaced, 60),
        TU_BOUNDED(a_crash_under_a_deadline_is_told_from_it, 60),
        TU_BOUNDED(blocking_syscall_gets_its_worker_replaced, 60),
        TU_BOUNDED(recycling_every_100_tasks, 60),
        TU_BOUNDED(imap_reruns_keep_their_input, 60),
        TU_BOUNDED(destroy_with_work_in_flight, 60),
        TU_BOUNDED(coordinator_sigkill_leaves_nothing, 60),
        TU_BOUNDED(worker_blocked_on_results_leaves_with_its_coordinator,
                   90),
        TU_BOUNDED(cancel_from_a_signal_handler, 60),
        TU_BOUNDED(group_signals_leave_workers_alone, 60),
        TU_BOUNDED(closed_std_fds_stay_free, 60),
        TU_BOUNDED(pool_forkserver_death_is_survived, 60),
        TU_BOUNDED(forkserver_killer_task_fails_alone, 90),
        TU_BOUNDED(failed_respawns_end_the_call, 60),
        TU_BOUNDED(forkserver_gone_for_good_fails_fast, 60),
        TU_BOUNDED(workers_that_cannot_start_back_off, 60),
        TU_BOUNDED(idle_pool_uses_no_cpu, 60),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
