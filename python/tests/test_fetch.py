"""mpool.fetch against mpfetch: the same inputs and options give the same
records (times aside); options and their errors; laziness."""
import json
import os
import re
import subprocess

import pytest

import mpool
from conftest import HERE, descendants, mpfetch_no_death, run_py, wait_gone


def inputs(s):
    """Lines a user would fetch: successes, HTTP errors, redirects, a
    refused port, JSON input lines with ids, methods and bodies, a blank
    line and a comment (skipped by both, still counted as lines)."""
    return [
        s.url("/bytes/10"),
        s.url("/status/404"),
        s.url("/redirect/2"),
        "",
        "http://127.0.0.1:1/refused",
        "# a comment",
        {"url": s.url("/echo"), "id": 7, "method": "POST", "body": "hi"},
        {"url": s.url("/bytes/100"), "id": "x", "headers": {"X-A": "b"}},
        s.url("/gzip"),
        "not a url",
        s.url("/chunked/300"),
        s.url("/delay/20"),
    ]


def strip(rec):
    """A record without what differs from run to run: times (libcurl's
    messages say "after 1 ms" too), and the Date header."""
    rec = dict(rec)
    rec.pop("time", None)
    if rec.get("error"):
        rec["error"] = dict(rec["error"], message=re.sub(
            r"after \d+ ms", "after N ms", rec["error"]["message"]))
    if isinstance(rec.get("headers"), dict):
        rec["headers"] = {k: v for k, v in rec["headers"].items()
                          if k.lower() != "date"}
    return rec


def mpfetch_records(mpfetch, tmp_path, lines, args):
    src = tmp_path / "in.txt"
    with open(src, "w") as f:
        for x in lines:
            f.write((json.dumps(x) if isinstance(x, dict) else x) + "\n")
    # stdout, not -o FILE: a file's first record carries --resume's stamp
    summary = tmp_path / "summary.json"
    p = subprocess.run([mpfetch, "-q", "--ordered", "--summary-json",
                        str(summary), *args, str(src)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 22), p.stderr
    # a worker that crashed is replaced and its requests run again: the
    # records would not show it, the summary does
    mpfetch_no_death(summary)
    return [json.loads(x) for x in p.stdout.splitlines()]


CASES = [
    ({}, []),
    ({"location": True, "compressed": True, "include": True},
     ["-L", "--compressed", "-i"]),
    ({"follow_redirects": True, "max_redirs": 1, "retries": 1,
      "headers": {"X-Test": "1"}, "timeout": 5, "body": "sha256"},
     ["-L", "--max-redirs", "1", "--retries", "1", "-H", "X-Test: 1",
      "--timeout", "5", "--body", "sha256"]),
    ({"method": "HEAD", "header": ["X-Y: z"], "engine": "curl"},
     ["-X", "HEAD", "-H", "X-Y: z", "--engine", "curl"]),
    ({"data": "payload", "body": "inline", "http1_1": True},
     ["-d", "payload", "--body", "inline", "--http1.1"]),
]


@pytest.mark.parametrize("opts,args", CASES)
def test_records_equal_mpfetch(server, mpfetch, tmp_path, opts, args):
    lines = inputs(server)
    want = mpfetch_records(mpfetch, tmp_path, lines, ["-w", "2", *args])
    got = list(mpool.fetch(lines, workers=2, ordered=True, **opts))
    assert [strip(r) for r in got] == [strip(r) for r in want]
    assert len(got) == 10  # 12 lines, a blank one and a comment skipped
    # the same through a Pool, whose stats show a worker that died (the
    # re-run would give the same records)
    with mpool.Pool(workers=2, **opts) as pool:
        again = list(pool.fetch(lines, ordered=True))
        st = pool.stats()
    assert [strip(r) for r in again] == [strip(r) for r in want]
    assert st["workers_died"] == 0 and st["tasks_retried"] == 0


def test_unordered_has_every_record(server):
    urls = [server.url(f"/delay/{(i * 7) % 30}") for i in range(200)]
    recs = list(mpool.fetch(urls, workers=2, concurrency=20))
    assert sorted(r["line"] for r in recs) == list(range(1, 201))
    assert all(r["ok"] and r["status"] == 200 for r in recs)


def test_ordered_is_input_order(server):
    urls = [server.url(f"/delay/{(i * 13) % 40}") for i in range(300)]
    recs = list(mpool.fetch(iter(urls), workers=2, concurrency=10,
                            ordered=True))
    assert [r["line"] for r in recs] == list(range(1, 301))
    assert [r["url"] for r in recs] == urls


def test_input_is_pulled_lazily(server):
    pulled = []

    def gen():
        for i in range(100000):
            pulled.append(i)
            yield server.url("/ok")

    it = mpool.fetch(gen(), workers=1, concurrency=4)
    first = [next(it) for _ in range(10)]
    assert all(r["status"] == 200 for r in first)
    # the window: 4 running + 60 queued (mpfetch's credit) + 4 more
    assert len(pulled) < 1000
    del it


def test_break_stops_the_run(server):
    n = 0
    for rec in mpool.fetch((server.url("/ok") for _ in range(10 ** 9)),
                           workers=1, concurrency=8):
        n += 1
        if n == 50:
            break
    assert n == 50


@pytest.mark.parametrize("opts,exc,name", [
    ({"concurrency": 0}, ValueError, "concurrency"),
    ({"concurrency": "4"}, TypeError, "concurrency"),
    ({"workers": -1}, ValueError, "workers"),
    ({"workers": 100000}, ValueError, "workers"),
    ({"timeout": "fast"}, TypeError, "timeout"),
    ({"timeout": -1}, ValueError, "timeout"),
    ({"retries": 1000}, ValueError, "retries"),
    ({"method": "FETCH"}, ValueError, "method"),
    ({"headers": ["no colon"]}, ValueError, "headers"),
    ({"headers": {"X": "a\r\nb"}}, ValueError, "headers"),
    ({"location": "yes"}, TypeError, "location"),
    ({"follow_redirects": 1}, TypeError, "location"),
    ({"compressed": None, "engine": "fast"}, ValueError, "engine"),
    ({"body": "file"}, ValueError, "body"),
    ({"max_body": "lots"}, ValueError, "max_body"),
    ({"resolve": ["nohost"]}, ValueError, "resolve"),
    ({"dns_servers": "x y"}, ValueError, "dns_servers"),
    ({"cacert": "/nonexistent/ca.pem"}, ValueError, "cacert"),
    ({"proxy_cacert": "/nonexistent/ca.pem"}, ValueError, "proxy_cacert"),
    ({"proxy_insecure": "yes"}, TypeError, "proxy_insecure"),
    ({"speed_time": 0}, ValueError, "speed_time"),
    ({"ordered": "yes"}, TypeError, "ordered"),
    ({"shard": "1/2"}, TypeError, "shard"),
    ({"no_such_option": 1}, TypeError, "no_such_option"),
])
def test_bad_option_names_itself(opts, exc, name):
    with pytest.raises(exc, match=name):
        mpool.fetch(["http://127.0.0.1:1/"], **opts)


@pytest.mark.parametrize("urls", ["http://127.0.0.1:1/",
                                  b"http://127.0.0.1:1/",
                                  {"url": "http://127.0.0.1:1/"}])
def test_one_url_alone_is_refused(urls):
    """A str is iterable: fetch("http://...") would fetch each character.
    One URL (or input line) alone is a TypeError, before any worker."""
    before = descendants()
    for call, name in [(mpool.fetch, "fetch"), (mpool.afetch, "afetch")]:
        with pytest.raises(TypeError, match=name + r": urls must be an "
                           r"iterable of URLs .*give \[url\]"):
            call(urls, workers=1)
    assert descendants() == before
    with mpool.Pool(workers=1, concurrency=2) as p:
        for call, name in [(p.fetch, "Pool.fetch"), (p.map, "Pool.map"),
                           (p.imap, "Pool.imap"),
                           (p.imap_unordered, "Pool.imap_unordered")]:
            with pytest.raises(TypeError, match=name + ": urls"):
                call(urls)


@pytest.mark.parametrize("how", ["close", "with"])
def test_close_stops_the_run(server, how):
    """close() (a generator's) and a with block end the run at once: its
    workers exit, and next() raises StopIteration."""
    before = descendants()
    urls = (server.url("/ok") for _ in range(10 ** 9))
    it = mpool.fetch(urls, workers=1, concurrency=4)
    if how == "close":
        assert next(it)["ok"]
        pids = descendants() - before
        it.close()
    else:
        with it as records:
            assert records is it
            assert next(records)["ok"]
            pids = descendants() - before
    assert pids  # the run's forkserver and worker
    assert wait_gone(pids) == set()
    with pytest.raises(StopIteration):
        next(it)
    it.close()  # again: nothing to do


def test_bad_item_is_a_type_error(server):
    it = mpool.fetch([server.url("/ok"), 42], workers=1)
    with pytest.raises(TypeError, match="str, bytes or dict"):
        list(it)


def test_input_error_propagates(server):
    def gen():
        yield server.url("/ok")
        raise RuntimeError("input broke")

    with pytest.raises(RuntimeError, match="input broke"):
        list(mpool.fetch(gen(), workers=1))


ASAN = bool(os.environ.get("MP_TEST_ASAN"))


def test_million_urls_stay_under_60_mb(server):
    """A generator of 1,000,000 URLs through mpool.fetch: the Python
    process's peak RSS stays under 60 MB (a fresh interpreter, so the
    peak is this run's alone). Under ASan (its shadow memory and
    quarantine are most of the RSS) 100,000 URLs and no bound."""
    total = 100000 if ASAN else 1000000
    code = f"""
import resource, sys, mpool
sys.path.insert(0, {HERE!r})
from watch import deaths, watch_pools
pools = watch_pools()
n = ok = 0
urls = ("{server.url('/ok')}" for _ in range({total}))
for rec in mpool.fetch(urls, workers=2, concurrency=100):
    n += 1
    ok += rec["ok"]
print(n, ok, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      *deaths(pools))
"""
    p = run_py(code, timeout=500)
    assert p.returncode == 0, p.stderr
    n, ok, maxrss_kb, died, retried = map(int, p.stdout.split())
    assert n == ok == total
    assert died == retried == 0
    if not ASAN:
        assert maxrss_kb < 60 * 1024, f"peak RSS {maxrss_kb} KiB"


def test_resume_skips_lines_with_a_record(server, tmp_path):
    lines = [server.url(f"/bytes/{n}") for n in range(1, 7)]
    out = tmp_path / "out.jsonl"
    first = [r for r in mpool.fetch(lines, workers=2, ordered=True)]
    with open(out, "w") as f:  # lines 1, 2 and 5 done, then a torn record
        for r in first:
            if r["line"] in (1, 2, 5):
                f.write(json.dumps(r) + "\n")
        f.write('{"line":3,"url":"x')
    rest = list(mpool.fetch(lines, workers=2, ordered=True, resume=out))
    assert [r["line"] for r in rest] == [3, 4, 6]
    assert [r["url"] for r in rest] == [lines[2], lines[3], lines[5]]
    assert all(r["ok"] for r in rest)
    # a file that is not there yet: nothing done
    again = list(mpool.fetch(lines, workers=1, resume=tmp_path / "none"))
    assert sorted(r["line"] for r in again) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(TypeError, match="resume"):
        mpool.fetch(lines, resume=3)
