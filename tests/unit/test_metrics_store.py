"""Pure parts of the metric store and the metrics service: bucket arithmetic, the read
plan, sample validation, aggregates. No AWS."""
import math

import pytest

from chalicelib.chat.metrics import service as metrics
from chalicelib.store import metric_store as ms

H, D = 3600, 86400
T0 = 1_800_000_000 - 1_800_000_000 % D  # a UTC midnight


def test_bucket_boundaries():
    assert ms.bucket_start(T0 + 299, "5m") == T0 and ms.bucket_start(T0 + 300, "5m") == T0 + 300
    assert ms.ceil_start(T0, "1h") == T0 and ms.ceil_start(T0 + 1, "1h") == T0 + H
    assert ms.bucket_start(T0 + D - 1, "1d") == T0


def covers(segments, start, end):
    """The ranges tile [start, end) exactly, each aligned to its resolution."""
    at = start
    for res, lo, hi in segments:
        size = ms.RESOLUTIONS[res]
        assert lo == at and hi > lo
        if res != "5m":
            assert lo % size == 0 and hi % size == 0
        at = hi
    assert at == end


def test_plan_30_days_is_four_ranges():
    now = T0 + 10 * H + 1234
    start = ms.ceil_start(now - 30 * D, "1h")
    done = {"1h": ms.bucket_start(now - 120, "1h"), "1d": T0}
    segments = ms.plan(start, now + 1, done)
    covers(segments, start, now + 1)
    assert [s[0] for s in segments] == ["1h", "1d", "1h", "5m"]
    days = segments[1]
    assert (days[2] - days[1]) // D == 29


def test_plan_uses_only_what_is_rolled_up():
    now = T0 + 10 * H + 1234
    start = ms.ceil_start(now - 7 * D, "1h")
    nothing = ms.plan(start, now + 1, {"1h": 0, "1d": 0})
    assert nothing == [("5m", start, now + 1)]
    behind = ms.plan(start, now + 1, {"1h": T0 + 4 * H, "1d": 0}, coarsest="1h")
    covers(behind, start, now + 1)
    assert behind == [("1h", start, T0 + 4 * H), ("5m", T0 + 4 * H, now + 1)]


def test_plan_respects_the_coarsest_resolution():
    now = T0 + 10 * H + 1234
    done = {"1h": T0 + 10 * H, "1d": T0}
    start = ms.ceil_start(now - 7 * D, "1h")
    assert [s[0] for s in ms.plan(start, now + 1, done, coarsest="1h")] == ["1h", "5m"]
    assert ms.plan(start, now + 1, done, coarsest="5m") == [("5m", start, now + 1)]


def test_plan_one_hour_window_is_one_query():
    now = T0 + 10 * H + 437
    start = ms.ceil_start(now - H, "5m")
    segments = ms.plan(start, now + 1, {"1h": T0 + 10 * H, "1d": T0}, coarsest="1h")
    assert segments == [("5m", start, now + 1)]


@pytest.mark.parametrize("sample,field", [
    ({"name": "nope", "value": 1, "kind": "counter"}, "name"),
    ({"name": "spam_reports", "value": 1, "kind": "counter"}, "name"),
    ({"name": "messages_sent", "value": 1, "kind": "gauge"}, "kind"),
    ({"name": "messages_sent", "value": math.nan, "kind": "counter"}, "value"),
    ({"name": "messages_sent", "value": math.inf, "kind": "counter"}, "value"),
    ({"name": "messages_sent", "value": -0.5, "kind": "counter"}, "value"),
    ({"name": "messages_sent", "value": 2e15, "kind": "counter"}, "value"),
    ({"name": "messages_sent", "value": 1, "kind": "counter", "timestamp": T0 + 301}, "timestamp"),
    ({"name": "messages_sent", "value": 1, "kind": "counter", "timestamp": T0 - D - 1}, "timestamp"),
])
def test_sample_checks(sample, field):
    assert [f for f, _ in metrics._check(sample, T0)] == [field]


def test_good_samples_pass():
    for name in metrics.PUSHED:
        kind = metrics.METRICS[name].kind
        assert metrics._check({"name": name, "value": 0, "kind": kind, "timestamp": T0 - D},
                              T0) == []
        assert metrics._check({"name": name, "value": 1.5, "kind": kind}, T0) == []


def test_aggregate():
    assert metrics.aggregate([3, 0, 7, 2]) == {"min": 0, "max": 7, "avg": 3, "total": 12}
    assert metrics.aggregate([1, 2]) == {"min": 1, "max": 2, "avg": 1.5, "total": 3}
    assert metrics.aggregate([1, 1, 0]) == {"min": 0, "max": 1, "avg": 0.67, "total": 2}
    assert metrics.aggregate([]) == {"min": None, "max": None, "avg": None, "total": 0}


def test_registry():
    assert set(metrics.PUSHED).isdisjoint(metrics.RECORDED)
    assert {"active_devices", "spam_reports"} <= set(metrics.METRICS)
    assert all(m.kind in ms.KINDS for m in metrics.METRICS.values())
    # every counter of the export is a known counter
    for _, series, _ in metrics.EXPORTED_COUNTERS:
        assert metrics.METRICS[series].kind == "counter"
