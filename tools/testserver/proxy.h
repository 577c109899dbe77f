/*
 * mp-testserver --proxy (proxy.c): a forward proxy instead of the routes,
 * on the core's listening socket (main.c starts it through struct
 * ts_service's start and stop).
 */
#ifndef TS_PROXY_H
#define TS_PROXY_H

#include "common/list.h"

struct event_base;
struct evconnlistener;

struct ts_proxy {
    struct evconnlistener *listener;
    char *auth_b64; /* --proxy-auth, base64; NULL: none asked */
    mp__list conns; /* open connections (struct px_conn's link) */
};

/* Serves the forward proxy on the listening socket *lfd (which becomes
 * the listener's: *lfd = -1); auth is "USER:PASS" or NULL. The function
 * returns 0, or -1 after saying what failed. */
int ts_proxy_init(struct ts_proxy *px, struct event_base *base, int *lfd,
                  const char *auth);

/* Closes the listener and every connection still open. */
void ts_proxy_free(struct ts_proxy *px);

#endif /* TS_PROXY_H */
