"""Scheduled and queued work of tombstones: the scheduled job claims every tombstone
whose grace period has passed (and queues again an execution whose lease ran out); the
queue task runs one slice of an execution (execution.py)."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.platform.tombstones import execution, service
from chalicelib.store import restores


def run_due_tombstones() -> dict:
    return service.run_due()


JOBS = [Job("tombstones", 1, run_due_tombstones)]
TASKS: dict = {execution.TASK: execution.run}
REACTOR = None
# a backup restore re-applies every executed tombstone to what it wrote
restores.register(execution.reapply)
