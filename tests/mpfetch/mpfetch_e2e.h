/*
 * Helpers for the end-to-end suites that run the real mpfetch binary
 * ($MP_MPFETCH) with posix_spawn, stdout and stderr redirected to files,
 * and read its JSON records back. Header-only: test_mpfetch.c and
 * test_nginx.c are separate executables. Include after cmocka.h.
 */
#ifndef MPFETCH_E2E_H
#define MPFETCH_E2E_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Bound on one mpfetch run; beyond it the run is killed and fails. */
#define E2E_RUN_TIMEOUT_S 90

/* Returns the mpfetch binary's path, or NULL (the test then skips). */
static inline const char *e2e_mpfetch(void)
{
    const char *p = getenv("MP_MPFETCH");
    return p && access(p, X_OK) == 0 ? p : NULL;
}

/* Returns seconds on CLOCK_MONOTONIC. */
static inline double e2e_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps ms milliseconds: only inside bounded polling loops. */
static inline void e2e_nap(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * Starts argv with stdin from in_path (NULL: /dev/null) or in_fd (>= 0),
 * stdout to out_path and stderr to err_path (NULL: /dev/null). Returns the
 * pid, or -1.
 */
static inline pid_t e2e_spawn_fd(char *const argv[], const char *in_path,
                                 int in_fd, const char *out_path,
                                 const char *err_path)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path
                                                         : "/dev/null",
                                         O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path
                                                      : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path
                                                      : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static inline pid_t e2e_spawn(char *const argv[], const char *in_path,
                              const char *out_path, const char *err_path)
{
    return e2e_spawn_fd(argv, in_path, -1, out_path, err_path);
}

/* Like e2e_spawn, with the child leading a new process group (pgid == its
   pid), as a shell job or a timeout(1) child does: kill(-pid, sig) then
   reaches it and every process it starts. Returns the pid, or -1. */
static inline pid_t e2e_spawn_pgroup(char *const argv[], const char *in_path,
                                     const char *out_path,
                                     const char *err_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path
                                                      : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path
                                                      : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    int rc = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

/*
 * Waits for pid at most timeout_s seconds (then SIGKILLs it). Returns the
 * exit status, 128 + the signal that ended it, or -1 on timeout.
 */
static inline int e2e_wait(pid_t pid, double timeout_s)
{
    int st;
    double deadline = e2e_now() + timeout_s;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (e2e_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        e2e_nap(5);
    }
}

/* Runs argv to completion (bounded). Returns as e2e_wait. */
static inline int e2e_run(char *const argv[], const char *in_path,
                          const char *out_path, const char *err_path)
{
    pid_t pid = e2e_spawn(argv, in_path, out_path, err_path);
    return pid < 0 ? -1 : e2e_wait(pid, E2E_RUN_TIMEOUT_S);
}

/* Returns the whole file, NUL-terminated and malloc'd (NULL on error);
   its length in *len if len is not NULL. */
static inline char *e2e_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, k;
    char *s = malloc(cap + 1);
    while (s && (k = fread(s + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *t = realloc(s, (cap *= 2) + 1);
            if (!t)
                free(s);
            s = t;
        }
    }
    fclose(f);
    if (s) {
        s[n] = '\0';
        if (len)
            *len = n;
    }
    return s;
}

/* Writes text to path. Returns 0 or -1. */
static inline int e2e_write_file(const char *path, const char *text,
                                 size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(text, 1, len, f);
    return fclose(f) == 0 && k == len ? 0 : -1;
}

/* Returns the number of complete lines (newlines) in path, 0 if absent. */
static inline size_t e2e_count_lines(const char *path)
{
    size_t n = 0, len = 0;
    char *s = e2e_slurp(path, &len);
    for (size_t i = 0; s && i < len; i++)
        n += s[i] == '\n';
    free(s);
    return n;
}

/*
 * Parses every line of path as one JSON object. Every line must end with
 * '\n' and parse (no torn or merged records). Returns a JSON array of the
 * records (json_decref it), or NULL when the file is not like that.
 */
static inline json_t *e2e_records(const char *path)
{
    size_t len = 0;
    char *s = e2e_slurp(path, &len);
    json_t *a = s ? json_array() : NULL;
    char *p = s;
    while (a && p < s + len) {
        char *nl = memchr(p, '\n', (size_t)(s + len - p));
        json_error_t je;
        json_t *o = nl ? json_loadb(p, (size_t)(nl - p), 0, &je) : NULL;
        if (!json_is_object(o)) {
            fprintf(stderr, "bad record in %s: %.200s\n", path, p);
            json_decref(o);
            json_decref(a);
            a = NULL;
            break;
        }
        json_array_append_new(a, o);
        p = nl + 1;
    }
    free(s);
    return a;
}

/*
 * Runs $MP_MPFETCH -q -w 1, the options of pre then of args (each
 * NULL-ended, pre may be NULL; 24 in all at most), -o out, in, to
 * completion (bounded), its stderr to err. Fails the test (cmocka)
 * unless it exits 0 or 22 and out holds whole records. Returns them, a
 * JSON array (json_decref it).
 */
static inline json_t *e2e_fetch_records(const char *const *pre,
                                        const char *const *args,
                                        const char *in, const char *out,
                                        const char *err)
{
    const char *const none[] = {NULL};
    char *argv[32];
    int argc = 0, rc;
    json_t *recs;

    argv[argc++] = (char *)e2e_mpfetch();
    argv[argc++] = "-q";
    argv[argc++] = "-w";
    argv[argc++] = "1";
    for (const char *const *a = pre ? pre : none; *a && argc < 28; a++)
        argv[argc++] = (char *)*a;
    for (const char *const *a = args; *a && argc < 28; a++)
        argv[argc++] = (char *)*a;
    argv[argc++] = "-o";
    argv[argc++] = (char *)out;
    argv[argc++] = (char *)in;
    argv[argc] = NULL;
    rc = e2e_run(argv, NULL, NULL, err);
    if (rc != 0 && rc != 22) {
        char *text = e2e_slurp(err, NULL);
        fail_msg("mpfetch exited %d: %s", rc, text ? text : "");
    }
    recs = e2e_records(out);
    assert_non_null(recs);
    return recs;
}

/*
 * Returns the integer field key of the --summary-json object in path
 * (workers_died, tasks_retried...). Fails the test (cmocka) when the file
 * does not parse or lacks it.
 */
static inline long long e2e_summary_int(const char *path, const char *key)
{
    json_error_t jerr;
    json_t *sum = json_load_file(path, 0, &jerr);
    if (!sum)
        fail_msg("summary %s: %s", path, jerr.text);
    json_t *v = json_object_get(sum, key);
    if (!json_is_integer(v))
        fail_msg("summary %s has no integer \"%s\"", path, key);
    long long n = (long long)json_integer_value(v);
    json_decref(sum);
    return n;
}

/* Asserts the run that wrote the summary in path lost no worker: the
   re-runs after a death give the same records, so only this shows it. */
static inline void e2e_assert_no_death(const char *path)
{
    assert_int_equal(e2e_summary_int(path, "workers_died"), 0);
    assert_int_equal(e2e_summary_int(path, "tasks_retried"), 0);
}

/* Returns the record's "line" number, or 0. */
static inline long long e2e_line_of(json_t *rec)
{
    json_t *l = json_object_get(rec, "line");
    return json_is_integer(l) ? (long long)json_integer_value(l) : 0;
}

/* Returns the record for input line (NULL if none). */
static inline json_t *e2e_by_line(json_t *recs, long long line)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) if (e2e_line_of(r) == line) return r;
    return NULL;
}

/* Returns the string field key of rec; asserts it is there. */
static inline const char *e2e_str(json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    if (!json_is_string(v)) {
        char *d = json_dumps(rec, JSON_COMPACT);
        fprintf(stderr, "no string \"%s\" in %s\n", key, d ? d : "?");
        free(d);
    }
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* Returns error.code of a record ("" for none). */
static inline const char *e2e_error_code(json_t *rec)
{
    json_t *c = json_object_get(json_object_get(rec, "error"), "code");
    return json_is_string(c) ? json_string_value(c) : "";
}

/*
 * Checks the records hold each line in lines[0..n) exactly once and no
 * other line (cmocka asserts).
 */
static inline void e2e_assert_exactly(json_t *recs, const long long *lines,
                                      size_t n, long long max_line)
{
    int *seen = calloc((size_t)max_line + 1, sizeof(int));
    size_t i;
    json_t *r;
    assert_non_null(seen);
    json_array_foreach(recs, i, r) {
        long long l = e2e_line_of(r);
        assert_in_range(l, 1, max_line);
        seen[l]++;
    }
    for (i = 0; i < n; i++) {
        if (seen[lines[i]] != 1)
            fprintf(stderr, "line %lld has %d records\n", lines[i],
                    seen[lines[i]]);
        assert_int_equal(seen[lines[i]], 1);
        seen[lines[i]] = 0;
    }
    for (long long l = 1; l <= max_line; l++)
        assert_int_equal(seen[l], 0);
    assert_int_equal(json_array_size(recs), n);
    free(seen);
}

/* Returns the parent pid of pid from /proc, or -1. */
static inline pid_t e2e_ppid_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the name may hold spaces and parens */
    int pp;
    return p && sscanf(p + 1, " %*c %d", &pp) == 1 ? pp : -1;
}

#define E2E_MAX_PROCS 4096

/* A process below some root: its depth (1: a child) and whether it has
   children of its own. */
typedef struct e2e_proc {
    pid_t pid;
    int depth;
    int leaf;
} e2e_proc;

/* Fills out[0..max) with the descendants of root found in /proc. Returns
   how many. */
static inline int e2e_descendants(pid_t root, e2e_proc *out, int max)
{
    static pid_t pid[E2E_MAX_PROCS], pp[E2E_MAX_PROCS];
    int n = 0, k = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && n < E2E_MAX_PROCS && (e = readdir(d)) != NULL) {
        pid_t p = (pid_t)atoi(e->d_name);
        pid_t q = p > 0 ? e2e_ppid_of(p) : -1;
        if (q > 0) {
            pid[n] = p;
            pp[n++] = q;
        }
    }
    if (d)
        closedir(d);
    for (int i = 0; i < n && k < max; i++) {
        int depth = 0;
        pid_t q = pp[i];
        for (int hops = 1; hops < 8 && q > 1; hops++) {
            if (q == root) {
                depth = hops;
                break;
            }
            int j = 0;
            while (j < n && pid[j] != q)
                j++;
            q = j < n ? pp[j] : -1;
        }
        if (!depth)
            continue;
        int leaf = 1;
        for (int j = 0; j < n && leaf; j++)
            leaf = pp[j] != pid[i];
        out[k++] = (e2e_proc){pid[i], depth, leaf};
    }
    return k;
}

/* Joins a directory and a file name into buf. Returns buf. */
static inline char *e2e_path(char *buf, size_t cap, const char *dir,
                             const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

#endif
