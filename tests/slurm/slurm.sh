#!/usr/bin/env bash
# The README's Slurm recipe on a real, one-node Slurm cluster: munged,
# slurmctld and slurmd from Debian's packages, started by hand (no
# systemd) from a generated slurm.conf in a temporary directory, loopback
# only. Submits the job-array script taken verbatim from README.md (4
# shards) against the bundled test server and checks that the union of
# the shard outputs has every input line exactly once; then submits a
# slower array, scancels it mid-run, resubmits the same script (it has
# --resume) and checks again.
#
# Usage: slurm.sh SOURCE_DIR MPFETCH MP_TESTSERVER
# Exit: 0 pass, 1 fail, 77 skipped (the scheduler cannot run here; the
# reason is printed). Every wait is bounded.
set -euo pipefail
src=$1 mpfetch=$(realpath "$2") testserver=$(realpath "$3")
SKIP=77

pids=() srv_pid="" w="" keep=0
log() { echo "slurm-test: $*" >&2; }
dump() {
  [ -n "$w" ] || return 0
  for f in "$w"/*.log "$w"/job*/mpfetch.*.log; do
    [ -s "$f" ] || continue
    echo "---- $f (last 15 lines)" >&2; tail -n 15 "$f" >&2
  done
}
skip() { trap - ERR; log "SKIPPED: $*"; dump; exit $SKIP; }
fail() { trap - ERR; log "FAILED: $*"; dump; exit 1; }
cleanup() {
  trap - ERR
  set +e
  if [ -n "$w" ] && [ -f "$w/slurm.conf" ]; then
    export SLURM_CONF=$w/slurm.conf
    if scancel --full --quiet -u "$(id -un)" 2>/dev/null; then
      for _ in $(seq 10); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
    fi
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
  [ -n "$w" ] && [ "$keep" = 0 ] && rm -rf "$w"
}
trap cleanup EXIT
# A command failing under set -e says where, instead of a silent exit 1.
set -E
trap 'log "FAILED: line $LINENO: $BASH_COMMAND"; dump' ERR

# waitfor SECONDS WHAT CMD...: polls CMD every 0.2 s; fails after SECONDS.
waitfor() {
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

# ---- can a scheduler run here at all? -------------------------------------
for b in munged mungekey slurmctld slurmd sbatch squeue scancel sinfo scontrol; do
  command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$b" >/dev/null 2>&1 ||
    skip "$b is not installed (Debian packages slurm-wlm and munge: scripts/deps.sh --slurm)"
done
export PATH=$PATH:/usr/sbin
[ "$(id -u)" = 0 ] || skip "slurmd must run as root to start jobs, and this test runs as $(id -un)"
[ -x "$mpfetch" ] || fail "mpfetch is not built: $mpfetch"
[ -x "$testserver" ] || fail "mp-testserver is not built: $testserver"

# The recipe, byte for byte from README.md: the ```sh block after the marker.
recipe=$(awk '/<!-- slurm-recipe:/ {m = 1; next}
              m == 1 && /^```sh$/ {m = 2; next}
              m == 2 && /^```$/ {exit}
              m == 2 {print}' "$src/README.md")
[ -n "$recipe" ] || fail "README.md has no slurm-recipe block"

w=$(mktemp -d /tmp/mp-slurm.XXXXXX)
chmod 0755 "$w" # slurmd and the jobs read it; munged wants no group/other write
printf '%s\n' "$recipe" > "$w/mpfetch-array.sh"
grep -q '^mpfetch ' "$w/mpfetch-array.sh" || fail "the recipe does not run mpfetch"

# Free TCP ports on loopback for slurmctld and slurmd, below the kernel's
# ephemeral range (other tests' connections and port-0 binds take those).
eph_lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$eph_lo" -gt 12000 ] || eph_lo=32768
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % (eph_lo - 10000)))
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
  done
  return 1
}
ctld_port=$(free_port) || skip "no free TCP port on loopback"
slurmd_port=$ctld_port
while [ "$slurmd_port" = "$ctld_port" ]; do
  slurmd_port=$(free_port) || skip "no free TCP port on loopback"
done
host=$(hostname -s)

# If this shell is killed outright (ctest's TIMEOUT sends SIGKILL, which
# runs no trap), a watchdog stops the daemons it started and the jobs.
(
  trap '' TERM INT HUP
  while kill -0 $$ 2>/dev/null; do sleep 1; done
  export SLURM_CONF=$w/slurm.conf
  if [ -f "$w/daemons" ] && scancel --full --quiet -u "$(id -un)"; then
    for _ in $(seq 10); do [ -z "$(squeue -h)" ] && break; sleep 1; done
  fi
  [ -f "$w/daemons" ] && xargs -r kill -9 < "$w/daemons" 2>/dev/null
  rm -rf "$w"
) >/dev/null 2>&1 &
started() { pids+=("$1"); echo "$1" >> "$w/daemons"; }

# ---- munge ------------------------------------------------------------------
mungekey -c -k "$w/munge.key" >/dev/null 2>&1 || skip "mungekey could not create a key"
munged -F --force --key-file="$w/munge.key" --socket="$w/munge.sock" \
  --pid-file="$w/munged.pid" --log-file="$w/munged.log" \
  --seed-file="$w/munged.seed" >"$w/munged.out.log" 2>&1 &
started $!
waitfor 10 munged test -S "$w/munge.sock" ||
  skip "munged did not start: $(tail -n 3 "$w/munged.log" "$w/munged.out.log" 2>/dev/null | tr '\n' ' ')"
munge -S "$w/munge.sock" -n 2>/dev/null | unmunge -S "$w/munge.sock" >/dev/null 2>&1 ||
  skip "munge cannot encode and decode a credential with its own daemon"

# ---- slurmctld and slurmd -----------------------------------------------------
mkdir -p "$w/state" "$w/spool"
cat > "$w/slurm.conf" <<EOF
ClusterName=mptest$$
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$w/munge.sock
CredType=cred/munge
StateSaveLocation=$w/state
SlurmdSpoolDir=$w/spool
SlurmctldPidFile=$w/slurmctld.pid
SlurmdPidFile=$w/slurmd.pid
SlurmctldLogFile=$w/slurmctld.log
SlurmdLogFile=$w/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=mp Nodes=$host Default=YES MaxTime=10 State=UP
EOF
export SLURM_CONF=$w/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$w/slurmctld.out.log" 2>&1 &
started $!
waitfor 20 slurmctld scontrol ping >/dev/null 2>&1 ||
  skip "slurmctld did not answer within 20 s: $(tail -n 3 "$w/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
slurmd -D -f "$SLURM_CONF" >"$w/slurmd.out.log" 2>&1 &
started $!
node_idle() { [ "$(sinfo -h -n "$host" -o %t 2>/dev/null)" = idle ]; }
waitfor 40 slurmd node_idle ||
  skip "slurmd did not register an idle node within 40 s (state: $(sinfo -h -n "$host" -o '%t %E' 2>/dev/null)): $(tail -n 3 "$w/slurmd.log" 2>/dev/null | tr '\n' ' ')"
log "slurm is up: slurmctld on 127.0.0.1:$ctld_port, node $host"

# ---- the test server ------------------------------------------------------------
coproc SRV { exec "$testserver" --host 127.0.0.1 --port 0 --procs 1 --exit-on-stdin-eof; }
srv_pid=$SRV_PID
read -r -t 10 word port <&"${SRV[0]}" || fail "mp-testserver did not start"
[ "$word" = PORT ] || fail "mp-testserver said '$word $port'"
export PATH=$(dirname "$mpfetch"):$PATH # the recipe runs `mpfetch`

# ---- helpers ------------------------------------------------------------------------
# submit DIR: the recipe as 4 shards of DIR/urls.txt. Prints the job id.
submit() {
  sbatch --parsable --array=0-3 --cpus-per-task=1 --chdir="$1" \
    "$w/mpfetch-array.sh" 2>"$w/sbatch.log" || fail "sbatch: $(cat "$w/sbatch.log")"
}
job_gone() { [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; }
records() { cat "$1"/results.*.jsonl 2>/dev/null | wc -l; }
# check_union DIR N: every line 1..N has exactly one record in DIR's shards.
check_union() {
  local dir=$1 n=$2 got dup
  got=$(cat "$dir"/results.*.jsonl | grep -o '^{"line":[0-9]*' | cut -d: -f2 | sort -n)
  dup=$(uniq -d <<<"$got" | head -n 3 | tr '\n' ' ')
  [ -z "$dup" ] || fail "$dir: lines with more than one record: $dup"
  [ "$(wc -l <<<"$got")" -eq "$n" ] && [ "$(head -n 1 <<<"$got")" = 1 ] &&
    [ "$(tail -n 1 <<<"$got")" = "$n" ] ||
    fail "$dir: $(wc -l <<<"$got") distinct lines have a record, want 1..$n"
  local shards notok
  shards=$(ls "$dir"/results.*.jsonl | wc -l)
  [ "$shards" -eq 4 ] || fail "$dir: $shards shard outputs, want 4"
  notok=$(cat "$dir"/results.*.jsonl | { grep -v '"ok":true' || true; } | head -n 2)
  [ -z "$notok" ] || fail "$dir: records that are not ok: $notok"
}
# exit_codes JOB: prints each array task's ExitCode.
exit_codes() { scontrol -o show job "$1" | grep -o 'ExitCode=[0-9:]*' | sort | uniq -c | tr '\n' ' '; }

# ---- 1: four shards, to the end --------------------------------------------------------
n1=2000
mkdir "$w/job1"
for ((i = 1; i <= n1; i++)); do echo "http://127.0.0.1:$port/bytes/64?i=$i"; done > "$w/job1/urls.txt"
jid=$(submit "$w/job1")
log "array $jid: 4 shards of $n1 lines"
waitfor 60 "array $jid" job_gone "$jid" || fail "array $jid still in the queue after 60 s: $(squeue -h -j "$jid")"
codes=$(exit_codes "$jid")
[ "$codes" = "      4 ExitCode=0:0 " ] || fail "array $jid: exit codes $codes"
check_union "$w/job1" "$n1"
log "array $jid: $n1 lines, each exactly once across the 4 shards"

# ---- 2: scancel mid-run, resubmit with --resume ---------------------------------------
n2=4000
mkdir "$w/job2"
for ((i = 1; i <= n2; i++)); do echo "http://127.0.0.1:$port/delay/1000?i=$i"; done > "$w/job2/urls.txt"
jid=$(submit "$w/job2")
log "array $jid: 4 shards of $n2 slow lines; scancel after 200 records"
mid_run() { [ "$(records "$w/job2")" -ge 200 ]; }
waitfor 45 "200 records" mid_run || fail "array $jid wrote $(records "$w/job2") records in 45 s"
scancel "$jid"
waitfor 30 "scancel $jid" job_gone "$jid" || fail "array $jid still in the queue 30 s after scancel"
partial=$(records "$w/job2")
[ "$partial" -lt "$n2" ] || fail "array $jid finished before scancel reached it"
dup=$(cat "$w/job2"/results.*.jsonl | grep -o '^{"line":[0-9]*' | sort | uniq -d | head -n 3)
[ -z "$dup" ] || fail "after scancel: duplicate records $dup"
log "array $jid canceled with $partial of $n2 records written"
jid=$(submit "$w/job2")
waitfor 90 "array $jid" job_gone "$jid" || fail "resubmitted array $jid still in the queue after 90 s"
codes=$(exit_codes "$jid")
[ "$codes" = "      4 ExitCode=0:0 " ] || fail "resubmitted array $jid: exit codes $codes"
check_union "$w/job2" "$n2"
log "resubmitted array $jid: $n2 lines, each exactly once"
log "PASSED"
