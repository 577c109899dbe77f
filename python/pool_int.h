/*
 * pool.c's header for run.c and module.c: the item of one task, the two
 * objects (Pool, and Run whose done list pool.c's callback fills), and
 * pool.c's mutex, loop and outcome functions (see pool.c).
 */
#ifndef MPOOL_POOL_INT_H
#define MPOOL_POOL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "mpool_ext.h"

extern PyTypeObject pyx_pool_type;

struct event_base;
struct event;

typedef struct pyx_item pyx_item;
typedef struct pyx_pool pyx_pool;
typedef struct pyx_run pyx_run;

struct pyx_item {
    mp_future *f;
    pyx_item *next;             /* in a done or ready list */
    pyx_item *all_prev, *all_next; /* in its run's list of every item, or
                                      its pool's of submit()'s not done */
    pyx_pool *p;
    pyx_run *run;               /* NULL: a submit()'s */
    PyObject *cb;               /* submit(): cb(pyx_outcome, code) */
    uint64_t index;             /* position in its run; submit()'s id */
    uint64_t line;              /* fetch: the input's line number */
    int kind;                   /* PYX_FETCH, PYX_PYTHON */
    int done;
};

typedef struct item_list {
    pyx_item *head, *tail;
    size_t n;
} item_list;

struct pyx_pool {
    PyObject_HEAD
    mp_pool *pool;
    struct event_base *base;
    struct event *wake_ev, *tick_ev;
    int wake_fd;
    pthread_mutex_t mu;
    pthread_cond_t turn;
    atomic_int waiters; /* threads waiting for mu: drivers let them in */
    item_list fdone;    /* submit()'s items done, not yet resolved */
    size_t fpending;    /* submit()'s items not done */
    pyx_item *fall;     /* those items (mu), for cancel() */
    uint64_t fnext_id;  /* submit()'s last id */
    int closed;
    mp_pool_stats last; /* the counts at the close, for stats() */
};

struct pyx_run {
    PyObject_HEAD
    pyx_pool *p;
    PyObject *it;      /* the input; NULL once exhausted */
    int kind, ordered, owns_pool;
    int notify_fd;     /* written when an item is done (afetch), or -1 */
    size_t window;
    uint64_t next_index, line;
    pyx_item **ring;   /* ordered: in-flight items by index % window */
    uint64_t head_index;
    item_list done;    /* unordered: done, in completion order (mu) */
    item_list ready;   /* done and taken out of the pool (GIL) */
    pyx_item *all;     /* every item not handed out yet */
    size_t inflight;   /* items submitted, not handed out */
    char *buf;         /* a task's input being built */
    size_t buf_cap;
    int stopped;
};

static inline void list_push(item_list *l, pyx_item *it)
{
    it->next = NULL;
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    l->n++;
}

static inline pyx_item *list_pop(item_list *l)
{
    pyx_item *it = l->head;
    if (it) {
        l->head = it->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
    }
    return it;
}

/* Links it first in the list at *head of its run's items or its pool's
   submit() items (all_prev, all_next). */
static inline void all_link(pyx_item **head, pyx_item *it)
{
    it->all_prev = NULL;
    it->all_next = *head;
    if (*head)
        (*head)->all_prev = it;
    *head = it;
}

static inline void all_unlink(pyx_item **head, pyx_item *it)
{
    if (it->all_prev)
        it->all_prev->all_next = it->all_next;
    else
        *head = it->all_next;
    if (it->all_next)
        it->all_next->all_prev = it->all_prev;
}

void pyx_pool_lock(pyx_pool *p);       /* without the GIL, or see submit_one */
void pyx_pool_unlock(pyx_pool *p);
void pyx_pool_lock_drive(pyx_pool *p); /* without the GIL */
int pyx_loop_once(pyx_pool *p, unsigned ms);
void pyx_on_done(mp_future *f, void *ud);
void pyx_pool_close(pyx_pool *p);      /* GIL held */
PyObject *pyx_outcome(pyx_item *it, int *code);
void pyx_item_free(pyx_item *it);

#endif
