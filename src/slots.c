/*
 * Worker slots, coordinator side: spawning through the pool forkserver,
 * the READY handshake, results, deaths (the ledger's tasks go back to the
 * queue), respawn with back-off, and recycling.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forkserver.h"
#include "pool.h"

#define MP_EXIT_SPIN 71 /* worker.c: a task spun past its deadline */

/* Sends m on the slot's socket, or parks it until the socket is writable.
   Only one message is ever parked: dispatch waits for it, and control
   messages wait as flags (mp__slot_control). Returns 0 or an error (m is
   freed then). */
int mp__slot_send(mp_pool *p, mp__slot *s, mp__msg *m)
{
    if (s->pending.buf) {
        mp__msg_discard(m);
        return MP_EAGAIN;
    }
    int rc = mp__msg_send(s->sock, m, 0);
    if (rc == MP_EAGAIN) {
        s->pending = *m;
        *m = (mp__msg){0};
        event_add(s->sev, NULL);
        return 0;
    }
    if (rc < 0)
        mp__msg_discard(m);
    return rc;
}

/* Sends the control messages flagged in s->ctl, in order (CANCEL
   before EXIT), as far as the socket takes them. */
static void send_controls(mp_pool *p, mp__slot *s)
{
    static const uint32_t order[] = {MP_MSG_CANCEL, MP_MSG_EXIT};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        uint32_t t = order[i];
        if (!(s->ctl & (1u << t)) || s->pending.buf)
            continue;
        mp__msg m;
        if (mp__msg_begin(&m, t, 0, 64) < 0 || mp__slot_send(p, s, &m) < 0)
            return; /* stays flagged */
        s->ctl &= ~(1u << t);
    }
}

void mp__slot_control(mp_pool *p, mp__slot *s, uint32_t type)
{
    s->ctl |= 1u << type;
    send_controls(p, s);
}

void mp__on_slot_writable(int fd, short what, void *arg)
{
    mp__slot *s = arg;
    int rc = mp__msg_send(s->sock, &s->pending, 0);
    if (rc == MP_EAGAIN)
        return;
    event_del(s->sev);
    if (rc < 0)
        mp__msg_discard(&s->pending);
    send_controls(s->pool, s);
    if (s->state == S_READY)
        mp__dispatch(s->pool, s);
}

/* Queues the CONFIG message a new worker reads first. Returns 0 or an
   error. */
static int send_config(mp_pool *p, mp__slot *s)
{
    mp__msg m;
    int rc = mp__msg_begin(&m, MP_MSG_CONFIG, 0,
                           sizeof(mp__config) + p->o.init_len + 64);
    if (rc < 0)
        return rc;
    mp__config c = {
        .concurrency = (uint32_t)p->o.concurrency,
        .prefetch = (uint32_t)p->o.prefetch,
        .task_timeout_ms = p->o.task_timeout_ms,
        .slot = (uint32_t)s->index,
        .stack_size = p->o.stack_size,
        .init_fn = (uint64_t)(uintptr_t)p->o.init,
        .init_len = p->o.init_len,
    };
    char *at = mp__msg_reserve(&m, sizeof(c) + p->o.init_len);
    if (!at) {
        mp__msg_discard(&m);
        return MP_ENOMEM;
    }
    memcpy(at, &c, sizeof(c));
    if (p->o.init_len)
        memcpy(at + sizeof(c), p->init_copy, p->o.init_len);
    return mp__slot_send(p, s, &m);
}

/* Opens the slot's socket for a new generation and its events. Returns 0
   or MP_ESYS. */
static int open_socket(mp_pool *p, mp__slot *s)
{
    int unlimited = -1, rfd, sfd;
    size_t sz = sizeof(int);
    snprintf(s->endpoint, sizeof(s->endpoint), "ipc://%s/w%d.%u", p->dir,
             s->index, s->gen);
    s->sock = nn_socket(AF_SP, NN_PAIR);
    if (s->sock < 0)
        return MP_ESYS;
    if (nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &unlimited,
                      sizeof(int)) < 0 ||
        nn_bind(s->sock, s->endpoint) < 0 ||
        nn_getsockopt(s->sock, NN_SOL_SOCKET, NN_RCVFD, &rfd, &sz) < 0 ||
        nn_getsockopt(s->sock, NN_SOL_SOCKET, NN_SNDFD, &sfd, &sz) < 0)
        goto err;
    s->rev = event_new(p->base, rfd, EV_READ | EV_PERSIST,
                       mp__on_slot_readable, s);
    s->sev = event_new(p->base, sfd, EV_READ | EV_PERSIST,
                       mp__on_slot_writable, s);
    if (!s->rev || !s->sev)
        goto err;
    event_add(s->rev, NULL);
    return 0;
err:
    mp__slot_close(p, s);
    return MP_ESYS;
}

void mp__slot_close(mp_pool *p, mp__slot *s)
{
    if (s->rev)
        event_free(s->rev);
    if (s->sev)
        event_free(s->sev);
    s->rev = s->sev = NULL;
    mp__msg_discard(&s->pending);
    if (s->sock >= 0)
        nn_close(s->sock);
    s->sock = -1;
    if (s->endpoint[0]) { /* the ipc socket file, and a spin note */
        char path[256];
        unlink(s->endpoint + 6);
        snprintf(path, sizeof(path), "%s.spin", s->endpoint + 6);
        unlink(path);
    }
    s->state = S_DEAD;
}

int mp__slot_spawn(mp_pool *p, mp__slot *s)
{
    s->gen++;
    s->inflight = (mp__list){MP_NIL, MP_NIL, 0};
    s->dispatched = 0;
    s->solo_busy = s->got_result = s->exit_sent = 0;
    s->ctl = 0;
    s->pid = 0;
    int rc = open_socket(p, s);
    if (rc == 0)
        rc = send_config(p, s);
    mp__fs_msg m = {.type = MP_FS_SPAWN, .slot = s->index, .gen = s->gen};
    memcpy(m.endpoint, s->endpoint, sizeof(m.endpoint));
    if (rc == 0)
        rc = mp__fs_send(p->fs_fd, &m);
    if (rc < 0) {
        mp__slot_close(p, s);
        return rc;
    }
    s->state = S_STARTING;
    p->stats.workers_started++;
    return 0;
}

/* Reads the id of the task that spun past its deadline, or MP_NIL. */
static uint32_t read_spin_note(mp__slot *s)
{
    char path[256], buf[16] = {0};
    snprintf(path, sizeof(path), "%s.spin", s->endpoint + 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MP_NIL;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? (uint32_t)strtoul(buf, NULL, 10) : MP_NIL;
}

static void describe_exit(int status, char *buf, size_t n)
{
    if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(buf, n, "could not be started");
}

/* Decides the fate of one task its worker died holding: a result (it
   spun, or it killed max_attempts workers on its own), or another try. */
static void requeue(mp_pool *p, uint32_t id, uint32_t spin_id,
                    const char *how)
{
    mp__entry *e = &p->ents[id];
    unsigned max = p->o.max_attempts;
    char msg[160];
    if (spin_id == id) {
        snprintf(msg, sizeof(msg), "task ran on the CPU past its deadline "
                 "of %u ms; its worker was killed", p->o.task_timeout_ms);
        mp__deliver(p, id, MP_ETIMEDOUT, NULL, 0, msg);
        mp__entry_free(p, id);
        return;
    }
    if (spin_id == MP_NIL)
        e->deaths++;
    if (e->deaths >= max && (e->solo || max <= 1)) {
        snprintf(msg, sizeof(msg), "worker died %u times running this task "
                 "(last one %s)", e->deaths, how);
        mp__deliver(p, id, MP_EWORKER, NULL, 0, msg);
        mp__entry_free(p, id);
        return;
    }
    e->slot = -1;
    e->state = E_QUEUED;
    if ((unsigned)e->deaths + 1u >= max)
        e->solo = 1;
    mp__list_push(p, e->solo ? &p->solo : &p->retry, id);
    p->stats.tasks_retried++;
}

static void schedule_respawn(mp_pool *p, mp__slot *s);

void mp__on_respawn(int fd, short what, void *arg)
{
    mp__slot *s = arg;
    mp_pool *p = s->pool;
    if (s->state != S_DEAD)
        return;
    if (mp__slot_spawn(p, s) < 0) {
        s->fails++;
        schedule_respawn(p, s);
    }
}

/* True when every slot failed to start MP_MAX_FAILS times in a row. */
static int nobody_can_live(mp_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        if (p->slots[i].fails < MP_MAX_FAILS)
            return 0;
    return 1;
}

/* Respawns s now, or after a back-off when it keeps dying young. */
static void schedule_respawn(mp_pool *p, mp__slot *s)
{
    unsigned ms = s->fails <= 1 ? 0 : 10u << (s->fails < 8 ? s->fails : 8);
    if (ms > 1000)
        ms = 1000;
    if (ms == 0) {
        if (mp__slot_spawn(p, s) < 0)
            s->fails++;
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(s->respawn, &tv);
}

/* A worker exited (or could not be forked). */
static void slot_exited(mp_pool *p, mp__slot *s, int status)
{
    char how[96];
    describe_exit(status, how, sizeof(how));
    int retired = s->state == S_RETIRING && s->exit_sent &&
                  WIFEXITED(status) && WEXITSTATUS(status) == 0;
    uint32_t spin_id = WIFEXITED(status) &&
                       WEXITSTATUS(status) == MP_EXIT_SPIN
                           ? read_spin_note(s) : MP_NIL;
    if (p->creating && !retired && !p->create_err)
        p->create_err = MP_EWORKER;
    uint32_t id;
    while ((id = mp__list_pop(p, &s->inflight)) != MP_NIL) {
        if (p->ents[id].state == E_ORPHAN)
            mp__entry_free(p, id);
        else
            requeue(p, id, spin_id, how);
    }
    mp__slot_close(p, s);
    if (retired) {
        p->stats.workers_recycled++;
    } else {
        p->stats.workers_died++;
        if (!s->got_result)
            s->fails++;
    }
    if (p->creating)
        return;
    if (p->call && nobody_can_live(p)) {
        mp__abort_call(p, MP_EWORKER, "no worker could be kept alive");
        return;
    }
    schedule_respawn(p, s);
    mp__dispatch_all(p);
}

void mp__on_forkserver(int fd, short what, void *arg)
{
    mp_pool *p = arg;
    mp__fs_msg m;
    int rc;
    while ((rc = mp__fs_recv(p->fs_fd, &m)) == 1) {
        if (m.slot < 0 || m.slot >= p->nworkers)
            continue;
        mp__slot *s = &p->slots[m.slot];
        if (m.gen != s->gen || s->state == S_DEAD)
            continue; /* an older generation */
        if (m.type == MP_FS_SPAWNED)
            s->pid = m.pid;
        else if (m.type == MP_FS_EXITED) {
            p->dead_cpu_us += m.cpu_us;
            slot_exited(p, s, m.status);
        }
        else if (m.type == MP_FS_FAILED)
            slot_exited(p, s, -1);
    }
    if (rc == 0 || rc == MP_ESYS) { /* the forkserver is gone: fatal */
        event_del(p->fs_ev);
        p->create_err = MP_ESYS;
        for (int i = 0; i < p->nworkers; i++)
            p->slots[i].fails = MP_MAX_FAILS;
        if (p->call)
            mp__abort_call(p, MP_EWORKER, "the forkserver died");
    }
}

/* Asks the forkserver to SIGKILL the slot's current worker. */
static void kill_slot(mp_pool *p, mp__slot *s)
{
    mp__fs_msg m = {.type = MP_FS_KILL, .slot = s->index, .gen = s->gen};
    mp__fs_send(p->fs_fd, &m);
}

static void on_ready(mp_pool *p, mp__slot *s, mp__reader *r)
{
    mp__ready rd = {.status = MP_EPROTO};
    if ((size_t)(r->end - r->p) >= sizeof(rd))
        memcpy(&rd, r->p, sizeof(rd));
    if (rd.status != 0) {
        if (p->creating && !p->create_err)
            p->create_err = MP_EINIT;
        kill_slot(p, s); /* it waits to be told; its exit is a death */
        return;
    }
    s->state = S_READY;
    p->ready++;
    mp__dispatch(p, s);
}

/* Takes the results of one RESULTS message. */
static void on_results(mp_pool *p, mp__slot *s, mp__reader *r)
{
    mp__result_view v;
    while (mp__read_result(r, &v) == 1) {
        if (v.id >= p->nents)
            continue;
        mp__entry *e = &p->ents[v.id];
        if (e->slot != s->index ||
            (e->state != E_SENT && e->state != E_ORPHAN))
            continue;
        mp__list_unlink(p, &s->inflight, v.id);
        s->got_result = 1;
        s->fails = 0;
        if (e->solo)
            s->solo_busy = 0;
        if (e->state == E_SENT)
            mp__deliver(p, v.id, v.status, v.data, v.len, v.error);
        mp__entry_free(p, v.id);
    }
}

/* Tells a worker that reached max_tasks_per_worker to leave, once every
   result it owed has arrived. */
void mp__slot_retire(mp_pool *p, mp__slot *s)
{
    if (s->state != S_RETIRING || s->exit_sent || s->inflight.n)
        return;
    s->exit_sent = 1; /* goes out now, or right after the parked message */
    mp__slot_control(p, s, MP_MSG_EXIT);
}

void mp__on_slot_readable(int fd, short what, void *arg)
{
    mp__slot *s = arg;
    mp_pool *p = s->pool;
    int sock = s->sock;
    for (;;) {
        void *buf = NULL;
        int n = nn_recv(sock, &buf, NN_MSG, NN_DONTWAIT);
        if (n < 0) {
            if (nn_errno() == EINTR)
                continue;
            break;
        }
        mp__hdr h;
        mp__reader r;
        if (mp__reader_init(&r, buf, (size_t)n, &h) == 0) {
            if (h.type == MP_MSG_READY && s->state == S_STARTING)
                on_ready(p, s, &r);
            else if (h.type == MP_MSG_RESULTS)
                on_results(p, s, &r);
        }
        nn_freemsg(buf);
        if (s->sock != sock) /* closed meanwhile (a callback aborted) */
            return;
    }
    mp__slot_retire(p, s);
    mp__dispatch_all(p);
}

/* Returns the user+sys CPU (us) of the running worker pid from /proc, 0 if
   it cannot be read. */
static uint64_t proc_cpu_us(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!rp || sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                      "%llu %llu", &ut, &st) != 2)
        return 0;
    long hz = sysconf(_SC_CLK_TCK);
    return (ut + st) * 1000000ull / (unsigned long long)(hz > 0 ? hz : 100);
}

uint64_t mp__workers_cpu_us(const mp_pool *p)
{
    uint64_t us = p->dead_cpu_us;
    for (int i = 0; i < p->nworkers; i++)
        if (p->slots[i].state != S_DEAD && p->slots[i].pid > 0)
            us += proc_cpu_us(p->slots[i].pid);
    return us;
}
