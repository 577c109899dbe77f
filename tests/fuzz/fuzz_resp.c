/*
 * Fuzz target: the native engine's response reader (src/http/native/http_native_resp.c)
 * with what it calls: the status line and headers (http_parse.c),
 * Content-Length, chunked and to-the-close framing, trailers, and the
 * decoded body (http_decode.c: gzip, deflate, br, zstd, stacked). Input:
 * a flags byte (bit 0 compressed, bit 1 want_headers, bit 2 HEAD), a
 * piece size (0: whole), then the bytes a server sent. The response is
 * read twice, whole and in pieces, and must come to the same outcome
 * (a failure of the same kind; or the same status, body and head); the
 * body never passes max_body, a failure always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/native/http_native_resp.h"

#define MAX_BODY (64u << 10) /* small: a stacked bomb stops here */

/* What one reading came to. */
typedef struct seen {
    int rc;
    mp__http_fail kind;
    long status, version;
    size_t body_len, head_len;
    uint64_t bytes_in;
} seen;

/* Reads p[0..n) in pieces of step bytes (0: whole), then the end of the
   connection if the response wants more, with a fresh reader r. Fills
   *o; r keeps what it read, for the caller to compare and release. */
static void read_resp(const mp_http_request *q, const uint8_t *p, size_t n,
                      size_t step, mp__native_resp *r, mp_http_response *resp,
                      seen *o)
{
    char msg[200];
    size_t at = 0;

    memset(o, 0, sizeof *o);
    memset(r, 0, sizeof *r);
    memset(resp, 0, sizeof *resp);
    r->req = q;
    r->resp = resp;
    r->max_body = MAX_BODY;
    if (!step)
        step = n ? n : 1;
    do {
        size_t k = n - at < step ? n - at : step;
        msg[0] = '\0';
        o->rc = mp__native_resp_feed(r, (const char *)p + at, k, &o->kind, msg,
                                     sizeof msg);
        at += k;
    } while (o->rc == 0 && at < n);
    if (o->rc == 0) {
        msg[0] = '\0';
        o->rc = mp__native_resp_eof(r, &o->kind, msg, sizeof msg);
    }
    if (o->rc < -1 || o->rc > 1)
        abort();
    if (o->rc < 0 && ((unsigned)o->kind >= MP__HF_COUNT || !msg[0]))
        abort(); /* a failure is a known kind and says why */
    if (r->body_seen > MAX_BODY || r->body_len > r->body_seen ||
        (r->body && r->body[r->body_len] != '\0'))
        abort();
    o->status = resp->status;
    o->version = resp->http_version;
    o->body_len = r->body_len;
    o->head_len = r->h.head_len;
    o->bytes_in = r->bytes_in;
}

static void release(mp__native_resp *r)
{
    free(r->body);
    free(r->hdr);
    free(r->trl);
    mp__dec_end(&r->dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_http_request q = {.url = "http://h/"};
    mp_http_response ra, rb;
    mp__native_resp a, b;
    seen sa, sb;

    if (size < 2)
        return 0;
    q.compressed = data[0] & 1;
    q.want_headers = (data[0] >> 1) & 1;
    q.method = data[0] & 4 ? "HEAD" : NULL;
    read_resp(&q, data + 2, size - 2, 0, &a, &ra, &sa);
    read_resp(&q, data + 2, size - 2, data[1], &b, &rb, &sb);
    if (sa.rc != sb.rc || (sa.rc < 0 && sa.kind != sb.kind))
        abort(); /* however the bytes arrive */
    if (sa.rc > 0 &&
        (sa.status != sb.status || sa.version != sb.version ||
         sa.body_len != sb.body_len || sa.bytes_in != sb.bytes_in ||
         sa.head_len != sb.head_len ||
         (sa.body_len && memcmp(a.body, b.body, sa.body_len) != 0) ||
         (q.want_headers && sa.head_len &&
          memcmp(a.hdr, b.hdr, sa.head_len) != 0)))
        abort();
    release(&a);
    release(&b);
    return 0;
}
