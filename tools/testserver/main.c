/*
 * mp-testserver: the test HTTP server of the suites, the README demo and
 * the benchmarks. This file is the program: its options, its processes,
 * and what it serves (the routes, or the proxy with --proxy); server.c is
 * the core they run on (testserver.h).
 *
 * libevent evhttp, HTTP/1.1 keep-alive, loopback only. After binding it
 * prints one line "PORT <n>" on stdout. Endpoints are listed in usage().
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy.h"
#include "routes.h"
#include "testserver.h"

enum { EXIT_SYSTEM = TS_EXIT_SYSTEM, EXIT_USAGE = 2 };

struct options {
    const char *host;
    int port;
    int procs;
    int exit_on_stdin_eof;
    int proxy;              /* --proxy */
    const char *proxy_auth; /* --proxy-auth USER:PASS */
};

static void usage(FILE *f)
{
    fputs("usage: mp-testserver [--host 127.0.0.1|::1] [--port N] "
          "[--procs N] [--exit-on-stdin-eof]\n"
          "                     [--proxy [--proxy-auth USER:PASS]]\n"
          "With --proxy: a forward proxy on loopback instead of the routes\n"
          "(tools/testserver/proxy.c): absolute-form requests get 203 and\n"
          "\"proxied METHOD URL\", CONNECT tunnels to loopback ports, 502\n"
          "when the target refuses, 407 without --proxy-auth's credentials.\n"
          "Prints \"PORT <n>\" once bound, then serves HTTP/1.1 on loopback:\n",
          f);
    fputs(ts_routes_help, f);
    fputs("  /stats              {connections, requests, open, max_open}; per\n"
          "                      process (max_open: the most open at a\n"
          "                      request since the last /stats),\n"
          "                      so exact only with --procs 1 (the default)\n",
          f);
}

/* Parses the command line into o. The function returns 0, or an exit
 * status after saying what is wrong. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"procs", required_argument, NULL, 'n'},
        {"exit-on-stdin-eof", no_argument, NULL, 'e'},
        {"proxy", no_argument, NULL, 'P'},
        {"proxy-auth", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0}};
    unsigned long v;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': o->host = optarg; break;
        case 'e': o->exit_on_stdin_eof = 1; break;
        case 'P': o->proxy = 1; break;
        case 'A': o->proxy_auth = optarg; break;
        case 'H': usage(stdout); exit(0);
        case 'p':
            if (ts_parse_num(optarg, 65535, &v) != 0) {
                fprintf(stderr, "mp-testserver: --port must be 0-65535, "
                                "got %s\n", optarg);
                return EXIT_USAGE;
            }
            o->port = (int)v;
            break;
        case 'n':
            if (ts_parse_num(optarg, 256, &v) != 0 || v < 1) {
                fprintf(stderr, "mp-testserver: --procs must be 1-256, "
                                "got %s\n", optarg);
                return EXIT_USAGE;
            }
            o->procs = (int)v;
            break;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mp-testserver: unexpected argument %s\n", argv[optind]);
        return EXIT_USAGE;
    }
    return 0;
}

/* Forks procs-1 helpers serving lfd too; they die with us. The function
 * returns 1 in a helper, 0 in the parent (kids[] filled, *nkids set). */
static int fork_helpers(int procs, pid_t *kids, int *nkids)
{
    pid_t parent = getpid();
    int i;

    for (i = 0; i < procs - 1; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("mp-testserver: fork");
            break;
        }
        if (pid == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
                _exit(0);
            return 1;
        }
        kids[(*nkids)++] = pid;
    }
    return 0;
}

/* mp-testserver --proxy: the proxy's state and credentials, per process. */
struct proxy_arg {
    struct ts_proxy px;
    const char *auth;
};

static int proxy_start(void *arg, struct event_base *base, int *lfd)
{
    struct proxy_arg *a = arg;

    return ts_proxy_init(&a->px, base, lfd, a->auth);
}

static void proxy_stop(void *arg)
{
    ts_proxy_free(&((struct proxy_arg *)arg)->px);
}

/* Serves lfd (see ts_serve) with the routes, or the proxy with --proxy.
 * The function returns the exit status. */
static int serve(int lfd, int watch_stdin, const sigset_t *stops,
                 const struct options *o)
{
    struct proxy_arg pa;
    struct ts_service svc = {ts_routes, ts_nroutes, NULL, NULL, NULL};

    memset(&pa, 0, sizeof(pa));
    pa.auth = o->proxy_auth;
    if (o->proxy)
        svc = (struct ts_service){NULL, 0, proxy_start, proxy_stop, &pa};
    return ts_serve(lfd, watch_stdin, stops, &svc);
}

int main(int argc, char **argv)
{
    struct options o = {"127.0.0.1", 0, 1, 0, 0, NULL};
    pid_t kids[256];
    sigset_t stops;
    int nkids = 0, lfd, port, rc, i;

    if ((rc = parse_args(argc, argv, &o)) != 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    if (ts_routes_init() != 0)
        return EXIT_SYSTEM;
    if ((lfd = ts_listen(o.host, o.port, &port)) < 0) {
        ts_routes_free();
        return EXIT_SYSTEM;
    }
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_BLOCK, &stops, NULL);
    printf("PORT %d\n", port);
    fflush(stdout);
    if (fork_helpers(o.procs, kids, &nkids)) {
        rc = serve(lfd, 0, &stops, &o);
        ts_routes_free();
        return rc;
    }
    rc = serve(lfd, o.exit_on_stdin_eof, &stops, &o);
    for (i = 0; i < nkids; i++)
        kill(kids[i], SIGTERM);
    for (i = 0; i < nkids; i++) {
        int st = 0;

        while (waitpid(kids[i], &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "mp-testserver: helper %d failed (status %d)\n",
                    (int)kids[i], st);
            rc = EXIT_SYSTEM;
        }
    }
    ts_routes_free();
    return rc;
}