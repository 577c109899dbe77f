/*
 * Time, the one way the library reads and converts it: the monotonic clock
 * in nanoseconds (and microseconds), and milliseconds as a struct timeval for libevent.
 */
#ifndef MP_CLOCK_H
#define MP_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Returns the monotonic clock in nanoseconds. */
static inline uint64_t mp__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns the monotonic clock in microseconds (the records' times). */
static inline uint64_t mp__now_us(void)
{
    return mp__now_ns() / 1000u;
}

/* Returns ms milliseconds as a struct timeval. */
static inline struct timeval mp__ms_tv(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000),
                         (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

#endif
