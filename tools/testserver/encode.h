/*
 * Body codings for mp-testserver's /encode route and the decoder's unit
 * test (tests/http/native/test_http_decode.c): one buffer in, one encoded buffer out.
 */
#ifndef TS_ENCODE_H
#define TS_ENCODE_H

#include <stddef.h>

/* Encodes in[0..n) with the coding name: "gzip", "deflate" (zlib's
   format), "deflate-raw" (raw deflate, sent as "deflate"), "br", "zstd",
   or "identity" (a copy), into *out (malloc'd, *out_len bytes). The
   function returns 0, or -1 (*out NULL): an unknown name, or the
   library failed. */
int ts_encode(const char *name, const void *in, size_t n,
              unsigned char **out, size_t *out_len);

#endif
