"""Checks of ``modules``: only ``sagas`` is supported; each saga's trigger (a declared
aggregate and event type) and its steps (unique names, an emit, an optional await with
its timeout, an optional condition and an optional compensating emit). Step values may
read ``$prev`` (the event an earlier step awaited) and ``$.id`` besides what
implications read (chalicelib/domain/sagas.py)."""
from __future__ import annotations

from typing import Any

from chalicelib.domain import jsonpath
from chalicelib.domain.specs.implications import ImplicationChecks
from chalicelib.domain.specs.rules import (
    MAX_DURATION,
    json_type,
    key_path,
    paths_in,
    reroot,
    show_value,
)

MODULE_KINDS = ("sagas",)
SAGA_KEYS = ("trigger", "steps")
TRIGGER_KEYS = ("aggregate_type", "event_type")
STEP_KEYS = ("name", "emit", "await", "compensate", "timeout_ms", "timeout", "condition")
AWAIT_KEYS = ("aggregate_type", "event_types", "id")
MIN_STEP_TIMEOUT = 1           # seconds, for the older duration form ("30s", "5m")
MAX_STEP_TIMEOUT = 7 * 86400


class SagaChecks(ImplicationChecks):
    """Modules and sagas."""

    # values of saga steps read $prev and $.id as well (the roots named in _saga_names
    # while a step is checked; None elsewhere)
    _saga_names = None
    _saga_prev_ok = True

    def value(self, value: Any, path: str) -> None:
        if self._saga_names is None:
            return super().value(value, path)
        self._step_value(value, path, predicate=False)

    def _step_value(self, value: Any, path: str, predicate: bool) -> None:
        from chalicelib.domain import sagas
        try:
            from chalicelib.domain import ticks
            check = ticks.validate_predicate if predicate else ticks.validate_value
            found = check(sagas.rewrite_prev(value), names=sagas.NAMES)
        except Exception as exc:  # never raise
            self.add(path, f"value could not be checked: {type(exc).__name__}: {exc}")
            return
        for problem in found or ():
            message = str(problem.get("message", "")).replace("$.prev", "$prev")
            self.add(reroot(problem.get("path", "$"), path), message)
        for where, text in paths_in(sagas.rewrite_prev(value), path):
            try:
                root, _ = jsonpath.parse(jsonpath.reference(text)[0])
            except (jsonpath.PathError, TypeError):
                continue  # reported above
            if root == "state":
                self.add(where, f"{text!r}: the state (@) is not available to a saga step, "
                                "which reads its events: $.data, $.metadata or $prev")
            elif root == sagas.PREV and not self._saga_prev_ok:
                self.add(where, f"{text.replace('$.prev', '$prev')!r}: $prev is the event an "
                                "earlier step awaited, and no earlier step has an await")

    def _saga_emit(self, value: Any, path: str, prev_ok: bool):
        from chalicelib.domain import sagas
        self._saga_names, self._saga_prev_ok = sagas.NAMES, prev_ok
        try:
            # $prev paths are checked as paths (a bare "$prev..." is not one to emit())
            return self.emit(sagas.rewrite_prev(value), path)
        finally:
            self._saga_names, self._saga_prev_ok = None, True

    def modules(self, value: Any, path: str) -> None:
        if not self.obj(value, path, "modules", MODULE_KINDS, feature="module"):
            return
        if "sagas" in value:
            self.sagas(value["sagas"], key_path(path, "sagas"))

    def sagas(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"sagas must be an object of named sagas, not {json_type(value)}")
            return
        for saga, body in value.items():
            saga_path = key_path(path, saga)
            self.name_key(saga, saga_path, "saga name")
            if not self.obj(body, saga_path, "a saga", SAGA_KEYS, required=("trigger", "steps")):
                continue
            if "trigger" in body:
                self.trigger(body["trigger"], key_path(saga_path, "trigger"))
            if "steps" in body:
                self.steps(body["steps"], key_path(saga_path, "steps"))

    def trigger(self, value: Any, path: str) -> None:
        if not self.obj(value, path, "trigger", TRIGGER_KEYS,
                        required=("aggregate_type", "event_type")):
            return
        agg_ok = "aggregate_type" in value and self._known_aggregate(
            value["aggregate_type"], key_path(path, "aggregate_type"))
        if "event_type" in value:
            evt_path = key_path(path, "event_type")
            if agg_ok:
                self._known_event(value["aggregate_type"], value["event_type"], evt_path)
            else:
                self.name(value["event_type"], evt_path, "event type")

    def steps(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"steps must be a list, not {json_type(value)}")
            return
        if not value:
            self.add(path, "a saga must have at least one step")
        seen: set[str] = set()
        awaited = False   # whether an earlier step has an await ($prev may be read)
        for i, step in enumerate(value):
            step_path = f"{path}[{i}]"
            if not self.obj(step, step_path, "a saga step", STEP_KEYS, required=("name", "emit")):
                continue
            if "name" in step and self.name(step["name"], key_path(step_path, "name"), "step name"):
                if step["name"] in seen:
                    self.add(key_path(step_path, "name"), f"duplicate step name {step['name']!r}")
                seen.add(step["name"])
            if "condition" in step:
                self._condition(step["condition"], key_path(step_path, "condition"), awaited)
            if "emit" in step:
                self._saga_emit(step["emit"], key_path(step_path, "emit"), awaited)
            has_await = "await" in step
            if has_await:
                self._await(step["await"], key_path(step_path, "await"), awaited)
            self._timeout(step, step_path, has_await)
            if "compensate" in step:
                self._saga_emit(step["compensate"], key_path(step_path, "compensate"),
                                awaited or has_await)
            awaited = awaited or has_await

    def _condition(self, value: Any, path: str, prev_ok: bool) -> None:
        if not isinstance(value, dict):
            self.add(path, "a condition must be a predicate object such as "
                           '{"equals": ["$prev.type", "was_reserved"]}, not '
                           f"{json_type(value)}")
            return
        self._saga_prev_ok = prev_ok
        try:
            self._step_value(value, path, predicate=True)
        finally:
            self._saga_prev_ok = True

    def _await(self, value: Any, path: str, prev_ok: bool) -> None:
        if not self.obj(value, path, "await", AWAIT_KEYS,
                        required=("aggregate_type", "event_types")):
            return
        agg = value.get("aggregate_type")
        agg_ok = "aggregate_type" in value and self._known_aggregate(
            agg, key_path(path, "aggregate_type"))
        if "event_types" in value:
            types_path = key_path(path, "event_types")
            names = self.name_list(value["event_types"], types_path, "event type",
                                   non_empty=True)
            if agg_ok:
                for i, name in enumerate(value["event_types"]):
                    if name in names:
                        self._known_event(agg, name, f"{types_path}[{i}]")
        if "id" in value:
            from chalicelib.domain import sagas
            ident = sagas.rewrite_prev(value["id"])
            id_path = key_path(path, "id")
            if jsonpath.is_path(ident):
                self._saga_prev_ok = prev_ok
                try:
                    self._step_value(value["id"], id_path, predicate=False)
                finally:
                    self._saga_prev_ok = True
            elif not isinstance(ident, str) or not ident or len(ident) > 256:
                self.add(id_path, "id must be a non-empty string of at most 256 characters "
                                  "(a literal aggregate id) or a JSONPath such as "
                                  f"'$prev.data.id', not {show_value(ident)}")

    def _timeout(self, step: dict, path: str, has_await: bool) -> None:
        from chalicelib.domain import sagas
        given = [k for k in ("timeout_ms", "timeout") if k in step]
        if len(given) == 2:
            self.add(path, "give the step's timeout once: timeout_ms or timeout, not both")
        for key in given:
            where = key_path(path, key)
            if not has_await:
                self.add(where, f"{key} bounds the step's await, and this step awaits nothing "
                                "(add an await, or drop the timeout)")
            if key == "timeout":
                self.duration(step[key], where, "timeout", MIN_STEP_TIMEOUT)
                from chalicelib.domain.specs.rules import parse_duration
                seconds = parse_duration(step[key])
                if seconds is not None and MAX_STEP_TIMEOUT < seconds <= MAX_DURATION:
                    self.add(where, f"timeout {step[key]!r} is too long: the maximum is 7d")
                continue
            ms = step[key]
            if isinstance(ms, bool) or not isinstance(ms, int):
                shown = json_type(ms) if isinstance(ms, (dict, list)) else show_value(ms)
                self.add(where, f"timeout_ms must be a whole number of milliseconds, not {shown}")
            elif ms < sagas.MIN_TIMEOUT_MS:
                self.add(where, f"timeout_ms {ms} is too short: the minimum is "
                                f"{sagas.MIN_TIMEOUT_MS} (1 second)")
            elif ms > sagas.MAX_TIMEOUT_MS:
                self.add(where, f"timeout_ms {ms} is too long: the maximum is "
                                f"{sagas.MAX_TIMEOUT_MS} (7 days)")
