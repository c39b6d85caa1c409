"""Scheduled and queued work of the feature (filled in by the feature).

JOBS: scheduled functions; TASKS: queue tasks by name (chalicelib.features.TASKS);
REACTOR: what an append of matching events sets in motion (chalicelib/store/reactions.py)."""
from __future__ import annotations

JOBS: list = []
TASKS: dict = {}
REACTOR = None
