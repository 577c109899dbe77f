/*
 * The fetch task: the built-in task mpfetch runs in every worker. One raw
 * input line in (a URL, or a JSON object), one JSON record out. The worker
 * does all the per-request work (parsing the line, the transfer, retries,
 * body handling, formatting the record) so the coordinator only moves bytes.
 */
#ifndef FETCH_H
#define FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "mpool.h"

/*
 * Configuration: a JSON object given as the pool's init_arg; fetch_init
 * is the pool's init function. Every key is optional:
 *   "method": "GET", "headers": ["Name: value", ...], "data": "body",
 *   "timeout_ms": 30000, "connect_timeout_ms": 10000,
 *   "follow": false, "max_redirs": 10, "compressed": false,
 *   "insecure": false, "cacert": "/path/ca.pem", "http1": false,
 *   "retries": 0, "retry_base_ms": 100, "retry_max_ms": 10000,
 *   "per_host": 0, "total_conns": 0,
 *   "body": "none" | "inline" | "sha256" | "dir", "body_dir": "/path",
 *   "include_headers": false, "max_body": 16777216 (every body mode),
 *   "speed_limit": 0 (bytes/s), "speed_time": 0 (seconds; see mp_http),
 *   "engine": "auto" | "curl" | "native" (mp_http_request.engine),
 *   "proxy": "host:port" ("" none), "noproxy": "a,b" (absent: the
 *   environment's, read once per worker; see mp_http_request),
 *   "resolve": ["HOST:PORT:ADDR[,ADDR...]", ...] (mp_http_set_resolve),
 *   "dns_servers": "ADDR[:PORT][,...]" (mp_http_set_dns_servers)
 * Returns 0, or MP_EINVAL for a malformed configuration.
 */
int fetch_init(const void *arg, size_t len);

/*
 * Validation: the one set of rules for methods, headers and body modes.
 * The fetch task applies them to its configuration and to every JSON input
 * line; front ends (mpfetch's options) call the same functions, so a value
 * refused in a worker is refused on the command line too.
 */

/* Returns MP_HTTP_AUTO, MP_HTTP_CURL or MP_HTTP_NATIVE for an engine name
   ("auto", "curl", "native"), or -1. */
int fetch_engine_code(const char *name);

/* The methods the task sends, canonical spelling, NULL-terminated. */
extern const char *const fetch_methods[];

/* Returns the canonical (upper-case) spelling of method m if it is one of
   fetch_methods (any case), else NULL. */
const char *fetch_method_name(const char *m);

/* Returns 1 if h[0..n) is an acceptable header line, else 0: "Name: value"
   or "Name;" (curl's way to send an empty header), Name one or more
   visible ASCII characters other than ':', and no CR, LF or NUL anywhere
   (they would split the request). */
int fetch_header_ok(const char *h, size_t n);

/* What the task does with a response body ("body" in the configuration). */
typedef enum fetch_body {
    FETCH_BODY_NONE,   /* "none": count the bytes, keep nothing */
    FETCH_BODY_INLINE, /* "inline": the body in the record */
    FETCH_BODY_SHA256, /* "sha256": its hex digest in the record */
    FETCH_BODY_DIR     /* "dir": one file per request under "body_dir" */
} fetch_body;

/* Returns the fetch_body named by the n bytes at name ("none", "inline",
   "sha256", "dir"), or -1 if there is no such mode. */
int fetch_body_mode(const char *name, size_t n);

/* Returns the name of mode (a fetch_body), or NULL if it is none. */
const char *fetch_body_name(int mode);

/* Returns 1 if dir suits mode, else 0: FETCH_BODY_DIR needs a non-empty
   directory path, every other mode takes none (dir NULL). */
int fetch_body_dir_ok(int mode, const char *dir);

/* Task input: this header, then the raw input line (no newline). */
typedef struct fetch_in {
    uint64_t line; /* 1-based line number in the input */
} fetch_in;

/* Task output: this header, then the JSON record (UTF-8, no newline). */
typedef struct fetch_out {
    uint64_t line;
    uint64_t total_us; /* latency of the last attempt */
    uint64_t bytes;    /* body bytes received */
    int32_t status;    /* HTTP status, 0 if none */
    int32_t error;     /* 0 or MP_E* (MP_EINPUT for a malformed line) */
    uint32_t attempts;
    uint32_t ok;       /* 1: no error and status < 400 */
    int32_t engine;    /* the last attempt's MP_HTTP_NATIVE or
                          MP_HTTP_CURL; 0 if no request was made */
} fetch_out;

/*
 * The record, one JSON object:
 *   {"line":12, "id":<the input's id, if any>, "url":"...",
 *    "method":"GET", "final_url":"...", "status":200, "ok":true,
 *    "error":null | {"code":"MP_ETIMEDOUT","message":"..."},
 *    "bytes":1024, "attempts":1, "redirects":0, "http_version":"1.1",
 *    "time":{"dns":0.0001,"connect":0.0002,"tls":0,"first_byte":0.001,
 *            "total":0.0012},                           (seconds)
 *    "headers":{"content-type":"text/plain",...}        (include_headers)
 *    "body":"...", "body_encoding":"utf-8"|"base64"     (body "inline")
 *    "sha256":"hex..."                                  (body "sha256")
 *    "body_file":"/dir/..."}                            (body "dir")
 * A malformed line yields status 0, ok false, error MP_EINPUT naming what is
 * wrong, and "input" holding the line (truncated to 1 KiB).
 */
int fetch_task(mp_task *t, const void *in, size_t len);

#endif
