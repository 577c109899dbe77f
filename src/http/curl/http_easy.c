/*
 * One libcurl transfer's easy handle: the options set from the request,
 * the callbacks that check the response as it arrives, and what the
 * outcome means.
 *
 * Every failure becomes a kind of src/http/shared/http_fail.h (the engine-neutral
 * table that gives the MP_E* code): CURLcodes through code_map, refined by
 * kind_refine where curl's code alone does not say what happened, and our
 * own checks of the response (header limits, status code, Content-Length
 * with Transfer-Encoding, max_body) through the callbacks. The message says
 * which transfer failed and why (curl's error buffer, or our check's).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http/shared/http_decode.h" /* MP__DEC_ACCEPT */
#include "http/curl/http_easy.h"
#include "http/shared/http_fail.h"
#include "http/shared/http_int.h"
#include "mpool.h"

/*
 * The receive buffer of an https transfer (h2 may be chosen): it holds
 * libcurl 7.88's largest h2 head (DYN_H2_HEADERS, 128 KiB, plus the status
 * line and the blank line). With the default 16 KiB, curl's h2 hands a
 * larger head on in pieces (on_frame_recv copies what fits into the
 * stream's buffer, the rest stays in header_recvbuf), and cf_h2_recv then
 * clears the transfer's drain flag though the rest is pending (and
 * cf_h2_data_pending does not count it): the transfer waits for the
 * socket, which stays silent once the response is sent (a stall of
 * seconds, or until the timeout). And a head that arrives while another
 * stream reads is returned rest first, piece later ("Received HTTP/0.9
 * when not allowed"). One buffer that holds the whole head avoids both.
 */
#define HTTP_H2_BUFFER (133L << 10)
#define HTTP_H2_BODY_MAX ((size_t)32 << 10) /* see may_h2 */

/* ---- errors ------------------------------------------------------------ */

/* CURLcode -> failure kind (src/http/shared/http_fail.h gives the code). Some are
   refined by xfer_error (see there). Unlisted codes: MP__HF_OTHER. */
static const struct {
    CURLcode cc;
    mp__http_fail kind;
} code_map[] = {
    /* clang-format off */
    {CURLE_UNSUPPORTED_PROTOCOL, MP__HF_URL}, {CURLE_URL_MALFORMAT, MP__HF_URL},
    {CURLE_COULDNT_RESOLVE_PROXY, MP__HF_DNS},
    {CURLE_COULDNT_RESOLVE_HOST, MP__HF_DNS},
    {CURLE_COULDNT_CONNECT, MP__HF_REFUSED},
    {CURLE_OPERATION_TIMEDOUT, MP__HF_TIMEOUT},
    {CURLE_TOO_MANY_REDIRECTS, MP__HF_REDIRECTS},
    {CURLE_PARTIAL_FILE, MP__HF_CLOSED}, {CURLE_RECV_ERROR, MP__HF_CLOSED},
    {CURLE_SEND_ERROR, MP__HF_CLOSED}, {CURLE_GOT_NOTHING, MP__HF_CLOSED},
    {CURLE_WRITE_ERROR, MP__HF_WRITE}, {CURLE_FILESIZE_EXCEEDED, MP__HF_BODY_LIMIT},
    {CURLE_OUT_OF_MEMORY, MP__HF_NOMEM},
    {CURLE_WEIRD_SERVER_REPLY, MP__HF_PROTOCOL}, {CURLE_HTTP2, MP__HF_PROTOCOL},
    {CURLE_HTTP2_STREAM, MP__HF_PROTOCOL},
    {CURLE_BAD_CONTENT_ENCODING, MP__HF_ENCODING},
    {CURLE_SSL_CONNECT_ERROR, MP__HF_TLS},
    {CURLE_PEER_FAILED_VERIFICATION, MP__HF_TLS},
    {CURLE_SSL_ENGINE_NOTFOUND, MP__HF_TLS},
    {CURLE_SSL_ENGINE_SETFAILED, MP__HF_TLS},
    {CURLE_SSL_ENGINE_INITFAILED, MP__HF_TLS},
    {CURLE_SSL_CERTPROBLEM, MP__HF_TLS}, {CURLE_SSL_CIPHER, MP__HF_TLS},
    {CURLE_SSL_CACERT_BADFILE, MP__HF_TLS}, {CURLE_SSL_CRL_BADFILE, MP__HF_TLS},
    {CURLE_SSL_SHUTDOWN_FAILED, MP__HF_TLS}, {CURLE_SSL_ISSUER_ERROR, MP__HF_TLS},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, MP__HF_TLS},
    {CURLE_SSL_INVALIDCERTSTATUS, MP__HF_TLS}, {CURLE_SSL_CLIENTCERT, MP__HF_TLS},
    {CURLE_USE_SSL_FAILED, MP__HF_TLS},
    /* clang-format on */
};

/* Returns the failure kind of cc from code_map (MP__HF_OTHER if
   unlisted). */
static mp__http_fail kind_lookup(CURLcode cc)
{
    for (size_t i = 0; i < sizeof code_map / sizeof code_map[0]; i++)
        if (code_map[i].cc == cc)
            return code_map[i].kind;
    return MP__HF_OTHER;
}

/*
 * Refines curl's verdict where its code alone does not say what happened.
 * Returns the kind.
 */
static mp__http_fail kind_refine(mp__curl_xfer *x, mp__http_fail kind)
{
    long oserr = 0, status = 0;
    curl_off_t connected = 0;

    if (x->result != CURLE_OK &&
        curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &status) ==
            CURLE_OK &&
        (status < 200 || status > 299) && status != 0)
        return MP__HF_PROXY; /* curl 7.88 says CURLE_RECV_ERROR */
    switch (x->result) {
    case CURLE_COULDNT_CONNECT: /* refused, or timed out, or unreachable */
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr == ETIMEDOUT)
            return MP__HF_TIMEOUT;
        return oserr != 0 && oserr != ECONNREFUSED ? MP__HF_UNREACHABLE
                                                   : kind;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* A scheme we refused: the URL's (nothing connected) or a
           redirect's (the 3xx arrived). Otherwise the server's answer is
           not HTTP ("HTTP/0.9", an unparsable status line). */
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connected);
        return connected > 0 && (status < 300 || status > 399)
                   ? MP__HF_PROTOCOL
                   : kind;
    case CURLE_RECV_ERROR:
        /* With an OS error the connection broke; without one curl found
           the bytes it received invalid (a bad chunk size). */
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
        return oserr == 0 ? MP__HF_PROTOCOL : kind;
    case CURLE_OUT_OF_MEMORY:
        /* curl refuses a header line over CURL_MAX_HTTP_HEADER (100 KiB,
           our MP_HTTP_MAX_HEADER_LINE) with this code. */
        return !x->hdr_done ? MP__HF_PROTOCOL : kind;
    case CURLE_OPERATION_TIMEDOUT:
        return x->req->speed_limit || x->req->speed_time_s
                       ? strncmp(x->errbuf, "Operation too slow", 18) == 0
                             ? MP__HF_SLOW
                             : kind
                       : kind;
    case CURLE_WRITE_ERROR:
        /* Not our callbacks (x->wfail): curl's decoders found bytes past
           a compressed stream's end. */
        return x->req->compressed || x->has_te ? MP__HF_ENCODING : kind;
    default: return kind;
    }
}

/* Returns 1 if x failed in its https:// proxy's own TLS: the proxy
   applies, and no tunnel through it was answered (an http:// URL has
   none: its only TLS is the proxy's). Else 0. */
static int proxy_tls_failed(mp__curl_xfer *x)
{
    const char *px = mp__http_proxy_applies(x->req);
    long connect = 0;

    if (!px || strncasecmp(px, "https://", 8) != 0)
        return 0;
    if (strncasecmp(x->req->url, "https:", 6) != 0)
        return 1;
    return curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &connect) ==
               CURLE_OK &&
           connect == 0;
}

int mp__http_easy_error(mp__curl_xfer *x, mp_http_response *resp)
{
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
    const char *m = mp__http_method(x->req), *via;
    int u = MP__HTTP_URL_SHOWN;
    mp__http_fail kind;

    if (x->wfail == MP__HF_WRITE + 1)
        return mp__http_error(resp, mp__http_fail_code(MP__HF_WRITE),
                         "%s %.*s: write(%s): %s", m, u, x->req->url,
                         x->req->body_path, strerror(x->werrno));
    if (x->wfail)
        return mp__http_error(resp, mp__http_fail_code(x->wfail - 1), "%s %.*s: %s",
                         m, u, x->req->url, x->wmsg);
    if (x->result == CURLE_OK)
        return 0;
    kind = kind_refine(x, kind_lookup(x->result));
    if (kind == MP__HF_PROTOCOL && x->result == CURLE_OUT_OF_MEMORY)
        why = "a response header line is longer than the limit "
              "(MP_HTTP_MAX_HEADER_LINE, 100 KiB)";
    /* The proxy is not named: its URL may hold a password. */
    via = kind == MP__HF_PROXY || ((kind == MP__HF_DNS ||
                                    kind == MP__HF_REFUSED ||
                                    kind == MP__HF_TIMEOUT ||
                                    kind == MP__HF_UNREACHABLE) &&
                                   mp__http_proxy_applies(x->req))
              ? " (through the proxy)"
          : kind == MP__HF_TLS && proxy_tls_failed(x) ? " (the proxy's TLS)"
                                                      : "";
    return mp__http_error(resp, mp__http_fail_code(kind), "%s %.*s%s: %s", m,
                          u, x->req->url, via, why);
}

/* Records a failure found by a callback (the transfer is then aborted). */
static void xfer_wfail(mp__curl_xfer *x, mp__http_fail kind, const char *fmt,
                       ...) MP_PRINTF(3, 4);
static void xfer_wfail(mp__curl_xfer *x, mp__http_fail kind, const char *fmt,
                       ...)
{
    va_list ap;

    x->wfail = (int)kind + 1;
    va_start(ap, fmt);
    vsnprintf(x->wmsg, sizeof x->wmsg, fmt, ap);
    va_end(ap);
}

/* ---- curl callbacks (they never resume a task) -------------------------- */

/* Grows x->body to hold need bytes plus a NUL, doubling. Returns 0 or -1. */
static int body_reserve(mp__curl_xfer *x, size_t need)
{
    return mp__http_body_reserve(&x->body, &x->body_cap, need, x->max_body);
}

/*
 * Sizes the in-memory body from Content-Length before its first byte (not
 * with decoding: the header then counts encoded bytes). Returns 0, or -1
 * to abort: out of memory, or announced larger than max_body (x->wfail).
 */
static int body_first(mp__curl_xfer *x)
{
    curl_off_t clen = -1;

    if (x->req->compressed ||
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
                          &clen) != CURLE_OK ||
        clen <= 0)
        return 0;
    if ((uint64_t)clen > x->max_body) {
        xfer_wfail(x, MP__HF_BODY_LIMIT,
                   "Content-Length %lld is larger than max_body (%zu bytes)",
                   (long long)clen, x->max_body);
        return -1;
    }
    return body_reserve(x, (size_t)clen);
}

/*
 * CURLOPT_WRITEFUNCTION: stores, writes or counts body bytes. Aborts the
 * transfer (x->wfail says why) over max_body, in every mode and counting
 * decoded bytes (curl calls this after decoding: a gzip bomb stops at the
 * limit), or on a file write error. Returns n to go on, anything else to
 * abort.
 */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    mp__curl_xfer *x = ud;

    (void)size; /* always 1 */
    if (n > x->max_body - x->body_seen) { /* body_seen <= max_body */
        xfer_wfail(x, MP__HF_BODY_LIMIT,
                   "body larger than max_body (%zu bytes)", x->max_body);
        return 0;
    }
    x->body_seen += n;
    if (x->file) {
        errno = 0;
        if (fwrite(p, 1, n, x->file) == n)
            return n;
        x->wfail = MP__HF_WRITE + 1;
        x->werrno = errno ? errno : EIO;
        return 0;
    }
    if (x->req->no_body)
        return n;
    if ((!x->body_cap && body_first(x) < 0) ||
        body_reserve(x, x->body_len + n) < 0)
        return 0;
    memcpy(x->body + x->body_len, p, n);
    x->body_len += n;
    x->body[x->body_len] = '\0';
    return n;
}

/* Returns the version of a status line p[0..n) ("HTTP/1.1 200": 11,
   "HTTP/2 200": 20), 0 if it names none we know. */
static long version_of(const char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "HTTP/1.", 7) == 0)
        return p[7] == '0' ? 10 : p[7] == '1' ? 11 : 0;
    if (n >= 7 && p[6] == ' ' && (p[5] == '2' || p[5] == '3'))
        return (p[5] - '0') * 10;
    return 0;
}

/*
 * A HEAD whose HTTP/1.x head announces a body (Content-Length above 0, or
 * Transfer-Encoding): the connection is not kept. curl 7.88 keeps it even
 * when the body comes anyway (a common server bug): bytes past a HEAD's
 * head in the same read are dropped ("Excess found", transfer.c) without
 * closing, and bytes arriving later stay in the socket, which its
 * liveness check (cf_socket_conn_is_alive) takes for a live connection,
 * so the next request reads them as its response ("Received HTTP/0.9").
 * CURLOPT_FORBID_REUSE is read when the transfer is done (multi_done).
 */
static void head_body_guard(mp__curl_xfer *x)
{
    if (x->body_said && x->hdr_version >= 10 && x->hdr_version <= 11 &&
        strcasecmp(mp__http_method(x->req), "HEAD") == 0)
        curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L);
}

/*
 * Checks one header line of the latest response against the limits of
 * mpool.h and for what makes a response invalid: a status code outside
 * 100-599, Content-Length together with Transfer-Encoding. A status line
 * starts a new response (redirects, 1xx). Returns 0, or -1 after
 * xfer_wfail.
 */
static int header_check(mp__curl_xfer *x, const char *p, size_t n)
{
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', n);
        long code = sp && (size_t)(sp - p) + 4 <= n ? strtol(sp + 1, NULL, 10)
                                                    : 0;
        x->hdr_lines = x->hdr_bytes = 0;
        x->hdr_done = x->has_clen = x->has_te = x->body_said = 0;
        x->head_status = x->head_version = 0;
        x->hdr_code = code;
        x->hdr_version = version_of(p, n);
        if (code < 100 || code > 599) {
            xfer_wfail(x, MP__HF_PROTOCOL,
                       "status code %ld is outside 100-599", code);
            return -1;
        }
    } else if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        x->hdr_done = 1;
    } else {
        x->hdr_lines++;
        if (n > 15 && strncasecmp(p, "content-length:", 15) == 0) {
            x->has_clen = 1;
            x->body_said |= strspn(p + 15, " \t0\r\n") < n - 15;
        }
        if (n > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
            x->has_te = x->body_said = 1;
    }
    x->hdr_bytes += n;
    if (x->hdr_lines > MP_HTTP_MAX_HEADER_LINES) {
        xfer_wfail(x, MP__HF_PROTOCOL,
                   "more than %d header lines (MP_HTTP_MAX_HEADER_LINES)",
                   MP_HTTP_MAX_HEADER_LINES);
        return -1;
    }
    if (x->hdr_bytes > MP_HTTP_MAX_HEADER_BYTES) {
        xfer_wfail(x, MP__HF_PROTOCOL,
                   "header block larger than %zu bytes "
                   "(MP_HTTP_MAX_HEADER_BYTES)",
                   MP_HTTP_MAX_HEADER_BYTES);
        return -1;
    }
    if (x->hdr_done && x->has_clen && x->has_te) {
        xfer_wfail(x, MP__HF_PROTOCOL,
                   "both Content-Length and Transfer-Encoding in a response");
        return -1;
    }
    if (x->hdr_done && (x->hdr_code >= 200 || x->hdr_code == 101)) {
        x->head_status = x->hdr_code;
        x->head_version = x->hdr_version;
        head_body_guard(x);
    }
    return 0;
}

/*
 * CURLOPT_HEADERFUNCTION: checks each line (header_check) and, with
 * want_headers, keeps the header block of the latest response; a status
 * line starts a new one, so after redirects (and 1xx responses) only the
 * final response's block remains. Returns n, or 0 to abort.
 */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    mp__curl_xfer *x = ud;
    size_t cap;
    char *q;

    (void)size;
    if (n == 0)
        return 0;
    if (header_check(x, p, n) < 0)
        return 0;
    if (!x->req->want_headers)
        return n;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        x->hdr_len = 0;
    if (x->hdr_len + n + 1 > x->hdr_cap) {
        cap = x->hdr_cap ? x->hdr_cap : 1024;
        while (cap < x->hdr_len + n + 1)
            cap *= 2;
        if (!(q = realloc(x->hdr, cap)))
            return 0;
        x->hdr = q;
        x->hdr_cap = cap;
    }
    memcpy(x->hdr + x->hdr_len, p, n);
    x->hdr_len += n;
    x->hdr[x->hdr_len] = '\0';
    return n;
}
/* Sets the method and the request body. Returns a CURLcode. */
static CURLcode set_method(CURL *e, const mp_http_request *req)
{
    const char *m = mp__http_method(req);
    CURLcode rc = CURLE_OK;

    if (strcasecmp(m, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (req->body || strcasecmp(m, "POST") == 0) {
        /* The body stays valid: the task is suspended until the end. */
        rc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)(req->body ? req->body_len : 0));
        if (!rc)
            rc = curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                                  req->body ? (const char *)req->body : "");
    }
    /* POST is curl's own method with a body; GET without one is the
       default; anything else (GET with a body too) is named. */
    if (!rc && strcmp(m, "POST") != 0 && (req->body || strcmp(m, "GET") != 0))
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return rc;
}

int mp__http_easy_headers(mp__curl_xfer *x)
{
    const mp_http_request *req = x->req;
    int has_expect = 0;
    struct curl_slist *l;

    for (size_t i = 0; i < req->n_headers; i++) {
        if (!req->headers[i])
            continue;
        if (strncasecmp(req->headers[i], "Expect:", 7) == 0)
            has_expect = 1;
        if (!(l = curl_slist_append(x->headers, req->headers[i])))
            return -1;
        x->headers = l;
    }
    if (req->body && !has_expect) {
        if (!(l = curl_slist_append(x->headers, "Expect:")))
            return -1;
        x->headers = l;
    }
    return 0;
}

/*
 * Returns 1 if req may run over HTTP/2 on libcurl, else 0: not with
 * http1, and not with a request body over HTTP_H2_BODY_MAX (within the
 * first stream window of any server). libcurl 7.88's h2 upload does not
 * end when the server answers without reading the body (nginx's `return`,
 * Apache, lighttpd): over the 64 KiB window the rest of the body waits
 * for a WINDOW_UPDATE that never comes, and the transfer hangs until its
 * timeout (or fails, MP_EPROTO, where the server resets the stream), so
 * such a request speaks HTTP/1.1 on libcurl (README; the native engine
 * sends it over h2).
 */
static int may_h2(const mp_http_request *req)
{
    return !req->http1 && !(req->body && req->body_len > HTTP_H2_BODY_MAX);
}

/* Sets the options that do not depend on the request: protocol, signals,
   callbacks, the idle age (mp_http_set_idle). Returns a CURLcode. */
static CURLcode set_common(mp__curl_xfer *x)
{
    CURL *e = x->easy;
    int rc = 0; /* OR of CURLcodes: any failure makes it non-zero */
    unsigned max_idle, age_ms;

    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                           may_h2(x->req) ? (long)CURL_HTTP_VERSION_2TLS
                                          : (long)CURL_HTTP_VERSION_1_1);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "mpool/" MP_VERSION_STRING);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    /* a proxy's answer to CONNECT is no response of the request's */
    rc |= curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    mp__http_idle_get(&max_idle, &age_ms); /* max_idle: http_curl.c's */
    rc |= curl_easy_setopt(e, CURLOPT_MAXAGE_CONN,
                           (long)(age_ms + 999) / 1000);
    return rc ? CURLE_BAD_FUNCTION_ARGUMENT : CURLE_OK;
}

/* Sets CURLOPT_PROXY and CURLOPT_NOPROXY on every transfer, "" for none:
   with both set, curl reads neither from the environment (it would on
   every transfer). An https:// proxy's TLS takes proxy_insecure and
   proxy_cafile, never insecure and cafile (curl's --proxy-insecure and
   --proxy-cacert beside -k and --cacert). Returns a CURLcode. */
static CURLcode set_proxy(mp__curl_xfer *x)
{
    const mp_http_request *req = x->req;
    const char *proxy, *noproxy;
    int rc = 0; /* OR of CURLcodes */

    mp__http_proxy_get(req, &proxy, &noproxy);
    rc |= curl_easy_setopt(x->easy, CURLOPT_PROXY, proxy);
    rc |= curl_easy_setopt(x->easy, CURLOPT_NOPROXY, noproxy);
    if (req->proxy_insecure) {
        rc |= curl_easy_setopt(x->easy, CURLOPT_PROXY_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt(x->easy, CURLOPT_PROXY_SSL_VERIFYHOST, 0L);
    }
    if (req->proxy_cafile)
        rc |= curl_easy_setopt(x->easy, CURLOPT_PROXY_CAINFO,
                               req->proxy_cafile);
    return rc ? CURLE_BAD_FUNCTION_ARGUMENT : CURLE_OK;
}

int mp__http_easy_big_buffer(const mp_http_request *req)
{
    return may_h2(req) && strncasecmp(req->url, "https:", 6) == 0;
}

/* Sets the request's own options on x->easy. Returns a CURLcode. */
static CURLcode set_request(mp__curl_xfer *x)
{
    const mp_http_request *req = x->req;
    CURL *e = x->easy;
    int rc = 0; /* OR of CURLcodes */
    long ct = req->connect_timeout_ms ? (long)req->connect_timeout_ms
                                      : MP__HTTP_CONNECT_MS;

    rc |= curl_easy_setopt(e, CURLOPT_URL, req->url);
    rc |= set_method(e, req);
    if (x->headers)
        rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ct);
    if (req->follow_redirects) {
        rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        rc |= curl_easy_setopt(e, CURLOPT_MAXREDIRS,
                               (long)mp__http_max_redirects(req));
    }
    if (req->compressed)
        rc |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, MP__DEC_ACCEPT);
    if (req->insecure) {
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (req->cafile)
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO, req->cafile);
    if (mp__http_easy_big_buffer(req))
        rc |= curl_easy_setopt(e, CURLOPT_BUFFERSIZE, HTTP_H2_BUFFER);
    rc |= set_proxy(x);
    if (req->speed_limit || req->speed_time_s) {
        rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
                               req->speed_limit ? (long)req->speed_limit : 1L);
        rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                               req->speed_time_s ? (long)req->speed_time_s
                                                 : 30L);
    }
    return rc ? CURLE_BAD_FUNCTION_ARGUMENT : CURLE_OK;
}

/* Returns a CURLINFO_*_TIME_T value in microseconds (0 if unknown). */
static uint64_t info_us(CURL *e, CURLINFO what)
{
    curl_off_t v = 0;

    if (curl_easy_getinfo(e, what, &v) != CURLE_OK || v < 0)
        return 0;
    return (uint64_t)v;
}

void mp__http_easy_info(CURL *e, mp_http_response *resp)
{
    long v = 0;
    char *url = NULL;
    curl_off_t down = 0;

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v) == CURLE_OK)
        resp->http_version = v == CURL_HTTP_VERSION_1_0   ? 10
                             : v == CURL_HTTP_VERSION_1_1 ? 11
                             : v == CURL_HTTP_VERSION_2_0 ? 20
                             : v == CURL_HTTP_VERSION_3   ? 30
                                                          : 0;
    if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url)
        resp->final_url = strdup(url);
    if (curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &v) == CURLE_OK)
        resp->redirects = v > 0 ? (unsigned)v : 0;
    if (curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down) == CURLE_OK &&
        down > 0)
        resp->bytes_down = (uint64_t)down;
    resp->t_dns_us = info_us(e, CURLINFO_NAMELOOKUP_TIME_T);
    resp->t_connect_us = info_us(e, CURLINFO_CONNECT_TIME_T);
    resp->t_tls_us = info_us(e, CURLINFO_APPCONNECT_TIME_T);
    resp->t_first_byte_us = info_us(e, CURLINFO_STARTTRANSFER_TIME_T);
    resp->t_total_us = info_us(e, CURLINFO_TOTAL_TIME_T);
}

CURLcode mp__http_easy_options(mp__curl_xfer *x)
{
    CURLcode rc = set_common(x);

    return rc != CURLE_OK ? rc : set_request(x);
}

int mp__http_curl_knows_scheme(const char *s, size_t n)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    for (const char *const *p = v ? v->protocols : NULL; p && *p; p++)
        if (strlen(*p) == n && strncmp(*p, s, n) == 0)
            return 1;
    return 0;
}
