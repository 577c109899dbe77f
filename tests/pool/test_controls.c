/*
 * The pool's controls, with real workers (issue #21): a cancel of an idle
 * pool spares the next call, mp_pool_cancel_futures, what a task's bare
 * or positive return becomes, the pool argument, futures taken, waited
 * for all together and as completed, mp_gather_max's bound, and
 * http_max_connections split over the workers as a server sees it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>

#include "mpool.h"

#define BOUND_MS 60000 /* per wait: far above what any case needs */

/* ---- tasks (they run in workers) ---- */

static int noop(mp_task *t, const void *in, size_t len)
{
    return 0;
}

static int bare_eio(mp_task *t, const void *in, size_t len)
{
    return MP_EIO;
}

static int positive(mp_task *t, const void *in, size_t len)
{
    mp_return(t, "x", 1);
    return 5;
}

/* Returns the pool argument's bytes, or "none" when there is none. */
static int echo_arg(mp_task *t, const void *in, size_t len)
{
    size_t n = 99;
    const void *a = mp_pool_arg(&n);
    if (!a)
        return n == 0 ? mp_return(t, "none", 4) : MP_EINVAL;
    return mp_return(t, a, n);
}

/* Waits until the file named by its input exists, then returns its
   input's first byte. */
static int held(mp_task *t, const void *in, size_t len)
{
    while (access((const char *)in + 1, F_OK) != 0) {
        int rc = mp_sleep(t, 1);
        if (rc < 0)
            return rc;
    }
    return mp_return(t, in, 1);
}

static int running_now, running_max; /* per worker process */

/* A child of gather_bounded: counts how many run at once. */
static int counted_child(mp_task *t, const void *in, size_t len)
{
    if (++running_now > running_max)
        running_max = running_now;
    int rc = mp_sleep(t, 5);
    running_now--;
    if (rc < 0)
        return rc;
    return mp_return(t, in, len);
}

/* Gathers 10 children, at most 3 at once. Returns gather's code, the most
   that ran at once, and how many children returned their own input. */
static int gather_bounded(mp_task *t, const void *in, size_t len)
{
    int v[10], good = 0;
    mp_buf b[10];
    mp_result r[10];
    for (int i = 0; i < 10; i++) {
        v[i] = i;
        b[i] = (mp_buf){&v[i], sizeof(v[i])};
    }
    running_max = 0;
    int rc = mp_gather_max(t, counted_child, b, 10, r, 3);
    for (int i = 0; i < 10; i++) {
        good += r[i].status == 0 && r[i].len == sizeof(int) &&
                memcmp(r[i].data, &v[i], sizeof(int)) == 0;
        mp_result_clear(&r[i]);
    }
    int out[3] = {rc, running_max, good};
    return mp_return(t, out, sizeof(out));
}

/* GETs the URL of its input; returns the HTTP status. */
static int get(mp_task *t, const void *in, size_t len)
{
    mp_http_request rq = {.url = in, .timeout_ms = 30000};
    mp_http_response rs;
    int rc = mp_http(t, &rq, &rs);
    long status = rs.status;
    mp_http_response_clear(&rs);
    if (rc < 0)
        return rc;
    return mp_return(t, &status, sizeof(status));
}

/* ---- helpers ---- */

static mp_pool *make_pool(const mp_pool_options *o)
{
    mp_pool *p = NULL;
    assert_int_equal(mp_pool_create(&p, o), 0);
    return p;
}

/* A marker file's name in in[1..], a tag byte in in[0]. */
static void held_input(char *in, size_t n, char tag, const char *mark)
{
    in[0] = tag;
    snprintf(in + 1, n - 1, "%s", mark);
}

static void make_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
}

/* ---- cases ---- */

/* A cancel while no call runs (a Ctrl-C between two calls) is spent: the
   next map runs whole (it returned MP_ECANCELED with nothing done). */
static void cancel_of_an_idle_pool_spares_the_next_call(void **state)
{
    mp_pool_options o = {.workers = 2};
    mp_pool *p = make_pool(&o);
    mp_buf in[10] = {{0}};
    mp_result out[10];
    mp_pool_cancel(p);
    assert_int_equal(mp_pool_map(p, noop, in, 10, out), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(out[i].status, 0);
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
}

/* mp_pool_cancel_futures ends every future not done (queued and at a
   worker) with MP_ECANCELED and their callbacks; a map runs after it. */
static int cb_runs;
static void count_cb(mp_future *f, void *ud)
{
    cb_runs++;
}

static void cancel_futures_ends_every_future(void **state)
{
    mp_pool_options o = {.workers = 2, .concurrency = 2};
    mp_pool *p = make_pool(&o);
    char mark[64], in[80];
    snprintf(mark, sizeof(mark), "/tmp/mp-ctl-never-%d", (int)getpid());
    unlink(mark);
    held_input(in, sizeof(in), 'a', mark);
    mp_future *f[8];
    cb_runs = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(mp_pool_submit(p, held, in, sizeof(in), &f[i]), 0);
        assert_int_equal(mp_future_on_done(f[i], count_cb, NULL), 0);
    }
    assert_int_equal(mp_future_wait(f[0], 20), MP_ETIMEDOUT); /* sent */
    assert_int_equal(mp_pool_cancel_futures(p), 8);
    assert_int_equal(cb_runs, 8);
    for (int i = 0; i < 8; i++) {
        assert_true(mp_future_done(f[i]));
        assert_int_equal(mp_future_result(f[i])->status, MP_ECANCELED);
        mp_future_free(f[i]);
    }
    assert_int_equal(mp_pool_cancel_futures(p), 0);
    mp_buf b[4] = {{0}};
    mp_result out[4];
    assert_int_equal(mp_pool_map(p, noop, b, 4, out), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i].status, 0);
    mp_pool_destroy(p);
}

/* A task returning a bare code gets mp_strerror's sentence as its error
   (it was NULL); a positive return fails with MP_ETASK naming it (it
   counted as success). */
static void bare_and_positive_returns(void **state)
{
    mp_pool_options o = {.workers = 1};
    mp_pool *p = make_pool(&o);
    mp_result r;
    assert_int_equal(mp_pool_apply(p, bare_eio, NULL, 0, &r), 0);
    assert_int_equal(r.status, MP_EIO);
    assert_non_null(r.error);
    assert_string_equal(r.error, mp_strerror(MP_EIO));
    mp_result_clear(&r);
    assert_int_equal(mp_pool_apply(p, positive, NULL, 0, &r), 0);
    assert_int_equal(r.status, MP_ETASK);
    assert_non_null(r.error);
    assert_non_null(strstr(r.error, "returned 5"));
    mp_result_clear(&r);
    assert_int_equal(mp_pool_apply(p, noop, NULL, 0, &r), 0);
    assert_int_equal(r.status, 0);
    assert_null(r.error);
    mp_pool_destroy(p);
}

/* The pool argument reaches every task of every worker (set after
   mp_init, which globals could not do); none: NULL. */
static void pool_arg_reaches_tasks(void **state)
{
    char arg[32];
    snprintf(arg, sizeof(arg), "pool arg %d", (int)getpid());
    mp_pool_options o = {.workers = 2, .arg = arg, .arg_len = strlen(arg),
                         .init_arg = "init", .init_len = 4};
    mp_pool *p = make_pool(&o);
    memset(arg, 0, sizeof(arg)); /* copied */
    snprintf(arg, sizeof(arg), "pool arg %d", (int)getpid());
    mp_buf in[10] = {{0}};
    mp_result out[10];
    assert_int_equal(mp_pool_map(p, echo_arg, in, 10, out), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(out[i].status, 0);
        assert_int_equal(out[i].len, strlen(arg));
        assert_memory_equal(out[i].data, arg, strlen(arg));
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
    mp_pool_options none = {.workers = 1};
    p = make_pool(&none);
    assert_int_equal(mp_pool_apply(p, echo_arg, NULL, 0, out), 0);
    assert_int_equal(out[0].status, 0);
    assert_memory_equal(out[0].data, "none", 4);
    mp_result_clear(&out[0]);
    mp_pool_destroy(p);
    mp_pool_options bad = {.workers = 1, .arg_len = 3};
    assert_int_equal(mp_pool_options_check(&bad, NULL, 0), MP_EINVAL);
}

/* mp_future_next returns the done ones as they complete, each once: the
   future that waits for a file comes after the one that does not, and n
   at the end; mp_future_wait_all times out while one is held, then
   returns 0; mp_future_take moves the result out. */
static void futures_as_completed_all_and_taken(void **state)
{
    mp_pool_options o = {.workers = 2};
    mp_pool *p = make_pool(&o);
    char mark[64], in0[80], in1[80], in2[80];
    snprintf(mark, sizeof(mark), "/tmp/mp-ctl-next-%d", (int)getpid());
    unlink(mark);
    held_input(in0, sizeof(in0), 'a', mark);
    held_input(in1, sizeof(in1), 'b', "/");
    held_input(in2, sizeof(in2), 'c', "/");
    mp_future *f[3];
    assert_int_equal(mp_pool_submit(p, held, in0, sizeof(in0), &f[0]), 0);
    assert_int_equal(mp_pool_submit(p, held, in1, sizeof(in1), &f[1]), 0);
    assert_int_equal(mp_pool_submit(p, held, in2, sizeof(in2), &f[2]), 0);
    int a = mp_future_next(f, 3, BOUND_MS), b = mp_future_next(f, 3,
                                                               BOUND_MS);
    assert_true((a == 1 && b == 2) || (a == 2 && b == 1));
    assert_int_equal(mp_future_wait_all(f, 3, 20), MP_ETIMEDOUT);
    assert_int_equal(mp_future_next(f, 3, 20), MP_ETIMEDOUT);
    make_file(mark);
    assert_int_equal(mp_future_next(f, 3, BOUND_MS), 0);
    assert_int_equal(mp_future_next(f, 3, BOUND_MS), 3); /* all returned */
    assert_int_equal(mp_future_wait_all(f, 3, BOUND_MS), 0);
    unlink(mark);
    mp_result r;
    assert_int_equal(mp_future_take(f[0], &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, 1);
    assert_memory_equal(r.data, "a", 1);
    assert_int_equal(mp_future_result(f[0])->status, 0);
    assert_null(mp_future_result(f[0])->data);
    for (int i = 0; i < 3; i++)
        mp_future_free(f[i]);
    assert_memory_equal(r.data, "a", 1); /* r outlives the future */
    mp_result_clear(&r);
    mp_future *nd;
    assert_int_equal(mp_pool_submit(p, held, in0, sizeof(in0), &nd), 0);
    assert_int_equal(mp_future_take(nd, &r), MP_EINVAL); /* not done */
    mp_future_free(nd);
    mp_pool_destroy(p);
}

/* mp_gather_max runs at most max_at_once children at once, every child
   with its own result. */
static void gather_max_bounds_children(void **state)
{
    mp_pool_options o = {.workers = 1};
    mp_pool *p = make_pool(&o);
    mp_result r;
    assert_int_equal(mp_pool_apply(p, gather_bounded, NULL, 0, &r), 0);
    assert_int_equal(r.status, 0);
    int got[3];
    memcpy(got, r.data, sizeof(got));
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 10);
    mp_result_clear(&r);
    mp_pool_destroy(p);
}

/* A blocking drain: the pool stops taking work (MP_ECLOSED for submits
   and calls), the futures pending finish whole, then it returns; the
   drained callback runs once. */
static int drained_status = 1, drained_runs;
static void on_drained(mp_pool *p, int status, void *ud)
{
    drained_status = status;
    drained_runs++;
}

static void drain_finishes_pending_work(void **state)
{
    mp_pool_options o = {.workers = 2, .concurrency = 2};
    mp_pool *p = make_pool(&o);
    char in[80];
    held_input(in, sizeof(in), 'd', "/");
    mp_future *f[12];
    for (int i = 0; i < 12; i++) /* more than the workers hold at once */
        assert_int_equal(mp_pool_submit(p, held, in, sizeof(in), &f[i]), 0);
    drained_runs = 0;
    assert_int_equal(mp_pool_on_drained(p, on_drained, NULL), 0);
    assert_int_equal(mp_pool_drain(p, BOUND_MS), 0);
    assert_int_equal(drained_runs, 1);
    assert_int_equal(drained_status, 0);
    for (int i = 0; i < 12; i++) {
        assert_true(mp_future_done(f[i]));
        assert_int_equal(mp_future_result(f[i])->status, 0);
        mp_future_free(f[i]);
    }
    mp_future *late;
    assert_int_equal(mp_pool_submit(p, held, in, sizeof(in), &late),
                     MP_ECLOSED);
    mp_result r;
    assert_int_equal(mp_pool_apply(p, noop, NULL, 0, &r), MP_ECLOSED);
    assert_int_equal(mp_pool_drain(p, 0), 0); /* again: done */
    mp_pool_destroy(p);
}

/* ---- an attached evhttp server drained on SIGTERM ---- */

enum { N_REQ = 6 };

typedef struct srv {
    struct event_base *base;
    struct evhttp *http;
    mp_pool *p;
    int got, answered, sent, drained, refused;
} srv;

static void req_done(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    if (++s->sent == N_REQ && s->drained)
        event_base_loopexit(s->base, NULL);
}

typedef struct pending {
    struct evhttp_request *req;
    srv *s;
} pending;

static void answer(mp_future *f, void *ud)
{
    pending *pd = ud;
    const mp_result *r = mp_future_result(f);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, r->status == 0 ? "done" : "fail", 4);
    evhttp_request_set_on_complete_cb(pd->req, req_done, pd->s);
    evhttp_send_reply(pd->req, r->status == 0 ? 200 : 500, "OK", b);
    evbuffer_free(b);
    pd->s->answered++;
    free(pd);
    mp_future_free(f);
}

/* Each request: a future of 30 ms; the last one of N_REQ sends SIGTERM
   to the process, as a supervisor would. */
static int sleep30(mp_task *t, const void *in, size_t len)
{
    return mp_sleep(t, 30);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    pending *pd = malloc(sizeof(*pd));
    *pd = (pending){req, s};
    mp_future *f;
    if (mp_pool_submit(s->p, sleep30, NULL, 0, &f) < 0) {
        s->refused++;
        free(pd);
        evhttp_send_error(req, 503, "draining");
        return;
    }
    mp_future_on_done(f, answer, pd);
    if (++s->got == N_REQ)
        raise(SIGTERM);
}

static void srv_drained(mp_pool *p, int status, void *ud)
{
    srv *s = ud;
    s->drained = status == 0 ? 1 : -1;
    if (s->sent == N_REQ)
        event_base_loopexit(s->base, NULL);
}

/* SIGTERM: stop accepting, drain the pool; the loop ends once every
   answer went out. */
static void on_term(evutil_socket_t fd, short what, void *arg)
{
    srv *s = arg;
    mp_pool_drain(s->p, BOUND_MS);
}

typedef struct client {
    int port, status;
    pthread_t th;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)c->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char buf[512];
    size_t got = 0;
    ssize_t r;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        write(fd, "GET / HTTP/1.0\r\n\r\n", 18) == 18)
        while (got < sizeof(buf) - 1 &&
               (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    if (strncmp(buf, "HTTP/1.0 ", 9) == 0 && strstr(buf, "done"))
        c->status = atoi(buf + 9);
    return NULL;
}

static void attached_server_drains_on_sigterm(void **state)
{
    mp_pool_options o = {.workers = 2};
    srv s = {0};
    assert_int_equal(mp_pool_create(&s.p, &o), 0);
    s.base = event_base_new();
    assert_int_equal(mp_pool_attach(s.p, s.base), 0);
    assert_int_equal(mp_pool_on_drained(s.p, srv_drained, &s), 0);
    s.http = evhttp_new(s.base);
    evhttp_set_gencb(s.http, on_request, &s);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(s.http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&a, &al);
    struct event *term = evsignal_new(s.base, SIGTERM, on_term, &s);
    evsignal_add(term, NULL);
    struct timeval bound = {BOUND_MS / 1000, 0};
    event_base_loopexit(s.base, &bound); /* never reached when it works */
    client c[N_REQ];
    for (int i = 0; i < N_REQ; i++) {
        c[i] = (client){.port = ntohs(a.sin_port)};
        assert_int_equal(pthread_create(&c[i].th, NULL, client_main, &c[i]),
                         0);
    }
    event_base_dispatch(s.base);
    for (int i = 0; i < N_REQ; i++)
        pthread_join(c[i].th, NULL);
    assert_int_equal(s.got, N_REQ);
    assert_int_equal(s.drained, 1);
    assert_int_equal(s.answered, N_REQ);
    assert_int_equal(s.sent, N_REQ);
    for (int i = 0; i < N_REQ; i++)
        assert_int_equal(c[i].status, 200);
    mp_future *late;
    assert_int_equal(mp_pool_submit(s.p, sleep30, NULL, 0, &late),
                     MP_ECLOSED);
    event_free(term);
    evhttp_free(s.http);
    mp_pool_destroy(s.p);
    event_base_free(s.base);
}

/* ---- a server that counts its open connections ---- */

typedef struct counting_server {
    int lfd, port, stop[2];
    int open, most;
    pthread_t th;
} counting_server;

typedef struct conn {
    int fd;
    size_t got;
    char buf[4096];
    struct timespec asked; /* a whole request arrived; 0: none */
} conn;

static long ms_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

/* Answers each request 20 ms after it arrived (so transfers overlap),
   keep-alive; counts connections open at once. */
static void *serve(void *arg)
{
    counting_server *s = arg;
    enum { MAXC = 256 };
    static conn c[MAXC];
    int n = 0;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (;;) {
        struct pollfd pf[MAXC + 2];
        pf[0] = (struct pollfd){s->lfd, POLLIN, 0};
        pf[1] = (struct pollfd){s->stop[0], POLLIN, 0};
        for (int i = 0; i < n; i++)
            pf[2 + i] = (struct pollfd){c[i].fd, POLLIN, 0};
        if (poll(pf, (nfds_t)n + 2, 2) < 0)
            continue;
        if (pf[1].revents)
            break;
        if ((pf[0].revents & POLLIN) && n < MAXC) {
            int fd = accept(s->lfd, NULL, NULL);
            if (fd >= 0) {
                c[n++] = (conn){.fd = fd};
                if (++s->open > s->most)
                    s->most = s->open;
            }
        }
        for (int i = 0; i < n; i++) {
            conn *k = &c[i];
            if (pf[2 + i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = read(k->fd, k->buf + k->got,
                                 sizeof(k->buf) - 1 - k->got);
                if (r <= 0) {
                    close(k->fd);
                    s->open--;
                    c[i] = c[--n];
                    pf[2 + i] = pf[2 + n]; /* keep pf in step */
                    i--;
                    continue;
                }
                k->got += (size_t)r;
                k->buf[k->got] = '\0';
                if (!k->asked.tv_sec && strstr(k->buf, "\r\n\r\n"))
                    clock_gettime(CLOCK_MONOTONIC, &k->asked);
            }
            if (k->asked.tv_sec && ms_since(&k->asked) >= 20) {
                if (write(k->fd, ok, sizeof(ok) - 1) < 0) {
                }
                k->asked.tv_sec = 0;
                k->got = 0;
            }
        }
    }
    for (int i = 0; i < n; i++)
        close(c[i].fd);
    return NULL;
}

static void server_start(counting_server *s)
{
    memset(s, 0, sizeof(*s));
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 512), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pipe(s->stop), 0);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(counting_server *s)
{
    if (write(s->stop[1], "x", 1) < 0) {
    }
    pthread_join(s->th, NULL);
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
}

/* http_max_connections = 3 over 2 workers (shares 2 + 1): 60 concurrent
   GETs never have more than 3 connections open at the server; fewer
   than one per worker is refused by name. */
static void http_max_connections_is_pool_wide(void **state)
{
    mp_pool_options bad = {.workers = 2, .http_max_connections = 1};
    char msg[256];
    assert_int_equal(mp_pool_options_check(&bad, msg, sizeof(msg)),
                     MP_EINVAL);
    assert_non_null(strstr(msg, "http_max_connections"));
    counting_server s;
    server_start(&s);
    mp_pool_options o = {.workers = 2, .concurrency = 16,
                         .http_max_connections = 3};
    mp_pool *p = make_pool(&o);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
    enum { N = 60 };
    mp_buf in[N];
    mp_result out[N];
    for (int i = 0; i < N; i++)
        in[i] = (mp_buf){url, strlen(url) + 1};
    assert_int_equal(mp_pool_map(p, get, in, N, out), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        long st;
        memcpy(&st, out[i].data, sizeof(st));
        assert_int_equal(st, 200);
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
    server_stop(&s);
    if (s.most > 3)
        fail_msg("%d connections open at once, limit 3", s.most);
    assert_true(s.most >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cancel_of_an_idle_pool_spares_the_next_call),
        cmocka_unit_test(cancel_futures_ends_every_future),
        cmocka_unit_test(bare_and_positive_returns),
        cmocka_unit_test(pool_arg_reaches_tasks),
        cmocka_unit_test(futures_as_completed_all_and_taken),
        cmocka_unit_test(gather_max_bounds_children),
        cmocka_unit_test(http_max_connections_is_pool_wide),
        cmocka_unit_test(drain_finishes_pending_work),
        cmocka_unit_test(attached_server_drains_on_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
