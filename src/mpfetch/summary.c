/*
 * --summary-json FILE: the end-of-run summary as one JSON object, for
 * pipelines. The numbers are the human summary's (stats.c), from the same
 * counters: records, ok/failed, counts by status class and by error code,
 * bytes, req/s and MB/s, latency percentiles, CPU. Times are in seconds,
 * like the records' "time".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpfetch.h"

/* Writes the status classes and error codes objects. */
static void put_counts(FILE *f, const mpf_stats *s)
{
    static const char *const cls[6] = {"none", "1xx", "2xx",
                                       "3xx",  "4xx", "5xx"};
    fputs("\"status\":{", f);
    for (int i = 1; i <= 6; i++) /* "none" last, as in the human one */
        fprintf(f, "%s\"%s\":%llu", i > 1 ? "," : "", cls[i % 6],
                (unsigned long long)s->status_class[i % 6]);
    fputs("},\"errors\":{", f);
    for (int i = 0; i < s->n_error_kinds; i++) /* names are [A-Z0-9_] */
        fprintf(f, "%s\"%s\":%llu", i ? "," : "",
                mp_err_name(s->error_code[i]),
                (unsigned long long)s->error_count[i]);
    fputs("},", f);
}

/* Writes the latency object: seconds, or null values without requests. */
static void put_latency(FILE *f, const mpf_stats *s)
{
    static const struct {
        const char *name;
        double p;
    } pct[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}};
    fputs("\"latency\":{", f);
    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
        if (s->hist_count)
            fprintf(f, "\"%s\":%.6f,", pct[i].name,
                    (double)mpf_stats_percentile(s, pct[i].p) / 1e6);
        else
            fprintf(f, "\"%s\":null,", pct[i].name);
    }
    if (s->hist_count)
        fprintf(f, "\"max\":%.6f,", (double)s->max_us / 1e6);
    else
        fputs("\"max\":null,", f);
    fprintf(f, "\"requests\":%llu},", (unsigned long long)s->hist_count);
}

/* Builds the JSON text in a malloc'd string. Returns it, or NULL. */
static char *summary_text(const mpf_stats *s, const mpf_run_info *r,
                          size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    double t = r->elapsed_s > 1e-6 ? r->elapsed_s : 1e-6;
    fprintf(f, "{\"records\":%llu,\"ok\":%llu,\"failed\":%llu,"
               "\"canceled\":%llu,\"unwritten\":%llu,"
               "\"interrupted\":%s,\"workers\":%d,"
               "\"elapsed\":%.6f,\"req_per_s\":%.3f,\"bytes\":%llu,"
               "\"mb_per_s\":%.6f,",
            (unsigned long long)s->records, (unsigned long long)s->ok,
            (unsigned long long)s->failed, (unsigned long long)s->canceled,
            (unsigned long long)s->unwritten,
            r->interrupted ? "true" : "false", r->workers, r->elapsed_s,
            (double)s->records / t, (unsigned long long)s->bytes,
            (double)s->bytes / t / 1e6);
    put_counts(f, s);
    put_latency(f, s);
    fprintf(f, "\"cpu\":{\"workers\":%.6f,\"mpfetch\":%.6f,",
            (double)r->worker_cpu_us / 1e6, (double)r->self_cpu_us / 1e6);
    if (s->records)
        fprintf(f, "\"per_request\":%.9f}}\n",
                (double)(r->worker_cpu_us + r->self_cpu_us) / 1e6 /
                    (double)s->records);
    else
        fputs("\"per_request\":null}}\n", f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/*
 * Writes the summary of the run to path (created or truncated, mode 0666
 * before the umask) in one object on one line. Returns 0, or
 * MPF_EXIT_RUNTIME after saying why.
 */
int mpf_summary_json(const char *path, const mpf_stats *s,
                     const mpf_run_info *r)
{
    size_t len = 0;
    char *text = summary_text(s, r, &len);
    if (!text) {
        fputs("mpfetch: out of memory\n", stderr);
        return MPF_EXIT_RUNTIME;
    }
    int fd, err = 0;
    do
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        err = errno;
    for (size_t off = 0; fd >= 0 && off < len;) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            err = k < 0 ? errno : EIO;
            break;
        }
        off += (size_t)k;
    }
    if (fd >= 0 && close(fd) != 0 && !err)
        err = errno;
    free(text);
    if (!err)
        return 0;
    fprintf(stderr, "mpfetch: could not write the --summary-json file %s: "
                    "%s\n", path, strerror(err));
    return MPF_EXIT_RUNTIME;
}
