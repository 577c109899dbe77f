/*
 * What can go wrong in an HTTP transfer, whatever engine ran it, and the
 * one MP_E* code each becomes. Every engine (libcurl in http_easy.c, the
 * native one) decides which kind a failure is and takes the code from
 * this table, so a record's error.code means the same thing on every
 * engine. README ("Records" -> error codes) and mpool.h (mp_http) show
 * this table.
 *
 * XX(KIND, code, "when")
 */
#ifndef MP_HTTP_FAIL_H
#define MP_HTTP_FAIL_H

#include "mpool.h"

#define MP__HTTP_FAIL_MAP(XX)                                               \
    XX(URL, MP_EURL, "URL malformed, or its scheme (or a redirect's) is "   \
                     "not http or https")                                   \
    XX(DNS, MP_EDNS, "host name did not resolve")                           \
    XX(REFUSED, MP_ECONNREFUSED, "connection refused")                      \
    XX(UNREACHABLE, MP_EHTTP, "connect failed otherwise (unreachable)")     \
    XX(TIMEOUT, MP_ETIMEDOUT, "connect timeout or whole-transfer timeout")  \
    XX(SLOW, MP_ESLOW, "below speed_limit bytes/s for speed_time_s")        \
    XX(TLS, MP_ETLS, "TLS handshake or certificate (name, trust) failed")   \
    XX(CLOSED, MP_ECONNRESET, "connection closed or reset before the "      \
                              "response was complete")                      \
    XX(PROTOCOL, MP_EPROTO, "response is not valid HTTP: not HTTP at all, " \
                            "bad status line or code, bad chunk, "          \
                            "Content-Length with Transfer-Encoding, "       \
                            "header limits exceeded")                       \
    XX(ENCODING, MP_EPROTO, "Content-Encoding could not be decoded")        \
    XX(PROXY, MP_EPROXY, "the proxy answered CONNECT with a status other " \
                         "than 2xx (407 authentication required, 502...)")  \
    XX(REDIRECTS, MP_EREDIRECT, "more redirects than max_redirects")        \
    XX(BODY_LIMIT, MP_EFBIG, "body longer than max_body (every body mode)") \
    XX(WRITE, MP_EIO, "writing body_path failed")                           \
    XX(NOMEM, MP_ENOMEM, "out of memory")                                   \
    XX(OTHER, MP_EHTTP, "anything else")

typedef enum mp__http_fail {
#define MP__XX(kind, code, when) MP__HF_##kind,
    MP__HTTP_FAIL_MAP(MP__XX)
#undef MP__XX
        MP__HF_COUNT
} mp__http_fail;

/* Returns the MP_E* code of a failure kind (MP_EHTTP for an unknown
   one). */
int mp__http_fail_code(mp__http_fail kind);

#endif
