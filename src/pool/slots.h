/*
 * Worker slots, coordinator side: process mechanics only. A slot is one
 * worker process at a time (a new generation after each death): spawned
 * through the pool forkserver, talked to over its own nanomsg PAIR, and
 * reported dead by the forkserver. This file knows nothing of tasks, the
 * ledger or the calls; it reports up through the hooks pool.c registers,
 * and pool.c decides every change of a slot's state.
 */
#ifndef MP_SLOTS_H
#define MP_SLOTS_H

#include <stdint.h>
#include <sys/types.h>

#include "wire/wire.h"

struct event;
struct event_base;
struct mp__slots;

/* One worker slot's process and pipe. */
typedef struct mp__slot {
    struct mp__slots *set;
    int index;
    mp__chan ch; /* the PAIR; ch.sock is -1 when no worker is alive */
    pid_t pid;   /* 0 until the forkserver reported it */
    uint32_t gen;
    struct event *rev, *sev;
    uint32_t ctl; /* control messages waiting: 1 << MP_MSG_CANCEL... */
    char endpoint[200];
} mp__slot;

/*
 * What the slots report to their owner (pool.c), each called from the
 * pool's event loop with the owner's ud and the slot's index. A hook may
 * send to any slot and may ask for spawns and kills; it must not close the
 * slot it is called for except where said.
 */
typedef struct mp__slot_hooks {
    /* The worker answered READY: status 0, or its init function's error
       with its message (msg may be NULL). Called for every READY. */
    void (*ready)(void *ud, int slot, int status, const char *msg);
    /* One RESULTS message arrived; h is its header, r walks its records.
       Both are valid only during the call. */
    void (*results)(void *ud, int slot, const mp__hdr *h, mp__reader *r);
    /* The worker sent a message that is not one (shorter than its
       header, or of no known type): its pipe cannot be trusted. */
    void (*broken)(void *ud, int slot);
    /* Every message that had arrived on the slot has been handed over
       (after one or more ready/results calls). */
    void (*drained)(void *ud, int slot);
    /* The parked message has gone out (rc 0) or failed and was dropped
       (rc < 0): the slot takes a new message again. */
    void (*writable)(void *ud, int slot, int rc);
    /* The worker is gone: status is its wait status, or -1 when it could
       not be forked. spin_task: the task id the worker named as spinning
       past its deadline (status MP_EXIT_SPIN), else MP__NO_TASK. The slot
       is already closed; the hook may spawn it again. */
    void (*exited)(void *ud, int slot, int status, uint32_t spin_task);
    /* The pool forkserver died, and every worker with it (they have
       PR_SET_PDEATHSIG): every slot is closed, without an exited report.
       replaced: a new pool forkserver is there, slots can be spawned again;
       0: none could be had (mp__slots_new_forkserver may try again). */
    void (*lost)(void *ud, int replaced);
} mp__slot_hooks;

/* The slots of one pool and their forkserver. */
typedef struct mp__slots {
    mp__slot *v;
    int n;
    struct event_base *base;
    int fs_fd; /* the channel to the pool forkserver */
    struct event *fs_ev, *fs_wev; /* readable; writable (outbox waiting) */
    struct mp__fs_msg *outbox; /* requests the channel had no room for */
    size_t out_head, out_n, out_cap;
    const mp__slot_hooks *hooks;
    void *ud;
    const char *dir; /* where the endpoints live */
    mp__config config;
    const void *init_arg;
    uint64_t dead_cpu_us; /* CPU of the workers that exited */
} mp__slots;

/* Sets up n closed slots and gets a pool forkserver. config (copied) and
   init_arg (config->init_len bytes, borrowed for the set's life) are what
   each new worker receives; dir (borrowed) holds the endpoints. Returns 0,
   MP_ENOMEM or MP_ESYS; mp__slots_close cleans up in every case. */
int mp__slots_init(mp__slots *S, int n, struct event_base *base,
                   const char *dir, const mp__config *config,
                   const void *init_arg, const mp__slot_hooks *hooks,
                   void *ud);

/* Gets a new pool forkserver when the set has none (it was lost and could
   not be replaced). Returns 0 (also when it has one), MP_ENOMEM or
   MP_ESYS. */
int mp__slots_new_forkserver(mp__slots *S);

/* Closes every slot, then closes the forkserver's channel and waits (up to
   5 s) until it has killed and reaped every worker and left. A set
   mp__slots_init never saw (zeroed) has nothing to close. */
void mp__slots_close(mp__slots *S);

/* Starts a new generation of slot i: opens its socket, queues the CONFIG
   message and asks the forkserver for the process. Returns 0, or an error
   (the slot is closed then). */
int mp__slot_spawn(mp__slots *S, int i);

/* Closes slot i's socket and events, drops its parked message and removes
   its endpoint files. Its process, if any, is left to the forkserver. */
void mp__slot_close(mp__slots *S, int i);

/* Sends m on slot i, or parks it until the socket is writable (then the
   writable hook runs). Only one message is ever parked: the caller waits
   for it (mp__slot_parked). Returns 0 (m is empty then), MP_EAGAIN when a
   message is parked already, or another error; m is freed on error. */
int mp__slot_send(mp__slots *S, int i, mp__msg *m);

/* Returns 1 when slot i has a message parked, waiting for the socket. */
int mp__slot_parked(const mp__slots *S, int i);

/* Sends a control message (MP_MSG_CANCEL, MP_MSG_EXIT) to slot i now, or
   as soon as the parked message has gone. */
void mp__slot_control(mp__slots *S, int i, uint32_t type);

/* Asks the forkserver to SIGKILL slot i's current worker; its death is
   reported through the exited hook. */
void mp__slot_kill(mp__slots *S, int i);

/* Returns the CPU (user+sys, us) of the slots' workers: the exited ones,
   plus the running ones from /proc. */
uint64_t mp__slots_cpu_us(const mp__slots *S);

/* Moves the slots' events (the forkserver's channel, each slot's pipe) to
   base, where every later one is created too (mp_pool_attach). Returns 0
   or MP_ESYS. */
int mp__slots_attach(mp__slots *S, struct event_base *base);

/* Moves ev, pending or not, to the event base to (event_base_set); a
   pending timer is re-armed to fire soon (within 10 ms), not at its old
   time. NULL is fine. Returns 0 or MP_ESYS. */
int mp__event_rebase(struct event *ev, struct event_base *to);

/* Describes a wait status (-1: could not be forked) in words into buf. */
void mp__describe_exit(int status, char *buf, size_t n);

#endif
