"""What must happen after a backup restore wrote an environment's events, registered by
the features that need it (tombstones re-apply their erasures), so that the data-loading
feature calls them without importing them."""
from __future__ import annotations

from typing import Callable

_AFTER: list[Callable[[str, str, str | None], object]] = []


def register(fn: Callable[[str, str, str | None], object]) -> None:
    """`fn(instance_id, target_env, source_env)`, run once a restore has completed."""
    if fn not in _AFTER:
        _AFTER.append(fn)


def completed(instance_id: str, target_env: str, source_env: str | None) -> None:
    for fn in _AFTER:
        fn(instance_id, target_env, source_env)
