/* Internals shared by the fetch task's files (fetch.c, fetch_config.c). */
#ifndef MP_FETCH_INT_H
#define MP_FETCH_INT_H

#include <stddef.h>

#include "fetch.h"

enum { BODY_NONE, BODY_INLINE, BODY_SHA256, BODY_DIR };

/* The worker's configuration (mp_fetch_init). */
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


/* The worker's configuration, set by mp_fetch_init. */
extern fetch_cfg mp__fetch_cfg;

/* Sets the defaults if mp_fetch_init never ran (a pool without it). */
void mp__fetch_cfg_ensure(void);

/* Returns the canonical (upper-case) spelling of a known method, or
   NULL. */
const char *mp__fetch_method(const char *m);

/* Returns 1 if a header line is acceptable: "Name: value" (or "Name;"),
   no CR, LF or NUL that would split it; else 0. */
int mp__fetch_header_ok(const char *h, size_t n);

#endif
