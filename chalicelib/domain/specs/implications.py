"""Checks of an event type's implications: ``emit`` (an event written in the same
transaction, its target type and event checked against the catalog, its id and data
checked as tick values), ``schedule`` (a delayed emit: ``delay`` or ``delay_ms``, with
``cancel_on``), and the refusal of emit cycles once the whole spec has been read."""
from __future__ import annotations

from typing import Any

from chalicelib.domain import jsonpath
from chalicelib.domain.specs.checks import SpecChecks
from chalicelib.domain.specs.rules import (
    NAME_RE,
    json_type,
    key_path,
    listing_of,
    show_value,
)

IMPLICATION_KINDS = ("emit", "schedule")
EMIT_KEYS = ("aggregate_type", "id", "event_type", "data")
SCHEDULE_KEYS = ("delay", "delay_ms", "emit", "cancel_on")
CANCEL_KEYS = ("aggregate_type", "id", "event_type")
MIN_SCHEDULE_DELAY = 5 * 60
MAX_SCHEDULE_DELAY = 365 * 86400
MAX_ID_LENGTH = 256


class ImplicationChecks(SpecChecks):
    """Emits, schedules and implications, and the emit-cycle check."""

    def emit(self, value: Any, path: str) -> tuple[str, str] | None:
        """Check an EMIT; its (aggregate_type, event_type) when both exist in the spec."""
        if not self.obj(value, path, "emit", EMIT_KEYS,
                        required=("aggregate_type", "id", "event_type")):
            return None
        target = None
        agg = value.get("aggregate_type")
        evt = value.get("event_type")
        agg_ok = "aggregate_type" in value and self._known_aggregate(
            agg, key_path(path, "aggregate_type"))
        if "event_type" in value:
            evt_path = key_path(path, "event_type")
            if agg_ok:
                if self._known_event(agg, evt, evt_path):
                    target = (agg, evt)
            else:
                self.name(evt, evt_path, "event type")
        if "id" in value:
            self.id_value(value["id"], key_path(path, "id"))
        if "data" in value:
            data = value["data"]
            literal = (data["literal"] if isinstance(data, dict) and len(data) == 1
                       and "literal" in data else data)
            if isinstance(literal, dict):
                self.value(data, key_path(path, "data"))
            else:
                self.add(key_path(path, "data"),
                         f"data must be an object, not {json_type(literal)}")
        return target

    def id_value(self, ident: Any, id_path: str) -> None:
        """An aggregate id: a JSONPath into the event, or a literal non-empty string."""
        literal = (ident["literal"] if isinstance(ident, dict) and len(ident) == 1
                   and "literal" in ident else ident)
        if jsonpath.is_path(ident):
            self.value(ident, id_path)
        elif not isinstance(literal, str) or not literal:
            self.add(id_path, "id must be a non-empty string (a literal aggregate id) or a "
                              f"JSONPath such as '$.data.order_id', not {show_value(literal)}")
        elif len(literal) > MAX_ID_LENGTH:
            self.add(id_path, f"a literal id is at most {MAX_ID_LENGTH} characters")

    def implications(self, agg: str, evt: str, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"implications must be a list, not {json_type(value)}")
            return
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.add(item_path, "an implication must be an object with one key, 'emit' or "
                                    f"'schedule', not {json_type(item)}")
                continue
            kinds = [k for k in IMPLICATION_KINDS if k in item]
            for kind in item:
                if kind not in IMPLICATION_KINDS:
                    self.add(item_path, f"implication kind {show_value(str(kind))} is not supported "
                                        "by this system (supported: emit, schedule)")
            if len(kinds) > 1:
                self.add(item_path, "an implication has exactly one kind; found "
                                    + " and ".join(kinds))
            if not item:
                self.add(item_path, "an implication must have one key, 'emit' or 'schedule'")
            if "emit" in item:
                target = self.emit(item["emit"], key_path(item_path, "emit"))
                if target:
                    self.emit_edges.setdefault((agg, evt), []).append(
                        (target, key_path(item_path, "emit")))
            if "schedule" in item:
                self.schedule(agg, item["schedule"], key_path(item_path, "schedule"))

    def schedule(self, agg: str, value: Any, path: str) -> None:
        """``{"delay": "24h" | "delay_ms": N, "emit": EMIT, "cancel_on"?: [...]}``: exactly
        one of delay and delay_ms, from 5 minutes to 365 days; cancel_on lists
        ``{"aggregate_type", "id", "event_type"}`` objects, or (the older form) event
        types of this aggregate type (the same aggregate cancels)."""
        if not self.obj(value, path, "schedule", SCHEDULE_KEYS, required=("emit",)):
            return
        if "delay" in value and "delay_ms" in value:
            self.add(key_path(path, "delay_ms"), "give delay or delay_ms, not both")
        elif "delay" in value:
            self.duration(value["delay"], key_path(path, "delay"), "delay", MIN_SCHEDULE_DELAY)
        elif "delay_ms" in value:
            self.delay_ms(value["delay_ms"], key_path(path, "delay_ms"))
        else:
            self.add(path, "schedule is missing required key 'delay' (or 'delay_ms')")
        if "emit" in value:
            self.emit(value["emit"], key_path(path, "emit"))
        if "cancel_on" in value:
            self.cancel_on(agg, value["cancel_on"], key_path(path, "cancel_on"))

    def delay_ms(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"delay_ms must be a whole number of milliseconds, not "
                           f"{show_value(value) if isinstance(value, str) else json_type(value)}")
        elif value < MIN_SCHEDULE_DELAY * 1000:
            self.add(path, f"delay_ms {value} is too short: the minimum is "
                           f"{MIN_SCHEDULE_DELAY * 1000} (5 minutes)")
        elif value > MAX_SCHEDULE_DELAY * 1000:
            self.add(path, f"delay_ms {value} is too long: the maximum is "
                           f"{MAX_SCHEDULE_DELAY * 1000} (365 days)")

    def cancel_on(self, agg: str, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "must be a list of event types (of this aggregate type) or of "
                           "{aggregate_type, id, event_type} objects, not " + json_type(value))
            return
        seen: list = []
        for i, entry in enumerate(value):
            entry_path = f"{path}[{i}]"
            if isinstance(entry, dict):
                self.cancel_target(entry, entry_path)
                marker = repr(sorted((str(k), repr(v)) for k, v in entry.items()))
                if marker in seen:
                    self.add(entry_path, "duplicate cancel_on entry")
                seen.append(marker)
                continue
            if not self.name(entry, entry_path, "event type"):
                continue
            if entry in seen:
                self.add(entry_path, f"duplicate event type {entry!r}")
                continue
            seen.append(entry)
            if self.catalog_ok and agg in self.catalog and entry not in self.catalog[agg]:
                self.add(entry_path,
                         f"cancel_on names event types of {agg!r}, which has no event type "
                         f"{entry!r} (defined: {listing_of(self.catalog.get(agg, ()))})")

    def cancel_target(self, value: dict, path: str) -> None:
        """``{"aggregate_type", "id", "event_type"}``: the event that cancels (its id a
        value read from the scheduling event, resolved when the schedule is made)."""
        if not self.obj(value, path, "a cancel_on entry", CANCEL_KEYS, required=CANCEL_KEYS):
            return
        agg = value.get("aggregate_type")
        agg_ok = "aggregate_type" in value and self._known_aggregate(
            agg, key_path(path, "aggregate_type"))
        if "event_type" in value:
            evt_path = key_path(path, "event_type")
            if agg_ok:
                self._known_event(agg, value["event_type"], evt_path)
            else:
                self.name(value["event_type"], evt_path, "event type")
        if "id" in value:
            self.id_value(value["id"], key_path(path, "id"))

    def emit_cycles(self) -> None:
        """Refuse cycles of emit implications: written in one transaction, they never end."""
        state: dict[tuple[str, str], int] = {}  # 1 = on the current path, 2 = done
        reported: set[str] = set()

        def visit(node, trail):
            state[node] = 1
            for target, where in self.emit_edges.get(node, ()):
                if state.get(target) == 1:
                    start = next(i for i, (n, _) in enumerate(trail + [(node, where)])
                                 if n == target)
                    loop = [n for n, _ in (trail + [(node, where)])[start:]] + [target]
                    if where not in reported:
                        reported.add(where)
                        self.add(where, "emit implications form a cycle, which would never end: "
                                        + " -> ".join(".".join(n) for n in loop))
                elif state.get(target) is None:
                    visit(target, trail + [(node, where)])
            state[node] = 2

        for node in sorted(self.emit_edges):
            if state.get(node) is None:
                visit(node, [])
