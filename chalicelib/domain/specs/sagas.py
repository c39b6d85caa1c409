"""Checks of ``modules``: only ``sagas`` is supported; each saga's trigger (a declared
aggregate and event type) and its steps (unique names, an emit, an optional timeout and
an optional compensating emit)."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.specs.implications import ImplicationChecks
from chalicelib.domain.specs.rules import json_type, key_path

MODULE_KINDS = ("sagas",)
SAGA_KEYS = ("trigger", "steps")
TRIGGER_KEYS = ("aggregate_type", "event_type")
STEP_KEYS = ("name", "emit", "timeout", "compensate")
MIN_STEP_TIMEOUT = 60


class SagaChecks(ImplicationChecks):
    """Modules and sagas."""

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
        for i, step in enumerate(value):
            step_path = f"{path}[{i}]"
            if not self.obj(step, step_path, "a saga step", STEP_KEYS, required=("name", "emit")):
                continue
            if "name" in step and self.name(step["name"], key_path(step_path, "name"), "step name"):
                if step["name"] in seen:
                    self.add(key_path(step_path, "name"), f"duplicate step name {step['name']!r}")
                seen.add(step["name"])
            if "emit" in step:
                self.emit(step["emit"], key_path(step_path, "emit"))
            if "timeout" in step:
                self.duration(step["timeout"], key_path(step_path, "timeout"), "timeout",
                              MIN_STEP_TIMEOUT)
            if "compensate" in step:
                self.emit(step["compensate"], key_path(step_path, "compensate"))
