"""The guards of http/requests.py that run before a body or a parameter reaches a schema:
nesting depth counted on the raw text, finite numbers, valid Unicode, path parameter
rules; unit cases and hypothesis properties against the standard parser."""
import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import AppError
from chalicelib.http import requests
from chalicelib.http.declarations import RouteSpec
from chalicelib.http.requests import MAX_DEPTH, nesting_depth, parse_json, too_deep


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def refused(raw) -> AppError:
    with pytest.raises(AppError) as caught:
        parse_json(raw)
    err = caught.value
    assert err.status == 400 and err.kind.name == "VALIDATION_ERROR"
    assert err.details and set(err.details[0]) == {"path", "message"}
    return err


# --- depth ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, depth", [
    ("1", 0), ('"[[[["', 0), ("[]", 1), ("{}", 1), ('[{"a": [1]}]', 3),
    ('["]", "[", {"k\\"[": "\\\\"}]', 2), ('{"a": "\\\\\\"[[["}', 1), ("[[],[[]],[]]", 3),
])
def test_nesting_depth_ignores_brackets_in_strings(text, depth):
    assert nesting_depth(text) == depth == depth_of(json.loads(text))


def test_depth_limit_is_exact():
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    refused("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    refused('{"a":' * (MAX_DEPTH + 1) + "0" + "}" * (MAX_DEPTH + 1))


@pytest.mark.parametrize("raw", ["[" * 100_000, "[" * 100_000 + "]" * 100_000,
                                 '{"a":' * 50_000, "[" * 200 + '"' + "]" * 200])
def test_deep_or_broken_text_is_400_not_recursion(raw):
    refused(raw)
    refused(raw.encode())


def test_brackets_inside_a_long_string_are_not_depth():
    text = json.dumps({"blob": "[" * 10_000 + "{" * 10_000})
    assert not too_deep(text) and parse_json(text)["blob"].startswith("[[")


# --- numbers ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, path", [
    ("NaN", ""), ("[Infinity]", "0"), ('{"x": -Infinity}', "x"), ("1e400", ""),
    ("-1e400", ""), ('{"a": [1, 2, 1.5e309]}', "a.2"), ('[1.0, {"b": NaN}, "\\ud800"]', "1.b"),
])
def test_non_finite_numbers_are_refused_with_their_path(raw, path):
    err = refused(raw)
    assert "finite" in err.message and err.details[0]["path"] == path


@pytest.mark.parametrize("raw, value", [("1e-400", 0.0), ("1.7976931348623157e308", 1.7976931348623157e308),
                                        ("-0.0", 0.0), ("12345678901234567890", 12345678901234567890)])
def test_finite_numbers_pass(raw, value):
    assert parse_json(raw) == value


# --- Unicode ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, path", [
    (r'"\ud800"', ""), (r'{"a": "x\udfff"}', "a"), (r'{"a": [1, "\ud83d"]}', "a.1"),
    (r'{"a": {"\udc00": 1}}', "a.\\udc00"), (b'{"a": "\xed\xa0\x80"}', "a"),
    (r'"\ude00\ud83d"', ""),   # a pair in the wrong order is two lone surrogates
])
def test_lone_surrogates_are_refused_with_their_path(raw, path):
    err = refused(raw)
    assert err.details[0]["path"] == path
    json.dumps(err.admin_body(), ensure_ascii=False).encode()   # the answer itself is UTF-8


@pytest.mark.parametrize("raw", [r'"\ud83d\ude00"', '"\U0001F600"', r'"\\ud800"', '"é"',
                                 "\"\u00e9\"".encode("utf-16"), "\ufeff\"x\"".encode()])
def test_valid_unicode_passes(raw):
    parse_json(raw)


def test_not_json_is_400():
    for raw in [b"\xff\xfe\xfa", "{", "[1,]", "'x'", "1" * 5000]:
        assert refused(raw).message == "Body is not valid JSON"


# --- properties -------------------------------------------------------------------------

def _finite_json(max_leaves=25):
    scalars = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                        max_leaves=max_leaves)


@settings(max_examples=300, deadline=None)
@given(_finite_json(), st.booleans())
def test_any_json_value_round_trips_and_its_depth_is_counted_exactly(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert nesting_depth(text) == depth_of(value)
    if depth_of(value) <= MAX_DEPTH:
        assert parse_json(text) == value
        assert parse_json(text.encode()) == value


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.sampled_from(["[", '{"k":']), st.text(max_size=10))
def test_depth_above_the_limit_is_always_refused(depth, opener, leaf):
    closer = "]" if opener == "[" else "}"
    text = opener * depth + json.dumps(leaf) + closer * depth
    if depth > MAX_DEPTH:
        refused(text)
    else:
        assert depth_of(parse_json(text)) == depth


def value_or_400(text: str) -> None:
    """Whatever the bytes, the parser answers a value or a 400, never another exception,
    and a value it answers is finite, valid Unicode and at most MAX_DEPTH deep."""
    try:
        value = parse_json(text.encode("utf-8", "surrogatepass"))
    except AppError as err:
        assert err.status == 400
        return
    assert depth_of(value) <= MAX_DEPTH
    json.dumps(value, allow_nan=False).encode("utf-8")   # no NaN, no lone surrogate


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_is_a_safe_value_or_a_400(text):
    value_or_400(text)


TOKENS = ["[", "]", "{", "}", '"', "\\", ",", ":", " ", "1", "-1.5", "1e400", "NaN",
          "Infinity", "-Infinity", "true", "null", '"a"', '"k":', "\\ud800", "\\udc00",
          "\\ud83d\\ude00", '\\"', "\ud800", "\u00e9", "[[[[[[[[", "]]]]]]]]"]
_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS) | _SURROGATES, max_size=60).map("".join))
def test_json_like_text_is_a_safe_value_or_a_400(text):
    """Text built from JSON's own tokens, escapes and raw surrogates included."""
    value_or_400(text)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_query_numbers_are_finite_or_refused(number):
    spec = RouteSpec(path="/x", method="GET", name="x", summary="x", auth="public",
                     query={"at": {"type": "number"}})
    request = SimpleNamespace(query_params={"at": repr(number)}, uri_params=None)
    if math.isfinite(number):
        assert requests.query(spec, request) == {"at": number}
    else:
        with pytest.raises(AppError) as caught:
            requests.query(spec, request)
        assert caught.value.status == 400 and caught.value.details[0]["path"] == "at"
        assert "finite" in caught.value.message


# --- parameters -------------------------------------------------------------------------

def _request(uri=None, query=None):
    return SimpleNamespace(uri_params=uri, query_params=query)


SPEC = RouteSpec(path="/data/{agg_type}/{agg_id}", method="GET", name="x", summary="x",
                 auth="public")


@pytest.mark.parametrize("uri, query, path", [
    ({"agg_type": "order", "agg_id": "x" * 257}, None, "agg_id"),
    ({"agg_type": "o" * 129, "agg_id": "1"}, None, "agg_type"),
    ({"agg_type": "order", "agg_id": "a#b"}, None, "agg_id"),
    ({"agg_type": "order", "agg_id": "a/b"}, None, "agg_id"),
    ({"agg_type": "order", "agg_id": "ok\n"}, None, "agg_id"),
    ({"agg_type": "order", "agg_id": ""}, None, "agg_id"),
    ({"agg_type": "ord er", "agg_id": "1"}, None, "agg_type"),
    ({"event_type": "e" * 129}, None, "event_type"),
    ({"instance_id": "i" * 1025}, None, "instance_id"),
    ({"instance_id": "i\ud800"}, None, "instance_id"),
    (None, {"action": ["ok", "x\udc00"]}, "action"),
    (None, {"\ud800": ["x"]}, ""),
])
def test_bad_parameters_are_400(uri, query, path):
    from chalice.app import MultiDict
    with pytest.raises(AppError) as caught:
        requests.query(SPEC, _request(uri, MultiDict(query) if query else None))
    assert caught.value.status == 400 and caught.value.details[0]["path"] == path


@pytest.mark.parametrize("agg_type, agg_id", [
    ("order", "o1"), ("a" * 128, "b" * 256), ("Order.v2:x-y_z", "user:a.b_c-d@example.com~1+2="),
])
def test_parameters_within_the_rules_pass(agg_type, agg_id):
    assert requests.query(SPEC, _request({"agg_type": agg_type, "agg_id": agg_id})) == {}
