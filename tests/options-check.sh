#!/usr/bin/env bash
# One source of truth for mpfetch's options: every option `mpfetch --help`
# lists (long and short) must have an item in the OPTIONS section of
# man/mpfetch.1 and a place in the bash completion, and neither may list
# an option --help does not. Prints what is missing where.
# Also: every function include/mpool.h exports has an item in the
# FUNCTIONS section of man/libmpool.3, and no other; libmpool.3 names
# every error code of MP_ERRNO_MAP.
# Usage: options-check.sh MPFETCH SOURCE_DIR
set -euo pipefail
mpfetch=$1 src=$2
man=$src/man/mpfetch.1 comp=$src/completion/mpfetch.bash
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --help: the option names that start an option line ("  -w, --workers N").
"$mpfetch" --help > "$tmp/help.txt"
grep -oE '^ {2,}(-[A-Za-z0-9], )?--[a-z0-9]([a-z0-9.-]*[a-z0-9])?' "$tmp/help.txt" |
  grep -oE -- '--?[A-Za-z0-9]([a-z0-9.-]*[a-z0-9])?' | sort -u > "$tmp/help"
# the man page: the tag line after each .TP in the OPTIONS section.
awk '/^\.SH / {in_opts = ($2 == "OPTIONS")}
     in_opts && tp {print; tp = 0}
     in_opts && /^\.TP/ {tp = 1}' "$man" |
  sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' |
  grep -oE -- '(^|[ "])--?[A-Za-z0-9]([a-z0-9.-]*[a-z0-9])?' | tr -d ' "' | sort -u > "$tmp/man"
# the completion: the words of its two option lists.
awk '/local (with_arg|flags)=/ {on = 1} on {print} on && /"$/ && !/="$/ {on = 0}' "$comp" |
  sed 's/.*="//; s/"//' | tr ' ' '\n' | grep -E '^-' | sort -u > "$tmp/comp"

n=$(wc -l < "$tmp/help")
[ "$n" -ge 20 ] || { echo "options-check: only $n options found in --help" >&2; exit 1; }
status=0
report() { # report FILE-A FILE-B WHAT
  local missing
  missing=$(comm -23 "$1" "$2" | tr '\n' ' ')
  if [ -n "$missing" ]; then echo "options-check: $3: $missing" >&2; status=1; fi
}
report "$tmp/help" "$tmp/man" "in mpfetch --help but not in man/mpfetch.1 OPTIONS"
report "$tmp/man" "$tmp/help" "in man/mpfetch.1 OPTIONS but not in mpfetch --help"
report "$tmp/help" "$tmp/comp" "in mpfetch --help but not in completion/mpfetch.bash"
report "$tmp/comp" "$tmp/help" "in completion/mpfetch.bash but not in mpfetch --help"
# libmpool(3): every function mpool.h exports has an item under FUNCTIONS.
# (the name is the word before "(": a return type may be mp_result *)
grep -oE 'MP_EXTERN[^(]*\bmp_[a-z_]+\(' "$src/include/mpool.h" |
  grep -oE 'mp_[a-z_]+\($' | tr -d '(' | sort -u > "$tmp/api"
awk '/^\.SH / {on = ($2 == "FUNCTIONS")} on && tp {print; tp = 0} on && /^\.TP/ {tp = 1}' \
  "$src/man/libmpool.3" | grep -oE 'mp_[a-z_]+' | sort -u > "$tmp/man3"
[ "$(wc -l < "$tmp/api")" -ge 20 ] || { echo "options-check: too few functions in mpool.h" >&2; exit 1; }
report "$tmp/api" "$tmp/man3" "in include/mpool.h but not in man/libmpool.3 FUNCTIONS"
report "$tmp/man3" "$tmp/api" "in man/libmpool.3 FUNCTIONS but not in include/mpool.h"
# ... lists each of them in its SYNOPSIS too, and none that takes the
# task (mp_task *) under the init function's heading: those run inside a
# task (issue #21: mp_sleep, mp_http... were listed as init-side).
awk '/^\.SH / {on = ($2 == "SYNOPSIS")} on' "$src/man/libmpool.3" |
  grep -oE 'mp_[a-z_]+\(' | tr -d '(' | sort -u > "$tmp/syn"
report "$tmp/api" "$tmp/syn" "in include/mpool.h but not in man/libmpool.3 SYNOPSIS"
report "$tmp/syn" "$tmp/api" "in man/libmpool.3 SYNOPSIS but not in include/mpool.h"
misplaced=$(awk '/^\.SH / {on = ($2 == "SYNOPSIS")}
  on && /^\/\*/ {init = /init function/ && !/task/}
  on && init && /mp_task \*/ {print}' "$src/man/libmpool.3" |
  grep -oE 'mp_[a-z_]+\(' | tr -d '(' | tr '\n' ' ' || true)
if [ -n "$misplaced" ]; then
  echo "options-check: man/libmpool.3 SYNOPSIS lists task-side functions under the init function: $misplaced" >&2
  status=1
fi
# ... and names every code of the error table.
grep -oE '^ +XX\([A-Z0-9_]+,' "$src/include/mpool.h" | grep -oE '[A-Z0-9_]+,' |
  tr -d , | sed 's/^/MP_/' | sort -u > "$tmp/codes"
[ "$(wc -l < "$tmp/codes")" -ge 20 ] || { echo "options-check: too few codes in MP_ERRNO_MAP" >&2; exit 1; }
grep -oE 'MP_[A-Z0-9_]+' "$src/man/libmpool.3" | sort -u > "$tmp/man3codes"
report "$tmp/codes" "$tmp/man3codes" "error codes in MP_ERRNO_MAP that man/libmpool.3 never names"
[ $status -ne 0 ] || echo "options-check: $n options, the same in --help, the man page and the completion; $(wc -l < "$tmp/api") functions and $(wc -l < "$tmp/codes") error codes in mpool.h and libmpool(3)" >&2
exit $status
