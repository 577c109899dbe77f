"""resume=PATH reads the file with mpfetch --resume's own reader
(fetch_resume_load, workers/fetch_resume.h): fed the same crafted file,
mpfetch --resume, mpool.fetch and mpool.afetch fetch exactly the same
lines. And the lines already done cost the Python process their compact
set, not a Python set of ints."""
import asyncio
import json
import subprocess

import pytest

import mpool

from conftest import mpfetch_no_death, run_py

N = 12  # input lines, each its own URL

# name: (the file's bytes, the lines it holds as done)
CASES = {
    "records": (b'{"line":1,"ok":true}\n{"line":4,"ok":true}\n', {1, 4}),
    # a crash's last record: no newline, its line runs again
    "torn_last_line": (b'{"line":1,"ok":true}\n{"line":2,"ok":tr', {1}),
    # a record is done whatever its outcome
    "error_records": (b'{"line":1,"ok":false,"error":"MP_ECONNREFUSED"}\n'
                      b'{"line":3,"ok":false,"status":500}\n', {1, 3}),
    # lines that are no record; mpfetch's reader reads a record written
    # as a fetch task writes it ({"line":N first) by its brackets and
    # strings, anything else as JSON (jansson): the Python reader
    # (json.loads) differed on the last four
    "not_json": (b'not json\n[1,2]\n"line"\n{"line":6,"ok":true}\n'
                 b'{"line":30,"ok":tr{"line":5,"ok":true}\n'
                 b'{"line":9}}\n'
                 b'{"line":2,"ok":tru}\n'
                 b'{"line":3,"url":"\xff"}\n'
                 b'{"line":07}\n'
                 b'{"ok":true,"x":NaN,"line":8}\n', {6, 2, 3, 7}),
    # the same line twice is one line; a record with two "line" members
    # is done at its first (mpfetch's), not its last (json.loads')
    "duplicates": (b'{"line":2}\n{"line":2,"ok":false}\n'
                   b'{"line":3,"line":9}\n', {2, 3}),
    # records naming lines past the input's end: ignored
    "past_the_end": (b'{"line":13}\n{"line":100}\n{"line":1}\n', {1}),
    "huge_line_numbers": (b'{"line":9999999999}\n'
                          b'{"line":9223372036854775807}\n'
                          b'{"line":18446744073709551615}\n'
                          b'{"line":99999999999999999999999}\n'
                          b'{"line":1}\n', {1}),
    "line_not_an_int": (b'{"line":"4"}\n{"line":4.0}\n{"line":true}\n'
                        b'{"line":0}\n{"line":-5}\n{"line":null}\n'
                        b'{"line":[6]}\n{"line":7e0}\n{"url":"x"}\n'
                        b'{"line":8}\n', {8}),
    "crlf": (b'{"line":1,"ok":true}\r\n{"line":2}\r\n\r\n'
             b'{"line":4,"ok":false}\r\n', {1, 2, 4}),
    "blank_lines": (b'\n\n   \n{"line":3}\n\t\n\n', {3}),
    # a byte-order mark: not a record to either (json.loads took it)
    "bom": (b'\xef\xbb\xbf{"line":2}\n{"line":5}\n', {5}),
}


def urls(server):
    return [server.url(f"/bytes/{n}") for n in range(1, N + 1)]


def mpfetch_fetches(bin_, tmp_path, text, lines):
    """The lines mpfetch --resume -o FILE fetches, FILE holding text: the
    records it appends after what it keeps (all of text but a torn last
    line)."""
    src = tmp_path / "in.txt"
    src.write_text("".join(u + "\n" for u in lines))
    out = tmp_path / "mpfetch.jsonl"
    out.write_bytes(text)
    summary = tmp_path / "summary.json"
    p = subprocess.run([bin_, "-q", "-w", "1", "--resume", "-o", str(out),
                        "--summary-json", str(summary), str(src)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    mpfetch_no_death(summary)
    kept = text[:text.rfind(b"\n") + 1]
    after = out.read_bytes()
    assert after.startswith(kept)
    recs = [json.loads(x) for x in after[len(kept):].splitlines()]
    assert all(r["ok"] for r in recs)
    return sorted(r["line"] for r in recs)


def mpool_fetches(tmp_path, text, lines):
    path = tmp_path / "mpool.jsonl"
    path.write_bytes(text)
    recs = list(mpool.fetch(lines, workers=1, resume=path))
    assert all(r["ok"] for r in recs)
    assert path.read_bytes() == text  # read, never written
    return sorted(r["line"] for r in recs)


def afetch_fetches(tmp_path, text, lines):
    path = tmp_path / "afetch.jsonl"
    path.write_bytes(text)

    async def gen():
        for u in lines:
            yield u

    async def main():
        return [r async for r in mpool.afetch(gen(), workers=1,
                                              resume=str(path))]
    return sorted(r["line"] for r in asyncio.run(main()))


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_front_ends_fetch_the_same_lines(server, mpfetch, tmp_path,
                                              case):
    text, done = CASES[case]
    lines = urls(server)
    want = sorted(set(range(1, N + 1)) - done)
    got = mpfetch_fetches(mpfetch, tmp_path, text, lines)
    assert got == want, "mpfetch --resume"
    assert mpool_fetches(tmp_path, text, lines) == got, "mpool.fetch"
    assert afetch_fetches(tmp_path, text, lines) == got, "mpool.afetch"


def test_done_lines_are_a_compact_set(tmp_path):
    """1,000,000 records cost the Python process the C line set (a bit
    per line: 512 KiB of table), not a set of a million ints (about 60
    MB): its peak RSS, VmHWM, before and after the file is read."""
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as f:
        for k in range(0, 1_000_000, 10_000):
            f.write(b"".join(b'{"line":%d,"ok":true}\n' % n
                             for n in range(k + 1, k + 10_001)))
    code = f"""
import sys, mpool
def hwm():
    with open("/proc/self/status") as f:
        for x in f:
            if x.startswith("VmHWM:"):
                return int(x.split()[1])
before = hwm()
r = mpool._Resume("fetch", {str(path)!r})
grown = hwm() - before
assert len(r.done) == 1_000_000, len(r.done)
assert 1 in r.done and 1_000_000 in r.done and 1_000_001 not in r.done
print(grown, sys.getsizeof(r.done))
"""
    p = run_py(code)
    assert p.returncode == 0, p.stderr
    grown_kb, size = map(int, p.stdout.split())
    assert size < 1 << 20  # the table: 32,768 slots of 16 bytes
    assert grown_kb < 8 * 1024, f"peak RSS grew {grown_kb} kB"
