"""Time-bucketed metric samples: the one place that writes and reads MetricBucket.

Samples land in 5-minute buckets; a scheduled roll-up folds them into 1-hour and 1-day
buckets so a 30-day query reads 30 items, not 8,640.
  counter: `total` adds up within a bucket (and `count` counts pushes)
  gauge:   `last` keeps the value with the newest timestamp; total/count give the mean
"""
from __future__ import annotations

from chalicelib import clock
from chalicelib.store.conditions import condition_failed
from chalicelib.store.tables import MetricBucket

RESOLUTIONS = {"5m": 300, "1h": 3600, "1d": 86400}
RETENTION = {"5m": 2 * 86400, "1h": 35 * 86400, "1d": 400 * 86400}
KINDS = ("counter", "gauge")


def series_key(name: str, resolution: str) -> str:
    return f"{name}#{resolution}"


def bucket_start(ts: float, resolution: str) -> int:
    size = RESOLUTIONS[resolution]
    return int(ts) - int(ts) % size


def record(name: str, value: float, kind: str, ts: float | None = None) -> None:
    """One sample into its 5-minute bucket (one UpdateItem; a stale gauge value takes two)."""
    from pynamodb.exceptions import UpdateError
    ts = int(clock.now() if ts is None else ts)
    start = bucket_start(ts, "5m")
    item = MetricBucket(series=series_key(name, "5m"), start=start)
    common = [MetricBucket.kind.set(kind), MetricBucket.total.add(value),
              MetricBucket.count.add(1), MetricBucket.ttl.set(start + RETENTION["5m"])]
    if kind == "counter":
        item.update(actions=common)
        return
    try:
        item.update(actions=common + [MetricBucket.last.set(value), MetricBucket.last_ts.set(ts)],
                    condition=MetricBucket.last_ts.does_not_exist() | (MetricBucket.last_ts <= ts))
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        item.update(actions=common)  # an older gauge value still counts toward the mean


def buckets(name: str, resolution: str, start: int, end: int) -> list[MetricBucket]:
    """Buckets of one series with start <= bucket start < end, oldest first (one Query)."""
    return list(MetricBucket.query(series_key(name, resolution),
                                   MetricBucket.start.between(start, end - 1)))


def value_of(bucket: MetricBucket) -> float:
    """A bucket's value: the sum for counters, the latest value for gauges."""
    if bucket.kind == "gauge":
        return bucket.last if bucket.last is not None else (bucket.total / max(bucket.count, 1))
    return bucket.total
