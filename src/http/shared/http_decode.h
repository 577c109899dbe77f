/*
 * A response body's codings for the native engine (http_decode.c): the
 * Transfer-Encoding codings other than chunked (always removed, as curl
 * 7.88 removes them) and, with mp_http_request.compressed, the
 * Content-Encoding ones, stacked as curl stacks them (transfer codings
 * first, then the content codings, the last listed undone first).
 * Streaming: encoded bytes in, decoded bytes out to a sink in pieces of
 * at most 16 KiB, so a bomb costs no memory before the sink stops it.
 * The one file that talks to zlib, libbrotli and libzstd.
 */
#ifndef MP_HTTP_DECODE_H
#define MP_HTTP_DECODE_H

#include <stddef.h>

/* What both engines send as Accept-Encoding with compressed, and all
   that either decodes (libcurl 7.88 with zlib, brotli and zstd decodes
   the same four: CURLOPT_ACCEPT_ENCODING gets this string too). */
#define MP__DEC_ACCEPT "deflate, gzip, br, zstd"

#define MP__DEC_MAX 5 /* codings in one response: curl's MAX_ENCODE_STACK */

/* One coding being undone. */
typedef struct mp__dec_stage {
    unsigned char kind;  /* identity, gzip, ... (http_decode.c) */
    unsigned char order; /* 2 transfer coding, 1 content coding */
    unsigned char state; /* the decoder's, per kind */
    unsigned char first; /* in the first 2 bytes (deflate may go raw) */
    unsigned char b0;    /* the first byte (deflate) */
    unsigned trailer;    /* bytes of a raw deflate's trailer tolerated */
    void *lib;           /* the library's stream, made at the first byte */
} mp__dec_stage;

/* A body's codings; zero it to start (no coding: bytes pass as they
   are), free it with mp__dec_end. */
typedef struct mp__dec {
    int n;
    mp__dec_stage st[MP__DEC_MAX]; /* st[0] takes the bytes first */
} mp__dec;

/* Takes decoded bytes. Returns 0, or -1: stop (its owner says why). */
typedef int (*mp__dec_sink)(void *ud, const char *p, size_t n);

/* Adds the codings of one Content-Encoding (transfer 0) or
   Transfer-Encoding (transfer 1) value v[0..n), a comma-separated list
   ("chunked" skipped: the framing's). An unknown coding fails when bytes
   reach it, as curl's does. Returns 0, or -1 (*why): more than
   MP__DEC_MAX codings. */
int mp__dec_add(mp__dec *d, const char *v, size_t n, int transfer,
                const char **why);

/* Undoes d's codings on p[0..n), passing what comes out to sink.
   Returns 0, -1 (the bytes could not be decoded: *why says how), or -2
   (the sink said stop). */
int mp__dec_write(mp__dec *d, const char *p, size_t n, mp__dec_sink sink,
                  void *ud, const char **why);

/* Frees d's decoders (a body cut short is no error, as with curl) and
   zeroes it. */
void mp__dec_end(mp__dec *d);

#endif
