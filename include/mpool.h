/*
 * libmpool: run many IO-bound tasks at once across all cores.
 *
 * A coordinator (the caller's process) forks N worker processes through a
 * forkserver; each worker runs a libevent loop and up to `concurrency` tasks
 * at once as stackful coroutines; batches of tasks and results travel over
 * one nanomsg PAIR per worker.
 *
 * Ownership, once for the whole API:
 *  - a buffer passed in (task input, init argument) is copied before the call
 *    that takes it returns, or, for mp_pool_map, read only while the call
 *    runs;
 *  - an mp_result filled by mp_pool_map / mp_pool_apply owns its `data` and
 *    `error`; mp_result_clear() frees them, and is the only way to: a map's
 *    `data` of up to 1 KiB is a piece of a block shared with other results
 *    (one allocation for many), never to be passed to free() or realloc();
 *    each piece lives until its own result is cleared (from any thread,
 *    after mp_pool_destroy too), the block until its last piece is;
 *  - an mp_result handed to an mp_result_fn belongs to the pool and, with
 *    its data and error, is valid only during the callback (it points into
 *    the received batch, so nothing is copied): copy what you keep;
 *  - an mp_http_response owns everything it points to;
 *    mp_http_response_clear() frees it.
 *
 * Errors: functions that can fail return 0 or a negative MP_E* code.
 * A per-task failure is the status of that task's result: it never fails
 * the whole call.
 *
 * What a task's status says about the task (so a caller can tell what to
 * run again, e.g. after an interruption):
 *  - 0 or the task's own code (MP_ETASK, MP_ETIMEDOUT, ...): it ran;
 *  - MP_EWORKER: the task killed its worker max_attempts times on its own
 *    (a crash of a worker it shared kills no innocent task: those re-run),
 *    or its pool forkserver (and so every worker) max_attempts times, the
 *    last one alone in the pool;
 *  - MP_ECANCELED: mp_pool_cancel, or the result callback, stopped the call
 *    before the task finished;
 *  - MP_EABORTED: the pool or the call failed (forkserver gone for good,
 *    no worker can be kept alive, input error, event loop failure) before
 *    the task finished. Never the task's fault, never final: run it again.
 *
 * Placement: at every dispatch the tasks waiting for a worker (a map's
 * input, an imap's input pulled ahead up to the room the workers have
 * now, futures, re-runs) go to the least-loaded workers, load being the
 * tasks a worker holds (queued there and running), and no worker holds
 * more than its credit window. Guarantees: n tasks dispatched at once to
 * W workers that hold nothing go ceil(n / W) or floor(n / W) to each (a
 * map of 10 on 2 workers: 5 / 5; lower slots take the remainder); a
 * task dispatched alone (a future submitted while others run, an
 * attached server's) goes to a worker holding the fewest; a stream longer
 * than every worker's room fills every worker. A busy worker (all its
 * coroutines taken) is refilled only when a quarter of its window is
 * free, so batches stay big. Placement never moves a task once sent.
 *
 * Signals: the forkservers and workers ignore SIGINT, SIGTERM and SIGHUP,
 * which a terminal, timeout(1), systemd or Slurm send to the whole process
 * group: only the coordinator (the caller) decides what happens, e.g. a
 * handler that calls mp_pool_cancel. They still die with the coordinator.
 */
#ifndef MPOOL_H
#define MPOOL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MP_EXTERN __attribute__((visibility("default")))
#define MP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MP_EXTERN
#define MP_PRINTF(a, b)
#endif

#define MP_VERSION_MAJOR 0
#define MP_VERSION_MINOR 1
#define MP_VERSION_PATCH 0
#define MP_VERSION_STRING "0.1.0"

/*
 * The error table: XX(name, value, message). Values never change once
 * released. Where an errno fits, the value is its negation (Linux).
 */
#define MP_ERRNO_MAP(XX)                                                    \
    XX(EINVAL, -EINVAL, "invalid argument")                                 \
    XX(ENOMEM, -ENOMEM, "out of memory")                                    \
    XX(E2BIG, -E2BIG, "input larger than the limit")                        \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                 \
    XX(EIO, -EIO, "i/o error")                                              \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                  \
    XX(ECANCELED, -ECANCELED, "canceled")                                   \
    XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                   \
    XX(ECONNRESET, -ECONNRESET, "connection closed by peer")                \
    XX(EPROTO, -EPROTO, "protocol error")                                   \
    XX(EFBIG, -EFBIG, "response body larger than the limit")                \
    XX(ENOSYS, -ENOSYS, "not supported here")                               \
    XX(EWORKER, -4001, "worker process died")                               \
    XX(EINIT, -4002, "worker init failed")                                  \
    XX(ETASK, -4003, "task failed")                                         \
    XX(ESYS, -4004, "system call failed")                                   \
    XX(EABORTED, -4005, "call ended before the task finished")              \
    XX(ENOFORK, -4008, "no forkserver: the pool cannot start workers")      \
    XX(EDNS, -4010, "could not resolve host")                               \
    XX(ETLS, -4011, "TLS handshake or certificate error")                   \
    XX(EREDIRECT, -4012, "too many redirects")                              \
    XX(EURL, -4013, "malformed or unsupported URL")                         \
    XX(EHTTP, -4014, "HTTP transfer failed")                                \
    XX(EINPUT, -4015, "malformed input line")                               \
    XX(ESLOW, -4018, "transfer slower than the speed limit")               \
    XX(EATTACHED, -4020, "the pool runs on the caller's event loop")       \
    XX(EPROXY, -4035, "the proxy refused to connect to the host")          \
    XX(ECLOSED, -4040, "the pool was drained: it takes no more tasks")

typedef enum mp_errno {
    MP_OK = 0,
#define MP__XX(name, value, msg) MP_##name = (value),
    MP_ERRNO_MAP(MP__XX)
#undef MP__XX
} mp_errno;

/* Largest task input or task result, in bytes. Larger: MP_E2BIG. */
#define MP_MAX_PAYLOAD ((size_t)64 << 20)

/* Returns a sentence for err ("timed out"); never NULL. */
MP_EXTERN const char *mp_strerror(int err);
/* Returns the code's name ("MP_ETIMEDOUT"); "MP_UNKNOWN" for others. */
MP_EXTERN const char *mp_err_name(int err);

typedef struct mp_pool mp_pool; /* coordinator side */
typedef struct mp_task mp_task; /* a running task, worker side */

typedef struct mp_buf {
    const void *data;
    size_t len;
} mp_buf;

typedef struct mp_result {
    int status;   /* 0, or a negative MP_E* code */
    void *data;   /* what the task returned (mp_return); NULL if nothing */
    size_t len;
    char *error;  /* message from mp_fail or the pool, or for a task that
                     returned a bare code mp_strerror's; NULL on success */
} mp_result;

/*
 * A task. Runs in a worker, on a coroutine. Returns 0 for success (the
 * result carries what mp_return stored, or nothing), or a negative MP_E*
 * code for failure: mp_fail sets a message too; a bare code gets
 * mp_strerror's sentence as its error. A positive return is a bug, not a
 * success: the task fails with MP_ETASK and an error naming the value
 * (`return mp_wait_fd(...)` must not pass its ready bits for success). The function pointer is
 * valid in workers because workers are forks of the caller's image taken at
 * mp_init(): functions in libraries dlopen()ed later are not.
 */
typedef int (*mp_task_fn)(mp_task *t, const void *in, size_t len);

/*
 * Input source of mp_pool_imap. Stores the next input in *in and returns 1;
 * returns 0 at the end of input; MP_EAGAIN for "nothing now, ask again after
 * the next result arrives"; any other negative code aborts the call with it.
 * The buffer must stay valid until the next call of the function.
 */
typedef int (*mp_next_fn)(void *ud, mp_buf *in);

/*
 * Result sink of mp_pool_imap, called in completion order. index is the
 * input's position in the order `next` produced it (0-based). Return 0 to go
 * on, non-zero to cancel the rest of the call (imap returns MP_ECANCELED).
 */
typedef int (*mp_result_fn)(void *ud, size_t index, mp_result *r);

/*
 * The limits of mp_pool_options, one set for every front end: mp_pool_create
 * refuses anything past them with MP_EINVAL, and mp_pool_options_check says
 * which one in words.
 *  - MP_MAX_WORKERS: workers of one pool, and of all the pools of a process
 *    together: the coordinator holds one nanomsg socket per worker, and
 *    nanomsg 1.x allows 512 sockets per process (a compile-time limit; its
 *    NN_MAX_SOCKETS environment variable does not exist in 1.1). A pool of
 *    W workers also needs about 5 W open files in the coordinator.
 *  - MP_MAX_CONCURRENCY: coroutines per worker. Each has a stack and a guard
 *    page (two mappings): 20,000 of them stay well under Linux's default
 *    vm.max_map_count of 65,530.
 *  - MP_MAX_PREFETCH: tasks queued in a worker beyond its concurrency.
 *  - MP_MAX_POOL_TASKS: tasks one pool holds at once, workers x
 *    (concurrency + prefetch): the coordinator's ledger is that big.
 *  - MP_MAX_STACK_SIZE: a coroutine stack (rounded up to whole pages).
 */
#define MP_MAX_WORKERS 512
#define MP_MAX_CONCURRENCY 20000
#define MP_MAX_PREFETCH 20000
#define MP_MAX_POOL_TASKS (1 << 21)
#define MP_MAX_STACK_SIZE ((size_t)64 << 20)
/* The most tasks one worker holds with prefetch 0 (the adaptive window,
   see mp_pool_options.prefetch), or MP_MAX_POOL_TASKS / workers if less. */
#define MP_MAX_WINDOW 8192

typedef struct mp_pool_options {
    int workers;                   /* 0 = mp_cpus_available() (at most
                                      MP_MAX_WORKERS); 1..MP_MAX_WORKERS */
    int concurrency;               /* coroutines per worker; 0 = 64; at
                                      most MP_MAX_CONCURRENCY */
    int prefetch;                  /* queued tasks per worker beyond
                                      concurrency: a fixed credit window
                                      of concurrency + prefetch; at most
                                      MP_MAX_PREFETCH. 0 = adaptive: the
                                      window starts at 2 x concurrency at
                                      each call and doubles whenever a
                                      worker's coroutines ran dry while
                                      tasks waited (fast tasks: bigger
                                      batches per message), up to
                                      MP_MAX_WINDOW */
    unsigned max_tasks_per_worker; /* recycle after this many; 0 = never */
    unsigned task_timeout_ms;      /* 0 = none */
    unsigned max_attempts;         /* tries of a task whose worker died;
                                      0 = 3 */
    size_t stack_size;             /* coroutine stack, rounded up to whole
                                      pages; 0 = 256 KiB; at most
                                      MP_MAX_STACK_SIZE */
    double rate;                   /* task starts per second over the whole
                                      pool; 0 = unlimited */
    /* Once in each worker before any task; non-zero fails mp_pool_create
       with MP_EINIT, and the message given to mp_init_fail (or one naming
       the code returned) reaches its caller through mp_last_error(). The
       argument is copied. */
    int (*init)(const void *arg, size_t len);
    const void *init_arg;
    size_t init_len;
    /* The pool argument: bytes every task may read with mp_pool_arg()
       (copied; what globals set after mp_init() cannot carry, since
       workers are forks taken at mp_init()). At most MP_MAX_PAYLOAD. */
    const void *arg;
    size_t arg_len;
    /* HTTP connections of the whole pool (aiohttp's TCPConnector(limit)),
       0 = no limit: split over the workers, worker i taking total / W,
       plus one for i < total % W (the shares sum to the total, each at
       least 1; fewer than `workers` is MP_EINVAL), applied with
       mp_http_set_limits(share, 0) in each worker before init (which may
       set its own limits instead). */
    unsigned http_max_connections;
} mp_pool_options;

/*
 * Starts the forkserver. Call it at the top of main() in programs that
 * start threads or open sockets; mp_pool_create() calls it otherwise.
 * It (and mp_pool_create) opens /dev/null on any of the descriptors 0-2
 * that is closed, so that no internal socket ever becomes standard input,
 * output or error. Returns 0, or MP_ESYS if the forkserver could not be
 * started.
 */
MP_EXTERN int mp_init(void);

/*
 * Checks opts (NULL is fine) against the limits above and everything else
 * mp_pool_create checks, without creating anything: for front ends that
 * report a bad option as a usage error. Returns 0, or MP_EINVAL / MP_E2BIG
 * with a sentence naming the option, its limit and the value given in msg
 * (msg_len bytes, NUL-terminated; msg may be NULL): "concurrency must be
 * between 1 and 20000 (MP_MAX_CONCURRENCY), or 0 for 64; got 100000".
 */
MP_EXTERN int mp_pool_options_check(const mp_pool_options *opts, char *msg,
                                    size_t msg_len);

/* Creates a pool and waits until every worker is ready. opts may be NULL.
   Returns 0, MP_EINVAL, MP_ENOMEM, MP_ESYS, MP_EINIT, MP_EWORKER or
   MP_ETIMEDOUT (a worker not ready within 60 s); on failure
   mp_last_error() says what happened (for MP_EINVAL, what
   mp_pool_options_check says). */
MP_EXTERN int mp_pool_create(mp_pool **out, const mp_pool_options *opts);

/* The message of the last mp_pool_create that failed in the calling
   thread: for MP_EINIT, the failing worker's init message ("worker 1:
   init failed: ..."); for MP_EWORKER, how a worker died before it was
   ready. NULL after a success or before any failure. Valid until the
   thread's next mp_pool_create. */
MP_EXTERN const char *mp_last_error(void);

/*
 * Runs fn on each of the n inputs and stores result i in out[i]. Blocks.
 * Returns 0 when every input has a result (per-task failures are in out),
 * MP_ECANCELED after mp_pool_cancel (unfinished tasks: status
 * MP_ECANCELED), MP_EWORKER when no worker can be kept alive (unfinished
 * tasks: MP_EABORTED), MP_ENOFORK when the pool's forkserver died and no
 * new one could be started (then every later call fails at once with it),
 * MP_ESYS when the pool itself failed (unfinished tasks: MP_EABORTED),
 * MP_EINVAL or MP_E2BIG for bad arguments (also when called from inside
 * one of the pool's callbacks), MP_EATTACHED on an attached pool (out
 * untouched in these three cases). out[] is filled in every other case.
 * Futures' results and callbacks are delivered while it runs.
 *
 * Faults survived: a worker that dies is replaced and its unfinished tasks
 * run again (a task that kills max_attempts workers ends MP_EWORKER); a
 * pool forkserver that dies (taking every worker with it) is replaced by a
 * new one with new workers, and the unfinished tasks run again with no
 * death counted against them.
 */
MP_EXTERN int mp_pool_map(mp_pool *p, mp_task_fn fn, const mp_buf *in,
                          size_t n, mp_result *out);

/*
 * Streams: pulls inputs through next only while a worker has room for them
 * and hands each result to on_result as it completes, so memory is bounded
 * by in-flight work, never by the input's size. Returns 0, MP_ECANCELED,
 * MP_EWORKER, MP_ENOFORK, MP_ESYS, MP_EINVAL, or the error next returned
 * (see mp_pool_map for what each means). When the call
 * ends early, every task pulled but not finished still gets its result:
 * MP_ECANCELED after a cancel, MP_EABORTED otherwise.
 */
MP_EXTERN int mp_pool_imap(mp_pool *p, mp_task_fn fn, mp_next_fn next,
                           mp_result_fn on_result, void *ud);

/* One task. Returns the call's error, or 0 with the task's result in out. */
MP_EXTERN int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *in,
                            size_t len, mp_result *out);

/*
 * Stops the call in progress: no more input is pulled, tasks not finished
 * end with MP_ECANCELED. Only the call running when the cancel is handled
 * (the pool's loop runs it at once): on an idle pool it does nothing, and
 * the next call runs whole. Futures are left alone (see
 * mp_pool_cancel_futures). Safe from a signal handler and from another
 * thread.
 */
MP_EXTERN void mp_pool_cancel(mp_pool *p);

/*
 * Cancels every future of p not done, now: queued ones never run, those at
 * workers are woken with MP_ECANCELED there; each ends with status
 * MP_ECANCELED and its callback runs before this returns. The call in
 * progress is left alone. Not for signal handlers (call it from the
 * handler's loop). Returns the number of futures canceled, or MP_EINVAL.
 */
MP_EXTERN int mp_pool_cancel_futures(mp_pool *p);

/*
 * Draining (aiomultiprocess close() + join()): the pool stops taking work
 * (mp_pool_submit, map, imap and apply return MP_ECLOSED from now on),
 * the futures pending (queued or at workers) run to their end, then the
 * drain ends and the callback set with mp_pool_on_drained runs once:
 * status 0, or MP_ETIMEDOUT when timeout_ms (0: no limit) passed first
 * (the futures left go on: mp_pool_cancel_futures or mp_pool_destroy
 * ends them). Workers ignore SIGTERM, so a coordinator that drains on
 * SIGTERM finishes its pending work.
 *
 * Without mp_pool_attach, mp_pool_drain runs the pool's loop and returns
 * when the drain ends: 0 or MP_ETIMEDOUT. On an attached pool it returns
 * 0 at once (safe from the caller's loop callbacks, e.g. a SIGTERM
 * evsignal handler) and the callback, on the caller's loop, says when the
 * drain ended: answer, then stop the loop. A drain that ended makes later
 * drains return at once. Returns MP_EINVAL for NULL, during a blocking
 * call or from inside the pool's own loop, MP_ENOMEM, MP_ESYS.
 */
typedef void (*mp_drained_fn)(mp_pool *p, int status, void *ud);
MP_EXTERN int mp_pool_drain(mp_pool *p, unsigned timeout_ms);
/* Sets the callback of the drain (NULL: none). Returns 0 or MP_EINVAL. */
MP_EXTERN int mp_pool_on_drained(mp_pool *p, mp_drained_fn cb, void *ud);

/* Number of workers the pool keeps. */
MP_EXTERN int mp_pool_workers(const mp_pool *p);

/*
 * Returns the CPUs this process may use, the default number of workers:
 * the CPUs in its affinity mask (taskset, cpusets) capped by the CPU quota
 * of its cgroup and its ancestors (cgroup v2 cpu.max, v1
 * cpu.cfs_quota_us / cpu.cfs_period_us: Slurm, a Kubernetes CPU limit,
 * docker --cpus), rounded up; at least 1, at most 1024. The cgroup tree is
 * read under $MP_CGROUP_ROOT if set (meant for tests), else /sys/fs/cgroup.
 */
MP_EXTERN int mp_cpus_available(void);

/* Counters since the pool was created. */
typedef struct mp_pool_stats {
    uint64_t tasks_done;      /* results delivered */
    uint64_t tasks_retried;   /* re-dispatched after a worker died */
    uint64_t tasks_alone;     /* re-runs of a suspect (a task with
                                 max_attempts - 1 deaths), each alone on a
                                 worker (alone in the pool for one whose
                                 pool forkserver died max_attempts - 1
                                 times); every other re-run goes in
                                 batches */
    uint64_t workers_started; /* every fork, initial ones included */
    uint64_t workers_died;    /* exits that were not asked for */
    uint64_t workers_recycled;
    size_t max_buffered;      /* most tasks held by the coordinator at once */
    uint64_t worker_max_held; /* most tasks one worker held at once, queued
                                 and running, as the workers report it:
                                 never above concurrency + prefetch, or
                                 the adaptive window's top (prefetch 0:
                                 MP_MAX_WINDOW) */
    uint64_t sends_failed;    /* batches a worker's pipe refused (not "full"):
                                 their tasks were queued again and that
                                 worker replaced */
    uint64_t worker_cpu_us;   /* user+sys CPU of the pool's workers, the
                                 exited ones and the running ones */
    uint64_t futures_waiting; /* futures submitted and waiting, now, in the
                                 coordinator's queue for a worker's credit
                                 (each holds its input's copy) */
    size_t max_futures_waiting; /* the most that waited at once */
} mp_pool_stats;
MP_EXTERN void mp_pool_get_stats(const mp_pool *p, mp_pool_stats *out);

/* Frees data (or releases its piece of a result block) and error, and
   zeroes the result. NULL is fine; any thread. */
MP_EXTERN void mp_result_clear(mp_result *r);

/*
 * Cancels work in flight, reaps every process, frees the pool. Futures not
 * done end with MP_EABORTED, their callbacks run (and must not use the
 * pool); the futures themselves stay the caller's to free. NULL ok.
 */
MP_EXTERN void mp_pool_destroy(mp_pool *p);

/* ---- futures: one task now, its result later (coordinator side) ------- */

/*
 * A future is one task submitted to a pool (asyncio's run_in_executor /
 * ensure_future). It shares the pool with the blocking calls and with
 * every other future: one ledger, one credit, the same re-run of a task
 * whose worker died (MP_EWORKER after max_attempts), task_timeout_ms,
 * recycling and rate. A future's result reaches only that future, and
 * canceling it touches nothing else; mp_pool_cancel stops the blocking
 * call and leaves futures alone.
 *
 * Where callbacks run: a done-callback runs on the thread that drives the
 * pool's loop. Without mp_pool_attach, that is inside mp_future_wait,
 * mp_future_wait_any and the blocking calls (mp_pool_map, imap, apply):
 * results arrive only while one of them runs. After mp_pool_attach, it is
 * the caller's event loop. A callback may submit, cancel and free futures
 * (its own included), but must not destroy the pool or block on it.
 *
 * Ownership: the future is the caller's from mp_pool_submit to
 * mp_future_free, and may outlive its pool (it is then done). Its result
 * is the future's: valid until mp_future_free.
 */
typedef struct mp_future mp_future;
typedef void (*mp_done_fn)(mp_future *f, void *ud);
struct event_base;

/*
 * Submits fn(in) and stores a new future in *out. Never blocks and never
 * runs a callback: the input is copied and the task queued in the
 * coordinator until a worker has credit for it (mp_pool_stats'
 * futures_waiting). Returns 0, MP_EINVAL, MP_E2BIG (len > MP_MAX_PAYLOAD)
 * or MP_ENOMEM.
 */
MP_EXTERN int mp_pool_submit(mp_pool *p, mp_task_fn fn, const void *in,
                             size_t len, mp_future **out);

/*
 * Sets f's done-callback (add_done_callback), replacing an earlier one:
 * cb(f, ud) runs once, when f is done (result, cancel, or the pool's end).
 * If f is done already it runs now, before this returns. Returns 0 or
 * MP_EINVAL (then cb never runs).
 */
MP_EXTERN int mp_future_on_done(mp_future *f, mp_done_fn cb, void *ud);

/*
 * Waits until f is done (asyncio.wait_for without the cancel), running the
 * pool's loop: f's and other futures' callbacks, and results, arrive
 * meanwhile. timeout_ms 0: no limit. Returns 0 (f is done: see
 * mp_future_result), MP_ETIMEDOUT (f goes on; cancel it to stop it),
 * MP_EATTACHED on an attached pool (unless f is done already: 0),
 * MP_EINVAL for NULL or when called from inside the pool's loop (a
 * callback), or MP_ESYS.
 */
MP_EXTERN int mp_future_wait(mp_future *f, unsigned timeout_ms);

/*
 * Waits until one of the n futures (all of one pool) is done (asyncio.wait
 * with FIRST_COMPLETED). Returns the index of a done future (the lowest
 * one, >= 0), or the codes of mp_future_wait. A future being waited for
 * must not be freed by a callback meanwhile.
 */
MP_EXTERN int mp_future_wait_any(mp_future *const *fs, size_t n,
                                 unsigned timeout_ms);

/*
 * Waits until every one of the n futures is done (asyncio.gather, or
 * wait with ALL_COMPLETED), within timeout_ms for all of them (0: no
 * limit). Returns 0, or the first error of mp_future_wait (MP_ETIMEDOUT:
 * the rest go on).
 */
MP_EXTERN int mp_future_wait_all(mp_future *const *fs, size_t n,
                                 unsigned timeout_ms);

/*
 * As completed (asyncio.as_completed): returns the index of a done future
 * among the n (all of one pool) that mp_future_next has not returned
 * before, waiting for one up to timeout_ms (0: no limit); each future is
 * returned once, ever, so a loop needs no compaction:
 *   for (int i; (i = mp_future_next(fs, n, 0)) >= 0 && (size_t)i < n;)
 *       use(fs[i]);
 * Returns n when every one of them was returned, or the codes of
 * mp_future_wait.
 */
MP_EXTERN int mp_future_next(mp_future *const *fs, size_t n,
                             unsigned timeout_ms);

/* Moves f's result into *out without a copy: out then owns data and
   error (mp_result_clear); f keeps the status, with no data or error.
   Returns 0, or MP_EINVAL when f is NULL or not done. */
MP_EXTERN int mp_future_take(mp_future *f, mp_result *out);

/* Returns 1 when f is done (its result is there), 0 otherwise or for
   NULL. */
MP_EXTERN int mp_future_done(const mp_future *f);

/* f's result when it is done (status 0, a task's failure, MP_ECANCELED,
   MP_EWORKER, MP_ETIMEDOUT, MP_EABORTED...), NULL before. Owned by f:
   valid until mp_future_free. */
MP_EXTERN const mp_result *mp_future_result(const mp_future *f);

/*
 * Cancels f: a queued task never runs; a task at a worker is woken with
 * MP_ECANCELED there (its awaits return it) and its late result dropped.
 * Either way f is done at once with status MP_ECANCELED and its callback
 * runs before this returns. Returns 0, or MP_EINVAL (NULL, or f done
 * already: nothing changes).
 */
MP_EXTERN int mp_future_cancel(mp_future *f);

/* Frees f and its result. A future not done is canceled first, without its
   callback. NULL is fine. */
MP_EXTERN void mp_future_free(mp_future *f);

/*
 * Moves the pool onto the caller's libevent loop (a server's event_base):
 * the pool's descriptors and timers live there from now on, results and
 * done-callbacks arrive from the caller's event_base_dispatch, and
 * mp_pool_submit never blocks that loop. Blocking calls are refused on an
 * attached pool: mp_pool_map, imap, apply, and mp_future_wait /
 * wait_any on futures not done return MP_EATTACHED (the caller's loop is
 * the one to run). mp_pool_cancel still works. Attach once, with no call
 * running; destroy the pool before base. Returns 0, MP_EINVAL or
 * MP_ESYS.
 */
MP_EXTERN int mp_pool_attach(mp_pool *p, struct event_base *base);

/* ---- inside a task (worker side) -------------------------------------- */

/* Stores the task's result (copied). Returns 0, MP_ENOMEM, or MP_E2BIG
   for more than MP_MAX_PAYLOAD bytes: that also fails the task with
   MP_E2BIG, whatever it returns. Messages of mp_fail longer than 64 KiB
   are cut. */
MP_EXTERN int mp_return(mp_task *t, const void *data, size_t len);

/* Marks the task failed with err (MP_ETASK if err >= 0) and a message.
   Returns the code stored, so `return mp_fail(t, ...)` works. */
MP_EXTERN int mp_fail(mp_task *t, int err, const char *fmt, ...)
    MP_PRINTF(3, 4);

/* In the pool's init function (worker side): fails the init with err
   (MP_EINIT if err >= 0) and a message for mp_pool_create's caller
   (mp_last_error). Returns the code, so `return mp_init_fail(...)` works. */
MP_EXTERN int mp_init_fail(int err, const char *fmt, ...) MP_PRINTF(2, 3);

/* Suspends the task for at least ms milliseconds. Returns 0, MP_ETIMEDOUT (the
   task's deadline passed) or MP_ECANCELED. */
MP_EXTERN int mp_sleep(mp_task *t, unsigned ms);

#define MP_READ 0x02  /* == EV_READ */
#define MP_WRITE 0x04 /* == EV_WRITE */
/* Suspends until fd is ready for what (MP_READ|MP_WRITE) or timeout_ms
   passes (0 = no timeout of its own). Returns the ready bits (> 0),
   MP_ETIMEDOUT or MP_ECANCELED. */
MP_EXTERN int mp_wait_fd(mp_task *t, int fd, short what,
                         unsigned timeout_ms);

/*
 * Child coroutines (asyncio.create_task + await). A child runs fn(child,
 * in, len) on its own coroutine in the same worker, beside its parent t:
 * its awaits, mp_return and mp_fail are those of any task, it may spawn in
 * turn, and it does not count against the pool's concurrency. It shares
 * its parent's deadline (task_timeout_ms) and is canceled with it.
 *
 * mp_spawn starts a child now: it is queued to run, and takes the CPU at
 * the parent's next await (no await: when the parent returns, which
 * cancels it; see below). The input is copied. Stores the handle in *out
 * and returns 0, or MP_EINVAL (also when t is not the task calling),
 * MP_E2BIG (len > MP_MAX_PAYLOAD) or MP_ENOMEM.
 *
 * A child is always either joined or canceled: one that its parent has not
 * joined when the parent returns is canceled (its awaits return
 * MP_ECANCELED at once) and its result is dropped.
 */
typedef struct mp_child mp_child;
MP_EXTERN int mp_spawn(mp_task *t, mp_task_fn fn, const void *in,
                       size_t len, mp_child **out);

/*
 * Awaits the child c (asyncio.wait_for): suspends the calling task, which
 * must be c's parent, until c has finished or timeout_ms has passed (0 =
 * no limit of its own). Frees c in every case but MP_EINVAL.
 * Returns 0 with the child's result in *out (its status is the child's
 * outcome; out owns data and error: mp_result_clear); or, the child not
 * finished, MP_ETIMEDOUT after timeout_ms, or MP_ETIMEDOUT / MP_ECANCELED
 * when the parent's own deadline passed or it was canceled: the child is
 * then canceled, as wait_for does, and out->status holds the same code
 * (no data). Returns MP_EINVAL, touching nothing, if c or out is NULL or
 * the caller is not c's parent. A child that finished is joined at once
 * without suspending.
 */
MP_EXTERN int mp_join(mp_child *c, mp_result *out, unsigned timeout_ms);

/*
 * Runs fn on n inputs as child coroutines of t, all at once, and waits for
 * all of them (asyncio.gather): mp_spawn of each, then mp_join of each.
 * out[i] owns its data (mp_result_clear). If t's deadline passes or t is
 * canceled meanwhile, the children still running are canceled and their
 * out[i].status is MP_ETIMEDOUT / MP_ECANCELED. Returns 0 (per-child
 * outcomes are in out), MP_EINVAL, or MP_E2BIG / MP_ENOMEM from mp_spawn
 * (no child then runs to the end: each out[i].status holds the code).
 */
MP_EXTERN int mp_gather(mp_task *t, mp_task_fn fn, const mp_buf *in,
                        size_t n, mp_result *out);

/*
 * mp_gather with at most max_at_once children running at once (gather
 * under an asyncio.Semaphore): the first max_at_once start, and each time
 * the oldest running one is joined the next input starts, in input order.
 * max_at_once 0 or >= n: mp_gather. Outcomes as mp_gather's; when a spawn
 * fails, the children not yet joined are canceled and their out[i]
 * (and those never started) hold the code, the joined ones keep their
 * results.
 */
MP_EXTERN int mp_gather_max(mp_task *t, mp_task_fn fn, const mp_buf *in,
                            size_t n, mp_result *out, size_t max_at_once);

/* The slot number (0..workers-1) of the calling worker; -1 outside one. */
MP_EXTERN int mp_worker_slot(void);

/* In a task or the init function (worker side): the pool argument,
   mp_pool_options.arg, with its length in *len (if len is not NULL).
   Valid for the worker's life; NULL (and 0) when none was given, or
   outside a worker. */
MP_EXTERN const void *mp_pool_arg(size_t *len);

/* ---- HTTP inside a task ------------------------------------------------ */

/* mp_http_request.engine: which HTTP engine runs the request. AUTO takes
   the native engine (http:// and https:// to a host name or an IPv4 or
   IPv6 address, redirects too; no decoding, proxy (see .proxy) or connection
   limits; HTTP/1.1, or HTTP/2 where an https server chooses it by ALPN)
   and libcurl for everything else; NATIVE fails with MP_EINVAL where it
   cannot. A worker's environment variable
   MP_HTTP_ENGINE=curl|native|auto replaces AUTO. */
enum { MP_HTTP_AUTO = 0, MP_HTTP_CURL = 1, MP_HTTP_NATIVE = 2 };

/* mp_http_request.max_redirects: follow none (0 there means 10). */
#define MP_HTTP_NO_REDIRECTS (~0u)

typedef struct mp_http_request {
    const char *method;  /* NULL: GET, or POST when body is set */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const void *body;
    size_t body_len;
    unsigned timeout_ms;         /* whole transfer; 0 = none */
    unsigned connect_timeout_ms; /* 0 = 10 s */
    /* Follow 3xx Locations as libcurl 7.88 does: 301/302/303 make a POST
       a GET without its body, HEAD stays, a method curl sends by name
       keeps it (body dropped by 301/302/303), 307/308 keep method and
       body; http(s) targets only; Authorization and Cookie headers go
       to the first URL's host, port and scheme only. */
    int follow_redirects;
    unsigned max_redirects;      /* with follow_redirects: at most this
                                    many; 0 = 10; MP_HTTP_NO_REDIRECTS =
                                    none (the first 3xx with a Location
                                    ends MP_EREDIRECT, as curl's
                                    --max-redirs 0) */
    int compressed;              /* send Accept-Encoding: deflate, gzip,
                                    br, zstd; decode the body */
    int insecure;                /* skip TLS verification */
    const char *cafile;          /* NULL = system CAs */
    size_t max_body;             /* body cap in every mode (decoded bytes):
                                    more fails with MP_EFBIG; 0 = 16 MiB */
    const char *body_path;       /* write the body to this file instead:
                                    created afresh (mode 0644 less umask),
                                    a symlink at its name is replaced,
                                    never followed; after a failure
                                    (MP_EFBIG, MP_EIO...) it holds a
                                    prefix of the body, max_body bytes
                                    at most */
    int want_headers;            /* fill mp_http_response.headers */
    int no_body;                 /* drop the body (still counted) */
    size_t speed_limit;          /* bytes/s; a transfer below it for
                                    speed_time_s fails with MP_ESLOW.
                                    0 = none (1 if only speed_time_s) */
    unsigned speed_time_s;       /* 0 = 30 s when speed_limit is set */
    int engine;                  /* MP_HTTP_AUTO (0), _CURL, _NATIVE */
    /* The proxy, curl's [scheme://][user:password@]host[:port], for every
       scheme. NULL: the environment's, as curl reads it, but read once
       per process (at its first mp_http): http_proxy for http:// (never
       HTTP_PROXY), https_proxy or HTTPS_PROXY for https://, else
       all_proxy or ALL_PROXY. "": no proxy. Redirects keep the proxy of
       the first URL. Through an http:// proxy (absolute form, CONNECT
       for https://) a request may run on the native engine; socks and
       https:// proxies run on libcurl. */
    const char *proxy;
    /* Hosts reached without the proxy, curl's NO_PROXY syntax: "*" (all),
       or names and IP addresses (ADDR/BITS too) separated by commas; a
       name matches itself and the names below it ("example.com" matches
       "www.example.com"). NULL: no_proxy or NO_PROXY, read once per
       process. "": none. */
    const char *noproxy;
    /* HTTP/1.1 only (curl's --http1.1): no HTTP/2 even where the server
       offers it. */
    int http1;
    /* An https:// proxy's own certificate, as curl's --proxy-insecure and
       --proxy-cacert (insecure and cafile above are the origin's only and
       never reach the proxy): proxy_insecure skips its verification,
       proxy_cafile trusts the CA certificates in that file for it (NULL:
       the system's). Every https:// proxy runs on libcurl (see .proxy);
       a proxy certificate that fails verification is MP_ETLS, the message
       saying "(the proxy's TLS)". */
    int proxy_insecure;
    const char *proxy_cafile;
} mp_http_request;

typedef struct mp_http_response {
    int error;            /* 0, or MP_E* (MP_ECONNREFUSED, MP_ETIMEDOUT...) */
    char *message;        /* what failed, in words; NULL on success */
    long status;          /* HTTP status of the final response, 0 if none */
    long http_version;    /* 10, 11, 20, 30 */
    char *final_url;
    char *headers;        /* raw header block of the final response */
    size_t headers_len;
    char *body;           /* NULL with body_path or no_body */
    size_t body_len;      /* bytes of the body received (decoded) */
    uint64_t bytes_down;  /* bytes on the wire for the body */
    unsigned redirects;
    /* microseconds from the start: name resolved, connected, TLS done,
       first byte, end */
    uint64_t t_dns_us, t_connect_us, t_tls_us, t_first_byte_us, t_total_us;
    int engine;           /* the engine that ran it: MP_HTTP_NATIVE or
                             MP_HTTP_CURL (0 if none did: a bad request) */
} mp_http_response;

/*
 * Limits on a response's header block (status line through the blank line;
 * each 1xx and redirect response counts on its own): at most
 * MP_HTTP_MAX_HEADER_LINES field lines, MP_HTTP_MAX_HEADER_BYTES in all,
 * MP_HTTP_MAX_HEADER_LINE in one line. Beyond any of them: MP_EPROTO, and
 * the message names the limit. Over HTTP/2 the h2 libraries' own limits
 * come first (nghttp2: 8 CONTINUATION frames after a HEADERS frame, some
 * 144 KiB in 16 KiB frames; libcurl 7.88: 128 KiB): a larger head fails
 * there, with MP_EPROTO too, on each engine.
 */
#define MP_HTTP_MAX_HEADER_LINES 1000
#define MP_HTTP_MAX_HEADER_BYTES ((size_t)256 << 10)
#define MP_HTTP_MAX_HEADER_LINE ((size_t)100 << 10)

/*
 * Performs one HTTP(S) transfer on the worker's shared curl multi handle.
 * Returns 0 when a response arrived (any status), or the same negative code
 * it stores in resp->error; resp is filled in both cases and must be cleared
 * with mp_http_response_clear.
 *
 * What failed -> the code, the same for every HTTP engine (src/http/shared/http_fail.h):
 *   URL malformed; scheme, or a redirect's, not http/https  MP_EURL
 *   host name did not resolve                               MP_EDNS
 *   connection refused                                      MP_ECONNREFUSED
 *   connect or whole-transfer timeout (timeout_ms)          MP_ETIMEDOUT
 *   below speed_limit for speed_time_s                      MP_ESLOW
 *   TLS handshake or certificate (trust, name)              MP_ETLS
 *   connection closed or reset before the response ended    MP_ECONNRESET
 *   not HTTP; bad status line or code (outside 100-599);
 *   bad chunk; Content-Length with Transfer-Encoding;
 *   header limits above; undecodable Content-Encoding       MP_EPROTO
 *   more than max_redirects redirects                       MP_EREDIRECT
 *   body longer than max_body                               MP_EFBIG
 *   writing body_path failed                                MP_EIO
 *   out of memory                                           MP_ENOMEM
 *   proxy: refused, or its name did not resolve             MP_ECONNREFUSED /
 *                                                           MP_EDNS
 *   proxy answered CONNECT (https:// through it) with a
 *   status other than 2xx (407 authentication, 502...)      MP_EPROXY
 *   the task's deadline / a cancel during the transfer      MP_ETIMEDOUT /
 *                                                           MP_ECANCELED
 *   anything else (e.g. host unreachable)                   MP_EHTTP
 * An HTTP status >= 400 is a response, not an error (returns 0); so is a
 * proxy's own answer to a plain http:// request (e.g. 407).
 */
MP_EXTERN int mp_http(mp_task *t, const mp_http_request *req,
                      mp_http_response *resp);
MP_EXTERN void mp_http_response_clear(mp_http_response *resp);

/* Per-worker connection limits (aiohttp's limit / limit_per_host); call from
   the pool's init function. 0 = no limit. Both engines honour them: a
   request beyond a limit waits, in order, for a connection (its timeouts
   start when it has one, as in libcurl; the task deadline still ends it);
   an HTTP/2 connection counts once. Returns 0 or MP_EINVAL. */
MP_EXTERN int mp_http_set_limits(unsigned total, unsigned per_host);

/* Per-worker idle connections, kept for reuse (curl's CURLMOPT_MAXCONNECTS
   and CURLOPT_MAXAGE_CONN); call from the pool's init function, like
   mp_http_set_limits. The native engine keeps at most max_idle idle
   connections (an HTTP/2 one without a stream counts as idle), across all
   hosts: one more closes the least recently used. One idle for age_ms is
   closed. 0 = the default: max_idle twice the worker's concurrency, at
   least 64 (what the libcurl engine keeps: 64 per curl multi handle of 32
   transfers), age_ms 118000 (libcurl's CURLOPT_MAXAGE_CONN). A host with
   no connection and nothing waiting for it is forgotten (its TLS session
   too) once max_idle others are newer, so a crawl of endless distinct
   hosts holds bounded descriptors and memory. The libcurl engine takes
   age_ms in whole seconds (rounded up) and, as libcurl does, closes an
   old connection when it next looks for one, not on a timer; its cache
   keeps 64 per multi handle whatever max_idle says. Returns 0. */
MP_EXTERN int mp_http_set_idle(unsigned max_idle, unsigned age_ms);

/*
 * Name resolution in this worker, for both engines (curl's --resolve and
 * --dns-servers); call from the pool's init function, like
 * mp_http_set_limits. Host names are resolved without a thread per lookup
 * (libevent's evdns on the worker's loop: /etc/hosts, then the servers of
 * /etc/resolv.conf), answers cached per worker for 60 s, concurrent
 * lookups of one name sharing one query; a name that does not resolve
 * fails with MP_EDNS on either engine, and resolving counts against the
 * connect timeout (MP_ETIMEDOUT beyond it, as in curl).
 *
 * mp_http_set_resolve: entries "HOST:PORT:ADDR[,ADDR...]" exactly like
 * curl's --resolve (ADDR an IPv4 or IPv6 address, the latter with or
 * without brackets): a request to HOST on PORT connects to the ADDRs in
 * order and sends no query; its Host header (and TLS name) stay HOST.
 * Replaces the previous entries (n = 0 clears them); the entries are
 * copied. Returns 0, MP_EINVAL (an entry is malformed: nothing changes)
 * or MP_ENOMEM. mp_http_resolve_check checks one entry (0 or MP_EINVAL)
 * for front ends.
 *
 * mp_http_set_dns_servers: "ADDR[:PORT][,ADDR[:PORT]...]" (an IPv6
 * address with a port in brackets: "[::1]:5353"): queries go to these
 * servers instead of /etc/resolv.conf's (/etc/hosts still applies). The
 * curl engine resolves the URL's host through the same resolver and hands
 * libcurl the addresses (CURLOPT_RESOLVE); a redirect libcurl follows to
 * another host is resolved by libcurl's own resolver (the system's
 * servers). NULL or ""
 * sets the system's servers back. Call it before the worker's first
 * lookup: later it returns MP_EINVAL. Returns 0, MP_EINVAL (malformed)
 * or MP_ENOMEM. mp_http_dns_servers_check checks a list (0 or
 * MP_EINVAL).
 */
MP_EXTERN int mp_http_set_resolve(const char *const *entries, size_t n);
MP_EXTERN int mp_http_resolve_check(const char *entry);
MP_EXTERN int mp_http_set_dns_servers(const char *servers);
MP_EXTERN int mp_http_dns_servers_check(const char *servers);

/* The proxy schemes libcurl runs (curl 7.88, any case; "socks" is socks4,
   no scheme is http): the list a front end names in its complaint. */
#define MP_HTTP_PROXY_SCHEMES "http, https, socks4, socks4a, socks5, socks5h"
/* Checks a proxy as mp_http_request.proxy takes it, for front ends: "" (no
   proxy), or [scheme://][user:password@]host[:port] with a scheme of
   MP_HTTP_PROXY_SCHEMES (or none) and a host. mp_http itself does not
   refuse one: a proxy libcurl cannot use fails each request it applies to
   (MP_ECONNREFUSED, as curl's CURLE_COULDNT_CONNECT). Returns 0 or
   MP_EINVAL. */
MP_EXTERN int mp_http_proxy_check(const char *proxy);

#ifdef __cplusplus
}
#endif
#endif /* MPOOL_H */
