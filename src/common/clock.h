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

/* Returns what is left of a budget of ms milliseconds that started at
   since_us (mp__now_us), at least 1 ms, as a struct timeval: a timer armed
   with it fires at the deadline, or at once when it has passed. */
static inline struct timeval mp__ms_left_tv(uint64_t ms, uint64_t since_us)
{
    uint64_t used = (mp__now_us() - since_us) / 1000;
    return mp__ms_tv(ms > used ? ms - used : 1);
}

#endif
