"""The sweeper of long jobs: every minute, re-queue any open job whose message was lost
or whose slice died (chalicelib/store/jobs.py says how a job is kept)."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.store import jobs as store


def sweep_jobs() -> dict:
    return store.sweep()


JOBS = [Job("jobs_sweeper", 1, sweep_jobs)]
