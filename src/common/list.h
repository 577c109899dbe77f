/*
 * An intrusive doubly-linked list, the one the project uses everywhere a
 * structure sits on a list it does not own (libuv's queue.h, nng's list.h):
 * the node lives inside the element, the list head is a sentinel node, so
 * insert and remove are O(1) with no allocation and no branch on "first" or
 * "last". A node that is on no list has next == NULL (mp__list_linked).
 *
 *     struct job { int id; mp__list_node link; };
 *     mp__list jobs;                 mp__list_init(&jobs);
 *     mp__list_push_back(&jobs, &j->link);
 *     MP__LIST_EACH(n, &jobs) { struct job *j = MP__LIST_ENTRY(n, struct job, link); }
 *     mp__list_remove(&j->link);
 *
 * Header only; no locking (every list lives in one process's one loop).
 * Not for lists kept in arrays that move (src/pool/ledger.c links by index).
 */
#ifndef MP_COMMON_LIST_H
#define MP_COMMON_LIST_H

#include <stddef.h>

typedef struct mp__list_node {
    struct mp__list_node *next, *prev;
} mp__list_node;

/* A list: its sentinel. Empty when the sentinel points at itself. */
typedef mp__list_node mp__list;

/* The element of type `type` whose member `field` is the node n. */
#define MP__LIST_ENTRY(n, type, field) \
    ((type *)(void *)((char *)(n) - offsetof(type, field)))

/* Walks l front to back with n; the body may remove n (and only n). */
#define MP__LIST_EACH(n, l)                                              \
    for (mp__list_node *n = (l)->next, *n##_next_ = n->next; n != (l);   \
         n = n##_next_, n##_next_ = n->next)

static inline void mp__list_init(mp__list *l)
{
    l->next = l->prev = l;
}

static inline int mp__list_empty(const mp__list *l)
{
    return l->next == l;
}

/* 1 when n is on a list (it has been inserted and not removed). */
static inline int mp__list_linked(const mp__list_node *n)
{
    return n->next != NULL;
}

/* The first node, or NULL when l is empty. */
static inline mp__list_node *mp__list_first(const mp__list *l)
{
    return l->next == l ? NULL : l->next;
}

/* The last node, or NULL when l is empty. */
static inline mp__list_node *mp__list_last(const mp__list *l)
{
    return l->prev == l ? NULL : l->prev;
}

static inline void mp__list_insert_before(mp__list_node *at,
                                          mp__list_node *n)
{
    n->next = at;
    n->prev = at->prev;
    at->prev->next = n;
    at->prev = n;
}

static inline void mp__list_push_back(mp__list *l, mp__list_node *n)
{
    mp__list_insert_before(l, n);
}

static inline void mp__list_push_front(mp__list *l, mp__list_node *n)
{
    mp__list_insert_before(l->next, n);
}

/* Takes n off its list; n must be linked. Leaves n unlinked. */
static inline void mp__list_remove(mp__list_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

/* Removes and returns the first node, or NULL when l is empty. */
static inline mp__list_node *mp__list_pop_front(mp__list *l)
{
    mp__list_node *n = mp__list_first(l);
    if (n)
        mp__list_remove(n);
    return n;
}

#endif
