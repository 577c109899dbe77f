/*
 * Body codings (encode.h) with zlib, libbrotlienc and libzstd.
 */
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "encode.h"

/* Deflates in[0..n) with zlib's window bits (31 gzip, 15 zlib, -15 raw).
   The function returns 0 or -1. */
static int zlib_encode(int bits, const void *in, size_t n,
                       unsigned char **out, size_t *out_len)
{
    z_stream z;
    size_t cap;
    int rc;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    cap = deflateBound(&z, (uLong)n) + 32;
    if (!(*out = malloc(cap))) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* ts_encode without the cleanup: *out may be set when it fails. */
static int encode_any(const char *name, const void *in, size_t n,
                      unsigned char **out, size_t *out_len)
{
    size_t cap;

    *out = NULL;
    if (strcmp(name, "gzip") == 0)
        return zlib_encode(31, in, n, out, out_len);
    if (strcmp(name, "deflate") == 0)
        return zlib_encode(15, in, n, out, out_len);
    if (strcmp(name, "deflate-raw") == 0)
        return zlib_encode(-15, in, n, out, out_len);
    if (strcmp(name, "br") == 0) {
        cap = BrotliEncoderMaxCompressedSize(n) + 16;
        if (!(*out = malloc(cap)))
            return -1;
        *out_len = cap;
        return BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW,
                                     BROTLI_MODE_GENERIC, n, in, out_len,
                                     *out)
                   ? 0
                   : -1;
    }
    if (strcmp(name, "zstd") == 0) {
        cap = ZSTD_compressBound(n);
        if (!(*out = malloc(cap)))
            return -1;
        *out_len = ZSTD_compress(*out, cap, in, n, 3);
        return ZSTD_isError(*out_len) ? -1 : 0;
    }
    if (strcmp(name, "identity") == 0) {
        if (!(*out = malloc(n ? n : 1)))
            return -1;
        memcpy(*out, in, n);
        *out_len = n;
        return 0;
    }
    return -1;
}

int ts_encode(const char *name, const void *in, size_t n,
              unsigned char **out, size_t *out_len)
{
    if (encode_any(name, in, n, out, out_len) == 0)
        return 0;
    free(*out);
    *out = NULL;
    return -1;
}
