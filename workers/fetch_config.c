/*
 * The fetch task's configuration: the JSON object mpfetch passes as the
 * pool's init argument, parsed once per worker by fetch_init (see
 * fetch.h for the keys). Unknown keys and wrong types fail the init.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#include "fetch_int.h"

fetch_cfg fetch_conf;
static int cfg_set;

const char *const fetch_methods[] = {"GET",    "HEAD",  "POST",   "PUT",
                                     "DELETE", "PATCH", "OPTIONS", NULL};

static const char *const body_names[] = {"none", "inline", "sha256", "dir"};

/* Returns the canonical spelling of method m (any case), or NULL. */
const char *fetch_method_name(const char *m)
{
    for (size_t i = 0; fetch_methods[i]; i++)
        if (strcasecmp(m, fetch_methods[i]) == 0)
            return fetch_methods[i];
    return NULL;
}

int fetch_engine_code(const char *name)
{
    return strcmp(name, "auto") == 0     ? MP_HTTP_AUTO
           : strcmp(name, "curl") == 0   ? MP_HTTP_CURL
           : strcmp(name, "native") == 0 ? MP_HTTP_NATIVE
                                         : -1;
}

/* Returns 1 for "Name: value" or "Name;" with a visible-ASCII name and no
   CR, LF or NUL, else 0 (see fetch.h). */
int fetch_header_ok(const char *h, size_t n)
{
    const unsigned char *u = (const unsigned char *)h;
    size_t k = 0; /* length of the name */

    while (k < n && u[k] > ' ' && u[k] < 0x7f && u[k] != ':')
        k++;
    if (k == 0 || memchr(h, '\r', n) || memchr(h, '\n', n) ||
        memchr(h, '\0', n))
        return 0;
    if (k == n) /* "Name;" */
        return n >= 2 && h[n - 1] == ';';
    return h[k] == ':';
}

/* Returns the fetch_body named by name[0..n), or -1. */
int fetch_body_mode(const char *name, size_t n)
{
    for (int i = 0; i < (int)(sizeof body_names / sizeof body_names[0]); i++)
        if (strlen(body_names[i]) == n && memcmp(name, body_names[i], n) == 0)
            return i;
    return -1;
}

/* Returns mode's name, or NULL. */
const char *fetch_body_name(int mode)
{
    if (mode < 0 || mode >= (int)(sizeof body_names / sizeof body_names[0]))
        return NULL;
    return body_names[mode];
}

/* Returns 1 if dir suits mode (a path for "dir", none otherwise). */
int fetch_body_dir_ok(int mode, const char *dir)
{
    if (mode == FETCH_BODY_DIR)
        return dir && dir[0];
    return !dir && fetch_body_name(mode) != NULL;
}

/* ---- configuration ----------------------------------------------------- */

/* Frees the configuration's strings and sets the defaults. */
static void cfg_reset(fetch_cfg *c)
{
    free(c->method);
    for (size_t i = 0; i < c->n_headers; i++)
        free(c->headers[i]);
    free(c->headers);
    free(c->data);
    free(c->cacert);
    free(c->proxy);
    free(c->noproxy);
    free(c->body_dir);
    memset(c, 0, sizeof *c);
    c->timeout_ms = 30000;
    c->connect_timeout_ms = 10000;
    c->max_redirs = 10;
    c->retry_base_ms = 100;
    c->retry_max_ms = 10000;
    c->max_body = (size_t)16 << 20;
}

/* Reads an optional non-negative integer key no larger than max. Returns 0
   (absent or stored) or -1 (wrong type or range). */
static int cfg_uint(json_t *o, const char *key, json_int_t max, unsigned *out)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > max)
        return -1;
    *out = (unsigned)json_integer_value(v);
    return 0;
}

/* Reads an optional boolean key. Returns 0 or -1 (not a boolean). */
static int cfg_bool(json_t *o, const char *key, int *out)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

/* Reads an optional string key without NUL bytes into a malloc'd copy.
   Returns 0 or -1. */
static int cfg_str(json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (!json_is_string(v) ||
        strlen(json_string_value(v)) != json_string_length(v) ||
        !(*out = strdup(json_string_value(v))))
        return -1;
    return 0;
}

/* Reads "headers": an array of "Name: value" strings. Returns 0 or -1. */
static int cfg_headers(json_t *o, fetch_cfg *c)
{
    json_t *a = json_object_get(o, "headers"), *v;
    size_t i;

    if (!a)
        return 0;
    if (!json_is_array(a) ||
        !(c->headers = calloc(json_array_size(a) + 1, sizeof(char *))))
        return -1;
    json_array_foreach (a, i, v) {
        if (!json_is_string(v) ||
            !fetch_header_ok(json_string_value(v), json_string_length(v)) ||
            !(c->headers[i] = strdup(json_string_value(v))))
            return -1;
        c->n_headers = i + 1;
    }
    return 0;
}

/* Reads "body" and "body_dir" (creating the directory). Returns 0 or -1. */
static int cfg_body(json_t *o, fetch_cfg *c)
{
    json_t *v = json_object_get(o, "body");
    struct stat st;

    if (v && (!json_is_string(v) ||
              (c->body = fetch_body_mode(json_string_value(v),
                                         json_string_length(v))) < 0))
        return -1;
    if (cfg_str(o, "body_dir", &c->body_dir) < 0)
        return -1;
    if (c->body != FETCH_BODY_DIR)
        return 0;
    if (!fetch_body_dir_ok(c->body, c->body_dir))
        return -1;
    if (mkdir(c->body_dir, 0777) < 0 && errno != EEXIST)
        return -1;
    return stat(c->body_dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* Reads the optional "data" (the body of every request whose line has
   none) whole: NUL bytes included, its length from jansson. Returns 0 or
   -1. */
static int cfg_data(json_t *o, fetch_cfg *c)
{
    json_t *v = json_object_get(o, "data");
    size_t n;

    if (!v)
        return 0;
    if (!json_is_string(v))
        return -1;
    n = json_string_length(v);
    if (!(c->data = malloc(n + 1)))
        return -1;
    memcpy(c->data, json_string_value(v), n + 1);
    c->data_len = n;
    c->has_data = 1;
    return 0;
}

/* Returns 0 if every key of o is one the configuration knows, else -1. */
static int cfg_keys_known(json_t *o)
{
    /* clang-format off */
    static const char *const keys[] = {
        "method", "headers", "data", "timeout_ms", "connect_timeout_ms",
        "follow", "max_redirs", "compressed", "insecure", "cacert",
        "retries", "retry_base_ms", "retry_max_ms", "per_host",
        "total_conns", "body", "body_dir", "include_headers", "max_body",
        "speed_limit", "speed_time", "engine", "proxy", "noproxy",
        "resolve", "dns_servers", "http1"};
    /* clang-format on */
    const char *k;
    json_t *v;

    json_object_foreach (o, k, v) {
        size_t i = 0;
        while (i < sizeof keys / sizeof keys[0] && strcmp(k, keys[i]) != 0)
            i++;
        if (i == sizeof keys / sizeof keys[0])
            return -1;
    }
    return 0;
}

/* Reads the optional "engine": "auto", "curl" or "native". Returns 0 or
   -1. */
static int cfg_engine(json_t *o, fetch_cfg *c)
{
    json_t *v = json_object_get(o, "engine");
    int e;

    if (!v)
        return 0;
    if (!json_is_string(v) ||
        (e = fetch_engine_code(json_string_value(v))) < 0)
        return -1;
    c->engine = e;
    return 0;
}

/* Reads the optional "max_body" (bytes, 1 TiB at most). Returns 0 or -1. */
static int cfg_max_body(json_t *o, fetch_cfg *c)
{
    json_t *v = json_object_get(o, "max_body");

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > ((json_int_t)1 << 40))
        return -1;
    if (json_integer_value(v) > 0)
        c->max_body = (size_t)json_integer_value(v);
    return 0;
}

/* Fills c from the configuration object. Returns 0 or -1. */
static int cfg_parse(json_t *o, fetch_cfg *c)
{
    const json_int_t big = 0xffffffff;

    if (cfg_keys_known(o) < 0 || cfg_str(o, "method", &c->method) < 0 ||
        (c->method && !fetch_method_name(c->method)) || cfg_headers(o, c) < 0 ||
        cfg_data(o, c) < 0 || cfg_str(o, "cacert", &c->cacert) ||
        cfg_str(o, "proxy", &c->proxy) || cfg_str(o, "noproxy", &c->noproxy) ||
        cfg_uint(o, "timeout_ms", big, &c->timeout_ms) < 0 ||
        cfg_uint(o, "connect_timeout_ms", big, &c->connect_timeout_ms) < 0 ||
        cfg_uint(o, "max_redirs", big, &c->max_redirs) < 0 ||
        cfg_uint(o, "retries", 1000000, &c->retries) < 0 ||
        cfg_uint(o, "retry_base_ms", big, &c->retry_base_ms) < 0 ||
        cfg_uint(o, "retry_max_ms", big, &c->retry_max_ms) < 0 ||
        cfg_uint(o, "per_host", big, &c->per_host) < 0 ||
        cfg_uint(o, "total_conns", big, &c->total_conns) < 0 ||
        cfg_uint(o, "speed_limit", big, &c->speed_limit) < 0 ||
        cfg_uint(o, "speed_time", 86400, &c->speed_time) < 0 ||
        cfg_max_body(o, c) < 0 || cfg_engine(o, c) < 0 || cfg_bool(o, "follow", &c->follow) < 0 ||
        cfg_bool(o, "compressed", &c->compressed) < 0 ||
        cfg_bool(o, "insecure", &c->insecure) < 0 ||
        cfg_bool(o, "http1", &c->http1) < 0 ||
        cfg_bool(o, "include_headers", &c->include_headers) < 0 ||
        cfg_body(o, c) < 0)
        return -1;
    if (c->method)
        strcpy(c->method, fetch_method_name(c->method));
    return 0;
}

/* Hands "resolve" (curl --resolve entries) and "dns_servers" to libmpool
   for this worker. Returns 0 or -1 (malformed). */
static int cfg_dns(json_t *o)
{
    json_t *r = json_object_get(o, "resolve");
    json_t *d = json_object_get(o, "dns_servers");
    const char **e = NULL;
    size_t n = 0;
    int rc = 0;

    if (r) {
        if (!json_is_array(r) ||
            !(e = calloc(json_array_size(r) + 1, sizeof *e)))
            return -1;
        for (n = 0; n < json_array_size(r); n++)
            if (!(e[n] = json_string_value(json_array_get(r, n))))
                rc = -1;
        if (rc == 0 && mp_http_set_resolve(e, n) != 0)
            rc = -1;
        free(e);
    }
    if (rc == 0 && d &&
        (!json_is_string(d) ||
         mp_http_set_dns_servers(json_string_value(d)) != 0))
        rc = -1;
    return rc;
}

int fetch_init(const void *arg, size_t len)
{
    json_t *o = NULL;
    int rc = 0;

    cfg_reset(&fetch_conf);
    cfg_set = 1;
    if (arg && len) {
        /* NUL is allowed in "data" only (cfg_str refuses it elsewhere) */
        o = json_loadb(arg, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                       NULL);
        if (!json_is_object(o) || cfg_parse(o, &fetch_conf) < 0 ||
            cfg_dns(o) < 0) {
            cfg_reset(&fetch_conf);
            rc = MP_EINVAL;
        }
        json_decref(o);
    }
    if (rc == 0 && mp_http_set_limits(fetch_conf.total_conns, fetch_conf.per_host))
        rc = MP_EINVAL;
    return rc;
}

void fetch_conf_ensure(void)
{
    if (!cfg_set) {
        cfg_reset(&fetch_conf);
        cfg_set = 1;
    }
}
