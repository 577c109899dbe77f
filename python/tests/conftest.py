"""Fixtures of the mpool suite: mp-testserver on loopback (one for the
session), mpfetch of the same build, the processes below this one, and
the check, after every test, that no worker of the pools it made died
(a test whose workers die on purpose is marked workers_die)."""
import os
import subprocess
import sys
import time

import pytest

from watch import deaths, watch_pools

HERE = os.path.dirname(os.path.abspath(__file__))


def _need(var):
    v = os.environ.get(var)
    if not v:
        pytest.exit(f"{var} is not set: run the suite through ctest "
                    f"(python_tests)", returncode=2)
    return v


class Server:
    def __init__(self, proc, port):
        self.proc, self.port = proc, port
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path):
        return self.base + path


@pytest.fixture(scope="session")
def server():
    bin_ = _need("MP_TEST_SERVER")
    p = subprocess.Popen([bin_, "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    assert line and line[0] == "PORT", line
    yield Server(p, int(line[1]))
    p.stdin.close()
    p.wait(timeout=30)


@pytest.fixture(scope="session")
def mpfetch():
    return _need("MP_MPFETCH")


def descendants(root=None):
    """The pids below root (default: this process), from /proc."""
    import mpool
    return mpool._descendants(os.getpid() if root is None else root)


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(b")") + 2:st.rindex(b")") + 3] != b"Z"


def wait_gone(pids, timeout=20):
    """Waits (bounded) until no pid of pids is alive; returns those left.
    A process that exited may be a zombie for a moment before its parent
    (a forkserver) reaps it."""
    end = time.monotonic() + timeout
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < end:
        time.sleep(0.02)
        left = {p for p in left if alive(p)}
    return left


def run_py(code, timeout=300, **kw):
    """Runs python3 code in a fresh interpreter with this environment."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=timeout, **kw)


def mpfetch_no_death(summary):
    """Asserts that mpfetch's --summary-json file says no worker died and
    no request ran again (the records would not show it)."""
    import json
    with open(summary) as f:
        s = json.load(f)
    assert (s["workers_died"], s["tasks_retried"]) == (0, 0), s


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "workers_die: the test kills workers on purpose (no "
        "check that none of its pools' workers died)")


@pytest.fixture(autouse=True)
def no_worker_died(request, monkeypatch):
    """After the test: no worker of a pool it made died, and no task ran
    again."""
    if request.node.get_closest_marker("workers_die"):
        yield
        return
    pools = watch_pools(monkeypatch.setattr)
    yield
    assert deaths(pools) == (0, 0), \
        f"(workers died, tasks run again) in {len(pools)} pools"
