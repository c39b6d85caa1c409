"""Scheduled: evaluate the alert rules and keep the Alert table in step (idempotent)."""
from __future__ import annotations

from chalicelib.services import alerts


def run() -> dict:
    return alerts.evaluate()
