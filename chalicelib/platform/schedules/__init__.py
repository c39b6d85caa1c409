"""Scheduled events: `schedule` implications kept until due, then emitted."""
