/*
 * TLS for the native HTTP engine through OpenSSL: the one file that talks
 * to it (http_tls.h says the contract). Contexts are per process and per
 * (cafile, insecure), made once and kept: loading the CAs is the costly
 * part. Sessions are kept by the caller, one slot per host, filled by the
 * new-session callback (TLS 1.3 tickets arrive after the handshake) and
 * offered on the host's next connections.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http/tls/http_tls.h"

#define TLS_CAFILE "/etc/ssl/certs/ca-certificates.crt" /* curl-config --ca */
#define TLS_CAPATH "/etc/ssl/certs"                      /* curl -v: CApath */
#define TLS_CTX_MAX 8 /* (cafile, insecure) pairs kept per process */

struct mp__tls_ctx {
    SSL_CTX *ctx;
    char *cafile; /* NULL: the system's */
    int insecure;
};

struct mp__tls {
    SSL *ssl;
    int want; /* MP__TLS_WANT_* of the last EAGAIN */
};

static struct {
    int atfork; /* tls_forget is registered */
    int n;
    mp__tls_ctx c[TLS_CTX_MAX];
} g_tls;

/* SSL_CTX_sess_set_new_cb: the server issued a session; it replaces the
   host slot's (the SSL's app data). Returns 1: the slot keeps the
   reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    void **slot = SSL_get_app_data(ssl);

    if (!slot)
        return 0;
    if (*slot)
        SSL_SESSION_free(*slot);
    *slot = sess;
    return 1;
}

/* Writes OpenSSL's first queued error (or what) into msg and clears the
   queue. */
static void ssl_msg(char *msg, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(msg, n, "%s: %s", what, buf);
    } else {
        snprintf(msg, n, "%s", what);
    }
    ERR_clear_error();
}

/* Makes the SSL_CTX for (cafile, insecure). Returns it, or NULL with why
   in msg. */
static SSL_CTX *ctx_make(const char *cafile, int insecure, char *msg,
                         size_t n)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) {
        ssl_msg(msg, n, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); /* curl's default */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* like curl: a cafile replaces the CAfile, the CApath stays */
    if (SSL_CTX_load_verify_locations(ctx, cafile ? cafile : TLS_CAFILE,
                                      TLS_CAPATH) != 1 &&
        (cafile || SSL_CTX_load_verify_locations(ctx, NULL, TLS_CAPATH) != 1)) {
        char what[300];
        snprintf(what, sizeof what, "error setting certificate file: %s",
                 cafile ? cafile : TLS_CAFILE);
        ssl_msg(msg, n, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    ERR_clear_error();
    return ctx;
}

/* In a forked child: the parent's contexts are not ours to use (nor to
   free: the child leaves them be), so the child starts afresh. Registered
   with pthread_atfork once, instead of a getpid() per request. */
static void tls_forget(void)
{
    memset(&g_tls, 0, sizeof g_tls);
    g_tls.atfork = 1;
}

mp__tls_ctx *mp__tls_ctx_get(const char *cafile, int insecure, char *msg,
                             size_t msg_len)
{
    mp__tls_ctx *c;

    insecure = !!insecure;
    if (!g_tls.atfork) { /* a fork's copy is not ours to use */
        if (pthread_atfork(NULL, NULL, tls_forget) != 0) {
            snprintf(msg, msg_len, "pthread_atfork failed");
            return NULL;
        }
        g_tls.atfork = 1;
    }
    for (int i = 0; i < g_tls.n; i++) {
        c = &g_tls.c[i];
        if (c->insecure == insecure &&
            (insecure || (!c->cafile && !cafile) ||
             (c->cafile && cafile && strcmp(c->cafile, cafile) == 0)))
            return c;
    }
    if (g_tls.n == TLS_CTX_MAX) {
        snprintf(msg, msg_len, "more than %d CA files in one worker",
                 TLS_CTX_MAX);
        return NULL;
    }
    c = &g_tls.c[g_tls.n];
    if (cafile && !insecure && !(c->cafile = strdup(cafile))) {
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    if (!(c->ctx = ctx_make(cafile, insecure, msg, msg_len))) {
        free(c->cafile);
        c->cafile = NULL;
        return NULL;
    }
    c->insecure = insecure;
    g_tls.n++;
    return c;
}

mp__tls *mp__tls_new(mp__tls_ctx *ctx, int fd, const char *host, int h2,
                     void **session)
{
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    unsigned char a4[16];
    mp__tls *t = calloc(1, sizeof *t);
    int is_ip = inet_pton(AF_INET, host, a4) == 1 ||
                inet_pton(AF_INET6, host, a4) == 1;

    if (!t || !(t->ssl = SSL_new(ctx->ctx)) || SSL_set_fd(t->ssl, fd) != 1)
        goto fail;
    SSL_set_app_data(t->ssl, session);
    if (h2 ? SSL_set_alpn_protos(t->ssl, alpn, sizeof alpn - 1)
           : SSL_set_alpn_protos(t->ssl, alpn + 3, sizeof alpn - 4))
        goto fail; /* (0 is success here) */
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1)
            goto fail;
    } else if (SSL_set_tlsext_host_name(t->ssl, host) != 1 ||
               SSL_set1_host(t->ssl, host) != 1) {
        goto fail;
    }
    if (*session && SSL_SESSION_is_resumable(*session))
        SSL_set_session(t->ssl, *session);
    SSL_set_connect_state(t->ssl);
    return t;
fail:
    ERR_clear_error();
    mp__tls_free(t);
    return NULL;
}

/* Turns the SSL error of a call that returned rc into errno (-1), or
   records what it waits for (EAGAIN). Returns -1, or 0 for a clean end. */
static int io_error(mp__tls *t, int rc)
{
    int e = SSL_get_error(t->ssl, rc);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->want = e == SSL_ERROR_WANT_READ ? MP__TLS_WANT_READ
                                           : MP__TLS_WANT_WRITE;
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_SYSCALL) {
        if (errno == 0)
            return 0; /* the peer's FIN without close_notify */
        return -1;
    }
    errno = EPROTO;
    return -1;
}

int mp__tls_handshake(mp__tls *t, char *msg, size_t msg_len)
{
    int rc = SSL_do_handshake(t->ssl), e;
    long v;

    if (rc == 1)
        return 0;
    e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        return MP__TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return MP__TLS_WANT_WRITE;
    v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK) {
        snprintf(msg, msg_len, "SSL certificate problem: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else if (e == SSL_ERROR_SYSCALL) {
        int en = errno;
        snprintf(msg, msg_len, "TLS handshake: %s",
                 en ? strerror(en) : "the server closed the connection");
        ERR_clear_error();
    } else if (ERR_peek_error()) {
        ssl_msg(msg, msg_len, "TLS handshake");
    } else {
        snprintf(msg, msg_len, "TLS handshake: the server closed the "
                               "connection");
    }
    return -1;
}

int mp__tls_alpn_h2(const mp__tls *t)
{
    const unsigned char *p = NULL;
    unsigned n = 0;

    SSL_get0_alpn_selected(t->ssl, &p, &n);
    return n == 2 && memcmp(p, "h2", 2) == 0;
}

int mp__tls_pending(const mp__tls *t)
{
    return SSL_has_pending(t->ssl) == 1;
}

ssize_t mp__tls_read(mp__tls *t, void *buf, size_t n)
{
    int rc;

    errno = 0;
    rc = SSL_read(t->ssl, buf, n > 1u << 30 ? 1 << 30 : (int)n);
    return rc > 0 ? rc : io_error(t, rc);
}

ssize_t mp__tls_write(mp__tls *t, const void *buf, size_t n)
{
    int rc;

    errno = 0;
    rc = SSL_write(t->ssl, buf, n > 1u << 30 ? 1 << 30 : (int)n);
    if (rc > 0)
        return rc;
    rc = io_error(t, rc);
    if (rc == 0) /* the write side cannot end cleanly */
        errno = EPIPE;
    return -1;
}

int mp__tls_want(const mp__tls *t)
{
    return t->want;
}

void mp__tls_free(mp__tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

void mp__tls_session_free(void **session)
{
    if (*session)
        SSL_SESSION_free(*session);
    *session = NULL;
}
