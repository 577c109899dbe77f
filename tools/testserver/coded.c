/*
 * mp-testserver's coded bodies (beside routes.c): /encode/LIST, a text
 * body with the Content-Encoding codings of LIST applied in order
 * (encode.c), and /gzip-bomb-gib/GIB, a gzip body of about GIB MiB that
 * decodes to GIB GiB of zeros, for decoded-size limits at a scale no
 * client may buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <zlib.h>

#include "encode.h"
#include "coded.h"
#include "testserver.h"

#define ENCODE_TEXT "hello encode\n"
#define ENCODE_REPEAT 200
#define ENCODE_MAX 5          /* codings in LIST */
#define BOMB_MAX_GIB 16ul     /* /gzip-bomb-gib/GIB limit */
#define SEGMENT (1ul << 20)   /* zeros per repeated deflate segment */

static unsigned char *segment; /* SEGMENT zeros, deflated, full flush */
static size_t segment_len;
static uLong segment_crc;

void ts_encode_route(struct ts_server *srv, struct ts_conn *c,
                     struct evhttp_request *req, const char *arg)
{
    char list[200], header[200] = "", *save = NULL, *name;
    size_t len = (sizeof(ENCODE_TEXT) - 1) * ENCODE_REPEAT;
    unsigned char *body = malloc(len), *next;
    int k = 0;

    (void)srv;
    (void)c;
    if (!body || strlen(arg) >= sizeof(list)) {
        free(body);
        ts_reply_text(req, 400, "LIST too long\n");
        return;
    }
    for (int i = 0; i < ENCODE_REPEAT; i++)
        memcpy(body + i * (sizeof(ENCODE_TEXT) - 1), ENCODE_TEXT,
               sizeof(ENCODE_TEXT) - 1);
    strcpy(list, arg);
    for (name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        int raw = strcmp(name, "deflate-raw") == 0;
        if (++k > ENCODE_MAX) {
            free(body);
            ts_reply_text(req, 400, "at most 5 codings\n");
            return;
        }
        snprintf(header + strlen(header), sizeof(header) - strlen(header),
                 "%s%s", header[0] ? ", " : "", raw ? "deflate" : name);
        if (ts_encode(name, body, len, &next, &len) != 0)
            continue; /* a coding it does not know: named, not applied */
        free(body);
        body = next;
    }
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    free(body);
    if (header[0])
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Encoding", header);
    ts_reply(req, 200, "text/plain");
}

/* Makes the repeated segment: SEGMENT zeros, raw deflate ending in a
 * full flush, so that any number of copies in a row is one valid deflate
 * stream. The function returns 0 or -1. */
static int make_segment(void)
{
    unsigned char *zeros = calloc(1, SEGMENT);
    z_stream z;
    int rc;

    memset(&z, 0, sizeof(z));
    if (!zeros ||
        deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(zeros);
        return -1;
    }
    segment_len = deflateBound(&z, SEGMENT) + 64;
    if ((segment = malloc(segment_len)) == NULL) {
        deflateEnd(&z);
        free(zeros);
        return -1;
    }
    z.next_in = zeros;
    z.avail_in = SEGMENT;
    z.next_out = segment;
    z.avail_out = (uInt)segment_len;
    rc = deflate(&z, Z_FULL_FLUSH);
    segment_len -= z.avail_out;
    segment_crc = crc32(0, zeros, SEGMENT);
    deflateEnd(&z);
    free(zeros);
    return rc == Z_OK && z.avail_in == 0 ? 0 : -1;
}

void ts_gzip_bomb_gib(struct ts_server *srv, struct ts_conn *c,
                      struct evhttp_request *req, const char *arg)
{
    static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    unsigned char tail[10] = {0x03, 0x00}; /* an empty final block */
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    unsigned long gib, n;
    uLong crc;

    (void)srv;
    (void)c;
    if (ts_parse_num(arg, BOMB_MAX_GIB, &gib) != 0 || gib == 0) {
        ts_reply_text(req, 400, "GIB must be a number from 1 to 16\n");
        return;
    }
    if (!segment && make_segment() != 0) {
        ts_reply_text(req, 500, "deflate failed\n");
        return;
    }
    n = gib << 30 >> 20; /* segments */
    crc = segment_crc;
    evbuffer_add(out, head, sizeof(head));
    for (unsigned long i = 0; i < n; i++) {
        evbuffer_add_reference(out, segment, segment_len, NULL, NULL);
        if (i)
            crc = crc32_combine(crc, segment_crc, SEGMENT);
    }
    for (int i = 0; i < 4; i++) { /* CRC-32, then the size mod 2^32 */
        tail[2 + i] = (unsigned char)(crc >> (8 * i));
        tail[6 + i] = (unsigned char)((gib << 30) >> (8 * i));
    }
    evbuffer_add(out, tail, sizeof(tail));
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Encoding", "gzip");
    ts_reply(req, 200, "application/octet-stream");
}

void ts_coded_free(void)
{
    free(segment);
    segment = NULL;
}
