/*
 * The ticker thread: four times a second it flushes output that has sat in
 * the buffer too long, runs the grace timer after the first SIGINT, and
 * redraws the progress line on stderr. The coordinator thread is inside
 * mp_pool_imap meanwhile; the ticker only reads atomic counters and never
 * touches the pool except through mp_pool_cancel (thread-safe).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpfetch.h"

#define TICK_MS 250
#define STALE_NS (200 * 1000000ULL)
#define RATE_SAMPLES 8 /* rate over the last 2 s */

enum { TOTAL_UNKNOWN, TOTAL_ESTIMATED, TOTAL_EXACT };

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

/*
 * Formats the progress line: done (of total, "~" when estimated), rate,
 * failures, ETA when the total is known or estimated. Writes at most cap
 * bytes to out, NUL-terminated.
 */
void mpf_progress_format(char *out, size_t cap, uint64_t done,
                         uint64_t failed, uint64_t total, int total_kind,
                         double rate)
{
    int n;
    if (total_kind == TOTAL_UNKNOWN)
        n = snprintf(out, cap, "%llu done", (unsigned long long)done);
    else
        n = snprintf(out, cap, "%llu/%s%llu done", (unsigned long long)done,
                     total_kind == TOTAL_ESTIMATED ? "~" : "",
                     (unsigned long long)total);
    if (n < 0 || (size_t)n >= cap)
        return;
    n += snprintf(out + n, cap - (size_t)n, ", %.0f req/s, %llu failed",
                  rate, (unsigned long long)failed);
    if (total_kind != TOTAL_UNKNOWN && rate > 0 && total > done &&
        (size_t)n + 16 < cap) {
        n += snprintf(out + n, cap - (size_t)n, ", ETA ");
        fmt_eta(out + n, cap - (size_t)n, (double)(total - done) / rate);
    }
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

/* Redraws the progress line, padded to cover the previous one. */
static void render(mpf_ticker *t, tick_state *st, uint64_t now)
{
    mpf_counters *c = t->counters;
    uint64_t done = atomic_load_explicit(&c->done, memory_order_relaxed);
    uint64_t exp = atomic_load_explicit(&c->expected, memory_order_relaxed);
    uint64_t in = atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
    uint64_t total = 0;
    int kind = TOTAL_UNKNOWN;
    if (atomic_load(&c->eof)) {
        total = exp;
        kind = TOTAL_EXACT;
    } else if (c->input_size && in && exp) {
        total = (uint64_t)((double)exp * (double)c->input_size / (double)in);
        kind = TOTAL_ESTIMATED;
    }
    char line[256];
    line[0] = '\r';
    mpf_progress_format(line + 1, sizeof(line) - 1, done,
                        atomic_load(&c->failed), total, kind,
                        sample_rate(st, now, done));
    size_t n = strlen(line), width = n - 1;
    while (width < t->shown_width && n < sizeof(line) - 1) {
        line[n++] = ' ';
        width++;
    }
    t->shown_width = n - 1;
    put_stderr(line, n);
}

/* Erases the progress line, if one is shown. */
static void clear_line(mpf_ticker *t)
{
    char line[258];
    size_t w = t->shown_width < 256 ? t->shown_width : 256;
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
 * Starts the thread with SIGINT and SIGTERM blocked in it, so the handler
 * runs elsewhere. t's pool, writer, counters, show, quiet and grace_s must
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
    mpf_signals_block();
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
