"""mpool and mpfetch share one set of rules, in C: the pool's credit
(fetch_pool_options, workers/fetch_pool.h). mpool keeps no copy of it:
these tests fail when one front end sizes the pool otherwise."""
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
