"""Deploys that would orphan stored events: ``orphaned`` lists the aggregate and event
types a new spec drops from the old one while events of them are stored."""
from __future__ import annotations

from typing import Any


def _declared(spec: Any) -> dict[str, set[str]]:
    aggregates = spec.get("aggregate_types") if isinstance(spec, dict) else None
    out: dict[str, set[str]] = {}
    if isinstance(aggregates, dict):
        for agg, body in aggregates.items():
            events = body.get("events") if isinstance(body, dict) else None
            out[str(agg)] = set(map(str, events)) if isinstance(events, dict) else set()
    return out


def orphaned(old_spec: Any, new_spec: Any, types_with_events: dict[str, set[str]]) -> list[str]:
    """What ``new_spec`` drops from ``old_spec`` while events of it are stored, sorted.

    ``types_with_events`` maps each aggregate type that has stored events to the event
    types stored (a type present with an empty set still counts as having events: when
    in doubt, refuse). A dropped aggregate type is listed as ``"order"`` (not each of its
    events); a dropped event type of a kept aggregate type as ``"order.paid"``. Names
    that the old spec did not declare are not listed: a deploy only answers for what it
    removes (events left by an earlier forced deploy do not block every later one).
    """
    old, new = _declared(old_spec), _declared(new_spec)
    out: list[str] = []
    for agg in sorted(map(str, types_with_events or {})):
        if agg not in old:
            continue
        if agg not in new:
            out.append(agg)
            continue
        stored = types_with_events.get(agg) or ()
        for evt in sorted(map(str, stored)):
            if evt in old[agg] and evt not in new[agg]:
                out.append(f"{agg}.{evt}")
    return out
