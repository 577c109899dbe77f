"""resume=PATH checks the run stamp as mpfetch --resume does: a file that
holds the records of a shard (mpfetch --shard) or of another input is
refused with mpfetch's sentence (ValueError), before anything is
fetched; the same input resumes, from a file, a list or a generator, and
after lines were appended to it."""
import asyncio
import json
import subprocess

import pytest

import mpool
from conftest import mpfetch_no_death


def write_input(path, lines):
    path.write_text("".join(x + "\n" for x in lines))
    return str(path)


def mpfetch(bin_, *args):
    return subprocess.run([bin_, "-q", "-w", "1", *args],
                          capture_output=True, text=True, timeout=120)


def stamped_run(bin_, tmp_path, lines, *args):
    """mpfetch -o out.jsonl over lines: returns (input path, out path)."""
    src = write_input(tmp_path / "in.txt", lines)
    out = str(tmp_path / "out.jsonl")
    summary = tmp_path / "summary.json"
    p = mpfetch(bin_, *args, "--summary-json", str(summary), "-o", out, src)
    assert p.returncode == 0, p.stderr
    mpfetch_no_death(summary)
    with open(out) as f:
        assert '"run":{' in f.readline()  # the first record has the stamp
    return src, out


def keep_lines(out, keep):
    """Leaves in out the records of the lines in keep (the stamped first
    record among them, whatever its line)."""
    with open(out) as f:
        recs = f.readlines()
    first = json.loads(recs[0])["line"]
    with open(out, "w") as f:
        f.writelines(r for r in recs
                     if json.loads(r)["line"] in keep | {first})
    return first


def mpfetch_says(bin_, out, src, *args):
    """mpfetch --resume's refusal: exit 2, its sentence without the
    program's name, the file named as mpool names it."""
    p = mpfetch(bin_, *args, "--resume", "-o", out, src)
    assert p.returncode == 2, p.stderr
    line = p.stderr.strip()
    assert line.startswith("mpfetch: ")
    return line[len("mpfetch: "):].replace("-o FILE", "resume=PATH")


def test_another_input_is_refused_in_mpfetch_words(server, mpfetch,
                                                    tmp_path):
    lines = [server.url(f"/bytes/{n}") for n in range(1, 9)]
    src, out = stamped_run(mpfetch, tmp_path, lines)
    before = open(out, "rb").read()
    other = write_input(tmp_path / "other.txt",
                        [server.url("/ok")] + lines[1:])
    want = mpfetch_says(mpfetch, out, other)
    assert "another input" in want
    with open(other) as f, pytest.raises(ValueError) as e:
        mpool.fetch(f, workers=1, resume=out)
    assert str(e.value) == "fetch: " + want
    # a list of the other lines, and a generator of them: refused too
    for urls in ([server.url("/ok")] + lines[1:],
                 (u for u in [server.url("/ok")] + lines[1:])):
        with pytest.raises(ValueError, match="resuming would merge two "
                                             "inputs into one file"):
            mpool.fetch(urls, workers=1, resume=out)
    assert open(out, "rb").read() == before


def test_a_shard_is_refused_in_mpfetch_words(server, mpfetch, tmp_path):
    lines = [server.url(f"/bytes/{n}") for n in range(1, 9)]
    src, out = stamped_run(mpfetch, tmp_path, lines, "--shard", "1/2")
    want = mpfetch_says(mpfetch, out, src)
    assert "this run has no --shard" in want
    with open(src) as f, pytest.raises(ValueError) as e:
        mpool.fetch(f, workers=1, resume=out)
    assert str(e.value) == "fetch: " + want


def test_a_run_member_mpfetch_did_not_write_is_refused(server, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"line":1,"run":{"shard":"9/2"},"ok":true}\n')
    with pytest.raises(ValueError, match='holds 1 records whose "run" '
                                         'member mpfetch did not write'):
        mpool.fetch([server.url("/ok")], workers=1, resume=out)


def test_the_same_input_resumes(server, mpfetch, tmp_path):
    """The stamped file resumes from the input file, from a list of its
    lines, from a generator of them, and from the input grown at its end;
    only the lines without a record are fetched."""
    lines = [server.url(f"/bytes/{n}") for n in range(1, 9)]
    src, out = stamped_run(mpfetch, tmp_path, lines)
    first = keep_lines(out, {2, 5})
    left = sorted(set(range(1, 9)) - {2, 5, first})
    grown = lines + [server.url("/bytes/99")]
    for urls in (open(src), list(lines), (u for u in lines), grown):
        recs = list(mpool.fetch(urls, workers=1, resume=out))
        want = left + ([9] if urls is grown else [])
        assert sorted(r["line"] for r in recs) == want
        assert all(r["ok"] for r in recs)


def test_records_without_a_stamp_resume_unchecked(server, tmp_path):
    """What mpool.fetch gives has no stamp (as mpfetch's standard
    output): a file of them resumes whatever the input."""
    out = tmp_path / "out.jsonl"
    out.write_text('{"line":1,"url":"x","ok":true}\n')
    recs = list(mpool.fetch([server.url("/a"), server.url("/b")],
                            workers=1, resume=out))
    assert [r["line"] for r in recs] == [2]


def test_a_whole_last_line_without_its_newline_is_torn(server, tmp_path):
    """mpfetch --resume cuts a last record without its newline and runs
    its line again, even when the text is one whole JSON object."""
    out = tmp_path / "out.jsonl"
    out.write_text('{"line":1,"ok":true}\n{"line":2,"ok":true}')
    recs = list(mpool.fetch([server.url("/a"), server.url("/b")],
                            workers=1, resume=out))
    assert [r["line"] for r in recs] == [2]


def test_afetch_checks_an_async_input_on_the_loop(server, mpfetch,
                                                  tmp_path):
    lines = [server.url(f"/bytes/{n}") for n in range(1, 9)]
    src, out = stamped_run(mpfetch, tmp_path, lines)
    first = keep_lines(out, {3})

    async def agen(xs):
        for x in xs:
            await asyncio.sleep(0)
            yield x

    async def run(xs):
        return [r async for r in mpool.afetch(agen(xs), workers=1,
                                              resume=out)]

    with pytest.raises(ValueError, match="another input"):
        asyncio.run(run([server.url("/ok")] + lines[1:]))
    recs = asyncio.run(run(lines))
    assert sorted(r["line"] for r in recs) == \
        sorted(set(range(1, 9)) - {3, first})
    # a plain iterable through afetch: checked at the call, as fetch's
    with pytest.raises(ValueError, match="another input"):
        mpool.afetch([server.url("/ok")] + lines[1:], workers=1, resume=out)


def test_a_long_name_cut_inside_a_character(server, tmp_path):
    """The stamp keeps 159 bytes of the input's name, which may end inside
    a UTF-8 character: still a stamp, still checked."""
    out = tmp_path / "out.jsonl"
    run = {"shard": None, "input": {"name": "\u00e9" * 200, "bytes": 4,
                                    "fnv1a64": "0123456789abcdef"}}
    out.write_text('{"line":1,"run":' + json.dumps(run) + ',"ok":true}\n')
    with pytest.raises(ValueError, match="another input"):
        mpool.fetch([server.url("/ok")], workers=1, resume=out)
