"""The validator's state and the checks every part of it uses: the problems found, the
catalog of declared aggregate and event types, the emit edges; the shape of an object
(allowed and required keys), names and name lists, durations, tick handlers and tick
values (checked by the ticks package), and references to declared types."""
from __future__ import annotations

from typing import Any

from chalicelib.domain import jsonpath
from chalicelib.domain.specs.rules import (
    MAX_DURATION,
    NAME_RE,
    NAME_RULE,
    Problem,
    human_duration,
    json_type,
    key_path,
    listing_of,
    parse_duration,
    paths_in,
    reroot,
    show_value,
)


class SpecChecks:
    """The state of one validation and the checks the other parts build on."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.catalog: dict[str, set[str]] = {}  # aggregate type -> its event types
        self.catalog_ok = False  # False when aggregate_types is not an object
        self.emit_edges: dict[tuple[str, str], list[tuple[tuple[str, str], str]]] = {}

    def add(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    # generic shapes ------------------------------------------------------------------------

    def obj(self, value: Any, path: str, what: str, allowed, required=(),
            feature: str = "key") -> bool:
        """Check that ``value`` is an object with ``required`` and only ``allowed`` keys."""
        if not isinstance(value, dict):
            self.add(path, f"{what} must be an object, not {json_type(value)}")
            return False
        for key in value:
            if key not in allowed:
                self.add(key_path(path, key),
                         f"unknown {feature} {show_value(str(key))} is not supported by this system "
                         f"(allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.add(path, f"{what} is missing required key {key!r}")
        return True

    def name(self, value: Any, path: str, what: str) -> bool:
        if not isinstance(value, str):
            self.add(path, f"{what} must be a string, not {json_type(value)}")
            return False
        if not NAME_RE.match(value):
            self.add(path, f"{what} {show_value(value)} is not a valid name: {NAME_RULE}")
            return False
        return True

    def name_key(self, key: Any, path: str, what: str) -> None:
        if not isinstance(key, str) or not NAME_RE.match(key):
            self.add(path, f"{what} {show_value(str(key))} is not a valid name: {NAME_RULE}")

    def name_list(self, value: Any, path: str, what: str, non_empty: bool) -> list[str]:
        if not isinstance(value, list):
            self.add(path, f"must be a list of {what}s, not {json_type(value)}")
            return []
        if non_empty and not value:
            self.add(path, f"must list at least one {what}")
        seen: list[str] = []
        for i, item in enumerate(value):
            if self.name(item, f"{path}[{i}]", what):
                if item in seen:
                    self.add(f"{path}[{i}]", f"duplicate {what} {item!r}")
                else:
                    seen.append(item)
        return seen

    def duration(self, value: Any, path: str, what: str, minimum: int) -> None:
        seconds = parse_duration(value)
        if seconds is None:
            self.add(path, f"{what} must be a duration like '30m', '24h' or '7d' (a whole "
                           f"number and one unit of s, m, h, d), not {show_value(value)}")
        elif seconds < minimum:
            self.add(path, f"{what} {value!r} is too short: the minimum is "
                           f"{human_duration(minimum)}")
        elif seconds > MAX_DURATION:
            self.add(path, f"{what} {value!r} is too long: the maximum is 365d")

    def handler(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"handler must be a list of tick operations, not {json_type(value)}")
            return
        try:
            from chalicelib.domain import (
                ticks,  # lazily: ticks is a sibling pure module
            )
            found = ticks.validate_handler(value)
        except Exception as exc:  # never raise: a checker failure is itself a problem
            self.add(path, f"handler could not be checked: {type(exc).__name__}: {exc}")
            return
        for problem in found or ():
            self.add(reroot(problem.get("path", "$"), path), str(problem.get("message", "")))

    def value(self, value: Any, path: str) -> None:
        """A value of the tick dialect (literal, path, {"literal": x} or template)."""
        try:
            from chalicelib.domain import ticks
            found = ticks.validate_value(value)
        except Exception as exc:  # never raise
            self.add(path, f"value could not be checked: {type(exc).__name__}: {exc}")
            return
        for problem in found or ():
            self.add(reroot(problem.get("path", "$"), path), str(problem.get("message", "")))
        for where, text in paths_in(value, path):
            try:
                root, _ = jsonpath.parse(jsonpath.reference(text)[0])
            except jsonpath.PathError:
                continue  # reported by ticks
            if root == "state":  # ticks allows it in handlers; other roots it reports
                self.add(where, f"{text!r}: the state (@) is not available to an emit, which "
                                "is computed from its event alone: read $.data or $.metadata")
    def _known_aggregate(self, value: Any, path: str) -> bool:
        if not self.name(value, path, "aggregate type"):
            return False
        if not self.catalog_ok:  # aggregate_types itself is broken: reported there
            return False
        if value not in self.catalog:
            self.add(path, f"unknown aggregate type {value!r} "
                           f"(defined: {listing_of(self.catalog)})")
            return False
        return True

    def _known_event(self, agg: str, evt: Any, path: str) -> bool:
        if not self.name(evt, path, "event type"):
            return False
        if evt not in self.catalog[agg]:
            self.add(path, f"aggregate type {agg!r} has no event type {evt!r} "
                           f"(defined: {listing_of(self.catalog[agg])})")
            return False
        return True
