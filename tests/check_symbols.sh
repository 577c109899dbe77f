#!/bin/sh
# The library's prefix is the library's alone (STYLE.md, issue #10.3):
# no object file outside libmpool's own (src/*.c, the mpool_obj target)
# may define an external symbol starting mp_, mp__ or MP_ (a static
# inline from a library header, emitted locally at -O0, is the library's
# own). Runs nm on every object file under the build directory BUILD.
# Exits 0, or 1 listing offenders.
set -eu
build=${1:?usage: check_symbols.sh BUILD_DIR}
command -v nm >/dev/null || { echo "nm not found" >&2; exit 1; }
bad=0 n=0
for o in $(find "$build" -name '*.o' ! -path '*/mpool_obj.dir/*' ! -path '*/mpool_faults.dir/*'); do
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
exit $bad
