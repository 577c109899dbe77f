/*
 * Coordinator internals shared by pool.c (the API, calls, the ledger and
 * dispatch) and slots.c (worker processes: spawn, death, respawn, recycle).
 */
#ifndef MP_POOL_H
#define MP_POOL_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "mpool.h"
#include "wire.h"

#define MP_NIL UINT32_MAX
#define MP_MAX_FAILS 5
#define MP_INLINE_IN 256 /* imap inputs up to this size need no malloc */ /* failed starts in a row before a slot gives up */

struct event;
struct event_base;

enum { E_FREE, E_QUEUED, E_SENT, E_ORPHAN };
enum { S_DEAD, S_STARTING, S_READY, S_RETIRING };

/* A ledger entry: one task the coordinator holds until its result. */
typedef struct mp__entry {
    uint32_t next, prev; /* links in a slot's in-flight list or a queue */
    int32_t slot;        /* the worker holding it, -1 if queued */
    uint8_t state;
    uint8_t solo;   /* suspected of killing workers: runs alone */
    uint8_t owned;  /* data is our copy (imap) */
    uint16_t deaths;
    uint32_t len;
    size_t index;   /* position in the input */
    const void *data;
} mp__entry;

typedef struct mp__list {
    uint32_t head, tail, n;
} mp__list;

typedef struct mp__slot {
    struct mp_pool *pool;
    int index, state, sock;
    pid_t pid;
    uint32_t gen;
    struct event *rev, *sev, *respawn;
    mp__list inflight;
    uint64_t dispatched; /* since this worker started (recycling) */
    int solo_busy, got_result, exit_sent;
    uint32_t ctl; /* control messages waiting: 1 << MP_MSG_CANCEL... */
    unsigned fails; /* starts in a row that produced no result */
    mp__msg pending; /* a message waiting for the socket to be writable */
    char endpoint[200];
} mp__slot;

typedef struct mp__call {
    int imap;
    mp_task_fn fn;
    const mp_buf *in;
    size_t n;
    mp_result *out;
    mp_next_fn next;
    mp_result_fn on_result;
    void *ud;
    size_t pulled, delivered;
    int input_done, input_paused;
    int status; /* 0, or why the call stopped early */
} mp__call;

struct mp_pool {
    mp_pool_options o;
    void *init_copy;
    int nworkers;
    uint32_t capacity; /* tasks one worker may hold */
    struct event_base *base;
    int fs_fd, cancel_fd;
    struct event *fs_ev, *cancel_ev, *rate_ev, *create_ev;
    atomic_int cancel_flag;
    char dir[120];
    mp__slot *slots;
    mp__entry *ents;
    char *inline_in; /* MP_INLINE_IN bytes per entry: imap input copies */
    uint32_t nents, free_head, in_use;
    mp__list retry, solo;
    mp__call *call;
    mp_pool_stats stats;
    double tokens;
    uint64_t tokens_ns;
    int rate_armed, creating, create_err, ready;
    uint64_t dead_cpu_us; /* CPU of the workers that exited */
};

/* slots.c */
int mp__slot_spawn(mp_pool *p, mp__slot *s);
void mp__slot_close(mp_pool *p, mp__slot *s);
int mp__slot_send(mp_pool *p, mp__slot *s, mp__msg *m);
void mp__on_forkserver(int fd, short what, void *arg);
void mp__on_slot_readable(int fd, short what, void *arg);
void mp__on_slot_writable(int fd, short what, void *arg);
void mp__on_respawn(int fd, short what, void *arg);
/* CPU (us) of the pool's workers: exited ones, plus running ones from
   /proc. */
uint64_t mp__workers_cpu_us(const mp_pool *p);
void mp__slot_retire(mp_pool *p, mp__slot *s);
/* Sends a control message (MP_MSG_CANCEL, MP_MSG_EXIT) now, or as soon as
   the parked message has gone. */
void mp__slot_control(mp_pool *p, mp__slot *s, uint32_t type);

/* pool.c */
void mp__list_push(mp_pool *p, mp__list *l, uint32_t id);
void mp__list_unlink(mp_pool *p, mp__list *l, uint32_t id);
uint32_t mp__list_pop(mp_pool *p, mp__list *l);
void mp__entry_free(mp_pool *p, uint32_t id);
void mp__deliver(mp_pool *p, uint32_t id, int status, const void *data,
                 size_t len, const char *err);
void mp__dispatch(mp_pool *p, mp__slot *s);
void mp__dispatch_all(mp_pool *p);
void mp__abort_call(mp_pool *p, int status, const char *why);
uint64_t mp__now_ns(void);

#endif
