"""The pure rules of a saga's steps: what a step's values read, whether its condition
holds, what its emit and await resolve to, how long it waits, and which steps a
compensation undoes, in which order. No I/O: the platform's saga runner
(chalicelib/platform/sagas/service.py) reads the events and calls these.

Values (an emit's or compensate's ``id`` and ``data``, an await's ``id``, a condition)
are values and predicates of the tick dialect (chalicelib/domain/ticks) read against:

- the trigger event: ``$.data``, ``$.metadata`` (with ``timestamp``), ``$.key``
  ("<type>:<id>"), ``$.type``, ``$.id`` (the aggregate id);
- ``$prev``: the event that satisfied the await of the nearest earlier step that
  awaited one (``$prev.type``, ``$prev.data...``, ``$prev.metadata...``, ``$prev.key``,
  ``$prev.id``); a step's ``compensate`` reads as ``$prev`` the event its own step
  awaited (when it awaited one). With none, ``$prev`` paths read null.

``$prev`` is written as the platform writes it; it is read as a root named ``prev``
(``$prev.type`` is ``$.prev.type`` in the tick dialect)."""
from __future__ import annotations

from typing import Any

PREV = "prev"
NAMES = ("id", PREV)            # roots beyond the tick dialect's own that steps read

# statuses
RUNNING, COMPLETED, COMPENSATING, COMPENSATED, FAILED, CANCELLED = (
    "running", "completed", "compensating", "compensated", "failed", "cancelled")
SAGA_STATUSES = (RUNNING, COMPLETED, COMPENSATING, COMPENSATED, FAILED, CANCELLED)
FINISHED = (COMPLETED, COMPENSATED, FAILED, CANCELLED)
PENDING, AWAITING, SKIPPED, TIMED_OUT, COMPENSATION_FAILED = (
    "pending", "awaiting", "skipped", "timed_out", "compensation_failed")
STEP_STATUSES = (PENDING, RUNNING, AWAITING, COMPLETED, SKIPPED, FAILED, TIMED_OUT,
                 COMPENSATING, COMPENSATED, COMPENSATION_FAILED, CANCELLED)

# a step's await: how long it waits (timeout_ms, or the older "timeout" duration)
MIN_TIMEOUT_MS = 1000                      # one second
MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000      # seven days
DEFAULT_TIMEOUT_MS = 24 * 3600 * 1000      # an await without a timeout waits a day


class StepError(ValueError):
    """A step's values cannot be resolved from its events (the step fails)."""


# --- $prev ----------------------------------------------------------------------------

def _is_literal(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "literal" in value


def rewrite_prev(value: Any, depth: int = 0) -> Any:
    """`value` with every ``$prev...`` path written ``$.prev...`` (a copy; literals kept)."""
    if depth > 64:
        return value
    if isinstance(value, str):
        if value.startswith("$prev") and (len(value) == 5 or value[5] in ".[?"):
            return "$.prev" + value[5:]
        return value
    if isinstance(value, dict):
        if _is_literal(value):
            return value
        return {k: rewrite_prev(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_prev(v, depth + 1) for v in value]
    return value


def uses_prev(value: Any, depth: int = 0) -> bool:
    """Whether a value (or predicate) reads ``$prev``."""
    if depth > 64:
        return False
    if isinstance(value, str):
        return value.startswith("$prev") and (len(value) == 5 or value[5] in ".[?")
    if isinstance(value, dict):
        return not _is_literal(value) and any(uses_prev(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(uses_prev(v, depth + 1) for v in value)
    return False


# --- what values read -------------------------------------------------------------------

def event_view(agg_type: str, agg_id: str, event_type: str, data, metadata: dict | None,
               timestamp: float) -> dict:
    """An event as a step's values read it."""
    return {"data": data, "metadata": {**(metadata or {}), "timestamp": int(timestamp)},
            "key": f"{agg_type}:{agg_id}", "type": event_type, "id": agg_id}


def scope(trigger: dict, prev: dict | None) -> dict:
    """The roots a step's values read: the trigger event's, and ``prev``."""
    return {**trigger, PREV: prev}


def resolve(value: Any, names: dict) -> Any:
    from chalicelib.domain import ticks
    try:
        return ticks.resolve(rewrite_prev(value), names)
    except ticks.TickError as exc:
        raise StepError(str(exc)) from None


def condition_holds(condition: Any, names: dict) -> bool:
    """A step without a condition runs; one whose condition is false is skipped."""
    if condition is None:
        return True
    from chalicelib.domain import ticks
    try:
        return ticks.evaluate_predicate(rewrite_prev(condition), names)
    except ticks.TickError as exc:
        raise StepError(f"condition: {exc}") from None


def _target_id(value: Any, names: dict, what: str) -> str:
    ident = resolve(value, names)
    if isinstance(ident, bool) or not isinstance(ident, (str, int, float)) or ident == "":
        raise StepError(f"{what} resolved to {ident!r}; it must name an aggregate id")
    text = str(ident)
    if isinstance(ident, float) and ident.is_integer():
        text = str(int(ident))
    return text


def resolve_emit(emit: dict, names: dict, what: str = "emit") -> tuple[str, str, str, dict]:
    """(aggregate type, id, event type, data) of an emit or compensate."""
    agg_id = _target_id(emit["id"], names, f"{what}.id")
    data = resolve(emit.get("data", {}), names)
    if not isinstance(data, dict):
        raise StepError(f"{what}.data resolved to {type(data).__name__}, not an object")
    return emit["aggregate_type"], agg_id, emit["event_type"], data


def await_target(step: dict, emit_id: str, names: dict) -> tuple[str, str, list[str]]:
    """(aggregate type, id, event types) a step awaits: an event of await.aggregate_type
    whose aggregate id is await.id when given, else the id the step's emit went to."""
    spec = step["await"]
    agg_id = (_target_id(spec["id"], names, "await.id") if spec.get("id") is not None
              else emit_id)
    return spec["aggregate_type"], agg_id, list(spec["event_types"])


def timeout_ms(step: dict) -> int:
    """How long a step's await waits, in ms: timeout_ms, else the duration `timeout`,
    else DEFAULT_TIMEOUT_MS."""
    if step.get("timeout_ms") is not None:
        return int(step["timeout_ms"])
    if step.get("timeout") is not None:
        from chalicelib.domain.specs.rules import parse_duration
        seconds = parse_duration(step["timeout"])
        if seconds is not None:
            return seconds * 1000
    return DEFAULT_TIMEOUT_MS


# --- which steps read what ----------------------------------------------------------------

def prev_step(records: list[dict], index: int) -> int | None:
    """The nearest step before `index` whose await was satisfied (its record holds the
    awaited event), or None."""
    for i in range(index - 1, -1, -1):
        if records[i].get("awaited"):
            return i
    return None


def to_compensate(definition: dict, records: list[dict]) -> list[int]:
    """The steps a compensation still has to undo, in the order it undoes them: the
    completed steps that declare a `compensate`, last first."""
    steps = definition["steps"]
    return [i for i in range(len(records) - 1, -1, -1)
            if records[i]["status"] in (COMPLETED, COMPENSATING)
            and steps[i].get("compensate") is not None]


def new_records(definition: dict) -> list[dict]:
    """Every step's record at the start of a run: the first running, the rest pending."""
    return [{"name": step["name"], "status": RUNNING if i == 0 else PENDING, "attempts": 0,
             "started_at": None, "emitted_at": None, "completed_at": None,
             "deadline_at": None, "awaited": None, "compensated_at": None, "error": None}
            for i, step in enumerate(definition["steps"])]
