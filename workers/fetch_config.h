/*
 * The fetch task's configuration: a JSON object given as the pool's
 * init_arg (fetch_init, in fetch.h, is the pool's init function). This
 * file's unit owns the format both ways: fetch_config_parse reads it,
 * fetch_config_json writes it for a front end. Every key is optional:
 *   "method": "GET", "headers": ["Name: value", ...], "data": "body",
 *   "timeout_ms": 30000, "connect_timeout_ms": 10000,
 *   "follow": false, "max_redirs": 10, "compressed": false,
 *   "insecure": false, "cacert": "/path/ca.pem", "http1": false,
 *   "retries": 0, "retry_base_ms": 100, "retry_max_ms": 10000,
 *   "per_host": 0, "total_conns": 0,
 *   "body": "none" | "inline" | "sha256" | "dir", "body_dir": "/path",
 *   "include_headers": false, "max_body": 16777216 (every body mode),
 *   "speed_limit": 0 (bytes/s), "speed_time": 0 (seconds; see mp_http),
 *   "engine": "auto" | "curl" | "native" (mp_http_request.engine),
 *   "proxy": "host:port" ("" none), "noproxy": "a,b" (absent: the
 *   environment's, read once per worker; see mp_http_request),
 *   "proxy_insecure": false, "proxy_cacert": "/path/ca.pem" (an https://
 *   proxy's own certificate: mp_http_request.proxy_insecure, .proxy_cafile),
 *   "resolve": ["HOST:PORT:ADDR[,ADDR...]", ...] (mp_http_set_resolve),
 *   "dns_servers": "ADDR[:PORT][,...]" (mp_http_set_dns_servers),
 *   "binary_records": false (true: each record in jsonw.h's binary form,
 *   for a reader on this machine that turns it into objects, the Python
 *   module; the same record, without the text to scan)
 */
#ifndef FETCH_CONFIG_H
#define FETCH_CONFIG_H

#include <stddef.h>

/*
 * Validation: the one set of rules for methods, headers and body modes.
 * The fetch task applies them to its configuration and to every JSON input
 * line; front ends (mpfetch's options) call the same functions, so a value
 * refused in a worker is refused on the command line too.
 */

/* Returns MP_HTTP_AUTO, MP_HTTP_CURL or MP_HTTP_NATIVE for an engine name
   ("auto", "curl", "native"), or -1. */
int fetch_engine_code(const char *name);

/* Returns the name of an MP_HTTP_* engine code, or NULL if it is none. */
const char *fetch_engine_name(int code);

/* The methods the task sends, canonical spelling, NULL-terminated. */
extern const char *const fetch_methods[];

/* Returns the canonical (upper-case) spelling of method m if it is one of
   fetch_methods (any case), else NULL. */
const char *fetch_method_name(const char *m);

/* Returns 1 if h[0..n) is an acceptable header line, else 0: "Name: value"
   or "Name;" (curl's way to send an empty header), Name one or more
   visible ASCII characters other than ':', and no CR, LF or NUL anywhere
   (they would split the request). */
int fetch_header_ok(const char *h, size_t n);

/* What the task does with a response body ("body" in the configuration). */
typedef enum fetch_body {
    FETCH_BODY_NONE,   /* "none": count the bytes, keep nothing */
    FETCH_BODY_INLINE, /* "inline": the body in the record */
    FETCH_BODY_SHA256, /* "sha256": its hex digest in the record */
    FETCH_BODY_DIR     /* "dir": one file per request under "body_dir" */
} fetch_body;

/* Returns the fetch_body named by the n bytes at name ("none", "inline",
   "sha256", "dir"), or -1 if there is no such mode. */
int fetch_body_mode(const char *name, size_t n);

/* Returns the name of mode (a fetch_body), or NULL if it is none. */
const char *fetch_body_name(int mode);

/* Returns 1 if dir suits mode, else 0: FETCH_BODY_DIR needs a non-empty
   directory path, every other mode takes none (dir NULL). */
int fetch_body_dir_ok(int mode, const char *dir);

/* The configuration as values. A parsed one (fetch_config_parse) owns its
   strings and arrays; one a front end fills to build the JSON from points
   at its own. */
typedef struct fetch_cfg {
    const char *method; /* canonical (fetch_methods); NULL: GET or POST */
    const char **headers;
    size_t n_headers;
    const char *data;
    size_t data_len;
    int has_data; /* data is set (it may be "") */
    unsigned timeout_ms, connect_timeout_ms, max_redirs;
    int follow, compressed, insecure, include_headers;
    int http1; /* HTTP/1.1 only (mp_http_request.http1) */
    int engine; /* MP_HTTP_AUTO, _CURL or _NATIVE */
    const char *cacert;
    const char *proxy, *noproxy; /* NULL: the environment's (mp_http_request) */
    int proxy_insecure;          /* an https:// proxy's certificate unchecked */
    const char *proxy_cacert;    /* CAs for it; NULL: the system's */
    unsigned retries, retry_base_ms, retry_max_ms;
    unsigned per_host, total_conns;
    int body;             /* fetch_body */
    const char *body_dir;
    size_t max_body;
    unsigned speed_limit, speed_time; /* bytes/s, seconds; 0: none */
    const char **resolve; /* "HOST:PORT:ADDR[,ADDR...]" (mp_http_set_resolve) */
    size_t n_resolve;
    const char *dns_servers; /* NULL: resolv.conf's (mp_http_set_dns_servers) */
    int binary_records; /* records in jsonw.h's binary form */
} fetch_cfg;

/*
 * The options' bounds: the one set that mpfetch's options, mpool's
 * keywords (module constants of mpool._mpool) and this configuration's
 * parser take, so a value one front end takes the other takes too, and a
 * worker reads it back. Front ends refuse a value past them under their
 * option's name; fetch_config_json refuses one in c by its key (bad_key),
 * fetch_config_parse the key in the JSON.
 */
/* The largest "max_body" (1 TiB). */
#define FETCH_MAX_BODY ((size_t)1 << 40)
#define FETCH_MAX_RETRIES 100       /* "retries" (--retries) */
#define FETCH_MAX_REDIRS 1000       /* "max_redirs" (--max-redirs) */
#define FETCH_MAX_PER_HOST 100000   /* "per_host" (--per-host) */
#define FETCH_MAX_SPEED_TIME 86400  /* "speed_time" (--speed-time), seconds */
#define FETCH_MAX_SPEED_LIMIT 0xffffffffu /* "speed_limit", bytes/s */
/* --timeout and --connect-timeout in seconds (ten days; front ends turn
   them into "timeout_ms" and "connect_timeout_ms"), and the least
   --connect-timeout (a millisecond; 0 would be no limit). */
#define FETCH_MAX_SECONDS 864000
#define FETCH_MIN_CONNECT_TIMEOUT 0.001

/* Sets c to the defaults, owning nothing: what an empty object parses to. */
void fetch_config_defaults(fetch_cfg *c);

/* Parses the JSON object json[0..len) into c, absent keys at their
   defaults, and creates the "body_dir" of body "dir". Unknown keys, wrong
   types, values out of range and duplicate keys fail. Returns 0 (c owns
   its strings then: fetch_config_free), or -1 with c at the defaults. */
int fetch_config_parse(const void *json, size_t len, fetch_cfg *c);

/* Frees what fetch_config_parse gave c and sets the defaults. */
void fetch_config_free(fetch_cfg *c);

/* Builds the JSON object that fetch_config_parse reads back as c (every
   key written). Returns a malloc'd compact JSON text, or NULL: then
   *bad_key names the first key whose text is not UTF-8 (JSON strings
   are), *bad_index the element for "headers" and "resolve", or is the
   key of a number past its bound ("max_body" above FETCH_MAX_BODY,
   "retries" above FETCH_MAX_RETRIES...), or *bad_key is NULL when
   memory ran out. */
char *fetch_config_json(const fetch_cfg *c, const char **bad_key,
                        size_t *bad_index);

#endif
