"""Python tasks for the Pool tests: functions of an importable module, as
ProcessPoolExecutor wants them."""
import os


def square(x):
    return x * x


def fail(msg):
    raise ValueError(msg)


def pid(_=None):
    return os.getpid()


def crash(_=None):
    os._exit(3)


def add(a, b=0, *, c=0):
    return a + b + c


def log_line(i):
    """Logs through a handler that threads of the parent were using when
    the forkserver started (test_safety): its lock must not be held here."""
    import logging
    logging.getLogger("mpool-test").warning("task %d", i)
    return i
