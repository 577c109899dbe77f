/*
 * mp_example_offload_server: a libevent HTTP server (evhttp) that offloads
 * each request's work to a pool attached to its own event_base, and
 * answers the request when that work's future completes. Its loop never
 * blocks: a request submits a future and returns; the future's
 * done-callback, run from the same loop, sends the answer.
 *
 * Python (aiohttp + ProcessPoolExecutor):
 *     async def handle(request):
 *         n = int(request.query["n"])
 *         r = await loop.run_in_executor(pool, slow_square, n)
 *         return web.Response(text=f"square({n}) = {r}\n")
 *
 * Usage: mp_example_offload_server [PORT]   (0, the default: any free one)
 * Prints "PORT n" once listening on 127.0.0.1. Endpoints:
 *   /square?n=N   "square(N) = N*N", after 100 ms of work in a worker
 *   /quit         stops the server (after the answers in flight)
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mpool.h"

static mp_pool *pool;
static struct event_base *base;
static long answered, in_flight, max_in_flight;

/* The work, in a worker: 100 ms of waiting (a slow backend), then n * n. */
static int slow_square(mp_task *t, const void *in, size_t len)
{
    long n;
    memcpy(&n, in, sizeof(n));
    int rc = mp_sleep(t, 100);
    if (rc < 0)
        return rc;
    long sq = n * n;
    return mp_return(t, &sq, sizeof(sq));
}

static void reply(struct evhttp_request *req, int code, const char *text)
{
    struct evbuffer *body = evbuffer_new();
    if (body)
        evbuffer_add(body, text, strlen(text));
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", body);
    if (body)
        evbuffer_free(body);
}

/* A request waiting for its future. */
typedef struct pending {
    struct evhttp_request *req;
    long n;
} pending;

/* The future's done-callback: runs from the server's own loop. (A real
   server would also watch the connection, evhttp_connection_set_closecb,
   and cancel the future of a client that left.) */
static void on_done(mp_future *f, void *ud)
{
    pending *w = ud;
    const mp_result *r = mp_future_result(f);
    char text[96];
    long sq = 0;
    if (r->status == 0 && r->len == sizeof(sq)) {
        memcpy(&sq, r->data, sizeof(sq));
        snprintf(text, sizeof(text), "square(%ld) = %ld\n", w->n, sq);
        reply(w->req, 200, text);
    } else {
        snprintf(text, sizeof(text), "error: %s\n", mp_err_name(r->status));
        reply(w->req, 500, text);
    }
    answered++;
    in_flight--;
    free(w);
    mp_future_free(f); /* a callback may free its own future */
}

/* /square?n=N: submits the work and returns at once. */
static void on_square(struct evhttp_request *req, void *arg)
{
    struct evkeyvalq params;
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (!q || evhttp_parse_query_str(q, &params) != 0) {
        reply(req, 400, "usage: /square?n=N\n");
        return;
    }
    const char *v = evhttp_find_header(&params, "n");
    pending *w = v ? malloc(sizeof(*w)) : NULL;
    mp_future *f;
    if (w) {
        w->req = req;
        w->n = strtol(v, NULL, 10);
    }
    evhttp_clear_headers(&params);
    if (!w || mp_pool_submit(pool, slow_square, &w->n, sizeof(w->n), &f)) {
        free(w);
        reply(req, 400, "usage: /square?n=N\n");
        return;
    }
    if (++in_flight > max_in_flight)
        max_in_flight = in_flight;
    mp_future_on_done(f, on_done, w); /* answered later, by on_done */
}

/* Stops the loop once the answer to /quit has gone out. */
static void on_quit_sent(struct evhttp_request *req, void *arg)
{
    event_base_loopexit(base, NULL);
}

static void on_quit(struct evhttp_request *req, void *arg)
{
    evhttp_request_set_on_complete_cb(req, on_quit_sent, NULL);
    reply(req, 200, "bye\n");
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    mp_init();
    mp_pool_options o = {.workers = 2, .concurrency = 64};
    int rc = mp_pool_create(&pool, &o);
    if (rc < 0) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http || (rc = mp_pool_attach(pool, base)) < 0) {
        fprintf(stderr, "setup failed: %s\n", mp_strerror(rc));
        return 1;
    }
    struct evhttp_bound_socket *s =
        evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (!s) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sa, &sl);
    evhttp_set_cb(http, "/square", on_square, NULL);
    evhttp_set_cb(http, "/quit", on_quit, NULL);
    printf("PORT %d\n", ntohs(sa.sin_port));
    fflush(stdout);

    event_base_dispatch(base); /* the pool's events run here too */

    printf("offload_server: answered %ld requests, at most %ld in flight "
           "at once\n", answered, max_in_flight);
    evhttp_free(http);
    mp_pool_destroy(pool);
    event_base_free(base);
    return 0;
}
