/*
 * mp-testserver's coded bodies (coded.c), two of the routes in routes.c's
 * table.
 */
#ifndef TS_CODED_H
#define TS_CODED_H

#include "testserver.h"

/* /encode/LIST: a text body with LIST's codings applied in order. */
ts_handler_fn ts_encode_route;

/* /gzip-bomb-gib/GIB: gzip decoding to GIB GiB of zeros (<= 16). */
ts_handler_fn ts_gzip_bomb_gib;

/* Frees the bomb's segment. */
void ts_coded_free(void);

#endif /* TS_CODED_H */
