/*
 * mp-testdns: a tiny DNS server for the tests, on UDP 127.0.0.1 (libevent's
 * evdns server). It answers
 *   NAME.test (any depth)        A 127.0.0.1, AAAA ::1 (ttl 300)
 *   *.v4.test                    A 127.0.0.1, no AAAA (empty answer)
 *   *.silent.test                nothing at all (the query is dropped)
 *   anything else                NXDOMAIN
 * and appends one line per question to the --log file ("A name",
 * "AAAA name"), flushed before the answer leaves, so a test that got its
 * answer can count the queries that were asked.
 *
 * Usage: mp-testdns [--port N] [--log FILE] [--exit-on-stdin-eof]
 * Prints "PORT n" on stdout when ready.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/util.h>

static FILE *g_log;

/* Returns 1 if name ends with suffix (case-insensitive) and is longer. */
static int under(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);

    return n > k && strcasecmp(name + n - k, suffix) == 0;
}

/* evdns server: one request (one question in practice). */
static void on_request(struct evdns_server_request *req, void *arg)
{
    static const unsigned char v6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                         0, 0, 0, 0, 0, 0, 0, 1};
    struct in_addr v4 = {htonl(INADDR_LOOPBACK)};
    int err = DNS_ERR_NONE;

    (void)arg;
    for (int i = 0; i < req->nquestions; i++) {
        const struct evdns_server_question *q = req->questions[i];
        int a = q->type == EVDNS_TYPE_A, aaaa = q->type == EVDNS_TYPE_AAAA;
        if (g_log) {
            fprintf(g_log, "%s %s\n", a ? "A" : aaaa ? "AAAA" : "OTHER",
                    q->name);
            fflush(g_log);
        }
        if (under(q->name, ".silent.test")) {
            evdns_server_request_drop(req);
            return;
        }
        if (!under(q->name, ".test")) {
            err = DNS_ERR_NOTEXIST;
            continue;
        }
        if (a)
            evdns_server_request_add_a_reply(req, q->name, 1, &v4, 300);
        else if (aaaa && !under(q->name, ".v4.test"))
            evdns_server_request_add_aaaa_reply(req, q->name, 1, v6, 300);
    }
    evdns_server_request_respond(req, err);
}

/* stdin (--exit-on-stdin-eof): EOF ends the loop. */
static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    char buf[256];
    ssize_t n;

    (void)what;
    while ((n = read(fd, buf, sizeof buf)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    struct event_base *base;
    struct evdns_server_port *port;
    struct event *in_ev = NULL;
    int fd, watch = 0, want = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exit-on-stdin-eof") == 0)
            watch = 1;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            want = atoi(argv[++i]);
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
            if (!(g_log = fopen(argv[++i], "a"))) {
                perror(argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: mp-testdns [--port N] [--log FILE] "
                            "[--exit-on-stdin-eof]\n");
            return 2;
        }
    }
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)want);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        perror("mp-testdns: socket");
        return 1;
    }
    base = event_base_new();
    port = base ? evdns_add_server_port_with_base(base, fd, 0, on_request,
                                                  NULL)
                : NULL;
    if (watch && base) {
        in_ev = event_new(base, 0, EV_READ | EV_PERSIST, on_stdin, base);
        if (!in_ev || event_add(in_ev, NULL) != 0)
            port = NULL;
    }
    if (!port) {
        fprintf(stderr, "mp-testdns: libevent setup failed\n");
        return 1;
    }
    printf("PORT %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    event_base_dispatch(base);
    evdns_close_server_port(port);
    if (in_ev)
        event_free(in_ev);
    event_base_free(base);
    close(fd);
    if (g_log)
        fclose(g_log);
    return 0;
}
