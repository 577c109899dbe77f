/*
 * The ticker thread: four times a second it flushes output that has sat in
 * the buffer too long, runs the grace timer after the first SIGINT, and
 * redraws the progress line on stderr. The coordinator thread is inside
 * mp_pool_imap meanwhile; the ticker only reads atomic counters and never
 * touches the pool except through mp_pool_cancel (thread-safe).
 *
 * The progress line fits the terminal, as curl's meter and GNU parallel's
 * do: at most width - 1 columns (a line that wraps leaves a row behind at
 * every redraw, '\r' going back only to the start of the last one), the
 * fields of least use dropped first. The width is asked of stderr's
 * terminal (TIOCGWINSZ) at the start and again after each SIGWINCH, which
 * only this thread receives (signals.c).
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "mpfetch.h"

#define TICK_MS 250
#define STALE_NS (200 * 1000000ULL)
#define RATE_SAMPLES 8 /* rate over the last 2 s */
#define LINE_MAX_COLS 255 /* of the line, whatever the width */

/* State only the ticker thread touches. */
typedef struct tick_state {
    uint64_t t[RATE_SAMPLES], done[RATE_SAMPLES];
    unsigned n;
    uint64_t grace_deadline; /* 0: no SIGINT yet */
    int canceled;
} tick_state;

/* Writes all of s to stderr in one write(2) where possible. */
static void put_stderr(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(2, s, n);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

/* Prints seconds as h:mm:ss or m:ss. */
static int fmt_eta(char *out, size_t cap, double s)
{
    unsigned long v = s > 359999 ? 359999 : (unsigned long)(s + 0.5);
    if (v >= 3600)
        return snprintf(out, cap, "%lu:%02lu:%02lu", v / 3600, v / 60 % 60,
                        v % 60);
    return snprintf(out, cap, "%lu:%02lu", v / 60, v % 60);
}

/* The fields of the progress line, in the order shown. */
enum { FLD_DONE, FLD_OK, FLD_FAILED, FLD_RATE, FLD_ETA, FLD_COUNT };
/* Which go first when the line is too wide: the last of this list. The
   count done (with the total) stays, then failed, the rate, the ETA; ok
   is done - failed, so it goes first. */
static const int keep_order[FLD_COUNT] = {FLD_DONE, FLD_FAILED, FLD_RATE, FLD_ETA,
                                        FLD_OK};

/*
 * Formats the progress line for a terminal width columns wide (0: no
 * limit): "48210/~1000000 done, ok 48198, failed 12, 15873 req/s, ETA
 * 1:00", ok and failed in the summary's words (failed: records not ok),
 * "~" for an estimated total, ETA when the total is known or estimated.
 * Fields are dropped, least useful first, until the line fits in
 * columns - 1; if the count alone does not, it is cut. Writes at most
 * cap bytes to out (cap >= 2), NUL-terminated. Returns the line's length
 * (ASCII: its columns).
 */
size_t mpf_progress_format(char *out, size_t cap, const mpf_progress *p,
                           size_t columns)
{
    char f[FLD_COUNT][64];
    int have[FLD_COUNT] = {1, 1, 1, 1, 0};
    if (p->total_kind == MPF_TOTAL_UNKNOWN)
        snprintf(f[FLD_DONE], sizeof f[FLD_DONE], "%llu done",
                 (unsigned long long)p->done);
    else
        snprintf(f[FLD_DONE], sizeof f[FLD_DONE], "%llu/%s%llu done",
                 (unsigned long long)p->done,
                 p->total_kind == MPF_TOTAL_ESTIMATED ? "~" : "",
                 (unsigned long long)p->total);
    snprintf(f[FLD_OK], sizeof f[FLD_OK], "ok %llu",
             (unsigned long long)(p->done - p->failed));
    snprintf(f[FLD_FAILED], sizeof f[FLD_FAILED], "failed %llu",
             (unsigned long long)p->failed);
    snprintf(f[FLD_RATE], sizeof f[FLD_RATE], "%.0f req/s", p->rate);
    if (p->total_kind != MPF_TOTAL_UNKNOWN && p->rate > 0 &&
        p->total > p->done) {
        memcpy(f[FLD_ETA], "ETA ", 4);
        fmt_eta(f[FLD_ETA] + 4, sizeof f[FLD_ETA] - 4,
                (double)(p->total - p->done) / p->rate);
        have[FLD_ETA] = 1;
    }
    size_t limit = cap - 1;
    if (columns && columns - 1 < limit)
        limit = columns - 1;
    for (int k = FLD_COUNT - 1; k > 0; k--) {
        size_t len = 0;
        for (int i = 0; i < FLD_COUNT; i++)
            len += have[i] ? strlen(f[i]) + (i ? 2 : 0) : 0;
        if (len <= limit)
            break;
        have[keep_order[k]] = 0;
    }
    size_t n = 0;
    for (int i = 0; i < FLD_COUNT && n < limit; i++) {
        if (!have[i])
            continue;
        int w = snprintf(out + n, limit + 1 - n, "%s%s", i ? ", " : "", f[i]);
        n += (size_t)w < limit - n ? (size_t)w : limit - n;
    }
    out[n] = '\0';
    return n;
}

/* Returns the requests per second over the last samples. */
static double sample_rate(tick_state *st, uint64_t now, uint64_t done)
{
    unsigned i = st->n % RATE_SAMPLES, oldest = st->n < RATE_SAMPLES ? 0 : i;
    uint64_t t0 = st->t[oldest], d0 = st->done[oldest]; /* before slot i is
                                                            overwritten */
    st->t[i] = now;
    st->done[i] = done;
    st->n++;
    uint64_t dt = now - t0;
    return dt ? (double)(done - d0) * 1e9 / (double)dt : 0;
}

/* Returns the columns of stderr's terminal, or 0 when it is none (the
   line then has no limit but LINE_MAX_COLS). */
static size_t terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
        return 0;
    return ws.ws_col;
}

/* Returns how many columns a redraw or the erasing may cover: width - 1,
   so nothing wraps even after the terminal shrank. */
static size_t pad_limit(const mpf_ticker *t)
{
    return t->columns && t->columns - 1 < LINE_MAX_COLS ? t->columns - 1
                                                        : LINE_MAX_COLS;
}

/* Redraws the progress line, padded to cover the previous one. */
static void render(mpf_ticker *t, tick_state *st, uint64_t now)
{
    mpf_counters *c = t->counters;
    uint64_t done = atomic_load_explicit(&c->done, memory_order_relaxed);
    uint64_t exp = atomic_load_explicit(&c->expected, memory_order_relaxed);
    uint64_t in = atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
    mpf_progress p = {.done = done, .failed = atomic_load(&c->failed),
                      .total_kind = MPF_TOTAL_UNKNOWN};
    if (atomic_load(&c->eof)) {
        p.total = exp;
        p.total_kind = MPF_TOTAL_EXACT;
    } else if (c->input_size && in && exp) {
        p.total = (uint64_t)((double)exp * (double)c->input_size / (double)in);
        p.total_kind = MPF_TOTAL_ESTIMATED;
    }
    if (p.failed > done)
        p.failed = done; /* two relaxed loads, not one snapshot */
    p.rate = sample_rate(st, now, done);
    if (mpf_signals_take_winch())
        t->columns = terminal_columns();
    char line[LINE_MAX_COLS + 2];
    line[0] = '\r';
    size_t n = 1 + mpf_progress_format(line + 1, LINE_MAX_COLS + 1, &p,
                                       t->columns);
    size_t width = n - 1, pad = pad_limit(t);
    while (width < t->shown_width && width < pad) { /* cover the last one */
        line[n++] = ' ';
        width++;
    }
    t->shown_width = width;
    put_stderr(line, n);
}

/* Erases the progress line, if one is shown. */
static void clear_line(mpf_ticker *t)
{
    char line[LINE_MAX_COLS + 2];
    size_t w = t->shown_width < pad_limit(t) ? t->shown_width : pad_limit(t);
    if (!w)
        return;
    line[0] = '\r';
    memset(line + 1, ' ', w);
    line[w + 1] = '\r';
    put_stderr(line, w + 2);
    t->shown_width = 0;
}

/* One tick: stale output, the grace timer, the progress line. */
static void tick(mpf_ticker *t, tick_state *st)
{
    uint64_t now = mpf_now_ns();
    mpf_writer_flush_stale(t->writer, now, STALE_NS);
    if (mpf_signals_count() >= 1 && !st->grace_deadline) {
        st->grace_deadline = now + (uint64_t)(t->grace_s * 1e9) + 1;
        clear_line(t);
        if (!t->quiet && mpf_signals_count() == 1) {
            char msg[160];
            int n = snprintf(msg, sizeof(msg),
                             "mpfetch: interrupted; letting the requests in "
                             "flight finish for up to %g s (Ctrl-C again to "
                             "stop now)\n", t->grace_s);
            put_stderr(msg, (size_t)n);
        }
    }
    if (st->grace_deadline && now >= st->grace_deadline && !st->canceled) {
        mp_pool_cancel(t->pool);
        st->canceled = 1;
    }
    if (t->show)
        render(t, st, now);
}

/* The thread: ticks until mpf_ticker_stop. Returns NULL. */
static void *run(void *arg)
{
    mpf_ticker *t = arg;
    tick_state st;
    memset(&st, 0, sizeof(st));
    st.t[0] = mpf_now_ns(); /* the first rate is measured from here */
    st.n = 1;
    mpf_signals_winch_here(); /* SIGWINCH: this thread's alone */
    t->columns = terminal_columns();
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->mu);
        tick(t, &st);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    clear_line(t);
    return NULL;
}

/*
 * Starts the thread with SIGINT, SIGTERM and SIGHUP blocked in it, so
 * their handler runs elsewhere (SIGWINCH only here). t's pool, writer, counters, show, quiet and grace_s must
 * be set. Returns 0 or a positive error number.
 */
int mpf_ticker_start(mpf_ticker *t)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    t->stop = 0;
    mpf_signals_block(); /* and SIGWINCH, until the thread unblocks it */
    int rc = pthread_create(&t->thread, NULL, run, t);
    mpf_signals_unblock();
    t->started = rc == 0;
    return rc;
}

/* Stops and joins the thread; the progress line is erased. */
void mpf_ticker_stop(mpf_ticker *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    t->started = 0;
}
