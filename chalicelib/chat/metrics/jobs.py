"""Scheduled every 5 minutes: sample the active-device gauge, then fold complete 5-minute
buckets into hours and complete hours into days (metric_store.rollup). Idempotent: each
roll-up bucket is computed from its children and PUT, so a second run writes the same."""
from __future__ import annotations

from chalicelib.chat.metrics import service as metrics
from chalicelib.core import clock
from chalicelib.core.schedules import Job
from chalicelib.store import metric_store


def sample_active_devices() -> int:
    """The `active_devices` gauge: devices seen in the last 24 hours, from the device
    counters (no scan), so the timeseries has a history of it."""
    from chalicelib.store import device_counters as device_stats
    now = clock.now_int()
    (active,) = device_stats.counts_since(device_stats.ACTIVE, [now - 86400])
    metric_store.record("active_devices", active, "gauge", now)
    return active


def roll_up() -> dict:
    from chalicelib.core.observability import logger
    try:
        active = sample_active_devices()
    except Exception:  # noqa: BLE001 - a failed sample must not hold back the roll-ups
        logger.exception("could not sample active_devices")
        active = None
    result = metric_store.rollup(metrics.METRICS)
    return {"active_devices": active, **result}


JOBS = [Job("metric_rollups", 5, roll_up)]
