/*
 * The fetch task (see fetch.h): one input line in, one JSON record out.
 * Runs inside workers: the configuration is a per-worker static set by
 * fetch_init (the pool's init function); everything per request, from
 * parsing the line to formatting the record, happens here so the
 * coordinator only moves bytes.
 *
 * Retries: a failed attempt is retried (up to "retries" more) when the
 * failure is likely to pass: connection refused or reset, a timeout, or
 * HTTP 429/502/503/504. DNS failures are not retried: curl reports a name
 * that does not exist (NXDOMAIN, every .invalid host) the same way as a
 * resolver hiccup, and the former is by far the common case in URL lists.
 * Waits are exponential with full jitter (random in [0, min(max, base *
 * 2^k)]), and at least the server's Retry-After (seconds, or an HTTP-date),
 * capped at retry_max_ms.
 *
 * Never crashes on input: every line, however broken, yields a record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "fetch_int.h"
#include "jsonw.h"

#define FETCH_INPUT_SHOWN 1024 /* bytes of a bad line echoed in "input" */
#define FETCH_MAX_DEPTH 32     /* nesting accepted in a JSON line */

/* One parsed input line. Strings point into `root` or `owned`. */
typedef struct fetch_line {
    uint64_t no;
    const char *raw;
    size_t raw_len;
    json_t *root; /* the JSON object of a JSON line */
    json_t *id;   /* borrowed from root */
    char *url;    /* NUL-terminated copy */
    char method[8];
    const char *body;
    size_t body_len;
    char **hdr; /* "Name: value" lines built from the JSON headers */
    size_t n_hdr;
    char why[160]; /* what is wrong with the line, for MP_EINPUT */
} fetch_line;

/* ---- small helpers ----------------------------------------------------- */

/* Returns 1 if p[0..n) is UTF-8 text without NUL bytes (a "\u0000" in a
   record trips C consumers). */
static int is_text(const char *p, size_t n)
{
    return jw_is_text(p, n);
}

/* Returns a JSON string of p[0..n): as is when it is text, else with NUL
   and every byte >= 0x80 replaced by '?'. NULL only when out of memory. */
static json_t *jstr_lossy(const char *p, size_t n)
{
    json_t *s;
    char *copy;

    if (is_text(p, n))
        return json_stringn(p, n);
    if (!(copy = malloc(n ? n : 1)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        copy[i] = (unsigned char)p[i] >= 0x80 || !p[i] ? '?' : p[i];
    s = json_stringn(copy, n);
    free(copy);
    return s;
}

/* Returns the base64 of p[0..n) (no line breaks) as a JSON string. */
static json_t *jstr_base64(const char *p, size_t n)
{
    size_t out_len = 4 * ((n + 2) / 3);
    unsigned char *out = malloc(out_len + 1);
    json_t *s;

    if (!out)
        return NULL;
    /* EVP_EncodeBlock takes an int length: go in 3-byte-aligned chunks. */
    for (size_t i = 0, o = 0; i < n;) {
        size_t chunk = n - i > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - i;
        o += (size_t)EVP_EncodeBlock(out + o, (const unsigned char *)p + i,
                                     (int)chunk);
        i += chunk;
    }
    s = json_stringn((const char *)out, out_len);
    free(out);
    return s;
}

/* Returns the hex SHA-256 of p[0..n) as a JSON string; NULL on failure. */
static json_t *jstr_sha256(const char *p, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, p, n) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &md_len) == 1;

    EVP_MD_CTX_free(ctx);
    if (!ok)
        return NULL;
    for (unsigned i = 0; i < md_len; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    return json_stringn(hex, 2 * md_len);
}

/* ---- the input line ---------------------------------------------------- */

/* Records what is wrong with the line. Returns MP_EINPUT. */
static int line_bad(fetch_line *l, const char *fmt, const char *arg)
{
    snprintf(l->why, sizeof l->why, fmt, arg);
    return MP_EINPUT;
}

/* Returns 1 if h[0..n) is a dotted quad of decimal parts 0-255 without
   leading zeros, the one numeric host form url_plain takes. */
static int host_quad(const char *h, size_t n)
{
    unsigned parts = 0, v = 0, digits = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i == n || h[i] == '.') {
            if (!digits || v > 255 || (digits > 1 && h[i - digits] == '0'))
                return 0;
            parts++;
            v = digits = 0;
        } else if (h[i] >= '0' && h[i] <= '9' && digits < 3) {
            v = v * 10 + (unsigned)(h[i] - '0');
            digits++;
        } else {
            return 0;
        }
    }
    return parts == 4;
}

/* Returns 1 if c may stand in a plain URL's host: a letter, a digit, '-'
   or '_'. */
static int host_byte(unsigned char c)
{
    unsigned char l = c | 0x20;
    return (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Returns 1 if c may stand in a plain URL's path, query or fragment:
   printable ASCII but none of the characters RFC 3986 leaves out (space,
   "<>\^`{|}). One bit per byte, 0-63 and 64-127. */
static int path_byte(unsigned char c)
{
    static const uint64_t ok[2] = {0xaffffffa00000000ull,
                                   0x47fffffeafffffffull};
    return c < 128 && (ok[c >> 6] >> (c & 63) & 1);
}

int fetch_url_plain(const char *u)
{
    const char *h, *p, *last;
    size_t n = strlen(u);

    if (n > 8000)
        return 0;
    if (strncmp(u, "http://", 7) == 0)
        h = u + 7;
    else if (strncmp(u, "https://", 8) == 0)
        h = u + 8;
    else
        return 0;
    /* the host: labels of letters, digits, '-' and '_', none empty */
    for (p = last = h; *p && *p != '/' && *p != ':'; p++) {
        if (*p == '.') {
            if (p == last)
                return 0;
            last = p + 1;
        } else if (!host_byte((unsigned char)*p)) {
            return 0;
        }
    }
    if (p == h || p == last)
        return 0;
    /* a name (its last label starts with a letter) or a dotted quad;
       anything curl could read as another IPv4 form goes to curl */
    if (!((*last >= 'a' && *last <= 'z') || (*last >= 'A' && *last <= 'Z')) &&
        !host_quad(h, (size_t)(p - h)))
        return 0;
    if (*p == ':') {
        unsigned port = 0;
        const char *d = ++p;
        for (; *p >= '0' && *p <= '9' && p - d < 5; p++)
            port = port * 10 + (unsigned)(*p - '0');
        if (p == d || *d == '0' || port > 65535 || (*p && *p != '/'))
            return 0;
    }
    /* path, query, fragment */
    for (; *p; p++)
        if (!path_byte((unsigned char)*p))
            return 0;
    return 1;
}

/* Checks l->url with curl's URL parser: http or https, with a host.
   Returns 0 or MP_EINPUT. */
static int line_check_url_curl(fetch_line *l)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    CURLUcode uc;
    int rc = 0;

    if (!u)
        return line_bad(l, "%s", "out of memory");
    if ((uc = curl_url_set(u, CURLUPART_URL, l->url,
                           CURLU_NON_SUPPORT_SCHEME)) != CURLUE_OK)
        rc = line_bad(l, "bad URL: %s", curl_url_strerror(uc));
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        rc = line_bad(l, "URL scheme %s is not http or https",
                      scheme ? scheme : "(none)");
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* Checks l->url: not empty, UTF-8, and what curl's URL parser accepts as
   http or https with a host (a plain URL without asking it). Returns 0 or
   MP_EINPUT. */
static int line_check_url(fetch_line *l)
{
    if (!l->url[0])
        return line_bad(l, "%s", "empty URL");
    if (fetch_url_plain(l->url))
        return 0; /* the common case (ASCII, so text): curl's parse costs
                     ~6,000 instructions */
    if (!is_text(l->url, strlen(l->url)))
        return line_bad(l, "%s", "URL is not valid UTF-8");
    return line_check_url_curl(l);
}

/* Appends one "Name: value" line (name and value of n and vn bytes) to
   l->hdr. Returns 0 or MP_EINPUT. */
static int line_add_header(fetch_line *l, const char *name, const char *v,
                           size_t vn)
{
    size_t nn = strlen(name);
    char *h = malloc(nn + vn + 3), **a;

    if (!h)
        return line_bad(l, "%s", "out of memory");
    memcpy(h, name, nn);
    /* "Name;" sends an empty header; "Name:" would remove it in curl. */
    memcpy(h + nn, vn ? ": " : ";", vn ? 2 : 1);
    memcpy(h + nn + (vn ? 2 : 1), v, vn);
    h[nn + (vn ? 2 : 1) + vn] = '\0';
    if (!fetch_header_ok(h, nn + (vn ? 2 : 1) + vn) || memchr(name, ':', nn) ||
        !(a = realloc(l->hdr, (l->n_hdr + 1) * sizeof *a))) {
        free(h);
        return line_bad(l, "bad header \"%.60s\"", name);
    }
    l->hdr = a;
    l->hdr[l->n_hdr++] = h;
    return 0;
}

/* Reads "headers" of a JSON line: an object of name → string, or an array
   of "Name: value" strings. Returns 0 or MP_EINPUT. */
static int line_headers(fetch_line *l, json_t *h)
{
    const char *k;
    json_t *v;
    size_t i;
    int rc = 0;

    if (json_is_object(h)) {
        json_object_foreach (h, k, v) {
            if (!json_is_string(v))
                return line_bad(l, "header %.60s is not a string", k);
            if ((rc = line_add_header(l, k, json_string_value(v),
                                      json_string_length(v))) != 0)
                return rc;
        }
        return 0;
    }
    if (!json_is_array(h))
        return line_bad(l, "%s", "\"headers\" is not an object or array");
    json_array_foreach (h, i, v) {
        char **a;
        if (!json_is_string(v) ||
            !fetch_header_ok(json_string_value(v), json_string_length(v)))
            return line_bad(l, "%s", "bad entry in \"headers\"");
        if (!(a = realloc(l->hdr, (l->n_hdr + 1) * sizeof *a)) ||
            !(a[l->n_hdr] = strdup(json_string_value(v))))
            return line_bad(l, "%s", "out of memory");
        l->hdr = a;
        l->n_hdr++;
    }
    return 0;
}

/* Returns the deepest nesting of arrays and objects in a JSON text (strings
   skipped), counting no further than limit + 1. jansson parses by
   recursion, and a task runs on a small coroutine stack. */
static int json_depth(const char *p, size_t n, int limit)
{
    int d = 0, max = 0, in_str = 0;

    for (size_t i = 0; i < n && max <= limit; i++) {
        if (in_str) {
            if (p[i] == '\\')
                i++;
            else if (p[i] == '"')
                in_str = 0;
        } else if (p[i] == '"') {
            in_str = 1;
        } else if (p[i] == '[' || p[i] == '{') {
            max = ++d > max ? d : max;
        } else if (p[i] == ']' || p[i] == '}') {
            d--;
        }
    }
    return max;
}

/* Parses a JSON line {"url","method","headers","body","id"}. Returns 0 or
   MP_EINPUT. */
static int line_json(fetch_line *l)
{
    json_error_t je;
    json_t *v;

    if (json_depth(l->raw, l->raw_len, FETCH_MAX_DEPTH) > FETCH_MAX_DEPTH)
        return line_bad(l, "%s", "JSON nested too deeply");
    l->root = json_loadb(l->raw, l->raw_len, 0, &je);
    if (!l->root)
        return line_bad(l, "bad JSON: %.100s", je.text);
    if (!json_is_object(l->root))
        return line_bad(l, "%s", "JSON line is not an object");
    l->id = json_object_get(l->root, "id");
    v = json_object_get(l->root, "url");
    if (!json_is_string(v))
        return line_bad(l, "%s", "\"url\" missing or not a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return line_bad(l, "%s", "URL contains a NUL byte");
    if (!(l->url = strdup(json_string_value(v))))
        return line_bad(l, "%s", "out of memory");
    if ((v = json_object_get(l->root, "method")) != NULL) {
        if (!json_is_string(v) || !fetch_method_name(json_string_value(v)))
            return line_bad(l, "unknown method \"%.40s\"",
                            json_is_string(v) ? json_string_value(v) : "?");
        strcpy(l->method, fetch_method_name(json_string_value(v)));
    }
    if ((v = json_object_get(l->root, "body")) != NULL) {
        if (!json_is_string(v))
            return line_bad(l, "%s", "\"body\" is not a string");
        l->body = json_string_value(v);
        l->body_len = json_string_length(v);
    }
    v = json_object_get(l->root, "headers");
    return v && !json_is_null(v) ? line_headers(l, v) : 0;
}

/* Parses the raw line (a URL or a JSON object) and checks the URL.
   Returns 0 or MP_EINPUT with l->why set. */
static int line_parse(fetch_line *l)
{
    const char *p = l->raw, *e = l->raw + l->raw_len;
    int rc;

    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    while (e > p &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    l->raw = p;
    l->raw_len = (size_t)(e - p);
    if (l->raw_len && p[0] == '{') {
        if ((rc = line_json(l)) != 0)
            return rc;
    } else {
        if (memchr(p, '\0', l->raw_len))
            return line_bad(l, "%s", "URL contains a NUL byte");
        if (!(l->url = strndup(p, l->raw_len)))
            return line_bad(l, "%s", "out of memory");
    }
    return line_check_url(l);
}

/* Frees what the line owns. */
static void line_free(fetch_line *l)
{
    for (size_t i = 0; i < l->n_hdr; i++)
        free(l->hdr[i]);
    free(l->hdr);
    free(l->url);
    json_decref(l->root);
}

int fetch_line_check(const char *raw, size_t n, char *why, size_t why_len)
{
    fetch_line l;
    int rc;

    memset(&l, 0, sizeof l);
    l.raw = raw;
    l.raw_len = n;
    rc = line_parse(&l);
    if (why && why_len)
        snprintf(why, why_len, "%s", rc ? l.why : "");
    line_free(&l);
    return rc;
}

/* ---- the transfer ------------------------------------------------------ */

/* One request as sent, its latest response and what the attempts gave. */
typedef struct fetch_run {
    mp_http_request req;
    mp_http_response resp;
    const char **hdrs; /* configuration's lines, then the line's */
    char *path;        /* body_dir/<line>.body */
    unsigned attempts;
    int err;
} fetch_run;

/* Returns the method the request uses. */
static const char *run_method(const fetch_line *l)
{
    if (l->method[0])
        return l->method;
    if (fetch_conf.method)
        return fetch_conf.method;
    return l->body || fetch_conf.has_data ? "POST" : "GET";
}

/* Builds r->req from the configuration and the line. Returns 0 or
   MP_ENOMEM. */
static int run_build(const fetch_line *l, fetch_run *r)
{
    mp_http_request *q = &r->req;
    size_t n = fetch_conf.n_headers + l->n_hdr;

    if (!(r->hdrs = calloc(n + 1, sizeof *r->hdrs)))
        return MP_ENOMEM;
    for (size_t i = 0; i < fetch_conf.n_headers; i++)
        r->hdrs[i] = fetch_conf.headers[i];
    for (size_t i = 0; i < l->n_hdr; i++)
        r->hdrs[fetch_conf.n_headers + i] = l->hdr[i];
    q->method = run_method(l);
    q->url = l->url;
    q->headers = r->hdrs;
    q->n_headers = n;
    q->body = l->body ? l->body : fetch_conf.has_data ? fetch_conf.data : NULL;
    q->body_len = l->body ? l->body_len : fetch_conf.data_len;
    q->timeout_ms = fetch_conf.timeout_ms;
    q->connect_timeout_ms = fetch_conf.connect_timeout_ms;
    q->follow_redirects = fetch_conf.follow;
    q->max_redirects = fetch_conf.max_redirs ? fetch_conf.max_redirs
                                             : MP_HTTP_NO_REDIRECTS;
    q->compressed = fetch_conf.compressed;
    q->engine = fetch_conf.engine;
    q->insecure = fetch_conf.insecure;
    q->http1 = fetch_conf.http1;
    q->cafile = fetch_conf.cacert;
    q->proxy = fetch_conf.proxy;
    q->noproxy = fetch_conf.noproxy;
    q->proxy_insecure = fetch_conf.proxy_insecure;
    q->proxy_cafile = fetch_conf.proxy_cacert;
    q->max_body = fetch_conf.max_body;
    q->speed_limit = fetch_conf.speed_limit;
    q->speed_time_s = fetch_conf.speed_time;
    q->want_headers = fetch_conf.include_headers || fetch_conf.retries > 0;
    q->no_body = fetch_conf.body == FETCH_BODY_NONE;
    if (fetch_conf.body == FETCH_BODY_DIR) {
        if (asprintf(&r->path, "%s/%llu.body", fetch_conf.body_dir,
                     (unsigned long long)l->no) < 0) {
            r->path = NULL;
            return MP_ENOMEM;
        }
        q->body_path = r->path;
    }
    return 0;
}

/* Returns 1 if the latest attempt failed in a way worth another try. */
static int run_retryable(const fetch_run *r)
{
    long s = r->resp.status;

    if (r->err == MP_ECONNREFUSED || r->err == MP_ECONNRESET ||
        r->err == MP_ETIMEDOUT)
        return 1;
    return r->err == 0 && (s == 429 || s == 502 || s == 503 || s == 504);
}

/* Returns the wait a Retry-After value v[0..n) asks for, in ms: its
   delay-seconds, or its HTTP-date (any of the three forms HTTP allows, read
   by curl_getdate) less the time now, and 0 for a date in the past or a
   value that is neither. */
static uint64_t retry_after_ms(const char *v, size_t n)
{
    char date[64];
    struct timespec now;
    uint64_t sec = 0, at_ms, now_ms;
    time_t at;

    if (n && *v >= '0' && *v <= '9') {
        for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
            if (sec < 1000000)
                sec = sec * 10 + (uint64_t)(v[i] - '0');
        return sec * 1000;
    }
    if (n == 0 || n >= sizeof date)
        return 0;
    memcpy(date, v, n);
    date[n] = '\0';
    if ((at = curl_getdate(date, NULL)) <= 0 ||
        clock_gettime(CLOCK_REALTIME, &now) != 0)
        return 0;
    at_ms = (uint64_t)at * 1000;
    now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    return at_ms > now_ms ? at_ms - now_ms : 0;
}

/* Returns the Retry-After of the latest response in ms (see
   retry_after_ms), or 0 if it has none. */
static uint64_t run_retry_after(const fetch_run *r)
{
    const char *p = r->resp.headers, *end, *eol, *e;

    if (!p)
        return 0;
    for (end = p + r->resp.headers_len; p < end; p = eol ? eol + 1 : end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if ((size_t)(end - p) <= 12 || strncasecmp(p, "retry-after:", 12) != 0)
            continue;
        for (p += 12; p < end && (*p == ' ' || *p == '\t'); p++)
            ;
        for (e = eol ? eol : end; e > p && (e[-1] == '\r' || e[-1] == ' ' ||
                                             e[-1] == '\t');)
            e--;
        return retry_after_ms(p, (size_t)(e - p));
    }
    return 0;
}

/* Returns a pseudo-random 64-bit number (xorshift64*, seeded per
   process: workers are forks and must not share a sequence). */
static uint64_t run_random(void)
{
    static uint64_t state;
    static pid_t seeded;
    struct timespec ts;

    if (seeded != getpid()) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^
                (uint64_t)ts.tv_sec * 0x9E3779B97F4A7C15ull;
        state |= 1;
        seeded = getpid();
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
}

/* Returns the wait before retry number k (0-based): full jitter over the
   exponential step, at least Retry-After; everything capped at
   retry_max_ms. */
static unsigned run_delay(const fetch_run *r, unsigned k)
{
    uint64_t cap = fetch_conf.retry_max_ms, step = fetch_conf.retry_base_ms, ra, d;

    for (unsigned i = 0; i < k && step < cap; i++)
        step *= 2;
    if (step > cap)
        step = cap;
    d = step ? run_random() % (step + 1) : 0;
    ra = run_retry_after(r);
    if (ra > cap)
        ra = cap;
    return (unsigned)(d > ra ? d : ra);
}

/* Runs the attempts, sleeping between them. The last response stays in
   r->resp. */
static void run_attempts(mp_task *t, fetch_run *r)
{
    for (;;) {
        r->attempts++;
        r->err = mp_http(t, &r->req, &r->resp);
        if (r->attempts > fetch_conf.retries || !run_retryable(r))
            return;
        if (mp_sleep(t, run_delay(r, r->attempts - 1)) != 0)
            return; /* deadline or cancel: report the last attempt */
        mp_http_response_clear(&r->resp);
    }
}

/* ---- the record -------------------------------------------------------- */

/* Adds the field name: v[0..n) to o (see headers_object). Returns 0 or
   -1 (out of memory). */
static int header_put(json_t *o, const char *name, const char *v, size_t n)
{
    json_t *old = json_object_get(o, name), *s;
    char *joined;
    int rc;

    if (strcmp(name, "set-cookie") == 0) {
        if (!old && (!(old = json_array()) ||
                     json_object_set_new(o, name, old) != 0))
            return -1;
        return json_array_append_new(old, jstr_lossy(v, n));
    }
    if (!old)
        return json_object_set_new(o, name, jstr_lossy(v, n));
    if (asprintf(&joined, "%s, %.*s", json_string_value(old), (int)n, v) < 0)
        return -1;
    s = jstr_lossy(joined, strlen(joined));
    free(joined);
    rc = json_object_set_new(o, name, s);
    return rc;
}

/* Returns the response headers as an object of lower-cased names. A
   repeated field's values are joined with ", " (RFC 9110 5.3), but
   "set-cookie" is always an array of its values in order, one per field
   line (RFC 6265: Set-Cookie must not be folded; a cookie's Expires has a
   comma). The status line is skipped; trailer fields after the head's
   blank line are fields like the others. */
static json_t *headers_object(const char *b, size_t n)
{
    json_t *o = json_object();
    const char *p = b, *end = b + n;
    int first = 1;

    while (o && p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *c, *v;
        char name[128];

        if (le > p && le[-1] == '\r')
            le--;
        c = memchr(p, ':', (size_t)(le - p));
        if (!first && c && c > p && (size_t)(c - p) < sizeof name) {
            for (size_t i = 0; i < (size_t)(c - p); i++)
                name[i] =
                    (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
            name[c - p] = '\0';
            for (v = c + 1; v < le && (*v == ' ' || *v == '\t'); v++)
                ;
            while (le > v && (le[-1] == ' ' || le[-1] == '\t'))
                le--;
            if (header_put(o, name, v, (size_t)(le - v)) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        first = 0;
        p = eol ? eol + 1 : end;
    }
    return o;
}

/* Writes the body fields of the body mode. Drops a dir-mode file of a
   failed transfer. */
static void record_body(jw *w, fetch_run *r)
{
    const char *b = r->resp.body;
    size_t n = r->resp.body_len;

    if (fetch_conf.body == FETCH_BODY_DIR && r->path) {
        if (r->err == 0 && r->attempts) {
            JW_KEY(w, "body_file");
            jw_cstr(w, r->path);
        } else if (r->attempts) {
            unlink(r->path);
        }
    }
    if (r->err != 0 || !b)
        return;
    if (fetch_conf.body == FETCH_BODY_SHA256) {
        json_t *h = jstr_sha256(b, n);
        JW_KEY(w, "sha256");
        jw_json(w, h);
        json_decref(h);
    } else if (fetch_conf.body == FETCH_BODY_INLINE) {
        int text = is_text(b, n);
        JW_KEY(w, "body");
        if (text) {
            jw_str(w, b, n);
        } else {
            json_t *b64 = jstr_base64(b, n);
            jw_json(w, b64);
            json_decref(b64);
        }
        JW_KEY(w, "body_encoding");
        jw_cstr(w, text ? "utf-8" : "base64");
    }
}

/* Writes the "time" object, in seconds. */
static void record_time(jw *w, const mp_http_response *s)
{
    JW_KEY(w, "time");
    jw_open(w);
    JW_KEY(w, "dns");
    jw_secs(w, s->t_dns_us);
    JW_KEY(w, "connect");
    jw_secs(w, s->t_connect_us);
    JW_KEY(w, "tls");
    jw_secs(w, s->t_tls_us);
    JW_KEY(w, "first_byte");
    jw_secs(w, s->t_first_byte_us);
    JW_KEY(w, "total");
    jw_secs(w, s->t_total_us);
    jw_close(w);
}

/* Writes the "error" member: null, or {"code","message"}. */
static void record_error(jw *w, int err, const char *msg)
{
    JW_KEY(w, "error");
    if (!err) {
        jw_null(w);
        return;
    }
    jw_open(w);
    JW_KEY(w, "code");
    jw_cstr(w, mp_err_name(err));
    JW_KEY(w, "message");
    jw_cstr(w, msg ? msg : mp_strerror(err));
    jw_close(w);
}

/* Returns the record's "bytes": the body's decoded size, or what came of
   it before a transfer failed, but 0 for MP_EFBIG, whose body is refused
   whole, however the limit was found passed (Content-Length, or the
   stream reaching it). */
static uint64_t record_bytes(const fetch_run *r)
{
    return r->err == MP_EFBIG ? 0 : (uint64_t)r->resp.body_len;
}

/* Writes the members of a transfer's outcome. */
static void record_result(jw *w, fetch_run *r)
{
    const mp_http_response *s = &r->resp;
    long v = s->http_version;

    if (s->final_url) {
        JW_KEY(w, "final_url");
        jw_cstr(w, s->final_url);
    }
    JW_KEY(w, "status");
    jw_int(w, s->status);
    JW_KEY(w, "ok");
    jw_bool(w, !r->err && s->status > 0 && s->status < 400);
    record_error(w, r->err, s->message);
    JW_KEY(w, "bytes");
    jw_int(w, (int64_t)record_bytes(r));
    JW_KEY(w, "attempts");
    jw_int(w, r->attempts);
    JW_KEY(w, "redirects");
    jw_int(w, s->redirects);
    JW_KEY(w, "http_version");
    jw_cstr(w, v == 10 ? "1.0" : v == 11 ? "1.1" : v == 20 ? "2"
               : v == 30 ? "3" : NULL);
    record_time(w, s);
    if (fetch_conf.include_headers && s->headers) { /* a head arrived */
        json_t *h = headers_object(s->headers, s->headers_len);
        JW_KEY(w, "headers");
        jw_json(w, h);
        json_decref(h);
    }
    record_body(w, r);
}

/* Writes the whole record of a line (err: the line's MP_EINPUT, or 0 for a
   transfer's outcome in r). */
static void record_build(jw *w, const fetch_line *l, fetch_run *r, int err)
{
    char msg[256];
    size_t n;

    jw_open(w);
    JW_KEY(w, "line");
    jw_int(w, (int64_t)l->no);
    if (l->id) {
        JW_KEY(w, "id");
        jw_json(w, l->id);
    }
    if (l->url) {
        JW_KEY(w, "url");
        jw_cstr(w, l->url);
    }
    if (!err) {
        JW_KEY(w, "method");
        jw_cstr(w, r->req.method);
        record_result(w, r);
        jw_close(w);
        return;
    }
    snprintf(msg, sizeof msg, "line %llu: %s", (unsigned long long)l->no,
             l->why[0] ? l->why : mp_strerror(err));
    JW_KEY(w, "status");
    jw_int(w, 0);
    JW_KEY(w, "ok");
    jw_bool(w, 0);
    record_error(w, err, msg);
    JW_KEY(w, "attempts");
    jw_int(w, 0);
    n = l->raw_len < FETCH_INPUT_SHOWN ? l->raw_len : FETCH_INPUT_SHOWN;
    while (n > 0 && n < l->raw_len &&
           ((unsigned char)l->raw[n] & 0xC0) == 0x80)
        n--; /* do not split a UTF-8 sequence */
    JW_KEY(w, "input");
    jw_str(w, l->raw, n);
    jw_close(w);
}

/*
 * Writes the fetch_out header and the record into the worker's reused
 * buffer and returns them with mp_return. A record too big to return (a
 * huge inline body) is replaced by one without the body that reports
 * MP_E2BIG. Returns 0 or the code of a failed mp_return.
 */
static int record_emit(mp_task *t, const fetch_line *l, fetch_run *r, int err)
{
    static jw w; /* one per worker: a task runs it without yielding */
    fetch_out out = {0};
    int rc;

    jw_set_binary(&w, fetch_conf.binary_records);
    jw_reset(&w, sizeof out);
    record_build(&w, l, r, err);
    out.line = l->no;
    out.total_us = r->resp.t_total_us;
    out.bytes = record_bytes(r);
    out.status = (int32_t)r->resp.status;
    out.error = err ? err : r->err;
    out.attempts = r->attempts;
    out.engine = err ? 0 : r->resp.engine;
    out.ok = !out.error && out.status > 0 && out.status < 400;
    if (w.oom)
        return mp_fail(t, MP_ENOMEM, "line %llu: out of memory",
                       (unsigned long long)l->no);
    memcpy(w.buf, &out, sizeof out);
    rc = mp_return(t, w.buf, w.len);
    if (w.cap > ((size_t)4 << 20)) { /* don't keep a huge body's buffer */
        free(w.buf);
        w = (jw){0};
    }
    if (rc == MP_E2BIG && !err && r->err == 0) {
        free(r->resp.body);
        free(r->resp.message);
        r->resp.body = NULL;
        r->err = MP_E2BIG;
        r->resp.message = strdup("record larger than MP_MAX_PAYLOAD; "
                                 "use body \"dir\" or \"sha256\"");
        return record_emit(t, l, r, 0);
    }
    return rc;
}

/* ---- the worker's configuration ---------------------------------------- */

fetch_cfg fetch_conf;
static int cfg_set;

/* Hands the configuration's "resolve" entries and "dns_servers" to
   libmpool for this worker. Returns 0 or -1 (refused). */
static int cfg_apply_dns(const fetch_cfg *c)
{
    if (c->resolve && mp_http_set_resolve(c->resolve, c->n_resolve) != 0)
        return -1;
    if (c->dns_servers && mp_http_set_dns_servers(c->dns_servers) != 0)
        return -1;
    return 0;
}

int fetch_init(const void *arg, size_t len)
{
    int rc = 0;

    fetch_config_free(&fetch_conf);
    cfg_set = 1;
    if (arg && len && (fetch_config_parse(arg, len, &fetch_conf) < 0 ||
                       cfg_apply_dns(&fetch_conf) < 0)) {
        fetch_config_free(&fetch_conf);
        rc = MP_EINVAL;
    }
    if (rc == 0 &&
        mp_http_set_limits(fetch_conf.total_conns, fetch_conf.per_host))
        rc = MP_EINVAL;
    return rc;
}

void fetch_conf_ensure(void)
{
    if (!cfg_set) {
        fetch_config_free(&fetch_conf);
        cfg_set = 1;
    }
}

/* ---- the task ---------------------------------------------------------- */

int fetch_task(mp_task *t, const void *in, size_t len)
{
    fetch_line l;
    fetch_run r;
    fetch_in hdr = {0};
    int err, rc;

    memset(&l, 0, sizeof l);
    memset(&r, 0, sizeof r);
    fetch_conf_ensure();
    if (in && len >= sizeof hdr) {
        memcpy(&hdr, in, sizeof hdr); /* in may be unaligned */
        l.raw = (const char *)in + sizeof hdr;
        l.raw_len = len - sizeof hdr;
        l.no = hdr.line;
        err = line_parse(&l);
    } else {
        l.raw = "";
        err = line_bad(&l, "%s", "task input shorter than fetch_in");
    }
    if (!err && (err = run_build(&l, &r)) == 0)
        run_attempts(t, &r);
    rc = record_emit(t, &l, &r, err == MP_EINPUT ? err : 0);
    if (err && err != MP_EINPUT && rc == 0)
        rc = mp_fail(t, err, "line %llu: %s", (unsigned long long)l.no,
                     mp_strerror(err));
    mp_http_response_clear(&r.resp);
    free(r.hdrs);
    free(r.path);
    line_free(&l);
    return rc;
}
