/*
 * The fetch task's configuration (fetch_config.h for the keys): the JSON
 * object a front end builds (fetch_config_json: mpfetch's options) and
 * every worker parses once (fetch_config_parse, from fetch_init), written
 * and read in this one file; and the validators both sides apply.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#include "fetch_config.h"
#include "mpool.h"

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

/* The engines' names, by MP_HTTP_* code. */
static const char *const engine_names[] = {
    [MP_HTTP_AUTO] = "auto", [MP_HTTP_CURL] = "curl",
    [MP_HTTP_NATIVE] = "native"};

int fetch_engine_code(const char *name)
{
    for (int i = 0; i < (int)(sizeof engine_names / sizeof *engine_names); i++)
        if (strcmp(name, engine_names[i]) == 0)
            return i;
    return -1;
}

const char *fetch_engine_name(int code)
{
    if (code < 0 || code >= (int)(sizeof engine_names / sizeof *engine_names))
        return NULL;
    return engine_names[code];
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

void fetch_config_free(fetch_cfg *c)
{
    for (size_t i = 0; i < c->n_headers; i++)
        free((char *)c->headers[i]);
    free(c->headers);
    for (size_t i = 0; i < c->n_resolve; i++)
        free((char *)c->resolve[i]);
    free(c->resolve);
    free((char *)c->data);
    free((char *)c->cacert);
    free((char *)c->proxy_cacert);
    free((char *)c->proxy);
    free((char *)c->noproxy);
    free((char *)c->body_dir);
    free((char *)c->dns_servers);
    fetch_config_defaults(c);
}

void fetch_config_defaults(fetch_cfg *c)
{
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
static int cfg_str(json_t *o, const char *key, const char **out)
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

/* Reads "method", any case, as its canonical spelling. Returns 0 or -1
   (not a string, or not one of fetch_methods). */
static int cfg_method(json_t *o, fetch_cfg *c)
{
    json_t *v = json_object_get(o, "method");

    if (!v)
        return 0;
    if (!json_is_string(v) ||
        strlen(json_string_value(v)) != json_string_length(v))
        return -1;
    c->method = fetch_method_name(json_string_value(v));
    return c->method ? 0 : -1;
}

/* Reads the optional array of strings key into a malloc'd array of
   copies, *n of them; ok, when set, must accept each. Returns 0 or -1. */
static int cfg_strings(json_t *o, const char *key,
                       int (*ok)(const char *, size_t), const char ***out,
                       size_t *n)
{
    json_t *a = json_object_get(o, key), *v;
    size_t i;

    if (!a)
        return 0;
    if (!json_is_array(a) ||
        !(*out = calloc(json_array_size(a) + 1, sizeof(char *))))
        return -1;
    json_array_foreach (a, i, v) {
        if (!json_is_string(v) ||
            (ok && !ok(json_string_value(v), json_string_length(v))) ||
            !((*out)[i] = strdup(json_string_value(v))))
            return -1;
        *n = i + 1;
    }
    return 0;
}

/* Reads "headers": an array of "Name: value" strings. Returns 0 or -1. */
static int cfg_headers(json_t *o, fetch_cfg *c)
{
    return cfg_strings(o, "headers", fetch_header_ok, &c->headers,
                       &c->n_headers);
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
    char *d = malloc(n + 1);
    if (!d)
        return -1;
    memcpy(d, json_string_value(v), n + 1);
    c->data = d;
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
        "resolve", "dns_servers", "http1", "proxy_insecure",
        "proxy_cacert", "binary_records"};
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

/* Reads the optional "max_body" (bytes, FETCH_MAX_BODY at most). Returns
   0 or -1. */
static int cfg_max_body(json_t *o, fetch_cfg *c)
{
    json_t *v = json_object_get(o, "max_body");

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > (json_int_t)FETCH_MAX_BODY)
        return -1;
    if (json_integer_value(v) > 0)
        c->max_body = (size_t)json_integer_value(v);
    return 0;
}

/* Reads "resolve" (curl --resolve entries, an array of strings) and
   "dns_servers" (a string), which fetch_init hands to libmpool. Returns 0
   or -1. */
static int cfg_dns(json_t *o, fetch_cfg *c)
{
    json_t *d = json_object_get(o, "dns_servers");

    if (d && (!json_is_string(d) ||
              !(c->dns_servers = strdup(json_string_value(d)))))
        return -1;
    return cfg_strings(o, "resolve", NULL, &c->resolve, &c->n_resolve);
}

/* Fills c from the configuration object. Returns 0 or -1. */
static int cfg_parse(json_t *o, fetch_cfg *c)
{
    const json_int_t big = 0xffffffff;

    if (cfg_keys_known(o) < 0 || cfg_method(o, c) < 0 || cfg_headers(o, c) < 0 ||
        cfg_data(o, c) < 0 || cfg_str(o, "cacert", &c->cacert) ||
        cfg_str(o, "proxy_cacert", &c->proxy_cacert) ||
        cfg_str(o, "proxy", &c->proxy) || cfg_str(o, "noproxy", &c->noproxy) ||
        cfg_uint(o, "timeout_ms", big, &c->timeout_ms) < 0 ||
        cfg_uint(o, "connect_timeout_ms", big, &c->connect_timeout_ms) < 0 ||
        cfg_uint(o, "max_redirs", FETCH_MAX_REDIRS, &c->max_redirs) < 0 ||
        cfg_uint(o, "retries", FETCH_MAX_RETRIES, &c->retries) < 0 ||
        cfg_uint(o, "retry_base_ms", big, &c->retry_base_ms) < 0 ||
        cfg_uint(o, "retry_max_ms", big, &c->retry_max_ms) < 0 ||
        cfg_uint(o, "per_host", FETCH_MAX_PER_HOST, &c->per_host) < 0 ||
        cfg_uint(o, "total_conns", big, &c->total_conns) < 0 ||
        cfg_uint(o, "speed_limit", FETCH_MAX_SPEED_LIMIT, &c->speed_limit) < 0 ||
        cfg_uint(o, "speed_time", FETCH_MAX_SPEED_TIME, &c->speed_time) < 0 ||
        cfg_max_body(o, c) < 0 || cfg_engine(o, c) < 0 || cfg_bool(o, "follow", &c->follow) < 0 ||
        cfg_bool(o, "compressed", &c->compressed) < 0 ||
        cfg_bool(o, "insecure", &c->insecure) < 0 ||
        cfg_bool(o, "proxy_insecure", &c->proxy_insecure) < 0 ||
        cfg_bool(o, "http1", &c->http1) < 0 ||
        cfg_bool(o, "include_headers", &c->include_headers) < 0 ||
        cfg_bool(o, "binary_records", &c->binary_records) < 0 ||
        cfg_body(o, c) < 0 || cfg_dns(o, c) < 0)
        return -1;
    return 0;
}

int fetch_config_parse(const void *json, size_t len, fetch_cfg *c)
{
    /* NUL is allowed in "data" only (cfg_str refuses it elsewhere) */
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           NULL);
    int rc = 0;

    fetch_config_defaults(c);
    if (!json_is_object(o) || cfg_parse(o, c) < 0) {
        fetch_config_free(c);
        rc = -1;
    }
    json_decref(o);
    return rc;
}

/* ---- building ---------------------------------------------------------- */

/* Sets key to a JSON string made from n bytes of s. Returns 0, or -1 when
   s is not UTF-8 (jansson accepts only UTF-8 strings) or memory ran out. */
static int put_string(json_t *o, const char *key, const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (!v)
        return -1;
    return json_object_set_new(o, key, v);
}

/* Sets key to an array of the n strings a. Returns 0, or -1 with *bad the
   first one that is not UTF-8. */
static int put_strings(json_t *o, const char *key, const char **a, size_t n,
                       size_t *bad)
{
    json_t *arr = json_array();

    if (json_object_set_new(o, key, arr) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_string(a[i]);
        if (!v) {
            *bad = i;
            return -1;
        }
        json_array_append_new(arr, v);
    }
    return 0;
}

/* Returns the key of the first number of c past its bound (the
   FETCH_MAX_* the parser reads it with), or NULL. */
static const char *past_bound(const fetch_cfg *c)
{
    if (c->max_body > FETCH_MAX_BODY)
        return "max_body";
    if (c->retries > FETCH_MAX_RETRIES)
        return "retries";
    if (c->max_redirs > FETCH_MAX_REDIRS)
        return "max_redirs";
    if (c->per_host > FETCH_MAX_PER_HOST)
        return "per_host";
    if (c->speed_time > FETCH_MAX_SPEED_TIME)
        return "speed_time";
    return NULL; /* speed_limit: an unsigned holds no more */
}

/* Sets the number keys of c. */
static void put_numbers(json_t *o, const fetch_cfg *c)
{
    json_object_set_new(o, "timeout_ms", json_integer(c->timeout_ms));
    json_object_set_new(o, "connect_timeout_ms",
                        json_integer(c->connect_timeout_ms));
    json_object_set_new(o, "max_redirs", json_integer(c->max_redirs));
    json_object_set_new(o, "retries", json_integer(c->retries));
    json_object_set_new(o, "retry_base_ms", json_integer(c->retry_base_ms));
    json_object_set_new(o, "retry_max_ms", json_integer(c->retry_max_ms));
    json_object_set_new(o, "per_host", json_integer(c->per_host));
    json_object_set_new(o, "total_conns", json_integer(c->total_conns));
    json_object_set_new(o, "max_body", json_integer((json_int_t)c->max_body));
    json_object_set_new(o, "speed_limit", json_integer(c->speed_limit));
    json_object_set_new(o, "speed_time", json_integer(c->speed_time));
}

/* Sets the boolean keys of c, its body mode and its engine. */
static void put_flags(json_t *o, const fetch_cfg *c)
{
    json_object_set_new(o, "follow", json_boolean(c->follow));
    json_object_set_new(o, "compressed", json_boolean(c->compressed));
    json_object_set_new(o, "insecure", json_boolean(c->insecure));
    json_object_set_new(o, "proxy_insecure", json_boolean(c->proxy_insecure));
    json_object_set_new(o, "http1", json_boolean(c->http1));
    json_object_set_new(o, "include_headers",
                        json_boolean(c->include_headers));
    json_object_set_new(o, "binary_records",
                        json_boolean(c->binary_records));
    json_object_set_new(o, "body", json_string(fetch_body_name(c->body)));
    if (fetch_engine_name(c->engine))
        json_object_set_new(o, "engine",
                            json_string(fetch_engine_name(c->engine)));
}

/* Sets the text keys of c that are set, in the order *bad_key reports
   them. Returns 0, or -1 with *bad_key (and *bad_index) naming the first
   that is not UTF-8. */
static int put_texts(json_t *o, const fetch_cfg *c, const char **bad_key,
                     size_t *bad_index)
{
    const char *keys[] = {"proxy",    "noproxy",      "cacert",
                          "body_dir", "dns_servers",  "proxy_cacert"};
    const char *vals[] = {c->proxy,    c->noproxy,     c->cacert,
                          c->body_dir, c->dns_servers, c->proxy_cacert};

    *bad_key = "headers";
    if (put_strings(o, "headers", c->headers, c->n_headers, bad_index) < 0)
        return -1;
    *bad_key = "data";
    if (c->has_data && put_string(o, "data", c->data, c->data_len) < 0)
        return -1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        *bad_key = keys[i];
        if (vals[i] && put_string(o, keys[i], vals[i], strlen(vals[i])) < 0)
            return -1;
    }
    *bad_key = "resolve";
    if (c->n_resolve &&
        put_strings(o, "resolve", c->resolve, c->n_resolve, bad_index) < 0)
        return -1;
    *bad_key = NULL;
    return 0;
}

char *fetch_config_json(const fetch_cfg *c, const char **bad_key,
                        size_t *bad_index)
{
    char *text = NULL;
    json_t *o = json_object();

    *bad_key = NULL;
    *bad_index = 0;
    if (!o)
        return NULL;
    if (c->method) /* one of fetch_methods: ASCII */
        json_object_set_new(o, "method", json_string(c->method));
    *bad_key = past_bound(c); /* a number the parser would refuse */
    if (!*bad_key && put_texts(o, c, bad_key, bad_index) == 0) {
        put_numbers(o, c);
        put_flags(o, c);
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(o);
    return text;
}
