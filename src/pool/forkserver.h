/*
 * The forkserver. nanomsg is not fork-safe and the coordinator keeps its
 * sockets open while it respawns workers, so the coordinator never forks:
 * mp_init() forks one main forkserver before any nanomsg, libevent or curl
 * state exists. Each pool asks it, over a plain socketpair, for a pool
 * forkserver of its own, connected to the pool by a private SOCK_SEQPACKET
 * channel. The pool forkserver forks the pool's workers, reaps them, and
 * reports (slot, generation, pid, wait status). When its channel closes
 * (mp_pool_destroy, or the coordinator died) it SIGKILLs and reaps every
 * worker and exits: no orphans.
 */
#ifndef MP_FORKSERVER_H
#define MP_FORKSERVER_H

#include <stdint.h>

enum {
    MP_FS_SPAWN = 1,   /* coordinator -> fs: fork a worker for slot/gen */
    MP_FS_KILL = 2,    /* coordinator -> fs: SIGKILL slot/gen if alive */
    MP_FS_SPAWNED = 3, /* fs -> coordinator: pid of slot/gen */
    MP_FS_EXITED = 4,  /* fs -> coordinator: slot/gen exited, status */
    MP_FS_FAILED = 5,  /* fs -> coordinator: fork failed, status = errno */
};

typedef struct mp__fs_msg {
    int32_t type;
    int32_t slot;
    uint32_t gen;
    int32_t pid;
    int32_t status; /* wait status (EXITED) or errno (FAILED) */
    uint64_t cpu_us; /* EXITED: the worker's user+sys CPU */
    char endpoint[200];
} mp__fs_msg;

/* Starts the main forkserver once per process (again in a forked child).
   Returns 0 or MP_ESYS. */
int mp__fs_init(void);

#define MP_FS_DIR_MAX 128 /* a pool's endpoint directory, NUL included */

/* Gets a pool forkserver for the pool whose endpoints live in dir (which it
   removes when it exits: after mp_pool_destroy, or after the coordinator
   died): *fd receives the coordinator's end of its channel (close-on-exec,
   non-blocking). Returns 0, MP_EINVAL (dir too long) or MP_ESYS. */
int mp__fs_new_pool(const char *dir, int *fd);

/* Removes dir and the files in it (endpoints, spin notes). */
void mp__fs_rm_dir(const char *dir);

/* Sends one message on a pool channel. Returns 0, MP_EAGAIN (the
   coordinator's non-blocking end is full) or MP_ESYS. */
int mp__fs_send(int fd, const mp__fs_msg *m);

/* Receives one message from a pool channel without blocking. Returns 1,
   0 when the channel closed, MP_EAGAIN when nothing waits, or MP_ESYS. */
int mp__fs_recv(int fd, mp__fs_msg *m);

#endif
