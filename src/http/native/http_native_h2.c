/*
 * HTTP/2 for the native engine through libnghttp2 (http_native_h2.h says
 * the contract). nghttp2 is the frame parser and state machine; this file
 * moves bytes between it and TLS (http_tls.c), turns the request into
 * header fields as curl 7.88 sends them, and the response into the record
 * libcurl's HTTP/2 gives: http_version 20, the head as curl writes it
 * ("HTTP/2 200 \r\n", then "name: value\r\n" lines as received, then
 * "\r\n"), the body through the HTTP/1.1 side's body sink (the same
 * limits and failure kinds).
 *
 * Writes are batched: a submit or a cancel only schedules the
 * connection's flush event, so the frames of every stream started in one
 * loop turn leave in one TLS write; after a read, frames go out at once.
 *
 * Tasks are woken last: a stream that ends inside nghttp2's callbacks
 * (or a timer) is put on a done list, and the list is drained once the
 * callback that led there is about to return.
 *
 * Failures, as libcurl's HTTP/2 reports them: a stream reset by the
 * server or ended before its head, or a session error: PROTOCOL; the
 * connection ending or breaking under a stream: CLOSED; the stream's
 * whole-transfer timeout: TIMEOUT. A stream refused unanswered (GOAWAY
 * past its id, REFUSED_STREAM) is started again once by its task, on a
 * new connection, as curl does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "common/clock.h"
#include "http/shared/http_fail.h"
#include "http/native/http_native_h2.h"
#include "worker/worker.h"

#define H2_STREAMS 100u           /* our cap on streams per connection */
#define H2_WINDOW (1 << 24)       /* per stream, and 4x for the connection */
#define H2_OUT_BATCH ((size_t)65536) /* frame bytes gathered per write */
#define HF(kind) mp__http_fail_code(MP__HF_##kind)

/* One h2 connection's state. */
typedef struct mp__h2 {
    nghttp2_session *s;
    mp__nconn *c;
    mp__native_pool *hn;
    struct event *flush; /* deferred write, activated by submits */
    int flush_armed, listed, dead;
    unsigned active;     /* streams open on it */
    mp__list streams;    /* ours, not ended, by their link */
    char *out;           /* frames gathered, not written yet */
    size_t out_len, out_off, out_cap;
} mp__h2;

static mp__native_xfer *g_done; /* ended streams whose tasks are to be woken */

/* Wakes the task of every ended stream (from the event loop). */
static void drain_done(void)
{
    while (g_done) {
        mp__native_xfer *x = g_done;
        g_done = x->done_next;
        x->done_next = NULL;
        if (x->suspended)
            mp__task_wake(x->task, 0);
    }
}

/* Puts h's connection in its host's h2free if it can take a stream, or
   takes it out. */
static void relist(mp__h2 *h)
{
    mp__nconn *c = h->c;
    uint32_t max = nghttp2_session_get_remote_settings(
        h->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    int free_slot = !h->dead && h->active < (max < H2_STREAMS ? max
                                                              : H2_STREAMS) &&
                    nghttp2_session_check_request_allowed(h->s);

    if (free_slot == h->listed)
        return;
    if (free_slot) {
        mp__list_push_front(&c->host->h2free, &c->link);
        /* its waiters may take the slot */
        mp__native_pool_kick(h->hn, c->host, 0);
    } else {
        mp__list_remove(&c->link);
    }
    h->listed = free_slot;
}

/* Takes stream x off its connection: nghttp2 forgets it, its timer
   goes. */
static void stream_detach(mp__native_xfer *x)
{
    mp__h2 *h = x->h2c->h2;

    if (x->stream > 0)
        nghttp2_session_set_stream_user_data(h->s, x->stream, NULL);
    mp__list_remove(&x->link);
    if (x->timer)
        event_free(x->timer);
    x->timer = NULL;
    x->h2c = NULL;
}

/* Ends stream x: err 0 (done, or h2_retry set) or an error with its
   message; detaches it from its connection and queues its task's wake. */
static void stream_end(mp__native_xfer *x, int err, const char *fmt, ...)
    MP_PRINTF(3, 4);
static void stream_end(mp__native_xfer *x, int err, const char *fmt, ...)
{
    char why[300];
    va_list ap;

    stream_detach(x);
    if (err) {
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        mp__http_error(x->resp, err, "%s %.*s: %s", mp__http_method(x->orig),
                       MP__HTTP_URL_SHOWN, x->orig->url, why);
    }
    x->resp->t_total_us = mp__now_us() - x->t0;
    x->state = MP__NX_DONE;
    x->done_next = g_done;
    g_done = x;
}

/* Returns 1 if x may be started again on another connection: nothing of
   its response arrived and it was not started again before. */
static int may_retry(const mp__native_xfer *x)
{
    return !x->retried && !x->t_first;
}

/* Ends every stream of h (its connection ended or broke: kind and why;
   none is started again: the server may have acted on it, and a server
   that ends a connection in order says so with GOAWAY first) and frees
   the connection. */
static void conn_close(mp__h2 *h, int err, const char *why)
{
    mp__nconn *c = h->c;
    mp__list_node *n;

    h->dead = 1;
    relist(h);
    while ((n = mp__list_first(&h->streams)) != NULL)
        stream_end(MP__LIST_ENTRY(n, mp__native_xfer, link), err, "%s", why);
    nghttp2_session_del(h->s);
    if (h->flush)
        event_free(h->flush);
    free(h->out);
    free(h);
    c->h2 = NULL;
    mp__native_pool_conn_free(c);
}

/* Writes h's pending frames, gathering more from nghttp2 in batches.
   Returns 0 (all written, or waiting for the socket), or -1 with why. */
static int flush(mp__h2 *h, char *why, size_t len)
{
    h->flush_armed = 0;
    for (;;) {
        if (h->out_off == h->out_len) {
            h->out_off = h->out_len = 0;
            while (h->out_len < H2_OUT_BATCH) {
                const uint8_t *d;
                ssize_t n = nghttp2_session_mem_send(h->s, &d);
                if (n < 0) {
                    snprintf(why, len, "nghttp2: %s",
                             nghttp2_strerror((int)n));
                    return -1;
                }
                if (n == 0)
                    break;
                if (h->out_len + (size_t)n > h->out_cap) {
                    size_t cap = h->out_cap ? h->out_cap : 16384;
                    while (cap < h->out_len + (size_t)n)
                        cap *= 2;
                    char *b = realloc(h->out, cap);
                    if (!b) {
                        snprintf(why, len, "out of memory");
                        return -1;
                    }
                    h->out = b;
                    h->out_cap = cap;
                }
                memcpy(h->out + h->out_len, d, (size_t)n);
                h->out_len += (size_t)n;
            }
            if (!h->out_len)
                break;
        }
        ssize_t k = mp__tls_write(h->c->tls, h->out + h->out_off,
                                  h->out_len - h->out_off);
        if (k > 0) {
            h->out_off += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            return mp__native_pool_want_write(h->hn, h->c,
                                              mp__tls_want(h->c->tls) ==
                                                  MP__TLS_WANT_WRITE) == 0
                       ? 0
                       : (snprintf(why, len, "event_add failed"), -1);
        snprintf(why, len, "Send failure: %s", strerror(errno));
        return -1;
    }
    if (h->c->want_write && mp__native_pool_want_write(h->hn, h->c, 0) != 0) {
        snprintf(why, len, "event_add failed");
        return -1;
    }
    return 0;
}

/* Flushes h; a failure closes the connection (every stream CLOSED).
   Returns 0, or -1 if h is gone. Closes h too when nghttp2 has nothing
   left to do on it (a GOAWAY's streams all done). */
static int flush_or_close(mp__h2 *h)
{
    char why[200];

    if (flush(h, why, sizeof why) < 0) {
        conn_close(h, HF(CLOSED), why);
        return -1;
    }
    if (!nghttp2_session_want_read(h->s) &&
        !nghttp2_session_want_write(h->s) && h->out_off == h->out_len) {
        conn_close(h, HF(CLOSED), "the server ended the connection");
        return -1;
    }
    return 0;
}

/* libevent: the deferred flush of an h2 connection. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush_or_close(arg);
    drain_done();
}

/* Schedules h's flush for the end of this loop turn. */
static void flush_later(mp__h2 *h)
{
    if (!h->flush_armed) {
        h->flush_armed = 1;
        event_active(h->flush, EV_WRITE, 0);
    }
}

/* ---- nghttp2 callbacks ------------------------------------------------ */

/* Counts p[0..n) of x's head (its limits) and appends it to the head
   text if the request wants it. Returns 0 or -1 (out of memory). */
static int head_put(mp__native_xfer *x, const void *p, size_t n)
{
    x->hdr_bytes += n;
    return x->req->want_headers ? mp__native_resp_head_add(&x->r, p, n) : 0;
}

/* Fails stream x of h from inside a callback: RST_STREAM CANCEL, then
   ends it. Returns 0 (nghttp2 goes on with the session). */
static int stream_fail(mp__h2 *h, mp__native_xfer *x, int err, const char *why)
{
    nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, x->stream,
                              NGHTTP2_CANCEL);
    stream_end(x, err, "%s", why);
    return 0;
}

/* A response head starts (":status"): a new head, as curl starts one at
   each status line. Returns 0, or -1 to fail the stream (why). */
static int head_begin(mp__native_xfer *x, const uint8_t *v, size_t n,
                      char *why, size_t len)
{
    int st = 0;
    char line[32];

    for (size_t i = 0; i < n; i++)
        st = v[i] >= '0' && v[i] <= '9' && st < 1000 ? st * 10 + v[i] - '0'
                                                     : 1000;
    if (n != 3 || st < 100 || st > 599) {
        snprintf(why, len, "status code %d is outside 100-599", st);
        return -1;
    }
    mp__native_resp_head_start(&x->r);
    x->hdr_bytes = 0;
    x->hdr_lines = 0;
    x->h2_status = st; /* the response's once its head is whole */
    snprintf(line, sizeof line, "HTTP/2 %d \r\n", st);
    return head_put(x, line, strlen(line));
}

/* A trailer field of x: kept after the head with want_headers (curl
   7.88 passes h2 trailers to its header callback when the stream closes,
   "name: value" lines after the head's blank line). Returns 0. */
static int trailer(mp__h2 *h, mp__native_xfer *x, const uint8_t *name,
                   size_t nn, const uint8_t *value, size_t vn)
{
    mp__http_fail kind;

    if (!x->req->want_headers ||
        mp__native_resp_trailer(&x->r, (const char *)name, nn,
                                (const char *)value, vn, &kind) == 0)
        return 0;
    return stream_fail(h, x, mp__http_fail_code(kind),
                       kind == MP__HF_NOMEM
                           ? "out of memory"
                           : "header block larger than the limit "
                             "(MP_HTTP_MAX_HEADER_BYTES)");
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f,
                     const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud)
{
    mp__native_xfer *x =
        nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    mp__http_fail kind;
    char why[160];

    (void)flags;
    if (!x || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (x->h2_final) /* trailers: the head's end, as curl's */
        return trailer(ud, x, name, namelen, value, valuelen);
    if (!x->t_first)
        x->t_first = mp__now_us();
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        if (head_begin(x, value, valuelen, why, sizeof why) < 0)
            return stream_fail(ud, x, HF(PROTOCOL), why);
        return 0;
    }
    if (namelen && name[0] == ':')
        return 0;
    if (x->r.follow && x->h2_status >= 300 && x->h2_status < 400 &&
        namelen == 8 && memcmp(name, "location", 8) == 0 &&
        mp__native_resp_location(&x->r, (const char *)value, valuelen) < 0)
        return stream_fail(ud, x, HF(NOMEM), "out of memory");
    if (++x->hdr_lines > MP_HTTP_MAX_HEADER_LINES)
        return stream_fail(ud, x, HF(PROTOCOL),
                           "more than 1000 header lines "
                           "(MP_HTTP_MAX_HEADER_LINES)");
    if (x->hdr_bytes + namelen + valuelen + 4 > MP_HTTP_MAX_HEADER_BYTES)
        return stream_fail(ud, x, HF(PROTOCOL),
                           "header block larger than 262144 bytes "
                           "(MP_HTTP_MAX_HEADER_BYTES)");
    if (namelen == 16 && memcmp(name, "content-encoding", 16) == 0 &&
        mp__native_resp_coding(&x->r, (const char *)value, valuelen, 0, &kind,
                               why, sizeof why) < 0)
        return stream_fail(ud, x, mp__http_fail_code(kind), why);
    if (head_put(x, name, namelen) < 0 || head_put(x, ": ", 2) < 0 ||
        head_put(x, value, valuelen) < 0 || head_put(x, "\r\n", 2) < 0)
        return stream_fail(ud, x, HF(NOMEM), "out of memory");
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f,
                         void *ud)
{
    mp__h2 *h = ud;
    mp__native_xfer *x;

    if (f->hd.type == NGHTTP2_GOAWAY) {
        h->dead = 1; /* nghttp2 refuses the streams past its last id */
        relist(h);
        return 0;
    }
    if (f->hd.type == NGHTTP2_SETTINGS) {
        relist(h);
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS ||
        !(f->hd.flags & NGHTTP2_FLAG_END_HEADERS) ||
        !(x = nghttp2_session_get_stream_user_data(s, f->hd.stream_id)) ||
        x->h2_final || !x->hdr_bytes)
        return 0;
    if (head_put(x, "\r\n", 2) < 0)
        return stream_fail(h, x, HF(NOMEM), "out of memory");
    if (x->h2_status >= 200) { /* the head arrived whole */
        x->h2_final = 1;
        x->resp->status = x->h2_status;
        x->resp->http_version = 20;
        mp__native_resp_head_done(&x->r); /* xfer_finish takes it */
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id,
                   const uint8_t *p, size_t n, void *ud)
{
    mp__native_xfer *x = nghttp2_session_get_stream_user_data(s, id);
    mp__http_fail kind = MP__HF_OTHER;
    char msg[160];

    (void)flags;
    if (!x)
        return 0;
    if (mp__native_resp_body(&x->r, (const char *)p, n, &kind, msg,
                             sizeof msg) < 0)
        return stream_fail(ud, x, mp__http_fail_code(kind), msg);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code,
                           void *ud)
{
    mp__h2 *h = ud;
    mp__native_xfer *x = nghttp2_session_get_stream_user_data(s, id);

    if (h->active)
        h->active--;
    relist(h);
    if (!h->active && !h->dead) { /* another host may take its place */
        mp__native_pool_spare(h->hn, h->c, 1);
        mp__native_pool_kick(h->hn, NULL, 1);
    }
    if (!x)
        return 0;
    if (code == NGHTTP2_REFUSED_STREAM && may_retry(x)) {
        x->h2_retry = 1;
        stream_end(x, 0, NULL);
    } else if (code != NGHTTP2_NO_ERROR) {
        stream_end(x, HF(PROTOCOL),
                   "HTTP/2 stream %d was not closed cleanly: %s (err %u)",
                   (int)id, nghttp2_http2_strerror(code), code);
    } else if (!x->h2_final) {
        stream_end(x, HF(PROTOCOL),
                   "HTTP/2 stream %d was closed cleanly, but before "
                   "getting all response header fields, treated as error",
                   (int)id);
    } else {
        stream_end(x, 0, NULL);
    }
    return 0;
}

/* The request body, from the transfer (looked up by stream: a canceled
   transfer is gone). */
static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf,
                         size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    mp__native_xfer *x = nghttp2_session_get_stream_user_data(s, id);
    size_t n;

    (void)src;
    (void)ud;
    if (!x)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    n = x->req->body_len - x->body_off;
    if (n > len)
        n = len;
    memcpy(buf, (const char *)x->req->body + x->body_off, n);
    x->body_off += n;
    if (x->body_off == x->req->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- the calls ------------------------------------------------------- */

/* Returns the session callbacks, made once. */
static nghttp2_session_callbacks *callbacks(void)
{
    static nghttp2_session_callbacks *cb;

    if (!cb && nghttp2_session_callbacks_new(&cb) == 0) {
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
                                                             on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                                  on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(
            cb, on_stream_close);
    }
    return cb;
}

int mp__h2_attach(mp__native_pool *s, mp__nconn *c)
{
    nghttp2_session_callbacks *cb = callbacks();
    mp__h2 *h = calloc(1, sizeof *h);
    nghttp2_settings_entry set[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};

    if (!h || !cb || nghttp2_session_client_new(&h->s, cb, h) != 0)
        goto fail;
    if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, set,
                                sizeof set / sizeof set[0]) != 0 ||
        nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0,
                                              4 * H2_WINDOW) != 0 ||
        !(h->flush = event_new(s->base, -1, 0, on_flush, h)))
        goto fail;
    h->c = c;
    h->hn = s;
    mp__list_init(&h->streams);
    c->h2 = h;
    relist(h);
    return 0;
fail:
    if (h && h->s)
        nghttp2_session_del(h->s);
    free(h);
    return -1;
}

/* Copies the lower-cased name of header line l into *p (advancing it) and
   fills nv with it and its value (blanks around it trimmed). */
static void header_nv(const char *l, char **p, nghttp2_nv *nv)
{
    const char *colon = strchr(l, ':'), *v = colon + 1;
    size_t n = (size_t)(colon - l), vn;

    for (size_t i = 0; i < n; i++)
        (*p)[i] = (char)(l[i] >= 'A' && l[i] <= 'Z' ? l[i] + 32 : l[i]);
    while (*v == ' ' || *v == '\t')
        v++;
    vn = strlen(v);
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    *nv = (nghttp2_nv){(uint8_t *)*p, (uint8_t *)v, n, vn,
                       NGHTTP2_NV_FLAG_NONE};
    *p += n;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), 0}

/* Submits x's request on h (header fields in curl 7.88's order). Returns
   the stream id, or a negative nghttp2 error. */
static int32_t submit(mp__h2 *h, mp__native_xfer *x)
{
    const mp_http_request *q = x->req;
    const char *m = mp__http_method(q);
    size_t names = 0, k = 0;
    char auth[300], clen[32], *p;
    nghttp2_nv *nva;
    nghttp2_data_provider body = {.read_callback = body_read};
    int has_body = q->body || strcasecmp(m, "POST") == 0;
    int32_t id;

    for (size_t i = 0; i < q->n_headers; i++)
        if (q->headers[i])
            names += strlen(q->headers[i]);
    nva = malloc((q->n_headers + 9) * sizeof *nva + names + 1);
    if (!nva)
        return NGHTTP2_ERR_NOMEM;
    p = (char *)(nva + q->n_headers + 9);
    if (x->u.port != 443)
        snprintf(auth, sizeof auth, "%.*s:%u", (int)x->u.host_len,
                 x->u.host, x->u.port);
    else
        snprintf(auth, sizeof auth, "%.*s", (int)x->u.host_len, x->u.host);
    nva[k++] = (nghttp2_nv)NV(":method", m);
    nva[k++] = (nghttp2_nv)NV(":path", x->u.target[0] ? x->u.target : "/");
    nva[k++] = (nghttp2_nv)NV(":scheme", "https");
    nva[k++] = (nghttp2_nv)NV(":authority", auth);
    nva[k++] = (nghttp2_nv)NV("user-agent", "mpool/" MP_VERSION_STRING);
    nva[k++] = (nghttp2_nv)NV("accept", "*/*");
    if (q->compressed)
        nva[k++] = (nghttp2_nv)NV("accept-encoding", MP__DEC_ACCEPT);
    for (size_t i = 0; i < q->n_headers; i++)
        if (q->headers[i])
            header_nv(q->headers[i], &p, &nva[k++]);
    if (has_body) {
        snprintf(clen, sizeof clen, "%zu", q->body ? q->body_len : 0);
        nva[k++] = (nghttp2_nv)NV("content-length", clen);
        nva[k++] = (nghttp2_nv)NV("content-type",
                                  "application/x-www-form-urlencoded");
    }
    id = nghttp2_submit_request(h->s, NULL, nva, k,
                                q->body && q->body_len ? &body : NULL, x);
    free(nva);
    return id;
}

/* libevent: stream x's whole-transfer timeout passed. */
static void on_stream_timer(evutil_socket_t fd, short what, void *arg)
{
    mp__native_xfer *x = arg;
    mp__h2 *h = x->h2c->h2;

    (void)fd;
    (void)what;
    nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, x->stream,
                              NGHTTP2_CANCEL);
    stream_end(x, HF(TIMEOUT), "Operation timed out");
    flush_later(h);
    drain_done();
}

/* x, just ended by mp__h2_submit (first on the done list): its task is
   woken now if it waits (a waiter started by another's handshake), not
   later. Returns -1. */
static int submit_failed(mp__native_xfer *x)
{
    g_done = x->done_next;
    x->done_next = NULL;
    if (x->suspended)
        mp__task_wake(x->task, 0);
    return -1;
}

int mp__h2_submit(mp__nconn *c, mp__native_xfer *x)
{
    mp__h2 *h = c->h2;
    int32_t id;

    x->h2c = c;
    x->c = NULL;
    x->state = MP__NX_H2;
    x->h2_final = 0;
    x->h2_status = 0;
    x->body_off = 0;
    mp__list_push_front(&h->streams, &x->link);
    if (x->req->timeout_ms) {
        struct timeval tv = mp__ms_left_tv(x->req->timeout_ms, x->t0);
        if (!(x->timer = evtimer_new(h->hn->base, on_stream_timer, x)) ||
            evtimer_add(x->timer, &tv) != 0) {
            stream_end(x, HF(NOMEM), "out of memory");
            return submit_failed(x);
        }
    }
    if ((id = submit(h, x)) < 0) {
        x->stream = 0;
        stream_end(x, id == NGHTTP2_ERR_NOMEM ? HF(NOMEM) : HF(PROTOCOL),
                   "nghttp2_submit_request: %s", nghttp2_strerror(id));
        return submit_failed(x);
    }
    x->stream = id;
    h->active++;
    mp__native_pool_spare(h->hn, c, 0);
    relist(h);
    flush_later(h);
    return 0;
}

void mp__h2_io(mp__nconn *c, short what)
{
    mp__h2 *h = c->h2;
    char *buf = h->hn->rbuf;

    (void)what;
    for (;;) {
        ssize_t k = mp__tls_read(c->tls, buf, MP__NATIVE_POOL_READ);
        if (k > 0) {
            ssize_t rv = nghttp2_session_mem_recv(h->s, (uint8_t *)buf,
                                                  (size_t)k);
            if (rv < 0) {
                char why[160];
                snprintf(why, sizeof why, "HTTP/2 error: %s",
                         nghttp2_strerror((int)rv));
                conn_close(h, HF(PROTOCOL), why);
                drain_done();
                return;
            }
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN)
            break;
        char why[160];
        int e = k < 0 ? errno : 0;
        snprintf(why, sizeof why, "%s%s",
                 k < 0 ? "Recv failure: " : "Connection died",
                 k < 0 ? strerror(e) : "");
        /* EPROTO: bytes that are no TLS record (http_tls.c), as curl's
           SSL_read error: invalid, not a connection that ended */
        conn_close(h, e == EPROTO ? HF(PROTOCOL) : HF(CLOSED), why);
        drain_done();
        return;
    }
    /* a read that waits for the socket to take bytes (TLS) */
    int rw = mp__tls_want(c->tls) == MP__TLS_WANT_WRITE;
    if (flush_or_close(h) == 0 && rw && !c->want_write &&
        mp__native_pool_want_write(h->hn, c, 1) != 0)
        conn_close(h, HF(NOMEM), "event_add failed");
    drain_done();
}

void mp__h2_close_spare(mp__nconn *c)
{
    conn_close(c->h2, 0, "");
}

void mp__h2_cancel(mp__native_xfer *x)
{
    mp__h2 *h = x->h2c->h2;

    nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, x->stream,
                              NGHTTP2_CANCEL);
    stream_detach(x);
    flush_later(h);
}
