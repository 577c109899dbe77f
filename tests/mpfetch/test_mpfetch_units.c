/*
 * Unit tests of mpfetch's pure modules (issue #10.4), each a table of
 * cases run through the real functions, no pool and no network: the reader
 * (reader.c), the in-flight map (inflight.c), the writer and its --ordered
 * window (writer.c), the --resume reader and line set (resume.c), the
 * statistics (stats.c), and the options' pool credit, task deadline and
 * bounds (cmdline.c and fetchconf.c over the fetch task's). Files are memfds and pipes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mpfetch.h"

/* Returns a memfd holding n bytes of text, offset 0. */
static int memfile(const char *text, size_t n)
{
    int fd = memfd_create("mpfetch-unit", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Returns the whole content of fd (from offset 0), NUL-terminated;
   length in *n. */
static char *file_text(int fd, size_t *n)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *s = malloc((size_t)end + 1);
    assert_non_null(s);
    assert_int_equal(pread(fd, s, (size_t)end, 0), end);
    s[end] = '\0';
    *n = (size_t)end;
    return s;
}

/* ---- reader ----------------------------------------------------------- */

/* Opens a reader on fd (as mpf_reader_open does for a path). */
static void reader_on(mpf_reader *r, int fd)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    assert_int_equal(mpf_reader_open(r, path), 0);
}

static void test_reader_lines(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t in_len; /* 0: strlen(in) */
        int n;
        const char *lines[4];
        size_t lens[4];
    } cases[] = {
        {"", 0, 0, {NULL}, {0}},
        {"a\nb\n", 0, 2, {"a", "b"}, {1, 1}},
        {"a\nb", 0, 2, {"a", "b"}, {1, 1}},   /* last line, no newline */
        {"a\r\nb\r\n", 0, 2, {"a", "b"}, {1, 1}}, /* CRLF */
        {"\n\n", 0, 2, {"", ""}, {0, 0}},     /* blank lines count */
        {"a\rb\n", 0, 1, {"a\rb"}, {3}},      /* a lone CR stays */
        {"x\0y\n", 4, 1, {"x\0y"}, {3}},      /* NUL kept, length says */
        {"# c\n  \nu\n", 0, 3, {"# c", "  ", "u"}, {3, 2, 1}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].in_len ? cases[i].in_len : strlen(cases[i].in);
        int fd = memfile(cases[i].in, len);
        mpf_reader r;
        uint64_t counted = 99;
        reader_on(&r, fd);
        assert_int_equal(mpf_count_lines(r.fd, &counted), 0);
        assert_int_equal(counted, (uint64_t)cases[i].n);
        for (int k = 0; k < cases[i].n; k++) {
            assert_int_equal(mpf_reader_next(&r, -1), 1);
            assert_int_equal(r.lineno, (uint64_t)k + 1);
            assert_int_equal(r.line_len, cases[i].lens[k]);
            assert_memory_equal(mpf_reader_line(&r), cases[i].lines[k],
                                cases[i].lens[k]);
            assert_int_equal(r.dropped, 0);
        }
        assert_int_equal(mpf_reader_next(&r, -1), 0);
        assert_int_equal(r.bytes_in, len);
        mpf_reader_close(&r);
        close(fd);
    }
}

/* A line over MPF_MAX_LINE keeps its first MPF_MAX_LINE bytes and counts
   the rest; the next line is whole. */
static void test_reader_long_line(void **state)
{
    (void)state;
    size_t big = MPF_MAX_LINE + 1000;
    char *text = malloc(big + 3);
    assert_non_null(text);
    memset(text, 'x', big);
    memcpy(text + big, "\nz", 2);
    int fd = memfile(text, big + 2);
    mpf_reader r;
    reader_on(&r, fd);
    assert_int_equal(mpf_reader_next(&r, -1), 1);
    assert_int_equal(r.line_len, MPF_MAX_LINE);
    assert_int_equal(r.dropped, 1000);
    assert_int_equal(mpf_reader_next(&r, -1), 1);
    assert_int_equal(r.lineno, 2);
    assert_int_equal(r.dropped, 0);
    assert_string_equal(mpf_reader_line(&r), "z");
    assert_int_equal(mpf_reader_next(&r, -1), 0);
    mpf_reader_close(&r);
    close(fd);
    free(text);
}

/* A pipe: no full line yet is MP_EAGAIN (the part is kept), not a line. */
static void test_reader_pipe_partial(void **state)
{
    (void)state;
    int p[2];
    mpf_reader r;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    reader_on(&r, p[0]);
    assert_false(r.is_regular);
    assert_int_equal(write(p[1], "htt", 3), 3);
    assert_int_equal(mpf_reader_next(&r, 0), MP_EAGAIN);
    assert_int_equal(mpf_reader_next(&r, 0), MP_EAGAIN);
    assert_int_equal(write(p[1], "p://a\nb", 7), 7);
    assert_int_equal(mpf_reader_next(&r, 1000), 1);
    assert_string_equal(mpf_reader_line(&r), "http://a");
    close(p[1]);
    assert_int_equal(mpf_reader_next(&r, 1000), 1);
    assert_string_equal(mpf_reader_line(&r), "b");
    assert_int_equal(mpf_reader_next(&r, 1000), 0);
    mpf_reader_close(&r);
    close(p[0]);
}

static void test_skip_and_hash(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int skipped;
    } skip[] = {{"", 1},       {"   ", 1},   {"\t\r", 1}, {"#", 1},
                {"  # x", 1},  {"u", 0},     {" u", 0},   {"u # x", 0},
                {"\v\f#", 1},  {"\xef", 0}};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (mpf_line_is_skipped(skip[i].s, strlen(skip[i].s)) !=
            skip[i].skipped)
            fail_msg("line \"%s\": want skipped=%d", skip[i].s,
                     skip[i].skipped);
    /* FNV-1a 64 reference values (the --shard function) */
    assert_true(fetch_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
    assert_true(fetch_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(fetch_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}

/* Which arguments are URLs, and URL arguments read back as lines 1..n. */
static void test_url_args(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int url;
    } t[] = {{"http://h/x", 1}, {"https://h", 1}, {"HTTP://h", 1},
             {"svn+ssh://h", 1}, {"a.b-c://h", 1}, {"urls.txt", 0},
             {"-", 0}, {"./http://h", 0}, {"1http://h", 0},
             {"http:/h", 0}, {"://h", 0}, {"http//h", 0}, {"", 0}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (mpf_is_url_arg(t[i].s) != t[i].url)
            fail_msg("argument \"%s\": want url=%d", t[i].s, t[i].url);
    char *urls[] = {"http://a/1", "http://b/2"};
    mpf_reader r;
    assert_int_equal(mpf_reader_open_urls(&r, urls, 2), 0);
    assert_true(r.is_regular);
    uint64_t lines = 0;
    assert_int_equal(mpf_count_lines(r.fd, &lines), 0);
    assert_int_equal(lines, 2);
    assert_int_equal(mpf_reader_next(&r, 0), 1);
    assert_string_equal(mpf_reader_line(&r), "http://a/1");
    assert_int_equal(mpf_reader_next(&r, 0), 1);
    assert_string_equal(mpf_reader_line(&r), "http://b/2");
    assert_int_equal(r.lineno, 2);
    assert_int_equal(mpf_reader_next(&r, 0), 0);
    mpf_reader_close(&r);
}

/* ---- inflight --------------------------------------------------------- */

static void test_inflight(void **state)
{
    (void)state;
    enum { N = 5000 };
    mpf_inflight m = {0};
    uint64_t line, seq;
    for (uint64_t i = 0; i < N; i++) /* grows past several doublings */
        assert_int_equal(mpf_inflight_put(&m, i * 7, i + 1, i * 3), 0);
    assert_int_equal(m.count, N);
    assert_int_not_equal(mpf_inflight_take(&m, 1, &line, &seq), 0);
    for (uint64_t i = 0; i < N; i += 2) { /* take half, in any order */
        assert_int_equal(mpf_inflight_take(&m, i * 7, &line, &seq), 0);
        assert_int_equal(line, i + 1);
        assert_int_equal(seq, i * 3);
    }
    assert_int_equal(m.count, N / 2);
    for (uint64_t i = 1; i < N; i += 2) { /* the rest survive deletions */
        assert_int_equal(mpf_inflight_take(&m, i * 7, &line, &seq), 0);
        assert_int_equal(line, i + 1);
    }
    assert_int_equal(m.count, 0);
    assert_int_not_equal(mpf_inflight_take(&m, 0, &line, &seq), 0);
    mpf_inflight_free(&m);
}

/* ---- writer ----------------------------------------------------------- */

typedef struct wop {
    char kind; /* 'p' put, 's' skip */
    uint64_t seq;
    const char *text;
} wop;

/* Runs ops through a writer into a memfd; returns what was written. */
static char *run_writer(int ordered, const wop *ops, size_t n, size_t *len)
{
    mpf_writer w;
    int fd = memfile("", 0);
    assert_int_equal(mpf_writer_init(&w, fd, ordered), 0);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind == 'p')
            assert_int_equal(mpf_writer_put(&w, ops[i].seq, ops[i].text,
                                            strlen(ops[i].text)),
                             0);
        else
            assert_int_equal(mpf_writer_skip(&w, ops[i].seq), 0);
    }
    assert_int_equal(mpf_writer_finish(&w), 0);
    mpf_writer_destroy(&w);
    char *s = file_text(fd, len);
    close(fd);
    return s;
}

static void test_writer_orders(void **state)
{
    (void)state;
    static const struct {
        int ordered;
        wop ops[6];
        size_t n;
        const char *want;
    } cases[] = {
        {0, {{'p', 2, "c"}, {'p', 0, "a"}, {'p', 1, "b"}}, 3, "c\na\nb\n"},
        {1, {{'p', 2, "c"}, {'p', 0, "a"}, {'p', 1, "b"}}, 3, "a\nb\nc\n"},
        {1, {{'p', 1, "b"}, {'s', 0, NULL}, {'p', 2, "c"}}, 3, "b\nc\n"},
        {1, {{'s', 1, NULL}, {'p', 2, "c"}, {'p', 0, "a"}}, 3, "a\nc\n"},
        /* held behind a position that never came: written by finish */
        {1, {{'p', 3, "d"}, {'p', 1, "b"}}, 2, "b\nd\n"},
        {1, {{'p', 0, ""}, {'p', 1, "x"}}, 2, "\nx\n"},
        {0, {{'s', 0, NULL}}, 1, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *got = run_writer(cases[i].ordered, cases[i].ops, cases[i].n,
                               &len);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: wrote \"%s\", want \"%s\"", i, got,
                     cases[i].want);
        free(got);
    }
}

/* A record larger than the buffer goes out whole, in its place; the
   window counts positions not written yet. */
static void test_writer_big_and_window(void **state)
{
    (void)state;
    size_t big = (size_t)4 << 20;
    char *rec = malloc(big + 1);
    assert_non_null(rec);
    memset(rec, 'r', big);
    rec[big] = '\0';
    mpf_writer w;
    int fd = memfile("", 0);
    assert_int_equal(mpf_writer_init(&w, fd, 1), 0);
    assert_int_equal(mpf_writer_put(&w, 1, rec, big), 0);
    assert_int_equal(mpf_writer_window(&w, 3), 3);
    assert_int_equal(mpf_writer_put(&w, 0, "a", 1), 0);
    assert_int_equal(mpf_writer_window(&w, 3), 1);
    assert_int_equal(mpf_writer_finish(&w), 0);
    mpf_writer_destroy(&w);
    size_t len;
    char *got = file_text(fd, &len);
    assert_int_equal(len, 2 + big + 1);
    assert_memory_equal(got, "a\n", 2);
    assert_int_equal(got[len - 1], '\n');
    free(got);
    free(rec);
    close(fd);
}

/* The first write error is kept and returned from then on. */
static void test_writer_error(void **state)
{
    (void)state;
    mpf_writer w;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* writes: EBADF */
    assert_true(fd >= 0);
    assert_int_equal(mpf_writer_init(&w, fd, 0), 0);
    assert_int_equal(mpf_writer_put(&w, 0, "a", 1), 0); /* buffered */
    assert_int_equal(mpf_writer_flush(&w), -EBADF);
    assert_int_equal(mpf_writer_put(&w, 1, "b", 1), -EBADF);
    assert_int_equal(mpf_writer_finish(&w), -EBADF);
    mpf_writer_destroy(&w);
    close(fd);
}

/* ---- resume ----------------------------------------------------------- */

static void test_lineset(void **state)
{
    (void)state;
    static const uint64_t lines[] = {1,  2,  63, 64, 65,         127,
                                     128, 1000000, 9999999999ULL,
                                     UINT64_MAX / 2};
    fetch_lineset s = {0};
    uint64_t max;
    assert_false(fetch_lineset_has(&s, 1));
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_int_equal(fetch_lineset_add(&s, lines[i]), 0);
        assert_int_equal(fetch_lineset_add(&s, lines[i]), 0); /* again */
    }
    assert_int_equal(s.lines, sizeof(lines) / sizeof(lines[0]));
    static const uint64_t absent[] = {3, 62, 66, 126, 129, 999999,
                                      10000000000ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        assert_true(fetch_lineset_has(&s, lines[i]));
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_false(fetch_lineset_has(&s, absent[i]));
    assert_int_equal(fetch_lineset_above(&s, 128, &max), 3);
    assert_true(max == UINT64_MAX / 2);
    assert_int_equal(fetch_lineset_above(&s, UINT64_MAX / 2, &max), 0);
    assert_int_equal(max, 0);
    for (uint64_t l = 1; l <= 100000; l++) /* dense: grows the table */
        assert_int_equal(fetch_lineset_add(&s, l), 0);
    assert_true(fetch_lineset_has(&s, 77777));
    assert_true(s.count < 100000 / 64 + 16); /* a word per 64 lines */
    fetch_lineset_free(&s);
}

static void test_resume_load(void **state)
{
    (void)state;
    static const struct {
        const char *out;
        uint64_t max_line;
        uint64_t records, torn, beyond, beyond_max;
        uint64_t has[3]; /* lines in the set; 0 ends */
    } cases[] = {
        {"", UINT64_MAX, 0, 0, 0, 0, {0}},
        {"{\"line\":3,\"ok\":true}\n{\"line\":1}\n", UINT64_MAX, 2, 0, 0,
         0, {3, 1}},
        {"{\"line\":2}\n{\"line\":5,\"url\":\"to", UINT64_MAX, 1, 19, 0, 0,
         {2}},
        {"{\"line\":9999999999}\n{\"line\":2}\n", 3, 1, 0, 1, 9999999999ULL,
         {2}},
        {"{\"line\":9999999999}\n", UINT64_MAX, 1, 0, 0, 0, {9999999999ULL}},
        {"{ \"ok\":1, \"line\": 4 }\nnot json\n{\"line\":-1}\n", 10, 1, 0, 0,
         0, {4}},
        {"{\"line\":99999999999999999999}\n", UINT64_MAX, 0, 0, 0, 0, {0}},
        /* not whole objects: a record cut short, then one torn and
           continued by the next (files joined after a crash), one closed
           twice, a string never closed; none counts as done */
        {"{\"line\":30,\"ok\":true\n{\"line\":2}\n", UINT64_MAX, 1, 0, 0, 0,
         {2}},
        {"{\"line\":30,\"ok\":tr{\"line\":31,\"time\":{\"total\":1}}\n",
         UINT64_MAX, 0, 0, 0, 0, {0}},
        {"{\"line\":9}}\n{\"line\":10,\"u\":\"\\\"}\n", UINT64_MAX, 0, 0, 0,
         0, {0}},
        /* whole ones: brackets and escapes inside strings, blanks after */
        {"{\"line\":7,\"u\":\"a}b\\\"[\",\"id\":[1,{\"y\":\"}\"}]} \r\n"
         "{\"line\":8,\"u\":\"\\\\\"}\n",
         UINT64_MAX, 2, 0, 0, 0, {7, 8}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].out), left;
        int fd = memfile(cases[i].out, n);
        fetch_lineset done = {0};
        fetch_resume_info ri;
        assert_int_equal(fetch_resume_load(fd, cases[i].max_line, &done, &ri),
                         0);
        assert_int_equal(mpf_resume_cut(fd, &ri), 0);
        if (ri.records != cases[i].records || ri.torn_bytes != cases[i].torn ||
            ri.beyond != cases[i].beyond ||
            ri.beyond_max != cases[i].beyond_max)
            fail_msg("case %zu: records %llu torn %llu beyond %llu/%llu", i,
                     (unsigned long long)ri.records,
                     (unsigned long long)ri.torn_bytes,
                     (unsigned long long)ri.beyond,
                     (unsigned long long)ri.beyond_max);
        size_t k = 0;
        while (k < 3 && cases[i].has[k])
            assert_true(fetch_lineset_has(&done, cases[i].has[k++]));
        assert_int_equal(done.lines, k);
        free(file_text(fd, &left)); /* the torn record was cut off */
        assert_int_equal(left, n - cases[i].torn);
        assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)left);
        fetch_lineset_free(&done);
        close(fd);
    }
}

/* The run stamp: what the writer splices into a run's first record reads
   back the same; fetch_resume_load keeps each distinct stamp once, flags a
   "run" member mpfetch did not write, and counts the record's line. */
static void test_resume_stamps(void **state)
{
    (void)state;
    fetch_stamp a = {.shard_k = 2, .shard_n = 4, .bytes = 65536,
                   .fnv = 0x0123456789abcdefULL, .name = "urls \"x\".txt"};
    fetch_stamp b = a, got;
    b.shard_k = b.shard_n = 0;
    size_t la = 0, lb = 0;
    char *ma = fetch_stamp_member(&a, &la), *mb = fetch_stamp_member(&b, &lb);
    assert_non_null(ma);
    assert_non_null(mb);
    assert_int_equal(la, strlen(ma));
    assert_string_equal(mb + lb - 1, ",");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "{\"line\":1,%s\"ok\":true}\n", ma);
    fprintf(f, "{\"line\":2,\"ok\":true}\n");
    fprintf(f, "{\"line\":3,%s\"ok\":true}\n", ma); /* the same again */
    fprintf(f, "{\"line\":4,%s\"ok\":true}\n", mb);
    fprintf(f, "{\"line\":5,\"run\":{\"shard\":\"9/2\"},\"ok\":1}\n");
    fclose(f);
    assert_int_equal(fetch_stamp_parse(text, strchr(text, '\n') - text, &got),
                     1);
    assert_true(fetch_stamp_same(&got, &a));
    assert_string_equal(got.name, a.name);
    int fd = memfile(text, len);
    fetch_lineset done = {0};
    fetch_resume_info ri;
    assert_int_equal(fetch_resume_load(fd, UINT64_MAX, &done, &ri), 0);
    assert_int_equal(ri.records, 5);
    assert_int_equal(ri.n_stamps, 2);
    assert_true(fetch_stamp_same(&ri.stamps[0], &a));
    assert_true(fetch_stamp_same(&ri.stamps[1], &b));
    assert_int_equal(ri.bad_stamps, 1);
    assert_false(fetch_stamp_same(&a, &b));
    fetch_lineset_free(&done);
    close(fd);
    free(text);
    free(ma);
    free(mb);
}

/* ---- stats ------------------------------------------------------------ */

static void test_stats(void **state)
{
    (void)state;
    static const struct {
        int32_t status, error;
        uint32_t ok;
        uint64_t us;
    } recs[] = {
        {200, 0, 1, 10},    {200, 0, 1, 20},        {404, 0, 0, 30},
        {0, MP_ETIMEDOUT, 0, 40000}, {503, 0, 0, 1000},
        {0, MP_EINPUT, 0, 5}, /* no request: no latency */
    };
    mpf_stats s;
    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        fetch_out h = {.line = i + 1, .total_us = recs[i].us, .bytes = 100,
                       .status = recs[i].status, .error = recs[i].error,
                       .ok = recs[i].ok};
        mpf_stats_add(&s, &h);
    }
    mpf_stats_add_error(&s, MP_EWORKER);
    assert_int_equal(s.records, 7);
    assert_int_equal(s.ok, 2);
    assert_int_equal(s.failed, 5);
    assert_int_equal(s.status_class[2], 2);
    assert_int_equal(s.status_class[4], 1);
    assert_int_equal(s.status_class[5], 1);
    assert_int_equal(s.status_class[0], 3);
    assert_int_equal(s.bytes, 600);
    assert_int_equal(s.hist_count, 5);
    assert_int_equal(s.max_us, 40000);
    assert_int_equal(s.n_error_kinds, 3);
    /* percentiles: exact below 32 us, within 1/32 above, capped by max */
    static const struct {
        double p;
        uint64_t lo, hi;
    } pct[] = {{0, 10, 10},       {20, 10, 10},    {40, 20, 20},
               {60, 30, 30},      {80, 969, 1031}, {100, 38912, 40000}};
    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
        uint64_t v = mpf_stats_percentile(&s, pct[i].p);
        if (v < pct[i].lo || v > pct[i].hi)
            fail_msg("p%g = %llu, want %llu..%llu", pct[i].p,
                     (unsigned long long)v, (unsigned long long)pct[i].lo,
                     (unsigned long long)pct[i].hi);
    }
    /* more error kinds than the table holds: the rest share the last */
    for (int k = 0; k < MPF_MAX_ERROR_KINDS + 5; k++)
        mpf_stats_add_error(&s, -5000 - k);
    assert_int_equal(s.n_error_kinds, MPF_MAX_ERROR_KINDS);
    uint64_t total = 0;
    for (int k = 0; k < s.n_error_kinds; k++)
        total += s.error_count[k];
    assert_int_equal(total, 3 + MPF_MAX_ERROR_KINDS + 5);
    memset(&s, 0, sizeof(s));
    assert_int_equal(mpf_stats_percentile(&s, 50), 0);
}

/* The progress line fits the terminal (issue #21: it wrapped at 40
   columns and left a row per redraw): never more than columns - 1, the
   fields dropped least useful first (ok, then the ETA, the rate, failed;
   the count stays, cut if need be), in the summary's words. */
static void test_progress_width(void **state)
{
    (void)state;
    mpf_progress p = {.done = 1000, .failed = 10, .total = 5000,
                      .total_kind = MPF_TOTAL_ESTIMATED, .rate = 100};
    char line[300];
    size_t n = mpf_progress_format(line, sizeof line, &p, 0);
    assert_string_equal(line, "1000/~5000 done, ok 990, failed 10, "
                              "100 req/s, ETA 0:40");
    assert_int_equal(n, strlen(line));
    mpf_progress_format(line, sizeof line, &p, 80);
    assert_string_equal(line, "1000/~5000 done, ok 990, failed 10, "
                              "100 req/s, ETA 0:40");
    mpf_progress_format(line, sizeof line, &p, 40);
    assert_string_equal(line, "1000/~5000 done, failed 10, 100 req/s");
    mpf_progress_format(line, sizeof line, &p, 30);
    assert_string_equal(line, "1000/~5000 done, failed 10");
    mpf_progress_format(line, sizeof line, &p, 20);
    assert_string_equal(line, "1000/~5000 done");
    mpf_progress_format(line, sizeof line, &p, 10);
    assert_string_equal(line, "1000/~500");
    for (size_t w = 1; w <= 120; w++) {
        n = mpf_progress_format(line, sizeof line, &p, w);
        assert_int_equal(n, strlen(line));
        assert_true(n <= w - 1);
        /* a field is shown only if every field kept before it is */
        int ok = strstr(line, "ok ") != NULL, eta = strstr(line, "ETA") != NULL;
        int rate = strstr(line, "req/s") != NULL;
        int failed = strstr(line, "failed") != NULL;
        assert_true(!ok || eta);
        assert_true(!eta || rate);
        assert_true(!rate || failed);
    }
    p.total_kind = MPF_TOTAL_UNKNOWN;
    mpf_progress_format(line, sizeof line, &p, 0);
    assert_string_equal(line, "1000 done, ok 990, failed 10, 100 req/s");
    p.total_kind = MPF_TOTAL_EXACT;
    p.done = 5000;
    mpf_progress_format(line, sizeof line, &p, 0);
    assert_string_equal(line, "5000/5000 done, ok 4990, failed 10, "
                              "100 req/s");
    mpf_progress_format(line, 8, &p, 0); /* cap bounds it too */
    assert_string_equal(line, "5000/50");
}

/* ---- options: the pool's credit and the options' bounds --------------- */

/* Parses the options args (up to 6, then a URL argument) into cfg.
   Returns what mpf_options_parse returned, with what it said on stderr in
   err (cap bytes, NUL-terminated). */
static int parse_args(mpf_config *cfg, const char *const *args, char *err,
                      size_t cap)
{
    char *argv[10] = {"mpfetch"};
    int argc = 1;
    while (*args && argc < 8)
        argv[argc++] = (char *)*args++;
    argv[argc++] = "http://127.0.0.1:1/";
    argv[argc] = NULL;
    int fd = memfile("", 0), saved = dup(2);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_int_equal(dup2(fd, 2), 2);
    mpf_config_defaults(cfg);
    int rc = mpf_options_parse(cfg, argc, argv);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    size_t n;
    char *text = file_text(fd, &n);
    snprintf(err, cap, "%s", text);
    free(text);
    close(fd);
    return rc;
}

/* mpfetch's -w and -c give the pool the fetch task's credit rule
   (fetch_pool_options, which mpool's keywords go through too: its
   python/tests/test_limits.py holds this table): a worker holds 4 x -c
   tasks, at least FETCH_MIN_CREDIT, the library's default (prefetch 0)
   past MP_MAX_PREFETCH or FETCH_MAX_CREDIT tasks in the pool; -w absent
   counts the workers the library starts. */
static void test_pool_options(void **state)
{
    (void)state;
    static const struct {
        int workers, concurrency, prefetch;
    } t[] = {
        {1, 1, 63},       {1, 15, 49},       {1, 16, 48},
        {1, 64, 192},     {4, 4096, 12288},  {4, 4097, 0},
        {16, 1024, 3072}, {16, 1025, 0},     {1, 6666, 19998},
        {1, 6667, 0},     {512, 15, 49},     {512, 32, 96},
        {512, 33, 0},     {2, 20000, 0},     {0, 1, 63},
        {0, 64, -1},      {0, 4096, -1}, /* -1: as for the CPUs' count */
    };
    assert_int_equal(FETCH_MIN_CREDIT, 64);
    assert_int_equal(FETCH_MAX_CREDIT, 65536);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        mp_pool_options want, got;
        mpf_config cfg;
        char w[16], c[16], err[512];
        int prefetch = t[i].prefetch;
        if (prefetch < 0) {
            int cpus = mp_cpus_available();
            fetch_pool_options(&want, cpus < MP_MAX_WORKERS ? cpus
                                                            : MP_MAX_WORKERS,
                               t[i].concurrency);
            prefetch = want.prefetch;
        }
        fetch_pool_options(&want, t[i].workers, t[i].concurrency);
        if (want.prefetch != prefetch || want.workers != t[i].workers ||
            want.concurrency != t[i].concurrency)
            fail_msg("-w %d -c %d: prefetch %d, want %d", t[i].workers,
                     t[i].concurrency, want.prefetch, prefetch);
        snprintf(w, sizeof w, "%d", t[i].workers);
        snprintf(c, sizeof c, "%d", t[i].concurrency);
        const char *with_w[] = {"-w", w, "-c", c, NULL};
        int rc = parse_args(&cfg, t[i].workers ? with_w : with_w + 2, err,
                            sizeof err);
        if (rc != MPF_PARSE_RUN)
            fail_msg("-w %d -c %d refused: %s", t[i].workers,
                     t[i].concurrency, err);
        mpf_pool_options(&cfg, &got);
        assert_int_equal(got.workers, want.workers);
        assert_int_equal(got.concurrency, want.concurrency);
        assert_int_equal(got.prefetch, want.prefetch);
        mpf_config_free(&cfg);
    }
}

/* mpfetch's --timeout, --connect-timeout and --retries give the
   configuration's milliseconds and the pool's deadline for a task of the
   fetch task's fetch_ms and fetch_task_timeout_ms (mpool's too: the
   same table is in python/tests/test_limits.py): per attempt the two
   timeouts and 10 s, times the attempts, and 10 s more; 0 for
   --timeout 0; a millisecond at least, UINT_MAX at most. */
static void test_task_timeout(void **state)
{
    (void)state;
    static const struct {
        const char *timeout, *connect, *retries;
        unsigned timeout_ms, connect_ms, task_ms;
    } t[] = {
        {"30", "10", "0", 30000, 10000, 60000},
        {"30", "10", "2", 30000, 10000, 160000},
        {"0", "10", "5", 0, 10000, 0},
        {"0.0001", "0.001", "0", 1, 1, 20001},
        {"2.5", "0.0015", "1", 2500, 2, 35003},
        {"864000", "864000", "100", 864000000, 864000000, 0xffffffffu},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        mpf_config cfg;
        char err[512];
        const char *args[] = {"--timeout",       t[i].timeout,
                              "--connect-timeout", t[i].connect,
                              "--retries",       t[i].retries, NULL};
        if (parse_args(&cfg, args, err, sizeof err) != MPF_PARSE_RUN)
            fail_msg("--timeout %s refused: %s", t[i].timeout, err);
        unsigned task = fetch_task_timeout_ms(
            cfg.timeout_s, cfg.connect_timeout_s, (unsigned)cfg.retries);
        if (task != t[i].task_ms || mpf_task_timeout_ms(&cfg) != task)
            fail_msg("--timeout %s --connect-timeout %s --retries %s: task "
                     "%u ms, mpfetch's %u, want %u", t[i].timeout,
                     t[i].connect, t[i].retries, task,
                     mpf_task_timeout_ms(&cfg), t[i].task_ms);
        assert_int_equal(fetch_ms(cfg.timeout_s), t[i].timeout_ms);
        assert_int_equal(fetch_ms(cfg.connect_timeout_s), t[i].connect_ms);
        char *json = mpf_fetch_config_json(&cfg);
        fetch_cfg c;
        assert_non_null(json);
        assert_int_equal(fetch_config_parse(json, strlen(json), &c), 0);
        assert_int_equal(c.timeout_ms, t[i].timeout_ms);
        assert_int_equal(c.connect_timeout_ms, t[i].connect_ms);
        fetch_config_free(&c);
        free(json);
        mpf_config_free(&cfg);
    }
    assert_int_equal(fetch_ms(-1), 0);
    assert_int_equal(fetch_ms(0.0004), 1);
    assert_int_equal(fetch_ms(1e12), 0xffffffffu);
}

/* Each bounded option takes its FETCH_MAX_* (the bound mpool's keywords
   read from the module) and refuses one more, naming itself; so does the
   worker's parser, and the writer names the key. */
static void test_option_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *opt;
        long long max; /* the most it takes */
        const char *key; /* the configuration's, or NULL */
    } t[] = {
        {"--retries", FETCH_MAX_RETRIES, "retries"},
        {"--max-redirs", FETCH_MAX_REDIRS, "max_redirs"},
        {"--per-host", FETCH_MAX_PER_HOST, "per_host"},
        {"--speed-time", FETCH_MAX_SPEED_TIME, "speed_time"},
        {"--speed-limit", FETCH_MAX_SPEED_LIMIT, "speed_limit"},
        {"--timeout", FETCH_MAX_SECONDS, NULL},
        {"--connect-timeout", FETCH_MAX_SECONDS, NULL},
        {"--rate", (long long)FETCH_MAX_RATE, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        mpf_config cfg;
        char v[32], err[512];
        const char *args[] = {t[i].opt, v, NULL};
        snprintf(v, sizeof v, "%lld", t[i].max);
        if (parse_args(&cfg, args, err, sizeof err) != MPF_PARSE_RUN)
            fail_msg("%s %s refused: %s", t[i].opt, v, err);
        mpf_config_free(&cfg);
        snprintf(v, sizeof v, "%lld", t[i].max + 1);
        assert_int_equal(parse_args(&cfg, args, err, sizeof err),
                         MPF_EXIT_USAGE);
        if (!strstr(err, t[i].opt))
            fail_msg("%s %s: the complaint names another: %s", t[i].opt, v,
                     err);
        mpf_config_free(&cfg);
        if (!t[i].key || strcmp(t[i].key, "speed_limit") == 0)
            continue; /* in ms, or an unsigned holds no more */
        char json[96];
        fetch_cfg c;
        snprintf(json, sizeof json, "{\"%s\":%lld}", t[i].key, t[i].max);
        assert_int_equal(fetch_config_parse(json, strlen(json), &c), 0);
        fetch_config_free(&c);
        snprintf(json, sizeof json, "{\"%s\":%lld}", t[i].key, t[i].max + 1);
        assert_int_equal(fetch_config_parse(json, strlen(json), &c), -1);
        fetch_config_defaults(&c);
        unsigned *field = strcmp(t[i].key, "retries") == 0 ? &c.retries
                          : strcmp(t[i].key, "max_redirs") == 0 ? &c.max_redirs
                          : strcmp(t[i].key, "per_host") == 0 ? &c.per_host
                                                              : &c.speed_time;
        *field = (unsigned)t[i].max + 1;
        const char *bad_key = NULL;
        size_t bad_index;
        assert_null(fetch_config_json(&c, &bad_key, &bad_index));
        assert_non_null(bad_key);
        assert_string_equal(bad_key, t[i].key);
    }
    /* the least --connect-timeout, and below it */
    mpf_config cfg;
    char v[32], err[512];
    const char *args[] = {"--connect-timeout", v, NULL};
    snprintf(v, sizeof v, "%g", FETCH_MIN_CONNECT_TIMEOUT);
    assert_int_equal(parse_args(&cfg, args, err, sizeof err), MPF_PARSE_RUN);
    snprintf(v, sizeof v, "%g", FETCH_MIN_CONNECT_TIMEOUT / 2);
    assert_int_equal(parse_args(&cfg, args, err, sizeof err), MPF_EXIT_USAGE);
    assert_non_null(strstr(err, "--connect-timeout"));
    mpf_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_lines),
        cmocka_unit_test(test_reader_long_line),
        cmocka_unit_test(test_reader_pipe_partial),
        cmocka_unit_test(test_skip_and_hash),
        cmocka_unit_test(test_url_args),
        cmocka_unit_test(test_inflight),
        cmocka_unit_test(test_writer_orders),
        cmocka_unit_test(test_writer_big_and_window),
        cmocka_unit_test(test_writer_error),
        cmocka_unit_test(test_lineset),
        cmocka_unit_test(test_resume_load),
        cmocka_unit_test(test_resume_stamps),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_progress_width),
        cmocka_unit_test(test_pool_options),
        cmocka_unit_test(test_task_timeout),
        cmocka_unit_test(test_option_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
