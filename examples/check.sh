#!/usr/bin/env bash
# Runs one example for ctest and checks it: the example must exit 0 and
# print a line matching PATTERN (grep -E). With --server BIN, the bundled
# test server is started on 127.0.0.1 first (it exits with this script) and
# every @URL@ in the arguments becomes its base URL.
# Usage: check.sh [--server BIN] PATTERN EXAMPLE [ARGS...]
set -euo pipefail
server=
if [ "${1:-}" = --server ]; then server=$2; shift 2; fi
pattern=$1; shift
args=("$@")
if [ -n "$server" ]; then
  coproc SRV { exec "$server" --port 0 --exit-on-stdin-eof; }
  if ! read -t 10 -r word port <&"${SRV[0]}" || [ "$word" != PORT ]; then
    echo "check.sh: the test server did not start within 10 s" >&2
    exit 1
  fi
  args=("${args[@]//@URL@/http://127.0.0.1:$port}")
fi
status=0
out=$("${args[@]}") || status=$?
printf '%s\n' "$out"
if [ "$status" -ne 0 ]; then
  echo "check.sh: ${args[0]} exited with status $status" >&2
  exit 1
fi
if ! grep -Eq -- "$pattern" <<<"$out"; then
  echo "check.sh: no line of the output matches: $pattern" >&2
  exit 1
fi
