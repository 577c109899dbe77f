/*
 * The ledger alone: no processes, no sockets, no event loop. Each case is a
 * script of steps (give tasks, results, deaths, re-runs, recycling,
 * cancel) run against one ledger, with the expected answer of every step;
 * after each step the lists must be consistent and no task may have been
 * delivered twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pool/ledger.h"
#include "mpool.h"

/* Steps leave their unused trailing fields out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

enum {
    END,
    ADD,    /* n new tasks given to holder h; want: how many fit */
    ADDBIG, /* one copied task of n bytes (> MP_INLINE_IN) given to h */
    ROOM,   /* want == mp__ledger_room(h, cap: n) */
    DONE,   /* result of h's k-th oldest task (k: n); want: MP__R_* */
    STRAY,  /* result for entry id n from holder h; want MP__R_STRAY */
    DIE,    /* h died (spinning: its k-th task, n; -1: none); want: how
               many verdicts, the first with status arg */
    RETRY,  /* give every retried task to h; want: how many */
    SOLO,   /* give a suspect to h alone; want: 1 if one was given */
    ABORT,  /* cancel: drop the queues, orphan every held task; want:
               results to deliver */
    LOST,   /* h's worker went with its forkserver: no death counted */
    RESET,  /* a new worker in slot h */
    BACK,   /* h's last n tasks were never sent: take them back */
    FIRST,  /* want == the input index at the head of the retry queue */
    COUNT,  /* want in_use, n retry.n, arg solo.n: use COUNTS() */
    CANCEL, /* take back h's k-th task (k: n), delivered by the caller;
               want: what mp__ledger_cancel returns */
    CANCELQ, /* take back the head of the retry queue; want: -1 */
    OWNER,  /* abort only the tasks whose index & 1 == n; want: results */
    ORPHANS, /* want: orphans in h's list */
    LOSE,   /* h's worker went with its forkserver, which was replaced: a
               loss counted; want: how many verdicts (MP_EWORKER) */
    ALONE,  /* give a suspect of forkserver deaths to h; want: 1 if one
               was given; n: what mp__ledger_quiet says after it */
    UNTOLD, /* want == mp__ledger_take_untold(h) */
};
#define COUNTS(in_use, retry, solo) {COUNT, 0, retry, in_use, solo}
#define FIRST(index) {FIRST, 0, 0, index}

typedef struct step {
    int op, h, n, want, arg;
} step;

typedef struct ledger_case {
    const char *name;
    int holders;
    uint32_t concurrency, prefetch;
    uint64_t max_per_holder;
    unsigned max_attempts;
    step steps[24];
    int all_delivered; /* every task added has exactly one result */
} ledger_case;

#define MAXT 256
static int delivered[MAXT]; /* results per task index */
static size_t added;

static void deliver(size_t index)
{
    assert_true(index < added);
    delivered[index]++;
    assert_int_equal(delivered[index], 1); /* never twice */
}

/* Returns the k-th oldest entry holder h holds. */
static uint32_t kth(const mp__ledger *L, int h, int k)
{
    uint32_t id = L->holders[h].held.head;
    while (k-- > 0 && id != MP_NIL)
        id = L->ents[id].next;
    assert_int_not_equal(id, MP_NIL);
    return id;
}

/* Checks one list's links both ways and its count; returns its length. */
static uint32_t check_list(const mp__ledger *L, const mp__idlist *l)
{
    uint32_t n = 0, prev = MP_NIL;
    for (uint32_t id = l->head; id != MP_NIL; id = L->ents[id].next) {
        assert_int_equal(L->ents[id].prev, prev);
        assert_int_not_equal(L->ents[id].state, MP__E_FREE);
        prev = id;
        n++;
        assert_true(n <= L->nents);
    }
    assert_int_equal(l->tail, prev);
    assert_int_equal(l->n, n);
    return n;
}

/* Every entry in use is in exactly one list; the free list holds the
   rest. */
static void check_consistent(const mp__ledger *L)
{
    uint32_t n = check_list(L, &L->retry) + check_list(L, &L->solo) +
                 check_list(L, &L->alone);
    for (int h = 0; h < L->nholders; h++) {
        n += check_list(L, &L->holders[h].held);
        for (uint32_t id = L->holders[h].held.head; id != MP_NIL;
             id = L->ents[id].next)
            assert_int_equal(L->ents[id].slot, h);
    }
    assert_int_equal(n, L->in_use);
    uint32_t nfree = 0;
    for (uint32_t id = L->free_head; id != MP_NIL; id = L->ents[id].next)
        nfree++;
    assert_int_equal(nfree + L->in_use, L->nents);
}

static char inputs[MAXT][8];
static char big[MP_INLINE_IN * 4];

static void run_step(mp__ledger *L, const step *s)
{
    size_t index;
    uint32_t id;
    mp__verdict v;
    int n = 0;
    switch (s->op) {
    case ADD:
        for (int i = 0; i < s->n; i++) {
            snprintf(inputs[added], sizeof(inputs[0]), "t%zu", added);
            id = mp__ledger_add(L, added, inputs[added], 8, i & 1);
            if (id == MP_NIL)
                break;
            assert_memory_equal(L->ents[id].data, inputs[added], 8);
            added++;
            mp__ledger_give(L, s->h, id);
            n++;
        }
        assert_int_equal(n, s->want);
        break;
    case ADDBIG:
        id = mp__ledger_add(L, added++, big, (uint32_t)s->n, 1);
        assert_int_not_equal(id, MP_NIL);
        assert_true(L->ents[id].owned);
        assert_ptr_not_equal(L->ents[id].data, big);
        mp__ledger_give(L, s->h, id);
        break;
    case ROOM:
        assert_int_equal(mp__ledger_room(L, s->h, (uint32_t)s->n), s->want);
        break;
    case DONE:
        id = kth(L, s->h, s->n);
        n = mp__ledger_result(L, s->h, id, &index);
        assert_int_equal(n, s->want);
        if (n == MP__R_DELIVER)
            deliver(index);
        break;
    case STRAY:
        assert_int_equal(mp__ledger_result(L, s->h, (uint32_t)s->n, &index),
                         MP__R_STRAY);
        break;
    case DIE: {
        uint32_t spin = s->n < 0 ? MP_NIL : kth(L, s->h, s->n);
        int first = 0;
        while (mp__ledger_reap(L, s->h, spin, &v)) {
            if (n++ == 0)
                first = v.status;
            deliver(v.index);
        }
        assert_int_equal(n, s->want);
        if (n)
            assert_int_equal(first, s->arg);
        assert_int_equal(mp__ledger_held(L, s->h), 0);
        break;
    }
    case RETRY:
        while ((id = mp__ledger_pop_retry(L)) != MP_NIL) {
            mp__ledger_give(L, s->h, id);
            n++;
        }
        assert_int_equal(n, s->want);
        break;
    case SOLO:
        id = mp__ledger_give_solo(L, s->h);
        assert_int_equal(id != MP_NIL, s->want);
        if (id != MP_NIL)
            assert_true(L->holders[s->h].solo_busy);
        break;
    case ABORT:
        while (mp__ledger_drop_queued(L, 0, 0, &index)) {
            deliver(index);
            n++;
        }
        for (int h = 0; h < L->nholders; h++) {
            uint32_t cur = mp__ledger_first(L, h);
            while (mp__ledger_orphan_next(L, &cur, 0, 0, &index)) {
                deliver(index);
                n++;
            }
        }
        assert_int_equal(n, s->want);
        break;
    case LOST:
        mp__ledger_return(L, s->h);
        assert_int_equal(mp__ledger_held(L, s->h), 0);
        break;
    case LOSE:
        while (mp__ledger_lose(L, s->h, &v)) {
            assert_int_equal(v.status, MP_EWORKER);
            assert_true(v.fs);
            deliver(v.index);
            n++;
        }
        assert_int_equal(n, s->want);
        assert_int_equal(mp__ledger_held(L, s->h), 0);
        break;
    case ALONE:
        id = mp__ledger_give_alone(L, s->h);
        assert_int_equal(id != MP_NIL, s->want);
        assert_int_equal(mp__ledger_quiet(L), s->n);
        break;
    case RESET:
        mp__ledger_holder_reset(L, s->h);
        break;
    case BACK:
        mp__ledger_take_back(L, s->h, (uint32_t)s->n);
        break;
    case FIRST:
        assert_int_not_equal(L->retry.head, MP_NIL);
        assert_int_equal(L->ents[L->retry.head].index, s->want);
        break;
    case CANCEL:
    case CANCELQ:
        id = s->op == CANCEL ? kth(L, s->h, s->n) : L->retry.head;
        deliver(L->ents[id].index);
        assert_int_equal(mp__ledger_cancel(L, id), s->want);
        break;
    case OWNER:
        while (mp__ledger_drop_queued(L, 1, (size_t)s->n, &index)) {
            assert_int_equal(index & 1, s->n);
            deliver(index);
            n++;
        }
        for (int h = 0; h < L->nholders; h++) {
            uint32_t cur = mp__ledger_first(L, h);
            while (mp__ledger_orphan_next(L, &cur, 1, (size_t)s->n, &index)) {
                assert_int_equal(index & 1, s->n);
                deliver(index);
                n++;
            }
        }
        assert_int_equal(n, s->want);
        break;
    case ORPHANS: {
        uint32_t cur = mp__ledger_first(L, s->h);
        while (mp__ledger_next_orphan(L, &cur) != MP_NIL)
            n++;
        assert_int_equal(n, s->want);
        break;
    }
    case UNTOLD:
        assert_int_equal(mp__ledger_take_untold(L, s->h), s->want);
        break;
    case COUNT:
        assert_int_equal(L->in_use, s->want);
        assert_int_equal(L->retry.n, s->n);
        assert_int_equal(L->solo.n, s->arg);
        break;
    }
}

static void run_case(void **state)
{
    const ledger_case *c = *state;
    mp__ledger L;
    memset(delivered, 0, sizeof(delivered));
    added = 0;
    assert_int_equal(mp__ledger_init(&L, c->holders, c->concurrency,
                                     c->prefetch, c->max_per_holder,
                                     c->max_attempts), 0);
    check_consistent(&L);
    for (const step *s = c->steps; s->op != END; s++) {
        run_step(&L, s);
        check_consistent(&L);
    }
    if (c->all_delivered) {
        for (size_t i = 0; i < added; i++)
            assert_int_equal(delivered[i], 1);
        assert_int_equal(L.in_use, 0);
    }
    mp__ledger_free(&L); /* frees the copies still held (ASan checks) */
}

static const ledger_case cases[] = {
    {"dispatch: credit, batching and a full ledger", 2, 2, 6, 0, 3, {
        {ROOM, 0, 8, 8},
        {ADD, 0, 7, 7},
        {ROOM, 0, 8, 0},     /* busy, 1 free < a quarter of 8 */
        {ROOM, 0, 2, 0},     /* spread: idle coroutines only */
        {DONE, 0, 0, MP__R_DELIVER},
        {ROOM, 0, 8, 2},     /* a quarter free: worth a batch */
        {ADD, 1, 11, 10},    /* the ledger holds 16: 6 + 10 */
        {ADD, 0, 1, 0},
        COUNTS(16, 0, 0),
        {END}}, 0},
    {"results: stray, wrong holder, every task once", 2, 2, 2, 0, 3, {
        {ADD, 0, 3, 3},
        {STRAY, 0, 100000},
        {STRAY, 1, 0},       /* entry 0 is holder 0's */
        {DONE, 0, 1, MP__R_DELIVER},
        {DONE, 0, 0, MP__R_DELIVER},
        {DONE, 0, 0, MP__R_DELIVER},
        {STRAY, 0, 0},       /* answered twice */
        COUNTS(0, 0, 0),
        {END}}, 1},
    {"death: the innocent go back as one batch", 2, 64, 64, 0, 3, {
        {ADD, 0, 64, 64},
        {DIE, 0, -1, 0},
        COUNTS(64, 64, 0), /* all in retry, none a suspect */
        {SOLO, 1, 0, 0},
        {RETRY, 1, 0, 64},
        {DIE, 1, -1, 0},     /* second death: one more would end them */
        COUNTS(64, 0, 64),
        {SOLO, 0, 0, 1},
        {SOLO, 0, 0, 0},        /* alone: one at a time */
        {DONE, 0, 0, MP__R_DELIVER},
        {SOLO, 0, 0, 1},
        {DIE, 0, -1, 1, MP_EWORKER}, /* third death of a suspect: ends */
        COUNTS(62, 0, 62),
        {END}}, 0},
    {"re-run: one attempt ends at the first death", 1, 2, 2, 0, 1, {
        {ADD, 0, 3, 3},
        {DIE, 0, -1, 3, MP_EWORKER},
        COUNTS(0, 0, 0),
        {END}}, 1},
    {"re-run: a spinning task ends, the others keep their tries", 1, 4, 0,
     0, 2, {
        {ADD, 0, 3, 3},
        {DIE, 0, 1, 1, MP_ETIMEDOUT},
        COUNTS(2, 2, 0), /* deaths not counted: retry, not solo */
        {RETRY, 0, 0, 2},
        {DIE, 0, -1, 0},     /* first real death: now suspects */
        COUNTS(2, 0, 2),
        {SOLO, 0, 0, 1},
        {DIE, 0, -1, 1, MP_EWORKER},
        {SOLO, 0, 0, 1},
        {DONE, 0, 0, MP__R_DELIVER},
        {END}}, 1},
    {"recycle: a worker gets max_per_holder tasks, then a new one",
     1, 4, 4, 5, 3, {
        {ROOM, 0, 8, 5},
        {ADD, 0, 5, 5},
        {DONE, 0, 0, MP__R_DELIVER},
        {DONE, 0, 0, MP__R_DELIVER},
        {ROOM, 0, 8, 0},     /* 5 given: nothing more */
        {DONE, 0, 0, MP__R_DELIVER},
        {DONE, 0, 0, MP__R_DELIVER},
        {DONE, 0, 0, MP__R_DELIVER},
        {RESET, 0},
        {ROOM, 0, 8, 5},
        {ADD, 0, 2, 2},
        {DONE, 0, 1, MP__R_DELIVER},
        {DONE, 0, 0, MP__R_DELIVER},
        {END}}, 1},
    {"cancel: queued tasks end, held ones become orphans", 2, 4, 4, 0, 3, {
        {ADD, 0, 3, 3},
        {ADD, 1, 4, 4},
        {ADDBIG, 1, 3 * MP_INLINE_IN},
        {DIE, 0, -1, 0},     /* three queued for a retry */
        {ABORT, 0, 0, 8},    /* 3 queued + 5 held */
        COUNTS(5, 0, 0),
        {DONE, 1, 0, MP__R_LATE},
        {DONE, 1, 0, MP__R_LATE},
        {ABORT, 0, 0, 0},    /* nothing left to end */
        {DIE, 1, -1, 0},     /* orphans of a dead worker just go */
        COUNTS(0, 0, 0),
        {END}}, 1},
    {"send failure: tasks go back first, in order, with no death", 2, 4,
     4, 0, 3, {
        {ADD, 0, 3, 3},      /* tasks 0-2 */
        {DIE, 0, -1, 0},     /* 0-2 wait in retry */
        {ADD, 1, 4, 4},      /* tasks 3-6, the last batch of holder 1 */
        {BACK, 1, 2},        /* 5 and 6 never left */
        COUNTS(7, 5, 0),
        FIRST(5),            /* before the older retries: they were next */
        {ROOM, 1, 8, 6},     /* credit and the recycling count restored */
        {RETRY, 1, 0, 5},
        {DIE, 1, -1, 0},     /* 3-6 have 1 death now, 0-2 have 2 */
        COUNTS(7, 4, 3),
        {SOLO, 0, 0, 1},
        {BACK, 0, 1},        /* a suspect's failed send: back, h0 free */
        COUNTS(7, 4, 3),
        {SOLO, 0, 0, 1},
        {ABORT, 0, 0, 7},
        {BACK, 0, 1},        /* an orphan taken back is just freed */
        COUNTS(0, 0, 0),
        {END}}, 1},
    {"lost forkserver: tasks go back with no death counted", 2, 4, 4, 0, 2, {
        {ADD, 0, 3, 3},
        {ADD, 1, 2, 2},
        {DONE, 1, 0, MP__R_DELIVER},
        {LOST, 0},
        {LOST, 1},
        COUNTS(4, 4, 0),     /* all in retry, none a suspect */
        {RETRY, 0, 0, 4},
        {LOST, 0},           /* again: still innocent */
        COUNTS(4, 4, 0),
        {RETRY, 1, 0, 4},
        {DIE, 1, -1, 0},     /* a real death counts: suspects now */
        COUNTS(4, 0, 4),
        {SOLO, 0, 0, 1},
        {ABORT, 0, 0, 4},    /* 3 queued + the held suspect, an orphan */
        {LOST, 0},           /* the orphan just goes */
        COUNTS(0, 0, 0),
        {END}}, 1},
    {"forkserver losses: suspects run alone in the pool, the last ends",
     2, 4, 4, 0, 3, {
        {ADD, 0, 2, 2},      /* tasks 0-1 */
        {ADD, 1, 2, 2},      /* tasks 2-3 */
        {LOSE, 0, 0, 0},
        {LOSE, 1, 0, 0},     /* one loss each: back in retry */
        COUNTS(4, 4, 0),
        {RETRY, 0, 0, 4},
        {DONE, 0, 3, MP__R_DELIVER}, /* task 3 got through */
        {LOSE, 0, 0, 0},     /* a second loss: 0-2 must run alone now */
        COUNTS(3, 0, 0),
        {ALONE, 1, 1, 1},    /* nothing held: one goes; quiet */
        {ALONE, 0, 1, 0},    /* only one at a time */
        {DONE, 1, 0, MP__R_DELIVER},
        {ADD, 1, 1, 1},      /* task 4 (the caller checks quiet) */
        {ALONE, 0, 1, 0},    /* holder 1 holds one: not alone */
        {DONE, 1, 0, MP__R_DELIVER},
        {ALONE, 0, 1, 1},
        {LOSE, 0, 0, 1},     /* its third loss, alone: it ends */
        {ALONE, 1, 1, 1},    /* the last suspect */
        {DONE, 1, 0, MP__R_DELIVER},
        {ALONE, 0, 0, 0},
        COUNTS(0, 0, 0),
        {END}}, 1},
    {"one task taken back, and the tasks of one owner (index & 1) only", 2,
     4, 4, 0, 3, {
        {ADD, 0, 4, 4},      /* tasks 0-3 */
        {ADD, 1, 4, 4},      /* tasks 4-7 */
        {UNTOLD, 0, 0, 0},
        {CANCEL, 0, 1, 0},   /* task 1, held by 0: an orphan */
        {UNTOLD, 0, 0, 1},   /* 0 is to be told, once */
        {UNTOLD, 0, 0, 0},
        {UNTOLD, 1, 0, 0},
        {ORPHANS, 0, 0, 1},
        {DONE, 0, 1, MP__R_LATE},
        {DIE, 1, -1, 0},     /* 4-7 wait in retry */
        COUNTS(7, 4, 0),
        {CANCELQ, 0, 0, -1}, /* task 4, queued: freed */
        {UNTOLD, 0, 0, 0},   /* nobody held it */
        COUNTS(6, 3, 0),
        {OWNER, 0, 1, 3},    /* odd: 5 and 7 queued, 3 held */
        {UNTOLD, 0, 0, 1},   /* 3 */
        {UNTOLD, 1, 0, 0},
        COUNTS(4, 1, 0),     /* 0, 2, the orphan 3; 6 queued */
        {ORPHANS, 0, 0, 1},
        {OWNER, 0, 0, 3},    /* even: 6 queued, 0 and 2 held */
        {DONE, 0, 0, MP__R_LATE},
        {DIE, 0, -1, 0},     /* orphans only: no verdict */
        COUNTS(0, 0, 0),
        {END}}, 1},
    {"cancel: a copied input still held is freed with the ledger", 1, 2, 2,
     0, 3, {
        {ADDBIG, 0, 2 * MP_INLINE_IN},
        {ADD, 0, 1, 1},
        {END}}, 0},
};

/* Widening the window (the adaptive credit) grows the entries: ids stay
   valid, copies kept inline move along with their contents, held and
   staged entries stay where they were, the new entries are free; it stops
   at max_window, and narrowing gives the first credit back. */
static void widen_keeps_entries(void **state)
{
    mp__ledger L;
    assert_int_equal(mp__ledger_init(&L, 2, 2, 2, 0, 3), 0);
    mp__ledger_set_max_window(&L, 16);
    char in[8][16];
    uint32_t ids[8];
    for (int i = 0; i < 8; i++) { /* fills it: 2 holders x 4 */
        snprintf(in[i], sizeof(in[i]), "input %d", i);
        ids[i] = mp__ledger_add(&L, (size_t)i, in[i], sizeof(in[i]), 1);
        assert_int_not_equal(ids[i], MP_NIL);
        if (i < 4)
            mp__ledger_give(&L, i % 2, ids[i]);
        else
            mp__ledger_stage(&L, ids[i]);
    }
    assert_true(mp__ledger_full(&L));
    assert_int_equal(mp__ledger_widen(&L), 1);
    assert_int_equal(L.window, 8);
    assert_false(mp__ledger_full(&L));
    for (int i = 0; i < 8; i++)
        assert_string_equal((const char *)L.ents[ids[i]].data, in[i]);
    assert_int_equal(mp__ledger_held(&L, 0), 2);
    assert_int_equal(L.staged.n, 4);
    assert_int_equal(mp__ledger_room(&L, 0, L.window), 6);
    int extra = 0;
    while (mp__ledger_add(&L, 100, in[0], 4, 1) != MP_NIL)
        extra++;
    assert_int_equal(extra, 8); /* 2 x 8 in all */
    assert_int_equal(mp__ledger_widen(&L), 1);
    assert_int_equal(mp__ledger_widen(&L), 0); /* at max_window */
    assert_int_equal(L.window, 16);
    for (int i = 0; i < 8; i++)
        assert_string_equal((const char *)L.ents[ids[i]].data, in[i]);
    assert_int_equal(mp__ledger_pop_staged(&L), ids[4]);
    mp__ledger_narrow(&L);
    assert_int_equal(L.window, 4);
    mp__ledger_free(&L);
}

int main(void)
{
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    struct CMUnitTest tests[N + 1];
    for (size_t i = 0; i < N; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL,
                                       (void *)&cases[i]};
    tests[N] = (struct CMUnitTest)cmocka_unit_test(widen_keeps_entries);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
