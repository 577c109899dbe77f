/*
 * One transfer of the native engine (struct mp__native_xfer, on the
 * task's coroutine stack): the contract between its HTTP/1.1 side
 * (http_native.c, which starts every transfer and finishes it, and
 * http_native_redir.c, which sets each hop up) and its HTTP/2 side
 * (http_native_h2.c, which carries it as a stream once a connection
 * chose h2). No .c owns this header; its connection and host are
 * http_native_conn.h's, its response reader (r) is written only through
 * http_native_resp.h's functions.
 */
#ifndef MP_HTTP_NATIVE_XFER_H
#define MP_HTTP_NATIVE_XFER_H

#include <stdint.h>

#include "common/list.h"
#include "dns/http_dns.h"
#include "http/native/http_native_conn.h"
#include "http/native/http_native_proxy.h"
#include "http/native/http_native_resp.h"
#include "http/tls/http_tls.h"
#include "http/shared/http_int.h"

/* mp__native_xfer.state. CANCELED: the task's deadline or cancel undid
   it (xfer_cancel): on no list, holding nothing. */
enum { MP__NX_WAIT, MP__NX_CONNECT, MP__NX_TLS, MP__NX_SEND, MP__NX_RECV,
       MP__NX_H2, MP__NX_QUEUE, MP__NX_TUNNEL, MP__NX_DONE,
       MP__NX_CANCELED };

/* One transfer, on the task's coroutine stack. */
typedef struct mp__native_xfer {
    mp_task *task;
    const mp_http_request *req;  /* what this hop sends */
    const mp_http_request *orig; /* as given: its method and URL name the
                                    transfer in messages, as curl's */
    mp_http_response *resp;
    mp__nconn *c; /* HTTP/1.1 (or a connection still handshaking) */
    int state, suspended, reused, retried;
    size_t wlen, wsent;
    mp__native_resp r; /* the response being read (http_native_resp.c) */
    mp__tls_ctx *tls; /* https: the request's context */
    uint64_t t0, t_conn, t_tls, t_first; /* t0: the first hop's start */
    uint64_t hop0;                       /* this hop's start */
    mp__http_url u;      /* the URL's host, port and target */
    mp__nhost *h;        /* its host in the pool, once looked up (xhost) */
    char name[256];      /* the host without brackets, NUL-terminated */
    mp__dns_addrs addrs; /* where to connect, in order (http_dns.c) */
    int ai;              /* the one tried now */
    /* HTTP/2 (http_native_h2.c) */
    mp__nconn *h2c;            /* the h2 connection it is a stream on */
    int32_t stream;            /* its stream id */
    int h2_retry;              /* ended unanswered: start it again */
    int h2_final;              /* the final response's head is done */
    int h2_status;             /* the status of the head being read */
    unsigned hdr_lines;        /* of the head being read */
    size_t hdr_bytes;          /* of the head being read, as curl's text */
    size_t body_off;           /* request body bytes sent */
    struct event *timer;       /* its timeout as a stream or a waiter */
    mp__list_node link;        /* in its h2 connection's streams, or its host's
                                  waiters (MP__NX_WAIT) */
    struct mp__native_xfer *done_next;   /* ended, its task not woken yet */
    /* connection limits (MP__NX_QUEUE): in its host's queue (qlink), and
       maybe in the pool's queue for the total's room (glink) */
    mp__list_node qlink, glink;
    int from_queue;
    mp__nproxy px; /* this hop's proxy (px.on): the connection goes to it,
                      an http:// request in absolute form, an https:// one
                      through a CONNECT tunnel (MP__NX_TUNNEL) */
} mp__native_xfer;

/* Gets the worker's engine state ready (http_native.c). Returns 0, or
   the code stored in resp (outside a worker, out of memory). */
int mp__native_xfer_ready(mp_http_response *resp);

/* Runs one hop of x (set up by http_native_redir.c: its request, URL,
   response reader; mp__native_xfer_ready done): resolves its host, sends,
   reads, in the task. Returns 0 with x->r.location set (a redirect to
   follow: x not finished), else what mp__native_xfer_finish returned, or the
   code stored in x->resp. */
int mp__native_xfer_run(mp__native_xfer *x);

/* Moves the results of x, done, into x->resp (body, head, counts, the
   body file closed). Returns x->resp->error. */
int mp__native_xfer_finish(mp__native_xfer *x);

/* Writes x's HTTP/1.1 request into c->wbuf (x->wlen bytes, x->wsent
   zeroed), as curl 7.88 sends it (http_native_req.c). Returns 0 or -1
   (out of memory). */
int mp__native_req_build(mp__native_xfer *x, mp__nconn *c);

#endif
