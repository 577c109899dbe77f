/*
 * HTTP/1.x response parsing for the native engine (http_native.c): pure
 * functions on bytes, no I/O, so tests can feed them anything.
 */
#ifndef MP_HTTP_PARSE_H
#define MP_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "mpool.h" /* MP_HTTP_MAX_HEADER_LINES, _BYTES, _LINE */

/* What the head of a response says. */
typedef struct mp__http_head {
    int status;      /* 100..999 */
    int version;     /* 10 or 11 */
    int64_t clen;    /* Content-Length, or -1 */
    int chunked;     /* Transfer-Encoding: chunked (anywhere, as curl) */
    int te_codings;  /* Transfer-Encoding: codings other than chunked
                        (without chunked, the body runs to the close) */
    int has_ce;      /* a Content-Encoding line */
    int conn_close;  /* the connection ends after this response */
    size_t head_len; /* bytes of the head, blank line included */
} mp__http_head;

/*
 * Parses the response head at the start of p[0..n). Returns 1 with *h
 * filled when the head is complete, 0 if more bytes are needed, or -1
 * (*why says why) if the bytes are not an HTTP/1.x response head, its
 * status code is outside 100-599, it has both Content-Length and
 * Transfer-Encoding, or it passes one of mpool.h's header limits
 * (MP_HTTP_MAX_HEADER_LINES, _BYTES, _LINE; counted like the curl
 * engine's (http_easy.c): the status line and the blank line count as bytes, not lines).
 */
int mp__http_parse_head(const char *p, size_t n, mp__http_head *h,
                        const char **why);

/* Takes a coding list v[0..n) of a head: transfer 1 for
   Transfer-Encoding, 0 for Content-Encoding. Returns 0, or nonzero to
   stop. */
typedef int (*mp__http_coding_fn)(void *ud, const char *v, size_t n,
                                  int transfer);

/*
 * Calls fn for the value of each Transfer-Encoding line of the complete
 * head p[0..n) and, if ce, each Content-Encoding line, in their order.
 * Returns 0, or fn's first nonzero return.
 */
int mp__http_head_codings(const char *p, size_t n, int ce,
                          mp__http_coding_fn fn, void *ud);

/* Where decoded data goes. */
typedef void (*mp__http_sink)(void *ud, const char *p, size_t n);

/* State of a chunked body decoder; zero it to start. */
typedef struct mp__http_chunked {
    int state;
    uint64_t left; /* data bytes left in the current chunk */
    unsigned line; /* bytes of the current size or trailer line so far */
    int digits;    /* hex digits of the current size line */
    /* if set (mp__http_dechunk_trailers): the trailer lines, each with
       its line end (not the empty line that ends them), as curl hands
       them to its header callback */
    mp__http_sink on_trailer;
    void *trailer_ud;
} mp__http_chunked;

/* Makes c pass the trailer lines to fn (with ud), before its first
   bytes. */
void mp__http_dechunk_trailers(mp__http_chunked *c, mp__http_sink fn,
                               void *ud);

/*
 * Decodes p[0..n) of a chunked body, passing data to sink. Sets *used to
 * the bytes consumed. Returns 1 when the body ended (bytes after it are not
 * consumed), 0 if it needs more, or -1 on a malformed body.
 */
int mp__http_dechunk(mp__http_chunked *c, const char *p, size_t n,
                     size_t *used, mp__http_sink sink, void *ud);

#endif
