"""Scheduled every 5 minutes: run pending backups, request automatic ones that are due,
prune beyond retention (idempotent: claims are conditional updates)."""
from __future__ import annotations

from chalicelib.services import backups


def run() -> dict:
    return backups.run_pending()
