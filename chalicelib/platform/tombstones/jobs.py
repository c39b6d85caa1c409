"""Scheduled and queued work of tombstones: the scheduled job claims every tombstone
whose grace period has passed (and queues again an execution whose lease ran out); the
queue task runs one slice of an execution (execution.py)."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.platform.tombstones import execution, service


def run_due_tombstones() -> dict:
    return service.run_due()


JOBS = [Job("tombstones", 1, run_due_tombstones)]
TASKS: dict = {execution.TASK: execution.run}
REACTOR = None
