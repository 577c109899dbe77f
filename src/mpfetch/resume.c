/*
 * --resume's part that writes: the torn last record that the reader
 * (fetch_resume_load, workers/fetch_resume.h, which mpool's resume= reads
 * with too) found is cut away, so appending starts on a line boundary.
 */
#include <errno.h>
#include <unistd.h>

#include "mpfetch.h"

/* Cuts the torn record fetch_resume_load found (r) off the file open on
   fd, and leaves fd at the end, where appending starts. Returns 0, or a
   negative errno. */
int mpf_resume_cut(int fd, const fetch_resume_info *r)
{
    if (r->torn_bytes && ftruncate(fd, (off_t)r->keep) != 0)
        return -errno;
    return lseek(fd, 0, SEEK_END) < 0 ? -errno : 0;
}
