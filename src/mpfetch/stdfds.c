/*
 * Descriptors that would send records to the wrong place: standard
 * descriptors that are closed when mpfetch starts (the next open would take
 * their numbers: the pool's sockets, the output file) and an output that
 * is the input file itself (truncating it, or appending records that are
 * then read back as requests).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpfetch.h"

/* Opens /dev/null on each of fds 0-2 that is closed (as daemons do).
   Returns the mask of the ones that were closed (bit k: fd k). */
unsigned mpf_std_fds_fix(void)
{
    unsigned closed = 0;
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int n;
        do
            n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        while (n < 0 && errno == EINTR);
        if (n >= 0 && n != fd) { /* a lower one was closed too: later */
            dup2(n, fd);
            close(n);
        }
        closed |= 1u << fd;
    }
    return closed;
}

/* Complains in one sentence. Returns MPF_EXIT_USAGE. */
static int refuse(const char *what, const char *fix)
{
    fprintf(stderr, "mpfetch: %s; %s\n", what, fix);
    return MPF_EXIT_USAGE;
}

/* Refuses input from a closed stdin and records to a closed stdout.
   Returns 0, or MPF_EXIT_USAGE after saying why. */
int mpf_check_std_fds(const mpf_config *cfg, unsigned closed)
{
    int from_stdin = !cfg->n_urls &&
                     (!cfg->input || strcmp(cfg->input, "-") == 0);
    if ((closed & 1u) && from_stdin)
        return refuse("standard input is closed, so there is no input",
                      "give a FILE of URLs, or pipe them in");
    if ((closed & 2u) && !cfg->output)
        return refuse("standard output is closed, so the records would "
                      "be lost",
                      "give -o FILE, or run with stdout open");
    return 0;
}

int mpf_check_input(const mpf_config *cfg, int in_fd)
{
    struct stat st;
    if (fstat(in_fd, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, "mpfetch: the input %s is a directory; give a FILE of "
                    "URLs, or pipe them in\n", mpf_input_name(cfg));
    return MPF_EXIT_USAGE;
}

/* Refuses an output that is the input open on in_fd (same device and
   inode): a regular file, or a pipe (a FIFO, or "-o /dev/stdin" on a
   pipe), whose records would be read back as requests without end. A
   terminal or a socket may well be both. Returns 0, or MPF_EXIT_USAGE
   after saying why. */
int mpf_check_not_input(const mpf_config *cfg, int in_fd)
{
    struct stat in, out;
    if (fstat(in_fd, &in) != 0 ||
        !(S_ISREG(in.st_mode) || S_ISFIFO(in.st_mode)))
        return 0;
    if (cfg->output ? stat(cfg->output, &out) != 0 : fstat(1, &out) != 0)
        return 0; /* not there yet: not the input */
    if (in.st_dev != out.st_dev || in.st_ino != out.st_ino)
        return 0;
    const char *harm = S_ISFIFO(in.st_mode) ? "be read back as requests "
                                              "without end"
                       : cfg->output && !cfg->resume ? "destroy the URLs"
                                                     : "mix with the URLs";
    fprintf(stderr, "mpfetch: the output %s is the input %s %s; the "
                    "records would %s. Write them to another file\n",
            cfg->output ? cfg->output : "(stdout)",
            S_ISFIFO(in.st_mode) ? "pipe" : "file",
            cfg->n_urls ? "(the URL arguments)"
            : cfg->input && strcmp(cfg->input, "-") != 0 ? cfg->input
                                                         : "(stdin)",
            harm);
    return MPF_EXIT_USAGE;
}
