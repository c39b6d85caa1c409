"""Scheduled work of backups."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.platform.backups import service as backups


def run_backups() -> dict:
    """Run pending backups, request automatic ones that are due, prune beyond retention
    (claims are conditional updates, so two runs never do one backup twice)."""
    return backups.run_pending()


def run_requested(message: dict) -> str:
    """The work queue's "backup" task: a backup just requested."""
    return backups.run_requested(message["scope"], message["id"])


JOBS = [Job("backups", 5, run_backups)]
