/*
 * Run statistics: counts by HTTP status class and by error code, bytes,
 * and a log-bucketed latency histogram in the style of HdrHistogram: exact
 * below 32 us, then 16 sub-buckets per power of two (relative error under
 * 1/32), 976 counters cover every uint64_t. Fed only from the coordinator
 * thread; wrk-style, nothing is shared while the run goes.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpfetch.h"

/* Returns the histogram bucket of v microseconds. */
static size_t bucket_of(uint64_t v)
{
    if (v < 32)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 4;
    size_t sub = (size_t)(v >> shift) & 15;
    return 32 + (size_t)(msb - 5) * 16 + sub;
}

/* Returns the middle of bucket i, in microseconds. */
static uint64_t bucket_value(size_t i)
{
    if (i < 32)
        return i;
    int msb = (int)((i - 32) / 16) + 5;
    int shift = msb - 4;
    uint64_t lo = (uint64_t)(16 + (i - 32) % 16) << shift;
    return lo + (((uint64_t)1 << shift) >> 1);
}

/* Counts one more record failing with code. */
static void count_error(mpf_stats *s, int code)
{
    int i;
    for (i = 0; i < s->n_error_kinds; i++)
        if (s->error_code[i] == code)
            break;
    if (i == s->n_error_kinds) {
        if (i == MPF_MAX_ERROR_KINDS)
            i--; /* table full: lump the rest into the last kind */
        else
            s->error_code[s->n_error_kinds++] = code;
    }
    s->error_count[i]++;
}

/* Adds the record whose header is h. */
void mpf_stats_add(mpf_stats *s, const fetch_out *h)
{
    s->records++;
    if (h->ok)
        s->ok++;
    else
        s->failed++;
    int cls = h->status >= 100 && h->status < 600 ? h->status / 100 : 0;
    s->status_class[cls]++;
    if (h->error)
        count_error(s, h->error);
    s->bytes += h->bytes;
    s->native += h->engine == MP_HTTP_NATIVE;
    s->curl += h->engine == MP_HTTP_CURL;
    if (h->error == MP_EINPUT)
        return; /* no request was made: no latency */
    s->hist[bucket_of(h->total_us)]++;
    s->hist_count++;
    if (h->total_us > s->max_us)
        s->max_us = h->total_us;
}

/* Adds a record the CLI wrote itself for a task that failed with code. */
void mpf_stats_add_error(mpf_stats *s, int code)
{
    s->records++;
    s->failed++;
    s->status_class[0]++;
    count_error(s, code);
}

/* Counts record r, written. */
void mpf_stats_count(mpf_stats *s, const mpf_rec *r)
{
    if (r->kind == MPF_REC_WORKER)
        mpf_stats_add(s, &r->h);
    else if (r->kind == MPF_REC_CLI)
        mpf_stats_add_error(s, r->code);
}

/* Returns the latency at percentile p (0-100) in microseconds, 0 when no
   latency was recorded. */
uint64_t mpf_stats_percentile(const mpf_stats *s, double p)
{
    if (!s->hist_count)
        return 0;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)s->hist_count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < MPF_HIST_BUCKETS; i++) {
        seen += s->hist[i];
        if (seen >= rank) {
            uint64_t v = bucket_value(i);
            return v > s->max_us ? s->max_us : v;
        }
    }
    return s->max_us;
}

/* Prints us as "850 us", "12.3 ms" or "1.52 s". */
static void put_latency(FILE *f, const char *label, uint64_t us)
{
    if (us < 1000)
        fprintf(f, "%s %llu us", label, (unsigned long long)us);
    else if (us < 1000000)
        fprintf(f, "%s %.1f ms", label, (double)us / 1e3);
    else
        fprintf(f, "%s %.2f s", label, (double)us / 1e6);
}

/* Prints the status classes and error codes lines. */
static void put_counts(FILE *f, const mpf_stats *s)
{
    static const char *const cls[6] = {"none", "1xx", "2xx",
                                       "3xx",  "4xx", "5xx"};
    fputs("  status:", f);
    const char *sep = " ";
    for (int i = 1; i <= 6; i++) {
        int k = i % 6; /* "none" last */
        if (!s->status_class[k])
            continue;
        fprintf(f, "%s%s %llu", sep, cls[k],
                (unsigned long long)s->status_class[k]);
        sep = ", ";
    }
    fputs(*sep == ' ' ? " -\n" : "\n", f);
    if (s->native || s->curl) /* --engine auto's choice, visible */
        fprintf(f, "  engine: native %llu, curl %llu\n",
                (unsigned long long)s->native, (unsigned long long)s->curl);
    if (!s->n_error_kinds)
        return;
    fputs("  errors:", f);
    for (int i = 0; i < s->n_error_kinds; i++)
        fprintf(f, "%s%s %llu", i ? ", " : " ", mp_err_name(s->error_code[i]),
                (unsigned long long)s->error_count[i]);
    fputc('\n', f);
}

/* Returns the user+system CPU this process (the coordinator) has used, in
   microseconds. */
uint64_t mpf_self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Prints the CPU the run cost: the workers' (which `time mpfetch` cannot
   see: they are not its children) and the coordinator's. */
static void put_cpu(FILE *f, const mpf_stats *s, uint64_t worker_cpu_us,
                    uint64_t self)
{
    fprintf(f, "  cpu: workers %.2f s, mpfetch %.2f s", worker_cpu_us / 1e6,
            self / 1e6);
    if (s->records)
        fprintf(f, ", %.0f us per request",
                (double)(worker_cpu_us + self) / (double)s->records);
    fputc('\n', f);
}

/*
 * Prints the end-of-run summary on stderr in one write: records, throughput,
 * status classes, errors, latency percentiles, and what an interruption
 * left undone.
 */
void mpf_stats_print(const mpf_stats *s, const mpf_run_info *r)
{
    double elapsed_s = r->elapsed_s;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    double t = elapsed_s > 1e-6 ? elapsed_s : 1e-6;
    fprintf(f, "mpfetch: %llu records in %.2f s: %.0f req/s, %.2f MB/s\n",
            (unsigned long long)s->records, elapsed_s,
            (double)s->records / t, (double)s->bytes / t / 1e6);
    fprintf(f, "  ok %llu, failed %llu, canceled %llu\n",
            (unsigned long long)s->ok, (unsigned long long)s->failed,
            (unsigned long long)s->canceled);
    put_counts(f, s);
    if (s->hist_count) {
        fputs("  latency:", f);
        put_latency(f, " p50", mpf_stats_percentile(s, 50));
        put_latency(f, ", p90", mpf_stats_percentile(s, 90));
        put_latency(f, ", p99", mpf_stats_percentile(s, 99));
        put_latency(f, ", max", s->max_us);
        fputc('\n', f);
    }
    put_cpu(f, s, r->worker_cpu_us, r->self_cpu_us);
    if (r->workers_died) /* a crash the re-runs would hide */
        fprintf(f, "  warning: workers died: %llu (replaced; requests "
                   "run again: %llu)\n",
                (unsigned long long)r->workers_died,
                (unsigned long long)r->tasks_retried);
    if (s->unwritten)
        fprintf(f, "  not written: %llu records (the output failed, or "
                   "its reader went away); not counted above\n",
                (unsigned long long)s->unwritten);
    if (r->interrupted)
        fprintf(f, "  interrupted: %llu requests canceled; run again with "
                   "--resume -o FILE to finish\n",
                (unsigned long long)s->canceled);
    fclose(f);
    for (size_t off = 0; off < len;) {
        ssize_t k = write(2, text + off, len - off);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    free(text);
}
