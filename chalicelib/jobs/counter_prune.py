"""Scheduled daily: delete per-second counter buckets no window can reach (idempotent)."""
from __future__ import annotations

from chalicelib.services import device_stats


def run() -> dict:
    return {"deleted": device_stats.prune()}
