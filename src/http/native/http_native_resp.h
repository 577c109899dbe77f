/*
 * The native engine's response side (http_native_resp.c), below the
 * connections and events of http_native.c: received bytes go in, the head
 * is parsed (http_parse.c), the body framed (Content-Length, chunked, or
 * until the connection ends) and kept, written to body_path or counted.
 * No sockets, no events: it says what happened and http_native.c acts.
 */
#ifndef MP_HTTP_NATIVE_RESP_H
#define MP_HTTP_NATIVE_RESP_H

#include <stdint.h>
#include <stdio.h>

#include "http/shared/http_decode.h"
#include "http/shared/http_fail.h"
#include "http/message/http_parse.h"
#include "mpool.h"

/* How the body is framed. */
enum { MP__NR_NONE, MP__NR_CLEN, MP__NR_CHUNKED, MP__NR_EOF };

/* One response being read: set up by mp__native_resp_init, written by
   this reader's functions only (its callers read it), freed by
   mp__native_resp_free. */
typedef struct mp__native_resp {
    const mp_http_request *req;
    mp_http_response *resp; /* status and http_version, set at the head */
    FILE *file;              /* body_path's stream, or NULL */
    size_t max_body;
    int in_body;  /* the head is done */
    int reusable; /* the connection may carry the next request */
    char *hdr;    /* head bytes so far (then the head, NUL-able); a head
                     that came whole in the first bytes is kept here only
                     when req->want_headers */
    size_t hdr_len, hdr_cap;
    mp__http_head h; /* what the parser found in an HTTP/1.x head */
    size_t head_len; /* hdr's first bytes that are the head: the parsed
                        one's (h.head_len) or an HTTP/2 head's; the
                        trailers join it at the end */
    mp__http_chunked ch;
    int body_mode; /* MP__NR_* */
    uint64_t body_left;
    char *body; /* in memory, NUL-terminated */
    size_t body_len, body_cap, body_seen;
    uint64_t bytes_in; /* body bytes received (bytes_down) */
    int werr, werrno;  /* why the body sink stopped taking bytes */
    mp__dec dec;         /* the body's codings (http_decode.c) */
    const char *dec_why; /* why they could not be undone (werr EPROTO) */
    char *trl;         /* trailer lines (a chunked body's, HTTP/2's), with
                          want_headers: the head's end (as curl's) */
    size_t trl_len, trl_cap;
    int trl_err;       /* MP__HF_PROTOCOL + 1 (over the header byte
                          limit) or MP__HF_NOMEM + 1 */
    int follow;        /* set by the caller: a 3xx with a Location is
                          followed (its body is read and dropped) */
    char *location;    /* that Location (blanks around it cut), or NULL */
    int ignore;        /* location set: the body is only counted */
} mp__native_resp;

/* Sets r up, zeroed, for the response to req, into the record resp:
   file is body_path's stream (or NULL), max_body the body's cap, follow
   1 if a 3xx with a Location is followed (its body read and dropped). */
void mp__native_resp_init(mp__native_resp *r, const mp_http_request *req,
                          mp_http_response *resp, FILE *file, size_t max_body,
                          int follow);

/* Frees what r holds (body, head, trailers, Location, codings), not its
   file (mp__native_resp_file_close). */
void mp__native_resp_free(mp__native_resp *r);

/* Closes r's body file, if it has one. Returns 0, or fclose's errno. */
int mp__native_resp_file_close(mp__native_resp *r);

/* Returns r's body (NUL-terminated), which the caller now owns, or NULL
   if none is kept. */
char *mp__native_resp_body_take(mp__native_resp *r);

/* Returns r's head (its head_len bytes, NUL-terminated), which the
   caller now owns, with *len its length; NULL if no head is kept. */
char *mp__native_resp_head_take(mp__native_resp *r, size_t *len);

/* Appends r's trailers, if it kept a head and trailers, to the head,
   after its blank line (as curl's header callback gets them). Returns 0,
   or -1 (out of memory). */
int mp__native_resp_trailers_to_head(mp__native_resp *r);

/* HTTP/2 heads, whose fields arrive already parsed: a new head starts,
   the bytes of the one before dropped; its text is added by
   mp__native_resp_head_add. */
void mp__native_resp_head_start(mp__native_resp *r);

/* The HTTP/2 head being added is whole: its text is the head. */
void mp__native_resp_head_done(mp__native_resp *r);

/* Keeps v[0..n), a Location value of a 3xx response, as curl 7.88 does
   with CURLOPT_FOLLOWLOCATION: the first that is not empty once the
   blanks around it are cut; its body is then dropped (r->ignore). Returns
   0 or -1 (out of memory). */
int mp__native_resp_location(mp__native_resp *r, const char *v, size_t n);

/* Feeds received bytes p[0..n) to r. Returns 0 (more wanted), 1 (the
   response is complete), or -1: it failed, *kind says how and msg why. */
int mp__native_resp_feed(mp__native_resp *r, const char *p, size_t n,
                         mp__http_fail *kind, char *msg, size_t msg_len);

/* Appends p[0..n) to r's head bytes (r->hdr, with room for a NUL past
   them). Returns 0 or -1 (out of memory). */
int mp__native_resp_head_add(mp__native_resp *r, const char *p, size_t n);

/* Adds the codings of a Content-Encoding (transfer 0, taken only with
   req->compressed) or Transfer-Encoding (1) value v[0..n) to r's body,
   before its first byte (HTTP/2 heads; an HTTP/1.1 head's are taken from
   it). Returns 0, or -1 with *kind and msg: too many codings. */
int mp__native_resp_coding(mp__native_resp *r, const char *v, size_t n,
                           int transfer, mp__http_fail *kind, char *msg,
                           size_t msg_len);

/* Takes body bytes p[0..n) that arrived framed already (HTTP/2 DATA):
   stores, writes or counts them. Returns 0, or -1: the sink refused them
   (max_body, a write error, out of memory, undecodable), *kind and msg say why. */
int mp__native_resp_body(mp__native_resp *r, const char *p, size_t n,
                         mp__http_fail *kind, char *msg, size_t msg_len);

/* Appends a trailer field "name: value\r\n" that arrived framed already
   (HTTP/2 trailers) to r->trl, the head's end, as curl's header callback
   gets them. Returns 0, or -1 with *kind: over the head's byte limit
   (MP_HTTP_MAX_HEADER_BYTES, the trailers counted in it) or out of
   memory. */
int mp__native_resp_trailer(mp__native_resp *r, const char *name,
                            size_t name_len, const char *value,
                            size_t value_len, mp__http_fail *kind);

/* The connection ended cleanly after what was fed. Returns 1 (complete:
   a body until the end) or -1 with *kind and msg, as curl says it. */
int mp__native_resp_eof(mp__native_resp *r, mp__http_fail *kind, char *msg,
                        size_t msg_len);

#endif
