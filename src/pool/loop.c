/* The pool's loop and its one driver (loop.h). */
#include <event2/event.h>

#include "common/clock.h"
#include "mpool.h"
#include "pool/loop.h"

int mp__loop_init(mp__loop *l)
{
    l->base = l->own = event_base_new();
    return l->base ? 0 : MP_ESYS;
}

void mp__loop_free(mp__loop *l)
{
    if (l->own)
        event_base_free(l->own);
    l->own = l->base = NULL;
}

void mp__loop_attach(mp__loop *l, struct event_base *base)
{
    l->base = base;
    l->attached = 1;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

int mp__loop_run(mp__loop *l, mp__loop_until_fn until, void *ud,
                 unsigned timeout_ms)
{
    if (l->attached)
        return MP_EATTACHED;
    if (l->driving)
        return MP_EINVAL;
    int timed_out = 0, rc = 0, stop;
    struct event *t = NULL;
    if (timeout_ms) {
        struct timeval tv = mp__ms_tv(timeout_ms);
        if (!(t = evtimer_new(l->base, on_timeout, &timed_out)))
            return MP_ENOMEM;
        evtimer_add(t, &tv);
    }
    l->driving = 1;
    for (int first = 1; !(stop = until(ud, first)) && !timed_out; first = 0)
        if (event_base_loop(l->base, EVLOOP_ONCE) < 0) {
            rc = MP_ESYS;
            break;
        }
    l->driving = 0;
    if (t)
        event_free(t);
    return stop ? 0 : rc ? rc : MP_ETIMEDOUT;
}
