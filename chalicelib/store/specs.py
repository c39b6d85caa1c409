"""The spec in force in each instance environment: versioned items, read through a short
per-container cache, and the event types that already have stored events."""
from __future__ import annotations

import time as _time

from chalicelib.core import caches
from chalicelib.store.keys import scope_key
from chalicelib.store.tables import SpecVersion, StreamTypeCounter

CACHE_SECONDS = 10  # a new spec is in force on every container within this time
_cache: dict[str, tuple[float, "SpecVersion | None"]] = {}


def latest(instance_id: str, env: str) -> SpecVersion | None:
    for item in SpecVersion.query(scope_key(instance_id, env), scan_index_forward=False, limit=1,
                                  consistent_read=True):
        return item
    return None


def current(instance_id: str, env: str) -> SpecVersion | None:
    """The spec in force, from this container's cache when fresh (no round trip)."""
    key = scope_key(instance_id, env)
    hit = _cache.get(key)
    if hit and _time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    item = latest(instance_id, env)
    _cache[key] = (_time.monotonic(), item)
    return item


def clear_cache() -> None:
    _cache.clear()


def stored_types(instance_id: str, env: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in StreamTypeCounter.query(scope_key(instance_id, env)):
        if row.count > 0:
            agg, _, ev = row.type_key.partition(".")
            out.setdefault(agg, set()).add(ev)
    return out


def forget(instance_id: str, env: str) -> None:
    """A deploy on this container is in force here at once."""
    _cache.pop(scope_key(instance_id, env), None)


caches.register("specs", clear_cache)
