/*
 * --summary-json FILE: the end-of-run summary as one JSON object, for
 * pipelines. The numbers are the human summary's (stats.c), from the same
 * counters: records, ok/failed, counts by status class and by error code,
 * bytes, req/s and MB/s, latency percentiles, CPU; and the pool's worker
 * deaths and re-run requests. Times are in seconds, like the records'
 * "time".
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    fprintf(f, "},\"engines\":{\"native\":%llu,\"curl\":%llu},",
            (unsigned long long)s->native, (unsigned long long)s->curl);
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
               "\"workers_died\":%llu,\"tasks_retried\":%llu,"
               "\"elapsed\":%.6f,\"req_per_s\":%.3f,\"bytes\":%llu,"
               "\"mb_per_s\":%.6f,",
            (unsigned long long)s->records, (unsigned long long)s->ok,
            (unsigned long long)s->failed, (unsigned long long)s->canceled,
            (unsigned long long)s->unwritten,
            r->interrupted ? "true" : "false", r->workers,
            (unsigned long long)r->workers_died,
            (unsigned long long)r->tasks_retried, r->elapsed_s,
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

/* Returns 1 if a and b name the same file that a summary would destroy or
   mix into: the same device and inode, a regular file or a pipe (not
   /dev/null, not a terminal), when both exist; when neither does, the same path once their
   directories are resolved (realpath); else 0. */
static int same_path(const char *a, const char *b)
{
    struct stat sa, sb;
    int ha = stat(a, &sa) == 0, hb = stat(b, &sb) == 0;
    if (ha || hb)
        return ha && hb && sa.st_dev == sb.st_dev &&
               sa.st_ino == sb.st_ino &&
               (S_ISREG(sa.st_mode) || S_ISFIFO(sa.st_mode));
    char *da = strdup(a), *db = strdup(b), ra[PATH_MAX], rb[PATH_MAX];
    int same = 0;
    if (da && db && realpath(dirname(da), ra) && realpath(dirname(db), rb)) {
        char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
        same = strcmp(ra, rb) == 0 &&
               strcmp(ba ? ba + 1 : a, bb ? bb + 1 : b) == 0;
    }
    free(da);
    free(db);
    return same;
}

/* Returns 1 if path is the file open on fd, and that is a regular file or
   a pipe (what a summary would destroy or mix into), else 0. */
static int is_open_file(const char *path, int fd)
{
    struct stat sp, sf;
    return fstat(fd, &sf) == 0 && stat(path, &sp) == 0 &&
           sp.st_dev == sf.st_dev && sp.st_ino == sf.st_ino &&
           (S_ISREG(sf.st_mode) || S_ISFIFO(sf.st_mode));
}

/* Complains that the summary file path is what; Returns MPF_EXIT_USAGE. */
static int refuse(const char *path, const char *what, const char *harm)
{
    fprintf(stderr, "mpfetch: the --summary-json file %s is %s; the summary "
                    "would %s. Write it to another file\n",
            path, what, harm);
    return MPF_EXIT_USAGE;
}

/*
 * --summary-json FILE before the run, under -o's rules: refuses a FILE
 * that is the -o file (or, without -o, stdout's file or pipe, as
 * /dev/stdout is) or the input open on in_fd, then opens it for writing
 * (created, not yet truncated), so a path that cannot be written fails
 * before the first request. Call it before the output is opened: a
 * refusal touches nothing. Returns 0 with *fd set (-1 without
 * --summary-json; *created: the file was made here), or an exit status
 * after saying why.
 */
int mpf_summary_open(const mpf_config *cfg, int in_fd, int *fd, int *created)
{
    const char *path = cfg->summary_json;
    *fd = -1;
    *created = 0;
    if (!path)
        return 0;
    if (cfg->output ? same_path(path, cfg->output) : is_open_file(path, 1))
        return refuse(path, cfg->output ? "the -o file" : "stdout",
                      "destroy the records");
    if (is_open_file(path, in_fd))
        return refuse(path, "the input", "destroy the URLs");
    do
        *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    while (*fd < 0 && errno == EINTR);
    *created = *fd >= 0;
    while (*fd < 0 && (errno == EEXIST || errno == EINTR))
        *fd = open(path, O_WRONLY | O_CLOEXEC);
    if (*fd >= 0)
        return 0;
    fprintf(stderr, "mpfetch: could not open the --summary-json file %s: "
                    "%s\n", path, strerror(errno));
    return MPF_EXIT_RUNTIME;
}

/*
 * Writes the summary of the run to the --summary-json file open on fd
 * (mpf_summary_open; path names it) in one object on one line, in place
 * of what it held. Closes fd. Returns 0, or MPF_EXIT_RUNTIME after saying
 * why.
 */
int mpf_summary_json(int fd, const char *path, const mpf_stats *s,
                     const mpf_run_info *r)
{
    size_t len = 0;
    char *text = summary_text(s, r, &len);
    struct stat st;
    int err = 0;
    if (!text) {
        close(fd);
        fputs("mpfetch: out of memory\n", stderr);
        return MPF_EXIT_RUNTIME;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) < 0))
        err = errno;
    for (size_t off = 0; !err && off < len;) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            err = k < 0 ? errno : EIO;
            break;
        }
        off += (size_t)k;
    }
    if (close(fd) != 0 && !err && errno != EINTR)
        err = errno;
    free(text);
    if (!err)
        return 0;
    fprintf(stderr, "mpfetch: could not write the --summary-json file %s: "
                    "%s\n", path, strerror(err));
    return MPF_EXIT_RUNTIME;
}
