/*
 * TLS for the native HTTP engine (http_tls.c, the one file that talks to
 * OpenSSL): a non-blocking TLS connection on a connected socket, driven by
 * its caller's event (nothing here waits or registers events). The caller
 * watches the socket for reads always and for writes when a call says
 * MP__TLS_WANT_WRITE.
 *
 * Trust is curl's: the system CAs where libcurl finds them (CAfile
 * /etc/ssl/certs/ca-certificates.crt, CApath /etc/ssl/certs), a cafile
 * in place of the CAfile, insecure checks nothing; the peer's name or
 * address is checked against the certificate; SNI for names only.
 */
#ifndef MP_HTTP_TLS_H
#define MP_HTTP_TLS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct mp__tls_ctx mp__tls_ctx; /* per worker, per (cafile, insecure) */
typedef struct mp__tls mp__tls;         /* one TLS connection */

/* What a TLS call waits for before it can go on. */
enum { MP__TLS_WANT_READ = 1, MP__TLS_WANT_WRITE = 2 };

/*
 * Returns the calling process's context for (cafile, insecure), made on
 * first use (CAs loaded once) and kept for the process's life; or NULL
 * with why it failed in msg (a cafile that cannot be loaded, out of
 * memory).
 */
mp__tls_ctx *mp__tls_ctx_get(const char *cafile, int insecure, char *msg,
                             size_t msg_len);

/*
 * Starts a client TLS connection on the connected non-blocking socket fd
 * (which stays the caller's to close) to host (an IPv4/IPv6 literal or a
 * name; SNI for names only). ALPN offers "h2,http/1.1" if h2, else
 * "http/1.1". *session is the host's session slot: offered for resumption
 * if it holds one, replaced with every new session the server issues
 * (TLS 1.3 tickets arrive after the handshake); the slot must outlive the
 * connection, and mp__tls_session_free releases what it holds. Returns the
 * connection, or NULL (out of memory).
 */
mp__tls *mp__tls_new(mp__tls_ctx *ctx, int fd, const char *host, int h2,
                     void **session);

/* Drives the handshake one step. Returns 0 when it is done,
   MP__TLS_WANT_READ / _WANT_WRITE, or -1 with why in msg (trust, name,
   the server's alert, the connection ending). */
int mp__tls_handshake(mp__tls *t, char *msg, size_t msg_len);

/* Returns 1 if the server chose HTTP/2 (ALPN "h2"), else 0. */
int mp__tls_alpn_h2(const mp__tls *t);

/* Returns 1 if t holds received bytes not read yet (a record read ahead),
   else 0: a connection that does is not reused. */
int mp__tls_pending(const mp__tls *t);

/*
 * Reads up to n bytes. Returns the count (> 0), 0 at the end of the stream
 * (close_notify or the peer's FIN), or -1 with errno: EAGAIN (call again
 * when mp__tls_want says so), or why the stream broke (EPROTO for a TLS
 * error).
 */
ssize_t mp__tls_read(mp__tls *t, void *buf, size_t n);

/* Writes up to n bytes (partial writes allowed; after EAGAIN, call again
   with the same bytes). Returns the count, or -1 with errno as above. */
ssize_t mp__tls_write(mp__tls *t, const void *buf, size_t n);

/* Returns what the last call that gave EAGAIN waits for
   (MP__TLS_WANT_READ or _WANT_WRITE). */
int mp__tls_want(const mp__tls *t);

/* Frees t without a close_notify (a keep-alive pool closes silently, as
   curl does); the socket is not closed. NULL is ignored. */
void mp__tls_free(mp__tls *t);

/* Releases what a session slot holds and empties it. */
void mp__tls_session_free(void **session);

#endif
