/*
 * HTTP/2 for the native engine (http_native_h2.c, the one file that talks
 * to libnghttp2): a connection whose server chose h2 (ALPN) becomes an h2
 * connection, one nghttp2 client session carrying many transfers as
 * streams, on the connection's own event (http_native.c's callback passes
 * its events on). Its host keeps its h2 connections with a free stream
 * slot in h2free; a transfer takes the first, O(1).
 *
 * A transfer ends here as in http_native.c (state MP__NX_DONE, its error
 * in resp, its task woken from the event loop, never from inside
 * nghttp2), or with h2_retry set and no error: nothing of it was
 * answered (a GOAWAY or REFUSED_STREAM refused it), and its task starts
 * it again once, on a new connection.
 */
#ifndef MP_HTTP_NATIVE_H2_H
#define MP_HTTP_NATIVE_H2_H

#include "http/native/http_native_pool.h"
#include "http/native/http_native_xfer.h"

/* Makes c (TLS done, ALPN h2, no transfer on it) an h2 connection: its
   session, our SETTINGS queued. Returns 0, or -1 (out of memory: c is
   unchanged, the caller frees it). */
int mp__h2_attach(mp__native_pool *s, mp__nconn *c);

/* Starts x as a stream on the h2 connection c (from h2free, or just
   attached). Returns 0 (x runs; its task suspends), or -1 if x ended at
   once (x->resp says why). */
int mp__h2_submit(mp__nconn *c, mp__native_xfer *x);

/* The h2 connection c's event fired (what: EV_READ / EV_WRITE): reads,
   writes, ends streams and wakes their tasks. c may be freed. */
void mp__h2_io(mp__nconn *c, short what);

/* Closes the h2 connection c, which has no stream (the connection
   limits want its place), and frees it. */
void mp__h2_close_spare(mp__nconn *c);

/* Takes x, a stream not ended, off its connection (RST_STREAM CANCEL;
   the connection stays): its task was canceled or passed its deadline,
   and x is not touched afterwards. */
void mp__h2_cancel(mp__native_xfer *x);

#endif
