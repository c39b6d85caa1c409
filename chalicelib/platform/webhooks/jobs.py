"""Scheduled and queued work of listener deliveries.

JOBS: the sweeper (every minute: pending deliveries whose message was lost) and the
cleanup (every hour: delivered after 7 days, failed and cancelled after 30); TASKS: one
attempt of a delivery (the timers queue); REACTOR: the deliveries an append makes."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.platform.webhooks import service


def sweep_deliveries() -> dict:
    return service.sweep()


def clean_deliveries() -> dict:
    return service.cleanup()


JOBS = [Job("webhook_sweeper", 1, sweep_deliveries),
        Job("webhook_cleanup", 60, clean_deliveries)]
TASKS: dict = {service.TASK: service.run_attempt}
REACTOR = service.react
