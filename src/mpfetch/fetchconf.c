/*
 * The fetch task's configuration from the command line: mpfetch's options
 * as a fetch_cfg, which the fetch task's own fetch_config_json turns into
 * the JSON object every worker gets as the pool's init argument (the
 * format is written and read in workers/fetch_config.c alone).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfetch.h"

/*
 * Turns a path given on the command line into an absolute one, so workers
 * find it whatever their directory. Returns a malloc'd path, or NULL.
 */
static char *absolute(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : strdup(path);
}

/* Says on stderr which option's text fetch_config_json refused (bad_key,
   bad_index: see there), or that memory ran out. */
static void say_bad(const mpf_config *cfg, const char *bad_key,
                    size_t bad_index)
{
    if (!bad_key)
        fputs("mpfetch: out of memory\n", stderr);
    else if (strcmp(bad_key, "headers") == 0)
        fprintf(stderr, "mpfetch: --header must be UTF-8 text, got "
                        "\"%s\"\n", cfg->headers[bad_index]);
    else if (strcmp(bad_key, "max_body") == 0) /* cmdline.c refuses it */
        fputs("mpfetch: --max-body must be at most 1T\n", stderr);
    else if (strcmp(bad_key, "data") == 0)
        fputs("mpfetch: --data must be UTF-8 text; binary bodies are not "
              "supported\n", stderr);
    else if (strcmp(bad_key, "cacert") == 0 ||
             strcmp(bad_key, "proxy_cacert") == 0 ||
             strcmp(bad_key, "body_dir") == 0)
        fprintf(stderr, "mpfetch: the path %s must be UTF-8 text\n",
                bad_key[0] == 'c'   ? cfg->cacert
                : bad_key[0] == 'p' ? cfg->proxy_cacert
                                    : cfg->body_dir);
    else if (strcmp(bad_key, "proxy") == 0 || strcmp(bad_key, "noproxy") == 0)
        /* --resolve and --dns-servers are ASCII */
        fputs("mpfetch: --proxy and --noproxy must be UTF-8 text\n", stderr);
    else /* a number past its FETCH_MAX_*: cmdline.c refuses it first */
        fprintf(stderr, "mpfetch: the option behind \"%s\" is past its "
                        "limit\n", bad_key);
}

/*
 * Builds the fetch task's configuration from cfg (fetch_config_json: the
 * format is the fetch task's). Returns a malloc'd compact JSON text, or
 * NULL after saying on stderr what is wrong.
 */
char *mpf_fetch_config_json(const mpf_config *cfg)
{
    fetch_cfg d;
    fetch_config_defaults(&d);
    char *cacert = cfg->cacert ? absolute(cfg->cacert) : NULL;
    char *body_dir = cfg->body_dir ? absolute(cfg->body_dir) : NULL;
    char *proxy_cacert = cfg->proxy_cacert ? absolute(cfg->proxy_cacert)
                                           : NULL;
    const char *bad_key = NULL;
    size_t bad_index = 0;
    char *text = NULL;
    fetch_cfg c = {
        .method = cfg->method,
        .headers = cfg->headers,
        .n_headers = cfg->n_headers,
        .data = cfg->data,
        .data_len = cfg->data_len,
        .has_data = cfg->data != NULL,
        .timeout_ms = fetch_ms(cfg->timeout_s),
        .connect_timeout_ms = fetch_ms(cfg->connect_timeout_s),
        .max_redirs = cfg->max_redirs >= 0 ? (unsigned)cfg->max_redirs
                                           : d.max_redirs,
        .follow = cfg->follow,
        .compressed = cfg->compressed,
        .insecure = cfg->insecure,
        .include_headers = cfg->include_headers,
        .http1 = cfg->http1,
        .engine = cfg->engine ? fetch_engine_code(cfg->engine) : d.engine,
        .cacert = cacert,
        .proxy = cfg->proxy,
        .noproxy = cfg->noproxy,
        .proxy_insecure = cfg->proxy_insecure,
        .proxy_cacert = proxy_cacert,
        .retries = (unsigned)cfg->retries,
        .retry_base_ms = d.retry_base_ms,
        .retry_max_ms = d.retry_max_ms,
        .per_host = (unsigned)cfg->per_host,
        .total_conns = d.total_conns,
        .body = cfg->body,
        .body_dir = body_dir,
        .max_body = cfg->max_body ? (size_t)cfg->max_body : d.max_body,
        .speed_limit = (unsigned)cfg->speed_limit,
        .speed_time = (unsigned)cfg->speed_time,
        .resolve = cfg->resolve,
        .n_resolve = cfg->n_resolve,
        .dns_servers = cfg->dns_servers};
    if ((!cfg->cacert || cacert) && (!cfg->body_dir || body_dir) &&
        (!cfg->proxy_cacert || proxy_cacert))
        text = fetch_config_json(&c, &bad_key, &bad_index);
    if (!text) /* bad_key NULL: out of memory */
        say_bad(cfg, bad_key, bad_index);
    free(cacert);
    free(body_dir);
    free(proxy_cacert);
    return text;
}

/* The pool's own deadline for one fetch task (fetch_task_timeout_ms, as
   mpool's). Returns milliseconds; 0 (none) for --timeout 0. */
unsigned mpf_task_timeout_ms(const mpf_config *cfg)
{
    return fetch_task_timeout_ms(cfg->timeout_s, cfg->connect_timeout_s,
                                 (unsigned)cfg->retries);
}
