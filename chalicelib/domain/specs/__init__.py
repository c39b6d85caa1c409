"""Validation of an instance's event-store spec.

Pure: no I/O, and no imports beyond the standard library, ``jsonschema`` (to check that
event schemas are themselves valid JSON Schemas), ``chalicelib.domain.jsonpath`` and
``chalicelib.domain.ticks`` (to check tick handlers and values; imported lazily). ``validate_spec`` reports EVERY problem, each as
``{"path": <JSON path>, "message": <text>}``, and never raises on any JSON input: an
empty list means the spec can be deployed. ``orphaned`` lists what a new spec would
drop while events of it are stored.

This package re-exports the public names; the checks live in ``rules`` (constants,
paths and durations), ``checks`` (shapes, names, tick handlers and values),
``aggregates``, ``implications``, ``sagas``, ``listeners`` (listeners and projections)
and ``validator`` (the whole spec, ``validate_spec``); ``orphans`` holds ``orphaned``.

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
                                | {"schedule": {"delay": "24h" | "delay_ms": N,
                                                "emit": EMIT,
                                                "cancel_on"?: [CANCEL, ...]}}]}},
          "onTombstone"?: {"actor"?: "cascade"|"preserve",
                           "target"?: "cascade"|"preserve"}}},
      "agent_types": [NAME, ...],                         # required, at least one
      "target_types"?: [NAME, ...],
      "modules"?: {"sagas"?: {SAGA: {
          "trigger": {"aggregate_type": TYPE, "event_type": EVENT},
          "steps": [{"name": NAME, "emit": EMIT,          # at least one step
                     "await"?: {"aggregate_type": TYPE, "event_types": [EVENT, ...],
                                "id"?: VALUE},
                     "timeout_ms"?: 30000 | "timeout"?: "30s",   # only with an await
                     "condition"?: <tick predicate>,
                     "compensate"?: EMIT}, ...]}}},
      "listeners"?: [{"name": NAME, "url": "https://...",
                      "events": [{"aggregate_type": TYPE, "event_type": EVENT | "*"}
                                 | "TYPE.EVENT" | "TYPE.*", ...],
                      "secret": "whsec_<base64>" | "whsec_redacted",
                      "secret_ref"?: "lsk_...", "timeout_ms"?: 100..30000}],
      "projections"?: {NAME: {"source": [TYPE, ...], "handler": [<tick op>, ...]}}
    }
    EMIT = {"aggregate_type": TYPE, "id": VALUE, "event_type": EVENT, "data"?: {...}}
    CANCEL = {"aggregate_type": TYPE, "id": VALUE, "event_type": EVENT} | EVENT of TYPE

Rules beyond the shape:

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
  not ``1h30m``). A schedule ``delay`` (or ``delay_ms``, an integer: exactly one of the
  two) is at least 5 minutes, at most 365 days. A saga
  step's ``timeout_ms`` is 1000 to 604800000 (1 second to 7 days), its older
  ``timeout`` duration the same range; either bounds the step's ``await`` and is
  refused on a step without one.
- ``cancel_on`` lists ``{"aggregate_type", "id", "event_type"}`` (the type and event
  must exist; ``id`` a VALUE read from the scheduling event when the schedule is made, a
  ``"<type>:<id>"`` key such as ``$.key`` giving its id) or, the older form, event types
  of the aggregate type that declares the schedule (the same aggregate). The scheduled
  emit is cancelled when such an event is appended to that aggregate. Values of
  implications may also read ``$.key``, ``$.id`` (the aggregate id) and ``$.type``.
- Sagas: the trigger and every emitted, awaited or compensating event must exist; step
  names are unique within a saga. Step values (emit and compensate ``id``/``data``,
  ``await.id``, ``condition``) read the trigger event (``$.data``, ``$.metadata``,
  ``$.key``, ``$.type``, ``$.id``) and ``$prev``, the event an earlier step awaited
  (``$prev.type``, ``$prev.data...``); ``$prev`` is refused where no earlier step (for a
  ``compensate``: no earlier step nor its own) has an await. See chalicelib/domain/sagas.py.
- Listeners (at most 25): names unique; ``url`` is ``https://`` with a host, no
  user:password and no fragment; plain ``http://`` is accepted only for ``localhost``,
  ``127.0.0.1`` and ``[::1]`` (local development); a literal IP address must not be
  private, link-local, multicast, reserved or unspecified (names are checked when each
  delivery resolves them). ``events`` is a non-empty list of subscriptions, objects
  ``{"aggregate_type", "event_type"}`` (``"*"``: every event of the type) or the older
  ``TYPE.EVENT`` / ``TYPE.*`` strings, that exist. ``secret`` is ``whsec_`` + base64 of
  24-64 bytes (Standard Webhooks form; a bad one is reported without its value), or the
  placeholder ``whsec_redacted`` a served spec shows, which keeps the stored secret
  (``secret_ref``, a reference the deploy gave out). The deploy moves the secret out of
  the stored spec (chalicelib/store/listener_secrets.py).
- Projections: ``source`` is a non-empty list of distinct aggregate types of the spec;
  ``handler`` is a tick handler (checked like an event's).
"""

from chalicelib.domain.specs.orphans import orphaned
from chalicelib.domain.specs.rules import key_path, parse_duration
from chalicelib.domain.specs.validator import validate_spec

__all__ = ["key_path", "orphaned", "parse_duration", "validate_spec"]
