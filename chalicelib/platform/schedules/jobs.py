"""Scheduled and queued work of scheduled events.

JOBS: `scheduled_events`, every minute, hands what is due within the next 90 s to the
"timers" queue (service.run_due). TASKS: `scheduled_event` emits one when its message
arrives (service.run_task). REACTOR: what an append schedules and cancels
(service.react, called inside the data plane's append)."""
from __future__ import annotations

from chalicelib.core.schedules import Job
from chalicelib.platform.schedules import service

JOBS: list = [Job("scheduled_events", 1, service.run_due)]
TASKS: dict = {service.TASK: service.run_task}
REACTOR = service.react
