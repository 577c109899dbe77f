#!/usr/bin/env bash
# Builds the fuzz targets with clang, libFuzzer, ASan and UBSan, and runs
# each for SECONDS (default 40) from its seed corpus in tests/fuzz/<target>/.
# New inputs go to build-fuzz/corpus/<target>/, never into the source tree.
# A crash, a leak, a timeout (10 s per input) or going over 2 GB fails the
# run; the input is kept as build-fuzz/crashes/<target>/crash-... Fix the
# bug, then copy that file into tests/fuzz/<target>/: the fuzz_replay_*
# ctests run it from then on, with any compiler.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-40}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire line resume options url location resp record binrec)
scripts/deps.sh
dir=build-fuzz
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DMP_FUZZ=ON -DMP_SANITIZE=ON -DMP_BENCH=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for t in "${targets[@]}"; do
  work=$dir/corpus/$t crashes=$dir/crashes/$t
  rm -rf "$work" && mkdir -p "$work" "$crashes"
  echo "fuzz: $t for ${secs}s" >&2
  if ! "$dir/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -max_len=4096 -close_fd_mask=3 \
      -artifact_prefix="$crashes/" -print_final_stats=1 \
      "$work" "tests/fuzz/$t" >"$dir/fuzz-$t.log" 2>&1; then
    tail -n 40 "$dir/fuzz-$t.log" >&2
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^Done' "$dir/fuzz-$t.log" >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $dir/crashes/)" >&2
  exit 1
fi
echo "fuzz: ${targets[*]}: no crash in ${secs}s each" >&2
