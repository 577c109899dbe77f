/*
 * The pair of callbacks mpfetch gives mp_pool_imap. Both run on the
 * coordinator thread, inside the pool's loop:
 *
 *   mpf_next       reader -> filters (blank/#, --resume, --shard) -> task
 *   mpf_on_result  result -> record (the worker's, or one of ours) -> writer
 *
 * Every input line that passes the filters gets exactly one record, unless
 * its task did not finish because the run was stopped (MP_ECANCELED) or the
 * pool failed (MP_EABORTED): then none, so --resume runs it again, and the
 * exit status says the run is incomplete.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfetch.h"

/* Counts a record written, for the progress line. */
static void count_done(mpf_app *a, int ok)
{
    atomic_fetch_add_explicit(&a->counters.done, 1, memory_order_relaxed);
    if (!ok)
        atomic_fetch_add_explicit(&a->counters.failed, 1,
                                  memory_order_relaxed);
}

/*
 * Builds the record the CLI writes for an input line that has no record
 * from a worker (the task failed at the pool level, the line was too long):
 * {"line":N,"url":null,"ok":false,"status":0,"error":{"code":..,
 * "message":..}}. Returns malloc'd JSON text (length in *len), or NULL when
 * out of memory.
 */
char *mpf_error_record(uint64_t line, int code, const char *message,
                       size_t *len)
{
    json_t *o = json_pack("{s:I,s:n,s:b,s:i,s:{s:s,s:s}}", "line",
                          (json_int_t)line, "url", "ok", 0, "status", 0,
                          "error", "code", mp_err_name(code), "message",
                          message ? message : mp_strerror(code));
    if (!o) /* message was not UTF-8 */
        o = json_pack("{s:I,s:n,s:b,s:i,s:{s:s,s:s}}", "line",
                      (json_int_t)line, "url", "ok", 0, "status", 0,
                      "error", "code", mp_err_name(code), "message",
                      mp_strerror(code));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text)
        *len = strlen(text);
    return text;
}

/* Writes a record made by the CLI for output position seq. Returns 0, or
   a negative errno when out of memory or the output failed. */
static int put_error_record(mpf_app *a, uint64_t seq, uint64_t line,
                            int code, const char *message)
{
    size_t len = 0;
    char *text = mpf_error_record(line, code, message, &len);
    if (!text)
        return -ENOMEM;
    mpf_rec rec = {.kind = MPF_REC_CLI, .code = code};
    int rc = mpf_writer_put_rec(&a->writer, seq, text, len, &rec);
    free(text);
    count_done(a, 0);
    return rc;
}

/* Keeps the first output error; the run stops. Returns MP_EIO. */
static int output_failed(mpf_app *a, int rc)
{
    if (rc == -ENOMEM)
        return MP_ENOMEM;
    if (!a->write_error)
        a->write_error = -rc;
    return MP_EIO;
}

/* Answers a line longer than MPF_MAX_LINE (size bytes) with an MP_E2BIG
   record. Returns 0, or a negative MP_E* code that ends the run. */
static int too_long(mpf_app *a, uint64_t seq, uint64_t line, uint64_t size)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "line %llu: the input line is longer than "
             "1 MiB (%llu bytes)", (unsigned long long)line,
             (unsigned long long)size);
    int rc = put_error_record(a, seq, line, MP_E2BIG, msg);
    return rc ? output_failed(a, rc) : 0;
}

/*
 * Decides what happens to the line the reader just returned: skipped
 * (blank, comment, already done, another shard's), answered here (too
 * long), or turned into a task in *in. Returns 1 for a task, 0 to read on,
 * or a negative MP_E* code that ends the run.
 */
static int take_line(mpf_app *a, mp_buf *in)
{
    const mpf_config *cfg = a->cfg;
    const char *s = mpf_reader_line(&a->reader);
    size_t n = a->reader.line_len;
    uint64_t line = a->reader.lineno;
    if (mpf_line_is_skipped(s, n))
        return 0;
    if (cfg->resume && fetch_lineset_has(&a->resumed, line))
        return 0;
    if (cfg->shard_n > 1 &&
        fetch_fnv1a64(s, n) % cfg->shard_n != cfg->shard_k - 1)
        return 0;
    atomic_fetch_add_explicit(&a->counters.expected, 1, memory_order_relaxed);
    uint64_t seq = a->next_seq++;
    if (a->reader.dropped)
        return too_long(a, seq, line, n + a->reader.dropped);
    if (mpf_inflight_put(&a->inflight, a->next_index, line, seq))
        return MP_ENOMEM;
    fetch_in hdr = {.line = line};
    memcpy(a->reader.task, &hdr, sizeof(hdr));
    in->data = a->reader.task;
    in->len = sizeof(hdr) + n;
    a->next_index++;
    a->in_flight++;
    return 1;
}

/*
 * mp_next_fn. Pulls lines until one becomes a task. Stops input after the
 * first SIGINT; pauses (MP_EAGAIN) while the --ordered window is full or,
 * with requests in flight, while a pipe has no full line yet, so results
 * keep flowing while a slow producer writes. Returns 1 with *in set, 0 at
 * the end of input, MP_EAGAIN, or a negative code that ends the run.
 */
int mpf_next(void *ud, mp_buf *in)
{
    mpf_app *a = ud;
    for (;;) {
        if (mpf_signals_count() > 0 || a->write_error)
            return 0;
        if (a->in_flight &&
            mpf_writer_window(&a->writer, a->next_seq) >= MPF_ORDER_WINDOW)
            return MP_EAGAIN;
        int rc = mpf_reader_next(&a->reader, a->in_flight ? 0 : 200);
        atomic_store_explicit(&a->counters.bytes_in, a->reader.bytes_in,
                              memory_order_relaxed);
        if (rc == MP_EAGAIN) {
            if (a->in_flight)
                return MP_EAGAIN;
            continue; /* nothing in flight: wait here, checking signals */
        }
        if (rc == 0) {
            atomic_store(&a->counters.eof, 1);
            return 0;
        }
        if (rc < 0) {
            a->read_error = -rc;
            return MP_EIO;
        }
        rc = take_line(a, in);
        if (rc != 0)
            return rc;
    }
}

/* Returns 1 if a task ended with code did not finish for a reason that is
   not its own (the run was canceled, the pool failed): its line must get
   no record, so --resume runs it. Returns 0 for a final outcome, MP_EWORKER
   included (the task crashed its worker max_attempts times). */
static int unfinished(int code)
{
    return code == MP_ECANCELED || code == MP_EABORTED;
}

/*
 * mp_result_fn. Writes the worker's record for index, or the CLI's own when
 * the task failed at the pool level (no record came back), or nothing for
 * a task that did not finish (unfinished()). Returns 0, or 1 to stop the
 * run after an output error.
 */
int mpf_on_result(void *ud, size_t index, mp_result *r)
{
    mpf_app *a = ud;
    uint64_t line, seq;
    fetch_out h;
    int rc;
    a->in_flight--;
    if (mpf_inflight_take(&a->inflight, index, &line, &seq) != 0) {
        a->lost_results++;
        return 0;
    }
    int have = r->data && r->len >= sizeof(h);
    if (have)
        memcpy(&h, r->data, sizeof(h)); /* r->data may be unaligned */
    if (unfinished(r->status) || (have && unfinished(h.error))) {
        a->stats.canceled++;
        rc = mpf_writer_skip(&a->writer, seq);
        return rc ? (output_failed(a, rc), 1) : 0;
    }
    if (have) {
        mpf_rec rec = {.kind = MPF_REC_WORKER, .h = h};
        rc = mpf_writer_put_rec(&a->writer, seq,
                                (const char *)r->data + sizeof(h),
                                r->len - sizeof(h), &rec);
        count_done(a, h.ok); /* the progress line: made; the summary:
                                written (the writer counts it) */
    } else {
        int code = r->status < 0 ? r->status : MP_EPROTO;
        rc = put_error_record(a, seq, line, code,
                              r->error ? r->error
                              : r->status < 0
                                  ? mp_strerror(code)
                                  : "the fetch task returned no record");
    }
    return rc ? (output_failed(a, rc), 1) : 0;
}
