"""mpool and mpfetch share one set of rules, in C: the pool's credit
(fetch_pool_options, workers/fetch_pool.h), a task's deadline and the
seconds as milliseconds (fetch_task_timeout_ms, fetch_ms), and the
options' bounds (the
FETCH_MAX_* of workers/fetch_config.h and fetch_pool.h, module constants
of mpool._mpool). mpool keeps no copy of either: these tests fail when
one front end takes what the other refuses, or sizes the pool otherwise."""
import subprocess

import pytest

import mpool
from mpool import _mpool

# (workers, concurrency, prefetch): a worker's credit of 4 x concurrency,
# at least FETCH_MIN_CREDIT; the library's default (0) past MP_MAX_PREFETCH
# or FETCH_MAX_CREDIT tasks in the pool. The same table as
# tests/mpfetch/test_mpfetch_units.c's test_pool_options, which runs it
# through mpfetch's -w and -c.
CREDIT = [
    (1, 1, 63), (1, 15, 49), (1, 16, 48), (1, 64, 192), (4, 4096, 12288),
    (4, 4097, 0), (16, 1024, 3072), (16, 1025, 0), (1, 6666, 19998),
    (1, 6667, 0), (512, 15, 49), (512, 32, 96), (512, 33, 0),
    (2, 20000, 0), (0, 1, 63),
]


def prefetch(**options):
    return mpool._Options("fetch", options).prefetch


@pytest.mark.parametrize("workers,concurrency,want", CREDIT)
def test_the_credit_is_the_c_rule(workers, concurrency, want):
    assert _mpool.FETCH_MIN_CREDIT == 64
    assert _mpool.FETCH_MAX_CREDIT == 65536
    assert _mpool._fetch_pool_options(workers, concurrency) == \
        (workers, concurrency, want)
    assert prefetch(workers=workers, concurrency=concurrency) == want
    o = mpool._Options("Pool", dict(workers=workers, concurrency=concurrency))
    assert o.prefetch == want


def test_default_workers_count_as_the_cpus():
    """workers=None (and mpfetch without -w) counts the workers the pool
    starts, mpool.cpus_available(), against FETCH_MAX_CREDIT."""
    cpus = min(mpool.cpus_available(), _mpool.MAX_WORKERS)
    for c in (16, 64, 1024, 4096, 6666, 8192):
        want = _mpool._fetch_pool_options(cpus, c)[2]
        assert _mpool._fetch_pool_options(0, c) == (0, c, want)
        assert prefetch(concurrency=c) == want
        assert prefetch(workers=None, concurrency=c) == want


def test_no_copy_of_the_rule_in_python():
    for name in ("_MIN_CREDIT", "_MAX_CREDIT"):
        assert not hasattr(mpool, name), name


# (timeout, connect_timeout, retries, timeout_ms, connect_timeout_ms, the
# pool's task_timeout_ms): the table of test_mpfetch_units.c's
# test_task_timeout, where mpfetch's options give the same.
DEADLINES = [
    (30, 10, 0, 30000, 10000, 60000),
    (30, 10, 2, 30000, 10000, 160000),
    (0, 10, 5, 0, 10000, 0),
    (0.0001, 0.001, 0, 1, 1, 20001),
    (2.5, 0.0015, 1, 2500, 2, 35003),
    (864000, 864000, 100, 864000000, 864000000, 0xffffffff),
]


@pytest.mark.parametrize("t,ct,r,t_ms,ct_ms,task_ms", DEADLINES)
def test_the_deadlines_are_the_c_ones(t, ct, r, t_ms, ct_ms, task_ms):
    o = mpool._Options("fetch", dict(timeout=t, connect_timeout=ct,
                                     retries=r))
    assert o.task_timeout_ms() == task_ms
    assert _mpool._fetch_task_timeout_ms(t, ct, r) == task_ms
    got = _mpool._fetch_config_parse(o.config)
    assert (got["timeout_ms"], got["connect_timeout_ms"]) == (t_ms, ct_ms)
    assert not hasattr(mpool, "_to_ms")


# (mpool's option, mpfetch's, the bound's constant in _mpool, above: the
# bound is a maximum (else a minimum), runs: mpfetch is run at the bound)
BOUNDS = [
    ("retries", "--retries", "FETCH_MAX_RETRIES", True, True),
    ("max_redirs", "--max-redirs", "FETCH_MAX_REDIRS", True, True),
    ("per_host", "--per-host", "FETCH_MAX_PER_HOST", True, True),
    ("speed_time", "--speed-time", "FETCH_MAX_SPEED_TIME", True, True),
    ("speed_limit", "--speed-limit", "FETCH_MAX_SPEED_LIMIT", True, True),
    ("max_body", "--max-body", "FETCH_MAX_BODY", True, True),
    ("timeout", "--timeout", "FETCH_MAX_SECONDS", True, True),
    ("connect_timeout", "--connect-timeout", "FETCH_MAX_SECONDS", True,
     True),
    ("connect_timeout", "--connect-timeout", "FETCH_MIN_CONNECT_TIMEOUT",
     False, True),
    ("rate", "--rate", "FETCH_MAX_RATE", True, True),
    ("workers", "--workers", "MAX_WORKERS", True, False),
    ("concurrency", "--concurrency", "MAX_CONCURRENCY", True, False),
]


def text(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def run_mpfetch(mpfetch, empty, opt, v):
    args = [mpfetch, "-q", opt, text(v), str(empty)]
    if opt != "--workers":
        args[1:1] = ["-w", "1"]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("py,cli,const,above,runs", BOUNDS,
                         ids=[f"{b[0]}-{b[2]}" for b in BOUNDS])
def test_the_bounds_are_mpfetchs(py, cli, const, above, runs, mpfetch,
                                 tmp_path):
    """At its bound an option is taken by both front ends (and mpool's
    configuration reads back in a worker); one step past it both refuse
    it, naming the option: mpool with ValueError, mpfetch with exit 2."""
    bound = getattr(_mpool, const)
    past = bound + 1 if above else bound / 2
    if isinstance(bound, int) or float(bound).is_integer():
        bound = int(bound)
        past = int(past) if above else past
    o = mpool._Options("fetch", {py: bound})
    assert _mpool._fetch_config_parse(o.config) is not None
    with pytest.raises(ValueError, match=py):
        mpool.fetch([], **{py: past})
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    if runs:
        p = run_mpfetch(mpfetch, empty, cli, bound)
        assert p.returncode == 0, (cli, bound, p.stderr)
    p = run_mpfetch(mpfetch, empty, cli, past)
    assert p.returncode == 2, (cli, past, p.stderr)
    assert cli in p.stderr, p.stderr
