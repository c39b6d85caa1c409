"""Checks of ``aggregate_types``: each aggregate type and its ``onTombstone`` modes, each
event type with its JSON Schema (checked against its meta-schema, an object at the top,
no remote ``$ref``), its tick handler and its implications."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.specs.implications import ImplicationChecks
from chalicelib.domain.specs.rules import json_type, key_path, show_value

AGGREGATE_KEYS = ("events", "onTombstone")
EVENT_KEYS = ("schema", "handler", "implications")
TOMBSTONE_KEYS = ("actor", "target")
TOMBSTONE_MODES = ("cascade", "preserve")

_SCHEMA_DATA_KEYS = frozenset({"const", "enum", "default", "examples"})  # values, not schemas


def _remote_refs(schema: Any, path: str):
    """(path, ref) of every $ref/$dynamicRef that does not point inside the schema."""
    stack = [(schema, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > 200:
            continue
        if isinstance(node, dict):
            for key, item in node.items():
                if key in ("$ref", "$dynamicRef", "$recursiveRef") and isinstance(item, str):
                    if not item.startswith("#"):
                        yield key_path(where, key), item
                elif key not in _SCHEMA_DATA_KEYS:
                    stack.append((item, key_path(where, key), depth + 1))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                stack.append((item, f"{where}[{i}]", depth + 1))


class AggregateChecks(ImplicationChecks):
    """Aggregate types, their event types and schemas."""

    def aggregate_types(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"aggregate_types must be an object, not {json_type(value)}")
            return
        if not value:
            self.add(path, "aggregate_types must define at least one aggregate type")
        for agg, body in value.items():
            agg_path = key_path(path, agg)
            self.name_key(agg, agg_path, "aggregate type")
            if not self.obj(body, agg_path, "an aggregate type", AGGREGATE_KEYS,
                            required=("events",)):
                continue
            if "events" in body:
                self.events(str(agg), body["events"], key_path(agg_path, "events"))
            if "onTombstone" in body:
                self.on_tombstone(body["onTombstone"], key_path(agg_path, "onTombstone"))

    def on_tombstone(self, value: Any, path: str) -> None:
        if not self.obj(value, path, "onTombstone", TOMBSTONE_KEYS):
            return
        for key in TOMBSTONE_KEYS:
            if key in value and value[key] not in TOMBSTONE_MODES:
                self.add(key_path(path, key),
                         f"must be 'cascade' or 'preserve', not {show_value(value[key])}")

    def events(self, agg: str, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"events must be an object, not {json_type(value)}")
            return
        if not value:
            self.add(path, "an aggregate type must define at least one event type")
        for evt, body in value.items():
            evt_path = key_path(path, evt)
            self.name_key(evt, evt_path, "event type")
            if not self.obj(body, evt_path, "an event type", EVENT_KEYS,
                            required=("schema", "handler")):
                continue
            if "schema" in body:
                self.schema(body["schema"], key_path(evt_path, "schema"))
            if "handler" in body:
                self.handler(body["handler"], key_path(evt_path, "handler"))
            if "implications" in body:
                self.implications(agg, str(evt), body["implications"],
                                  key_path(evt_path, "implications"))

    def schema(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"schema must be a JSON Schema object, not {json_type(value)}")
            return
        try:
            import jsonschema
            from jsonschema.validators import validator_for
        except ImportError as exc:  # pragma: no cover - jsonschema is a dependency
            self.add(path, f"schema could not be checked: {exc}")
            return
        try:
            meta = value.get("$schema")
            if meta is not None and (not isinstance(meta, str)
                                     or validator_for(value, default=None) is None):
                self.add(key_path(path, "$schema"),
                         f"unknown $schema {show_value(meta)}: use a JSON Schema draft URI such as "
                         "'https://json-schema.org/draft/2020-12/schema', or leave it out")
                return
            cls = validator_for(value)
            try:
                cls.check_schema(value)
            except jsonschema.exceptions.SchemaError as first:
                # check_schema stops at the first problem; list them all, as check_schema
                # would find them (same meta-schema, same format checker).
                meta_validator = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
                errors = sorted(meta_validator.iter_errors(value),
                                key=lambda e: [str(p) for p in e.absolute_path]) or [first]
                for error in errors:
                    where = path
                    for part in error.absolute_path:
                        where = (f"{where}[{part}]" if isinstance(part, int)
                                 else key_path(where, part))
                    self.add(where, f"invalid JSON Schema: {error.message}")
                return
        except RecursionError:
            self.add(path, "schema is nested too deeply to be checked")
            return
        except Exception as exc:  # never raise on input
            self.add(path, f"schema could not be checked: {type(exc).__name__}: {exc}")
            return
        if value.get("type") != "object":
            self.add(key_path(path, "type") if "type" in value else path,
                     "an event schema's top-level type must be 'object' (event data is a "
                     f"JSON object), not {show_value(value.get('type', 'missing'))}")
        for ref_path, ref in _remote_refs(value, path):
            self.add(ref_path, f"remote $ref {show_value(ref)} is not supported by this system: "
                               "schemas must be self-contained (refer to '#/$defs/...')")
