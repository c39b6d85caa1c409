"""Validation of an instance's event-store spec (SPEC section 5, issue 4).

Pure: no I/O, and no imports beyond the standard library, ``jsonschema`` (to check that
event schemas are themselves valid JSON Schemas), ``chalicelib.domain.jsonpath`` and
``chalicelib.domain.ticks`` (to check tick handlers and values; imported lazily). ``validate_spec`` reports EVERY problem, each as
``{"path": <JSON path>, "message": <text>}``, and never raises on any JSON input: an
empty list means the spec can be deployed. ``orphaned`` lists what a new spec would
drop while events of it are stored.

Paths are JSONPath-like: ``$.aggregate_types.order.events.created.schema``; a key that
is not a plain identifier is written ``['like this']``, a list index ``[0]``. An
unknown key is reported at its own path (``$.aggregate_types.order.wasm``).

Accepted shape (``?`` = optional; no other key is accepted anywhere: a feature this
system does not run is refused by name, never silently ignored)::

    {
      "aggregate_types": {TYPE: {                         # required, at least one
          "events": {EVENT: {                             # required, at least one
              "schema": {"type": "object", ...},          # a valid JSON Schema
              "handler": [<tick op>, ...],                # checked by ticks.validate_handler
              "implications"?: [{"emit": EMIT}
                                | {"schedule": {"delay": "24h", "emit": EMIT,
                                                "cancel_on"?: [EVENT of TYPE, ...]}}]}},
          "onTombstone"?: {"actor"?: "cascade"|"preserve",
                           "target"?: "cascade"|"preserve"}}},
      "agent_types": [NAME, ...],                         # required, at least one
      "target_types"?: [NAME, ...],
      "modules"?: {"sagas"?: {SAGA: {
          "trigger": {"aggregate_type": TYPE, "event_type": EVENT},
          "steps": [{"name": NAME, "emit": EMIT, "timeout"?: "30m",
                     "compensate"?: EMIT}, ...]}}},       # at least one step
      "listeners"?: [{"name": NAME, "url": "https://...",
                      "events": ["TYPE.EVENT" | "TYPE.*", ...], "secret_ref"?: REF}],
      "projections"?: {NAME: {"source": [TYPE, ...], "handler": [<tick op>, ...]}}
    }
    EMIT = {"aggregate_type": TYPE, "id": VALUE, "event_type": EVENT, "data"?: {...}}

Rules chosen where SPEC section 5 is silent:

- Names (aggregate, event, agent and target types, sagas, saga steps, listeners,
  projections) match ``^[a-z][a-z0-9_]{0,63}$``: they appear in URLs
  (``/data/{type}/{id}/{event}``), storage keys and ``TYPE.EVENT`` references, so they
  are kept lowercase, unambiguous and free of separators. Lists of names hold no
  duplicates.
- ``agent_types`` must list at least one type: every event's actor has one.
- ``schema``: checked with ``validator_for(schema).check_schema`` (the draft named by
  ``$schema``, else the latest), every meta-schema problem listed at its own path; an
  unknown ``$schema`` is refused. Its top-level
  ``type`` must be ``"object"`` (event data is an object). ``$ref`` must point inside the
  schema (``#...``): a remote reference would make every write fetch a URL.
- ``onTombstone`` says what happens to the events of this aggregate type when the agent
  that is their actor (``actor``), or the aggregate that is their target (``target``),
  is tombstoned: ``cascade`` tombstones them too, ``preserve`` (the default for an
  absent key) keeps them.
- Implications: exactly one kind key per item, ``emit`` or ``schedule``; any other kind
  (``wasm``, ``container``, ``http``, ``lambda``...) is refused by name. An emit's
  ``aggregate_type`` and ``event_type`` must exist in the spec. ``data`` (default
  ``{}``) is a value of the tick dialect, checked by ``ticks.validate_value`` and
  resolved with ``ticks.resolve``: a template object whose members are literals,
  ``{"literal": x}``, or paths (strings starting with ``$.``/``$[``) into ``$.data`` or
  ``$.metadata`` of the triggering event. ``$.state`` is refused: emits are computed
  from the event alone, before (and atomically with) the write. ``id`` is such a path,
  or a literal non-empty string of at most 256 characters.
- Emit implications are written in the same transaction as their event. So that an
  implied event may in turn apply its own emit implications (as any event of its type
  would), a cycle of ``emit`` implications (``a.x`` emits ``b.y`` which emits ``a.x``)
  is refused: applied transitively it would never end. A ``schedule`` breaks a chain
  (it is written later, as its own event).
- Durations are a whole number and one unit: ``s``, ``m``, ``h`` or ``d`` (``90m``,
  not ``1h30m``). A schedule ``delay`` is at least 5 minutes; a saga step ``timeout``
  at least 1 minute (the timeout sweep runs every minute); both at most 365 days.
- ``cancel_on`` names event types of the aggregate type that declares the schedule:
  the scheduled emit is cancelled when one of them is appended to the same aggregate.
- Sagas: the trigger and every emitted or compensating event must exist; step names are
  unique within a saga. Step values read the trigger event (``$.data``,
  ``$.metadata``), like implications.
- Listeners: names unique; ``url`` is ``https://`` with a host and no user:password
  (the signing secret comes from ``secret_ref``); plain ``http://`` is accepted only for
  ``localhost``, ``127.0.0.1`` and ``[::1]`` (local development). ``events`` is a
  non-empty list of ``TYPE.EVENT`` or ``TYPE.*`` that exist. ``secret_ref`` names a
  secret: 1-512 characters of ``A-Za-z0-9/_+=.@-``.
- Projections: ``source`` is a non-empty list of distinct aggregate types of the spec;
  ``handler`` is a tick handler (checked like an event's).
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain import jsonpath

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
NAME_RULE = "1-64 characters: lowercase letters, digits and underscores, starting with a letter"

TOP_KEYS = ("aggregate_types", "agent_types", "target_types", "modules", "listeners",
            "projections")
AGGREGATE_KEYS = ("events", "onTombstone")
EVENT_KEYS = ("schema", "handler", "implications")
TOMBSTONE_KEYS = ("actor", "target")
TOMBSTONE_MODES = ("cascade", "preserve")
IMPLICATION_KINDS = ("emit", "schedule")
EMIT_KEYS = ("aggregate_type", "id", "event_type", "data")
SCHEDULE_KEYS = ("delay", "emit", "cancel_on")
MODULE_KINDS = ("sagas",)
SAGA_KEYS = ("trigger", "steps")
TRIGGER_KEYS = ("aggregate_type", "event_type")
STEP_KEYS = ("name", "emit", "timeout", "compensate")
LISTENER_KEYS = ("name", "url", "events", "secret_ref")
PROJECTION_KEYS = ("source", "handler")

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

DURATION_RE = re.compile(r"^([0-9]{1,9})([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_SCHEDULE_DELAY = 5 * 60
MIN_STEP_TIMEOUT = 60
MAX_DURATION = 365 * 86400

SECRET_REF_RE = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
MAX_ID_LENGTH = 256

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Problem = dict[str, str]


# --- small helpers ------------------------------------------------------------------------

def key_path(path: str, key: Any) -> str:
    """``path.key``, or ``path['key']`` when the key is not a plain identifier."""
    text = key if isinstance(key, str) else str(key)
    if _IDENT_RE.match(text):
        return f"{path}.{text}"
    return path + "['" + text.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listing(names) -> str:
    names = sorted(str(n) for n in names)
    return ", ".join(names) if names else "none"


def parse_duration(text: Any) -> int | None:
    """Seconds in ``"24h"``-style text (one integer and one unit of s, m, h, d), or None."""
    if not isinstance(text, str):
        return None
    match = DURATION_RE.match(text)
    if not match:
        return None
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


# --- the validator --------------------------------------------------------------------------

class _Validator:
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
            self.add(path, f"{what} must be an object, not {_json_type(value)}")
            return False
        for key in value:
            if key not in allowed:
                self.add(key_path(path, key),
                         f"unknown {feature} {_show(str(key))} is not supported by this system "
                         f"(allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.add(path, f"{what} is missing required key {key!r}")
        return True

    def name(self, value: Any, path: str, what: str) -> bool:
        if not isinstance(value, str):
            self.add(path, f"{what} must be a string, not {_json_type(value)}")
            return False
        if not NAME_RE.match(value):
            self.add(path, f"{what} {_show(value)} is not a valid name: {NAME_RULE}")
            return False
        return True

    def name_key(self, key: Any, path: str, what: str) -> None:
        if not isinstance(key, str) or not NAME_RE.match(key):
            self.add(path, f"{what} {_show(str(key))} is not a valid name: {NAME_RULE}")

    def name_list(self, value: Any, path: str, what: str, non_empty: bool) -> list[str]:
        if not isinstance(value, list):
            self.add(path, f"must be a list of {what}s, not {_json_type(value)}")
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
                           f"number and one unit of s, m, h, d), not {_show(value)}")
        elif seconds < minimum:
            self.add(path, f"{what} {value!r} is too short: the minimum is "
                           f"{_human(minimum)}")
        elif seconds > MAX_DURATION:
            self.add(path, f"{what} {value!r} is too long: the maximum is 365d")

    def handler(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"handler must be a list of tick operations, not {_json_type(value)}")
            return
        try:
            from chalicelib.domain import ticks  # lazily: ticks is a sibling pure module
            found = ticks.validate_handler(value)
        except Exception as exc:  # never raise: a checker failure is itself a problem
            self.add(path, f"handler could not be checked: {type(exc).__name__}: {exc}")
            return
        for problem in found or ():
            self.add(_reroot(problem.get("path", "$"), path), str(problem.get("message", "")))

    def value(self, value: Any, path: str) -> None:
        """A value of the tick dialect (literal, path, {"literal": x} or template)."""
        try:
            from chalicelib.domain import ticks
            found = ticks.validate_value(value)
        except Exception as exc:  # never raise
            self.add(path, f"value could not be checked: {type(exc).__name__}: {exc}")
            return
        for problem in found or ():
            self.add(_reroot(problem.get("path", "$"), path), str(problem.get("message", "")))
        for where, text in _paths_in(value, path):
            try:
                root, _ = jsonpath.parse(text)
            except jsonpath.PathError:
                continue  # reported by ticks
            if root == "state":  # ticks allows it in handlers; other roots it reports
                self.add(where, f"{text!r}: $.state is not available to an emit, which is "
                                "computed from its event alone: read $.data or $.metadata")

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
                                  f"JSONPath such as '$.data.order_id', not {_show(literal)}")
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
                         f"data must be an object, not {_json_type(literal)}")
        return target

    def _known_aggregate(self, value: Any, path: str) -> bool:
        if not self.name(value, path, "aggregate type"):
            return False
        if not self.catalog_ok:  # aggregate_types itself is broken: reported there
            return False
        if value not in self.catalog:
            self.add(path, f"unknown aggregate type {value!r} "
                           f"(defined: {_listing(self.catalog)})")
            return False
        return True

    def _known_event(self, agg: str, evt: Any, path: str) -> bool:
        if not self.name(evt, path, "event type"):
            return False
        if evt not in self.catalog[agg]:
            self.add(path, f"aggregate type {agg!r} has no event type {evt!r} "
                           f"(defined: {_listing(self.catalog[agg])})")
            return False
        return True

    # the spec --------------------------------------------------------------------------

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
        if "modules" in spec:
            self.modules(spec["modules"], "$.modules")
        if "listeners" in spec:
            self.listeners(spec["listeners"], "$.listeners")
        if "projections" in spec:
            self.projections(spec["projections"], "$.projections")
        self.emit_cycles()

    def aggregate_types(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"aggregate_types must be an object, not {_json_type(value)}")
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
                         f"must be 'cascade' or 'preserve', not {_show(value[key])}")

    def events(self, agg: str, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"events must be an object, not {_json_type(value)}")
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
            self.add(path, f"schema must be a JSON Schema object, not {_json_type(value)}")
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
                         f"unknown $schema {_show(meta)}: use a JSON Schema draft URI such as "
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
                     f"JSON object), not {_show(value.get('type', 'missing'))}")
        for ref_path, ref in _remote_refs(value, path):
            self.add(ref_path, f"remote $ref {_show(ref)} is not supported by this system: "
                               "schemas must be self-contained (refer to '#/$defs/...')")

    def implications(self, agg: str, evt: str, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"implications must be a list, not {_json_type(value)}")
            return
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.add(item_path, "an implication must be an object with one key, 'emit' or "
                                    f"'schedule', not {_json_type(item)}")
                continue
            kinds = [k for k in IMPLICATION_KINDS if k in item]
            for kind in item:
                if kind not in IMPLICATION_KINDS:
                    self.add(item_path, f"implication kind {_show(str(kind))} is not supported "
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
                             f"{name!r} (defined: {_listing(self.catalog.get(agg, ()))})")

    def modules(self, value: Any, path: str) -> None:
        if not self.obj(value, path, "modules", MODULE_KINDS, feature="module"):
            return
        if "sagas" in value:
            self.sagas(value["sagas"], key_path(path, "sagas"))

    def sagas(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"sagas must be an object of named sagas, not {_json_type(value)}")
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
            self.add(path, f"steps must be a list, not {_json_type(value)}")
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

    def listeners(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"listeners must be a list, not {_json_type(value)}")
            return
        seen: set[str] = set()
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not self.obj(item, item_path, "a listener", LISTENER_KEYS,
                            required=("name", "url", "events")):
                continue
            if "name" in item and self.name(item["name"], key_path(item_path, "name"),
                                            "listener name"):
                if item["name"] in seen:
                    self.add(key_path(item_path, "name"),
                             f"duplicate listener name {item['name']!r}")
                seen.add(item["name"])
            if "url" in item:
                problem = _url_problem(item["url"])
                if problem:
                    self.add(key_path(item_path, "url"), problem)
            if "events" in item:
                self.listener_events(item["events"], key_path(item_path, "events"))
            if "secret_ref" in item:
                ref = item["secret_ref"]
                if not isinstance(ref, str) or not SECRET_REF_RE.match(ref):
                    self.add(key_path(item_path, "secret_ref"),
                             "secret_ref must name a secret: 1-512 characters of A-Za-z0-9/_+=.@-, "
                             f"not {_show(ref)}")

    def listener_events(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "events must be a list of 'aggregate_type.event_type' or "
                           f"'aggregate_type.*', not {_json_type(value)}")
            return
        if not value:
            self.add(path, "a listener must subscribe to at least one event")
        seen: set[str] = set()
        for i, ref in enumerate(value):
            ref_path = f"{path}[{i}]"
            if not isinstance(ref, str) or ref.count(".") != 1:
                self.add(ref_path, "must be 'aggregate_type.event_type' or 'aggregate_type.*', "
                                   f"not {_show(ref)}")
                continue
            if ref in seen:
                self.add(ref_path, f"duplicate subscription {ref!r}")
                continue
            seen.add(ref)
            agg, evt = ref.split(".")
            if not NAME_RE.match(agg):
                self.add(ref_path, f"aggregate type {_show(agg)} is not a valid name: {NAME_RULE}")
            elif not self.catalog_ok:
                continue
            elif agg not in self.catalog:
                self.add(ref_path, f"unknown aggregate type {agg!r} "
                                   f"(defined: {_listing(self.catalog)})")
            elif evt != "*" and evt not in self.catalog[agg]:
                self.add(ref_path, f"aggregate type {agg!r} has no event type {_show(evt)} "
                                   f"(defined: {_listing(self.catalog[agg])})")

    def projections(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"projections must be an object of named projections, "
                           f"not {_json_type(value)}")
            return
        for name, body in value.items():
            proj_path = key_path(path, name)
            self.name_key(name, proj_path, "projection name")
            if not self.obj(body, proj_path, "a projection", PROJECTION_KEYS,
                            required=("source", "handler")):
                continue
            if "source" in body:
                src_path = key_path(proj_path, "source")
                names = self.name_list(body["source"], src_path, "aggregate type", non_empty=True)
                for i, agg in enumerate(body["source"] if names else ()):
                    if (isinstance(agg, str) and NAME_RE.match(agg) and self.catalog_ok
                            and agg not in self.catalog):
                        self.add(f"{src_path}[{i}]", f"unknown aggregate type {agg!r} "
                                                     f"(defined: {_listing(self.catalog)})")
            if "handler" in body:
                self.handler(body["handler"], key_path(proj_path, "handler"))

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


def _human(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _reroot(sub: Any, base: str) -> str:
    """Put a path reported relative to a handler (``$[0].x``) under ``base``."""
    sub = sub if isinstance(sub, str) else str(sub)
    if sub.startswith("$"):
        sub = sub[1:]
    if sub and not sub.startswith((".", "[")):
        sub = "." + sub
    return base + sub


def _paths_in(value: Any, path: str, depth: int = 0):
    """(path, text) of every JSONPath a tick value reads ({"literal": x} is not read)."""
    if depth > 64:
        return
    if jsonpath.is_path(value):
        yield path, value
    elif isinstance(value, dict) and not (len(value) == 1 and "literal" in value):
        for key, item in value.items():
            yield from _paths_in(item, key_path(path, key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths_in(item, f"{path}[{i}]", depth + 1)


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


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return f"url must be an https:// URL, not {_show(url)}"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return f"url {_show(url)} is not a valid URL: {exc}"
    if any(c.isspace() for c in url):
        return f"url {_show(url)} must not contain whitespace"
    if parts.scheme not in ("https", "http") or not host:
        return f"url must be an https:// URL with a host, not {_show(url)}"
    if parts.username is not None or parts.password is not None:
        return "url must not carry credentials (user:password@); sign deliveries with secret_ref"
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        return ("url must use https://; plain http:// is accepted only for localhost, "
                f"127.0.0.1 and [::1], not {host!r}")
    return None


def validate_spec(spec: Any) -> list[Problem]:
    """Every problem of ``spec`` as ``{"path", "message"}``; an empty list means valid."""
    validator = _Validator()
    try:
        validator.spec(spec)
    except Exception as exc:  # a bug here must not turn a bad spec into a 500
        validator.add("$", f"the spec could not be fully checked: {type(exc).__name__}: {exc}")
    return validator.problems


# --- deploys that would orphan stored events ---------------------------------------------

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
