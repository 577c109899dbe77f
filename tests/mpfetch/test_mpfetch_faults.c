/*
 * End-to-end tests of mpfetch ($MP_MPFETCH) against mp-testserver under the
 * faults of issue #9: stop signals sent to the whole process group, then
 * --resume. Every wait is bounded and fails with a message; nothing sleeps
 * to synchronize (mid-run moments are found by polling the output).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpfetch_e2e.h"
#include "testutil.h"
#include "mpfetch_fixture.h"

/* Prints stderr of the last run (on a failure, to see why). */
static void show_err(void)
{
    char *e = e2e_slurp(g.err, NULL);
    fprintf(stderr, "mpfetch stderr: %s\n", e ? e : "(none)");
    free(e);
}

/* Asserts the stderr of the last run holds want. */
static void assert_err_has(const char *want)
{
    char *e = e2e_slurp(g.err, NULL);
    assert_non_null(e);
    if (!strstr(e, want))
        fprintf(stderr, "stderr lacks \"%s\": %s\n", want, e);
    assert_non_null(strstr(e, want));
    free(e);
}

/* Waits (bounded, 30 s) until path has more than n lines. Returns the
   count. */
static size_t wait_more_lines(const char *path, size_t n)
{
    size_t have = 0;
    for (int i = 0; i < 6000 && (have = e2e_count_lines(path)) <= n; i++)
        e2e_nap(5);
    return have;
}

/* Waits (bounded, 10 s) until no process of group pgid is left. Returns 0,
   or -1 if one still runs. */
static int wait_group_gone(pid_t pgid)
{
    for (int i = 0; i < 2000; i++) {
        if (kill(-pgid, 0) != 0 && errno == ESRCH)
            return 0;
        e2e_nap(5);
    }
    return -1;
}

/* Asserts out holds exactly one record for each of lines 1..n and none of
   them is MP_EWORKER. */
static void assert_complete_no_eworker(size_t n)
{
    json_t *recs = e2e_records(g.out), *r;
    size_t i;
    assert_non_null(recs);
    long long *lines = malloc(n * sizeof(*lines));
    assert_non_null(lines);
    for (i = 0; i < n; i++)
        lines[i] = (long long)i + 1;
    e2e_assert_exactly(recs, lines, n, (long long)n);
    json_array_foreach(recs, i, r) {
        if (strcmp(e2e_error_code(r), "MP_EWORKER") == 0)
            fail_msg("line %lld got MP_EWORKER", e2e_line_of(r));
        assert_true(json_is_true(json_object_get(r, "ok")));
    }
    free(lines);
    json_decref(recs);
}

/*
 * Issue #9.1: SIGTERM (and SIGHUP) to mpfetch's whole process group mid-run,
 * the way timeout(1), systemd or a closed terminal stop a job, ten times in
 * a row, each run resuming the last. The forkservers and workers must not
 * die of it (the pool would fail every task they held with MP_EWORKER, a
 * record --resume never runs again): every stopped run exits 130, leaves no
 * process behind, and after a last --resume every line has exactly one
 * record, none MP_EWORKER.
 */
static void test_group_sigterm_then_resume(void **state)
{
    (void)state;
    NEED_BIN();
    const size_t n = 400;
    write_urls(n, "/delay/300?%u");
    unlink(g.out);
    char *argv[] = {(char *)g.bin, "-w", "2", "-c", "16", "-q", "--resume",
                    "-o", g.out, "--summary-json", g.sum, g.in, NULL};
    int stopped = 0;
    for (int k = 0; k < 10; k++) {
        size_t before = e2e_count_lines(g.out);
        pid_t pid = e2e_spawn_pgroup(argv, NULL, NULL, g.err);
        assert_true(pid > 0);
        /* mid-run: after a few more records (more each round), while the
           workers hold requests */
        size_t now = wait_more_lines(g.out, before + (size_t)k);
        int sig = k % 3 == 2 ? SIGHUP : SIGTERM;
        if (now < n && kill(-pid, sig) != 0)
            fail_msg("kill(-%d): %s", (int)pid, strerror(errno));
        int st = e2e_wait(pid, E2E_RUN_TIMEOUT_S);
        if (wait_group_gone(pid) != 0)
            fail_msg("round %d: processes of group %d are left", k, (int)pid);
        if (st == 0 && e2e_count_lines(g.out) == n)
            break; /* it finished before the signal */
        if (st != 130)
            show_err();
        assert_int_equal(st, 130);
        e2e_assert_no_death(g.sum); /* the signal killed no worker */
        stopped++;
        json_decref(e2e_records(g.out)); /* whole records only */
    }
    assert_true(stopped >= 3);
    assert_int_equal(e2e_run(argv, NULL, NULL, g.err), 0);
    e2e_assert_no_death(g.sum);
    assert_complete_no_eworker(n);
}

/*
 * Issue #9.1: a failure of the pool itself never looks final. Both
 * forkservers of a running mpfetch are SIGKILLed (every process below it
 * that has children), so no worker can be had again: the tasks in flight
 * end with MP_EABORTED. Those lines get no record (no MP_EABORTED,
 * MP_ENOFORK or MP_EWORKER record), mpfetch exits 1 saying to resume, and
 * --resume then gives every line exactly one record, all ok.
 */
static void test_forkservers_killed_then_resume(void **state)
{
    (void)state;
    NEED_BIN();
    const size_t n = 300;
    write_urls(n, "/delay/200?%u");
    unlink(g.out);
    char *argv[] = {(char *)g.bin, "-w", "2", "-c", "8", "-q", "-o", g.out,
                    g.in, NULL};
    pid_t pid = e2e_spawn(argv, NULL, NULL, g.err);
    assert_true(pid > 0);
    size_t before = wait_more_lines(g.out, 9);
    assert_in_range(before, 10, n - 1);
    e2e_proc ps[E2E_MAX_PROCS];
    int np = e2e_descendants(pid, ps, E2E_MAX_PROCS), killed = 0;
    for (int i = 0; i < np; i++)
        if (!ps[i].leaf && kill(ps[i].pid, SIGKILL) == 0)
            killed++;
    assert_true(killed >= 2);
    int st = e2e_wait(pid, E2E_RUN_TIMEOUT_S);
    if (st != 1)
        show_err();
    assert_int_equal(st, 1);
    assert_err_has("--resume");
    json_t *recs = e2e_records(g.out), *r;
    size_t i;
    assert_non_null(recs);
    assert_true(json_array_size(recs) < n);
    json_array_foreach(recs, i, r) {
        const char *c = e2e_error_code(r);
        if (strcmp(c, "MP_EABORTED") == 0 || strcmp(c, "MP_ENOFORK") == 0 ||
            strcmp(c, "MP_EWORKER") == 0)
            fail_msg("line %lld got %s", e2e_line_of(r), c);
    }
    json_decref(recs);
    char *again[] = {(char *)g.bin, "-w", "2", "-c", "8", "-q", "--resume",
                     "-o", g.out, g.in, NULL};
    assert_int_equal(e2e_run(again, NULL, NULL, g.err), 0);
    assert_complete_no_eworker(n);
}

/* Runs mpfetch -w 1 -q with the extra options opts (NULL-terminated) on
   g.in, records to g.out. Returns the exit status. */
static int run_with(const char *const *opts)
{
    char *argv[32] = {(char *)g.bin, "-w", "1", "-q"};
    int k = 4;
    while (*opts && k < 28)
        argv[k++] = (char *)*opts++;
    argv[k++] = "-o";
    argv[k++] = g.out;
    argv[k++] = g.in;
    argv[k] = NULL;
    return e2e_run(argv, NULL, NULL, g.err);
}

/* Returns the number of entries in dir (not . and ..), -1 if unreadable. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Asserts the one record in g.out failed with MP_EFBIG. */
static void assert_one_efbig(void)
{
    json_t *recs = e2e_records(g.out);
    assert_non_null(recs);
    assert_int_equal(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    if (strcmp(e2e_error_code(r), "MP_EFBIG") != 0)
        show_err();
    assert_string_equal(e2e_error_code(r), "MP_EFBIG");
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_null(json_object_get(r, "body_file"));
    assert_null(json_object_get(r, "body"));
    /* refused whole: 0 whether Content-Length told or the stream reached
       the limit (before, the second gave the bytes taken until then) */
    assert_int_equal(json_integer_value(json_object_get(r, "bytes")), 0);
    json_decref(recs);
}

/*
 * Fetches g.in's one URL with "--compressed" if compressed, "--max-body
 * limit", in each --body mode of modes[0..n) and dir:DIR (DIR a fresh
 * directory named name under g.dir). Asserts every run fails its record
 * with MP_EFBIG and leaves no file in DIR.
 */
static void assert_efbig_in_modes(const char *limit, int compressed,
                                  const char *const *modes, int n,
                                  const char *name)
{
    char dir[700], body[720];
    e2e_path(dir, sizeof(dir), g.dir, name);
    snprintf(body, sizeof(body), "dir:%s", dir);
    for (int m = 0; m <= n; m++) {
        const char *opts[] = {"--max-body", limit, "--body",
                              m < n ? modes[m] : body,
                              compressed ? "--compressed" : NULL, NULL};
        assert_int_equal(run_with(opts), 0);
        assert_one_efbig();
    }
    assert_int_equal(dir_entries(dir), 0);
}

/*
 * Issue #9.6: --max-body holds in every --body mode. A 10 MiB response with
 * --max-body 1k fails with MP_EFBIG in each, and dir:PATH leaves no partial
 * file behind.
 */
static void test_max_body_every_mode(void **state)
{
    (void)state;
    NEED_BIN();
    static const char *const modes[] = {"none", "inline", "sha256"};
    write_urls(1, "/bytes/10485760?%u");
    assert_efbig_in_modes("1k", 0, modes, 3, "maxbody");
}

/*
 * Issue #9.6: decoded bytes count. A gzip body of ~32 KiB that decodes to
 * 32 MiB, fetched with --compressed --max-body 1M, stops at the limit
 * (MP_EFBIG) in the counting and the file modes; no file is left.
 */
static void test_gzip_bomb_stops_at_limit(void **state)
{
    (void)state;
    NEED_BIN();
    static const char *const modes[] = {"none"};
    write_urls(1, "/gzip-bomb/32?%u");
    assert_efbig_in_modes("1M", 1, modes, 1, "bomb");
    /* under the limit the same body is whole: the route really decodes */
    const char *opts[] = {"--compressed", "--max-body", "64M", NULL};
    assert_int_equal(run_with(opts), 0);
    json_t *recs = e2e_records(g.out);
    assert_non_null(recs);
    json_t *r = json_array_get(recs, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "bytes")),
                     32 << 20);
    json_decref(recs);
}

/*
 * Issue #20: a 10 GiB gzip bomb (10 MiB on the wire) fetched with
 * --compressed --max-body 1G stops at the limit with MP_EFBIG, on the
 * native engine and on libcurl, and nothing of the run grows with the
 * decoded size: the largest peak RSS of mpfetch and its workers (measured
 * in a child of the test, RUSAGE_CHILDREN) stays under a quarter of the
 * 1 GiB decoded (about 10 MiB in a plain build, 110 under ASan).
 */
static void test_gzip_bomb_gib_flat(void **state)
{
    static const char *const engines[] = {"native", "curl"};

    (void)state;
    NEED_BIN();
    write_urls(1, "/gzip-bomb-gib/10?%u");
    for (int e = 0; e < 2; e++) {
        const char *opts[] = {"--engine", engines[e], "--compressed",
                              "--max-body", "1G", "--body", "none", NULL};
        int st = 0;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct rusage ru;
            int rc = run_with(opts);
            getrusage(RUSAGE_CHILDREN, &ru);
            _exit(rc != 0 ? 255 : ru.ru_maxrss >> 12 > 254 ? 254
                                                          : (int)(ru.ru_maxrss >> 12));
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) == 255)
            show_err();
        if (WEXITSTATUS(st) >= 64) /* in units of 4 MiB: 256 MiB */
            fail_msg("%s: a peak RSS of %d MiB", engines[e],
                     WEXITSTATUS(st) * 4);
        assert_one_efbig();
    }
}

/*
 * Issue #9.6: a symlink planted at PATH/1.body is never followed. Its
 * target keeps its bytes; 1.body becomes a regular file holding the body,
 * with mode 0644 less the umask (027 here: 0640).
 */
static void test_body_dir_planted_symlink(void **state)
{
    (void)state;
    NEED_BIN();
    char dir[700], body[720], link[720], victim[700];
    e2e_path(dir, sizeof(dir), g.dir, "planted");
    e2e_path(victim, sizeof(victim), g.dir, "victim.txt");
    snprintf(body, sizeof(body), "dir:%s", dir);
    snprintf(link, sizeof(link), "%s/1.body", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(e2e_write_file(victim, "precious\n", 9), 0);
    assert_int_equal(symlink(victim, link), 0);
    write_urls(1, "/bytes/3000?%u");
    const char *opts[] = {"--body", body, NULL};
    mode_t old = umask(027);
    int st = run_with(opts);
    umask(old);
    assert_int_equal(st, 0);
    size_t n = 0;
    char *v = e2e_slurp(victim, &n);
    assert_non_null(v);
    assert_int_equal(n, 9);
    assert_memory_equal(v, "precious\n", 9);
    free(v);
    struct stat sb;
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(sb.st_size, 3000);
    json_t *recs = e2e_records(g.out);
    assert_non_null(recs);
    json_t *r = json_array_get(recs, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(e2e_str(r, "body_file"), link);
    json_decref(recs);
}

/* Counts the records of out for each of lines 1..3 into seen[1..3]; a
   record of any other line counts in seen[0]. */
static void count_records(int seen[4])
{
    json_t *recs = e2e_records(g.out), *r;
    size_t i;
    assert_non_null(recs);
    memset(seen, 0, 4 * sizeof(int));
    json_array_foreach(recs, i, r) {
        long long l = e2e_line_of(r);
        seen[l >= 1 && l <= 3 ? l : 0]++;
    }
    json_decref(recs);
}

/* Runs argv (NULL-ended) with stdin a pipe fed the whole of
   g.in, or from g.in itself. Returns the exit status. */
static int run_stdin(char **argv, int pipe_in)
{
    int p[2] = {-1, -1};
    if (pipe_in)
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = e2e_spawn_fd(argv, g.in, p[0], NULL, g.err);
    assert_true(pid > 0);
    if (pipe_in) {
        size_t len = 0;
        char *text = e2e_slurp(g.in, &len);
        close(p[0]);
        assert_int_equal(write(p[1], text, len), (ssize_t)len);
        close(p[1]);
        free(text);
    }
    return e2e_wait(pid, E2E_RUN_TIMEOUT_S);
}

/*
 * Issue #9.7: --resume does not trust the numbers in the output. A record
 * {"line":9999999999} (beyond the 3-line input) is reported and ignored,
 * costing nothing (the old done-set grew to the number: 1.2 GB); line 2,
 * already done, is not run again; 1 and 3 are. Input from a regular file
 * (lines counted first) and from a pipe (reported when the input ends).
 */
static void test_resume_line_beyond_input(void **state)
{
    (void)state;
    NEED_BIN();
    static const char prior[] = "{\"line\":9999999999}\n"
                                "{\"line\":2,\"url\":null,\"ok\":true}\n";
    char *argv[] = {(char *)g.bin, "-w", "1", "--resume", "-o", g.out,
                    g.in, NULL};
    write_urls(3, "/ok?%u");
    for (int pipe_in = 0; pipe_in < 2; pipe_in++) {
        int seen[4];
        assert_int_equal(e2e_write_file(g.out, prior, sizeof(prior) - 1), 0);
        if (pipe_in)
            argv[6] = "-";
        int st = run_stdin(argv, pipe_in);
        if (st != 0)
            show_err();
        assert_int_equal(st, 0);
        assert_err_has("beyond the input's 3 (the largest: 9999999999); "
                       "ignored");
        count_records(seen);
        assert_int_equal(seen[0], 1); /* the bogus record stays as it was */
        assert_int_equal(seen[1], 1);
        assert_int_equal(seen[2], 1);
        assert_int_equal(seen[3], 1);
    }
}

/* Returns how many records of g.out carry a run stamp; the shard of the
   last one in shard (cap bytes; "" for null). */
static int stamped_records(char *shard, size_t cap)
{
    json_t *recs = e2e_records(g.out), *r;
    size_t i;
    int n = 0;
    assert_non_null(recs);
    json_array_foreach(recs, i, r) {
        json_t *run = json_object_get(r, "run");
        if (!run)
            continue;
        n++;
        json_t *sh = json_object_get(run, "shard");
        snprintf(shard, cap, "%s", json_is_string(sh) ? json_string_value(sh)
                                                      : "");
        assert_true(json_is_integer(json_object_get(
            json_object_get(run, "input"), "bytes")));
    }
    json_decref(recs);
    return n;
}

/*
 * Issue #21: --resume with another --shard (or none), or with another
 * input, merged two shards (or two lists) into one file, exit 0. The
 * first record of a run now carries the run's stamp (the shard, a digest
 * of the input's first 64 KiB or, from a pipe, of its first line), and a
 * resume that does not match is refused: exit 2, the file byte for byte
 * as it was (a torn last record included). The same shard of the same
 * input resumes, from the file or through a pipe, and after lines were
 * appended to the input; an output without a stamp (an older mpfetch)
 * resumes with a notice, and gets one.
 */
static void test_resume_refuses_another_shard_or_input(void **state)
{
    (void)state;
    NEED_BIN();
    char shard[16], other[700];
    write_urls(8, "/ok?%u");
    char *first[] = {(char *)g.bin, "-q", "-w", "1", "--shard", "1/2", "-o",
                     g.out, g.in, NULL};
    assert_int_equal(e2e_run(first, NULL, NULL, g.err), 0);
    assert_int_equal(stamped_records(shard, sizeof shard), 1);
    assert_string_equal(shard, "1/2");
    size_t n1 = e2e_count_lines(g.out);
    assert_true(n1 > 0 && n1 < 8);
    /* a torn record at the end, which a refusal must not cut */
    size_t len0 = 0;
    char *text = e2e_slurp(g.out, &len0), *torn;
    assert_non_null(text);
    assert_true(asprintf(&torn, "%s{\"line\":1,\"u", text) > 0);
    assert_int_equal(e2e_write_file(g.out, torn, strlen(torn)), 0);
    free(text);

    e2e_path(other, sizeof other, g.dir, "other.txt");
    {
        size_t n = 0;
        char *in = e2e_slurp(g.in, &n);
        in[7] = 'X'; /* the first line differs */
        assert_int_equal(e2e_write_file(other, in, n), 0);
        free(in);
    }
    char *cases[][12] = {
        {(char *)g.bin, "-w", "1", "--shard", "2/2", "--resume", "-o", g.out,
         g.in, NULL},
        {(char *)g.bin, "-w", "1", "--resume", "-o", g.out, g.in, NULL},
        {(char *)g.bin, "-w", "1", "--shard", "1/2", "--resume", "-o", g.out,
         other, NULL},
    };
    const char *says[] = {"--shard 1/2 of", "this run has no --shard",
                          "another input"};
    for (size_t i = 0; i < 3; i++) {
        int st = e2e_run(cases[i], NULL, NULL, g.err);
        if (st != 2)
            show_err();
        assert_int_equal(st, 2);
        assert_err_has(says[i]);
        size_t len = 0;
        char *now = e2e_slurp(g.out, &len);
        assert_int_equal(len, strlen(torn));
        assert_memory_equal(now, torn, len);
        free(now);
    }
    free(torn);

    /* the same shard of the same input, through a pipe: resumes */
    char *same[] = {(char *)g.bin, "-w", "1", "--shard", "1/2", "--resume",
                    "-o", g.out, "-", NULL};
    assert_int_equal(run_stdin(same, 1), 0);
    assert_int_equal(e2e_count_lines(g.out), n1); /* the torn one cut */
    assert_int_equal(stamped_records(shard, sizeof shard), 1);

    /* the input grew at its end: still the same input */
    FILE *f = fopen(g.in, "a");
    assert_non_null(f);
    for (int i = 9; i <= 40; i++)
        fprintf(f, "%s/ok?%d\n", g.ts.base, i);
    assert_int_equal(fclose(f), 0);
    same[8] = g.in;
    assert_int_equal(run_stdin(same, 0), 0);
    size_t n2 = e2e_count_lines(g.out);
    assert_true(n2 > n1);
    assert_int_equal(stamped_records(shard, sizeof shard), 1);

    /* an output without stamps, as older versions wrote it */
    char *old = NULL;
    size_t oldlen = 0;
    {
        json_t *recs = e2e_records(g.out), *r;
        size_t i;
        FILE *m = open_memstream(&old, &oldlen);
        json_array_foreach(recs, i, r) {
            json_object_del(r, "run");
            char *d = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fprintf(m, "%s\n", d);
            free(d);
        }
        fclose(m);
        json_decref(recs);
    }
    assert_int_equal(e2e_write_file(g.out, old, oldlen), 0);
    free(old);
    f = fopen(g.in, "a");
    assert_non_null(f);
    for (int i = 41; i <= 80; i++) /* some of them in shard 1 */
        fprintf(f, "%s/ok?%d\n", g.ts.base, i);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(run_stdin(same, 0), 0);
    assert_err_has("has no run stamp");
    assert_true(e2e_count_lines(g.out) > n2);
    assert_int_equal(stamped_records(shard, sizeof shard), 1);
    assert_string_equal(shard, "1/2");
}

/* Returns 1 once /proc says pid catches signal sig, else 0. */
static int catches(pid_t pid, int sig)
{
    char path[64], line[256];
    unsigned long long mask = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "SigCgt: %llx", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return (int)(mask >> (sig - 1) & 1);
}

/*
 * The run stamp waits for a pipe's first line before anything starts;
 * Ctrl-C meanwhile ends that wait as it ends the run's, exit 130 (not
 * death by SIGINT), and the -o file is untouched (it is opened after).
 */
static void test_sigint_before_first_line(void **state)
{
    (void)state;
    NEED_BIN();
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(e2e_write_file(g.out, "kept\n", 5), 0);
    char *argv[] = {(char *)g.bin, "-w", "1", "-o", g.out, "-", NULL};
    pid_t pid = e2e_spawn_fd(argv, NULL, p[0], NULL, g.err);
    assert_true(pid > 0);
    close(p[0]);
    for (int i = 0; i < 2000 && !catches(pid, SIGINT); i++)
        e2e_nap(5);
    kill(pid, SIGINT);
    int st = -1;
    for (int i = 0; i < 3000 && waitpid(pid, &st, WNOHANG) != pid; i++) {
        st = -1;
        e2e_nap(10);
    }
    if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fail_msg("mpfetch did not end after SIGINT");
    }
    close(p[1]);
    if (!WIFEXITED(st))
        fail_msg("mpfetch died of signal %d", WTERMSIG(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    char *out = e2e_slurp(g.out, NULL);
    assert_string_equal(out, "kept\n");
    free(out);
}

/*
 * Starts argv with stdin from in_path and stdout to out_path opened with
 * out_flags (either path NULL: that descriptor closed), stderr to g.err.
 * Returns the pid, or -1.
 */
static pid_t spawn_io(char *const argv[], const char *in_path,
                      const char *out_path, int out_flags)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    if (in_path)
        posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
    else
        posix_spawn_file_actions_addclose(&fa, 0);
    if (out_path)
        posix_spawn_file_actions_addopen(&fa, 1, out_path, out_flags, 0644);
    else
        posix_spawn_file_actions_addclose(&fa, 1);
    posix_spawn_file_actions_addopen(&fa, 2, g.err,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

/* Runs spawn_io to the end (30 s bound). Returns as e2e_wait. */
static int run_io(char *const argv[], const char *in_path,
                  const char *out_path, int out_flags)
{
    pid_t pid = spawn_io(argv, in_path, out_path, out_flags);
    return pid < 0 ? -1 : e2e_wait(pid, 30);
}

/*
 * Issue #9.8: an output that is the input file is refused with exit 2
 * before anything is written: -o naming it (also through a symlink, also
 * with --resume), -o naming the file stdin reads, and stdout appending to
 * it. The input stays byte for byte.
 */
static void test_output_is_input(void **state)
{
    (void)state;
    NEED_BIN();
    char link[700];
    e2e_path(link, sizeof(link), g.dir, "in-link.txt");
    write_urls(3, "/ok?%u");
    size_t len0 = 0;
    char *before = e2e_slurp(g.in, &len0);
    assert_non_null(before);
    unlink(link);
    assert_int_equal(symlink(g.in, link), 0);
    char *cases[][8] = {
        {(char *)g.bin, "-o", g.in, g.in, NULL},
        {(char *)g.bin, "-o", link, g.in, NULL},
        {(char *)g.bin, "--resume", "-o", g.in, g.in, NULL},
        {(char *)g.bin, "-o", g.in, "-", NULL},
        {(char *)g.bin, g.in, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int to_stdout = i == 4;
        int st = run_io(cases[i], g.in, to_stdout ? g.in : "/dev/null",
                        O_WRONLY | (to_stdout ? O_APPEND : 0));
        if (st != 2)
            fprintf(stderr, "case %zu\n", i);
        assert_int_equal(st, 2);
        assert_err_has("is the input file");
        size_t len = 0;
        char *now = e2e_slurp(g.in, &len);
        assert_non_null(now);
        assert_int_equal(len, len0);
        assert_memory_equal(now, before, len0);
        free(now);
    }
    free(before);
}

/*
 * Issue #21: an input that is a directory (FILE, or stdin) or that cannot
 * be opened is a usage error, exit 2, before anything starts: no summary,
 * the -o file untouched. Before, a directory gave "Is a directory" from
 * the first read, then an empty summary, exit 1.
 */
static void test_input_not_a_file(void **state)
{
    (void)state;
    NEED_BIN();
    char missing[700];
    e2e_path(missing, sizeof(missing), g.dir, "no-such-input.txt");
    char *cases[][6] = {
        {(char *)g.bin, "-o", g.out, g.dir, NULL},
        {(char *)g.bin, "-o", g.out, "-", NULL},
        {(char *)g.bin, "-o", g.out, missing, NULL},
    };
    const char *says[] = {"is a directory", "is a directory",
                          "No such file"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(e2e_write_file(g.out, "kept\n", 5), 0);
        int st = run_io(cases[i], i == 1 ? g.dir : "/dev/null", "/dev/null",
                        O_WRONLY);
        if (st != 2)
            fprintf(stderr, "case %zu\n", i);
        assert_int_equal(st, 2);
        assert_err_has(says[i]);
        char *e = e2e_slurp(g.err, NULL);
        assert_null(strstr(e, "records in")); /* no summary */
        free(e);
        char *out = e2e_slurp(g.out, NULL);
        assert_string_equal(out, "kept\n");
        free(out);
    }
}

/*
 * A full disk: records that cannot be written end the run with exit 1 and
 * a sentence naming the output and the cause, never a hang or a silent 0
 * (the lines without a record are what --resume runs later). Both for -o
 * and for stdout, on /dev/full, where every write fails with ENOSPC.
 */
static void test_full_disk(void **state)
{
    (void)state;
    NEED_BIN();
    write_urls(50, "/ok?%u");
    char *to_file[] = {(char *)g.bin, "-q", "-o", "/dev/full", g.in, NULL};
    char *to_stdout[] = {(char *)g.bin, "-q", g.in, NULL};

    assert_int_equal(run_io(to_file, "/dev/null", "/dev/null", O_WRONLY), 1);
    assert_err_has("could not write /dev/full: No space left on device");
    assert_int_equal(run_io(to_stdout, "/dev/null", "/dev/full", O_WRONLY),
                     1);
    assert_err_has("could not write stdout: No space left on device");
}

/*
 * Starts argv with stdin the read end of a pipe holding text and stdout
 * its write end (out_too), or /dev/null; stderr to g.err. The test keeps
 * no end of the pipe, so a run that does not write into its own input
 * sees EOF after text. Returns as e2e_wait (15 s bound: a run reading
 * back its records never ends).
 */
static int run_pipe_io(char *const argv[], const char *text, int out_too)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    size_t len = strlen(text);
    assert_true(write(fds[1], text, len) == (ssize_t)len);
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    if (out_too)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, g.err,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(rc, 0);
    return e2e_wait(pid, 15);
}

/*
 * Issue #9.8, through a pipe: "cat urls | mpfetch -o /dev/stdin -" opens
 * the write end of the pipe mpfetch reads, and stdout being that same pipe
 * does too: every record was read back as a request and fetched again,
 * without end. Both are refused with exit 2.
 */
static void test_output_is_input_pipe(void **state)
{
    (void)state;
    NEED_BIN();
    char text[600];
    snprintf(text, sizeof(text), "%s/ok?1\n%s/ok?2\n", g.ts.base,
             g.ts.base);
    char *via_path[] = {(char *)g.bin, "-q", "-o", "/dev/stdin", "-", NULL};
    int st = run_pipe_io(via_path, text, 0);
    if (st != 2)
        show_err();
    assert_int_equal(st, 2);
    assert_err_has("is the input");
    char *via_stdout[] = {(char *)g.bin, "-q", "-", NULL};
    st = run_pipe_io(via_stdout, text, 1);
    if (st != 2)
        show_err();
    assert_int_equal(st, 2);
    assert_err_has("is the input");
}

/*
 * "mpfetch FILE | head -1": the reader of stdout goes away. mpfetch stops
 * with exit 1 and, like cat, says nothing of it; in particular not "run
 * again with --resume", which needs -o and cannot finish lines sent to a
 * pipe.
 */
static void test_stdout_reader_gone(void **state)
{
    (void)state;
    NEED_BIN();
    write_urls(40, "/delay/3000?%u");
    char *argv[] = {(char *)g.bin, "-q", "-w", "1", g.in, NULL};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]); /* the reader is gone before the first record */
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, g.err,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    /* one quick line first, so a record is written while 40 wait */
    char text[600];
    snprintf(text, sizeof(text), "%s/ok\n", g.ts.base);
    char *in = e2e_slurp(g.in, NULL);
    assert_non_null(in);
    FILE *f = fopen(g.in, "w");
    assert_non_null(f);
    fputs(text, f);
    fputs(in, f);
    assert_int_equal(fclose(f), 0);
    free(in);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    assert_int_equal(rc, 0);
    int st = e2e_wait(pid, 30);
    char *e = e2e_slurp(g.err, NULL);
    assert_non_null(e);
    if (st != 1 || strstr(e, "--resume"))
        fprintf(stderr, "exit %d, stderr: %s\n", st, e);
    assert_int_equal(st, 1);
    assert_null(strstr(e, "--resume"));
    free(e);
}

/*
 * Issue #9.9: closed standard descriptors. "mpfetch - <&-" ends at once
 * with exit 2 (it used to hang reading the forkserver's socket, which took
 * fd 0); "mpfetch FILE >&-" with exit 2 (it used to write every record
 * into a socket and exit 0). With -o FILE a closed stdout does no harm.
 */
static void test_closed_std_fds(void **state)
{
    (void)state;
    NEED_BIN();
    write_urls(3, "/ok?%u");
    char *from_stdin[] = {(char *)g.bin, "-", NULL};
    assert_int_equal(run_io(from_stdin, NULL, "/dev/null", O_WRONLY), 2);
    assert_err_has("standard input is closed");
    char *to_stdout[] = {(char *)g.bin, g.in, NULL};
    assert_int_equal(run_io(to_stdout, g.in, NULL, 0), 2);
    assert_err_has("standard output is closed");
    char *to_file[] = {(char *)g.bin, "-q", "-o", g.out, g.in, NULL};
    unlink(g.out);
    assert_int_equal(run_io(to_file, NULL, NULL, 0), 0);
    int seen[4];
    count_records(seen);
    assert_int_equal(seen[0], 0);
    for (int l = 1; l <= 3; l++)
        assert_int_equal(seen[l], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_group_sigterm_then_resume, 150),
        TU_BOUNDED(test_forkservers_killed_then_resume, 150),
        TU_BOUNDED(test_max_body_every_mode, 150),
        TU_BOUNDED(test_gzip_bomb_stops_at_limit, 150),
        TU_BOUNDED(test_gzip_bomb_gib_flat, 150),
        TU_BOUNDED(test_body_dir_planted_symlink, 150),
        TU_BOUNDED(test_resume_line_beyond_input, 150),
        TU_BOUNDED(test_resume_refuses_another_shard_or_input, 150),
        TU_BOUNDED(test_sigint_before_first_line, 150),
        TU_BOUNDED(test_output_is_input, 150),
        TU_BOUNDED(test_input_not_a_file, 150),
        TU_BOUNDED(test_output_is_input_pipe, 150),
        TU_BOUNDED(test_stdout_reader_gone, 150),
        TU_BOUNDED(test_closed_std_fds, 150),
        TU_BOUNDED(test_full_disk, 150),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
