/* The ledger of tasks: see ledger.h. No I/O. */
#include "pool/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "mpool.h"

/* Appends entry id to list l. */
static void list_push(mp__ledger *L, mp__idlist *l, uint32_t id)
{
    mp__entry *e = &L->ents[id];
    e->next = MP_NIL;
    e->prev = l->tail;
    if (l->tail != MP_NIL)
        L->ents[l->tail].next = id;
    else
        l->head = id;
    l->tail = id;
    l->n++;
}

/* Removes entry id, which must be in list l, from it. */
static void list_unlink(mp__ledger *L, mp__idlist *l, uint32_t id)
{
    mp__entry *e = &L->ents[id];
    if (e->prev != MP_NIL)
        L->ents[e->prev].next = e->next;
    else
        l->head = e->next;
    if (e->next != MP_NIL)
        L->ents[e->next].prev = e->prev;
    else
        l->tail = e->prev;
    l->n--;
}

/* Puts entry id at the front of list l. */
static void list_push_front(mp__ledger *L, mp__idlist *l, uint32_t id)
{
    mp__entry *e = &L->ents[id];
    e->prev = MP_NIL;
    e->next = l->head;
    if (l->head != MP_NIL)
        L->ents[l->head].prev = id;
    else
        l->tail = id;
    l->head = id;
    l->n++;
}

/* Removes the head of l. Returns it, or MP_NIL if l is empty. */
static uint32_t list_pop(mp__ledger *L, mp__idlist *l)
{
    uint32_t id = l->head;
    if (id != MP_NIL)
        list_unlink(L, l, id);
    return id;
}

static const mp__idlist empty_list = {MP_NIL, MP_NIL, 0};

int mp__ledger_init(mp__ledger *L, int nholders, uint32_t concurrency,
                    uint32_t prefetch, uint64_t max_per_holder,
                    unsigned max_attempts)
{
    memset(L, 0, sizeof(*L));
    L->nholders = nholders;
    L->concurrency = concurrency;
    L->capacity = L->window = L->max_window = concurrency + prefetch;
    L->max_per_holder = max_per_holder;
    L->max_attempts = max_attempts;
    L->nents = (uint32_t)nholders * L->capacity;
    L->ents = calloc(L->nents, sizeof(*L->ents));
    L->holders = calloc((size_t)nholders, sizeof(*L->holders));
    L->inline_in = malloc((size_t)L->nents * MP_INLINE_IN);
    if (!L->ents || !L->holders || !L->inline_in)
        return MP_ENOMEM;
    for (uint32_t i = 0; i < L->nents; i++)
        L->ents[i].next = i + 1 < L->nents ? i + 1 : MP_NIL;
    L->free_head = L->nents ? 0 : MP_NIL;
    L->retry = L->solo = L->alone = L->staged = empty_list;
    for (int h = 0; h < nholders; h++)
        L->holders[h].held = empty_list;
    return 0;
}

void mp__ledger_free(mp__ledger *L)
{
    for (uint32_t i = 0; L->ents && i < L->nents; i++)
        if (L->ents[i].state != MP__E_FREE && L->ents[i].owned)
            free((void *)L->ents[i].data);
    free(L->ents);
    free(L->holders);
    free(L->inline_in);
    memset(L, 0, sizeof(*L));
}

int mp__ledger_full(const mp__ledger *L)
{
    return L->free_head == MP_NIL;
}

/* Puts entry id back on the free list, with its copy freed. */
static void entry_free(mp__ledger *L, uint32_t id)
{
    mp__entry *e = &L->ents[id];
    if (e->owned)
        free((void *)e->data);
    e->data = NULL;
    e->owned = 0;
    e->state = MP__E_FREE;
    e->next = L->free_head;
    L->free_head = id;
    L->in_use--;
}

uint32_t mp__ledger_add(mp__ledger *L, size_t index, const void *data,
                        uint32_t len, int copy)
{
    uint32_t id = L->free_head;
    if (id == MP_NIL)
        return MP_NIL;
    mp__entry *e = &L->ents[id];
    L->free_head = e->next;
    memset(e, 0, sizeof(*e));
    e->next = e->prev = MP_NIL;
    e->slot = -1;
    e->state = MP__E_QUEUED;
    e->index = index;
    e->len = len;
    e->data = data;
    if (copy && len) { /* kept for a re-run if the worker dies */
        void *c = len <= MP_INLINE_IN
                      ? L->inline_in + (size_t)id * MP_INLINE_IN
                      : malloc(len);
        if (!c)
            abort();
        memcpy(c, data, len);
        e->data = c;
        e->owned = len > MP_INLINE_IN;
    }
    if (++L->in_use > L->max_in_use)
        L->max_in_use = L->in_use;
    return id;
}

uint32_t mp__ledger_pop_retry(mp__ledger *L)
{
    return list_pop(L, &L->retry);
}

void mp__ledger_stage(mp__ledger *L, uint32_t id)
{
    L->ents[id].staged = 1;
    list_push(L, &L->staged, id);
}

uint32_t mp__ledger_pop_staged(mp__ledger *L)
{
    uint32_t id = list_pop(L, &L->staged);
    if (id != MP_NIL)
        L->ents[id].staged = 0;
    return id;
}

int mp__ledger_widen(mp__ledger *L)
{
    if (L->window >= L->max_window)
        return 0;
    uint32_t w = L->window * 2 < L->max_window ? L->window * 2
                                               : L->max_window;
    uint32_t n = (uint32_t)L->nholders * w;
    if (n > L->nents) {
        mp__entry *ents = realloc(L->ents, (size_t)n * sizeof(*ents));
        if (!ents)
            return MP_ENOMEM;
        L->ents = ents;
        char *in = malloc((size_t)n * MP_INLINE_IN);
        if (!in)
            return MP_ENOMEM; /* the entries are bigger, unused */
        uintptr_t lo = (uintptr_t)L->inline_in,
                  hi = lo + (uintptr_t)L->nents * MP_INLINE_IN;
        for (uint32_t i = 0; i < L->nents; i++) { /* copies move along */
            mp__entry *e = &ents[i];
            uintptr_t d = (uintptr_t)e->data;
            if (e->state != MP__E_FREE && !e->owned && d >= lo && d < hi) {
                memcpy(in + (d - lo), e->data, e->len);
                e->data = in + (d - lo);
            }
        }
        free(L->inline_in);
        L->inline_in = in;
        for (uint32_t i = L->nents; i < n; i++) {
            memset(&ents[i], 0, sizeof(ents[i]));
            ents[i].next = i + 1 < n ? i + 1 : L->free_head;
        }
        L->free_head = L->nents;
        L->nents = n;
    }
    L->window = w;
    return 1;
}

void mp__ledger_set_max_window(mp__ledger *L, uint32_t most)
{
    L->max_window = most > L->capacity ? most : L->capacity;
}

void mp__ledger_narrow(mp__ledger *L)
{
    L->window = L->capacity;
}

uint32_t mp__ledger_room(const mp__ledger *L, int h, uint32_t cap)
{
    const mp__holder *ho = &L->holders[h];
    if (ho->held.n >= cap)
        return 0;
    uint32_t r = cap - ho->held.n;
    uint32_t quarter = L->window / 4 ? L->window / 4 : 1;
    /* A busy worker waits for a quarter of its credit: fewer, bigger
       batches. An idle coroutine is fed at once. */
    if (ho->held.n >= L->concurrency && r < quarter)
        return 0;
    if (L->max_per_holder) {
        uint64_t left = L->max_per_holder > ho->given
                            ? L->max_per_holder - ho->given : 0;
        if (left < r)
            r = (uint32_t)left;
    }
    return r;
}

void mp__ledger_give(mp__ledger *L, int h, uint32_t id)
{
    mp__entry *e = &L->ents[id];
    mp__holder *ho = &L->holders[h];
    e->slot = h;
    e->state = MP__E_SENT;
    e->staged = 0;
    list_push(L, &ho->held, id);
    ho->given++;
}

/* The queue entry id waits in when it is queued: the alone one, the
   suspects' or the retry queue. */
static mp__idlist *queue_of(mp__ledger *L, const mp__entry *e)
{
    return e->alone    ? &L->alone
           : e->solo   ? &L->solo
           : e->staged ? &L->staged
                       : &L->retry;
}

/* Entry e leaves holder h (a result, a death, a take-back): h and the
   pool are free of it if it ran alone. */
static void leave_holder(mp__ledger *L, int h, const mp__entry *e)
{
    if (e->solo || e->alone)
        L->holders[h].solo_busy = 0;
    if (e->alone)
        L->alone_busy = 0;
}

uint32_t mp__ledger_give_alone(mp__ledger *L, int h)
{
    if (!L->alone.n || L->alone_busy)
        return MP_NIL;
    for (int k = 0; k < L->nholders; k++)
        if (L->holders[k].held.n)
            return MP_NIL;
    uint32_t id = list_pop(L, &L->alone);
    mp__ledger_give(L, h, id);
    L->holders[h].solo_busy = 1;
    L->alone_busy = 1;
    L->solo_given++;
    return id;
}

int mp__ledger_quiet(const mp__ledger *L)
{
    return L->alone.n || L->alone_busy;
}

uint32_t mp__ledger_give_solo(mp__ledger *L, int h)
{
    if (!L->solo.n || L->holders[h].held.n)
        return MP_NIL;
    uint32_t id = list_pop(L, &L->solo);
    mp__ledger_give(L, h, id);
    L->holders[h].solo_busy = 1;
    L->solo_given++;
    return id;
}

int mp__ledger_result(mp__ledger *L, int h, uint32_t id, size_t *index)
{
    if (id >= L->nents)
        return MP__R_STRAY;
    mp__entry *e = &L->ents[id];
    if (e->slot != h ||
        (e->state != MP__E_SENT && e->state != MP__E_ORPHAN))
        return MP__R_STRAY;
    list_unlink(L, &L->holders[h].held, id);
    leave_holder(L, h, e);
    int r = e->state == MP__E_SENT ? MP__R_DELIVER : MP__R_LATE;
    *index = e->index;
    entry_free(L, id);
    return r;
}

/* Puts entry id, taken from a holder, back in its queue: the suspects'
   when it is one, the retry queue otherwise. */
static void requeue(mp__ledger *L, uint32_t id)
{
    mp__entry *e = &L->ents[id];
    e->slot = -1;
    e->state = MP__E_QUEUED;
    list_push(L, queue_of(L, e), id);
    L->requeued++;
}

/* Decides the fate of entry id, popped from a dead holder's list: fills v
   and frees it when it ends, queues it again otherwise. Returns 1 when v
   must be delivered. */
static int judge(mp__ledger *L, uint32_t id, uint32_t spin_id,
                 mp__verdict *v)
{
    mp__entry *e = &L->ents[id];
    unsigned max = L->max_attempts;
    if (e->state == MP__E_ORPHAN) {
        entry_free(L, id);
        return 0;
    }
    if (spin_id == id) {
        *v = (mp__verdict){e->index, MP_ETIMEDOUT, e->deaths, 0};
        entry_free(L, id);
        return 1;
    }
    if (spin_id == MP_NIL) /* a spinning task's worker died of it alone */
        e->deaths++;
    if (e->deaths >= max && (e->solo || e->alone || max <= 1)) {
        *v = (mp__verdict){e->index, MP_EWORKER, e->deaths, 0};
        entry_free(L, id);
        return 1;
    }
    if ((unsigned)e->deaths + 1u >= max)
        e->solo = 1;
    requeue(L, id);
    return 0;
}

int mp__ledger_reap(mp__ledger *L, int h, uint32_t spin_id, mp__verdict *v)
{
    uint32_t id;
    while ((id = list_pop(L, &L->holders[h].held)) != MP_NIL) {
        leave_holder(L, h, &L->ents[id]);
        if (judge(L, id, spin_id, v))
            return 1;
    }
    return 0;
}

/* Decides the fate of entry id, popped from a holder lost with its
   forkserver (see mp__ledger_lose). Returns 1 when v must be delivered. */
static int judge_loss(mp__ledger *L, uint32_t id, mp__verdict *v)
{
    mp__entry *e = &L->ents[id];
    unsigned max = L->max_attempts;
    if (e->state == MP__E_ORPHAN) {
        entry_free(L, id);
        return 0;
    }
    if (e->losses < UINT8_MAX)
        e->losses++;
    if (e->losses >= max && (e->alone || max <= 1)) {
        *v = (mp__verdict){e->index, MP_EWORKER, e->losses, 1};
        entry_free(L, id);
        return 1;
    }
    if ((unsigned)e->losses + 1u >= max)
        e->alone = 1;
    requeue(L, id);
    return 0;
}

int mp__ledger_lose(mp__ledger *L, int h, mp__verdict *v)
{
    uint32_t id;
    while ((id = list_pop(L, &L->holders[h].held)) != MP_NIL) {
        leave_holder(L, h, &L->ents[id]);
        if (judge_loss(L, id, v))
            return 1;
    }
    return 0;
}

void mp__ledger_take_back(mp__ledger *L, int h, uint32_t n)
{
    mp__holder *ho = &L->holders[h];
    while (n-- && ho->held.tail != MP_NIL) {
        uint32_t id = ho->held.tail;
        mp__entry *e = &L->ents[id];
        list_unlink(L, &ho->held, id);
        ho->given--;
        leave_holder(L, h, e);
        if (e->state == MP__E_ORPHAN) { /* its call ended meanwhile */
            entry_free(L, id);
            continue;
        }
        e->slot = -1;
        e->state = MP__E_QUEUED;
        list_push_front(L, queue_of(L, e), id);
    }
}

void mp__ledger_return(mp__ledger *L, int h)
{
    uint32_t id;
    while ((id = list_pop(L, &L->holders[h].held)) != MP_NIL) {
        leave_holder(L, h, &L->ents[id]);
        if (L->ents[id].state == MP__E_ORPHAN)
            entry_free(L, id);
        else
            requeue(L, id);
    }
}

/* The first entry of list l from id on whose index matches. */
static uint32_t find_match(const mp__ledger *L, uint32_t id, size_t mask,
                           size_t match)
{
    while (id != MP_NIL && (L->ents[id].index & mask) != match)
        id = L->ents[id].next;
    return id;
}

int mp__ledger_drop_queued(mp__ledger *L, size_t mask, size_t match,
                           size_t *index)
{
    mp__idlist *l = &L->retry;
    uint32_t id = find_match(L, l->head, mask, match);
    if (id == MP_NIL)
        id = find_match(L, (l = &L->staged)->head, mask, match);
    if (id == MP_NIL)
        id = find_match(L, (l = &L->solo)->head, mask, match);
    if (id == MP_NIL)
        id = find_match(L, (l = &L->alone)->head, mask, match);
    if (id == MP_NIL)
        return 0;
    list_unlink(L, l, id);
    *index = L->ents[id].index;
    entry_free(L, id);
    return 1;
}

int mp__ledger_cancel(mp__ledger *L, uint32_t id)
{
    mp__entry *e = &L->ents[id];
    if (e->state == MP__E_SENT) {
        e->state = MP__E_ORPHAN;
        L->holders[e->slot].untold = 1;
        return e->slot;
    }
    if (e->state == MP__E_QUEUED) {
        list_unlink(L, queue_of(L, e), id);
        entry_free(L, id);
    }
    return -1;
}

uint32_t mp__ledger_held(const mp__ledger *L, int h)
{
    return L->holders[h].held.n;
}

uint32_t mp__ledger_first(const mp__ledger *L, int h)
{
    return L->holders[h].held.head;
}

int mp__ledger_orphan_next(mp__ledger *L, uint32_t *cursor, size_t mask,
                           size_t match, size_t *index)
{
    while (*cursor != MP_NIL) {
        mp__entry *e = &L->ents[*cursor];
        *cursor = e->next;
        if (e->state != MP__E_SENT || (e->index & mask) != match)
            continue;
        e->state = MP__E_ORPHAN;
        L->holders[e->slot].untold = 1;
        *index = e->index;
        return 1;
    }
    return 0;
}

int mp__ledger_take_untold(mp__ledger *L, int h)
{
    int untold = L->holders[h].untold;
    L->holders[h].untold = 0;
    return untold;
}

uint32_t mp__ledger_next_orphan(const mp__ledger *L, uint32_t *cursor)
{
    while (*cursor != MP_NIL) {
        uint32_t id = *cursor;
        *cursor = L->ents[id].next;
        if (L->ents[id].state == MP__E_ORPHAN)
            return id;
    }
    return MP_NIL;
}

void mp__ledger_holder_reset(mp__ledger *L, int h)
{
    mp__holder *ho = &L->holders[h];
    ho->held = empty_list;
    ho->given = 0;
    ho->solo_busy = 0;
    ho->untold = 0;
}
