/*
 * Helpers for the cmocka suites; see testutil.h.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000
#define IO_TIMEOUT_S 10
#define MAX_ARGS 32

extern char **environ;

/* ---- processes ------------------------------------------------------ */

/* The function returns milliseconds on the monotonic clock. */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms milliseconds; only for bounded polling of outside processes. */
static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Starts argv[0] (a path, or a name looked up in PATH) with stdin from
 * in_fd, stdout to out_fd and stderr to err_fd (-1: /dev/null for stdin,
 * inherited for the others), default signal handling, an empty mask and
 * no fds beyond 0-2. The function returns 0 and stores the pid in *pid,
 * or -1 after a message. */
static int spawn(char *const argv[], int in_fd, int out_fd, int err_fd,
                 pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int rc;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (err_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "testutil: posix_spawn(%s): %s\n", argv[0],
                strerror(rc));
        return -1;
    }
    return 0;
}

/* Waits up to timeout_ms for pid to exit, reaping it. The function
 * returns 1 with the wait status in *status, 0 if it is still running, or
 * -1 if waitpid failed. */
static int wait_exit(pid_t pid, long timeout_ms, int *status)
{
    long long deadline = now_ms() + timeout_ms;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    pid_t r;

    for (;;) {
        while ((r = waitpid(pid, status, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (r != 0 || now_ms() >= deadline)
            break;
        if (fd >= 0) {
            struct pollfd p = {fd, POLLIN, 0};
            poll(&p, 1, (int)(deadline - now_ms()));
        } else {
            nap_ms(10);
        }
    }
    if (fd >= 0)
        close(fd);
    return r == pid ? 1 : r == 0 ? 0 : -1;
}

/* Ends pid: SIGTERM, SIGKILL if it is still there after the bound. The
 * function returns its wait status, or -1 if it could not be reaped. */
static int terminate(pid_t pid)
{
    int status = -1;

    kill(pid, SIGTERM);
    if (wait_exit(pid, STOP_TIMEOUT_MS, &status) == 0) {
        fprintf(stderr, "testutil: pid %d ignored SIGTERM; killing it\n",
                (int)pid);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    return status;
}

/* ---- mp-testserver -------------------------------------------------- */

/* Where the build put the servers (tests/CMakeLists.txt says). */
#ifndef TU_TESTSERVER_BIN
#define TU_TESTSERVER_BIN "tools/mp-testserver"
#endif
#ifndef TU_TESTDNS_BIN
#define TU_TESTDNS_BIN "tools/mp-testdns"
#endif
#ifndef TU_BADSERVER_BIN
#define TU_BADSERVER_BIN "tools/mp-badserver"
#endif

/* Finds a server binary: $env, else the one the build made (built). The
 * function returns 0 with its path in out, or -1. */
static int find_server(const char *env_name, const char *built, char *out,
                       size_t len)
{
    const char *env = getenv(env_name);

    snprintf(out, len, "%s", env != NULL && *env != '\0' ? env : built);
    return access(out, X_OK);
}

/* Reads from fd until a line "PORT n" arrives, for timeout_ms at most; a
 * "TLS_PORT n" line before it is stored in *tls_port. The function returns
 * n, or -1 on EOF, timeout or a malformed line. */
static int read_port(int fd, long timeout_ms, int *tls_port)
{
    long long deadline = now_ms() + timeout_ms;
    char text[256];
    size_t used = 0;
    int port;

    for (;;) {
        char *line = text, *nl;
        struct pollfd p = {fd, POLLIN, 0};
        long long left = deadline - now_ms();
        ssize_t n;

        text[used] = '\0';
        while ((nl = strchr(line, '\n')) != NULL) {
            if (sscanf(line, "TLS_PORT %d", tls_port) == 1) {
                line = nl + 1;
                continue;
            }
            if (sscanf(line, "PORT %d", &port) != 1 || port <= 0 ||
                port > 65535)
                return -1;
            return port;
        }
        if (used >= sizeof(text) - 1 || left <= 0 ||
            poll(&p, 1, (int)left) == 0)
            return -1;
        n = read(fd, text + used, sizeof(text) - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        used += (size_t)n;
    }
}

/* Splits a copy of words into argv after the fixed entries already in it
 * (*argc of them). The function returns the copy (free it after the
 * spawn), or NULL if there were too many words or no memory. */
static char *split_args(const char *words, char **argv, int *argc)
{
    char *copy = strdup(words != NULL ? words : ""), *save = NULL, *w;

    if (copy == NULL)
        return NULL;
    for (w = strtok_r(copy, " \t\n", &save); w != NULL;
         w = strtok_r(NULL, " \t\n", &save)) {
        if (*argc >= MAX_ARGS - 1) {
            free(copy);
            return NULL;
        }
        argv[(*argc)++] = w;
    }
    argv[*argc] = NULL;
    return copy;
}

/* Runs the server argv with a pipe on its stdin (write end kept in
 * s->stdin_fd) and one on its stdout, read for the PORT line. The function
 * returns 0 with s->pid and s->port set, or -1 after a message (s->pid and
 * s->stdin_fd then say what tu_ts_stop must clean up). */
static int ts_spawn(tu_ts *s, char *const argv[])
{
    int in[2], out[2], rc;

    if (pipe2(in, O_CLOEXEC) != 0) {
        perror("testutil: pipe2");
        return -1;
    }
    s->stdin_fd = in[1];
    if (pipe2(out, O_CLOEXEC) != 0) {
        perror("testutil: pipe2");
        close(in[0]);
        return -1;
    }
    rc = spawn(argv, in[0], out[1], -1, &s->pid);
    close(in[0]);
    close(out[1]); /* so a server that dies means EOF, not a wait */
    if (rc == 0 &&
        (s->port = read_port(out[0], START_TIMEOUT_MS, &s->tls_port)) < 0) {
        fprintf(stderr, "testutil: %s printed no PORT line\n", argv[0]);
        rc = -1;
    }
    close(out[0]);
    return rc;
}

/* Starts the server bin (see tu_ts_start). The function returns 0 or -1. */
static int server_start(tu_ts *s, const char *env_name, const char *built,
                        const char *extra_args)
{
    char path[PATH_MAX], *argv[MAX_ARGS], *copy;
    int argc = 0, i;

    memset(s, 0, sizeof(*s));
    s->stdin_fd = -1;
    s->exit_status = -1;
    if (find_server(env_name, built, path, sizeof(path)) != 0) {
        fprintf(stderr, "testutil: server not found (set %s); last tried "
                        "%s\n", env_name, path);
        return -1;
    }
    argv[argc++] = path;
    argv[argc++] = "--exit-on-stdin-eof";
    if ((copy = split_args(extra_args, argv, &argc)) == NULL) {
        fprintf(stderr, "testutil: bad extra_args \"%s\"\n", extra_args);
        return -1;
    }
    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--host") == 0 && strchr(argv[i + 1], ':'))
            s->ipv6 = 1;
    if (ts_spawn(s, argv) != 0) {
        free(copy);
        tu_ts_stop(s);
        return -1;
    }
    free(copy);
    snprintf(s->base, sizeof(s->base),
             s->ipv6 ? "http://[::1]:%d" : "http://127.0.0.1:%d", s->port);
    return 0;
}

int tu_ts_start(tu_ts *s, const char *extra_args)
{
    return server_start(s, "MP_TEST_SERVER", TU_TESTSERVER_BIN, extra_args);
}

int tu_bs_start(tu_ts *s, const char *extra_args)
{
    return server_start(s, "MP_BAD_SERVER", TU_BADSERVER_BIN, extra_args);
}

int tu_h2reset_start(tu_ts *s, const char *cert, const char *key)
{
    char args[2 * PATH_MAX + 32];

    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s", cert, key);
    return server_start(s, "MP_H2RESET", TU_H2RESET_PY, args);
}

int tu_dns_start(tu_ts *s, const char *extra_args)
{
    return server_start(s, "MP_TEST_DNS", TU_TESTDNS_BIN, extra_args);
}

long tu_dns_queries(const char *log, const char *type, const char *name)
{
    FILE *f = fopen(log, "r");
    char line[512], want[300];
    long n = 0;

    if (!f)
        return errno == ENOENT ? 0 : -1;
    snprintf(want, sizeof want, "%s %s\n", type, name);
    while (fgets(line, sizeof line, f))
        if (strcasecmp(line, want) == 0)
            n++;
    fclose(f);
    return n;
}

void tu_ts_stop(tu_ts *s)
{
    if (s->pid > 0)
        s->exit_status = terminate(s->pid);
    s->pid = 0;
    if (s->stdin_fd >= 0)
        close(s->stdin_fd);
    s->stdin_fd = -1;
}

/* Connects to the server. The function returns a socket with 10 s send
 * and receive timeouts, or -1. */
static int ts_connect(const tu_ts *s)
{
    struct sockaddr_in v4 = {0};
    struct sockaddr_in6 v6 = {0};
    struct timeval tv = {IO_TIMEOUT_S, 0};
    int fd = socket(s->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
                    0);
    int rc;

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (s->ipv6) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons((uint16_t)s->port);
        v6.sin6_addr = in6addr_loopback;
        rc = connect(fd, (struct sockaddr *)&v6, sizeof(v6));
    } else {
        v4.sin_family = AF_INET;
        v4.sin_port = htons((uint16_t)s->port);
        v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&v4, sizeof(v4));
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads fd to EOF. The function returns the bytes, NUL-terminated and
 * malloc'd, with their count in *len, or NULL. */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap), *n;
    ssize_t r;

    while (buf != NULL) {
        if (used + 1 == cap) {
            if ((n = realloc(buf, cap * 2)) == NULL)
                break;
            buf = n;
            cap *= 2;
        }
        r = read(fd, buf + used, cap - 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (r == 0) {
            buf[used] = '\0';
            *len = used;
            return buf;
        }
        used += (size_t)r;
    }
    free(buf);
    return NULL;
}

int tu_ts_http_get(const tu_ts *s, const char *path, char **body)
{
    char req[1024], *resp = NULL, *sep;
    size_t len = 0;
    int fd, n, status = -1;

    if ((fd = ts_connect(s)) < 0)
        return -1;
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n",
                 path);
    if (n > 0 && (size_t)n < sizeof(req) &&
        send(fd, req, (size_t)n, MSG_NOSIGNAL) == n)
        resp = read_all(fd, &len);
    close(fd);
    if (resp == NULL || sscanf(resp, "HTTP/1.%*d %d", &status) != 1 ||
        (sep = strstr(resp, "\r\n\r\n")) == NULL) {
        free(resp);
        return -1;
    }
    if (body != NULL) {
        memmove(resp, sep + 4, len - (size_t)(sep + 4 - resp) + 1);
        *body = resp;
    } else {
        free(resp);
    }
    return status;
}

/* Finds "name": in JSON text. The function returns 0 and the number
 * after it in *out (if out is not NULL), or -1. */
static int json_long(const char *json, const char *name, long *out)
{
    char key[64];
    const char *p;
    char *end;
    long v;

    snprintf(key, sizeof(key), "\"%s\":", name);
    if ((p = strstr(json, key)) == NULL)
        return -1;
    v = strtol(p + strlen(key), &end, 10);
    if (end == p + strlen(key))
        return -1;
    if (out != NULL)
        *out = v;
    return 0;
}

int tu_ts_get_stats(tu_ts *s, long *connections, long *requests)
{
    char *body = NULL;
    int rc = -1;

    if (tu_ts_http_get(s, "/stats", &body) == 200 &&
        json_long(body, "connections", connections) == 0 &&
        json_long(body, "requests", requests) == 0)
        rc = 0;
    free(body);
    return rc;
}

/* Reads the field name of /stats into *v. Returns 0 or -1. */
static int stats_field(tu_ts *s, const char *name, long *v)
{
    char *body = NULL;
    int rc = -1;

    if (tu_ts_http_get(s, "/stats", &body) == 200 &&
        json_long(body, name, v) == 0)
        rc = 0;
    free(body);
    return rc;
}

int tu_ts_get_max_open(tu_ts *s, long *max_open)
{
    return stats_field(s, "max_open", max_open);
}

int tu_ts_get_open(tu_ts *s, long *open)
{
    return stats_field(s, "open", open);
}

/* ---- ports and directories ------------------------------------------ */

int tu_free_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    if (fd < 0)
        return -1;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int tu_listen(int *port, int backlog)
{
    struct sockaddr_in a = {0};
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

void tu_proxy_env_clear(void)
{
    static const char *const all[] = {
        "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
        "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        unsetenv(all[i]);
}

char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];

    if (base == NULL || *base == '\0')
        base = "/tmp";
    snprintf(tmpl, sizeof(tmpl), "%s/mp-test-XXXXXX", base);
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "testutil: mkdtemp(%s): %s\n", tmpl, strerror(errno));
        return NULL;
    }
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int type,
                  struct FTW *ftw)
{
    if (remove(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "testutil: remove(%s): %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int tu_rm_rf(const char *dir)
{
    if (dir == NULL || *dir == '\0' || strcmp(dir, "/") == 0)
        return -1;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* ---- nginx ---------------------------------------------------------- */

/* tools/nginx.sh is the one place that configures and starts nginx; the
 * benchmarks run it too. */
#ifndef TU_NGINX_SH
#define TU_NGINX_SH "tools/nginx.sh"
#endif
#define NGINX_SH_TIMEOUT_MS 60000 /* openssl req and three start attempts */

/* Runs "bash tools/nginx.sh cmd dir [opts...]" (opts: NULL or
 * whitespace-separated words) and waits for it (bounded). With out, its
 * stdout (NUL-terminated, up to len-1 bytes) is stored there. The function
 * returns its exit status, or -1 after a message. */
static int nginx_sh(const char *cmd, const char *dir, const char *opts,
                    char *out, size_t len)
{
    char words[256], *save = NULL, *w;
    char *argv[16] = {"bash", TU_NGINX_SH, (char *)cmd, (char *)dir};
    int argc = 4;
    long long deadline = now_ms() + NGINX_SH_TIMEOUT_MS;
    size_t used = 0;
    int p[2], status = -1;
    pid_t pid;

    snprintf(words, sizeof(words), "%s", opts ? opts : "");
    for (w = strtok_r(words, " \t", &save); w && argc < 15;
         w = strtok_r(NULL, " \t", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("testutil: pipe2");
        return -1;
    }
    if (spawn(argv, -1, p[1], -1, &pid) != 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    for (;;) { /* until EOF: nginx itself writes to its own log */
        struct pollfd pf = {p[0], POLLIN, 0};
        char buf[256], *dst = out != NULL && used + 1 < len ? out + used : buf;
        size_t room = dst == buf ? sizeof(buf) : len - 1 - used;
        long long left = deadline - now_ms();
        ssize_t n;

        if (left <= 0 || poll(&pf, 1, (int)left) == 0)
            break;
        if ((n = read(p[0], dst, room)) < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != buf)
            used += (size_t)n;
    }
    close(p[0]);
    if (out != NULL && len > 0)
        out[used] = '\0';
    if (wait_exit(pid, deadline > now_ms() ? deadline - now_ms() : 0,
                  &status) != 1) {
        fprintf(stderr, "testutil: %s %s did not finish\n", TU_NGINX_SH, cmd);
        status = terminate(pid);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Fills n from nginx.sh's output lines and DIR/nginx.master. The
 * function returns 0, or -1 if the ports or the pid are missing. */
static int nginx_parse(tu_nginx *n, const char *text)
{
    char path[PATH_MAX + 16];
    const char *line;
    FILE *f;
    int pid = 0;

    for (line = text; line != NULL && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (sscanf(line, "PORT %d", &n->port) == 1 ||
            sscanf(line, "TLS_PORT %d", &n->tls_port) == 1 ||
            sscanf(line, "TLS1_PORT %d", &n->tls1_port) == 1 ||
            sscanf(line, "TLSUP_PORT %d", &n->tlsup_port) == 1 ||
            sscanf(line, "ECHO %d", &n->has_echo) == 1)
            continue;
        if (strncmp(line, "CAFILE ", 7) == 0)
            snprintf(n->cafile, sizeof(n->cafile), "%.*s",
                     (int)strcspn(line + 7, "\n"), line + 7);
    }
    snprintf(path, sizeof(path), "%s/nginx.master", n->dir);
    if ((f = fopen(path, "r")) != NULL) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    n->pid = (pid_t)pid;
    return n->port > 0 && n->pid > 0 ? 0 : -1;
}

/* Starts a shell that waits for EOF on a pipe whose write end only we
 * hold, then sends SIGTERM to nginx: if the test dies, nginx goes too. The
 * function returns 0, or -1 (nginx then runs unguarded). */
static int start_watchdog(tu_nginx *n)
{
    char pid[16];
    char *argv[] = {"/bin/sh", "-c", "read _; kill -TERM \"$0\" 2>/dev/null",
                    pid, NULL};
    int p[2];

    snprintf(pid, sizeof(pid), "%d", (int)n->pid);
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    if (spawn(argv, p[0], -1, -1, &n->watchdog) != 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[0]);
    n->watch_fd = p[1];
    return 0;
}

int tu_nginx_start(tu_nginx *n, const char *dir, int tls)
{
    return tu_nginx_start_opts(n, dir, tls ? "--tls" : NULL);
}

int tu_nginx_start_opts(tu_nginx *n, const char *dir, const char *opts)
{
    char out[PATH_MAX + 256];
    int rc, tls = opts && strstr(opts, "--tls");

    memset(n, 0, sizeof(*n));
    n->watch_fd = -1;
    snprintf(n->dir, sizeof(n->dir), "%s", dir);
    rc = nginx_sh("start", dir, opts, out, sizeof(out));
    if (rc == 3) {
        fprintf(stderr, "testutil: nginx is not installed\n");
        return -1;
    }
    if (rc != 0 || nginx_parse(n, out) != 0 || (tls && n->tls_port <= 0)) {
        fprintf(stderr, "testutil: %s start %s failed (status %d)\n",
                TU_NGINX_SH, dir, rc);
        tu_nginx_stop(n);
        return -1;
    }
    start_watchdog(n);
    return 0;
}

void tu_nginx_stop(tu_nginx *n)
{
    if (n->watchdog > 0) {
        kill(n->watchdog, SIGKILL);
        while (waitpid(n->watchdog, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    n->watchdog = 0;
    if (n->watch_fd > 0) /* never 0: a zeroed, unstarted n is fine */
        close(n->watch_fd);
    n->watch_fd = -1;
    if (n->dir[0] != '\0')
        nginx_sh("stop", n->dir, NULL, NULL, 0);
    n->pid = 0;
}

/* Reads /proc/pid/stat into buf; returns the text after the name's ')',
   or NULL. */
static const char *proc_stat(pid_t pid, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = fgets(buf, (int)n, f);
    fclose(f);
    char *rp = s ? strrchr(buf, ')') : NULL;
    return rp && rp[1] && rp[2] ? rp + 2 : NULL; /* the name may hold ')' */
}

pid_t tu_parent_of(pid_t pid)
{
    char buf[512];
    const char *st = proc_stat(pid, buf, sizeof(buf));
    int ppid = 0;
    if (st)
        sscanf(st, "%*c %d", &ppid);
    return ppid;
}

int tu_gone(pid_t pid)
{
    char buf[512];
    const char *st = proc_stat(pid, buf, sizeof(buf));
    return !st || st[0] == 'Z' || st[0] == 'X';
}

int tu_wait_gone(const pid_t *pids, int n, int seconds)
{
    int left = n;
    for (int tries = 0; tries <= seconds * 100; tries++) {
        left = 0;
        for (int i = 0; i < n; i++)
            left += !tu_gone(pids[i]);
        if (!left)
            break;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    return left;
}

/* ---- bounds on waits ---------------------------------------------------- */

static const char *volatile bound_what;
static volatile unsigned bound_secs;
static const char *test_what;   /* the test's own bound, if any */
static time_t test_deadline;    /* CLOCK_MONOTONIC seconds */
static unsigned test_secs;

static volatile pid_t forked[8];

void tu_forked_add(pid_t pid)
{
    for (int i = 0; i < 8; i++)
        if (!forked[i]) {
            forked[i] = pid;
            return;
        }
    fprintf(stderr, "testutil: more than 8 processes to remember\n");
    abort();
}

void tu_forked_forget(pid_t pid)
{
    for (int i = 0; i < 8; i++)
        if (forked[i] == pid)
            forked[i] = 0;
}

int tu_forked_kill_all(void **state)
{
    for (int i = 0; i < 8; i++) {
        pid_t pid = forked[i];
        if (!pid)
            continue;
        kill(pid, SIGKILL);
        waitpid(pid < 0 ? -pid : pid, NULL, 0);
        forked[i] = 0;
    }
    return 0;
}

/* SIGALRM: a bound ran out. Async-signal-safe. */
static void on_bound(int sig)
{
    for (int i = 0; i < 8; i++)
        if (forked[i])
            kill(forked[i], SIGKILL);
    char num[16];
    int n = 0;
    unsigned v = bound_secs;
    do
        num[sizeof(num) - 1 - n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 15);
    static const char pre[] = "\ngave up waiting for ";
    static const char mid[] = " after ";
    static const char post[] = " s\n";
    const char *what = bound_what ? bound_what : "?";
    if (write(2, pre, sizeof(pre) - 1) < 0 ||
        write(2, what, strlen(what)) < 0 ||
        write(2, mid, sizeof(mid) - 1) < 0 ||
        write(2, num + sizeof(num) - n, (size_t)n) < 0 ||
        write(2, post, sizeof(post) - 1) < 0) {
    }
    _exit(1);
}

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

void tu_bound(unsigned seconds, const char *what)
{
    struct sigaction sa = {.sa_handler = on_bound};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    if (test_what && test_deadline - now_s() < (time_t)seconds) {
        /* the test's own bound comes first */
        time_t left = test_deadline - now_s();
        seconds = left > 0 ? (unsigned)left : 1;
        what = test_what;
        bound_secs = test_secs;
    } else {
        bound_secs = seconds;
    }
    bound_what = what;
    alarm(seconds);
}

void tu_unbound(void)
{
    alarm(0);
    bound_what = NULL;
    if (test_what) {
        time_t left = test_deadline - now_s();
        bound_what = test_what;
        bound_secs = test_secs;
        alarm(left > 0 ? (unsigned)left : 1);
    }
}

int tu_bound_setup(void **state)
{
    const tu_bound_spec *b = *state;
    test_what = NULL;
    tu_bound(b->seconds, b->what);
    test_what = b->what;
    test_secs = b->seconds;
    test_deadline = now_s() + (time_t)b->seconds;
    return 0;
}

int tu_bound_teardown(void **state)
{
    test_what = NULL;
    tu_unbound();
    return tu_forked_kill_all(state);
}

int tu_apply_copy(mp_pool *p, mp_task_fn fn, const void *in, size_t len,
                  void *out, size_t out_len, char *why, size_t why_len)
{
    mp_result r;
    int rc = mp_pool_apply(p, fn, in, len, &r);

    if (rc != 0) {
        snprintf(why, why_len, "mp_pool_apply: %s", mp_err_name(rc));
        return -1;
    }
    rc = -1;
    if (r.status != 0)
        snprintf(why, why_len, "task failed: %s (%s)", mp_err_name(r.status),
                 r.error ? r.error : "");
    else if (r.len != out_len)
        snprintf(why, why_len, "task returned %zu bytes, not %zu", r.len,
                 out_len);
    else {
        memcpy(out, r.data, out_len);
        rc = 0;
    }
    mp_result_clear(&r);
    return rc;
}

uint64_t tu_pool_destroy_deaths(mp_pool *p)
{
    mp_pool_stats st = {0};

    if (p)
        mp_pool_get_stats(p, &st);
    mp_pool_destroy(p);
    return st.workers_died;
}

/* ---- httpbin --------------------------------------------------------- */

/* Returns 1 once something accepts connections on 127.0.0.1:port. */
static int port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

pid_t tu_httpbin_start(int *port)
{
    struct timespec step = {0, 50 * 1000 * 1000};
    char p[16];
    pid_t pid;

    if (access("/usr/bin/python3", X_OK) != 0)
        return -1;
    *port = tu_free_port();
    snprintf(p, sizeof p, "%d", *port);
    if ((pid = fork()) == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execl("/usr/bin/python3", "python3", "-m", "httpbin.core", "--host",
              "127.0.0.1", "--port", p, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    tu_forked_add(pid);
    for (int i = 0; i < 400; i++) { /* a readiness check, not a delay */
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            tu_forked_forget(pid);
            return -1; /* no httpbin module */
        }
        if (port_open(*port))
            return pid;
        nanosleep(&step, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    tu_forked_forget(pid);
    return -1;
}

void tu_httpbin_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    tu_forked_forget(pid);
}
