"""Scheduled and queued work of checkpoints: automatic root checkpoints per their
settings, and the long job that writes a root checkpoint."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.platform.checkpoints import root


def run_root_checkpoints() -> dict:
    """Root checkpoints of every environment whose settings are due, then pruning beyond
    `retain` (the due time is claimed with a conditional update: two runs at once take
    it once)."""
    return root.run_due()


JOBS = [Job("root_checkpoints", 5, run_root_checkpoints)]
# the long jobs of checkpoints, by kind (chalicelib.features.JOB_KINDS)
KINDS = {root.KIND: root.run_job}
