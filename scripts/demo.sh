#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts the bundled test
# server on loopback and fetches a large batch of URLs from it with mpfetch
# across all cores (progress line on the terminal, summary at the end).
# Usage: scripts/demo.sh [N_URLS]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
if [ ! -x build/mpfetch ]; then
  echo "demo: mpfetch is not built yet; running the pool example instead" >&2
  exec build/mp_example_map "$n"
fi
work=$(mktemp -d)
trap 'kill "$srv" 2>/dev/null || true; rm -rf "$work"' EXIT
coproc SRV { exec build/tools/mp-testserver --host 127.0.0.1 --port 0 --procs 2; }
srv=$SRV_PID
read -r word port <&"${SRV[0]}"
[ "$word" = PORT ] || { echo "demo: test server did not start" >&2; exit 1; }
echo "demo: test server on 127.0.0.1:$port; $n URLs" >&2
for ((i = 0; i < n; i++)); do
  case $((i % 50)) in
    0) echo "http://127.0.0.1:$port/status/404" ;;
    1) echo "http://127.0.0.1:$port/delay/20" ;;
    *) echo "http://127.0.0.1:$port/bytes/1024" ;;
  esac
done > "$work/urls.txt"
build/mpfetch --progress -o "$work/results.jsonl" "$work/urls.txt"
echo "demo: $(wc -l < "$work/results.jsonl") records written; first one:" >&2
head -n 1 "$work/results.jsonl" >&2
