/*
 * The ledger: which task is where. Every task the coordinator has taken
 * from a call's input sits in one entry until its result is delivered: in
 * the retry queue, in the suspects' queue, or held by one worker slot (a
 * "holder"). nanomsg drops in-flight messages when a peer dies, so this is
 * what lets a dead worker's tasks run again.
 *
 * Pure data: no I/O, no events, no processes, and it never calls up. Each
 * function returns what the caller must do (deliver a result, send a task),
 * so the ledger is unit-tested alone (tests/pool/test_ledger.c). pool.c drives
 * it; slots.c never sees it.
 */
#ifndef MP_LEDGER_H
#define MP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#define MP_NIL UINT32_MAX /* no entry: the end of a list */
#define MP__BLAMELESS (UINT32_MAX - 1) /* mp__ledger_reap: nobody's fault */
#define MP_INLINE_IN 256  /* copied inputs up to this size need no malloc */

/* An entry's state. */
enum {
    MP__E_FREE,   /* on the free list */
    MP__E_QUEUED, /* in the retry or the suspects' queue, or just added */
    MP__E_SENT,   /* held by a worker, its result still wanted */
    MP__E_ORPHAN, /* held by a worker, its result no longer wanted */
};

/* One task the coordinator holds until its result. */
typedef struct mp__entry {
    uint32_t next, prev; /* links in a holder's list or a queue */
    int32_t slot;        /* the holder, -1 if queued */
    uint8_t state;       /* MP__E_* */
    uint8_t solo;        /* suspected of killing workers: runs alone */
    uint8_t owned;       /* data was malloc'ed by the ledger */
    uint16_t deaths;     /* workers that died holding it */
    uint8_t losses;      /* pool forkservers that died while it was held */
    uint8_t alone;       /* suspected of killing the pool forkserver: runs
                            alone in the pool (no other task anywhere) */
    uint8_t staged;      /* new input waiting in the staged queue */
    uint32_t len;
    size_t index; /* its owner's key, opaque here (pool.h: MP__CALL_KEY,
                     a future's address) */
    const void *data;
} mp__entry;

/* A doubly linked list of entries, by id (not common/list.h's: the
   entries' array moves when it grows). */
typedef struct mp__idlist {
    uint32_t head, tail, n;
} mp__idlist;

/* What one worker slot holds. */
typedef struct mp__holder {
    mp__idlist held;  /* tasks given and not yet answered, oldest first */
    uint64_t given; /* tasks given since the worker started (recycling) */
    int solo_busy;  /* it holds a suspect, alone */
    int untold;     /* it got orphans since mp__ledger_take_untold */
} mp__holder;

typedef struct mp__ledger {
    mp__entry *ents;
    char *inline_in; /* MP_INLINE_IN bytes per entry for copied inputs */
    uint32_t nents, free_head, in_use;
    mp__idlist retry, solo; /* waiting to be re-sent; suspects, one at a
                               time */
    mp__idlist staged;      /* new input taken ahead of its dispatch, so
                               it can be spread (mp__ledger_stage) */
    mp__idlist alone;       /* suspects of forkserver deaths: one at a
                               time, with nothing else held in the pool */
    int alone_busy;       /* an alone entry is held now (nothing else is
                             given meanwhile) */
    mp__holder *holders;
    int nholders;
    uint32_t capacity;       /* credit: tasks one holder may hold, at
                                first (concurrency + prefetch) */
    uint32_t window;         /* credit now: capacity, or more once
                                widened (mp__ledger_widen) */
    uint32_t max_window;     /* the most window may grow to */
    uint32_t concurrency;    /* of them, running at once */
    uint64_t max_per_holder; /* tasks a worker runs before it is recycled;
                                0 = no limit */
    unsigned max_attempts;   /* deaths a task may cause, at most */
    /* counters, since init */
    uint32_t max_in_use; /* most entries in use at once */
    uint64_t requeued;   /* entries put back in a queue after a death */
    uint64_t solo_given; /* suspects given alone to a worker */
} mp__ledger;

/* What happened to an entry whose holder died (mp__ledger_reap). */
typedef struct mp__verdict {
    size_t index;    /* the task's key (mp__entry.index) */
    int status;      /* MP_ETIMEDOUT: it spun past its deadline;
                        MP_EWORKER: it killed max_attempts workers, or
                        max_attempts pool forkservers (losses) */
    unsigned deaths; /* workers (or forkservers) that died holding it */
    int fs;          /* 1: the deaths are forkserver losses */
} mp__verdict;

/* What a result means to its call (mp__ledger_result). */
enum {
    MP__R_STRAY = -1, /* not an entry this holder holds: ignore it */
    MP__R_LATE = 0,   /* its call no longer wants it: drop it */
    MP__R_DELIVER = 1 /* deliver it to the call */
};

/* Sets up a ledger for nholders holders of concurrency + prefetch tasks
   each. Returns 0 or MP_ENOMEM (L is then safe to free). */
int mp__ledger_init(mp__ledger *L, int nholders, uint32_t concurrency,
                    uint32_t prefetch, uint64_t max_per_holder,
                    unsigned max_attempts);

/* Frees the ledger and every copy it made. */
void mp__ledger_free(mp__ledger *L);

/* Returns 1 when every entry is in use (no more input can be taken). */
int mp__ledger_full(const mp__ledger *L);

/* Takes a task into a new entry, queued but in no queue: the caller gives
   it (mp__ledger_give) right away. copy: keep a copy of data (the caller's
   buffer will not outlive the call to next()). Returns the entry id, or
   MP_NIL when the ledger is full. Aborts when a copy cannot be allocated. */
uint32_t mp__ledger_add(mp__ledger *L, size_t index, const void *data,
                        uint32_t len, int copy);

/* Removes the oldest entry from the retry queue. Returns it, or MP_NIL. */
uint32_t mp__ledger_pop_retry(mp__ledger *L);

/* Puts entry id, just added (mp__ledger_add), at the end of the staged
   queue: taken from the input now, given later (mp__ledger_pop_staged),
   so that what is taken can be spread over the holders. */
void mp__ledger_stage(mp__ledger *L, uint32_t id);

/* Removes the oldest staged entry. Returns it, or MP_NIL. */
uint32_t mp__ledger_pop_staged(mp__ledger *L);

/* Doubles the window (the credit of each holder), up to max_window,
   growing the entries to nholders x window. Returns 1 when it grew, 0 at
   max_window, MP_ENOMEM (nothing changed). Entry ids stay valid;
   pointers into L->ents do not. */
int mp__ledger_widen(mp__ledger *L);

/* Lets the window grow up to most tasks per holder (never below
   capacity, where it starts): an adaptive pool's limit. */
void mp__ledger_set_max_window(mp__ledger *L, uint32_t most);

/* Sets the window back to capacity (the entries stay allocated). */
void mp__ledger_narrow(mp__ledger *L);

/* Returns how many more tasks holder h should get now if it may hold up to
   cap: cap minus what it holds, limited by recycling; 0 when a batch would
   be too small to be worth a message (a busy holder waits until a quarter
   of the window is free, so batches stay big). */
uint32_t mp__ledger_room(const mp__ledger *L, int h, uint32_t cap);

/* Records that holder h has been sent entry id (a new or a retried one). */
void mp__ledger_give(mp__ledger *L, int h, uint32_t id);

/* Gives the oldest suspect to holder h, alone, when h holds nothing; h then
   gets nothing else until its result (mp__ledger_result) or its death.
   Returns the entry to send, or MP_NIL when there is no suspect or h is not
   empty. */
uint32_t mp__ledger_give_solo(mp__ledger *L, int h);

/* Takes the result holder h sent for entry id and frees the entry. On
   MP__R_DELIVER, *index is the task's key (mp__entry.index). Returns
   MP__R_DELIVER, MP__R_LATE or MP__R_STRAY (nothing changed). */
int mp__ledger_result(mp__ledger *L, int h, uint32_t id, size_t *index);

/* Empties the list of holder h, whose worker died. spin_id: the entry the
   worker named as spinning past its deadline, MP_NIL when the death is
   unexplained (it counts against every entry h held), or MP__BLAMELESS
   when the coordinator killed the worker (it counts against none). Each
   entry is
   freed (late ones, the spinning one, one that has now killed
   max_attempts workers) or queued again: to the retry queue, or, once one
   more death would exhaust it, to the suspects' queue (suspects run alone,
   so an innocent task never shares a worker with the killer on its last
   try). Call it until it returns 0. Returns 1 with *v filled when a result
   must be delivered, 0 when h holds nothing any more. */
int mp__ledger_reap(mp__ledger *L, int h, uint32_t spin_id, mp__verdict *v);

/* Takes back the n entries given last to holder h, whose message never
   left (a failed send): they go back to the front of their queue (a suspect
   to the suspects', h free of it again), in order, as if never given; no
   death is counted. Orphans among them (their call ended meanwhile) are
   freed. */
void mp__ledger_take_back(mp__ledger *L, int h, uint32_t n);

/* Empties the list of holder h, whose worker was lost through no fault of
   its tasks (its forkserver died): orphans are freed, every other entry
   goes back to its queue with its count of deaths unchanged. */
void mp__ledger_return(mp__ledger *L, int h);

/* Empties the list of holder h, whose worker died with the pool
   forkserver (which a new one replaced): counts a loss against every entry
   it held, as mp__ledger_reap counts a death, and like it frees orphans
   and queues the rest again. An entry whose next loss would exhaust
   max_attempts goes to the alone queue: it runs with nothing else held in
   the whole pool, since a forkserver's death takes every worker, so no
   innocent task shares the loss with the one that kills the forkserver.
   One that has now caused max_attempts losses, the last one alone, ends
   (MP_EWORKER, v->fs set). Call it until it returns 0. Returns 1 with *v
   filled when a result must be delivered, 0 when h holds nothing any
   more. */
int mp__ledger_lose(mp__ledger *L, int h, mp__verdict *v);

/* Gives the oldest entry of the alone queue to holder h when no holder
   holds anything; nothing else may be given until its result or its
   holder's death (mp__ledger_quiet says so). Returns the entry to send,
   or MP_NIL. */
uint32_t mp__ledger_give_alone(mp__ledger *L, int h);

/* Returns 1 while an alone entry waits or runs: nothing but it (through
   mp__ledger_give_alone) may be given. */
int mp__ledger_quiet(const mp__ledger *L);

/* Removes one entry whose index matches ((index & mask) == match; mask 0:
   any) from the queues (retry first, then staged, suspects, alone) and
   frees it. Returns
   1 with *index set, or 0 when no queued entry matches. */
int mp__ledger_drop_queued(mp__ledger *L, size_t mask, size_t match,
                           size_t *index);

/* Takes back one task, entry id, whatever its state: queued, it is
   removed and freed (returns -1); held by a worker, it becomes an orphan
   (its late result will be dropped) and the holder is returned (>= 0), for
   the caller to tell that worker (mp__ledger_take_untold remembers it
   too); an orphan already: returns -1. */
int mp__ledger_cancel(mp__ledger *L, uint32_t id);

/* The first entry holder h holds, MP_NIL if none: the cursor for
   mp__ledger_orphan_next. */
uint32_t mp__ledger_first(const mp__ledger *L, int h);

/* From *cursor on, finds the next entry whose result is still wanted and
   whose index matches ((index & mask) == match; mask 0: any), and marks it
   an orphan (its late result will be dropped, the entry freed when it
   comes or its holder dies). Advances *cursor past it. Returns 1 with
   *index set, or 0 at the end of the list. */
int mp__ledger_orphan_next(mp__ledger *L, uint32_t *cursor, size_t mask,
                           size_t match, size_t *index);

/* Returns 1 when holder h got orphans (mp__ledger_cancel,
   mp__ledger_orphan_next) since the last call, for the caller to tell its
   worker which results are no longer wanted (mp__ledger_next_orphan); 0
   otherwise. Forgets them: the next call returns 0 until a new one. */
int mp__ledger_take_untold(mp__ledger *L, int h);

/* From *cursor on (mp__ledger_first), returns the next orphan of the
   holder's list and advances *cursor past it; MP_NIL at the end. */
uint32_t mp__ledger_next_orphan(const mp__ledger *L, uint32_t *cursor);

/* Starts holder h afresh for a new worker. It must hold nothing (reap it
   first). */
void mp__ledger_holder_reset(mp__ledger *L, int h);

/* Returns the number of tasks holder h holds. */
uint32_t mp__ledger_held(const mp__ledger *L, int h);

#endif
