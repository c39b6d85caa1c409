"""Checks of an event type's implications: ``emit`` (an event written in the same
transaction, its target type and event checked against the catalog, its id and data
checked as tick values), ``schedule`` (a delayed emit, with ``cancel_on``), and the
refusal of emit cycles once the whole spec has been read."""
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
SCHEDULE_KEYS = ("delay", "emit", "cancel_on")
MIN_SCHEDULE_DELAY = 5 * 60
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
            ident = value["id"]
            id_path = key_path(path, "id")
            literal = (ident["literal"] if isinstance(ident, dict) and len(ident) == 1
                       and "literal" in ident else ident)
            if jsonpath.is_path(ident):
                self.value(ident, id_path)
            elif not isinstance(literal, str) or not literal:
                self.add(id_path, "id must be a non-empty string (a literal aggregate id) or a "
                                  f"JSONPath such as '$.data.order_id', not {show_value(literal)}")
            elif len(literal) > MAX_ID_LENGTH:
                self.add(id_path, f"a literal id is at most {MAX_ID_LENGTH} characters")
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
        if not self.obj(value, path, "schedule", SCHEDULE_KEYS, required=("delay", "emit")):
            return
        if "delay" in value:
            self.duration(value["delay"], key_path(path, "delay"), "delay", MIN_SCHEDULE_DELAY)
        if "emit" in value:
            self.emit(value["emit"], key_path(path, "emit"))
        if "cancel_on" in value:
            cancel_path = key_path(path, "cancel_on")
            names = self.name_list(value["cancel_on"], cancel_path, "event type",
                                   non_empty=False)
            for i, name in enumerate(value["cancel_on"] if names else ()):
                if (isinstance(name, str) and NAME_RE.match(name) and self.catalog_ok
                        and name not in self.catalog.get(agg, ())):
                    self.add(f"{cancel_path}[{i}]",
                             f"cancel_on names event types of {agg!r}, which has no event type "
                             f"{name!r} (defined: {listing_of(self.catalog.get(agg, ()))})")
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
