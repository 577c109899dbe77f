/*
 * SIGINT, SIGTERM and SIGHUP. The first SIGINT only raises a flag: the
 * reader stops pulling input and the ticker gives the requests in flight a
 * grace period before it cancels the pool. A second SIGINT, or SIGTERM or
 * SIGHUP (timeout(1), systemd, Slurm, a closed terminal: usually sent to
 * the whole process group, which the pool's processes ignore), cancels at
 * once from the handler (mp_pool_cancel is async-signal-safe). The handler does
 * nothing else: output is flushed by the main thread after
 * mp_pool_imap returns. SIGWINCH (the terminal's size changed) raises a
 * flag for the progress line; only the ticker thread takes it.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "mpfetch.h"

static volatile sig_atomic_t g_count;
static volatile sig_atomic_t g_winch; /* the terminal's size changed */
static mp_pool *_Atomic g_pool;

/* The handler: counts, and cancels from the second signal on. */
static void on_signal(int sig)
{
    int saved = errno;
    if ((sig == SIGTERM || sig == SIGHUP) && g_count < 2)
        g_count = 2;
    else if (g_count < 1000)
        g_count = g_count + 1;
    if (g_count >= 2) {
        mp_pool *p = atomic_load(&g_pool);
        if (p)
            mp_pool_cancel(p);
    }
    errno = saved;
}

/* SIGWINCH's handler: the ticker asks for the new size at its next tick. */
static void on_winch(int sig)
{
    (void)sig;
    g_winch = 1;
}

/* Installs the handlers and ignores SIGPIPE (a closed output is an EPIPE
   error to report, not death). Returns 0 or a negative errno. */
int mpf_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
        sigaction(SIGHUP, &sa, NULL))
        return -errno;
    sa.sa_handler = on_winch;
    if (sigaction(SIGWINCH, &sa, NULL))
        return -errno;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL))
        return -errno;
    return 0;
}

/* Sets the pool the handler cancels (NULL before destroying it). */
void mpf_signals_set_pool(mp_pool *p)
{
    atomic_store(&g_pool, p);
}

/* Returns how many interrupting signals arrived (SIGTERM and SIGHUP count
   2). */
int mpf_signals_count(void)
{
    return g_count;
}

/* Blocks (or unblocks) SIGINT, SIGTERM and SIGHUP in the calling thread,
   so a thread created meanwhile never runs the handler; with winch,
   SIGWINCH too. Returns 0 or a positive error number. */
static int mask(int how, int winch)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    if (winch)
        sigaddset(&s, SIGWINCH);
    return pthread_sigmask(how, &s, NULL);
}

/* Blocks the interrupting signals and SIGWINCH in the calling thread
   (the coordinator, before it starts the ticker). */
int mpf_signals_block(void)
{
    return mask(SIG_BLOCK, 1);
}

/* Unblocks the interrupting signals; SIGWINCH stays blocked, so the
   coordinator's waits inside the pool are never cut by a resize. */
int mpf_signals_unblock(void)
{
    return mask(SIG_UNBLOCK, 0);
}

/* Unblocks SIGWINCH in the calling thread (the ticker's: the only one
   that takes it). Returns 0 or a positive error number. */
int mpf_signals_winch_here(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGWINCH);
    return pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

/* Returns 1 once after SIGWINCH arrived (the size changed), else 0. */
int mpf_signals_take_winch(void)
{
    if (!g_winch)
        return 0;
    g_winch = 0;
    return 1;
}
