/*
 * The input reader: streams lines from a file or stdin through one fixed
 * read buffer and one line buffer of at most MPF_MAX_LINE bytes, so ten
 * million lines (or one endless line) take bounded memory. The line is kept
 * right after room for a fetch_in header, so the task input is built in
 * place.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mpfetch.h"

#define CHUNK ((size_t)256 << 10)

/* Sets up the reader on r->fd, now open. Returns 0 or -ENOMEM. */
static int reader_setup(mpf_reader *r)
{
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        r->is_regular = 1;
        r->size = (uint64_t)st.st_size;
    }
    r->chunk = malloc(CHUNK);
    r->task = malloc(sizeof(fetch_in) + MPF_MAX_LINE + 1);
    if (!r->chunk || !r->task) {
        mpf_reader_close(r);
        return -ENOMEM;
    }
    return 0;
}

/*
 * Opens path ("-" or NULL: stdin) for reading. Returns 0, or a negative
 * errno (the caller names the file).
 */
int mpf_reader_open(mpf_reader *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->fd = 0;
    if (path && strcmp(path, "-") != 0) {
        do
            r->fd = open(path, O_RDONLY | O_CLOEXEC);
        while (r->fd < 0 && errno == EINTR);
        if (r->fd < 0)
            return -errno;
    }
    return reader_setup(r);
}

/*
 * Opens the n URL arguments as the input, one per line, in an anonymous
 * file (memfd): to the reader, --resume and the progress line they are a
 * regular file of n lines. Returns 0, or a negative errno.
 */
int mpf_reader_open_urls(mpf_reader *r, char *const *urls, int n)
{
    memset(r, 0, sizeof(*r));
    r->fd = memfd_create("mpfetch-urls", MFD_CLOEXEC);
    if (r->fd < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        struct iovec v[2] = {{urls[i], strlen(urls[i])}, {"\n", 1}};
        ssize_t w;
        do /* a memfd takes it whole, unless out of memory */
            w = writev(r->fd, v, 2);
        while (w < 0 && errno == EINTR);
        if (w != (ssize_t)(v[0].iov_len + 1)) {
            int e = w < 0 ? errno : ENOSPC;
            mpf_reader_close(r);
            return -e;
        }
    }
    if (lseek(r->fd, 0, SEEK_SET) < 0) {
        int e = errno;
        mpf_reader_close(r);
        return -e;
    }
    return reader_setup(r);
}

/*
 * Counts the lines of the regular file open on fd the way the reader
 * numbers them (a last line without its newline counts), with pread so the
 * file offset stays. Returns 0 with *lines set, or a negative errno.
 */
int mpf_count_lines(int fd, uint64_t *lines)
{
    char *buf = malloc(CHUNK);
    uint64_t n = 0;
    off_t off = 0;
    ssize_t got;
    char last = '\n';
    if (!buf)
        return -ENOMEM;
    while ((got = pread(fd, buf, CHUNK, off)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            return -e;
        }
        for (char *p = buf, *end = buf + got;
             (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
            n++;
        last = buf[got - 1];
        off += got;
    }
    free(buf);
    *lines = n + (last != '\n');
    return 0;
}

/*
 * Reads ahead, before the first line is taken, until the read buffer holds
 * the input's first want bytes (want <= 256 KiB), or with to_newline a
 * newline among them, or the whole input; a pipe or terminal is waited
 * for, until r->interrupted (if set) says to stop. Nothing is consumed:
 * mpf_reader_next returns those bytes later. Returns 0 with the input's
 * first *n bytes at *p (fewer than want only at its end), -EINTR when
 * interrupted, or a negative errno.
 */
int mpf_reader_peek(mpf_reader *r, size_t want, int to_newline,
                    const char **p, size_t *n)
{
    if (want > CHUNK)
        want = CHUNK;
    while (r->chunk_len < want && !r->eof &&
           !(to_newline && memchr(r->chunk, '\n', r->chunk_len))) {
        if (!r->is_regular) {
            struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
            int k = poll(&pfd, 1, 200);
            if (r->interrupted && r->interrupted())
                return -EINTR;
            if (k < 0 && errno != EINTR)
                return -errno;
            if (k <= 0)
                continue;
        }
        ssize_t got = read(r->fd, r->chunk + r->chunk_len,
                           CHUNK - r->chunk_len);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0)
            return -errno;
        r->chunk_len += (size_t)got;
        r->eof = got == 0;
    }
    *p = r->chunk;
    *n = r->chunk_len < want ? r->chunk_len : want;
    return 0;
}

/* Appends n bytes to the line being assembled, dropping (and counting)
   what goes past MPF_MAX_LINE. */
static void append(mpf_reader *r, const char *p, size_t n)
{
    size_t room = MPF_MAX_LINE - r->line_len;
    size_t keep = n < room ? n : room;
    memcpy(r->task + sizeof(fetch_in) + r->line_len, p, keep);
    r->line_len += keep;
    r->dropped += n - keep;
}

/*
 * Refills the read buffer. wait_ms bounds the wait for a pipe or terminal
 * (regular files never wait): -1 forever, 0 not at all. Returns 1 when
 * bytes arrived, 0 at end of input, MP_EAGAIN when nothing came within
 * wait_ms (or a signal interrupted the wait), or a negative errno.
 */
static int refill(mpf_reader *r, int wait_ms)
{
    if (!r->is_regular && wait_ms >= 0) {
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n == 0 || (n < 0 && errno == EINTR))
            return MP_EAGAIN;
        if (n < 0)
            return -errno;
    }
    ssize_t got = read(r->fd, r->chunk, CHUNK);
    if (got < 0)
        return errno == EINTR || errno == EAGAIN ? MP_EAGAIN : -errno;
    r->chunk_pos = 0;
    r->chunk_len = (size_t)got;
    if (got == 0)
        r->eof = 1;
    return got > 0;
}

/* Ends the line being assembled: numbers it and strips a '\r' before the
   newline. */
static void finish(mpf_reader *r)
{
    char *line = r->task + sizeof(fetch_in);
    r->lineno++;
    if (r->dropped == 0 && r->line_len > 0 && line[r->line_len - 1] == '\r')
        r->line_len--;
    line[r->line_len] = '\0';
}

/*
 * Reads the next physical line (blank and comment lines included: line
 * numbers count them). wait_ms as for refill(). A line longer than
 * MPF_MAX_LINE keeps its first MPF_MAX_LINE bytes and r->dropped > 0.
 * Returns 1 with the line in mpf_reader_line() / r->line_len and its number
 * in r->lineno, 0 at end of input, MP_EAGAIN if no full line is available
 * yet (the partial line is kept), or a negative errno.
 */
int mpf_reader_next(mpf_reader *r, int wait_ms)
{
    if (r->line_done) {
        r->line_len = 0;
        r->dropped = 0;
        r->line_done = 0;
    }
    for (;;) {
        if (r->chunk_pos < r->chunk_len) {
            const char *p = r->chunk + r->chunk_pos;
            size_t n = r->chunk_len - r->chunk_pos;
            const char *nl = memchr(p, '\n', n);
            size_t take = nl ? (size_t)(nl - p) : n;
            append(r, p, take);
            r->chunk_pos += take + (nl != NULL);
            r->bytes_in += take + (nl != NULL);
            if (nl) {
                finish(r);
                r->line_done = 1;
                return 1;
            }
            continue;
        }
        if (r->eof) {
            if (r->line_len == 0 && r->dropped == 0)
                return 0;
            finish(r);
            r->line_done = 1;
            return 1;
        }
        int rc = refill(r, wait_ms);
        if (rc < 0)
            return rc;
    }
}

/* The line mpf_reader_next returned, NUL-terminated (it may hold NULs). */
const char *mpf_reader_line(const mpf_reader *r)
{
    return r->task + sizeof(fetch_in);
}

/* Closes the input (not stdin's descriptor) and frees the buffers. */
void mpf_reader_close(mpf_reader *r)
{
    if (r->fd > 0)
        close(r->fd);
    r->fd = -1;
    free(r->chunk);
    free(r->task);
    r->chunk = r->task = NULL;
}

/* Returns 1 for a line the run skips: only blanks, or a '#' comment (after
   leading blanks). */
int mpf_line_is_skipped(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
                     s[i] == '\v' || s[i] == '\f'))
        i++;
    return i == n || s[i] == '#';
}

