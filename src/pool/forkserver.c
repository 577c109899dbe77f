/* The forkserver: see forkserver.h. Single-threaded; never touches
   nanomsg, libevent or curl. */
#include "pool/forkserver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpool.h"
#include "worker/worker.h"

static pthread_mutex_t fs_lock = PTHREAD_MUTEX_INITIALIZER;
static int fs_chan = -1;  /* coordinator's end of the main channel */
static pid_t fs_owner;    /* the process that started it */

/* One live worker of a pool forkserver. */
typedef struct fs_child {
    pid_t pid;
    int32_t slot;
    uint32_t gen;
} fs_child;

typedef struct pool_fs {
    int chan;
    int sigfd;
    char dir[MP_FS_DIR_MAX]; /* the pool's endpoints, removed on exit */
    fs_child *kids;
    size_t n, cap;
} pool_fs;

/* Sends a message, retrying on EINTR. Returns 0, MP_EAGAIN (a
   non-blocking channel is full) or MP_ESYS. */
int mp__fs_send(int fd, const mp__fs_msg *m)
{
    ssize_t rc;
    do
        rc = send(fd, m, sizeof(*m), MSG_NOSIGNAL);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return MP_EAGAIN;
    return rc == (ssize_t)sizeof(*m) ? 0 : MP_ESYS;
}

int mp__fs_recv(int fd, mp__fs_msg *m)
{
    ssize_t rc;
    do
        rc = recv(fd, m, sizeof(*m), MSG_DONTWAIT);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    if (rc < 0)
        return errno == EAGAIN ? MP_EAGAIN : MP_ESYS;
    return rc == (ssize_t)sizeof(*m) ? 1 : MP_ESYS;
}

void mp__fs_rm_dir(const char *dir)
{
    DIR *d = dir[0] ? opendir(dir) : NULL;
    if (!d)
        return;
    struct dirent *de;
    char path[MP_FS_DIR_MAX + 300];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Kills and reaps every worker, removes the pool's endpoint directory (the
   coordinator may have been SIGKILLed and cannot), then leaves. */
static void pool_fs_exit(pool_fs *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        kill(fs->kids[i].pid, SIGKILL);
    for (size_t i = 0; i < fs->n; i++)
        while (waitpid(fs->kids[i].pid, NULL, 0) < 0 && errno == EINTR)
            ;
    mp__fs_rm_dir(fs->dir);
    _exit(0);
}

/* The child side of a fork: becomes a worker. Never returns. */
static void become_worker(pool_fs *fs, const mp__fs_msg *m, pid_t parent)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    close(fs->chan);
    close(fs->sigfd);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the pool forkserver died already */
        _exit(1);
    mp__worker_main(m->endpoint, m->slot);
}

/* Forks a worker for m's slot and reports its pid (or the failure). */
static void pool_fs_spawn(pool_fs *fs, const mp__fs_msg *m)
{
    mp__fs_msg r = {.slot = m->slot, .gen = m->gen};
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        fs_child *k = realloc(fs->kids, cap * sizeof(*k));
        if (!k) {
            r.type = MP_FS_FAILED, r.status = ENOMEM;
            mp__fs_send(fs->chan, &r);
            return;
        }
        fs->kids = k, fs->cap = cap;
    }
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid == 0)
        become_worker(fs, m, self);
    if (pid < 0) {
        r.type = MP_FS_FAILED, r.status = errno;
    } else {
        fs->kids[fs->n++] = (fs_child){pid, m->slot, m->gen};
        r.type = MP_FS_SPAWNED, r.pid = pid;
    }
    if (mp__fs_send(fs->chan, &r) < 0)
        pool_fs_exit(fs);
}

static uint64_t tv_us(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

/* Reaps every exited worker and reports each one with its CPU time. */
static void pool_fs_reap(pool_fs *fs)
{
    struct signalfd_siginfo si;
    while (read(fs->sigfd, &si, sizeof(si)) == sizeof(si))
        ;
    int st;
    pid_t pid;
    struct rusage ru;
    while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
        for (size_t i = 0; i < fs->n; i++) {
            if (fs->kids[i].pid != pid)
                continue;
            mp__fs_msg r = {.type = MP_FS_EXITED, .slot = fs->kids[i].slot,
                            .gen = fs->kids[i].gen, .pid = pid,
                            .status = st,
                            .cpu_us = tv_us(&ru.ru_utime) +
                                      tv_us(&ru.ru_stime)};
            fs->kids[i] = fs->kids[--fs->n];
            if (mp__fs_send(fs->chan, &r) < 0)
                pool_fs_exit(fs);
            break;
        }
    }
}

/* SIGKILLs the worker of slot/gen if it is still alive (not yet reaped, so
   its pid cannot have been reused). */
static void pool_fs_kill(pool_fs *fs, const mp__fs_msg *m)
{
    for (size_t i = 0; i < fs->n; i++)
        if (fs->kids[i].slot == m->slot && fs->kids[i].gen == m->gen)
            kill(fs->kids[i].pid, SIGKILL);
}

/* The pool forkserver's loop. Never returns. */
static void pool_fs_main(int chan, const char *dir)
{
    pool_fs fs = {.chan = chan};
    snprintf(fs.dir, sizeof(fs.dir), "%s", dir);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGCHLD, SIG_DFL);
    fs.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fs.sigfd < 0)
        _exit(1);
    int fl = fcntl(chan, F_GETFL);
    fcntl(chan, F_SETFL, fl & ~O_NONBLOCK);
    for (;;) {
        struct pollfd pf[2] = {{chan, POLLIN, 0}, {fs.sigfd, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            pool_fs_exit(&fs);
        }
        if (pf[1].revents)
            pool_fs_reap(&fs);
        if (!pf[0].revents)
            continue;
        mp__fs_msg m;
        ssize_t rc = recv(chan, &m, sizeof(m), 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc != (ssize_t)sizeof(m))
            pool_fs_exit(&fs); /* closed: the pool is gone */
        m.endpoint[sizeof(m.endpoint) - 1] = '\0';
        if (m.type == MP_FS_SPAWN)
            pool_fs_spawn(&fs, &m);
        else if (m.type == MP_FS_KILL)
            pool_fs_kill(&fs, &m);
    }
}

/* Receives one pool channel passed with SCM_RIGHTS, and the pool's
   directory (MP_FS_DIR_MAX bytes) into dir. Returns the fd, -1 when the
   coordinator closed the main channel, or -2 for a malformed request. */
static int main_fs_recv_fd(int chan, char *dir)
{
    struct iovec iov = {dir, MP_FS_DIR_MAX};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cm.buf,
                         .msg_controllen = sizeof(cm.buf)};
    ssize_t rc;
    do
        rc = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC);
    while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -2;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    if (rc != MP_FS_DIR_MAX || !memchr(dir, '\0', MP_FS_DIR_MAX)) {
        close(fd);
        return -2;
    }
    return fd;
}

/* The main forkserver's loop: one pool forkserver per request. Exits when
   the coordinator closes the channel (or dies). */
static void main_fs_main(int chan)
{
    signal(SIGCHLD, SIG_IGN); /* pool forkservers are reaped by the kernel */
    mp__ignore_stop_signals(); /* inherited by pool forkservers, workers */
    signal(SIGPIPE, SIG_IGN);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        close(devnull);
    }
    for (;;) {
        char dir[MP_FS_DIR_MAX];
        int fd = main_fs_recv_fd(chan, dir);
        if (fd == -1)
            _exit(0);
        if (fd < 0)
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(chan);
            pool_fs_main(fd, dir);
        }
        close(fd);
    }
}

/* Opens /dev/null on each of the descriptors 0-2 that is closed, as
   daemons do: otherwise the next socket of ours would become "standard
   input" or "standard output" to the caller, who reads or writes it as
   such. */
static void fill_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", O_RDWR); /* the lowest free: fd */
        if (nfd > fd) {
            dup2(nfd, fd);
            close(nfd);
        }
    }
}

int mp__fs_init(void)
{
    int rc = 0;
    pthread_mutex_lock(&fs_lock);
    fill_std_fds(); /* each time: a pool's sockets come after this */
    if (fs_chan >= 0 && fs_owner == getpid())
        goto out;
    if (fs_chan >= 0) /* we are a fork of a coordinator: start our own */
        close(fs_chan);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = MP_ESYS;
        goto out;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        main_fs_main(sv[1]);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        rc = MP_ESYS;
        goto out;
    }
    fs_chan = sv[0];
    fs_owner = getpid();
out:
    pthread_mutex_unlock(&fs_lock);
    return rc;
}

int mp__fs_new_pool(const char *dir, int *fd)
{
    char path[MP_FS_DIR_MAX] = {0};
    if (strlen(dir) >= sizeof(path))
        return MP_EINVAL;
    strcpy(path, dir);
    int rc = mp__fs_init();
    if (rc < 0)
        return rc;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return MP_ESYS;
    struct iovec iov = {path, sizeof(path)};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cm.buf,
                         .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
    pthread_mutex_lock(&fs_lock);
    ssize_t n;
    do
        n = sendmsg(fs_chan, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    pthread_mutex_unlock(&fs_lock);
    close(sv[1]);
    if (n != (ssize_t)sizeof(path)) {
        close(sv[0]);
        return MP_ESYS;
    }
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    *fd = sv[0];
    return 0;
}

int mp_init(void)
{
    return mp__fs_init();
}
