"""clock.parse_iso refuses what clock.iso could not show; clock.iso never raises."""
import math

import pytest

from chalicelib.core import clock


@pytest.mark.parametrize("text,expected", [
    ("1970-01-01T00:00:00Z", 0),
    ("2024-02-01T00:00:00Z", 1706745600),
    ("2024-02-01T01:00:00+01:00", 1706745600),
    ("2024-02-01T00:00:00.250z", 1706745600.25),
    ("9999-12-31T23:59:59Z", 253402300799),
    ("9999-12-31T09:59:59-14:00", 253402300799),
    ("9999-12-31T23:59:59.999999+00:00", 253402300799.999999),
    ("1970-01-01T00:00:00.000001Z", 0.000001),
])
def test_parse_iso_in_range(text, expected):
    assert clock.parse_iso(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", [
    "9999-12-31T23:59:59-14:00",  # 10000-01-01T13:59:59Z
    "9999-12-31T10:00:00-14:00",
    "1969-12-31T23:59:59Z",
    "0001-01-01T00:00:00+14:00",  # before datetime's minimum in UTC
    "0001-01-01T00:00:00Z",
    "2024-02-01T00:00:00",        # no zone
    "tomorrow", "", "2024-13-01T00:00:00Z", "+10000-01-01T00:00:00Z",
])
def test_parse_iso_refuses_with_value_error(text):
    with pytest.raises(ValueError):
        clock.parse_iso(text)


def test_parse_iso_refuses_what_is_not_text():
    with pytest.raises(ValueError):
        clock.parse_iso(12)


def test_every_accepted_time_shows_again():
    for text in ("1970-01-01T00:00:00Z", "2024-02-29T12:34:56Z", "9999-12-31T23:59:59Z"):
        assert clock.iso(clock.parse_iso(text)) == text
    for ts in (0, 1, 1706745600, clock.MAX_TS):
        assert clock.parse_iso(clock.iso(ts)) == ts


@pytest.mark.parametrize("ts,shown", [
    (None, None),
    (0, "1970-01-01T00:00:00Z"),
    (1706745600.9, "2024-02-01T00:00:00Z"),
    (clock.MAX_TS, "9999-12-31T23:59:59Z"),
    (clock.MAX_TS + 0.5, "9999-12-31T23:59:59Z"),
    (253402351199, "9999-12-31T23:59:59Z"),   # stored before the range was checked: clamped
    (10 ** 20, "9999-12-31T23:59:59Z"),
    (math.inf, "9999-12-31T23:59:59Z"),
    (-1, "1970-01-01T00:00:00Z"),
    (-10 ** 20, "1970-01-01T00:00:00Z"),
    (math.nan, None),
])
def test_iso_never_raises(ts, shown):
    assert clock.iso(ts) == shown


def test_iso_takes_stored_decimals():
    from decimal import Decimal
    assert clock.iso(Decimal("1706745600.0")) == "2024-02-01T00:00:00Z"


def test_the_last_microsecond_stays_in_its_second():
    ts = clock.parse_iso("9999-12-31T23:59:59.999999Z")
    assert int(ts) == clock.MAX_TS and clock.iso(ts) == "9999-12-31T23:59:59Z"
