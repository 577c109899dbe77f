"""The fetch task's configuration: mpool writes it with the fetch task's
own writer (fetch_config_json, workers/fetch_config.c), the one mpfetch
uses, and every option mpool.fetch takes reaches a worker's parser
(fetch_config_parse) as the value asked for."""
import os

import pytest

import mpool
from mpool import _mpool

POOL_ONLY = {"workers", "concurrency", "rate"}  # the pool's, not the task's


def parsed(**options):
    """What a worker reads from the configuration of these options."""
    conf = mpool._Options("fetch", options).config
    assert isinstance(conf, bytes)
    got = _mpool._fetch_config_parse(conf)
    assert got is not None, conf
    return got


def rows(tmp_path):
    """option -> (value, the fetch_cfg field, what the worker reads)."""
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate; only read by a request\n")
    return {
        "timeout": (2.5, "timeout_ms", 2500),
        "connect_timeout": (0.0014, "connect_timeout_ms", 1),
        "retries": (3, "retries", 3),
        "method": ("put", "method", "PUT"),
        "headers": ({"X-A": "1", "X-B": "2"}, "headers",
                    ["X-A: 1", "X-B: 2"]),
        "data": ("a\0b\u00e9", "data", "a\0b\u00e9".encode()),
        "location": (True, "follow", True),
        "max_redirs": (3, "max_redirs", 3),
        "compressed": (True, "compressed", True),
        "insecure": (True, "insecure", True),
        "http1_1": (True, "http1", True),
        "engine": ("native", "engine", "native"),
        "proxy": ("127.0.0.1:3128", "proxy", "127.0.0.1:3128"),
        "noproxy": ("a,b", "noproxy", "a,b"),
        "resolve": ("x.test:80:127.0.0.1", "resolve",
                    ["x.test:80:127.0.0.1"]),
        "dns_servers": ("127.0.0.1:5353", "dns_servers", "127.0.0.1:5353"),
        "per_host": (7, "per_host", 7),
        "body": (f"dir:{tmp_path / 'bodies'}", "body_dir",
                 os.path.realpath(tmp_path / "bodies")),
        "include": (True, "include_headers", True),
        "max_body": ("2M", "max_body", 2 << 20),
        "speed_limit": ("1k", "speed_limit", 1024),
        "speed_time": (9, "speed_time", 9),
        "cacert": (str(ca), "cacert", os.path.realpath(ca)),
        "proxy_insecure": (True, "proxy_insecure", True),
        "proxy_cacert": (str(ca), "proxy_cacert", os.path.realpath(ca)),
    }


def test_every_option_reaches_the_worker(tmp_path):
    """Each option of mpool.fetch, alone, set to a value that is not the
    default, reads back in a worker as that value, and nothing else moves
    from the defaults (body=dir:PATH sets the mode too). A new option
    without a row here fails the first assert."""
    table = rows(tmp_path)
    assert set(table) == mpool._KNOWN - POOL_ONLY
    default = parsed()
    for opt, (value, field, want) in table.items():
        got = parsed(**{opt: value})
        assert got[field] == want, opt
        assert default[field] != want, opt
        moved = {k for k in got if got[k] != default[k]}
        assert moved == {field} | ({"body"} if opt == "body" else set()), opt


def test_headers_as_pairs_are_lines():
    """headers as (name, value) pairs, as aiohttp and requests take them,
    a name twice too, read back as the 'Name: value' lines."""
    pairs = [("X-A", "1"), ("Cookie", "a=1"), ("Cookie", "b=2")]
    want = ["X-A: 1", "Cookie: a=1", "Cookie: b=2"]
    assert parsed(headers=pairs)["headers"] == want
    assert parsed(headers=["X-A: 1", ("Cookie", "a=1")])["headers"] == \
        want[:2]
    for bad in ([("X-A",)], [("X-A", 1)], [("X-A", "1", "2")],
                [("X-A", "a\r\nb")]):
        with pytest.raises(ValueError, match="headers"):
            parsed(headers=bad)


def test_no_option_is_the_tasks_defaults():
    """fetch() without options configures exactly what an empty
    configuration does: mpool's defaults are the fetch task's. Only the
    records' form differs: the module reads the binary form (jsonw.h),
    mpfetch writes the text."""
    want = _mpool._fetch_config_parse(b"{}")
    assert want["binary_records"] is False
    assert parsed() == dict(want, binary_records=True)


def test_every_option_at_once(tmp_path):
    table = rows(tmp_path)
    got = parsed(**{k: v for k, (v, _, _) in table.items()})
    for opt, (_, field, want) in table.items():
        assert got[field] == want, opt


def test_the_largest_values_parse_in_the_worker():
    """What the options take at their top, a worker takes too: a value
    the writer puts that the parser refuses would fail every worker's
    init (an OSError at pool creation) instead of naming the option."""
    m = _mpool
    got = parsed(max_body=m.FETCH_MAX_BODY, retries=m.FETCH_MAX_RETRIES,
                 per_host=m.FETCH_MAX_PER_HOST,
                 speed_time=m.FETCH_MAX_SPEED_TIME,
                 max_redirs=m.FETCH_MAX_REDIRS,
                 speed_limit=m.FETCH_MAX_SPEED_LIMIT,
                 timeout=m.FETCH_MAX_SECONDS,
                 connect_timeout=m.FETCH_MAX_SECONDS)
    assert got["max_body"] == 1 << 40
    assert (got["retries"], got["per_host"], got["speed_time"],
            got["max_redirs"], got["speed_limit"]) == \
        (100, 100000, 86400, 1000, 0xffffffff)
    assert got["timeout_ms"] == got["connect_timeout_ms"] == 864000000


def test_max_body_beyond_a_worker_names_itself():
    """max_body above 1 TiB was taken, then refused by every worker's
    parser: pool creation failed with OSError 'worker init failed'."""
    with pytest.raises(ValueError, match="max_body"):
        mpool.fetch(["http://127.0.0.1:1/"], max_body=(1 << 40) + 1)
    with pytest.raises(ValueError, match="max_body"):
        mpool.fetch(["http://127.0.0.1:1/"], max_body="2048G")


@pytest.mark.parametrize("opts,name", [
    ({"proxy": "\udcff:1"}, "proxy"),
    ({"noproxy": "a,\ud800"}, "noproxy"),
    ({"data": b"\xff\xfe"}, "data"),
    ({"data": "\udc80"}, "data"),
])
def test_text_json_cannot_carry_names_its_option(opts, name):
    """Text the configuration's JSON cannot carry (not UTF-8) is refused
    by the writer and named by its option, as mpfetch names it."""
    with pytest.raises(ValueError, match=f"fetch: {name} must be UTF-8"):
        mpool.fetch(["http://127.0.0.1:1/"], **opts)


def test_the_writer_takes_only_fetch_cfg_fields():
    with pytest.raises(TypeError, match="follow_redirects"):
        _mpool._fetch_config({"follow_redirects": True})
    with pytest.raises(ValueError, match="engine"):
        _mpool._fetch_config({"engine": "fast"})
    with pytest.raises(ValueError, match="NUL"):
        _mpool._fetch_config({"proxy": "a\0b"})
    assert _mpool._fetch_config_parse(b'{"no_such_key":1}') is None
