"""The whole-spec walk: the top-level keys (the catalog of aggregate and event types is
read first, so references anywhere are checked against it; agent and target types are
name lists), then the emit-cycle check, and ``validate_spec``, which reports every
problem and never raises."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.specs.aggregates import AggregateChecks
from chalicelib.domain.specs.listeners import ListenerChecks
from chalicelib.domain.specs.rules import Problem
from chalicelib.domain.specs.sagas import SagaChecks

TOP_KEYS = ("aggregate_types", "agent_types", "target_types", "singletons", "modules",
            "listeners", "projections", "geo_types")


class _Validator(AggregateChecks, SagaChecks, ListenerChecks):
    """Every check of a spec; ``spec`` walks it from the top."""

    def spec(self, spec: Any) -> None:
        if not self.obj(spec, "$", "the spec", TOP_KEYS, required=("aggregate_types",
                                                                     "agent_types")):
            return
        aggregates = spec.get("aggregate_types")
        if isinstance(aggregates, dict):
            self.catalog_ok = True
            # Every declared type and event is known before references are checked, so a
            # misspelt name is reported once, where it is declared.
            for agg, body in aggregates.items():
                events = body.get("events") if isinstance(body, dict) else None
                self.catalog[str(agg)] = (set(map(str, events)) if isinstance(events, dict)
                                          else set())
        if "aggregate_types" in spec:
            self.aggregate_types(aggregates, "$.aggregate_types")
        if "agent_types" in spec:
            self.name_list(spec["agent_types"], "$.agent_types", "agent type", non_empty=True)
        if "target_types" in spec:
            self.name_list(spec["target_types"], "$.target_types", "target type",
                           non_empty=False)
        if "singletons" in spec:   # aggregate, actor and target ids besides the fixed forms
            self.name_list(spec["singletons"], "$.singletons", "singleton", non_empty=False)
        if "modules" in spec:
            self.modules(spec["modules"], "$.modules")
        if "listeners" in spec:
            self.listeners(spec["listeners"], "$.listeners")
        if "projections" in spec:
            self.projections(spec["projections"], "$.projections")
        if "geo_types" in spec and not isinstance(spec["geo_types"], dict):  # stored, unused
            self.add("$.geo_types", "geo_types must be an object")
        self.emit_cycles()


def validate_spec(spec: Any) -> list[Problem]:
    """Every problem of ``spec`` as ``{"path", "message"}``; an empty list means valid."""
    validator = _Validator()
    try:
        validator.spec(spec)
    except Exception as exc:  # a bug here must not turn a bad spec into a 500
        validator.add("$", f"the spec could not be fully checked: {type(exc).__name__}: {exc}")
    return validator.problems
