"""Scheduled work of health: the alert rules."""
from __future__ import annotations

from chalicelib.chat.health import alerts
from chalicelib.core.schedules import Job


def evaluate_alerts() -> dict:
    """Evaluate the rules and keep the Alert table in step."""
    return alerts.evaluate()


JOBS = [Job("alerts", 1, evaluate_alerts)]
