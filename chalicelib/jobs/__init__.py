"""Bodies of the scheduled Lambdas. Each is idempotent: run twice, it works once.

SCHEDULES is the one list of them, with their rates: app.py registers each with
Chalice, and the local runner calls each at the same rate."""
from __future__ import annotations

from importlib import import_module

# name -> (rate in minutes, module under chalicelib.jobs with a run() function)
SCHEDULES = {
    "key_revocations": (1, "key_revocations"),
    "alerts": (1, "alerts"),
    "metric_rollups": (5, "rollups"),
    "counter_prune": (24 * 60, "counter_prune"),
    "backups": (5, "backups"),
}


def run(name: str) -> dict:
    return import_module(f"chalicelib.jobs.{SCHEDULES[name][1]}").run()
