/*
 * mp-testserver's routes (routes.c): every endpoint but /stats, as a table
 * for the core (struct ts_service's routes). main.c hands them over.
 */
#ifndef TS_ROUTES_H
#define TS_ROUTES_H

#include <stddef.h>

#include "testserver.h"

extern const struct ts_route ts_routes[];
extern const size_t ts_nroutes;

/* One line per route for --help. */
extern const char ts_routes_help[];

/* Builds what the routes serve (the /gzip body). The function returns 0,
 * or -1 after saying what failed. */
int ts_routes_init(void);

/* Frees what ts_routes_init and the routes built. */
void ts_routes_free(void);

#endif /* TS_ROUTES_H */
