# bench/lib.sh: measurement helpers for bench/run (sourced, not run).
#
# measure PREFIX CMD...  runs CMD once with stdout in PREFIX.out and stderr
# in PREFIX.err, and writes PREFIX.m, one line:
#   rc wall_s cpu_ms top_kb rss_kb srv_cpu_ms busy_ms
# rc: CMD's exit status; wall_s: elapsed (EPOCHREALTIME); cpu_ms: user+sys
# of CMD's whole process tree, orphans included (a cpuacct cgroup per run;
# without one, /usr/bin/time's U+S, which misses children nobody reaps);
# top_kb: /usr/bin/time's %M, peak RSS of CMD itself (and the children it
# reaped); rss_kb: peak RSS of the largest single process of the tree
# (max of top_kb and VmHWM sampled every 100 ms); srv_cpu_ms: CPU the
# server (SRV_PIDS_FILE's master and its children) used meanwhile; busy_ms:
# CPU the whole machine used meanwhile (/proc/stat).

CG_ROOT=/sys/fs/cgroup/cpuacct
CG_SEQ=0
CG_OK=0
SRV_MASTER_FILE=${SRV_MASTER_FILE:-}
TICK_MS=$((1000 / $(getconf CLK_TCK)))

# Sets CG_OK=1 if a cpuacct cgroup can be made here (root, cgroup v1).
cg_probe() {
    local d=$CG_ROOT/mpbench.$$.probe
    if [[ -w $CG_ROOT ]] && mkdir "$d" 2>/dev/null; then
        [[ -r $d/cpuacct.usage_user ]] && CG_OK=1
        rmdir "$d"
    fi
}

# Prints the busy CPU time of the machine so far, in ms.
busy_ms() {
    local cpu user nice sys idle iow irq sirq steal rest
    read -r cpu user nice sys idle iow irq sirq steal rest </proc/stat
    echo $(((user + nice + sys + irq + sirq + steal) * TICK_MS))
}

# Prints the CPU time (ms) of the server's master and its children so far;
# 0 without a server.
srv_cpu_ms() {
    local m pids p f t=0
    [[ -n $SRV_MASTER_FILE && -r $SRV_MASTER_FILE ]] || { echo 0; return; }
    m=$(<"$SRV_MASTER_FILE")
    pids="$m $(cat /proc/"$m"/task/*/children 2>/dev/null)"
    for p in $pids; do
        [[ -r /proc/$p/stat ]] || continue
        read -r f </proc/"$p"/stat 2>/dev/null || continue
        f=${f##*) }            # fields from 3 (state) on
        set -- $f
        t=$((t + ${12} + ${13})) # utime, stime (fields 14, 15)
    done
    echo $((t * TICK_MS))
}

# Samples the largest VmHWM (kB) among the processes of cgroup $1 every
# 100 ms into file $2 until killed.
rss_sampler() {
    local cg=$1 out=$2 max=0 p k v
    echo 0 >"$out"
    while :; do
        {
            while read -r p; do
                while read -r k v _; do
                    if [[ $k == VmHWM: ]]; then
                        ((v > max)) && { max=$v; echo "$max" >"$out"; }
                        break
                    fi
                done </proc/"$p"/status
            done <"$cg/cgroup.procs"
        } 2>/dev/null || true
        sleep 0.1
    done
}

measure() {
    local pre=$1 cg="" rc=0 t0 t1 b0 b1 s0 s1 pid spid cpu i
    shift
    b0=$(busy_ms)
    s0=$(srv_cpu_ms)
    if ((CG_OK)); then
        cg=$CG_ROOT/mpbench.$$.$((++CG_SEQ))
        mkdir "$cg"
        rss_sampler "$cg" "$pre.hwm" &
        spid=$!
    fi
    t0=$EPOCHREALTIME
    (
        [[ -n $cg ]] && echo "$BASHPID" >"$cg/cgroup.procs"
        exec /usr/bin/time -f '%e %U %S %M' -o "$pre.time" "$@" \
            >"$pre.out" 2>"$pre.err" </dev/null
    ) &
    pid=$!
    wait "$pid" || rc=$?
    t1=$EPOCHREALTIME
    if [[ -n $cg ]]; then
        # Workers may outlive the command by a moment: wait (5 s at most).
        for ((i = 0; i < 100; i++)); do
            [[ -z $(<"$cg/cgroup.procs") ]] && break
            sleep 0.05
        done
        kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
        cpu=$((($(<"$cg/cpuacct.usage_user") + $(<"$cg/cpuacct.usage_sys")) / 1000000))
        rmdir "$cg" 2>/dev/null || true
    fi
    b1=$(busy_ms)
    s1=$(srv_cpu_ms)
    local e u s m hwm=0
    read -r e u s m <"$pre.time" 2>/dev/null || { u=0 s=0 m=0; }
    [[ $u =~ ^[0-9.]+$ ]] || { u=0 s=0 m=0; } # "Command exited with..."
    [[ -n $cg ]] || cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%d", (u+s)*1000}')
    [[ -r $pre.hwm ]] && hwm=$(<"$pre.hwm")
    ((hwm > m)) || hwm=$m
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}' >"$pre.wall"
    echo "$rc $(<"$pre.wall") $cpu $m $hwm $((s1 - s0)) $((b1 - b0))" >"$pre.m"
}

# Waits (at most $1 s) until the machine is quiet: under 15 % of one core
# busy over a second, nginx idle. Prints the busy share it last saw.
wait_quiet() {
    local limit=$1 t=0 b0 b1 pct
    while :; do
        b0=$(busy_ms); sleep 1; b1=$(busy_ms)
        pct=$(((b1 - b0) / 10))
        if ((pct < 15 || t >= limit)); then
            echo "$pct"
            return
        fi
        t=$((t + 1))
    done
}

# Prints the CPU (% of one core) that PREFIX.m's run left to other
# processes: machine busy minus the command's tree minus the server.
other_load() { # PREFIX
    local rc wall cpu top rss srv busy
    read -r rc wall cpu top rss srv busy <"$1.m"
    awk -v w="$wall" -v c="$cpu" -v s="$srv" -v b="$busy" \
        'BEGIN{o = w > 0 ? (b - c - s) / w / 10 : 0; printf "%d", o < 0 ? 0 : o}'
}

# Like measure, but runs CMD again (RETRIES times at most, after waiting
# for quiet) while other processes took more than OTHER_MAX % of a core
# during the run (this machine is shared), until the epoch second
# RETRY_UNTIL. Sets TRIES to the runs it made.
measure_clean() { # PREFIX CMD...
    local pre=$1 i o
    for ((i = 0; ; i++)); do
        measure "$@"
        o=$(other_load "$pre")
        if ((o <= ${OTHER_MAX:-25} || i >= ${RETRIES:-2} ||
            ${EPOCHREALTIME%.*} > ${RETRY_UNTIL:-0})); then
            TRIES=$((i + 1))
            return
        fi
        wait_quiet "${ROUND_WAIT:-8}" >/dev/null
    done
}
