/*
 * Stackful coroutines on mmap'd stacks with a guard page. Asymmetric: the
 * main context resumes a coroutine, the coroutine yields back to it. A fast
 * register switch on x86-64, glibc ucontext elsewhere; ASan fiber
 * annotations when built with AddressSanitizer.
 */
#ifndef MP_CORO_H
#define MP_CORO_H

#include <stddef.h>

typedef struct mp__coro mp__coro;
typedef void (*mp__coro_fn)(void *arg);

/* Creates a coroutine that will run fn(arg) on its own stack of at least
   stack_size bytes. fn must never return: it yields forever instead.
   Returns NULL if memory could not be mapped. */
mp__coro *mp__coro_create(size_t stack_size, mp__coro_fn fn, void *arg);

/* Switches from the main context into co. Returns when co yields. */
void mp__coro_resume(mp__coro *co);

/* Switches from inside co back to the main context that resumed it. */
void mp__coro_yield(mp__coro *co);

/* Unmaps the stack of a coroutine that is not running. */
void mp__coro_destroy(mp__coro *co);

/* The name of the switch in use ("asm-x86_64", "ucontext"). */
const char *mp__coro_backend(void);

#endif
