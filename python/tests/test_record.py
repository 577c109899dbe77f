"""record.c: a fetch record's JSON made into a dict in C (the fast path)
gives what json's scanner gives, and declines to it for the rest; the
compact JSON of dict inputs and the configuration is json.dumps's."""
import json
import random

import pytest

from mpool import _mpool

_scan = json.JSONDecoder().scan_once


def json_reads(b):
    """What the records were before record.c: the bytes decoded with
    "replace", then json's scanner at 0."""
    return _scan(b.decode("utf-8", "replace"), 0)[0]


RECORD = (b'{"line":2,"url":"http://127.0.0.1:1/1k?i=2","method":"GET",'
          b'"final_url":"http://127.0.0.1:1/1k?i=2","status":200,"ok":true,'
          b'"error":null,"bytes":1024,"attempts":1,"redirects":0,'
          b'"http_version":"1.1","time":{"dns":0.000000,"connect":0.000048,'
          b'"tls":0.000000,"first_byte":0.000243,"total":0.000244}}')

SAME = [
    RECORD, b'{}', b'{"a":[]}', b'{"a":[1,2,{"b":null}],"c":true,"d":false}',
    b'{"x":-0,"y":1e5,"z":1.5E-3,"w":12345678901234567890123}',
    b'{"s":"a\\"b\\\\c\\/d\\n\\t\\r\\b\\f"}', b'{"u":"\\u00e9\\ud83d\\ude00"}',
    b'{"h":"\xc3\xa9\xff\xfe abc"}', b'{"k\xc3\xa9":1}', b'{"t":"\xe2\x82"}',
    b'{"a":1} trailing', b'{"a" : 1 , "b" :\n[ 1 , 2 ] }', b'{"n":NaN}',
    b'{"n":-Infinity}', b'{"a":1,"a":2}', b'{"big":123456789012345678}',
    b'{"big":1234567890123456789}', b'{"f":0.1,"g":-2.5e-308,"h":1e400}',
    b'{"z":-0.0,"y":-0.000000,"x":0.1234567890123456789}',
    b'{"e":"\\u0000"}', b'{"deep":' + b'[' * 40 + b']' * 40 + b'}',
    b'{"headers":{"x-a":["1","2"],"' + b'k' * 100 + b'":"long key"}}',
]


@pytest.mark.parametrize("b", SAME)
def test_record_is_what_json_reads(b):
    assert repr(_mpool._record(b)) == repr(json_reads(b))


@pytest.mark.parametrize("b", [
    b'{"a":01}', b'{"a":1.}', b'{"a":tru}', b'{"a":"x\x01"}', b'{"a" 1}',
    b'{"a":1,}', b'{', b'{"a":"\\x"}', b'{"a":-}'])
def test_not_json_is_json_s_error(b):
    with pytest.raises((ValueError, StopIteration)) as want:
        json_reads(b)
    with pytest.raises(want.type):
        _mpool._record(b)


@pytest.mark.parametrize("b", [
    b' {"a":"\\u00e9"}', b'\n{"a":1}', b' \t\r\n{"a":"\\u0041"} x',
    b'\n[1]', b' \n'])
def test_leading_whitespace_is_skipped_as_json_loads_does(b):
    """Both readers skip json's whitespace before the record (fuzz_record
    found ' {"a":"\\u00e9"}' failing: the fast path skipped the space and
    declined, and json's scanner, given the bytes from 0, did not)."""
    rest = b.lstrip(b" \t\n\r")
    try:
        want = repr(json_reads(rest))
    except (ValueError, StopIteration) as e:
        with pytest.raises(type(e)):
            _mpool._record(b)
        return
    assert repr(_mpool._record(b)) == want


def test_keys_are_shared_between_records():
    a, b = _mpool._record(RECORD), _mpool._record(RECORD)
    assert a == b
    assert all(x is y for x, y in zip(a, b))


def test_numbers_are_float_and_int_of_their_text():
    rng = random.Random(7)
    for _ in range(20000):
        x = rng.random() * 10 ** rng.randint(-8, 8)
        for t in ("%.6f" % x, repr(x), "%.17g" % x, "%.15f" % x,
                  str(rng.randint(-10 ** 20, 10 ** 20))):
            b = b'{"v":%s}' % t.encode()
            assert repr(_mpool._record(b)) == repr(json.loads(b)), t


@pytest.mark.parametrize("x", [
    {"a": "é\"\\\n\x01\u2028", "b": [1, 2.5, None, True, False],
     "c": {"d": (1, 2)}},
    {1: 2}, {"f": float("nan")}, {"a": [{}]}, {"i": 10 ** 30, "f": 1e-7},
    {"url": "http://h/x", "id": "7"}])
def test_json_line_is_json_dumps(x):
    assert _mpool._json_line(x) == json.dumps(
        x, separators=(",", ":"), ensure_ascii=False).encode()


def test_cached_values_follow_each_record():
    """Short str values are cached as keys are; a record whose value or
    shape differs from the last one's at the same place still reads as
    itself."""
    recs = [b'{"method":"GET","v":"1.1","n":{"a":1}}',
            b'{"method":"POST","v":"2","n":{"a":1,"b":2,"c":3}}',
            b'{"v":"GET","method":"1.1"}', b'{"method":"GET","v":"1.1"}',
            b'{"method":"' + b'x' * 9 + b'"}']
    for _ in range(3):
        for b in recs:
            assert _mpool._record(b) == json_reads(b)


def test_a_repeated_long_value_is_one_str_and_outlives_its_key():
    """final_url is most often url again: the reader makes one str for
    both. The str it keeps for that stays alive when a repeated key drops
    it from its dict (fuzz_record found the use after free under ASan)."""
    url = b'"http://127.0.0.1:1/' + b'x' * 40 + b'"'
    rec = _mpool._record(b'{"url":' + url + b',"final_url":' + url + b'}')
    assert rec["url"] == rec["final_url"] and rec["url"] is rec["final_url"]
    for b in (b'{"a":' + url + b',"a":1,"b":' + url + b'}',
              b'{"a":[' + url + b'],"a":2,"b":[' + url + b',' + url + b']}'):
        assert repr(_mpool._record(b)) == repr(json_reads(b))


def test_keys_read_ahead_match_only_whole_keys():
    """A key is first tried as the one the last record had at its place:
    only a whole key, ended by its quote, is taken so."""
    for a, b in ((b'{"status":1}', b'{"statusx":2}'),
                 (b'{"status":1}', b'{"stat":3}'),
                 (b'{"k\\"":1}', b'{"k\\"":2}'),
                 (b'{"ab":1}', b'{"a\\u0062":2}')):
        for x in (a, b, a, b):
            assert repr(_mpool._record(x)) == repr(json_reads(x))
