"""Scheduled work of API keys."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.platform.keys import service as keys


def apply_due_revocations() -> dict:
    """Make revocations whose time has come final, auditing each once."""
    return {"revoked": keys.apply_due_revocations()}


JOBS = [Job("key_revocations", 1, apply_due_revocations)]
