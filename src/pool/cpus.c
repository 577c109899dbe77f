/*
 * How many CPUs this process may use: the CPUs in its affinity mask
 * (taskset, Slurm's task binding, cpusets) capped by the CFS quota of its
 * cgroup and every ancestor (Slurm's --cpus-per-task with cgroups, a
 * Kubernetes CPU limit, docker --cpus). cgroup v2 (cpu.max) and v1
 * (cpu.cfs_quota_us / cpu.cfs_period_us) are both read.
 *
 * The cgroup file system is looked up under $MP_CGROUP_ROOT when it is set
 * (tests point it at a fake tree), else under /sys/fs/cgroup.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpool.h"

#define MP__CPUS_MAX 1024

/* Returns the CPUs in the affinity mask, or the online CPUs if the mask
   cannot be read. Always at least 1. */
static int affinity_cpus(void)
{
    for (size_t ncpu = 1024; ncpu <= 65536; ncpu *= 4) {
        cpu_set_t *set = CPU_ALLOC(ncpu);
        if (!set)
            break;
        size_t sz = CPU_ALLOC_SIZE(ncpu);
        int rc = sched_getaffinity(0, sz, set);
        int n = rc == 0 ? CPU_COUNT_S(sz, set) : 0;
        int err = errno;
        CPU_FREE(set);
        if (rc == 0)
            return n > 0 ? n : 1;
        if (err != EINVAL)
            break; /* EINVAL: the kernel's mask is larger, try again */
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > INT_MAX ? INT_MAX : n) : 1;
}

/* Reads up to cap-1 bytes of the file dir/name into buf. Returns 0, or -1
   if it cannot be read. */
static int read_small(const char *dir, const char *name, char *buf,
                      size_t cap)
{
    char path[PATH_MAX];
    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof(path))
        return -1;
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n ? 0 : -1;
}

/* CPUs a quota/period pair allows, rounded up; 0 for no limit. */
static int quota_cpus(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return 0;
    long long n = (quota + period - 1) / period;
    return n > MP__CPUS_MAX ? MP__CPUS_MAX : (int)n;
}

/* The limit in the cgroup directory dir (v2 cpu.max, else v1 files).
   Returns the CPUs allowed, or 0 for no limit or no files. */
static int dir_limit(const char *dir)
{
    char buf[128];
    long long quota = 0, period = 0;
    if (read_small(dir, "cpu.max", buf, sizeof(buf)) == 0) {
        if (strncmp(buf, "max", 3) == 0)
            return 0;
        if (sscanf(buf, "%lld %lld", &quota, &period) != 2)
            return 0;
        return quota_cpus(quota, period);
    }
    if (read_small(dir, "cpu.cfs_quota_us", buf, sizeof(buf)) != 0 ||
        sscanf(buf, "%lld", &quota) != 1)
        return 0;
    if (read_small(dir, "cpu.cfs_period_us", buf, sizeof(buf)) != 0 ||
        sscanf(buf, "%lld", &period) != 1)
        return 0;
    return quota_cpus(quota, period);
}

/*
 * The tightest limit on base + rel and each of its ancestors up to base
 * (a quota anywhere above us applies to us too). Returns the CPUs
 * allowed, or 0 for no limit.
 */
static int tree_limit(const char *base, const char *rel)
{
    char path[PATH_MAX];
    int best = 0;
    int n = snprintf(path, sizeof(path), "%s%s", base, rel);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    size_t stop = strlen(base);
    for (;;) {
        int lim = dir_limit(path);
        if (lim > 0 && (best == 0 || lim < best))
            best = lim;
        char *slash = strrchr(path, '/');
        if (!slash || (size_t)(slash - path) < stop)
            break;
        *slash = '\0';
    }
    return best;
}

/*
 * The CPU quota of our cgroups. /proc/self/cgroup names our cgroup: the v2
 * line "0::/path" and the v1 line whose controllers include "cpu" (when a
 * line is missing, as on a v2-only host or under a fake root, the top of
 * the tree is read). Returns the CPUs allowed, or 0 for no limit.
 */
static int cgroup_cpus(void)
{
    const char *root = getenv("MP_CGROUP_ROOT");
    if (!root || !*root)
        root = "/sys/fs/cgroup";
    char line[1024], v2[PATH_MAX] = "", v1[PATH_MAX] = "", base[PATH_MAX];
    FILE *f = fopen("/proc/self/cgroup", "re");
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || strlen(c2 + 1) >= sizeof(v2))
            continue;
        *c2 = '\0';
        const char *ctrl = c1 + 1, *rel = strcmp(c2 + 1, "/") ? c2 + 1 : "";
        if (strcmp(line, "0") == 0 && *ctrl == '\0')
            strcpy(v2, rel);
        else if (strcmp(ctrl, "cpu") == 0 || strncmp(ctrl, "cpu,", 4) == 0 ||
                 strstr(ctrl, ",cpu,") || strcmp(ctrl, "cpuacct,cpu") == 0)
            strcpy(v1, rel);
    }
    if (f)
        fclose(f);
    static const char *const v1dirs[] = {"cpu", "cpu,cpuacct"};
    int best = tree_limit(root, v2);
    for (size_t i = 0; i < 2; i++) {
        snprintf(base, sizeof(base), "%s/%s", root, v1dirs[i]);
        int lim = tree_limit(base, v1);
        if (lim > 0 && (best == 0 || lim < best))
            best = lim;
    }
    return best;
}

/* Returns the CPUs this process may use: the affinity mask capped by the
   cgroup CPU quota, rounded up, at least 1, at most 1024. */
int mp_cpus_available(void)
{
    int n = affinity_cpus();
    int q = cgroup_cpus();
    if (q > 0 && q < n)
        n = q;
    if (n > MP__CPUS_MAX)
        n = MP__CPUS_MAX;
    return n > 0 ? n : 1;
}
