"""Scheduled work of the device registry."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.store import device_counters


def prune_counters() -> dict:
    """Delete per-second counter buckets no window can reach any more."""
    return {"deleted": device_counters.prune()}


JOBS = [Job("counter_prune", 24 * 60, prune_counters)]
