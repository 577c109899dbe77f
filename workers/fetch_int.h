/* The fetch task's internals (fetch.c), for its tests and fuzz target. */
#ifndef FETCH_INT_H
#define FETCH_INT_H

#include <stddef.h>

#include "fetch.h"


/* The worker's configuration, set by fetch_init (fetch.c). */
extern fetch_cfg fetch_conf;

/* Sets the defaults if fetch_init never ran (a pool without it). */
void fetch_conf_ensure(void);

/* Parses one raw input line raw[0..n) as the fetch task does (a URL, or a
   JSON object; the URL checked), without fetching and without reading or
   changing any state: for the fuzz target and tests. Returns 0, or
   MP_EINPUT with what is wrong written to why (at most why_len bytes,
   NUL-terminated; why may be NULL). */
int fetch_line_check(const char *raw, size_t n, char *why, size_t why_len);

/* Returns 1 if url is a plain http:// or https:// URL that curl's URL
   parser accepts for sure (a host name or dotted quad, a port, printable
   path characters), so the line needs no curl_url_set; 0 means "ask curl",
   not "bad". */
int fetch_url_plain(const char *url);

#endif
