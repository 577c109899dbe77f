#!/usr/bin/env bash
# Installs libmpool from a build tree into a temporary prefix, moves that
# prefix elsewhere (the install must be relocatable), and builds the
# outside program tests/consumer/ against it three ways, running each:
#   1. pkg-config --cflags --libs mpool            (shared libmpool.so)
#   2. pkg-config --static --cflags --libs mpool   (libmpool.a, its private
#      dependencies from Requires.private / Libs.private)
#   3. CMake find_package(mpool) -> mpool::mpool
# Usage: scripts/install-check.sh [BUILD_DIR]   (default: build; it must be
# configured without MP_SANITIZE, since the consumer is built without it)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=$(realpath "${1:-build}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say() { echo "install-check: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

cmake --install "$build" --prefix "$tmp/staged" >/dev/null
mv "$tmp/staged" "$tmp/prefix" # relocated after install
pc=$(find "$tmp/prefix" -name mpool.pc)
[ -n "$pc" ] || die "no mpool.pc installed"
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH=$(dirname "$pc")
inc=$(pkg-config --variable=includedir mpool)
[ -f "$inc/mpool.h" ] || die "pkg-config's includedir $inc has no mpool.h"
[ "$(realpath "$(pkg-config --variable=libdir mpool)")" = "$(realpath "$libdir")" ] ||
  die "pkg-config's libdir $(pkg-config --variable=libdir mpool) is not $libdir"

check_run() { # check_run PROGRAM WHAT
  local out
  out=$("$1") || die "$2: the program failed: $out"
  grep -q '^consumer: ok' <<<"$out" || die "$2: unexpected output: $out"
  say "$2: $out"
}

# 1. shared
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror -o "$tmp/consumer-shared" "$src/tests/consumer/consumer.c" \
  $(pkg-config --cflags --libs mpool) -Wl,-rpath,"$libdir"
readelf -d "$tmp/consumer-shared" | grep -q 'NEEDED.*libmpool\.so' ||
  die "pkg-config shared: the program does not load libmpool.so"
check_run "$tmp/consumer-shared" "pkg-config (shared)"

# 2. static: libmpool.a (named with -l: since libmpool.so lies beside it)
# plus everything --static adds for it.
libs=$(pkg-config --static --libs mpool | sed 's/-lmpool\b/-l:libmpool.a/')
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror -o "$tmp/consumer-static" "$src/tests/consumer/consumer.c" \
  $(pkg-config --static --cflags mpool) $libs
if readelf -d "$tmp/consumer-static" | grep -q 'NEEDED.*libmpool'; then
  die "pkg-config --static: the program still loads libmpool.so"
fi
check_run "$tmp/consumer-static" "pkg-config --static (libmpool.a)"

# 3. CMake
cmake -S "$src/tests/consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null ||
  die "cmake could not configure the consumer with find_package(mpool)"
cmake --build "$tmp/cmake" >/dev/null || die "the CMake consumer does not build"
check_run "$tmp/cmake/consumer" "CMake find_package(mpool) -> mpool::mpool"
say "ok"
