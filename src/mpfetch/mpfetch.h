/*
 * mpfetch: fetch large batches of URLs across all cores, one JSON record per
 * input line. Internal header shared by the CLI's files; the CLI uses only
 * the public API (mpool.h) and the fetch task's header (fetch.h), the way
 * curl's src/tool_*.c sit on top of lib/.
 *
 *   cmdline.c    the getopt_long table, usage(), validation
 *   fetchconf.c  the options as the fetch task's configuration (its JSON is
 *                fetch_config_json's, in workers/fetch_config.c), and a
 *                task's deadline (fetch_task_timeout_ms's)
 *   reader.c     streaming line reader (bounded memory, long-line guard)
 *   inflight.c   pool index -> input line map for tasks in flight
 *   writer.c     whole-line buffered output, --ordered reorder window
 *   resume.c     --resume: the torn last record cut off the output file
 *                (its reader: workers/fetch_resume.h)
 *   stamp.c      the run stamp of this run, and --resume's check of it
 *                (the format and the check: workers/fetch_stamp.h)
 *   stats.c      counters, latency histogram, the summary
 *   summary.c    --summary-json: the summary as JSON
 *   ticker.c     progress line, stale-output flush, SIGINT grace timer
 *   signals.c    SIGINT / SIGTERM / SIGHUP handling
 *   stdfds.c     closed standard descriptors, output that is the input
 *   pipeline.c   the next() / on_result() pair given to mp_pool_imap
 *   main.c       main() and the run
 */
#ifndef MPFETCH_H
#define MPFETCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch.h"
#include "mpool.h"

#ifndef MPF_VERSION_FULL
#define MPF_VERSION_FULL MP_VERSION_STRING
#endif

/* Exit statuses (jq-style named codes; 22 is curl -f's). */
enum {
    MPF_EXIT_OK = 0,           /* every input has its record */
    MPF_EXIT_RUNTIME = 1,      /* could not open/write, pool failure */
    MPF_EXIT_USAGE = 2,        /* bad option or argument */
    MPF_EXIT_HTTP_ERROR = 22,  /* --fail-on-http-error and a record not ok */
    MPF_EXIT_INTERRUPTED = 130 /* SIGINT / SIGTERM */
};

/* Lines longer than this get an MP_E2BIG record instead of a request. */
#define MPF_MAX_LINE ((size_t)1 << 20)
/* --ordered: most records held back waiting for an earlier one. */
#define MPF_ORDER_WINDOW ((uint64_t)1 << 16)

/* Everything the command line sets; mpf_config_defaults() fills it. */
typedef struct mpf_config {
    int workers;             /* 0: mp_cpus_available() */
    int concurrency;         /* per worker */
    double timeout_s;        /* whole transfer; 0: none */
    double connect_timeout_s;
    double grace_s;          /* after the first SIGINT */
    int retries;
    const char *method;      /* NULL: GET, or POST with --data */
    const char **headers;    /* "Name: value", point into argv */
    size_t n_headers;
    char *data;              /* joined --data values, owned; NULL: none */
    size_t data_len;
    int follow;
    int max_redirs;          /* -1: the fetch task's default */
    int compressed;
    int insecure;
    int http1; /* --http1.1 */
    const char *engine; /* --engine; NULL: the task's default (auto) */
    const char *proxy;   /* -x; "": none; NULL: the environment's */
    const char *noproxy; /* --noproxy; NULL: no_proxy / NO_PROXY */
    const char **resolve; /* --resolve entries, point into argv */
    size_t n_resolve;
    const char *dns_servers; /* --dns-servers; NULL: resolv.conf's */
    const char *cacert;
    int proxy_insecure;       /* --proxy-insecure: an https:// proxy's */
    const char *proxy_cacert; /* --proxy-cacert: CAs for that proxy */
    int per_host;            /* 0: no limit */
    double rate;             /* requests/s for the whole run; 0: unlimited */
    int ordered;
    const char *output;      /* NULL: stdout */
    int resume;
    uint64_t shard_k;        /* 1-based; shard_n == 0: no sharding */
    uint64_t shard_n;
    fetch_body body;         /* FETCH_BODY_* */
    const char *body_dir;
    int include_headers;
    uint64_t max_body;       /* 0: the fetch task's default */
    uint64_t speed_limit;    /* bytes/s; 0: none (1 with --speed-time) */
    int speed_time;          /* seconds; 0: none (30 with --speed-limit) */
    int fail_on_error;
    int quiet;
    int progress;            /* -1: if stderr is a TTY, 0: never, 1: always */
    const char *input;       /* NULL or "-": stdin */
    char *const *urls;       /* URL arguments (instead of FILE), the input
                                lines 1..n_urls; point into argv */
    int n_urls;
    const char *summary_json; /* --summary-json FILE; NULL: none */
} mpf_config;

/* ---- cmdline.c ---------------------------------------------------------- */
#define MPF_PARSE_RUN (-1)
void mpf_config_defaults(mpf_config *cfg);
int mpf_options_parse(mpf_config *cfg, int argc, char **argv);
void mpf_config_free(mpf_config *cfg);
int mpf_is_url_arg(const char *s);
const char *mpf_input_name(const mpf_config *cfg);
void mpf_pool_options(const mpf_config *cfg, mp_pool_options *o);

/* ---- fetchconf.c -------------------------------------------------------- */
char *mpf_fetch_config_json(const mpf_config *cfg);
unsigned mpf_task_timeout_ms(const mpf_config *cfg);

/* ---- reader.c ----------------------------------------------------------- */
typedef struct mpf_reader {
    int fd;
    int is_regular;          /* regular file: reads never block */
    int eof;                 /* read() returned 0 */
    int line_done;           /* the line was returned: start a new one */
    char *chunk;             /* read buffer */
    size_t chunk_len, chunk_pos;
    char *task;              /* fetch_in header, then the line */
    size_t line_len;         /* bytes of the line kept (<= MPF_MAX_LINE) */
    uint64_t dropped;        /* bytes past MPF_MAX_LINE, thrown away */
    uint64_t lineno;         /* of the line last returned, 1-based */
    uint64_t bytes_in;       /* consumed so far */
    uint64_t size;           /* of a regular file; 0: unknown */
    int (*interrupted)(void); /* mpf_reader_peek stops waiting when it
                                 returns non-zero; NULL: never */
} mpf_reader;

int mpf_reader_open(mpf_reader *r, const char *path);
int mpf_reader_open_urls(mpf_reader *r, char *const *urls, int n);
int mpf_reader_next(mpf_reader *r, int wait_ms);
int mpf_reader_peek(mpf_reader *r, size_t want, int to_newline,
                    const char **p, size_t *n);
const char *mpf_reader_line(const mpf_reader *r);
void mpf_reader_close(mpf_reader *r);
int mpf_count_lines(int fd, uint64_t *lines);
int mpf_line_is_skipped(const char *s, size_t n);

/* ---- inflight.c --------------------------------------------------------- */
typedef struct mpf_inflight_entry {
    uint64_t key;  /* pool index + 1; 0: free slot */
    uint64_t line;
    uint64_t seq;
} mpf_inflight_entry;

typedef struct mpf_inflight {
    mpf_inflight_entry *slots;
    size_t cap; /* power of two */
    size_t count;
} mpf_inflight;

int mpf_inflight_put(mpf_inflight *m, uint64_t index, uint64_t line,
                     uint64_t seq);
int mpf_inflight_take(mpf_inflight *m, uint64_t index, uint64_t *line,
                      uint64_t *seq);
void mpf_inflight_free(mpf_inflight *m);

/* ---- writer.c ----------------------------------------------------------- */
typedef struct mpf_slot {
    char *text; /* READY: what the record counts (an mpf_rec), then its
                   len bytes */
    size_t len;
    int state;
} mpf_slot;

/* What the summary counts of one record, counted once the record is
   written (mpf_writer_put_rec). */
enum { MPF_REC_NONE, MPF_REC_WORKER, MPF_REC_CLI };
typedef struct mpf_rec {
    int kind;    /* MPF_REC_*: NONE counts nothing */
    int code;    /* MPF_REC_CLI: the code of the CLI's own record */
    fetch_out h; /* MPF_REC_WORKER: the worker's header */
} mpf_rec;

struct mpf_stats;

typedef struct mpf_writer {
    int fd;
    pthread_mutex_t mu; /* buf, len, err: the ticker flushes stale output */
    char *stamp;        /* "run":{...}, for the next record; NULL: none */
    size_t stamp_len;
    char *buf;
    size_t len, cap;
    uint64_t last_flush_ns;
    int err;            /* errno of the first failed write; then drop */
    int ordered;
    mpf_slot *ring;     /* MPF_ORDER_WINDOW slots, by seq */
    uint64_t head;      /* next seq to write (ordered) */
    uint64_t held;      /* records in the ring */
    struct mpf_stats *stats; /* counts each record once written, or as
                                unwritten; NULL: no counting */
    mpf_rec *pend;      /* what the buffered records count, in order */
    size_t npend, pend_cap;
} mpf_writer;

int mpf_writer_init(mpf_writer *w, int fd, int ordered);
int mpf_writer_put(mpf_writer *w, uint64_t seq, const char *text,
                   size_t len);
int mpf_writer_put_rec(mpf_writer *w, uint64_t seq, const char *text,
                       size_t len, const mpf_rec *rec);
int mpf_writer_skip(mpf_writer *w, uint64_t seq);
uint64_t mpf_writer_window(const mpf_writer *w, uint64_t next_seq);
int mpf_writer_flush(mpf_writer *w);
void mpf_writer_flush_stale(mpf_writer *w, uint64_t now_ns,
                            uint64_t max_age_ns);
int mpf_writer_finish(mpf_writer *w);
void mpf_writer_destroy(mpf_writer *w);
uint64_t mpf_now_ns(void);

/* ---- stamp.c ------------------------------------------------------------ */
/* The run stamp of an output file (fetch_stamp, workers/fetch_stamp.h:
   the shard, and a digest of the input's first bytes) of this run. */
int mpf_stamp_make(mpf_reader *r, uint64_t k, uint64_t n_shards,
                   const char *name, fetch_stamp *s);
int mpf_stamp_check(mpf_reader *r, const fetch_stamp *want,
                    const fetch_stamp *found, size_t n, uint64_t bad,
                    const char *output);

/* ---- resume.c ----------------------------------------------------------- */
/* The reader of the output file and the line set are the fetch task's
   (workers/fetch_resume.h, mpool's resume= reads with them too). */
int mpf_resume_cut(int fd, const fetch_resume_info *r);

/* ---- stats.c ------------------------------------------------------------ */
#define MPF_HIST_BUCKETS 976
#define MPF_MAX_ERROR_KINDS 48

typedef struct mpf_stats {
    uint64_t records, ok, failed, canceled;
    uint64_t unwritten; /* made, but the output failed before they were
                           written (mpfetch | head): not in records */
    uint64_t status_class[6]; /* [0]: no HTTP status, [k]: kxx */
    int error_code[MPF_MAX_ERROR_KINDS];
    uint64_t error_count[MPF_MAX_ERROR_KINDS];
    int n_error_kinds;
    uint64_t bytes;
    uint64_t hist[MPF_HIST_BUCKETS];
    uint64_t hist_count, max_us;
    uint64_t native, curl; /* requests by the engine that ran them */
} mpf_stats;

void mpf_stats_add(mpf_stats *s, const fetch_out *h);
void mpf_stats_add_error(mpf_stats *s, int code);
void mpf_stats_count(mpf_stats *s, const mpf_rec *r);
uint64_t mpf_stats_percentile(const mpf_stats *s, double p);
/* What the run and the pool add to the records' counts, for the
   summaries (human and JSON). */
typedef struct mpf_run_info {
    double elapsed_s;
    int interrupted;
    int workers;
    uint64_t worker_cpu_us, self_cpu_us;
    uint64_t workers_died;  /* the pool's: worker exits not asked for */
    uint64_t tasks_retried; /* the pool's: requests re-run after one */
} mpf_run_info;

void mpf_stats_print(const mpf_stats *s, const mpf_run_info *r);
uint64_t mpf_self_cpu_us(void);

/* ---- summary.c ---------------------------------------------------------- */

int mpf_summary_open(const mpf_config *cfg, int in_fd, int *fd,
                     int *created);
int mpf_summary_json(int fd, const char *path, const mpf_stats *s,
                     const mpf_run_info *r);

/* Counters the ticker thread reads while the coordinator runs. */
typedef struct mpf_counters {
    _Atomic uint64_t expected; /* records that will be produced so far */
    _Atomic uint64_t done;     /* records written */
    _Atomic uint64_t failed;   /* records not ok */
    _Atomic uint64_t bytes_in; /* input bytes consumed */
    _Atomic int eof;           /* input fully read: expected is the total */
    uint64_t input_size;       /* regular input file size; 0: unknown */
} mpf_counters;

/* ---- signals.c ---------------------------------------------------------- */
int mpf_signals_install(void);
void mpf_signals_set_pool(mp_pool *p);
int mpf_signals_count(void);
int mpf_signals_block(void);
int mpf_signals_unblock(void);
int mpf_signals_winch_here(void);
int mpf_signals_take_winch(void);

/* ---- stdfds.c ---------------------------------------------------------- */
/* Opens /dev/null on each of fds 0-2 that is closed, so nothing opened
   later (the pool's sockets, the output) takes its number. Call it first
   in main(). Returns a mask of the ones that were closed (bit k: fd k). */
unsigned mpf_std_fds_fix(void);
/* Refuses a run that would read a closed stdin or write records to a
   closed stdout (closed: mpf_std_fds_fix's mask). Returns 0, or
   MPF_EXIT_USAGE after saying why. */
int mpf_check_std_fds(const mpf_config *cfg, unsigned closed);
/* Refuses an input open on in_fd that no line can be read from: a
   directory (read(2) would fail with EISDIR after the pool started). Call
   it before anything starts. Returns 0, or MPF_EXIT_USAGE after saying
   why. */
int mpf_check_input(const mpf_config *cfg, int in_fd);
/* Refuses an output (-o FILE, or stdout) that is the input open on in_fd
   (same device and inode; a regular file or a pipe). Call it before the
   output is opened. Returns 0, or MPF_EXIT_USAGE after saying why. */
int mpf_check_not_input(const mpf_config *cfg, int in_fd);

/* ---- ticker.c ----------------------------------------------------------- */
typedef struct mpf_ticker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int started;
    int show;            /* render the progress line */
    int quiet;
    double grace_s;
    mp_pool *pool;
    mpf_writer *writer;
    mpf_counters *counters;
    size_t shown_width;  /* of the line on screen, to clear it */
    size_t columns;      /* of stderr's terminal; 0: none (no limit) */
} mpf_ticker;

int mpf_ticker_start(mpf_ticker *t);
void mpf_ticker_stop(mpf_ticker *t);

/* What the progress line shows. */
enum { MPF_TOTAL_UNKNOWN, MPF_TOTAL_ESTIMATED, MPF_TOTAL_EXACT };
typedef struct mpf_progress {
    uint64_t done;   /* records written */
    uint64_t failed; /* of them, not ok (the summary's "failed") */
    uint64_t total;  /* with total_kind ESTIMATED or EXACT */
    int total_kind;  /* MPF_TOTAL_* */
    double rate;     /* records per second, lately */
} mpf_progress;

size_t mpf_progress_format(char *out, size_t cap, const mpf_progress *p,
                           size_t columns);

/* ---- pipeline.c --------------------------------------------------------- */
typedef struct mpf_app {
    const mpf_config *cfg;
    mpf_reader reader;
    mpf_writer writer;
    mpf_inflight inflight;
    fetch_lineset resumed; /* lines already in the output (--resume) */
    mpf_stats stats;
    mpf_counters counters;
    uint64_t next_index;  /* pool index of the next input */
    uint64_t next_seq;    /* output position of the next record */
    uint64_t in_flight;
    int read_error;       /* errno of a failed input read */
    int write_error;      /* errno of a failed output write */
    int lost_results;     /* results whose line was unknown */
    int summary_fd;       /* --summary-json's file; -1: none */
    fetch_stamp stamp;    /* this run's (with -o) */
    int stamp_new;        /* the output gets it: it has no matching one */
} mpf_app;

int mpf_next(void *ud, mp_buf *in);
int mpf_on_result(void *ud, size_t index, mp_result *r);
char *mpf_error_record(uint64_t line, int code, const char *message,
                       size_t *len);

#endif
