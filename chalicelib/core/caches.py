"""Every per-container cache, registered once, so that one call empties them all.

A Lambda container keeps module state between invocations; caches make warm calls cheap
(the spec in force, stream heads, the admin list, the signing key). Tests and the local
runner start from a clean slate with clear_all()."""
from __future__ import annotations

from typing import Callable

_CLEARERS: dict[str, Callable[[], None]] = {}


def register(name: str, clear: Callable[[], None]) -> None:
    _CLEARERS[name] = clear


def clear_all() -> None:
    for clear in _CLEARERS.values():
        clear()


def names() -> list[str]:
    return sorted(_CLEARERS)
