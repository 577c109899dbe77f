/*
 * mpfetch: main() and the run. Opens the input and the output (reading back
 * what --resume skips), starts the pool with the fetch task, streams the
 * input through mp_pool_imap, then reports and picks the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpfetch.h"

/* Says a file could not be used, in words. Returns MPF_EXIT_RUNTIME. */
static int file_error(const char *what, const char *path, int err)
{
    fprintf(stderr, "mpfetch: could not %s %s: %s\n", what, path,
            strerror(err));
    return MPF_EXIT_RUNTIME;
}

/* Says that n records of the output name lines beyond the input's last
   (the largest: max), which --resume ignores. */
static void report_beyond(const mpf_config *cfg, uint64_t n, uint64_t max,
                          uint64_t last)
{
    fprintf(stderr, "mpfetch: %llu record%s in %s name%s a line beyond the "
                    "input's %llu (the largest: %llu); ignored\n",
            (unsigned long long)n, n == 1 ? "" : "s", cfg->output,
            n == 1 ? "s" : "", (unsigned long long)last,
            (unsigned long long)max);
}

/*
 * --resume: checks the run stamps in the output (another --shard or input
 * is refused: nothing is touched) and says when there is none to check.
 * ri is what fetch_resume_load found. Returns 0, or an exit status after
 * saying why.
 */
static int check_stamps(mpf_app *a, const fetch_resume_info *ri)
{
    const mpf_config *cfg = a->cfg;
    int rc = mpf_stamp_check(&a->reader, &a->stamp, ri->stamps,
                             ri->n_stamps, ri->bad_stamps, cfg->output);
    if (rc)
        return rc;
    a->stamp_new = ri->n_stamps == 0;
    if (a->stamp_new && ri->records && !cfg->quiet)
        fprintf(stderr, "mpfetch: %s has no run stamp (written by an older "
                        "mpfetch, or through stdout): its shard and input "
                        "cannot be checked; this run adds one\n",
                cfg->output);
    return 0;
}

/*
 * --resume: reads back the records in the output open on fd and remembers
 * their lines, checks its run stamps, then cuts a torn last record. Lines
 * beyond the input are reported and ignored now when the input is a
 * regular file (its lines are counted first), else when the input ends
 * (report_errors). Returns 0, or an exit status after saying why.
 */
static int load_resume(mpf_app *a, int fd)
{
    const mpf_config *cfg = a->cfg;
    uint64_t max_line = UINT64_MAX;
    fetch_resume_info ri;
    int rc = 0;
    if (a->reader.is_regular &&
        (rc = mpf_count_lines(a->reader.fd, &max_line)) != 0)
        return file_error("read", mpf_input_name(cfg), -rc);
    rc = fetch_resume_load(fd, max_line, &a->resumed, &ri);
    if (rc)
        return file_error("read back the output file", cfg->output, -rc);
    if ((rc = check_stamps(a, &ri)) != 0)
        return rc;
    if ((rc = mpf_resume_cut(fd, &ri)) != 0)
        return file_error("cut the torn record off", cfg->output, -rc);
    if (ri.torn_bytes)
        fprintf(stderr, "mpfetch: %s ended in a torn record (%llu bytes); "
                        "it was cut away and its line will run again\n",
                cfg->output, (unsigned long long)ri.torn_bytes);
    if (ri.beyond)
        report_beyond(cfg, ri.beyond, ri.beyond_max, max_line);
    if (!cfg->quiet)
        fprintf(stderr, "mpfetch: resuming: %llu lines already in %s are "
                        "skipped\n", (unsigned long long)ri.records,
                cfg->output);
    return 0;
}

/*
 * Opens the output: stdout, -o FILE truncated, or -o FILE read back and
 * appended to with --resume; -o FILE gets this run's stamp (read from the
 * input first). Returns the descriptor, or -1 with *status set after
 * saying why.
 */
static int open_output(mpf_app *a, int *status)
{
    const mpf_config *cfg = a->cfg;
    *status = MPF_EXIT_RUNTIME;
    if (!cfg->output)
        return 1;
    int rc = mpf_stamp_make(&a->reader, cfg->shard_k, cfg->shard_n,
                            mpf_input_name(cfg), &a->stamp), fd;
    if (rc == -EINTR) { /* a signal while waiting for the first line */
        *status = MPF_EXIT_INTERRUPTED;
        return -1;
    }
    if (rc) {
        file_error("read", mpf_input_name(cfg), -rc);
        return -1;
    }
    a->stamp_new = 1;
    int flags = O_CLOEXEC | O_CREAT |
                (cfg->resume ? O_RDWR : O_WRONLY | O_TRUNC);
    do
        fd = open(cfg->output, flags, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        file_error("open the output file", cfg->output, errno);
        return -1;
    }
    if (cfg->resume && (*status = load_resume(a, fd)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --body dir:PATH: makes the directory if it is missing. Returns 0 or
   MPF_EXIT_RUNTIME after saying why. */
static int prepare_body_dir(const mpf_config *cfg)
{
    struct stat st;
    if (cfg->body != FETCH_BODY_DIR)
        return 0;
    if (mkdir(cfg->body_dir, 0777) != 0 && errno != EEXIST)
        return file_error("create the --body directory", cfg->body_dir,
                          errno);
    if (stat(cfg->body_dir, &st) != 0)
        return file_error("use the --body directory", cfg->body_dir, errno);
    if (!S_ISDIR(st.st_mode))
        return file_error("use the --body directory", cfg->body_dir,
                          ENOTDIR);
    if (access(cfg->body_dir, W_OK | X_OK) != 0)
        return file_error("write to the --body directory", cfg->body_dir,
                          errno);
    return 0;
}

/*
 * Starts the pool: the fetch task's configuration as every worker's init
 * argument. Returns 0 with *out set, or an exit status after saying why.
 */
static int create_pool(const mpf_config *cfg, mp_pool **out)
{
    char *conf = mpf_fetch_config_json(cfg);
    if (!conf)
        return MPF_EXIT_USAGE;
    mp_pool_options o;
    mpf_pool_options(cfg, &o);
    o.task_timeout_ms = mpf_task_timeout_ms(cfg);
    o.init = fetch_init;
    o.init_arg = conf;
    o.init_len = strlen(conf);
    int rc = mp_pool_create(out, &o);
    free(conf);
    if (rc == MP_EINIT)
        fprintf(stderr, "mpfetch: the workers could not start with these "
                        "options (%s); check --cacert and --body\n",
                mp_strerror(rc));
    else if (rc)
        fprintf(stderr, "mpfetch: could not start the worker pool: %s%s%s\n",
                mp_strerror(rc), *mp_last_error() ? ": " : "",
                mp_last_error());
    return rc ? MPF_EXIT_RUNTIME : 0;
}

/*
 * Says what went wrong in the run, if anything: input, output, the pool.
 * imap_rc is what mp_pool_imap returned. Returns 1 for a runtime error,
 * else 0.
 */
static int report_errors(const mpf_app *a, int imap_rc, int finish_rc)
{
    const mpf_config *cfg = a->cfg;
    int werr = a->write_error ? a->write_error : -finish_rc;
    int failed = 0;
    if (a->read_error)
        failed = file_error("read", mpf_input_name(cfg),
                            a->read_error);
    if (werr) {
        if (werr != EPIPE)
            file_error("write", cfg->output ? cfg->output : "stdout", werr);
        failed = 1;
    }
    if (!failed && imap_rc && imap_rc != MP_ECANCELED) {
        fprintf(stderr, "mpfetch: the worker pool failed: %s\n",
                mp_strerror(imap_rc));
        failed = 1;
    }
    if (!failed && imap_rc == MP_ECANCELED && mpf_signals_count() == 0)
        failed = 1; /* canceled by nobody we know of */
    if (a->stats.canceled && mpf_signals_count() == 0) {
        /* the reader went away (mpfetch | head): like cat, say nothing;
           --resume only where there is a file to resume */
        if (werr != EPIPE)
            fprintf(stderr, "mpfetch: %llu lines did not finish and have "
                            "no record%s\n",
                    (unsigned long long)a->stats.canceled,
                    cfg->output ? "; run again with --resume to finish them"
                                : "");
        failed = 1;
    }
    uint64_t max = 0, n;
    if (cfg->resume && !a->reader.is_regular && a->counters.eof &&
        (n = fetch_lineset_above(&a->resumed, a->reader.lineno, &max)) != 0)
        report_beyond(cfg, n, max, a->reader.lineno);
    if (a->lost_results || (imap_rc == 0 && a->inflight.count)) {
        fprintf(stderr, "mpfetch: the pool lost track of %llu tasks: %llu "
                        "results were unexpected, %llu never came\n",
                (unsigned long long)(a->lost_results + a->inflight.count),
                (unsigned long long)a->lost_results,
                (unsigned long long)a->inflight.count);
        failed = 1;
    }
    return failed;
}

/*
 * Streams the input through the pool with the ticker running, then flushes
 * and destroys the pool. Returns the exit status.
 */
static int stream(mpf_app *a, mp_pool *pool)
{
    const mpf_config *cfg = a->cfg;
    mpf_ticker t;
    memset(&t, 0, sizeof(t));
    t.show = cfg->progress == 1 || (cfg->progress == -1 && isatty(2));
    t.quiet = cfg->quiet;
    t.grace_s = cfg->grace_s;
    t.pool = pool;
    t.writer = &a->writer;
    t.counters = &a->counters;
    a->counters.input_size = a->reader.size;
    mpf_signals_set_pool(pool);
    if (mpf_signals_install() || mpf_ticker_start(&t))
        fputs("mpfetch: could not set up signals or the progress thread; "
              "going on without them\n", stderr);
    uint64_t t0 = mpf_now_ns();
    int rc = mp_pool_imap(pool, fetch_task, mpf_next, mpf_on_result, a);
    double elapsed = (double)(mpf_now_ns() - t0) / 1e9;
    mpf_ticker_stop(&t);
    int frc = mpf_writer_finish(&a->writer);
    mpf_signals_set_pool(NULL);
    mp_pool_stats ps;
    mp_pool_get_stats(pool, &ps); /* before destroy: workers' CPU */
    int workers = mp_pool_workers(pool);
    mp_pool_destroy(pool);
    int failed = report_errors(a, rc, frc);
    int interrupted = mpf_signals_count() > 0;
    mpf_run_info ri = {.elapsed_s = elapsed,
                       .interrupted = interrupted,
                       .workers = workers,
                       .worker_cpu_us = ps.worker_cpu_us,
                       .self_cpu_us = mpf_self_cpu_us(),
                       .workers_died = ps.workers_died,
                       .tasks_retried = ps.tasks_retried};
    if (!cfg->quiet)
        mpf_stats_print(&a->stats, &ri);
    if (a->summary_fd >= 0 &&
        mpf_summary_json(a->summary_fd, cfg->summary_json, &a->stats, &ri))
        failed = 1;
    a->summary_fd = -1; /* closed */
    if (interrupted)
        return MPF_EXIT_INTERRUPTED;
    if (failed)
        return MPF_EXIT_RUNTIME;
    if (cfg->fail_on_error && a->stats.failed)
        return MPF_EXIT_HTTP_ERROR;
    return MPF_EXIT_OK;
}

/* The whole run for a parsed configuration; closed says which standard
   descriptors were closed at start. Returns the exit status. */
static int run(const mpf_config *cfg, unsigned closed)
{
    int status = MPF_EXIT_RUNTIME, out_fd = -1, rc, made_summary = 0;
    if ((rc = mpf_check_std_fds(cfg, closed)) != 0)
        return rc;
    mp_pool *pool = NULL;
    mpf_app *a = calloc(1, sizeof(*a));
    if (!a)
        goto oom;
    a->cfg = cfg;
    a->reader.fd = -1;
    a->summary_fd = -1;
    rc = cfg->n_urls ? mpf_reader_open_urls(&a->reader, cfg->urls, cfg->n_urls)
                     : mpf_reader_open(&a->reader, cfg->input);
    if (rc != 0) {
        file_error(cfg->n_urls ? "hold" : "open the input file",
                   cfg->n_urls ? mpf_input_name(cfg)
                   : cfg->input ? cfg->input : "-", -rc);
        if (!cfg->n_urls && rc != -ENOMEM)
            status = MPF_EXIT_USAGE; /* a FILE argument that is not one */
        goto out;
    }
    if ((status = mpf_check_input(cfg, a->reader.fd)) != 0 ||
        (status = mpf_check_not_input(cfg, a->reader.fd)) != 0 ||
        (status = mpf_summary_open(cfg, a->reader.fd, &a->summary_fd,
                                   &made_summary)) != 0)
        goto out;
    status = MPF_EXIT_RUNTIME;
    /* the stamp may wait for a pipe's first line: signals end that wait
       as they end the run's (mpf_next) */
    if (mpf_signals_install())
        fputs("mpfetch: could not set up signals; going on without them\n",
              stderr);
    a->reader.interrupted = mpf_signals_count;
    if ((out_fd = open_output(a, &status)) < 0 ||
        (status = prepare_body_dir(cfg)))
        goto out;
    made_summary = 0; /* the run starts: the file stays */
    if (mpf_writer_init(&a->writer, out_fd, cfg->ordered))
        goto oom;
    if (cfg->output && a->stamp_new &&
        !(a->writer.stamp = fetch_stamp_member(&a->stamp,
                                             &a->writer.stamp_len)))
        goto oom;
    a->writer.stats = &a->stats;
    if ((status = create_pool(cfg, &pool)) == 0)
        status = stream(a, pool);
    mpf_writer_destroy(&a->writer);
out:
    if (out_fd > 2)
        close(out_fd);
    if (a && a->summary_fd >= 0) {
        close(a->summary_fd);
        if (made_summary) /* made for a run that never started */
            unlink(cfg->summary_json);
    }
    if (a) {
        mpf_reader_close(&a->reader);
        mpf_inflight_free(&a->inflight);
        fetch_lineset_free(&a->resumed);
    }
    free(a);
    return status;
oom:
    fputs("mpfetch: out of memory\n", stderr);
    status = MPF_EXIT_RUNTIME;
    goto out;
}

/* Every connection is a descriptor and workers inherit our limits: raise
   the soft limit on open files to the hard one (nginx's
   worker_rlimit_nofile), so -c 2000 works where the soft limit is 1024. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    unsigned closed = mpf_std_fds_fix(); /* before any open */
    raise_nofile(); /* before mp_init: the forkserver passes it on */
    int rc = mp_init();
    if (rc) {
        fprintf(stderr, "mpfetch: could not start the process that forks "
                        "the workers: %s\n", mp_strerror(rc));
        return MPF_EXIT_RUNTIME;
    }
    mpf_config cfg;
    mpf_config_defaults(&cfg);
    rc = mpf_options_parse(&cfg, argc, argv);
    if (rc == MPF_PARSE_RUN)
        rc = run(&cfg, closed);
    mpf_config_free(&cfg);
    return rc;
}
