/*
 * The output: records appended whole to a large buffer and written with
 * write(2) in runs of complete lines, so no reader of the file ever sees a
 * torn record, not even after SIGKILL. With --ordered, a ring of
 * MPF_ORDER_WINDOW slots holds the records that finished before an earlier
 * one; the reader stops pulling input while the window is full.
 *
 * Called from the coordinator thread; the ticker thread only calls
 * mpf_writer_flush_stale(), hence the mutex around the buffer.
 *
 * The summary counts a record when it is written, not when it is made:
 * after `mpfetch | head` the records the reader never got are counted as
 * unwritten (what each one counts waits in w->pend beside the buffer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mpfetch.h"

#define BUF_SIZE ((size_t)1 << 20)

enum { SLOT_EMPTY, SLOT_READY, SLOT_SKIP };

/* Returns CLOCK_MONOTONIC in nanoseconds. */
uint64_t mpf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sets up w to write to fd. Returns 0 or -ENOMEM. */
int mpf_writer_init(mpf_writer *w, int fd, int ordered)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->ordered = ordered;
    w->cap = BUF_SIZE;
    w->buf = malloc(w->cap);
    if (ordered)
        w->ring = calloc(MPF_ORDER_WINDOW, sizeof(*w->ring));
    if (!w->buf || (ordered && !w->ring)) {
        free(w->buf);
        free(w->ring);
        return -ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->last_flush_ns = mpf_now_ns();
    return 0;
}

/*
 * Writes the iovecs completely, going on after short writes and EINTR;
 * *done counts the bytes written. Returns 0, or a negative errno (EPIPE
 * when the reader went away).
 */
static int write_all(int fd, struct iovec *iov, int n, size_t *done)
{
    *done = 0;
    while (n > 0) {
        ssize_t k = writev(fd, iov, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        *done += (size_t)k;
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

/* Counts what rec counts as written (ok) or as unwritten. */
static void count(mpf_writer *w, const mpf_rec *rec, int ok)
{
    if (!w->stats || !rec || rec->kind == MPF_REC_NONE)
        return;
    if (ok)
        mpf_stats_count(w->stats, rec);
    else
        w->stats->unwritten++;
}

/* Keeps what rec counts until the buffered record is written; w->mu is
   held. Counts it now if there is no memory to keep it. */
static void pend(mpf_writer *w, const mpf_rec *rec)
{
    if (!w->stats || !rec || rec->kind == MPF_REC_NONE)
        return;
    if (w->npend == w->pend_cap) {
        size_t cap = w->pend_cap ? 2 * w->pend_cap : 1024;
        mpf_rec *p = realloc(w->pend, cap * sizeof(*p));
        if (!p) {
            count(w, rec, 1);
            return;
        }
        w->pend = p, w->pend_cap = cap;
    }
    w->pend[w->npend++] = *rec;
}

/* Writes the buffer out; w->mu is held. The records whose newline went
   out are counted as written, the rest as unwritten. Returns 0 or the
   first write error (negative errno), after which output is dropped. */
static int flush_locked(mpf_writer *w)
{
    size_t done = 0, nl = 0, i;
    if (w->len && !w->err) {
        struct iovec iov = {w->buf, w->len};
        int rc = write_all(w->fd, &iov, 1, &done);
        if (rc)
            w->err = -rc;
    }
    for (const char *p = w->buf, *end = w->buf + done;
         (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        nl++;
    for (i = 0; i < w->npend; i++) /* one pending per buffered record */
        count(w, &w->pend[i], i < nl);
    w->npend = 0;
    w->len = 0;
    w->last_flush_ns = mpf_now_ns();
    return w->err ? -w->err : 0;
}

/* Returns where the run stamp goes in the record text[0..len): after
   the comma that ends {"line":N, (every record starts so); len when the
   record is not like that (it then gets none). */
static size_t stamp_at(const char *text, size_t len)
{
    const char *c = len > 8 && memcmp(text, "{\"line\":", 8) == 0
                        ? memchr(text, ',', len < 32 ? len : 32)
                        : NULL;
    return c ? (size_t)(c - text) + 1 : len;
}

/*
 * Appends one record and its newline, the run stamp (w->stamp) spliced
 * into the first one; a record larger than the buffer is written directly
 * after what is buffered. rec (NULL: nothing) is what it counts once
 * written. Returns 0 or a negative errno.
 */
static int emit(mpf_writer *w, const char *text, size_t len,
                const mpf_rec *rec)
{
    int rc = 0;
    size_t done, at = w->stamp ? stamp_at(text, len) : len;
    size_t st = at < len ? w->stamp_len : 0, total = len + st + 1;
    struct iovec iov[4] = {{(void *)text, at},
                           {w->stamp, st},
                           {(void *)(text + at), len - at},
                           {"\n", 1}};
    pthread_mutex_lock(&w->mu);
    if (w->err)
        rc = -w->err;
    else if (w->len + total > w->cap)
        rc = flush_locked(w);
    if (rc == 0 && total > w->cap) {
        rc = write_all(w->fd, iov, 4, &done);
        if (rc)
            w->err = -rc;
        count(w, rec, rc == 0);
    } else if (rc == 0) {
        for (int i = 0; i < 4; i++) {
            if (iov[i].iov_len)
                memcpy(w->buf + w->len, iov[i].iov_base, iov[i].iov_len);
            w->len += iov[i].iov_len;
        }
        pend(w, rec);
    } else {
        count(w, rec, 0);
    }
    if (st) { /* in the first record: done */
        free(w->stamp);
        w->stamp = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* What the record held in slot s counts (kept before its text). */
static const mpf_rec *slot_rec(const mpf_slot *s)
{
    return (const mpf_rec *)(const void *)s->text;
}

/* Writes the records that are next in order. Returns 0 or a negative
   errno. */
static int drain(mpf_writer *w)
{
    int rc = 0;
    for (;;) {
        mpf_slot *s = &w->ring[w->head % MPF_ORDER_WINDOW];
        if (s->state == SLOT_EMPTY)
            return rc;
        if (s->state == SLOT_READY) {
            int e = emit(w, s->text + sizeof(mpf_rec), s->len, slot_rec(s));
            rc = rc ? rc : e;
            free(s->text);
            w->held--;
        }
        *s = (mpf_slot){NULL, 0, SLOT_EMPTY};
        w->head++;
    }
}

/*
 * Adds the record for output position seq (ignored without --ordered);
 * rec (NULL: nothing) is what it counts in the summary once written.
 * Ordered: written now if every earlier position is done, else copied into
 * the window (the caller keeps seq - head below MPF_ORDER_WINDOW). Returns
 * 0, -ENOMEM, or the write error as a negative errno.
 */
int mpf_writer_put_rec(mpf_writer *w, uint64_t seq, const char *text,
                       size_t len, const mpf_rec *rec)
{
    static const mpf_rec none = {MPF_REC_NONE, 0, {0}};
    if (!w->ordered)
        return emit(w, text, len, rec);
    if (seq != w->head) {
        mpf_slot *s = &w->ring[seq % MPF_ORDER_WINDOW];
        s->text = malloc(sizeof(mpf_rec) + len);
        if (!s->text)
            return -ENOMEM;
        memcpy(s->text, rec ? rec : &none, sizeof(mpf_rec));
        memcpy(s->text + sizeof(mpf_rec), text, len);
        s->len = len;
        s->state = SLOT_READY;
        w->held++;
        return 0;
    }
    int rc = emit(w, text, len, rec);
    w->head++;
    int rc2 = drain(w);
    return rc ? rc : rc2;
}

/* mpf_writer_put_rec with nothing to count. */
int mpf_writer_put(mpf_writer *w, uint64_t seq, const char *text, size_t len)
{
    return mpf_writer_put_rec(w, seq, text, len, NULL);
}

/* Marks output position seq as producing no record (a canceled task).
   Returns 0 or a write error as a negative errno. */
int mpf_writer_skip(mpf_writer *w, uint64_t seq)
{
    if (!w->ordered)
        return 0;
    w->ring[seq % MPF_ORDER_WINDOW].state = SLOT_SKIP;
    return seq == w->head ? drain(w) : 0;
}

/* Returns how many output positions before next_seq are not written yet
   (0 without --ordered). */
uint64_t mpf_writer_window(const mpf_writer *w, uint64_t next_seq)
{
    return w->ordered ? next_seq - w->head : 0;
}

/* Writes out the buffer. Returns 0 or a negative errno. */
int mpf_writer_flush(mpf_writer *w)
{
    pthread_mutex_lock(&w->mu);
    int rc = flush_locked(w);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Flushes when the oldest buffered record may be older than max_age_ns:
   someone tailing the output sees records promptly. */
void mpf_writer_flush_stale(mpf_writer *w, uint64_t now_ns,
                            uint64_t max_age_ns)
{
    pthread_mutex_lock(&w->mu);
    if (w->len && now_ns - w->last_flush_ns >= max_age_ns)
        flush_locked(w);
    pthread_mutex_unlock(&w->mu);
}

/*
 * End of run: writes the records still held by --ordered (their earlier
 * neighbours never finished: the run was stopped), in order, then flushes.
 * Returns 0 or the first write error as a negative errno.
 */
int mpf_writer_finish(mpf_writer *w)
{
    int rc = 0;
    for (uint64_t i = 0; w->ordered && w->held && i < MPF_ORDER_WINDOW;
         i++) {
        mpf_slot *s = &w->ring[(w->head + i) % MPF_ORDER_WINDOW];
        if (s->state == SLOT_READY) {
            int e = emit(w, s->text + sizeof(mpf_rec), s->len, slot_rec(s));
            rc = rc ? rc : e;
            free(s->text);
            w->held--;
        }
        *s = (mpf_slot){NULL, 0, SLOT_EMPTY};
    }
    int rc2 = mpf_writer_flush(w);
    return rc ? rc : rc2;
}

/* Frees the buffers (call mpf_writer_finish first to keep the output). */
void mpf_writer_destroy(mpf_writer *w)
{
    for (uint64_t i = 0; w->ring && i < MPF_ORDER_WINDOW; i++)
        free(w->ring[i].text);
    free(w->ring);
    free(w->buf);
    free(w->pend);
    free(w->stamp);
    w->stamp = NULL;
    w->pend = NULL;
    w->npend = w->pend_cap = 0;
    if (w->buf)
        pthread_mutex_destroy(&w->mu);
    w->ring = NULL;
    w->buf = NULL;
}
