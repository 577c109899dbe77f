"""mpool: libmpool from Python. Fetch large batches of URLs across all
cores (the fetch task mpfetch runs), and run Python calls in forked worker
processes, without asyncio + aiohttp + ProcessPoolExecutor.

    import mpool
    for rec in mpool.fetch(["http://127.0.0.1:8080/a", ...], concurrency=50):
        print(rec["status"], rec["url"])

Records are dicts with the fields and names of mpfetch's JSON lines
(mpfetch(1)). Options are mpfetch's long options with "-" written "_"
(concurrency, timeout, retries, location or follow_redirects, headers...).

The forkserver that forks every worker starts at `import mpool`: import it
before the program starts threads. Workers are forks of the interpreter
as it was then; a Python task's function is sent by reference (pickle), so
it must be importable: a module's function, or one of the main script's
under `if __name__ == "__main__":` (the worker runs the script as
__mp_main__ to find it, as multiprocessing's spawn does).
"""

import errno as _errno
import os
import sys as _sys

# _mpool carries libmpool, whose libraries (libcurl and what it links:
# TLS, LDAP, Kerberos...) hold thousands of symbols. Python dlopens an
# extension with RTLD_NOW, which binds every one of them at import: 5 ms
# of a run's start. Lazily, as a program (mpfetch) binds them, only those
# called are bound, when first called.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags((_flags & ~os.RTLD_NOW) | os.RTLD_LAZY)
try:
    from . import _mpool
finally:
    _sys.setdlopenflags(_flags)

__all__ = ["fetch", "afetch", "Pool", "WorkerError", "cpus_available"]
__version__ = _mpool.LIBMPOOL_VERSION

cpus_available = _mpool.cpus_available


class WorkerError(OSError):
    """A task ended without an answer from its function: its worker died
    (MP_EWORKER), the pool failed (MP_EABORTED), or its deadline passed."""


# ---- options -------------------------------------------------------------

_ALIASES = {
    "follow_redirects": "location",
    "request": "method",
    "header": "headers",
    "include_headers": "include",
    "http1": "http1_1",
}


def _bad_type(fn, name, want, v):
    return TypeError(f"{fn}: {name} must be {want}, got {v!r}")


def _int(fn, name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad_type(fn, name, "an int", v)
    if not lo <= v <= hi:
        raise ValueError(f"{fn}: {name} must be between {lo} and {hi}, "
                         f"got {v}")
    return v


def _num(fn, name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _bad_type(fn, name, "a number", v)
    if not lo <= v <= hi:
        raise ValueError(f"{fn}: {name} must be between {lo} and {hi}, "
                         f"got {v}")
    return float(v)


def _bool(fn, name, v):
    if not isinstance(v, bool):
        raise _bad_type(fn, name, "True or False", v)
    return v


def _str(fn, name, v):
    if not isinstance(v, str):
        raise _bad_type(fn, name, "a str", v)
    return v


def _bytes_size(fn, name, v, hi=1 << 62):
    """An int up to hi, or mpfetch's BYTES with a k, M or G suffix
    ("16M")."""
    if isinstance(v, str):
        mult = {"k": 1 << 10, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        s = v[:-1] if v and v[-1] in mult else v
        try:
            n = int(s) * mult.get(v[-1:], 1)
        except ValueError:
            raise ValueError(f"{fn}: {name} must be a size in bytes "
                             f"(suffixes k, M, G), got {v!r}") from None
        v = n
    return _int(fn, name, v, 0, hi)


def _headers(fn, v):
    if isinstance(v, dict):
        v = [f"{k}: {x}" for k, x in v.items()]
    elif isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)):
        raise _bad_type(fn, "headers", "a dict, or a list of 'Name: value' "
                        "or of (name, value) pairs", v)
    # (name, value) pairs, as aiohttp and requests take them: a name may
    # come twice, which a dict cannot say
    v = [f"{h[0]}: {h[1]}" if isinstance(h, tuple) and len(h) == 2 and
         all(isinstance(x, str) for x in h) else h for h in v]
    for h in v:
        if not isinstance(h, str) or not _mpool._header_ok(h):
            raise ValueError(f"{fn}: headers wants 'Name: value' lines "
                             f"(no CR, LF or NUL), got {h!r}")
    return list(v)


class _Options:
    """Every option of fetch / afetch / Pool checked once: the fetch task's
    configuration (workers/fetch.h) as mpfetch's fetchconf.c builds it,
    and the pool's size and pace from the fetch task's fetch_pool_options,
    which mpfetch's mpf_pool_options calls too."""

    def __init__(self, fn, opts, pool_only=()):
        o = {}
        for k, v in opts.items():
            k = _ALIASES.get(k, k)
            if k not in _KNOWN and k not in pool_only:
                raise TypeError(f"{fn}() got an unexpected keyword argument "
                                f"{k!r}")
            if k in o:
                raise TypeError(f"{fn}: {k} given twice (under two names)")
            o[k] = v
        self.fn = fn
        self._o = o
        g = self._get
        self.workers = _int(fn, "workers", g("workers", 0) or 0, 0,
                            _mpool.MAX_WORKERS)
        self.concurrency = _int(fn, "concurrency", g("concurrency", 64), 1,
                                _mpool.MAX_CONCURRENCY)
        # the bounds: the fetch task's (workers/fetch_config.h, fetch_pool.h),
        # mpfetch's options' too
        self.rate = _num(fn, "rate", g("rate", 0), 0, _mpool.FETCH_MAX_RATE)
        self.timeout = _num(fn, "timeout", g("timeout", 30), 0,
                            _mpool.FETCH_MAX_SECONDS)
        self.connect_timeout = _num(fn, "connect_timeout",
                                    g("connect_timeout", 10),
                                    _mpool.FETCH_MIN_CONNECT_TIMEOUT,
                                    _mpool.FETCH_MAX_SECONDS)
        self.retries = _int(fn, "retries", g("retries", 0), 0,
                            _mpool.FETCH_MAX_RETRIES)
        # the credit rule of mpfetch's -w and -c (fetch_pool_options)
        _, _, self.prefetch = _mpool._fetch_pool_options(self.workers,
                                                         self.concurrency)
        self.config = self._config()

    def _get(self, k, default=None):
        v = self._o.get(k)
        return default if v is None else v

    def _config(self):
        """The fetch task's configuration (the pool's init argument), as
        JSON bytes written by the fetch task's own writer
        (fetch_config_json, through _mpool._fetch_config) from the
        options: the fields of its fetch_cfg that the options set, the
        rest at the task's defaults, as mpfetch's fetchconf.c fills it."""
        fn, g = self.fn, self._get
        conf = {}
        m = g("method")
        if m is not None:
            name = _mpool._method_name(_str(fn, "method", m))
            if name is None:
                raise ValueError(f"{fn}: method must be one of GET, HEAD, "
                                 f"POST, PUT, DELETE, PATCH, OPTIONS, got "
                                 f"{m!r}")
            conf["method"] = name
        conf["headers"] = _headers(fn, g("headers", []))
        d = g("data")
        if d is not None:
            if not isinstance(d, bytes):
                _str(fn, "data", d)
            conf["data"] = d  # UTF-8 or refused by the writer
        conf["follow"] = _bool(fn, "location", g("location", False))
        mr = g("max_redirs")
        if mr is not None:
            conf["max_redirs"] = _int(fn, "max_redirs", mr, 0,
                                      _mpool.FETCH_MAX_REDIRS)
        conf["compressed"] = _bool(fn, "compressed", g("compressed", False))
        conf["insecure"] = _bool(fn, "insecure", g("insecure", False))
        conf["proxy_insecure"] = _bool(fn, "proxy_insecure",
                                       g("proxy_insecure", False))
        conf["http1"] = _bool(fn, "http1_1", g("http1_1", False))
        e = g("engine")
        if e is not None:
            if not _mpool._engine_ok(_str(fn, "engine", e)):
                raise ValueError(f"{fn}: engine must be auto, native or "
                                 f"curl, not {e!r}")
            conf["engine"] = e
        for k in ("proxy", "noproxy"):
            if g(k) is not None:
                conf[k] = _str(fn, k, g(k))
        r = g("resolve")
        if r is not None:
            r = [r] if isinstance(r, str) else list(r)
            for x in r:
                if not isinstance(x, str) or not _mpool._resolve_ok(x):
                    raise ValueError(f"{fn}: resolve wants HOST:PORT:ADDR"
                                     f"[,ADDR...], got {x!r}")
            conf["resolve"] = r
        ds = g("dns_servers")
        if ds is not None:
            if not _mpool._dns_servers_ok(_str(fn, "dns_servers", ds)):
                raise ValueError(f"{fn}: dns_servers wants ADDR[:PORT]"
                                 f"[,ADDR[:PORT]...], got {ds!r}")
            conf["dns_servers"] = ds
        conf["timeout_ms"] = _mpool._fetch_ms(self.timeout)
        conf["connect_timeout_ms"] = _mpool._fetch_ms(self.connect_timeout)
        conf["retries"] = self.retries
        conf["per_host"] = _int(fn, "per_host", g("per_host", 0), 0,
                                _mpool.FETCH_MAX_PER_HOST)
        body, body_dir = self._body(g("body", "none"))
        conf["body"] = body
        conf["include_headers"] = _bool(fn, "include", g("include", False))
        mb = _bytes_size(fn, "max_body", g("max_body", 0),
                         _mpool.FETCH_MAX_BODY)
        if mb:
            conf["max_body"] = mb
        sl = _bytes_size(fn, "speed_limit", g("speed_limit", 0))
        if sl > _mpool.FETCH_MAX_SPEED_LIMIT:
            raise ValueError(f"{fn}: speed_limit must be below 4G bytes per "
                             f"second, got {sl}")
        conf["speed_limit"] = sl
        st = g("speed_time")
        if st is not None:
            conf["speed_time"] = _int(fn, "speed_time", st, 1,
                                      _mpool.FETCH_MAX_SPEED_TIME)
        for k in ("cacert", "proxy_cacert"):
            ca = g(k)
            if ca is not None:
                if not _str(fn, k, ca) or not os.access(ca, os.R_OK):
                    raise ValueError(f"{fn}: {k} file {ca!r} cannot be read")
                conf[k] = os.path.realpath(ca)
        if body_dir is not None:
            conf["body_dir"] = os.path.realpath(body_dir)
        text = _mpool._fetch_config(conf)
        if isinstance(text, tuple):  # the writer refused a text
            raise self._refused(conf, *text)
        return text

    def _refused(self, conf, key, i):
        """The ValueError for the text fetch_config_json refused (key,
        and i for a list's element), under the option's name."""
        fn = self.fn
        if key == "data":
            return ValueError(f"{fn}: data must be UTF-8 text; binary "
                              f"bodies are not supported")
        opt = {"body_dir": "body"}.get(key, key)
        v = conf[key][i] if key in ("headers", "resolve") else conf[key]
        if isinstance(v, int):  # past its FETCH_MAX_*: checked above first
            return ValueError(f"{fn}: {opt} is past its limit, got {v}")
        return ValueError(f"{fn}: {opt} must be UTF-8 text, got {v!r}")

    def _body(self, b):
        fn = self.fn
        _str(fn, "body", b)
        mode, _, path = b.partition(":")
        if not _mpool._body_ok(mode) or (mode == "dir") != bool(path):
            raise ValueError(f"{fn}: body must be none, inline, sha256 or "
                             f"dir:PATH, got {b!r}")
        if mode != "dir":
            return mode, None
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{fn}: body directory {path!r} cannot be "
                             f"written to")
        return mode, path

    def task_timeout_ms(self):
        """The pool's deadline for one fetch task: mpfetch's safety net
        (fetch_task_timeout_ms, which fetchconf.c calls), 0 for
        timeout=0."""
        return _mpool._fetch_task_timeout_ms(self.timeout,
                                             self.connect_timeout,
                                             self.retries)

    def make_pool(self, task_timeout_ms, stack_size=0):
        why = _mpool._pool_options_check(self.workers, self.concurrency,
                                         self.prefetch, self.rate,
                                         stack_size)
        if why is not None:
            raise ValueError(f"{self.fn}: {why}")
        return _mpool.Pool(self.workers, self.concurrency, self.prefetch,
                           self.rate, task_timeout_ms, stack_size,
                           self.config)

    def window(self, cpool):
        """Tasks a run keeps in flight: the pool's credit, plus one more
        round of concurrency queued so that no worker waits for input."""
        w = cpool.workers()
        per = self.concurrency + (self.prefetch or self.concurrency)
        return w * (per + self.concurrency)


_KNOWN = {"workers", "concurrency", "timeout", "connect_timeout", "retries",
          "method", "headers", "data", "location", "max_redirs",
          "compressed", "insecure", "http1_1", "engine", "proxy", "noproxy",
          "resolve", "dns_servers", "per_host", "rate", "body", "include",
          "max_body", "speed_limit", "speed_time", "cacert", "proxy_insecure",
          "proxy_cacert"}


def _ordered(fn, v):
    return _bool(fn, "ordered", v)


# ---- fetch, afetch -------------------------------------------------------

class _Resume:
    """resume=PATH: what the JSON-lines file PATH already holds, read by
    mpfetch --resume's own reader (fetch_resume_load, workers/
    fetch_resume.h), so both count the same lines as done: a missing file
    holds nothing; a torn last line, or any line that is not a record,
    counts for no line; the file is not written. done: the line numbers
    that have a record (a compact C set: `n in done`, len); and the
    distinct run stamps (the "run" member mpfetch puts in the first
    record of each run with -o FILE, fetch_stamp.h) with the count of bad
    ones, which check() compares with the new input, as mpfetch does."""

    def __init__(self, fn, path):
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise _bad_type(fn, "resume", "a path", path)
        self.fn, self.path = fn, os.fsdecode(path)
        self.done, self.stamps, self.bad = None, [], 0
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            self.done, self.stamps, self.bad = _mpool._resume_load(fd)
        except OSError as e:
            e.filename = self.path
            raise
        finally:
            os.close(fd)

    def need(self):
        """How many of the new input's first bytes check() needs."""
        if not self.stamps or self.bad:
            return 0
        return _mpool._stamp_need(self.stamps)

    def check(self, head, name):
        """Raises ValueError with mpfetch's sentence when the file holds
        the records of a shard (mpool.fetch has none) or of another input
        than the one whose first bytes are head (name: for the message)."""
        if not self.stamps and not self.bad:
            return
        why = _mpool._stamp_check(self.path, self.stamps, self.bad, head,
                                  name)
        if why is not None:
            raise ValueError(f"{self.fn}: {why}")


def _line_bytes(x):
    """The bytes mpfetch would read for the input item x: a str or bytes
    line, or a dict as its compact JSON line, ended by a newline. None
    for an item that is none of them (the Run refuses it)."""
    if isinstance(x, str):
        b = x.encode("utf-8", "surrogatepass")
    elif isinstance(x, bytes):
        b = x
    elif isinstance(x, dict):
        b = _mpool._json_line(x)
    else:
        return None
    return b if b.endswith(b"\n") else b + b"\n"


class _Head:
    """Collects the first `need` bytes of an input, item by item, as
    mpfetch's stamp hashes them (_line_bytes)."""

    def __init__(self, need):
        self.need, self.buf, self.held = need, bytearray(), []

    def full(self):
        return len(self.buf) >= self.need

    def add(self, x):
        self.held.append(x)
        b = _line_bytes(x)
        if b is None:
            self.need = len(self.buf)  # no further: the Run refuses x
        else:
            self.buf += b

    def bytes(self):
        return bytes(self.buf[:self.need])


def _input_name(urls):
    """The input's name for resume='s messages: an open file's, else
    "urls" (the argument)."""
    name = getattr(urls, "name", None)
    return name if isinstance(name, str) else "urls"


def _resumed(fn, urls, resume):
    """urls after resume=PATH's check (_Resume.check over its first
    items, read ahead and given back in front), with the lines that have
    a record in PATH blanked: a blank line is counted and not fetched, so
    the others keep their line numbers."""
    r = _Resume(fn, resume)
    need = r.need()
    if r.stamps or r.bad:
        name, it, head = _input_name(urls), iter(urls), _Head(need)
        while not head.full():
            x = next(it, _Head)
            if x is _Head:
                break
            head.add(x)
        r.check(head.bytes(), name)
        import itertools
        urls = itertools.chain(head.held, it)
    return _skipping(urls, r.done) if r.done else urls


def _urls(fn, urls):
    """urls itself, refused if it is one URL or one input line: a str,
    bytes or a dict is iterable, and would be fetched character by
    character (or key by key)."""
    if isinstance(urls, (str, bytes, bytearray, memoryview, dict)):
        raise TypeError(f"{fn}: urls must be an iterable of URLs (str, "
                        f"bytes or dict items), got one "
                        f"{type(urls).__name__}: give [url] for one URL")
    return urls


def _skipping(urls, done):
    """urls with the lines in done blanked."""
    for n, x in enumerate(urls, 1):
        yield "" if n in done else x


def fetch(urls, *, ordered=False, resume=None, **options):
    """Fetches every URL of the iterable urls (str, bytes, or dicts like
    mpfetch's JSON input lines) and returns an iterator over the records,
    pulled lazily: at most a few rounds of the pool's concurrency are in
    flight, so memory stays bounded on an endless generator. As they
    finish, or in input order with ordered=True. The pool and its workers
    live as long as the iterator: exhausted, closed (close(), the end of a
    `with mpool.fetch(urls) as records:` block, break, del) or
    interrupted (KeyboardInterrupt), it stops every worker.
    resume=PATH skips the lines that already have a record in the JSON-lines
    file PATH (records written as they came, e.g. by mpfetch -o or by this
    function's caller), as mpfetch --resume does; the caller appends what
    it gets. As mpfetch, it refuses (ValueError) a PATH whose run stamp
    says it holds the records of a shard (mpfetch --shard) or of another
    input: the stamp's digest of the input's first bytes (at most 64 KiB,
    the items as lines, read ahead from urls, a generator too) must match.
    Records without a stamp (this function's) are resumed unchecked."""
    urls = _urls("fetch", urls)
    ordered = _ordered("fetch", ordered)
    o = _Options("fetch", options)
    if resume is not None:
        urls = _resumed("fetch", urls, resume)
    cpool = o.make_pool(o.task_timeout_ms())
    return _mpool.Run(cpool, urls, _mpool.FETCH, ordered, o.window(cpool),
                      True)


class _Waiter:
    """Waits on the running asyncio loop for what a Run's pool waits for:
    its descriptors (loop.add_reader / add_writer) and its next timer."""

    def __init__(self, loop, run):
        self.loop, self.run = loop, run
        self.rd, self.wr = set(), set()
        self.fut = None
        self.poked = False  # woken while not waiting: the next wait returns

    def _wake(self, *_):
        if self.fut is None:
            self.poked = True
        elif not self.fut.done():
            self.fut.set_result(None)

    def _sync(self, have, want, add, remove):
        for fd in have - want:
            remove(fd)
        for fd in want - have:
            add(fd, self._wake)
        return set(want)

    async def wait(self):
        if self.poked:
            self.poked = False
            return
        rd, wr, delay = self.run.fds()
        self.rd = self._sync(self.rd, rd, self.loop.add_reader,
                             self.loop.remove_reader)
        self.wr = self._sync(self.wr, wr, self.loop.add_writer,
                             self.loop.remove_writer)
        self.fut = self.loop.create_future()
        # Timers of the pool (respawn back-off, rate) without a descriptor;
        # a second at most, in case a descriptor came and went between.
        h = self.loop.call_later(min(delay, 1.0) if delay is not None
                                 else 1.0, self._wake)
        try:
            await self.fut
        finally:
            h.cancel()
            self.fut = None

    def close(self):
        for fd in self.rd:
            self.loop.remove_reader(fd)
        for fd in self.wr:
            self.loop.remove_writer(fd)
        self.rd, self.wr = set(), set()


class _AsyncInput:
    """A Run's input from an async iterable, for afetch: a task on the loop
    (feed) pulls it, at most `room` items ahead of the Run, which takes
    them as a plain iterator, _mpool.LATER while none is there yet.
    resume (a _Resume, or None): its stamps are checked against the
    input's first items before any is handed on; its done lines are
    blanked."""

    def __init__(self, src, room, resume):
        import asyncio
        import collections
        self.src, self.room, self.resume = src, room, resume
        self.done = resume.done if resume is not None else None
        self.n = 0
        self.buf = collections.deque()
        self.space = asyncio.Event()
        self.exc = None
        self.ended = False
        self.wake = lambda: None

    def __iter__(self):
        return self

    def __next__(self):
        if self.buf:
            self.space.set()
            return self.buf.popleft()
        if self.exc is not None:
            e, self.exc = self.exc, None
            raise e
        if self.ended:
            raise StopIteration
        return _mpool.LATER

    async def _put(self, x):
        self.n += 1
        while len(self.buf) >= self.room:
            self.space.clear()
            await self.space.wait()
        self.buf.append("" if self.done and self.n in self.done else x)
        self.wake()

    async def feed(self):
        import asyncio
        r, head = self.resume, None
        if r is not None and (r.stamps or r.bad):
            head = _Head(r.need())
        try:
            async for x in self.src:
                if head is None:
                    await self._put(x)
                    continue
                head.add(x)
                if head.full():  # the check, then what it read ahead
                    r.check(head.bytes(), _input_name(self.src))
                    held, head = head.held, None
                    for y in held:
                        await self._put(y)
            if head is not None:  # the input ended within the bytes
                r.check(head.bytes(), _input_name(self.src))
                for y in head.held:
                    await self._put(y)
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # the input's error, raised by the Run
            self.exc = e
        finally:
            self.ended = True
            self.wake()


async def _arun(run, ainput=None):
    import asyncio  # here, not at import: it costs a run 60 ms of start
    loop = asyncio.get_running_loop()
    w = _Waiter(loop, run)
    feeder = None
    if ainput is not None:
        ainput.wake = w._wake
        feeder = loop.create_task(ainput.feed())
    try:
        while True:
            recs, finished = run.step()
            for rec in recs:
                yield rec
            if finished:
                return
            if not recs:
                await w.wait()
    finally:
        if feeder is not None:
            feeder.cancel()
        w.close()
        run.stop()


def afetch(urls, *, ordered=False, resume=None, **options):
    """fetch() for asyncio: `async for rec in mpool.afetch(urls, ...)`.
    Records arrive on the running loop, which never blocks on the pool: the
    pool's descriptors are registered with loop.add_reader (the pool is
    attached to an event_base of the module's, mp_pool_attach). Canceling
    the task that iterates (asyncio.CancelledError) cancels the batch and
    stops every worker. urls is an iterable or an async iterable (an async
    generator, say: it is pulled on the loop, a window ahead of the
    records, as fetch() pulls its input); resume as fetch()'s, but the run
    stamp of an async iterable's input is checked on the loop, before its
    first item is fetched: a refusal (ValueError) comes out of the async
    for, with no record before it."""
    urls = _urls("afetch", urls)
    ordered = _ordered("afetch", ordered)
    o = _Options("afetch", options)
    asynchronous = hasattr(urls, "__aiter__")
    r = None
    if resume is not None and asynchronous:
        r = _Resume("afetch", resume)
    elif resume is not None:
        urls = _resumed("afetch", urls, resume)
    cpool = o.make_pool(o.task_timeout_ms())
    window = o.window(cpool)
    ainput = _AsyncInput(urls, window, r) if asynchronous else None
    run = _mpool.Run(cpool, urls if ainput is None else ainput, _mpool.FETCH,
                     ordered, window, True, True)
    return _arun(run, ainput)


# ---- Pool ----------------------------------------------------------------

def _descendants(root):
    """The pids of every process below root, from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = set(), [root]
    while todo:
        for k in kids.get(todo.pop(), ()):
            out.add(k)
            todo.append(k)
    return out


def _python_outcome(raw):
    """A Python task's value, or the exception it raised (raised here)."""
    if isinstance(raw, tuple):  # the pool's failure: (code, name, message)
        code, name, msg = raw
        if code == -_errno.ETIMEDOUT:
            raise TimeoutError(f"{name}: {msg}")
        if code == -_errno.ECANCELED:
            import concurrent.futures
            raise concurrent.futures.CancelledError(f"{name}: {msg}")
        raise WorkerError(f"{name}: {msg}")
    import pickle  # here, not at import: a fetch never needs it
    answer = pickle.loads(raw)
    if answer[0]:
        return answer[1]
    exc, tb = answer[1], answer[2]
    if tb:
        exc.add_note("The task's traceback, in its worker:\n" + tb)
    raise exc


_TaskFuture = None


def _task_future():
    """Pool.submit's future type (made once: concurrent.futures is imported
    only by a program that submits): a concurrent.futures.Future that
    stays pending until its task is done, so that cancel() can cancel it,
    and then cancels the task in the pool too."""
    global _TaskFuture
    if _TaskFuture is None:
        import concurrent.futures

        class TaskFuture(concurrent.futures.Future):
            _mp_cancel = None

            def cancel(self):
                if not super().cancel():
                    return False
                if self._mp_cancel is not None:
                    self._mp_cancel()
                return True

        _TaskFuture = TaskFuture
    return _TaskFuture


def _task_bytes(fn, args, kwargs):
    import pickle
    return pickle.dumps((fn, args, kwargs), pickle.HIGHEST_PROTOCOL)


class Pool:
    """A pool of worker processes kept across calls, as a context manager:

        with mpool.Pool(workers=2, concurrency=50, timeout=5) as pool:
            recs = pool.map(urls)                 # the fetch task
            futs = [pool.submit(u) for u in urls] # concurrent.futures
            squares = pool.map(square, range(10)) # a Python function

    The fetch task's options (those of fetch()) are the pool's. A function
    (anything but a str, bytes or dict as the first argument of map, imap
    and submit) is a Python task: pickled with its arguments, run in a
    worker (one at a time per worker: a Python call holds its worker's
    loop), its value or exception pickled back. submit() returns a
    concurrent.futures.Future, resolved by a thread of the pool's that
    drives its loop while futures are pending (add_done_callback and
    asyncio.wrap_future work)."""

    def __init__(self, workers=None, concurrency=None, *, task_timeout=None,
                 stack_size=None, **options):
        import threading
        o = _Options("Pool", dict(options, workers=workers,
                                  concurrency=concurrency))
        if task_timeout is None:
            tt = 0
        else:
            tt = _mpool._fetch_ms(_num("Pool", "task_timeout", task_timeout,
                                       0, 4e6))
        st = _int("Pool", "stack_size",
                  1 << 21 if stack_size is None else stack_size, 0, 1 << 26)
        before = _descendants(os.getpid())
        self._c = o.make_pool(tt, st)
        self._pids = _descendants(os.getpid()) - before
        self._o = o
        self._window = o.window(self._c)
        self._lock = threading.Lock()
        self._driver = None
        self._line = 0  # submit(url): the records' "line", 1, 2, ...

    @property
    def workers(self):
        return self._c.workers()

    def pids(self):
        """The processes this pool started (its forkserver and workers),
        as seen when it was created."""
        return set(self._pids)

    def stats(self):
        """The pool's counts (tasks_done, tasks_retried, workers_started,
        workers_died, worker_cpu_us); after close(), those it had then."""
        return self._c.stats()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stops every worker; futures not done fail with WorkerError."""
        self._c.close()
        d = self._driver
        if d is not None:
            d.join()

    def _run(self, fn, iterable, ordered, name):
        if iterable is None:  # map(urls): the fetch task
            return _mpool.Run(self._c, _urls(name, fn), _mpool.FETCH,
                              ordered, self._window, False)
        if isinstance(fn, (str, bytes, dict)) or not callable(fn):
            raise TypeError("Pool: a task is a callable (or give URLs "
                            f"alone for the fetch task), got {fn!r}")
        payloads = (_task_bytes(fn, (x,), {}) for x in iterable)
        run = _mpool.Run(self._c, payloads, _mpool.PYTHON, ordered,
                         self._window, False)
        return (_python_outcome(raw) for raw in run)

    def fetch(self, urls, *, ordered=False):
        """fetch() on this pool's workers: an iterator over the records."""
        return self._run(urls, None, _ordered("Pool.fetch", ordered),
                         "Pool.fetch")

    def imap(self, fn, iterable=None, *, ordered=True):
        """imap(urls) -> records, or imap(fn, iterable) -> fn(x) for each
        x; lazily, in input order (ordered=False: as they finish)."""
        return self._run(fn, iterable, _ordered("Pool.imap", ordered),
                         "Pool.imap")

    def imap_unordered(self, fn, iterable=None):
        return self._run(fn, iterable, False, "Pool.imap_unordered")

    def map(self, fn, iterable=None):
        """list(imap(...)): records of the URLs, or fn(x) for each x, in
        input order."""
        return list(self._run(fn, iterable, True, "Pool.map"))

    def submit(self, fn, /, *args, **kwargs):
        """submit(url) -> Future of its record; submit(fn, *args, **kw) ->
        Future of fn(*args, **kw). The future's cancel() cancels the task
        while it is not done: queued, it never runs; at a worker, its
        awaits end with MP_ECANCELED there (a Python call, which cannot be
        woken, runs to its end and its answer is dropped)."""
        import concurrent.futures
        f = _task_future()()
        if isinstance(fn, (str, bytes, dict)):
            if args or kwargs:
                raise TypeError("Pool.submit(url) takes no more arguments")
            if isinstance(fn, dict):
                fn = _mpool._json_line(fn)
            data, kind = fn.encode() if isinstance(fn, str) else fn, \
                _mpool.FETCH

            def settle(o, code):
                if code:
                    f.set_exception(WorkerError(o["error"]["message"]))
                else:
                    f.set_result(o)
        elif callable(fn):
            data, kind = _task_bytes(fn, args, kwargs), _mpool.PYTHON

            def settle(o, code):
                try:
                    v = _python_outcome(o)
                except BaseException as e:  # the task's own exception
                    f.set_exception(e)
                else:
                    f.set_result(v)
        else:
            raise TypeError(f"Pool.submit: a URL or a callable, got {fn!r}")

        def done(o, code):
            try:
                settle(o, code)
            except concurrent.futures.InvalidStateError:
                pass  # f.cancel() came first: it canceled the task too

        with self._lock:
            self._line += 1
            tid = self._c.submit(data, kind, self._line, done)
            f._mp_cancel = lambda c=self._c: c.cancel(tid)
            if self._driver is None:
                import threading
                self._driver = threading.Thread(target=self._drive,
                                                name="mpool-driver",
                                                daemon=True)
                self._driver.start()
        return f

    def _drive(self):
        while True:
            self._c.drive()
            with self._lock:
                if self._c.pending() == 0:
                    self._driver = None
                    return


# Last: the forkserver starts now, with this package complete, so that
# every worker is a fork of an interpreter that has it.
_mpool._init()
