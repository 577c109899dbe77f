#!/usr/bin/env bash
# The Debian packages, built and used as a user would: configures a tree
# for /usr, runs `cpack -G DEB` (mpfetch, libmpool0, libmpool-dev,
# python3-mpool), checks
# their Depends, installs them with dpkg -i (apt-get install -f for what
# they depend on), runs the installed mpfetch (--version, a real fetch),
# finds its man page and bash completion, builds tests/consumer/ against
# the installed headers and libraries (pkg-config and CMake), and removes
# the packages again; imports the installed mpool in python3 and fetches
# with it. Needs root (or sudo). Refuses to run if the packages
# are already installed: it would remove them.
# Usage: scripts/package-check.sh [BUILD_DIR]   (default: build-deb)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build-deb}
say() { echo "package-check: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
apt=($sudo apt-get -o DPkg::Lock::Timeout=600 -y -qq)
pkgs=(mpfetch libmpool-dev libmpool0 python3-mpool)

scripts/deps.sh
# Several CI runs may share this machine: one package check at a time
# (they install and remove the same packages), 15 minutes of waiting at most.
exec 9>/tmp/mpool-package-check.lock
flock -w 900 9 || die "another package check held /tmp/mpool-package-check.lock for 15 minutes"
command -v dpkg-shlibdeps >/dev/null || "${apt[@]}" install --no-install-recommends dpkg-dev >/dev/null
command -v man >/dev/null || "${apt[@]}" install --no-install-recommends man-db >/dev/null
for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    die "$p is already installed; remove it first (this check installs and removes it)"
  fi
done

cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMP_WERROR=ON -DMP_TESTS=OFF -DMP_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB >/dev/null)
debs=("$build"/mpfetch_*.deb "$build"/libmpool0_*.deb "$build"/libmpool-dev_*.deb
      "$build"/python3-mpool_*.deb)
for d in "${debs[@]}"; do [ -f "$d" ] || die "cpack made no $d"; done
dep() { dpkg-deb -f "$1" Depends; }
for lib in libcurl4 libnanomsg5 libevent-core libjansson4 libnghttp2-14 zlib1g libbrotli1 libzstd1; do
  dep "${debs[0]}" | grep -q "$lib" || die "mpfetch does not depend on $lib: $(dep "${debs[0]}")"
done
dep "${debs[1]}" | grep -q libnanomsg5 || die "libmpool0 does not depend on libnanomsg5"
dep "${debs[2]}" | grep -q "libmpool0 (= " || die "libmpool-dev does not depend on libmpool0"
for lib in "python3 (>= 3" libnanomsg5 libevent-core libcurl4; do
  dep "${debs[3]}" | grep -qF "$lib" || die "python3-mpool does not depend on $lib: $(dep "${debs[3]}")"
done
say "built: $(for d in "${debs[@]}"; do basename "$d"; done | tr '\n' ' ')"

tmp=$(mktemp -d)
cleanup() {
  set +e
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null
  "${apt[@]}" remove "${pkgs[@]}" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
# dpkg -i does not wait for the dpkg lock (other builds may be installing):
# retry while the lock is what fails, ten minutes at most.
for ((i = 0; ; i++)); do
  if $sudo dpkg -i "${debs[@]}" >"$tmp/dpkg.log" 2>&1; then break; fi
  if grep -q "lock" "$tmp/dpkg.log" && [ $i -lt 600 ]; then sleep 1; continue; fi
  say "dpkg -i: $(tail -n 3 "$tmp/dpkg.log" | tr '\n' ' ') -- apt-get install -f"
  "${apt[@]}" install -f >/dev/null
  break
done
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" | grep -q "ok installed" || die "$p is not installed"
done

# mpfetch, as installed
[ "$(command -v mpfetch)" = /usr/bin/mpfetch ] || die "mpfetch on PATH is $(command -v mpfetch)"
v=$(/usr/bin/mpfetch --version) || die "mpfetch --version failed"
grep -q '^mpfetch 0\.' <<<"$v" || die "mpfetch --version said: $v"
say "$v"
printf 'http://127.0.0.1:1/refused\n' > "$tmp/urls.txt"
/usr/bin/mpfetch -q -w 1 -o "$tmp/out.jsonl" "$tmp/urls.txt" || die "the installed mpfetch failed a run"
grep -q '"code":"MP_ECONNREFUSED"' "$tmp/out.jsonl" || die "unexpected record: $(cat "$tmp/out.jsonl")"
# mp-testserver comes with mpfetch (the docs and examples point to it)
[ -x /usr/bin/mp-testserver ] || die "mpfetch does not install /usr/bin/mp-testserver"
coproc TS { exec /usr/bin/mp-testserver --port 0 --exit-on-stdin-eof; }
srv=$TS_PID
read -r -t 30 word port <&"${TS[0]}" && [ "$word" = PORT ] || die "mp-testserver printed no port"
printf 'http://127.0.0.1:%s/ok\n' "$port" > "$tmp/urls.txt"
/usr/bin/mpfetch -q -w 1 -o "$tmp/out.jsonl" "$tmp/urls.txt" || die "the installed mpfetch failed against mp-testserver"
grep -q '"status":200' "$tmp/out.jsonl" || die "unexpected record from mp-testserver: $(cat "$tmp/out.jsonl")"
kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
say "mp-testserver: a fetch of /ok on port $port"
m=$(man -w mpfetch) || die "man -w mpfetch finds no page"
m3=$(man -w 3 libmpool) || die "man -w 3 libmpool finds no page"
say "man pages: $m $m3"
comp=/usr/share/bash-completion/completions/mpfetch
[ -f "$comp" ] || die "no bash completion at $comp"
got=$(bash -c "source $comp; COMP_WORDS=(mpfetch --summ); COMP_CWORD=1; _mpfetch; echo \${COMPREPLY[*]}")
[ "$got" = "--summary-json" ] || die "bash completion of --summ gave '$got'"

# import mpool, as installed (from /, so no source or build tree is on the
# path), and a real fetch through it
py=$(cd / && /usr/bin/python3 -c 'import mpool; print(mpool.__file__)') ||
  die "python3 cannot import the installed mpool"
[[ $py == /usr/lib/python3/dist-packages/mpool/* ]] || die "python3 imported mpool from $py"
out=$(cd / && /usr/bin/python3 -c '
import mpool
recs = list(mpool.fetch(["http://127.0.0.1:1/refused"], workers=1))
print(recs[0]["error"]["code"])') || die "a fetch through the installed mpool failed"
[ "$out" = MP_ECONNREFUSED ] || die "the installed mpool gave: $out"
say "python3: import mpool from $py, a fetch: $out"

# the outside program, against the installed headers and libraries
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$tmp/consumer" "$src/tests/consumer/consumer.c" \
  $(pkg-config --cflags --libs mpool) || die "consumer does not build with pkg-config"
readelf -d "$tmp/consumer" | grep -q 'NEEDED.*libmpool\.so\.0' || die "consumer does not load libmpool.so.0"
out=$("$tmp/consumer") || die "consumer (pkg-config) failed: $out"
say "pkg-config: $out"
cmake -S "$src/tests/consumer" -B "$tmp/cm" >/dev/null || die "find_package(mpool) failed"
cmake --build "$tmp/cm" >/dev/null || die "the CMake consumer does not build"
out=$("$tmp/cm/consumer") || die "consumer (CMake) failed: $out"
say "CMake: $out"

"${apt[@]}" remove "${pkgs[@]}" >/dev/null
for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    die "$p is still installed after apt-get remove"
  fi
done
[ ! -e /usr/bin/mpfetch ] && [ ! -e /usr/bin/mp-testserver ] && [ ! -e /usr/include/mpool.h ] &&
  [ ! -e /usr/lib/python3/dist-packages/mpool/__init__.py ] || die "files left after removal"
say "ok: built, installed, used and removed ${pkgs[*]}"
