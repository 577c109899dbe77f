/*
 * Coroutines: see coro.h. The x86-64 switch saves the callee-saved
 * registers and the FPU/SSE control words on the old stack and pops them
 * from the new one: no syscall, unlike glibc's swapcontext, which calls
 * rt_sigprocmask on every switch (measured in bench/pool).
 */
#include "worker/coro.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MP_ASAN 1
#endif
#endif

#ifdef MP_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__x86_64__) && !defined(MP_CORO_UCONTEXT)
#define MP_CORO_ASM 1
#else
#include <ucontext.h>
#endif

struct mp__coro {
#ifdef MP_CORO_ASM
    void *sp;      /* saved stack pointer of the coroutine */
    void *main_sp; /* saved stack pointer of the main context */
#else
    ucontext_t ctx;
    ucontext_t main_ctx;
#endif
    mp__coro_fn fn;
    void *arg;
    char *map; /* guard page + stack */
    size_t map_len;
    char *stack; /* map + one page */
    size_t stack_len;
#ifdef MP_ASAN
    void *fake_stack;          /* ASan's fake stack of the coroutine */
    void *main_fake_stack;     /* ... of the main context while in co */
    const void *main_bottom;   /* the main stack, learned on entry */
    size_t main_size;
#endif
};

#ifdef MP_CORO_ASM
/* void mp__coro_switch(void **save_sp, void *load_sp) */
void mp__coro_switch(void **save_sp, void *load_sp);
void mp__coro_boot(void);
__asm__(".text\n"
        ".globl mp__coro_switch\n"
        ".hidden mp__coro_switch\n"
        ".type mp__coro_switch,@function\n"
        "mp__coro_switch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size mp__coro_switch,.-mp__coro_switch\n"
        /* First entry: r12 = the coroutine, r13 = its entry function. */
        ".globl mp__coro_boot\n"
        ".hidden mp__coro_boot\n"
        ".type mp__coro_boot,@function\n"
        "mp__coro_boot:\n"
        "  movq %r12, %rdi\n"
        "  andq $-16, %rsp\n"
        "  callq *%r13\n"
        "  ud2\n"
        ".size mp__coro_boot,.-mp__coro_boot\n");
#endif

/* Tells ASan that this context is about to leave for the stack
   [bottom, bottom+size); save receives the fake stack to restore. */
static inline void asan_leave(void **save, const void *bottom, size_t size)
{
#ifdef MP_ASAN
    __sanitizer_start_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
}

/* Tells ASan this context is running again; old_* receive the stack we
   came from. */
static inline void asan_arrive(void *fake, const void **old_bottom,
                               size_t *old_size)
{
#ifdef MP_ASAN
    __sanitizer_finish_switch_fiber(fake, old_bottom, old_size);
#else
    (void)fake, (void)old_bottom, (void)old_size;
#endif
}

/* The first frame of every coroutine. Never returns. */
static void coro_entry(mp__coro *co)
{
#ifdef MP_ASAN
    asan_arrive(NULL, &co->main_bottom, &co->main_size);
#endif
    co->fn(co->arg);
    abort(); /* fn must yield forever, never return */
}

#ifndef MP_CORO_ASM
static void coro_entry_uc(unsigned lo, unsigned hi)
{
    coro_entry((mp__coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

/* Lays out the first frame so the first switch lands in coro_entry.
   Returns 0, or -1 if the context could not be made. */
static int coro_prepare(mp__coro *co, char *stack, size_t size)
{
#ifdef MP_CORO_ASM
    uintptr_t top = ((uintptr_t)(stack + size)) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top - 8;
    sp[0] = 0x037F00001F80ull; /* mxcsr 0x1F80, x87 control word 0x037F */
    sp[1] = 0;                 /* r15 */
    sp[2] = 0;                 /* r14 */
    sp[3] = (uintptr_t)coro_entry; /* r13 */
    sp[4] = (uintptr_t)co;         /* r12 */
    sp[5] = 0;                     /* rbx */
    sp[6] = 0;                     /* rbp */
    sp[7] = (uintptr_t)mp__coro_boot; /* return address */
    co->sp = sp;
    return 0;
#else
    if (getcontext(&co->ctx) < 0)
        return -1;
    co->ctx.uc_stack.ss_sp = stack;
    co->ctx.uc_stack.ss_size = size;
    co->ctx.uc_link = NULL;
    uintptr_t p = (uintptr_t)co;
    makecontext(&co->ctx, (void (*)(void))coro_entry_uc, 2,
                (unsigned)(p & 0xffffffffu), (unsigned)(p >> 32));
    return 0;
#endif
}

mp__coro *mp__coro_create(size_t stack_size, mp__coro_fn fn, void *arg)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_size > SIZE_MAX / 2) /* would wrap below */
        return NULL;
    size_t size = (stack_size + page - 1) & ~(page - 1);
    if (size < 4 * page)
        size = 4 * page;
    mp__coro *co = calloc(1, sizeof(*co));
    if (!co)
        return NULL;
    co->map_len = size + page;
    co->map = mmap(NULL, co->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (co->map == MAP_FAILED)
        goto err_free;
    if (mprotect(co->map, page, PROT_NONE) < 0) /* the guard page */
        goto err_unmap;
    co->fn = fn;
    co->arg = arg;
    co->stack = co->map + page;
    co->stack_len = size;
    if (coro_prepare(co, co->map + page, size) < 0)
        goto err_unmap;
    return co;
err_unmap:
    munmap(co->map, co->map_len);
err_free:
    free(co);
    return NULL;
}

void mp__coro_resume(mp__coro *co)
{
#ifdef MP_ASAN
    asan_leave(&co->main_fake_stack, co->stack, co->stack_len);
#endif
#ifdef MP_CORO_ASM
    mp__coro_switch(&co->main_sp, co->sp);
#else
    swapcontext(&co->main_ctx, &co->ctx);
#endif
#ifdef MP_ASAN
    asan_arrive(co->main_fake_stack, NULL, NULL);
#endif
}

void mp__coro_yield(mp__coro *co)
{
#ifdef MP_ASAN
    asan_leave(&co->fake_stack, co->main_bottom, co->main_size);
#endif
#ifdef MP_CORO_ASM
    mp__coro_switch(&co->sp, co->main_sp);
#else
    swapcontext(&co->ctx, &co->main_ctx);
#endif
#ifdef MP_ASAN
    asan_arrive(co->fake_stack, &co->main_bottom, &co->main_size);
#endif
}

void mp__coro_destroy(mp__coro *co)
{
    if (!co)
        return;
    munmap(co->map, co->map_len);
    free(co);
}

const char *mp__coro_backend(void)
{
#ifdef MP_CORO_ASM
    return "asm-x86_64";
#else
    return "ucontext";
#endif
}
