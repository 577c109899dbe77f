/*
 * The command line: one getopt_long table, one config struct with defaults,
 * usage(). Every complaint is one plain sentence on stderr that names the
 * bad value, and the caller exits with MPF_EXIT_USAGE.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpfetch.h"

enum {
    OPT_TIMEOUT = 256,
    OPT_CONNECT_TIMEOUT,
    OPT_RETRIES,
    OPT_MAX_REDIRS,
    OPT_COMPRESSED,
    OPT_HTTP1,
    OPT_ENGINE,
    OPT_CACERT,
    OPT_PROXY_INSECURE,
    OPT_PROXY_CACERT,
    OPT_PER_HOST,
    OPT_RATE,
    OPT_ORDERED,
    OPT_RESUME,
    OPT_SHARD,
    OPT_BODY,
    OPT_MAX_BODY,
    OPT_SPEED_LIMIT,
    OPT_SPEED_TIME,
    OPT_FAIL,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_GRACE,
    OPT_VERSION,
    OPT_SUMMARY_JSON,
    OPT_NOPROXY,
    OPT_RESOLVE,
    OPT_DNS_SERVERS
};

static const char short_opts[] = "w:c:X:H:d:Lkx:o:ifqh";

/* apply()'s "stop here with MPF_EXIT_OK" (--help, --version). */
#define DONE (-2)

static const struct option long_opts[] = {
    {"workers", required_argument, NULL, 'w'},
    {"concurrency", required_argument, NULL, 'c'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"request", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, 'd'},
    {"location", no_argument, NULL, 'L'},
    {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
    {"compressed", no_argument, NULL, OPT_COMPRESSED},
    {"http1.1", no_argument, NULL, OPT_HTTP1},
    {"engine", required_argument, NULL, OPT_ENGINE},
    {"insecure", no_argument, NULL, 'k'},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"proxy", required_argument, NULL, 'x'},
    {"noproxy", required_argument, NULL, OPT_NOPROXY},
    {"proxy-insecure", no_argument, NULL, OPT_PROXY_INSECURE},
    {"proxy-cacert", required_argument, NULL, OPT_PROXY_CACERT},
    {"resolve", required_argument, NULL, OPT_RESOLVE},
    {"dns-servers", required_argument, NULL, OPT_DNS_SERVERS},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"rate", required_argument, NULL, OPT_RATE},
    {"ordered", no_argument, NULL, OPT_ORDERED},
    {"output", required_argument, NULL, 'o'},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"body", required_argument, NULL, OPT_BODY},
    {"include", no_argument, NULL, 'i'},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"speed-limit", required_argument, NULL, OPT_SPEED_LIMIT},
    {"speed-time", required_argument, NULL, OPT_SPEED_TIME},
    {"fail-on-http-error", no_argument, NULL, OPT_FAIL},
    {"fail", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"summary-json", required_argument, NULL, OPT_SUMMARY_JSON},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Prints the help text to out. */
static void usage(FILE *out)
{
    fputs(
        "Usage: mpfetch [options] [FILE|-]\n"
        "       mpfetch [options] URL...\n"
        "Fetch every URL in FILE (or stdin) across all cores; write one JSON\n"
        "record per input line. A line is a URL or a JSON object\n"
        "{\"url\":..., \"method\":..., \"headers\":{...}, \"body\":..., "
        "\"id\":...};\n"
        "blank lines and lines starting with # are skipped.\n"
        "Arguments that start with SCHEME:// (http://, https://...) are URLs\n"
        "to fetch, line N being the N-th of them; then every argument must\n"
        "be one (no FILE).\n"
        "\n"
        "Scale:\n",
        out);
    /* libmpool's limits; each worker also queues -c tasks beyond -c */
    fprintf(out,
        "  -w, --workers N          worker processes (default: the CPUs this\n"
        "                           process may use: affinity, cgroup quota;\n"
        "                           at most %d)\n"
        "  -c, --concurrency N      requests at once per worker (default 64,\n"
        "                           at most %d; -w x -c at most %d)\n",
        MP_MAX_WORKERS, MP_MAX_CONCURRENCY, MP_MAX_POOL_TASKS / 2);
    fputs(
        "      --per-host N         connections per host per worker\n"
        "      --rate N             requests per second for the whole run\n"
        "Requests:\n"
        "  -X, --request METHOD     method for URL lines (default GET): GET,\n"
        "                           HEAD, POST, PUT, DELETE, PATCH, OPTIONS\n"
        "  -H, --header 'Name: v'   extra header (repeatable)\n"
        "  -d, --data STRING|@FILE  request body (implies POST)\n"
        "  -L, --location           follow redirects\n"
        "      --max-redirs N       at most N redirects (with -L)\n"
        "      --compressed         ask for deflate/gzip/br/zstd, decode it\n"
        "  -k, --insecure           do not verify the servers' TLS\n"
        "                           certificates (not an https:// proxy's)\n"
        "      --cacert FILE        trust the CAs in FILE (servers only)\n"
        "      --http1.1            HTTP/1.1 only, even where a server\n"
        "                           offers HTTP/2\n"
        "  -x, --proxy PROXY        [scheme://][user:pass@]HOST[:PORT] for\n"
        "                           every URL (scheme: http, https, socks4,\n"
        "                           socks4a, socks5, socks5h); \"\" for none\n"
        "                           (default: the environment's http_proxy,\n"
        "                           https_proxy...)\n"
        "      --noproxy LIST       hosts reached directly: comma-separated\n"
        "                           names (and their subdomains), IPs, * for\n"
        "                           all (default: no_proxy)\n"
        "      --proxy-insecure     do not verify an https:// proxy's TLS\n"
        "                           certificate\n"
        "      --proxy-cacert FILE  trust the CAs in FILE for an https://\n"
        "                           proxy\n"
        "      --resolve HOST:PORT:ADDR[,ADDR...]  connect to ADDR for HOST on\n"
        "                           PORT, no DNS query (repeatable, as curl)\n"
        "      --dns-servers ADDR[:PORT][,...]  ask these DNS servers, not\n"
        "                           /etc/resolv.conf's (both engines)\n"
        "      --timeout SECONDS    per attempt, whole transfer (default 30)\n"
        "      --connect-timeout S  (default 10)\n"
        "      --speed-limit BYTES  fail (MP_ESLOW) a transfer slower than\n"
        "                           BYTES/s for --speed-time (suffixes k, M)\n"
        "      --speed-time S       seconds for --speed-limit (default 30)\n"
        "      --engine auto|native|curl  default auto: native HTTP/1.1\n"
        "                           and HTTP/2 for plain http:// and\n"
        "                           https:// to a host name or an IPv4/IPv6\n"
        "                           address, libcurl for the rest\n"
        "      --retries N          retry failed requests (default 0)\n"
        "Records:\n"
        "  -o, --output FILE        write records to FILE (default stdout)\n"
        "      --ordered            in input order (default: as they finish)\n"
        "      --resume             skip lines already in -o FILE, append\n"
        "      --shard K/N          only lines whose FNV-1a hash % N == K-1\n"
        "      --body MODE          none (default), inline, sha256, dir:PATH\n"
        "  -i, --include            response headers in records\n"
        "      --max-body BYTES     body size limit in every --body mode,\n"
        "                           decoded (default 16M; suffixes k, M, G)\n"
        "Run:\n"
        "  -f, --fail-on-http-error exit 22 if any record is not ok\n"
        "  -q, --quiet              no summary\n"
        "      --summary-json FILE  write the summary to FILE as JSON (also\n"
        "                           with -q)\n"
        "      --progress           progress line even if stderr is no TTY\n"
        "      --no-progress        never a progress line\n"
        "      --grace SECONDS      after Ctrl-C, let requests finish "
        "(default 2)\n"
        "      --version            print the version\n"
        "  -h, --help               this text\n"
        "\n"
        "Exit status: 0 all done; 1 runtime error, or lines left to run\n"
        "again with --resume; 2 usage error (also an input that is no\n"
        "file, an output or --summary-json that is the input or the\n"
        "records, a closed stdin or stdout); 22 a request failed with\n"
        "--fail-on-http-error; 130 interrupted.\n",
        out);
}

/* Complains about a bad option value in one sentence. Returns
   MPF_EXIT_USAGE. */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    fputs("mpfetch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'mpfetch --help' for more information.\n", stderr);
    return MPF_EXIT_USAGE;
}

/*
 * Parses s as a whole number in [min, max] for the option named opt.
 * Returns 0 with *out set, or MPF_EXIT_USAGE after saying what is wrong.
 */
static int parse_int(const char *opt, const char *s, long long min,
                     long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return bad("%s must be a whole number, got \"%s\"", opt, s);
    if (v < min)
        return bad("%s must be at least %lld, got %s", opt, min, s);
    if (v > max)
        return bad("%s must be at most %lld, got %s", opt, max, s);
    *out = v;
    return 0;
}

/* Like parse_int, into an int. Returns 0 or MPF_EXIT_USAGE. */
static int parse_small(const char *opt, const char *s, int min, int max,
                       int *out)
{
    long long v = 0;
    int rc = parse_int(opt, s, min, max, &v);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

/* Like parse_small for a count from 1 to the library's limit max (named
   limit), so the complaint names the limit. Returns 0 or MPF_EXIT_USAGE. */
static int parse_limit(const char *opt, const char *s, int max,
                       const char *limit, int *out)
{
    long long v = 0;
    int rc = parse_int(opt, s, 1, LLONG_MAX, &v);
    if (rc == 0 && v > max)
        return bad("%s must be at most %d (libmpool's limit, %s), got %s",
                   opt, max, limit, s);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

/*
 * Parses s as a decimal number ("0.5") of unit in [min, max]. Returns 0
 * with *out set, or MPF_EXIT_USAGE after saying what is wrong.
 */
static int parse_number(const char *opt, const char *s, const char *unit,
                        double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return bad("%s must be a number of %s, got \"%s\"", opt, unit, s);
    if (v < min)
        return bad("%s must be at least %g, got %s", opt, min, s);
    if (v > max)
        return bad("%s must be at most %g, got %s", opt, max, s);
    *out = v;
    return 0;
}

/* A number of seconds, at least min, at most FETCH_MAX_SECONDS (ten
   days). Returns 0 or MPF_EXIT_USAGE. */
static int parse_seconds(const char *opt, const char *s, double min,
                         double *out)
{
    return parse_number(opt, s, "seconds", min, FETCH_MAX_SECONDS, out);
}

/* Parses a byte count with an optional k/M/G suffix (powers of 1024), below
   2^60 once multiplied (the callers' own bounds are lower). Returns 0 with
   *out set, or MPF_EXIT_USAGE. */
static int parse_bytes(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (end != s && *end) {
        const char *u = strchr("kKmMgG", *end);
        if (u && end[1] == '\0')
            shift = 10 * (unsigned)(1 + (u - "kKmMgG") / 2);
        else
            end = (char *)s;
    }
    if (end == s || *s == '-' || errno == ERANGE || v == 0 ||
        v > (UINT64_MAX >> 4) >> shift)
        return bad("%s must be a positive size in bytes such as 1048576 or "
                   "16M, got \"%s\"",
                   opt, s);
    *out = (uint64_t)v << shift;
    return 0;
}

/* Parses --shard K/N (1 <= K <= N). Returns 0 or MPF_EXIT_USAGE. */
static int parse_shard(const char *s, mpf_config *cfg)
{
    char *end, *end2;
    errno = 0;
    unsigned long long k = strtoull(s, &end, 10);
    if (end == s || *end != '/' || *s == '-')
        goto fail;
    unsigned long long n = strtoull(end + 1, &end2, 10);
    if (end2 == end + 1 || *end2 != '\0' || end[1] == '-' || errno)
        goto fail;
    if (n < 1 || k < 1 || k > n)
        goto fail;
    cfg->shard_k = k;
    cfg->shard_n = n;
    return 0;
fail:
    return bad("--shard must be K/N with 1 <= K <= N, got %s", s);
}

/* Parses --body none|inline|sha256|dir:PATH with the fetch task's rules.
   Returns 0 or MPF_EXIT_USAGE. */
static int parse_body(const char *s, mpf_config *cfg)
{
    const char *colon = strchr(s, ':');
    const char *dir = colon ? colon + 1 : NULL;
    int mode = fetch_body_mode(s, colon ? (size_t)(colon - s) : strlen(s));

    if (mode < 0 || !fetch_body_dir_ok(mode, dir))
        return bad("--body must be none, inline, sha256 or dir:PATH, got "
                   "\"%s\"",
                   s);
    cfg->body = (fetch_body)mode;
    cfg->body_dir = dir;
    return 0;
}

/* Checks -X with the fetch task's rules and keeps its canonical spelling.
   Returns 0 or MPF_EXIT_USAGE. */
static int set_method(mpf_config *cfg, const char *m)
{
    char known[80] = "";

    if ((cfg->method = fetch_method_name(m)) != NULL)
        return 0;
    for (size_t i = 0; fetch_methods[i]; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                 i ? (fetch_methods[i + 1] ? ", " : " or ") : "",
                 fetch_methods[i]);
    return bad("--request must be %s, got \"%s\"", known, m);
}

/* Appends s (not copied) to the list *v of *n strings. Returns 0, or
   MPF_EXIT_RUNTIME when out of memory. */
static int append(const char ***v, size_t *n, const char *s)
{
    const char **w = realloc(*v, (*n + 1) * sizeof *w);

    if (!w) {
        fputs("mpfetch: out of memory\n", stderr);
        return MPF_EXIT_RUNTIME;
    }
    w[(*n)++] = s;
    *v = w;
    return 0;
}

/* Checks a header argument with the fetch task's rules and appends it.
   Returns 0, or MPF_EXIT_USAGE / MPF_EXIT_RUNTIME. */
static int add_header(mpf_config *cfg, const char *h)
{
    if (!fetch_header_ok(h, strlen(h)))
        return bad("--header must look like \"Name: value\" (or \"Name;\" "
                   "for an empty value), got \"%s\"",
                   h);
    return append(&cfg->headers, &cfg->n_headers, h);
}

/* Checks a --resolve entry with libmpool's rules and appends it.
   Returns 0, or MPF_EXIT_USAGE / MPF_EXIT_RUNTIME. */
static int add_resolve(mpf_config *cfg, const char *e)
{
    if (mp_http_resolve_check(e) != 0)
        return bad("--resolve wants HOST:PORT:ADDR[,ADDR...] (ADDR an IPv4 "
                   "or IPv6 address), got \"%s\"",
                   e);
    return append(&cfg->resolve, &cfg->n_resolve, e);
}

/*
 * Reads FILE for -d @FILE the way curl does: carriage returns and newlines
 * are dropped. Returns a malloc'd string with its length in *len, or NULL
 * after saying why.
 */
static char *read_data_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mpfetch: could not read the --data file %s: %s\n",
                path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    int c;
    while (s && (c = getc(f)) != EOF) {
        if (c == '\r' || c == '\n')
            continue;
        if (n + 1 >= cap) {
            char *t = realloc(s, cap *= 2);
            if (!t)
                free(s);
            s = t;
        }
        if (s)
            s[n++] = (char)c;
    }
    if (f != stdin)
        fclose(f);
    if (!s) {
        fputs("mpfetch: out of memory\n", stderr);
        return NULL;
    }
    s[n] = '\0';
    *len = n;
    return s;
}

/* Appends one -d value; several are joined with '&' like curl. Returns 0
   or an exit status. */
static int add_data(mpf_config *cfg, const char *arg)
{
    size_t n;
    char *v = arg[0] == '@' ? read_data_file(arg + 1, &n) : strdup(arg);
    if (!v)
        return MPF_EXIT_RUNTIME;
    if (arg[0] != '@')
        n = strlen(v);
    if (!cfg->data) {
        cfg->data = v;
        cfg->data_len = n;
        return 0;
    }
    char *j = realloc(cfg->data, cfg->data_len + n + 2);
    if (!j) {
        free(v);
        return MPF_EXIT_RUNTIME;
    }
    j[cfg->data_len] = '&';
    memcpy(j + cfg->data_len + 1, v, n + 1);
    cfg->data = j;
    cfg->data_len += n + 1;
    free(v);
    return 0;
}

/* Fills cfg with the defaults every run starts from. */
void mpf_config_defaults(mpf_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->concurrency = 64;
    cfg->timeout_s = 30;
    cfg->connect_timeout_s = 10;
    cfg->grace_s = 2;
    cfg->max_redirs = -1;
    cfg->body = FETCH_BODY_NONE;
    cfg->progress = -1;
}

/*
 * Applies one option c with argument arg to cfg. Returns 0, DONE after
 * --help / --version, or an exit status after a complaint.
 */
static int apply(mpf_config *cfg, int c, const char *arg)
{
    switch (c) {
    case 'w':
        return parse_limit("--workers", arg, MP_MAX_WORKERS, "MP_MAX_WORKERS",
                           &cfg->workers);
    case 'c':
        return parse_limit("--concurrency", arg, MP_MAX_CONCURRENCY,
                           "MP_MAX_CONCURRENCY", &cfg->concurrency);
    case OPT_TIMEOUT:
        return parse_seconds("--timeout", arg, 0, &cfg->timeout_s);
    case OPT_CONNECT_TIMEOUT:
        return parse_seconds("--connect-timeout", arg,
                             FETCH_MIN_CONNECT_TIMEOUT,
                             &cfg->connect_timeout_s);
    case OPT_GRACE: return parse_seconds("--grace", arg, 0, &cfg->grace_s);
    case OPT_RETRIES:
        return parse_small("--retries", arg, 0, FETCH_MAX_RETRIES,
                           &cfg->retries);
    case 'X': return set_method(cfg, arg);
    case 'H': return add_header(cfg, arg);
    case 'd': return add_data(cfg, arg);
    case 'L': cfg->follow = 1; return 0;
    case OPT_MAX_REDIRS:
        return parse_small("--max-redirs", arg, 0, FETCH_MAX_REDIRS,
                           &cfg->max_redirs);
    case OPT_COMPRESSED: cfg->compressed = 1; return 0;
    case OPT_HTTP1: cfg->http1 = 1; return 0;
    case OPT_ENGINE:
        if (fetch_engine_code(arg) < 0) {
            fprintf(stderr, "mpfetch: --engine must be auto, native or "
                            "curl, not \"%s\"\n", arg);
            return MPF_EXIT_USAGE;
        }
        cfg->engine = arg;
        return 0;
    case 'k': cfg->insecure = 1; return 0;
    case OPT_CACERT: cfg->cacert = arg; return 0;
    case 'x':
        if (mp_http_proxy_check(arg) != 0)
            return bad("--proxy must be [scheme://][user:pass@]HOST[:PORT] "
                       "with a scheme libcurl supports (" MP_HTTP_PROXY_SCHEMES
                       "), or \"\" for none, got \"%s\"",
                       arg);
        cfg->proxy = arg;
        return 0;
    case OPT_NOPROXY: cfg->noproxy = arg; return 0;
    case OPT_PROXY_INSECURE: cfg->proxy_insecure = 1; return 0;
    case OPT_PROXY_CACERT: cfg->proxy_cacert = arg; return 0;
    case OPT_RESOLVE: return add_resolve(cfg, arg);
    case OPT_DNS_SERVERS:
        if (mp_http_dns_servers_check(arg) != 0)
            return bad("--dns-servers wants ADDR[:PORT][,ADDR[:PORT]...] "
                       "(an IPv6 address with a port in brackets), got "
                       "\"%s\"",
                       arg);
        cfg->dns_servers = arg;
        return 0;
    case OPT_PER_HOST:
        return parse_small("--per-host", arg, 0, FETCH_MAX_PER_HOST,
                           &cfg->per_host);
    case OPT_RATE:
        return parse_number("--rate", arg, "requests per second", 0,
                            FETCH_MAX_RATE, &cfg->rate);
    case OPT_ORDERED: cfg->ordered = 1; return 0;
    case 'o': cfg->output = arg; return 0;
    case OPT_RESUME: cfg->resume = 1; return 0;
    case OPT_SHARD: return parse_shard(arg, cfg);
    case OPT_BODY: return parse_body(arg, cfg);
    case 'i': cfg->include_headers = 1; return 0;
    case OPT_MAX_BODY:
        if (parse_bytes("--max-body", arg, &cfg->max_body) != 0)
            return MPF_EXIT_USAGE;
        if (cfg->max_body > FETCH_MAX_BODY)
            return bad("--max-body must be at most 1T, got \"%s\"", arg);
        return 0;
    case OPT_SPEED_LIMIT:
        if (parse_bytes("--speed-limit", arg, &cfg->speed_limit) != 0)
            return MPF_EXIT_USAGE;
        if (cfg->speed_limit > FETCH_MAX_SPEED_LIMIT)
            return bad("--speed-limit must be below 4G bytes per second, "
                       "got \"%s\"", arg);
        return 0;
    case OPT_SPEED_TIME:
        return parse_small("--speed-time", arg, 1, FETCH_MAX_SPEED_TIME,
                           &cfg->speed_time);
    case 'f':
    case OPT_FAIL: cfg->fail_on_error = 1; return 0;
    case 'q': cfg->quiet = 1; return 0;
    case OPT_SUMMARY_JSON:
        if (!*arg)
            return bad("--summary-json must name a file, got \"\"");
        cfg->summary_json = arg;
        return 0;
    case OPT_PROGRESS: cfg->progress = 1; return 0;
    case OPT_NO_PROGRESS: cfg->progress = 0; return 0;
    case OPT_VERSION:
        printf("mpfetch %s (libmpool %s)\n", MPF_VERSION_FULL,
               MP_VERSION_STRING);
        return DONE;
    case 'h': usage(stdout); return DONE;
    default: return bad("unknown option %d", c);
    }
}

/* Fills o with the pool's size and pace from cfg (not the task deadline,
   the init function or its argument: the caller adds those), with the
   fetch task's credit rule (fetch_pool_options), mpool's too. */
void mpf_pool_options(const mpf_config *cfg, mp_pool_options *o)
{
    fetch_pool_options(o, cfg->workers, cfg->concurrency);
    o->rate = cfg->rate;
}

/* Checks that the file option opt names (path; NULL: not given) can be
   read. Returns 0 or MPF_EXIT_USAGE. */
static int check_file(const char *opt, const char *path)
{
    if (path && path[0] == '\0')
        return bad("%s must name a file, got \"\"", opt);
    if (path && access(path, R_OK) != 0)
        return bad("%s file %s cannot be read: %s", opt, path,
                   strerror(errno));
    return 0;
}

/* Checks the options that only make sense together, the pool's among
   them with the library's own check. Returns 0 or MPF_EXIT_USAGE. */
static int check_combinations(const mpf_config *cfg)
{
    mp_pool_options o;
    char why[256];
    mpf_pool_options(cfg, &o);
    if (mp_pool_options_check(&o, why, sizeof(why)) != 0)
        return bad("-w %d -c %d is past libmpool's limits: %s", o.workers,
                   o.concurrency, why);
    if (cfg->resume && !cfg->output)
        return bad("--resume needs -o FILE: it reads the records already "
                   "written there");
    if (check_file("--cacert", cfg->cacert) != 0 ||
        check_file("--proxy-cacert", cfg->proxy_cacert) != 0)
        return MPF_EXIT_USAGE;
    if (cfg->output && cfg->output[0] == '\0')
        return bad("--output must name a file, got \"\"");
    return 0;
}

/* Explains why getopt_long refused arg (optopt says which option).
   Returns MPF_EXIT_USAGE. */
static int complain(const char *arg)
{
    if (optopt == 0)
        return bad("unknown option %s", arg);
    if (optopt < 256 && !strchr(short_opts, optopt))
        return bad("unknown option -%c", optopt);
    if (strncmp(arg, "--", 2) != 0)
        return bad("option -%c needs a value", optopt);
    const char *eq = strchr(arg, '=');
    if (eq)
        return bad("option %.*s takes no value, got %s", (int)(eq - arg),
                   arg, arg);
    return bad("option %s needs a value", arg);
}

/*
 * Parses argv into cfg (which mpf_config_defaults filled). Returns
 * MPF_PARSE_RUN to go on with the run, or the exit status to leave with:
 * MPF_EXIT_OK after --help or --version, MPF_EXIT_USAGE (or
 * MPF_EXIT_RUNTIME if a --data file can't be read) after saying what is
 * wrong on stderr. Each call starts afresh (getopt's state is reset).
 */
int mpf_options_parse(mpf_config *cfg, int argc, char **argv)
{
    int c, rc;
    opterr = 0;
    optind = 0; /* a fresh scan, whatever an earlier call left behind */
    while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        if (c == '?')
            return complain(argv[optind - 1]);
        if ((rc = apply(cfg, c, optarg)) != 0)
            return rc == DONE ? MPF_EXIT_OK : rc;
    }
    int nurls = 0;
    for (int i = optind; i < argc; i++)
        nurls += mpf_is_url_arg(argv[i]);
    for (int i = optind; nurls && i < argc; i++)
        if (!mpf_is_url_arg(argv[i]))
            return bad("give URLs or one input FILE, not both: \"%s\" is "
                       "not a URL (SCHEME://...)", argv[i]);
    for (int i = optind; nurls && i < argc; i++)
        if (strpbrk(argv[i], "\r\n"))
            return bad("a URL argument holds a line break: \"%s\"", argv[i]);
    if (nurls) {
        cfg->urls = argv + optind;
        cfg->n_urls = nurls;
    } else if (argc - optind > 1) {
        return bad("give one input FILE, got %d: %s %s%s",
                   argc - optind, argv[optind], argv[optind + 1],
                   argc - optind > 2 ? " ..." : "");
    }
    if (optind < argc && !nurls)
        cfg->input = argv[optind];
    if (!nurls && (!cfg->input || strcmp(cfg->input, "-") == 0) && isatty(0))
        return bad("no input: give a FILE of URLs, or pipe them on stdin");
    return check_combinations(cfg) ? MPF_EXIT_USAGE : MPF_PARSE_RUN;
}

/* Returns 1 when the argument s is a URL to fetch rather than a FILE: it
   starts with a scheme (a letter, then letters, digits, +, - or .) and
   "://". */
int mpf_is_url_arg(const char *s)
{
    if (!isalpha((unsigned char)s[0]))
        return 0;
    while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
        s++;
    return strncmp(s, "://", 3) == 0;
}

/* Returns how messages name the input: FILE, "stdin" or "the URL
   arguments". */
const char *mpf_input_name(const mpf_config *cfg)
{
    if (cfg->n_urls)
        return "the URL arguments";
    return cfg->input && strcmp(cfg->input, "-") != 0 ? cfg->input : "stdin";
}

/* Frees what parsing allocated. */
void mpf_config_free(mpf_config *cfg)
{
    free(cfg->headers);
    free(cfg->resolve);
    free(cfg->data);
    cfg->resolve = NULL;
    cfg->headers = NULL;
    cfg->data = NULL;
}
