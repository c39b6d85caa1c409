"""Scheduled: apply API key revocations whose time has come (idempotent)."""
from __future__ import annotations

from chalicelib.services import keys


def run() -> dict:
    return {"revoked": keys.apply_due_revocations()}
