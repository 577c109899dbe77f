#!/bin/sh
# The library's prefix is the library's alone (docs/STYLE.md, issue #10.3,
# #22): outside libmpool's own sources nothing defines a name starting mp_,
# mp__ or MP_.
#  1. No object file outside the library (the mplib_* and mpool_faults
#     targets) defines an external symbol with the prefix (nm; a static
#     inline from a library header, emitted locally at -O0, is the
#     library's own).
#  2. No source outside the library defines one in its text: no function,
#     static or not, variable, type, struct, enumerator or macro (ctags;
#     skipped with a notice when universal-ctags is missing).
# Usage: check_symbols.sh BUILD_DIR [SOURCE_DIR]. Exits 0, or 1 listing
# offenders.
set -eu
build=${1:?usage: check_symbols.sh BUILD_DIR [SOURCE_DIR]}
src=${2:-$(dirname "$0")/..}
command -v nm >/dev/null || { echo "nm not found" >&2; exit 1; }
bad=0 n=0
for o in $(find "$build" -name '*.o' ! -path '*/mplib_*.dir/*' ! -path '*/mpool_obj.dir/*' ! -path '*/mpool_faults.dir/*'); do
    n=$((n + 1))
    syms=$(nm --defined-only --extern-only "$o" | awk '$3 ~ /^(mp_|MP_)/ {print $3}')
    if [ -n "$syms" ]; then
        echo "$o defines library-prefixed symbols:" $syms >&2
        bad=1
    fi
done
if [ "$n" -lt 10 ]; then
    echo "only $n object files under $build: is it a build directory?" >&2
    exit 1
fi
echo "checked $n object files outside libmpool"
# What is outside the library: every C file but src/'s own (src/mpfetch/
# is the CLI) and include/.
ctags=
for c in ctags-universal universal-ctags ctags; do
    if command -v "$c" >/dev/null && "$c" --version 2>/dev/null | grep -q Universal; then
        ctags=$c; break
    fi
done
if [ -z "$ctags" ]; then
    echo "universal-ctags not found: source names not checked (scripts/deps.sh)" >&2
    exit $bad
fi
files=$(cd "$src" && find tests tools workers python bench examples src/mpfetch \
            -name '*.[ch]' 2>/dev/null | sort)
m=$(echo "$files" | wc -l)
names=$(cd "$src" && echo "$files" | "$ctags" -x --languages=C --kinds-C=+lx-p \
            -L - 2>/dev/null | awk '$1 ~ /^(mp_|MP_)/ {print $4 ":" $3 ": " $2 " " $1}')
if [ -n "$names" ]; then
    echo "$names" | sed 's/^/defines a library-prefixed name: /' >&2
    bad=1
fi
echo "checked $m source files outside libmpool for mp_/mp__/MP_ names"
exit $bad
