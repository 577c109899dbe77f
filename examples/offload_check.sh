#!/usr/bin/env bash
# ctest for mp_example_offload_server: starts it on 127.0.0.1, sends it N
# requests at once with curl, checks every answer, then stops it with /quit
# and checks its last line.
# Usage: offload_check.sh SERVER_BINARY [N]
set -euo pipefail
server=$1; n=${2:-20}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
coproc SRV { exec "$server" 0; }
exec {out}<&"${SRV[0]}" # bash drops SRV once the server has exited
srv_pid=$SRV_PID
if ! read -t 10 -r word port <&"$out" || [ "$word" != PORT ]; then
  echo "offload_check: the server did not start within 10 s" >&2; exit 1
fi
for i in $(seq 1 "$n"); do
  curl -s --max-time 30 -o "$tmp/$i" "http://127.0.0.1:$port/square?n=$i" &
done
wait $(jobs -p | grep -v "^${srv_pid}\$") || true
bad=0
for i in $(seq 1 "$n"); do
  want="square($i) = $((i * i))"
  got=$(cat "$tmp/$i" 2>/dev/null || true)
  if [ "$got" != "$want" ]; then
    echo "offload_check: request $i: got '$got', want '$want'" >&2
    bad=$((bad + 1))
  fi
done
curl -s --max-time 10 "http://127.0.0.1:$port/quit" >/dev/null || bad=$((bad + 1))
if ! read -t 10 -r last <&"$out"; then
  echo "offload_check: the server did not stop within 10 s" >&2; exit 1
fi
echo "$last"
case $last in
  "offload_server: answered $((n + 0)) requests"*) ;;
  *) echo "offload_check: unexpected last line" >&2; bad=$((bad + 1)) ;;
esac
[ "$bad" -eq 0 ] && echo "offload_check: all $n answers right"
exit $((bad > 0))
