#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds, runs ctest.
# Usage: scripts/test.sh [--asan]   (--asan: under AddressSanitizer + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --slurm # --slurm: the Slurm test's scheduler
dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--asan" ]; then
  dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DMP_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$dir" -DMP_WERROR=ON -DMP_BENCH=ON "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
cd "$dir"
ctest --output-on-failure --timeout 600 -j2
