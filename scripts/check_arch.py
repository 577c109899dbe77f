#!/usr/bin/env python3
"""Dependencies between the project's files run one way (docs/STYLE.md).

Finds, and names, four kinds of circle:
  include  units in an include circle (a unit is x.c with x.h and x_int.h;
           a header without a .c is its own unit; a unit that spans more
           .c files says so in its header's first comment, with a line
           "unit: x.c x_more.c" naming the files beside it, x.c first,
           and those files are all of unit x)
  folder   folders in an include circle (the unit edges between folders)
  symbol   object files of one target that need each other's symbols (nm)
  reach    a .c that writes a field of a struct another unit's header
           defines (clang's AST: the left side of =, op=, ++, --): the
           struct is that unit's data. Not counted: the public structs of
           include/ (the caller's to fill) and the structs of a header no
           .c owns (a contract its users share, e.g. tools/testserver's)
Each finding is one line. A finding listed in the allow-list file (same
line, then '#issue') is reported as known and does not fail the check; an
allow-list line nothing matches any more is reported as stale.

usage: check_arch.py SOURCE_DIR BUILD_DIR [--allow FILE] [--only KINDS]
Exits 0 when every finding is allowed, 1 otherwise (2: cannot run).
"""
import argparse
import collections
import json
import os
import re
import shlex
import subprocess
import sys

SCAN = ("src", "workers", "tools", "include", "tests", "python")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def rel(root, path):
    return os.path.relpath(os.path.realpath(path), root)


def project_files(root):
    out = []
    for top in SCAN:
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    out.append(rel(root, os.path.join(d, f)))
    return out


# files of a unit that spans several .c files: {path less .c: unit}
SPANS = {}
UNIT_LINE_RE = re.compile(r"^[\s*]*unit:\s*(.+?)\s*$", re.M)


def unit_of(path):
    """src/http/shared/http_int.h -> src/http/shared/http;
    src/pool/pool.c -> src/pool/pool; a file a header's "unit:" line
    names -> that header's unit."""
    base, ext = os.path.splitext(path)
    if ext == ".h" and base.endswith("_int"):
        base = base[:-4]
    return SPANS.get(base, base)


def read_spans(root, files):
    """Fills SPANS from the "unit:" line of each header's first comment.
    Returns the headers' mistakes (a file that does not exist, a list that
    does not start with the header's own .c)."""
    errors = []
    known = set(files)
    for f in files:
        if not f.endswith(".h"):
            continue
        with open(os.path.join(root, f), errors="replace") as fh:
            text = fh.read()
        m = re.match(r"\s*/\*(.*?)\*/", text, re.S)
        line = UNIT_LINE_RE.search(m.group(1)) if m else None
        if not line:
            continue
        unit = unit_of(f)
        names = line.group(1).split()
        if names[0] != os.path.basename(unit) + ".c":
            errors.append("%s: its unit: line must start with %s.c" % (f, os.path.basename(unit)))
        for name in names:
            path = os.path.join(os.path.dirname(f), name)
            if path not in known or not name.endswith(".c"):
                errors.append("%s: unit: names %s, not a .c beside it" % (f, name))
            SPANS[os.path.splitext(path)[0]] = unit
    return errors


def compile_db(build):
    path = os.path.join(build, "compile_commands.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def include_roots(root, db):
    roots = []
    for e in db:
        args = e.get("arguments") or shlex.split(e["command"])
        for i, a in enumerate(args):
            d = None
            if a == "-I" and i + 1 < len(args):
                d = args[i + 1]
            elif a.startswith("-I"):
                d = a[2:]
            if d:
                d = os.path.realpath(os.path.join(e["directory"], d))
                if d.startswith(root + os.sep) and d not in roots:
                    roots.append(d)
    for d in ("src", "include", "workers", "tests"):
        d = os.path.join(root, d)
        if os.path.isdir(d) and d not in roots:
            roots.append(d)
    return roots


def include_edges(root, files, roots):
    """Returns {file: set(files it includes)} for quoted includes."""
    known = set(files)
    edges = {}
    for f in files:
        with open(os.path.join(root, f), errors="replace") as fh:
            text = fh.read()
        out = set()
        for name in INCLUDE_RE.findall(text):
            for d in [os.path.dirname(os.path.join(root, f))] + roots:
                cand = rel(root, os.path.join(d, name))
                if cand in known:
                    out.add(cand)
                    break
        edges[f] = out
    return edges


def sccs(nodes, edges):
    """Tarjan: the strongly connected components of more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out)


def check_includes(root, db):
    files = project_files(root)
    fedges = include_edges(root, files, include_roots(root, db))
    uedges = collections.defaultdict(set)
    units = set()
    for f, incs in fedges.items():
        units.add(unit_of(f))
        for g in incs:
            if unit_of(g) != unit_of(f):
                uedges[unit_of(f)].add(unit_of(g))
    found = ["include " + " ".join(c) for c in sccs(units, uedges)]
    dedges = collections.defaultdict(set)
    for u, vs in uedges.items():
        for v in vs:
            if os.path.dirname(u) != os.path.dirname(v):
                dedges[os.path.dirname(u)].add(os.path.dirname(v))
    dirs = {os.path.dirname(u) for u in units}
    found += ["folder " + " ".join(c) for c in sccs(dirs, dedges)]
    return found, len(units), len(dirs)


def objects_by_target(root, build):
    """{target: {source file: object}} from CMake's object directories:
    BUILD/SUB/CMakeFiles/T.dir/PATH.c.o is SOURCE/SUB/PATH.c (__ is ..)."""
    out = collections.defaultdict(dict)
    # libmpool's components (mplib_*, an OBJECT library each, after issue
    # 22's move) link into one library: one graph
    group = lambda t: "libmpool" if t.startswith("mplib_") else t
    pat = re.compile(r"^(?:(.*)/)?CMakeFiles/([^/]+)\.dir/(.+)\.o$")
    for d, dirs, files in os.walk(build):
        for f in files:
            if not f.endswith(".c.o"):
                continue
            m = pat.match(os.path.relpath(os.path.join(d, f), build))
            if not m:
                continue
            sub = m.group(1) or ""
            path = "/".join(".." if x == "__" else x for x in m.group(3).split("/"))
            full = os.path.normpath(os.path.join(root, sub, path))
            if os.path.exists(full):
                out[group(m.group(2))][rel(root, full)] = os.path.join(d, f)
    return out


def nm(obj):
    res = subprocess.run(["nm", obj], capture_output=True, text=True, check=True)
    defs, undefs = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRGSVW":
            defs.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefs.add(parts[1])
    return defs, undefs


def check_symbols(root, build):
    found, seen, nfiles = [], set(), 0
    for target, objs in sorted(objects_by_target(root, build).items()):
        if all(s.startswith("tests/") for s in objs) or len(objs) < 2:
            continue
        table = {s: nm(o) for s, o in objs.items()}
        owner = {}
        for s, (defs, _) in table.items():
            for name in defs:
                owner.setdefault(name, s)
        edges = collections.defaultdict(set)
        for s, (_, undefs) in table.items():
            for name in undefs:
                if name in owner and owner[name] != s:
                    edges[s].add(owner[name])
        nfiles += len(table)
        for c in sccs(table.keys(), edges):
            line = "symbol " + " ".join(c)
            if line not in seen:
                seen.add(line)
                found.append(line)
    return found, nfiles


# ---- struct fields written from outside their unit (clang's AST) ----------

WRITE_BIN = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}


class Locs:
    """Follows the file clang's JSON dump names only when it changes."""

    def __init__(self):
        self.file = None

    def see(self, loc):
        if not loc:
            return
        if "spellingLoc" in loc or "expansionLoc" in loc:
            self.see(loc.get("spellingLoc"))
            self.see(loc.get("expansionLoc"))
            return
        if "file" in loc:
            self.file = loc["file"]


def strip(node):
    while node and node.get("kind") in ("ParenExpr", "ImplicitCastExpr"):
        node = (node.get("inner") or [None])[0]
    return node


def written_member(lhs):
    """The MemberExpr an assignment's left side writes, or None."""
    lhs = strip(lhs)
    while lhs and lhs.get("kind") == "ArraySubscriptExpr":
        lhs = strip((lhs.get("inner") or [None])[0])  # an array field's element
    if lhs and lhs.get("kind") == "MemberExpr":
        return lhs
    return None


def ast_writes(root, entry, fields):
    """Walks one translation unit: records every FieldDecl's file in fields
    and returns [(field id, name, line)] written by the source file's own
    functions."""
    args = entry.get("arguments") or shlex.split(entry["command"])
    src = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    keep, skip = ["clang"], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-Werror") or a.startswith(("-W", "-fsanitize", "-fstack-clash")) \
                or os.path.realpath(os.path.join(entry["directory"], a)) == src:
            continue
        keep.append(a)
    keep += ["-w", "-fsyntax-only", "-Xclang", "-ast-dump=json", src]
    res = subprocess.run(keep, cwd=entry["directory"], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("clang failed on %s:\n%s" % (entry["file"], res.stderr[-2000:]))
    tree = json.loads(res.stdout)
    locs, writes = Locs(), []
    line = [0]

    def walk(node, in_own):
        if not isinstance(node, dict):
            return
        locs.see(node.get("loc"))
        if "line" in (node.get("loc") or {}):
            line[0] = node["loc"]["line"]
        rng = node.get("range") or {}
        for k in ("begin", "end"):
            locs.see(rng.get(k))
        kind = node.get("kind")
        if kind == "FieldDecl" and locs.file:
            fields[node["id"]] = (os.path.realpath(os.path.join(entry["directory"], locs.file)),
                                  node.get("name", ""))
        if in_own:
            target = None
            if kind in ("BinaryOperator", "CompoundAssignOperator") and \
                    node.get("opcode") in WRITE_BIN:
                target = written_member((node.get("inner") or [None])[0])
            elif kind == "UnaryOperator" and node.get("opcode") in ("++", "--"):
                target = written_member((node.get("inner") or [None])[0])
            if target and "referencedMemberDecl" in target:
                writes.append((target["referencedMemberDecl"], target.get("name", ""), line[0]))
        for child in node.get("inner") or ():
            walk(child, in_own)

    for top in tree.get("inner") or ():
        locs.see(top.get("loc"))
        here = locs.file and os.path.realpath(os.path.join(entry["directory"], locs.file)) == src
        is_fn = top.get("kind") == "FunctionDecl"
        # a top-level decl's own loc was seen; walk the rest in order
        top = dict(top)
        top.pop("loc", None)
        walk(top, bool(here and is_fn))
    return writes


def check_reach(root, db):
    if not db:
        raise RuntimeError("no compile_commands.json (CMAKE_EXPORT_COMPILE_COMMANDS)")
    seen, entries = set(), []
    for e in db:
        f = rel(root, os.path.join(e["directory"], e["file"]))
        if f.startswith(("src/", "workers/", "tools/")) and f not in seen:
            seen.add(f)
            entries.append((f, e))
    found = collections.defaultdict(lambda: collections.defaultdict(int))
    for f, e in sorted(entries):
        fields = {}
        for fid, name, line in ast_writes(root, e, fields):
            if fid not in fields:
                continue
            owner_file, fname = fields[fid]
            if not owner_file.startswith(root + os.sep):
                continue  # a system or library header's struct
            owner = rel(root, owner_file)
            if owner.startswith("include/") or owner == f:
                continue  # public API structs; a file's own private struct
            if unit_of(owner) == unit_of(f):
                continue
            if not os.path.exists(os.path.join(root, unit_of(owner) + ".c")):
                continue  # a header no .c owns: a contract its users share
            found[(f, owner)][fname] += 1
    out = []
    for (f, owner), names in sorted(found.items()):
        detail = ", ".join("%s%s" % (n, "" if c == 1 else " x%d" % c)
                           for n, c in sorted(names.items()))
        out.append(("reach %s %s" % (f, owner), "%d writes: %s" % (sum(names.values()), detail)))
    return out, len(entries)


def load_allow(path):
    allow = {}
    if not path or not os.path.exists(path):
        return allow
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)
            key = " ".join(line[0].split())
            if key:
                allow[key] = ("#" + line[1].strip()) if len(line) > 1 else "(no issue)"
    return allow


def same_circle(key, allow):
    """An allowed circle that shares two members with this one: the same
    circle, grown or shrunk since it was listed. Returns its line or None."""
    kind, members = key.split()[0], set(key.split()[1:])
    if kind == "reach":
        return None
    for k in allow:
        if k.split()[0] == kind and len(members & set(k.split()[1:])) >= 2:
            return k
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("build")
    ap.add_argument("--allow")
    ap.add_argument("--only", default="include,folder,symbol,reach")
    a = ap.parse_args()
    root = os.path.realpath(a.source)
    build = os.path.realpath(a.build)
    kinds = set(a.only.split(","))
    db = compile_db(build)
    findings, notes = [], {}
    span_errors = read_spans(root, project_files(root))
    for err in span_errors:
        print("check_arch: %s" % err, file=sys.stderr)
    if span_errors:
        return 2
    try:
        if kinds & {"include", "folder"}:
            inc, nu, nd = check_includes(root, db)
            findings += [x for x in inc if x.split()[0] in kinds]
            print("includes: %d units in %d folders" % (nu, nd))
        if "symbol" in kinds:
            sym, nf = check_symbols(root, build)
            if nf < 10:
                print("only %d object files under %s: is it a build directory?" % (nf, build))
                return 2
            findings += sym
            print("symbols: %d object files" % nf)
        if "reach" in kinds:
            reach, nr = check_reach(root, db)
            for key, detail in reach:
                findings.append(key)
                notes[key] = detail
            print("struct fields: %d source files" % nr)
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as e:
        print("check_arch: %s" % e, file=sys.stderr)
        return 2
    allow = load_allow(a.allow)
    bad, used = 0, set()
    for key in findings:
        extra = ("  (" + notes[key] + ")") if key in notes else ""
        known = key if key in allow else same_circle(key, allow)
        if known:
            used.add(known)
            if known != key:
                extra += "  (allowed as: %s)" % known
            print("known %s: %s%s" % (allow[known], key, extra))
        else:
            print("NEW: %s%s" % (key, extra))
            bad += 1
    for key in allow:
        if key not in used and key.split()[0] in kinds:
            print("stale allow-list line (fixed? remove it): %s" % key)
    print("%d findings, %d known, %d new" % (len(findings), len(findings) - bad, bad))
    if bad:
        print("a NEW finding is a circle or a reach-in this tree did not have: break it\n"
              "(docs/STYLE.md), or list it in %s with the issue that will"
              % (a.allow or "an allow-list"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
