#!/bin/sh
# Dependencies between the library's files run one way (docs/STYLE.md, issue
# #10): no two files of src/ may depend on each other, directly or through
# others. An object file depends on another when it uses an external
# symbol the other defines (nm). Reads the objects of the mplib_* targets (a component each)
# under the build directory BUILD. Exits 0, or 1 naming each circle.
set -eu
build=${1:?usage: check_layers.sh BUILD_DIR}
command -v nm >/dev/null || { echo "nm not found" >&2; exit 1; }
objs=$(find "$build" -path '*/CMakeFiles/mplib_*.dir/*' -name '*.c.o' | sort)
[ -n "$objs" ] || { echo "no mplib_* objects under $build" >&2; exit 1; }
for o in $objs; do
    f=$(basename "$o" .c.o)
    nm "$o" | awk -v f="$f" 'NF == 3 && $2 ~ /^[TDBR]$/ {print "D", f, $3}
                              NF == 2 && $1 == "U" {print "U", f, $2}'
done | awk '
    $1 == "D" { owner[$3] = $2; files[$2] = 1 }
    $1 == "U" { n++; uf[n] = $2; us[n] = $3 }
    END {
        for (i = 1; i <= n; i++)
            if ((us[i] in owner) && owner[us[i]] != uf[i])
                dep[uf[i], owner[us[i]]] = 1
        for (k in files) for (a in files) for (b in files)
            if (((a, k) in dep) && ((k, b) in dep))
                dep[a, b] = 1
        bad = 0; nf = 0
        for (a in files) {
            nf++
            for (b in files)
                if (a < b && ((a, b) in dep) && ((b, a) in dep)) {
                    print "circle: " a ".c and " b ".c depend on each other"
                    bad = 1
                }
        }
        if (nf < 10) { print "only " nf " library objects found"; exit 1 }
        print "checked " nf " library files: " (bad ? "circles found" : "no circles")
        exit bad
    }'
