/*
 * The fetch task's configuration (workers/fetch.h): a JSON object built
 * from the command line with jansson, handed to every worker as the pool's
 * init argument.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfetch.h"

/* Converts seconds to whole milliseconds, at least 1 when s > 0. Returns
   the milliseconds, capped at UINT_MAX. */
static unsigned to_ms(double s)
{
    double ms = s * 1000.0 + 0.5;
    if (ms >= (double)UINT_MAX)
        return UINT_MAX;
    return s > 0 && ms < 1 ? 1 : (unsigned)ms;
}

/* Sets key to a JSON string made from n bytes of s. Returns 0, or -1 when
   s is not UTF-8 (jansson accepts only UTF-8 strings). */
static int set_string(json_t *o, const char *key, const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (!v)
        return -1;
    return json_object_set_new(o, key, v);
}

/* Adds the request options (method, headers, data, redirects...). Returns
   0, or -1 after saying which value is not UTF-8. */
static int add_request(json_t *o, const mpf_config *cfg)
{
    if (cfg->method) /* one of fetch_methods: ASCII */
        json_object_set_new(o, "method", json_string(cfg->method));
    json_t *h = json_array();
    json_object_set_new(o, "headers", h);
    for (size_t i = 0; i < cfg->n_headers; i++) {
        json_t *v = json_string(cfg->headers[i]);
        if (!v) {
            fprintf(stderr, "mpfetch: --header must be UTF-8 text, got "
                            "\"%s\"\n", cfg->headers[i]);
            return -1;
        }
        json_array_append_new(h, v);
    }
    if (cfg->data && set_string(o, "data", cfg->data, cfg->data_len)) {
        fputs("mpfetch: --data must be UTF-8 text; binary bodies are not "
              "supported\n", stderr);
        return -1;
    }
    json_object_set_new(o, "follow", json_boolean(cfg->follow));
    if (cfg->max_redirs >= 0)
        json_object_set_new(o, "max_redirs", json_integer(cfg->max_redirs));
    json_object_set_new(o, "compressed", json_boolean(cfg->compressed));
    json_object_set_new(o, "insecure", json_boolean(cfg->insecure));
    if (cfg->http1)
        json_object_set_new(o, "http1", json_true());
    if (cfg->engine)
        json_object_set_new(o, "engine", json_string(cfg->engine));
    if ((cfg->proxy &&
         set_string(o, "proxy", cfg->proxy, strlen(cfg->proxy))) ||
        (cfg->noproxy &&
         set_string(o, "noproxy", cfg->noproxy, strlen(cfg->noproxy)))) {
        fputs("mpfetch: --proxy and --noproxy must be UTF-8 text\n", stderr);
        return -1;
    }
    if (cfg->n_resolve) { /* checked: ASCII */
        json_t *r = json_array();
        json_object_set_new(o, "resolve", r);
        for (size_t i = 0; i < cfg->n_resolve; i++)
            json_array_append_new(r, json_string(cfg->resolve[i]));
    }
    if (cfg->dns_servers) /* checked: ASCII */
        json_object_set_new(o, "dns_servers", json_string(cfg->dns_servers));
    return 0;
}

/*
 * Turns a path given on the command line into an absolute one, so workers
 * find it whatever their directory. Returns a malloc'd path, or NULL.
 */
static char *absolute(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : strdup(path);
}

/* Adds timeouts, retries, limits and what to do with bodies. Returns 0 or
   -1 when out of memory. */
static int add_transfer(json_t *o, const mpf_config *cfg)
{
    json_object_set_new(o, "timeout_ms",
                        json_integer(to_ms(cfg->timeout_s)));
    json_object_set_new(o, "connect_timeout_ms",
                        json_integer(to_ms(cfg->connect_timeout_s)));
    json_object_set_new(o, "retries", json_integer(cfg->retries));
    json_object_set_new(o, "per_host", json_integer(cfg->per_host));
    json_object_set_new(o, "body", json_string(fetch_body_name(cfg->body)));
    json_object_set_new(o, "include_headers",
                        json_boolean(cfg->include_headers));
    if (cfg->max_body)
        json_object_set_new(o, "max_body",
                            json_integer((json_int_t)cfg->max_body));
    if (cfg->speed_limit)
        json_object_set_new(o, "speed_limit",
                            json_integer((json_int_t)cfg->speed_limit));
    if (cfg->speed_time)
        json_object_set_new(o, "speed_time", json_integer(cfg->speed_time));
    const char *paths[2] = {cfg->cacert, cfg->body_dir};
    const char *keys[2] = {"cacert", "body_dir"};
    for (int i = 0; i < 2; i++) {
        if (!paths[i])
            continue;
        char *a = absolute(paths[i]);
        if (!a || set_string(o, keys[i], a, strlen(a))) {
            fprintf(stderr, "mpfetch: the path %s must be UTF-8 text\n",
                    paths[i]);
            free(a);
            return -1;
        }
        free(a);
    }
    return 0;
}

/*
 * Builds the fetch task's configuration from cfg. Returns a malloc'd
 * compact JSON text, or NULL after saying on stderr what is wrong.
 */
char *mpf_fetch_config_json(const mpf_config *cfg)
{
    char *text = NULL;
    json_t *o = json_object();
    if (!o)
        goto oom;
    if (add_request(o, cfg) || add_transfer(o, cfg))
        goto out;
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        goto oom;
out:
    json_decref(o);
    return text;
oom:
    fputs("mpfetch: out of memory\n", stderr);
    goto out;
}

/*
 * The pool's own deadline for one fetch task: a safety net well beyond what
 * the task's own timeouts, retries and backoff can take, so a task that
 * never finishes still gets a record. Returns milliseconds; 0 (none) when
 * --timeout 0 asked for no limit.
 */
unsigned mpf_task_timeout_ms(const mpf_config *cfg)
{
    if (cfg->timeout_s <= 0)
        return 0;
    double per_try = cfg->timeout_s + cfg->connect_timeout_s + 10.0;
    double s = per_try * (cfg->retries + 1) + 10.0;
    return to_ms(s);
}
