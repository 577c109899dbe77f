/*
 * Worker slots, coordinator side: spawning through the pool forkserver,
 * sending and receiving on each slot's PAIR, exit reports. See slots.h;
 * what a report means is pool.c's business.
 */
#include "pool/slots.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "pool/forkserver.h"
#include "mpool.h"

static void on_forkserver(int fd, short what, void *arg);

int mp__slots_init(mp__slots *S, int n, struct event_base *base,
                   const char *dir, const mp__config *config,
                   const void *init_arg, const mp__slot_hooks *hooks,
                   void *ud)
{
    memset(S, 0, sizeof(*S));
    S->fs_fd = -1;
    S->base = base;
    S->dir = dir;
    S->config = *config;
    S->init_arg = init_arg;
    S->hooks = hooks;
    S->ud = ud;
    S->v = calloc((size_t)n, sizeof(*S->v));
    if (!S->v)
        return MP_ENOMEM;
    S->n = n;
    for (int i = 0; i < n; i++) {
        S->v[i].set = S;
        S->v[i].index = i;
        mp__chan_init(&S->v[i].ch);
    }
    return mp__slots_new_forkserver(S);
}

/* Frees the forkserver channel's events and outbox and closes it. */
static void drop_forkserver(mp__slots *S)
{
    if (S->fs_ev)
        event_free(S->fs_ev);
    if (S->fs_wev)
        event_free(S->fs_wev);
    S->fs_ev = S->fs_wev = NULL;
    free(S->outbox);
    S->outbox = NULL;
    S->out_head = S->out_n = S->out_cap = 0;
    if (S->fs_fd >= 0)
        close(S->fs_fd);
    S->fs_fd = -1;
}

/* The forkserver channel has room again (arg: the slots): sends what
   waits in the outbox. */
static void on_fs_writable(int fd, short what, void *arg);

int mp__slots_new_forkserver(mp__slots *S)
{
    if (S->fs_fd >= 0)
        return 0;
    if (mp__fs_new_pool(S->dir, &S->fs_fd) < 0)
        return MP_ESYS;
    S->fs_ev = event_new(S->base, S->fs_fd, EV_READ | EV_PERSIST,
                         on_forkserver, S);
    S->fs_wev = event_new(S->base, S->fs_fd, EV_WRITE | EV_PERSIST,
                          on_fs_writable, S);
    if (!S->fs_ev || !S->fs_wev) {
        drop_forkserver(S);
        return MP_ENOMEM;
    }
    event_add(S->fs_ev, NULL);
    return 0;
}

/* The pool forkserver died (its channel closed), and its workers with it:
   closes every slot and the channel, asks the main forkserver for a new
   pool forkserver, and tells the owner. */
static void forkserver_lost(mp__slots *S)
{
    drop_forkserver(S);
    for (int i = 0; i < S->n; i++)
        mp__slot_close(S, i);
    S->hooks->lost(S->ud, mp__slots_new_forkserver(S) == 0);
}

/* Sends what waits in the outbox, as far as the channel takes it. */
static void flush_outbox(mp__slots *S)
{
    while (S->out_n) {
        int rc = mp__fs_send(S->fs_fd, &S->outbox[S->out_head]);
        if (rc == MP_EAGAIN)
            return;
        S->out_head++, S->out_n--; /* sent, or the channel is gone: the
                                      read side will report that */
    }
    S->out_head = 0;
    event_del(S->fs_wev);
}

/* The forkserver channel has room again (arg: the slots): sends what
   waits in the outbox. */
static void on_fs_writable(int fd, short what, void *arg)
{
    flush_outbox(arg);
}

/* Sends a request to the pool forkserver, or queues it until the channel
   has room (a burst of spawns fills it: the forkserver's replies must be
   read meanwhile, so the coordinator never waits for it). Returns 0,
   MP_ENOMEM or MP_ESYS (no forkserver). */
static int fs_post(mp__slots *S, const mp__fs_msg *m)
{
    if (S->fs_fd < 0)
        return MP_ESYS;
    if (!S->out_n) {
        int rc = mp__fs_send(S->fs_fd, m);
        if (rc != MP_EAGAIN)
            return rc;
    }
    if (S->out_head + S->out_n == S->out_cap) {
        if (S->out_head) { /* slide down before growing */
            memmove(S->outbox, S->outbox + S->out_head,
                    S->out_n * sizeof(*S->outbox));
            S->out_head = 0;
        }
        if (S->out_n == S->out_cap) {
            size_t cap = S->out_cap ? 2 * S->out_cap : 64;
            mp__fs_msg *o = realloc(S->outbox, cap * sizeof(*o));
            if (!o)
                return MP_ENOMEM;
            S->outbox = o, S->out_cap = cap;
        }
    }
    S->outbox[S->out_head + S->out_n++] = *m;
    event_add(S->fs_wev, NULL);
    return 0;
}

/* Closes the pool forkserver's channel and waits until it has killed and
   reaped every worker and left (its end of the channel closes then). */
static void stop_forkserver(mp__slots *S)
{
    if (S->fs_fd < 0)
        return;
    shutdown(S->fs_fd, SHUT_WR);
    int fl = fcntl(S->fs_fd, F_GETFL);
    fcntl(S->fs_fd, F_SETFL, fl & ~O_NONBLOCK);
    uint64_t deadline = mp__now_ns() + 5000000000ull;
    for (;;) {
        struct pollfd pf = {S->fs_fd, POLLIN, 0};
        uint64_t now = mp__now_ns();
        if (now >= deadline)
            break;
        int n = poll(&pf, 1, (int)((deadline - now) / 1000000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        char buf[sizeof(mp__fs_msg)];
        if (n <= 0 || recv(S->fs_fd, buf, sizeof(buf), 0) <= 0)
            break;
    }
    drop_forkserver(S);
}

void mp__slots_close(mp__slots *S)
{
    if (!S->hooks) /* zeroed: mp__slots_init never ran, fs_fd is no fd */
        return;
    for (int i = 0; S->v && i < S->n; i++)
        mp__slot_close(S, i);
    stop_forkserver(S);
    free(S->v);
    S->v = NULL;
    S->n = 0;
}

int mp__event_rebase(struct event *ev, struct event_base *to)
{
    if (!ev)
        return 0;
    int fd_pending = event_pending(ev, EV_READ | EV_WRITE | EV_SIGNAL, NULL);
    int timer_pending = event_pending(ev, EV_TIMEOUT, NULL);
    event_del(ev);
    if (event_base_set(to, ev) < 0)
        return MP_ESYS;
    struct timeval soon = {0, 10000};
    if ((timer_pending || fd_pending) &&
        event_add(ev, timer_pending ? &soon : NULL) < 0)
        return MP_ESYS;
    return 0;
}

int mp__slots_attach(mp__slots *S, struct event_base *base)
{
    if (mp__event_rebase(S->fs_ev, base) < 0)
        return MP_ESYS;
    for (int i = 0; i < S->n; i++)
        if (mp__event_rebase(S->v[i].rev, base) < 0 ||
            mp__event_rebase(S->v[i].sev, base) < 0)
            return MP_ESYS;
    S->base = base;
    return 0;
}

/* ---- sending ---------------------------------------------------------- */

int mp__slot_parked(const mp__slots *S, int i)
{
    return mp__chan_parked(&S->v[i].ch);
}

int mp__slot_send(mp__slots *S, int i, mp__msg *m)
{
    return mp__chan_send(&S->v[i].ch, m);
}

/* Sends the control messages flagged in s->ctl, in order (CANCEL before
   EXIT), as far as the socket takes them; the rest stay flagged. */
static void send_controls(mp__slots *S, mp__slot *s)
{
    static const uint32_t order[] = {MP_MSG_CANCEL, MP_MSG_EXIT};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        uint32_t t = order[k];
        if (!(s->ctl & (1u << t)) || mp__chan_parked(&s->ch))
            continue;
        mp__msg m;
        if (mp__msg_begin(&m, t, 0, 64) < 0 ||
            mp__slot_send(S, s->index, &m) < 0)
            return; /* stays flagged */
        s->ctl &= ~(1u << t);
    }
}

void mp__slot_control(mp__slots *S, int i, uint32_t type)
{
    S->v[i].ctl |= 1u << type;
    send_controls(S, &S->v[i]);
}

/* The parked message's socket became writable: sends it, then the flagged
   control messages, then tells the owner. */
static void on_writable(int fd, short what, void *arg)
{
    mp__slot *s = arg;
    mp__slots *S = s->set;
    int rc = mp__chan_flush(&s->ch, 0);
    if (rc == MP_EAGAIN)
        return;
    send_controls(S, s);
    S->hooks->writable(S->ud, s->index, rc);
}

/* ---- spawning and closing --------------------------------------------- */

/* Queues the CONFIG message a new worker reads first. Returns 0 or an
   error. */
static int send_config(mp__slots *S, mp__slot *s)
{
    mp__msg m;
    uint64_t ilen = S->config.init_len + S->config.arg_len; /* both */
    int rc = mp__msg_begin(&m, MP_MSG_CONFIG, 0,
                           sizeof(mp__config) + ilen + 64);
    if (rc < 0)
        return rc;
    if (mp__msg_put_config(&m, &S->config, (uint32_t)s->index, S->init_arg,
                           ilen) < 0) {
        mp__msg_discard(&m);
        return MP_ENOMEM;
    }
    return mp__slot_send(S, s->index, &m);
}

static void on_readable(int fd, short what, void *arg);

/* Opens the slot's socket for a new generation and its events. Returns 0
   or MP_ESYS (the slot is closed then). */
static int open_socket(mp__slots *S, mp__slot *s)
{
    int rfd, sfd;
    snprintf(s->endpoint, sizeof(s->endpoint), "ipc://%s/w%d.%u", S->dir,
             s->index, s->gen);
    if (mp__chan_open(&s->ch, s->endpoint, 1, &rfd, &sfd) < 0)
        goto err;
    /* Both nanomsg fds signal readiness as readable (nanomsg docs). */
    s->rev = event_new(S->base, rfd, EV_READ | EV_PERSIST, on_readable, s);
    s->sev = event_new(S->base, sfd, EV_READ | EV_PERSIST, on_writable, s);
    if (!s->rev || !s->sev)
        goto err;
    mp__chan_watch(&s->ch, s->sev);
    event_add(s->rev, NULL);
    return 0;
err:
    mp__slot_close(S, s->index);
    return MP_ESYS;
}

void mp__slot_close(mp__slots *S, int i)
{
    mp__slot *s = &S->v[i];
    if (s->rev)
        event_free(s->rev);
    if (s->sev)
        event_free(s->sev);
    s->rev = s->sev = NULL;
    mp__chan_close(&s->ch); /* forgets the freed sev */
    if (s->endpoint[0]) { /* the ipc socket file, and a spin note */
        char path[256];
        unlink(s->endpoint + 6);
        mp__spin_note_path(s->endpoint, path, sizeof(path));
        unlink(path);
    }
}

int mp__slot_spawn(mp__slots *S, int i)
{
    mp__slot *s = &S->v[i];
    s->gen++;
    s->ctl = 0;
    s->pid = 0;
    int rc = open_socket(S, s);
    if (rc == 0)
        rc = send_config(S, s);
    mp__fs_msg m = {.type = MP_FS_SPAWN, .slot = s->index, .gen = s->gen};
    memcpy(m.endpoint, s->endpoint, sizeof(m.endpoint));
    if (rc == 0)
        rc = fs_post(S, &m);
    if (rc < 0)
        mp__slot_close(S, i);
    return rc;
}

void mp__slot_kill(mp__slots *S, int i)
{
    mp__slot *s = &S->v[i];
    mp__fs_msg m = {.type = MP_FS_KILL, .slot = s->index, .gen = s->gen};
    fs_post(S, &m);
}

/* ---- what comes back -------------------------------------------------- */

void mp__describe_exit(int status, char *buf, size_t n)
{
    if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(buf, n, "could not be started");
}

/* Slot s's worker is gone (status -1: it could not be forked): closes the
   slot and reports the exit. */
static void slot_gone(mp__slots *S, mp__slot *s, int status)
{
    uint32_t spin = WIFEXITED(status) && WEXITSTATUS(status) == MP_EXIT_SPIN
                        ? mp__spin_note_read(s->endpoint) : MP__NO_TASK;
    mp__slot_close(S, s->index);
    S->hooks->exited(S->ud, s->index, status, spin);
}

/* Reads the pool forkserver's reports: pids, exits, failed forks. */
static void on_forkserver(int fd, short what, void *arg)
{
    mp__slots *S = arg;
    mp__fs_msg m;
    int rc;
    while ((rc = mp__fs_recv(S->fs_fd, &m)) == 1) {
        if (m.slot < 0 || m.slot >= S->n)
            continue;
        mp__slot *s = &S->v[m.slot];
        if (m.gen != s->gen || s->ch.sock < 0)
            continue; /* an older generation */
        if (m.type == MP_FS_SPAWNED) {
            s->pid = m.pid;
        } else if (m.type == MP_FS_EXITED) {
            S->dead_cpu_us += m.cpu_us;
            slot_gone(S, s, m.status);
        } else if (m.type == MP_FS_FAILED) {
            slot_gone(S, s, -1);
        }
    }
    if (rc == 0 || rc == MP_ESYS)
        forkserver_lost(S);
}

/* Hands a READY message to the owner: its status and message. */
static void take_ready(mp__slots *S, mp__slot *s, mp__reader *r)
{
    mp__ready rd = {.status = MP_EPROTO};
    const char *msg = NULL;
    size_t left = (size_t)(r->end - r->p);
    if (left >= sizeof(rd)) {
        memcpy(&rd, r->p, sizeof(rd));
        const char *text = r->p + sizeof(rd);
        size_t tn = left - sizeof(rd);
        if (tn && memchr(text, '\0', tn) && text[0])
            msg = text;
    }
    S->hooks->ready(S->ud, s->index, rd.status, msg);
}

/* Drains slot s's socket: every message its worker sent. */
static void on_readable(int fd, short what, void *arg)
{
    mp__slot *s = arg;
    mp__slots *S = s->set;
    int sock = s->ch.sock, n;
    void *buf;
    while ((n = mp__chan_recv(&s->ch, &buf, 0)) >= 0) {
        mp__hdr h;
        mp__reader r;
        if (mp__reader_init(&r, buf, (size_t)n, &h) < 0)
            S->hooks->broken(S->ud, s->index);
        else if (h.type == MP_MSG_READY)
            take_ready(S, s, &r);
        else if (h.type == MP_MSG_RESULTS)
            S->hooks->results(S->ud, s->index, &h, &r);
        else
            S->hooks->broken(S->ud, s->index);
        nn_freemsg(buf);
        if (s->ch.sock != sock) /* closed meanwhile */
            return;
    }
    S->hooks->drained(S->ud, s->index);
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

uint64_t mp__slots_cpu_us(const mp__slots *S)
{
    uint64_t us = S->dead_cpu_us;
    for (int i = 0; i < S->n; i++)
        if (S->v[i].ch.sock >= 0 && S->v[i].pid > 0)
            us += proc_cpu_us(S->v[i].pid);
    return us;
}
