/*
 * The fixture of the mpfetch end-to-end suites against a real nginx
 * (test_nginx.c, tests/http/test_http_h2_big.c): nginx with TLS
 * (tu_nginx_start: an HTTP/1.1 port, an h2 port, an HTTP/1.1-only TLS
 * port) in a scratch directory that also holds the input, output and
 * stderr files, and the input writer. Without nginx installed the
 * suite's tests skip. Header-only, like mpfetch_fixture.h. Include after
 * mpfetch_e2e.h and testutil.h.
 */
#ifndef MPFETCH_NGINX_H
#define MPFETCH_NGINX_H

typedef struct fixture {
    tu_nginx ngx;
    int up; /* nginx runs */
    char *dir;
    const char *bin;
    char in[600], out[600], err[600], sum[600];
} fixture;

static fixture g;

/* Returns 1 if an nginx binary is installed where testutil looks. */
static int nginx_installed(void)
{
    return access("/usr/sbin/nginx", X_OK) == 0 ||
           access("/usr/local/sbin/nginx", X_OK) == 0 ||
           access("/usr/local/nginx/sbin/nginx", X_OK) == 0;
}

/* Starts nginx with TLS once for the suite. Returns 0 (g.up 0 when
   nginx is not installed) or -1 (a failed start of an installed nginx
   fails the suite). */
static int nginx_setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    g.bin = e2e_mpfetch();
    g.dir = tu_tmpdir();
    if (!g.dir)
        return -1;
    e2e_path(g.in, sizeof(g.in), g.dir, "in.txt");
    e2e_path(g.out, sizeof(g.out), g.dir, "out.jsonl");
    e2e_path(g.err, sizeof(g.err), g.dir, "err.txt");
    e2e_path(g.sum, sizeof(g.sum), g.dir, "summary.json");
    if (!nginx_installed())
        return 0;
    if (tu_nginx_start(&g.ngx, g.dir, 1) != 0)
        return -1;
    g.up = 1;
    return 0;
}

static int nginx_teardown(void **state)
{
    (void)state;
    tu_nginx_stop(&g.ngx);
    if (g.dir)
        tu_rm_rf(g.dir);
    free(g.dir);
    return 0;
}

#define NEED_NGINX()                                                        \
    do {                                                                    \
        if (!g.bin || !g.up) {                                              \
            fprintf(stderr, "nginx or MP_MPFETCH missing; skipping\n");     \
            skip();                                                         \
        }                                                                   \
    } while (0)

/* Writes n lines "SCHEME://127.0.0.1:PORT/PATH?i" to g.in. */
static void write_urls(size_t n, const char *scheme, int port,
                       const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    for (size_t i = 1; i <= n; i++)
        fprintf(f, "%s://127.0.0.1:%d%s?%zu\n", scheme, port, path, i);
    fclose(f);
    assert_int_equal(e2e_write_file(g.in, text, len), 0);
    free(text);
}

#endif
