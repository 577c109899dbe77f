/*
 * mp_example_gather: coroutines inside one task.
 *
 * 1. Three coroutines that count and sleep, gathered (mp_gather). Each
 *    says "one", sleeps, says "two"; they sleep at the same time, so every
 *    "one" comes before every "two", and the shortest sleep wakes first.
 *    Python:
 *        async def count(name, delay):
 *            print(name, "one"); await asyncio.sleep(delay); print(name, "two")
 *        await asyncio.gather(count("A", .03), count("B", .02), count("C", .01))
 * 2. A coroutine started now and awaited later (mp_spawn, then mp_join),
 *    and a wait with a timeout that cancels what it waited for.
 *    Python:
 *        task = asyncio.create_task(count("D", .01)); ...; await task
 *        await asyncio.wait_for(count("E", 10), timeout=.02)  # TimeoutError
 *
 * The task runs in a worker process; its coroutines write their lines into
 * a log that the task returns, and main prints it and checks its order.
 * Usage: mp_example_gather
 */
#include <stdio.h>
#include <string.h>

#include "mpool.h"

/* The log the coroutines of one task share (they run in the same
   process, one at a time, so no lock is needed). */
typedef struct tlog {
    char text[1024];
    size_t len;
} tlog;

static void say(tlog *l, const char *name, const char *what)
{
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s %s\n",
                     name, what);
    if (n > 0 && l->len + (size_t)n < sizeof(l->text))
        l->len += (size_t)n;
}

/* What one counting coroutine is told: its name, its sleep, the log. */
typedef struct counter {
    char name[8];
    unsigned delay_ms;
    tlog *log;
} counter;

static int count(mp_task *t, const void *in, size_t len)
{
    const counter *c = in;
    say(c->log, c->name, "one");
    int rc = mp_sleep(t, c->delay_ms);
    say(c->log, c->name, rc == 0 ? "two" : mp_err_name(rc));
    return rc;
}

static int main_task(mp_task *t, const void *in, size_t len)
{
    tlog log = {.len = 0};
    /* 1. gather */
    counter cs[3] = {{"A", 30, &log}, {"B", 20, &log}, {"C", 10, &log}};
    mp_buf b[3];
    mp_result r[3];
    for (int i = 0; i < 3; i++)
        b[i] = (mp_buf){&cs[i], sizeof(cs[i])};
    int rc = mp_gather(t, count, b, 3, r);
    for (int i = 0; i < 3; i++)
        mp_result_clear(&r[i]);
    if (rc < 0)
        return mp_fail(t, rc, "mp_gather: %s", mp_strerror(rc));
    say(&log, "gather", "done");

    /* 2. create_task now, await later */
    counter d = {"D", 10, &log};
    mp_child *child;
    if ((rc = mp_spawn(t, count, &d, sizeof(d), &child)) < 0)
        return mp_fail(t, rc, "mp_spawn: %s", mp_strerror(rc));
    say(&log, "main", "spawned D"); /* D has not run yet: main still has
                                       the CPU until it awaits */
    mp_result res;
    rc = mp_join(child, &res, 0);
    say(&log, "join D", rc == 0 && res.status == 0 ? "ok" : "failed");
    mp_result_clear(&res);

    /* wait_for: E would sleep 10 s; the join gives up after 20 ms and E
       is canceled (its sleep returns MP_ECANCELED when it next runs) */
    counter e = {"E", 10000, &log};
    if ((rc = mp_spawn(t, count, &e, sizeof(e), &child)) < 0)
        return mp_fail(t, rc, "mp_spawn: %s", mp_strerror(rc));
    rc = mp_join(child, &res, 20);
    say(&log, "join E", mp_err_name(rc));
    mp_sleep(t, 1); /* let the canceled E run to its end */
    return mp_return(t, log.text, log.len);
}

int main(void)
{
    static const char want[] = "A one\nB one\nC one\n"
                               "C two\nB two\nA two\n"
                               "gather done\n"
                               "main spawned D\nD one\nD two\njoin D ok\n"
                               "E one\njoin E MP_ETIMEDOUT\nE MP_ECANCELED\n";
    mp_init();
    mp_pool_options o = {.workers = 1};
    mp_pool *p;
    int rc = mp_pool_create(&p, &o);
    if (rc < 0) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    mp_result r;
    rc = mp_pool_apply(p, main_task, NULL, 0, &r);
    int ok = rc == 0 && r.status == 0 && r.len == strlen(want) &&
             memcmp(r.data, want, r.len) == 0;
    if (rc == 0 && r.status == 0)
        fwrite(r.data, 1, r.len, stdout);
    else
        fprintf(stderr, "failed: %s %s\n",
                mp_err_name(rc ? rc : r.status), r.error ? r.error : "");
    printf("gather: the log is %s\n", ok ? "in the expected order"
                                          : "NOT in the expected order");
    mp_result_clear(&r);
    mp_pool_destroy(p);
    return ok ? 0 : 1;
}
