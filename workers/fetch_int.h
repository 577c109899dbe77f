/* Internals shared by the fetch task's files (fetch.c, fetch_config.c). */
#ifndef FETCH_INT_H
#define FETCH_INT_H

#include <stddef.h>

#include "fetch.h"

enum { FETCH_BODY_NONE, FETCH_BODY_INLINE, FETCH_BODY_SHA256, FETCH_BODY_DIR };

/* The worker's configuration (fetch_init). */
typedef struct fetch_cfg {
    char *method;
    char **headers;
    size_t n_headers;
    char *data;
    size_t data_len;
    int has_data;
    unsigned timeout_ms, connect_timeout_ms, max_redirs;
    int follow, compressed, insecure, include_headers;
    char *cacert;
    unsigned retries, retry_base_ms, retry_max_ms;
    unsigned per_host, total_conns;
    int body;
    char *body_dir;
    size_t max_body;
} fetch_cfg;


/* The worker's configuration, set by fetch_init. */
extern fetch_cfg fetch_conf;

/* Sets the defaults if fetch_init never ran (a pool without it). */
void fetch_conf_ensure(void);

/* Returns the canonical (upper-case) spelling of a known method, or
   NULL. */
const char *fetch_method_name(const char *m);

/* Returns 1 if a header line is acceptable: "Name: value" (or "Name;"),
   no CR, LF or NUL that would split it; else 0. */
int fetch_header_ok(const char *h, size_t n);

#endif
