/*
 * mp-badserver: an HTTP server that misbehaves on purpose, one path per
 * behaviour, for the error-code tests (tests/test_errors_e2e.c). The table
 * in usage() lists the paths; /ok is the one well-behaved answer.
 *
 * Raw sockets, one forked process per connection: each behaviour is a
 * straight-line function that writes what it wants and sleeps where it
 * wants, and a slow one never holds up the others. A child dies with the
 * server (PR_SET_PDEATHSIG), when its client leaves, and after
 * CHILD_LIFETIME_S in any case; children are reaped by the kernel
 * (SA_NOCLDWAIT). Loopback only.
 *
 * The HTTP port answers a TLS ClientHello with a plain-text HTTP reply,
 * which is what a client sees from a "TLS" port that speaks plain text.
 * With --tls-cert and --tls-key, a second port (TLS_PORT) serves the same
 * paths over TLS with that certificate (the tests make one for another
 * name).
 *
 * Prints "TLS_PORT <n>" (with TLS) and "PORT <n>" once bound. This is a tool, not
 * part of the library: its prefix is bs_.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define HEAD_MAX 65536          /* request head we read */
#define CHILD_LIFETIME_S 120    /* a connection's process lives at most */
#define IO_WAIT_MS 30000        /* a client silent this long is gone */
#define HUGE_LINE (1u << 20)    /* /huge-header: a 1 MiB header line */
#define ENDLESS_CAP (4ull << 30) /* /endless-chunked stops after 4 GiB */
#define TRICKLE_MS 500          /* /trickle: one byte per this */
#define TRICKLE_LEN 100
#define LATE_BODY_MS 2000       /* /head-body-late waits at most */
#define MAX_HEADERS 1000000ul   /* /headers/N and /header-bytes/N limits */
#define MAX_HEADER_BYTES (64ul << 20)

enum { EXIT_SYSTEM = 1, EXIT_USAGE = 2 };

/* One client connection, in its own process. */
typedef struct bs_conn {
    int fd;
    SSL *ssl;              /* NULL on the plain port */
    char head[HEAD_MAX + 1];
    size_t head_len;
    char method[16];
    char path[1024];
} bs_conn;

/* ---- I/O -------------------------------------------------------------- */

/* Waits until fd is readable (or the client left). The function returns 1
 * if it is, 0 after ms without anything. */
static int readable(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int rc;

    while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    return rc > 0;
}

/* Writes all n bytes. The function returns 0, or -1 (the client left). */
static int bs_write(bs_conn *c, const void *buf, size_t n)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t w;

        if (c->ssl != NULL) {
            int r = SSL_write(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);
            w = r > 0 ? r : -1;
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
        }
        if (w < 0 && errno == EINTR && c->ssl == NULL)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Formats and writes. The function returns as bs_write. */
static int bs_printf(bs_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bs_printf(bs_conn *c, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    return bs_write(c, buf, (size_t)n);
}

/* Reads some bytes. The function returns their count, 0 at EOF or after
 * IO_WAIT_MS of silence, -1 on error. */
static ssize_t bs_read(bs_conn *c, void *buf, size_t n)
{
    ssize_t r;

    if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
        return SSL_read(c->ssl, buf, (int)n);
    if (!readable(c->fd, IO_WAIT_MS))
        return 0;
    if (c->ssl != NULL)
        return SSL_read(c->ssl, buf, (int)n);
    while ((r = recv(c->fd, buf, n, 0)) < 0 && errno == EINTR)
        ;
    return r;
}

/* Waits until the client leaves (or CHILD_LIFETIME_S ends us). */
static void wait_gone(bs_conn *c)
{
    char buf[4096];

    while (bs_read(c, buf, sizeof(buf)) > 0)
        ;
}

/* Sleeps ms, or less if the client leaves. The function returns 0, or -1
 * if the client left. */
static int nap(bs_conn *c, int ms)
{
    char buf[4096];

    if (!readable(c->fd, ms))
        return 0;
    /* Data (a pipelined request) is not a departure; EOF is. */
    return recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) > 0 ? 0
                                                                      : -1;
}

/* Ends the connection with a TCP reset instead of a FIN. */
static void reset(bs_conn *c)
{
    struct linger l = {1, 0};

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(c->fd);
    c->fd = -1;
}

/* Reads the request head (through the blank line). The function returns
 * 0, 1 if the client opened with a TLS handshake on the plain port, or -1
 * (nothing usable). */
static int read_head(bs_conn *c)
{
    while (c->head_len < HEAD_MAX) {
        ssize_t r = bs_read(c, c->head + c->head_len, HEAD_MAX - c->head_len);

        if (r <= 0)
            return -1;
        c->head_len += (size_t)r;
        c->head[c->head_len] = '\0';
        if (c->ssl == NULL && (unsigned char)c->head[0] == 0x16)
            return 1;
        if (strstr(c->head, "\r\n\r\n") != NULL)
            break;
    }
    if (sscanf(c->head, "%15s %1023s", c->method, c->path) != 2)
        return -1;
    return 0;
}

/* ---- behaviours ------------------------------------------------------- */

/* Each takes the connection and the text after its path prefix. The
 * connection is closed after it returns (under /ka/: the next request is
 * read). */
typedef void bs_fn(bs_conn *c, const char *arg);

/* Parses a decimal number up to max. The function returns 0 and stores it
 * in *out, or -1. */
static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static void b_ok(bs_conn *c, const char *arg)
{
    bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                 "Content-Type: text/plain\r\nConnection: close\r\n\r\nok\n");
}

static void b_not_http(bs_conn *c, const char *arg)
{
    bs_printf(c, "NOT HTTP AT ALL\r\n");
}

/* A 1 MiB header line. */
static void b_huge_header(bs_conn *c, const char *arg)
{
    static char line[HUGE_LINE];

    memset(line, 'a', sizeof(line));
    if (bs_printf(c, "HTTP/1.1 200 OK\r\nX-Huge: ") == 0 &&
        bs_write(c, line, sizeof(line)) == 0)
        bs_printf(c, "\r\nContent-Length: 3\r\n\r\nok\n");
}

static void b_bad_chunk(bs_conn *c, const char *arg)
{
    bs_printf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "ZZZ\r\nhello\r\n0\r\n\r\n");
}

/* Chunks of 64 KiB until the client leaves (or ENDLESS_CAP). */
static void b_endless_chunked(bs_conn *c, const char *arg)
{
    static char chunk[65536 + 16];
    unsigned long long sent = 0;
    int n = snprintf(chunk, 16, "%x\r\n", 65536);

    memset(chunk + n, 'x', 65536);
    memcpy(chunk + n + 65536, "\r\n", 2);
    if (bs_printf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        return;
    while (sent < ENDLESS_CAP &&
           bs_write(c, chunk, (size_t)n + 65536 + 2) == 0)
        sent += 65536;
}

/* Announces 100 bytes, sends 3, closes. */
static void b_short_body(bs_conn *c, const char *arg)
{
    bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
}

/* One byte of 100 every TRICKLE_MS. */
static void b_trickle(bs_conn *c, const char *arg)
{
    if (bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                  TRICKLE_LEN))
        return;
    for (int i = 0; i < TRICKLE_LEN; i++)
        if (bs_write(c, "x", 1) != 0 || nap(c, TRICKLE_MS) != 0)
            return;
}

/* /redirect/SCHEME: 302 to SCHEME://... (file:///etc/passwd for file). */
static void b_redirect(bs_conn *c, const char *arg)
{
    const char *to = strcmp(arg, "file") == 0 ? "file:///etc/passwd"
                     : strcmp(arg, "ok") == 0 ? "/ok"
                                              : NULL;
    char loc[128];

    if (to == NULL) {
        snprintf(loc, sizeof(loc), "%.20s://127.0.0.1/", arg);
        to = loc;
    }
    bs_printf(c, "HTTP/1.1 302 Found\r\nLocation: %s\r\n"
                 "Content-Length: 0\r\n\r\n", to);
}

static void b_bad_gzip(bs_conn *c, const char *arg)
{
    bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                 "Content-Length: 21\r\nContent-Type: text/plain\r\n\r\n"
                 "this is not gzip data");
}

/* /headers/N: N header lines in all (Content-Length included). */
static void b_headers(bs_conn *c, const char *arg)
{
    unsigned long n;

    if (parse_num(arg, MAX_HEADERS, &n) != 0 || n < 1) {
        bs_printf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    if (bs_printf(c, "HTTP/1.1 200 OK\r\n"))
        return;
    for (unsigned long i = 1; i < n; i++)
        if (bs_printf(c, "X-H%lu: v\r\n", i))
            return;
    bs_printf(c, "Content-Length: 3\r\n\r\nok\n");
}

/* /header-bytes/N: a header block (status line through the blank line) of
 * exactly N bytes, in lines of at most 1000 bytes. */
static void b_header_bytes(bs_conn *c, const char *arg)
{
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    static const char tail[] = "Content-Length: 3\r\n\r\n";
    const size_t fixed = sizeof(status) - 1 + sizeof(tail) - 1;
    const size_t min_line = 8; /* "X-P: a\r\n" */
    char line[1024];
    unsigned long n;
    size_t left;

    if (parse_num(arg, MAX_HEADER_BYTES, &n) != 0 || n < fixed + min_line) {
        bs_printf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    if (bs_printf(c, "%s", status))
        return;
    for (left = n - fixed; left > 0;) {
        /* A line "X-P: aaa\r\n" of len bytes, 1000 at most, never
           leaving a rest shorter than the shortest line. */
        size_t len = left > 1000 ? 1000 : left;

        if (left > 1000 && left - len < min_line)
            len = left - min_line;
        memcpy(line, "X-P: ", 5);
        memset(line + 5, 'a', len - 7);
        memcpy(line + len - 2, "\r\n", 2);
        if (bs_write(c, line, len))
            return;
        left -= len;
    }
    bs_printf(c, "%sok\n", tail);
}

/* Half a header block, then a TCP reset. */
static void b_reset_mid_header(bs_conn *c, const char *arg)
{
    if (bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Ty") == 0)
        reset(c);
}

static void b_continue_then_nothing(bs_conn *c, const char *arg)
{
    if (bs_printf(c, "HTTP/1.1 100 Continue\r\n\r\n") == 0)
        wait_gone(c);
}

/* Content-Length and Transfer-Encoding: chunked on one response. */
static void b_cl_and_te(bs_conn *c, const char *arg)
{
    bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n");
}

/* /status/NNN: a status line with that code, whatever it is. */
static void b_status(bs_conn *c, const char *arg)
{
    bs_printf(c, "HTTP/1.1 %.3s Odd\r\nContent-Length: 3\r\n\r\nok\n", arg);
}

/* A body after the headers whatever the method, HEAD included. */
static void b_head_body(bs_conn *c, const char *arg)
{
    bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

/* A body after the head even for HEAD, written when the client's next
 * request on the connection arrives (or after LATE_BODY_MS): a client
 * that kept the connection reads it as the start of its next response.
 * Under /ka/ (keep-alive) it is what the client's next request gets. */
static void b_head_body_late(bs_conn *c, const char *arg)
{
    if (bs_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") == 0 &&
        nap(c, LATE_BODY_MS) == 0)
        bs_printf(c, "hello");
}

static void b_hang(bs_conn *c, const char *arg)
{
    wait_gone(c);
}

/* ---- coded bodies (/coded/NAME): codings other servers get wrong ---- */

#define GZ_HELLO "\x1f\x8b\x08\0\0\0\0\0\x02\x03\xcb\x48\xcd\xc9\xc9\x07" \
                 "\0\x86\xa6\x10\x36\x05\0\0\0" /* gzip of "hello": 25 bytes */
#define BODY(lit) lit, sizeof(lit) - 1 /* a body literal and its length */

static const struct {
    const char *name, *head, *body;
    size_t body_len;
} coded[] = {
    {"te-gzip-chunked", "Transfer-Encoding: gzip, chunked\r\n",
     BODY("19\r\n" GZ_HELLO "\r\n0\r\n\r\n")},
    {"te-gzip", "Transfer-Encoding: gzip\r\nConnection: close\r\n",
     BODY(GZ_HELLO)},
    {"gzip-trailing", "Content-Encoding: gzip\r\nContent-Length: 30\r\n",
     BODY(GZ_HELLO "junk!")},
    {"too-many", "Content-Encoding: identity, identity, identity, "
                 "identity, identity, identity\r\nContent-Length: 5\r\n",
     BODY("hello")},
};

/* /coded/NAME: the head and body of coded[NAME]. */
static void b_coded(bs_conn *c, const char *arg)
{
    for (size_t i = 0; i < sizeof(coded) / sizeof(coded[0]); i++)
        if (strcmp(arg, coded[i].name) == 0) {
            if (bs_printf(c, "HTTP/1.1 200 OK\r\n%s\r\n", coded[i].head) == 0)
                bs_write(c, coded[i].body, coded[i].body_len);
            return;
        }
    bs_printf(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

static const struct bs_route {
    const char *path;
    int prefix;
    bs_fn *fn;
    const char *help;
} routes[] = {
    {"/ok", 0, b_ok, "200 ok"},
    {"/not-http", 0, b_not_http, "NOT HTTP AT ALL, then close"},
    {"/huge-header", 0, b_huge_header, "a 1 MiB header line"},
    {"/bad-chunk", 0, b_bad_chunk, "chunked, chunk size ZZZ"},
    {"/endless-chunked", 0, b_endless_chunked, "chunks until the client leaves"},
    {"/short-body", 0, b_short_body, "Content-Length: 100, 3 bytes, close"},
    {"/trickle", 0, b_trickle, "100 bytes, one every 0.5 s"},
    {"/redirect/", 1, b_redirect, "/redirect/SCHEME: 302 to SCHEME:// "
                                  "(file: is file:///etc/passwd; ok: /ok)"},
    {"/bad-gzip", 0, b_bad_gzip, "Content-Encoding: gzip, plain body"},
    {"/headers/", 1, b_headers, "/headers/N: N header lines"},
    {"/header-bytes/", 1, b_header_bytes,
     "/header-bytes/N: a header block of exactly N bytes"},
    {"/reset-mid-header", 0, b_reset_mid_header, "half a header, TCP RST"},
    {"/continue-then-nothing", 0, b_continue_then_nothing,
     "100 Continue, then silence"},
    {"/cl-and-te", 0, b_cl_and_te,
     "Content-Length and Transfer-Encoding: chunked"},
    {"/status/", 1, b_status, "/status/NNN: that status line, even 999"},
    {"/head-body", 0, b_head_body, "a body even for HEAD"},
    {"/head-body-late", 0, b_head_body_late,
     "a body even for HEAD, sent once the next request arrives"},
    {"/hang", 0, b_hang, "never answers"},
    {"/coded/", 1, b_coded, "/coded/NAME: te-gzip-chunked (Transfer-Encoding:"
                            " gzip, chunked), te-gzip (no chunked: to the "
                            "close), gzip-trailing (junk after the gzip), "
                            "too-many (6 Content-Encodings)"},
};

/* Answers one request for path with its behaviour (404 if none). */
static void serve_path(bs_conn *c, const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct bs_route *r = &routes[i];
        size_t n = strlen(r->path);

        if (r->prefix ? strncmp(path, r->path, n) == 0
                      : strcmp(path, r->path) == 0) {
            r->fn(c, path + (r->prefix ? n : 0));
            return;
        }
    }
    bs_printf(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

/* Serves one connection (its requests, under /ka/); runs in its own
   process. */
static void serve_conn(int fd, SSL_CTX *tls)
{
    static bs_conn c; /* HEAD_MAX is too big for a small stack */
    const char *path;
    int rc, keep;

    c.fd = fd;
    if (tls != NULL) {
        if ((c.ssl = SSL_new(tls)) == NULL || SSL_set_fd(c.ssl, fd) != 1 ||
            SSL_accept(c.ssl) != 1)
            return; /* e.g. the client refused our certificate */
    }
    for (;;) {
        if ((rc = read_head(&c)) == 1) {
            bs_printf(&c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 34\r\n"
                          "Connection: close\r\n\r\n"
                          "plain HTTP on this port, not TLS\r\n");
            return;
        }
        if (rc != 0)
            return;
        /* /ka/PATH: PATH's behaviour, then the next request (keep-alive) */
        keep = strncmp(c.path, "/ka/", 4) == 0;
        path = c.path + (keep ? 3 : 0);
        serve_path(&c, path);
        if (!keep || c.fd < 0)
            return;
        c.head_len = 0;
    }
}

/* ---- the server ------------------------------------------------------- */

/* Binds and listens on 127.0.0.1, any port. The function returns the
 * socket and stores its port in *port, or -1 after a message. */
static int listen_any(int *port)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        perror("mp-badserver: socket");
        return -1;
    }
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("mp-badserver: bind/listen");
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Builds the TLS context from cert and key. The function returns it, or
 * NULL after a message. */
static SSL_CTX *tls_context(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "mp-badserver: cannot load %s / %s\n", cert, key);
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Accepts one connection on lfd and forks its process. */
static void accept_one(int lfd, SSL_CTX *tls, pid_t parent)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;
    pid_t pid;

    if (fd < 0)
        return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if ((pid = fork()) == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(0);
        signal(SIGCHLD, SIG_DFL);
        alarm(CHILD_LIFETIME_S);
        serve_conn(fd, tls);
        _exit(0);
    }
    if (pid < 0)
        perror("mp-badserver: fork");
    close(fd);
}

static void usage(FILE *f)
{
    fputs("usage: mp-badserver [--exit-on-stdin-eof] "
          "[--tls-cert PEM --tls-key PEM]\n"
          "Prints (\"TLS_PORT <n>\" and) \"PORT <n>\" once bound, then "
          "misbehaves on 127.0.0.1,\none path per behaviour; a TLS "
          "ClientHello on PORT gets a plain-text reply.\n", f);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        fprintf(f, "  %-24s %s\n", routes[i].path, routes[i].help);
    fputs("  /ka/PATH                 PATH's behaviour, then the next request "
          "on the connection\n", f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"exit-on-stdin-eof", no_argument, NULL, 'e'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *cert = NULL, *key = NULL;
    struct sigaction sa;
    struct pollfd p[3];
    SSL_CTX *tls = NULL;
    int watch_stdin = 0, port, tls_port = 0, np, c;
    pid_t self = getpid();

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'e': watch_stdin = 1; break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc || (cert == NULL) != (key == NULL)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = SA_NOCLDWAIT; /* children reap themselves */
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cert != NULL && (tls = tls_context(cert, key)) == NULL)
        return EXIT_SYSTEM;
    p[0] = (struct pollfd){listen_any(&port), POLLIN, 0};
    np = 1;
    if (tls != NULL)
        p[np++] = (struct pollfd){listen_any(&tls_port), POLLIN, 0};
    if (p[0].fd < 0 || (tls != NULL && p[1].fd < 0))
        return EXIT_SYSTEM;
    if (watch_stdin)
        p[np++] = (struct pollfd){0, POLLIN, 0};
    if (tls != NULL) /* first: the PORT line ends what callers read */
        printf("TLS_PORT %d\n", tls_port);
    printf("PORT %d\n", port);
    fflush(stdout);
    for (;;) {
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("mp-badserver: poll");
            return EXIT_SYSTEM;
        }
        for (int i = 0; i < np; i++) {
            char buf[256];

            if (p[i].revents == 0)
                continue;
            if (p[i].fd == 0 && read(0, buf, sizeof(buf)) <= 0) {
                SSL_CTX_free(tls);
                return 0; /* stdin closed: the test is gone */
            }
            if (p[i].fd != 0)
                accept_one(p[i].fd, i == 1 && tls != NULL ? tls : NULL,
                           self);
        }
    }
}
