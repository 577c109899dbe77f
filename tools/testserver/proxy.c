/*
 * mp-testserver --proxy: a forward proxy on loopback, for the proxy tests.
 *
 * Reads one request head per connection (16 KiB at most) and answers it:
 *   absolute-form "GET http://HOST:PORT/PATH HTTP/1.1": 203 with the body
 *     "proxied GET http://HOST:PORT/PATH\n" and "X-Mp-Proxy: 1", then
 *     closes; the origin is never contacted, so the answer proves that the
 *     request came through the proxy, and what it asked for.
 *   "CONNECT HOST:PORT": HOST must be a loopback address (127.x, ::1,
 *     localhost); the proxy connects to it, answers 200 and relays bytes
 *     both ways until either side closes (a TLS session to the origin
 *     runs through it). A target that refuses gets 502.
 *   --proxy-auth USER:PASS: a request without "Proxy-Authorization:
 *     Basic base64(USER:PASS)" gets 407 with Proxy-Authenticate.
 *   anything else (an origin-form target): 400.
 * Connections still open at exit are freed then.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "proxy.h"
#include "testserver.h"

#define PX_HEAD_MAX (16 * 1024)

/* One client connection; with a tunnel, its origin side too. */
struct px_conn {
    mp__list_node link; /* on px->conns */
    struct ts_proxy *px;
    struct bufferevent *client, *origin;
    int tunnel; /* the 200 went out: relay bytes */
};

/* Frees one side; the other is flushed, then freed too. */
static void px_close(struct px_conn *c);

/* Writes s to the client, then closes the connection. */
static void px_answer(struct px_conn *c, const char *s)
{
    evbuffer_add(bufferevent_get_output(c->client), s, strlen(s));
    bufferevent_disable(c->client, EV_READ);
    c->tunnel = -1; /* closing: px_on_write frees once flushed */
}

/* Write callback: a closing connection is freed once its output is out. */
static void px_on_write(struct bufferevent *bev, void *arg)
{
    struct px_conn *c = arg;

    (void)bev;
    if (c->tunnel == -1 &&
        evbuffer_get_length(bufferevent_get_output(c->client)) == 0)
        px_close(c);
}

static void px_close(struct px_conn *c)
{
    mp__list_remove(&c->link);
    if (c->origin)
        bufferevent_free(c->origin);
    if (c->client)
        bufferevent_free(c->client);
    free(c);
}

/* Relays what one side received to the other. */
static void px_relay(struct bufferevent *bev, void *arg)
{
    struct px_conn *c = arg;
    struct bufferevent *to = bev == c->client ? c->origin : c->client;

    if (!to) { /* closing: what arrives now has nowhere to go */
        evbuffer_drain(bufferevent_get_input(bev),
                       evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    evbuffer_add_buffer(bufferevent_get_output(to),
                        bufferevent_get_input(bev));
}

/* Either side of a tunnel (or a client) closed or failed: flush what the
   other side still has to get, then close. */
static void px_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct px_conn *c = arg;

    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (c->tunnel == 1 && bev == c->origin && c->client) {
        px_relay(bev, c);
        bufferevent_free(c->origin);
        c->origin = NULL;
        c->tunnel = -1;
        bufferevent_disable(c->client, EV_READ);
        px_on_write(c->client, c);
        return;
    }
    px_close(c);
}

/* Origin connect finished (or failed) for a CONNECT. */
static void px_on_origin(struct bufferevent *bev, short what, void *arg)
{
    struct px_conn *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        c->tunnel = 1;
        evbuffer_add_printf(bufferevent_get_output(c->client),
                            "HTTP/1.1 200 Connection established\r\n\r\n");
        bufferevent_setcb(c->origin, px_relay, NULL, px_on_event, c);
        bufferevent_setcb(c->client, px_relay, px_on_write, px_on_event, c);
        bufferevent_enable(c->origin, EV_READ | EV_WRITE);
        bufferevent_enable(c->client, EV_READ | EV_WRITE);
        px_relay(c->client, c); /* bytes sent after the head already */
        return;
    }
    bufferevent_free(bev);
    c->origin = NULL;
    px_answer(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
}

/* Starts a CONNECT to target "HOST:PORT" or "[V6]:PORT". */
static void px_connect(struct px_conn *c, char *target)
{
    char *colon = strrchr(target, ':'), *host = target;
    struct sockaddr_storage ss;
    socklen_t len;
    unsigned long port;

    if (!colon || ts_parse_num(colon + 1, 65535, &port) != 0 || port == 0)
        goto bad;
    *colon = '\0';
    if (host[0] == '[' && colon[-1] == ']') {
        host++;
        colon[-1] = '\0';
    }
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if ((len = ts_loopback_addr(host, (int)port, &ss)) == 0)
        goto bad;
    c->origin = bufferevent_socket_new(bufferevent_get_base(c->client), -1,
                                       BEV_OPT_CLOSE_ON_FREE);
    if (!c->origin)
        goto bad;
    bufferevent_setcb(c->origin, NULL, NULL, px_on_origin, c);
    bufferevent_disable(c->client, EV_READ);
    if (bufferevent_socket_connect(c->origin, (struct sockaddr *)&ss,
                                   (int)len) != 0)
        px_on_origin(c->origin, BEV_EVENT_ERROR, c);
    return;
bad:
    px_answer(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
}

/* Returns 1 if head carries the credentials --proxy-auth asks for (or
   none are asked for), else 0. */
static int px_authorized(const struct ts_proxy *px, const char *head)
{
    const char *p = head;

    if (!px->auth_b64)
        return 1;
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, "Proxy-Authorization:", 20) == 0) {
            p += 20;
            p += strspn(p, " \t");
            if (strncasecmp(p, "Basic ", 6) != 0)
                return 0;
            p += 6;
            return strncmp(p, px->auth_b64, strlen(px->auth_b64)) == 0 &&
                   (p[strlen(px->auth_b64)] == '\r');
        }
    }
    return 0;
}

/* Answers one complete head[0..n) (NUL-terminated). */
static void px_request(struct px_conn *c, char *head)
{
    char method[16], target[2048];
    char body[2200], reply[2600];

    if (sscanf(head, "%15s %2047s HTTP/1.", method, target) != 2)
        goto bad;
    if (!px_authorized(c->px, head)) {
        px_answer(c, "HTTP/1.1 407 Proxy Authentication Required\r\n"
                     "Proxy-Authenticate: Basic realm=\"mp\"\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    if (strcmp(method, "CONNECT") == 0) {
        px_connect(c, target);
        return;
    }
    if (strncasecmp(target, "http://", 7) != 0)
        goto bad;
    snprintf(body, sizeof body, "proxied %s %s\n", method, target);
    snprintf(reply, sizeof reply,
             "HTTP/1.1 203 Non-Authoritative Information\r\n"
             "Content-Type: text/plain\r\nX-Mp-Proxy: 1\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(body), strcmp(method, "HEAD") == 0 ? "" : body);
    px_answer(c, reply);
    return;
bad:
    px_answer(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
}

/* Read callback before the head is complete. */
static void px_on_read(struct bufferevent *bev, void *arg)
{
    struct px_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    char *head;
    size_t n;

    if (c->tunnel) {
        px_relay(bev, c);
        return;
    }
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > PX_HEAD_MAX)
            px_answer(c, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    n = (size_t)end.pos + 4;
    if (!(head = malloc(n + 1))) {
        px_close(c);
        return;
    }
    evbuffer_remove(in, head, n);
    head[n] = '\0';
    px_request(c, head);
    free(head);
}

/* A client connected. */
static void px_on_accept(struct evconnlistener *l, evutil_socket_t fd,
                         struct sockaddr *sa, int salen, void *arg)
{
    struct ts_proxy *px = arg;
    struct px_conn *c = calloc(1, sizeof *c);

    (void)sa;
    (void)salen;
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->px = px;
    mp__list_push_front(&px->conns, &c->link);
    c->client = bufferevent_socket_new(evconnlistener_get_base(l), fd,
                                       BEV_OPT_CLOSE_ON_FREE);
    if (!c->client) {
        evutil_closesocket(fd);
        px_close(c);
        return;
    }
    bufferevent_setcb(c->client, px_on_read, px_on_write, px_on_event, c);
    bufferevent_enable(c->client, EV_READ | EV_WRITE);
}

/* Encodes s in base64 (RFC 4648, with padding). Returns a malloc'd
   string, or NULL. */
static char *px_b64(const char *s)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    char *r = malloc(4 * ((n + 2) / 3) + 1);
    const unsigned char *u = (const unsigned char *)s;

    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)u[i] << 16 |
                     (i + 1 < n ? (unsigned)u[i + 1] << 8 : 0) |
                     (i + 2 < n ? u[i + 2] : 0);
        r[o++] = t[v >> 18 & 63];
        r[o++] = t[v >> 12 & 63];
        r[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        r[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    r[o] = '\0';
    return r;
}

int ts_proxy_init(struct ts_proxy *px, struct event_base *base, int *lfd,
                  const char *auth)
{
    mp__list_init(&px->conns);
    if (auth && !(px->auth_b64 = px_b64(auth))) {
        fprintf(stderr, "mp-testserver: out of memory\n");
        return -1;
    }
    px->listener = evconnlistener_new(
        base, px_on_accept, px, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        0, *lfd);
    if (!px->listener) {
        fprintf(stderr, "mp-testserver: evconnlistener_new failed\n");
        return -1;
    }
    *lfd = -1;
    return 0;
}

void ts_proxy_free(struct ts_proxy *px)
{
    mp__list_node *n;

    while ((n = mp__list_first(&px->conns)) != NULL)
        px_close(MP__LIST_ENTRY(n, struct px_conn, link));
    if (px->listener)
        evconnlistener_free(px->listener);
    free(px->auth_b64);
    px->listener = NULL;
    px->auth_b64 = NULL;
}
