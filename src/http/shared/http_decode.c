/*
 * Body codings (http_decode.h): gzip and deflate with zlib, br with
 * libbrotli, zstd with libzstd, each as curl 7.88's content_encoding.c
 * undoes it, so a record is the same on both engines: "gzip" (and
 * "x-gzip") takes gzip or zlib data; "deflate" takes zlib data, or raw
 * deflate when the first bytes are not zlib's (with up to 4 bytes after
 * its end); bytes after a stream's end are an error; a stream cut short
 * is not. Decoded bytes leave through one static buffer per stage (a
 * worker runs one coroutine at a time and a sink never suspends), and
 * ended zlib and zstd streams are kept for the next body, so a body
 * allocates nothing once a worker has warmed up.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include "http/shared/http_decode.h"

enum { K_IDENTITY, K_GZIP, K_DEFLATE, K_BR, K_ZSTD, K_UNKNOWN };

/* stage.state */
enum { S_RUN, S_TRAILER, S_ENDED };

#define OUT_SIZE 16384 /* curl's DSIZ (CURL_MAX_WRITE_SIZE) */
#define KEEP 4         /* idle library streams kept per kind */

static unsigned char g_out[MP__DEC_MAX][OUT_SIZE];
static z_stream *g_zidle[KEEP];
static ZSTD_DStream *g_zsidle[KEEP];
static int g_nz, g_nzs;

static const char unknown_msg[] =
    "Unrecognized content encoding type. mpool understands " MP__DEC_ACCEPT
    " content encodings.";

/* Returns the kind of coding name v[0..n) (curl's names and aliases). */
static int kind_of(const char *v, size_t n)
{
    static const struct {
        const char *name;
        int kind;
    } names[] = {{"identity", K_IDENTITY}, {"none", K_IDENTITY},
                 {"gzip", K_GZIP},         {"x-gzip", K_GZIP},
                 {"deflate", K_DEFLATE},   {"br", K_BR},
                 {"zstd", K_ZSTD}};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && strncasecmp(v, names[i].name, n) == 0)
            return names[i].kind;
    return K_UNKNOWN;
}

/* Puts a stage of kind and order into d where curl's stack has it: above
   the first (from the top) of order <= order. */
static void stage_insert(mp__dec *d, int kind, int order)
{
    int at = 0;

    while (at < d->n && d->st[at].order > order)
        at++;
    memmove(&d->st[at + 1], &d->st[at], (size_t)(d->n - at) * sizeof d->st[0]);
    memset(&d->st[at], 0, sizeof d->st[0]);
    d->st[at].kind = (unsigned char)kind;
    d->st[at].order = (unsigned char)order;
    d->st[at].first = 1;
    d->n++;
}

int mp__dec_add(mp__dec *d, const char *v, size_t n, int transfer,
                const char **why)
{
    const char *end = v + n;

    while (v < end) {
        const char *name;
        size_t len = 0;
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        for (name = v; v < end && *v != ','; v++)
            if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
                len = (size_t)(v - name) + 1;
        if (!len || (transfer && len == 7 && strncasecmp(name, "chunked", 7) == 0))
            continue;
        if (d->n >= MP__DEC_MAX) {
            *why = "Reject response due to more than 5 content encodings";
            return -1;
        }
        stage_insert(d, kind_of(name, len), transfer ? 2 : 1);
    }
    return 0;
}

static int stage_write(mp__dec *d, int i, const unsigned char *p, size_t n,
                       mp__dec_sink sink, void *ud, const char **why);

/* Makes stage s's zlib stream (gzip: gzip or zlib data; deflate: zlib;
   raw: raw deflate), an idle one if kept. Returns it, or NULL. */
static z_stream *zlib_open(int bits)
{
    z_stream *z;

    if (g_nz) {
        z = g_zidle[--g_nz];
        if (inflateReset2(z, bits) == Z_OK)
            return z;
        inflateEnd(z);
        free(z);
    }
    if (!(z = calloc(1, sizeof *z)))
        return NULL;
    if (inflateInit2(z, bits) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

/* Keeps z for the next body, or frees it. */
static void zlib_close(z_stream *z)
{
    if (!z)
        return;
    if (g_nz < KEEP) {
        g_zidle[g_nz++] = z;
        return;
    }
    inflateEnd(z);
    free(z);
}

/* Says what zlib found wrong. Returns -1. */
static int zlib_fail(z_stream *z, const char **why)
{
    *why = z->msg ? z->msg : "zlib could not decode the body";
    return -1;
}

/* Takes the bytes past the end of stage s's deflate data: up to s->trailer
   of them (a raw stream's), none else. Returns 0 or -1. */
static int zlib_trailer(mp__dec_stage *s, size_t n, const char **why)
{
    size_t k = n < s->trailer ? n : s->trailer;

    s->trailer -= (unsigned)k;
    if (n > k) {
        s->state = S_ENDED;
        *why = "bytes after the end of the compressed body";
        return -1;
    }
    s->state = s->trailer ? S_TRAILER : S_ENDED;
    return 0;
}

/* Inflates p[0..n) of gzip or deflate stage i. Returns as
   mp__dec_write. */
static int zlib_write(mp__dec *d, int i, const unsigned char *p, size_t n,
                      mp__dec_sink sink, void *ud, const char **why)
{
    mp__dec_stage *s = &d->st[i];
    z_stream *z = s->lib;
    int rc;

    if (s->state != S_RUN) /* ended: S_ENDED has no trailer left */
        return zlib_trailer(s, n, why);
    if (!z && !(z = s->lib = zlib_open(s->kind == K_GZIP ? MAX_WBITS + 32
                                                         : MAX_WBITS))) {
        *why = "out of memory";
        return -1;
    }
    if (s->first && z->total_in == 0)
        s->b0 = p[0]; /* a raw retry after one byte needs it again */
    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)n;
    for (;;) {
        int st;
        z->next_out = g_out[i];
        z->avail_out = OUT_SIZE;
        st = inflate(z, Z_NO_FLUSH);
        /* what came before an error too: the outcome is then the same
           however the bytes were cut (curl drops it: an error anyway) */
        if (z->avail_out != OUT_SIZE &&
            (rc = stage_write(d, i + 1, g_out[i], OUT_SIZE - z->avail_out,
                              sink, ud, why)) < 0)
            return rc;
        if (st == Z_STREAM_END) {
            size_t left = z->avail_in;
            zlib_close(z);
            s->lib = NULL;
            return zlib_trailer(s, left, why);
        }
        if (st == Z_DATA_ERROR && s->first && s->kind == K_DEFLATE &&
            z->total_out == 0 && z->total_in <= 2) {
            /* no zlib header (its 2 bytes): curl retries raw deflate */
            int again = z->total_in - (uInt)(z->next_in - p) == 1;
            s->first = 0;
            if (inflateReset2(z, -MAX_WBITS) != Z_OK)
                return zlib_fail(z, why);
            s->trailer = 4;
            if (again && (rc = zlib_write(d, i, &s->b0, 1, sink, ud, why)))
                return rc;
            z->next_in = (Bytef *)p;
            z->avail_in = (uInt)n;
            continue;
        }
        if (z->total_in >= 2)
            s->first = 0;
        if (st == Z_BUF_ERROR || (st == Z_OK && !z->avail_in && z->avail_out))
            return 0; /* all taken, all given */
        if (st != Z_OK)
            return zlib_fail(z, why);
    }
}

/* Decodes p[0..n) of br stage i. Returns as mp__dec_write. */
static int br_write(mp__dec *d, int i, const unsigned char *p, size_t n,
                    mp__dec_sink sink, void *ud, const char **why)
{
    mp__dec_stage *s = &d->st[i];
    BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
    int rc;

    if (s->state == S_ENDED) {
        *why = "bytes after the end of the compressed body";
        return -1;
    }
    if (!s->lib && !(s->lib = BrotliDecoderCreateInstance(NULL, NULL, NULL))) {
        *why = "out of memory";
        return -1;
    }
    while (n || r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
        uint8_t *out = g_out[i];
        size_t room = OUT_SIZE;
        r = BrotliDecoderDecompressStream(s->lib, &n, &p, &room, &out, NULL);
        if (room != OUT_SIZE &&
            (rc = stage_write(d, i + 1, g_out[i], OUT_SIZE - room, sink, ud,
                              why)) < 0)
            return rc;
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            BrotliDecoderDestroyInstance(s->lib);
            s->lib = NULL;
            s->state = S_ENDED;
            if (n) {
                *why = "bytes after the end of the compressed body";
                return -1;
            }
            return 0;
        }
        if (r == BROTLI_DECODER_RESULT_ERROR) {
            *why = BrotliDecoderErrorString(
                BrotliDecoderGetErrorCode(s->lib));
            return -1;
        }
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
            break;
    }
    return 0;
}

/* Decodes p[0..n) of zstd stage i. Returns as mp__dec_write. */
static int zstd_write(mp__dec *d, int i, const unsigned char *p, size_t n,
                      mp__dec_sink sink, void *ud, const char **why)
{
    mp__dec_stage *s = &d->st[i];
    ZSTD_inBuffer in = {p, n, 0};
    int rc;

    if (!s->lib) {
        if (g_nzs)
            s->lib = g_zsidle[--g_nzs]; /* reset when it was kept */
        else if (!(s->lib = ZSTD_createDStream())) {
            *why = "out of memory";
            return -1;
        }
    }
    for (;;) {
        ZSTD_outBuffer out = {g_out[i], OUT_SIZE, 0};
        size_t r = ZSTD_decompressStream(s->lib, &out, &in);
        if (out.pos && /* before an error too, as zlib_write */
            (rc = stage_write(d, i + 1, g_out[i], out.pos, sink, ud, why)) < 0)
            return rc;
        if (ZSTD_isError(r)) {
            *why = ZSTD_getErrorName(r);
            return -1;
        }
        if (in.pos == in.size && out.pos < out.size)
            return 0;
    }
}

/* Passes p[0..n) through stage i and those below it to sink. Returns as
   mp__dec_write. */
static int stage_write(mp__dec *d, int i, const unsigned char *p, size_t n,
                       mp__dec_sink sink, void *ud, const char **why)
{
    if (i == d->n)
        return sink(ud, (const char *)p, n) < 0 ? -2 : 0;
    if (!n)
        return 0;
    switch (d->st[i].kind) {
    case K_IDENTITY:
        return stage_write(d, i + 1, p, n, sink, ud, why);
    case K_GZIP:
    case K_DEFLATE:
        return zlib_write(d, i, p, n, sink, ud, why);
    case K_BR:
        return br_write(d, i, p, n, sink, ud, why);
    case K_ZSTD:
        return zstd_write(d, i, p, n, sink, ud, why);
    default:
        *why = unknown_msg;
        return -1;
    }
}

int mp__dec_write(mp__dec *d, const char *p, size_t n, mp__dec_sink sink,
                  void *ud, const char **why)
{
    return stage_write(d, 0, (const unsigned char *)p, n, sink, ud, why);
}

void mp__dec_end(mp__dec *d)
{
    for (int i = 0; i < d->n; i++) {
        mp__dec_stage *s = &d->st[i];
        if (!s->lib)
            continue;
        if (s->kind == K_GZIP || s->kind == K_DEFLATE) {
            zlib_close(s->lib);
        } else if (s->kind == K_BR) {
            BrotliDecoderDestroyInstance(s->lib);
        } else if (g_nzs < KEEP &&
                   !ZSTD_isError(ZSTD_DCtx_reset(
                       s->lib, ZSTD_reset_session_only))) {
            g_zsidle[g_nzs++] = s->lib;
        } else {
            ZSTD_freeDStream(s->lib);
        }
    }
    memset(d, 0, sizeof *d);
}
