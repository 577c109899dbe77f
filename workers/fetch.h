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

#include "fetch_config.h"
#include "fetch_pool.h"
#include "fetch_resume.h"
#include "fetch_stamp.h"
#include "mpool.h"

/*
 * The pool's init function: parses the configuration (fetch_config.h: the
 * JSON object given as the pool's init_arg, and its keys) into this
 * worker's, and hands "resolve", "dns_servers", "total_conns" and
 * "per_host" to libmpool. Returns 0, or MP_EINVAL for a malformed
 * configuration.
 */
int fetch_init(const void *arg, size_t len);

/* Task input: this header, then the raw input line (no newline). */
typedef struct fetch_in {
    uint64_t line; /* 1-based line number in the input */
} fetch_in;

/* Task output: this header, then the record: JSON text (UTF-8, no
   newline), or jsonw.h's binary form with "binary_records". */
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
