"""Scheduled events: a `schedule` implication keeps an event to emit later, emits it
through the data plane's own append when it comes due, and a `cancel_on` event cancels
it before that.

- Scheduling: when an event whose type declares `schedule` implications is appended,
  the reactor (`react`) puts one ScheduledEvent per implication into the append's own
  transaction (status pending, due at the event's time + delay), with one
  CancelRegistration per `cancel_on` entry, its aggregate id resolved now (an
  identifier, not a payload). The item keeps a reference to the event that scheduled it
  (stream key and position), never its data: the emit's id and data are resolved from
  that event when it comes due.
- Cancelling: when an event that some `cancel_on` of the spec names is appended, the
  reactor Queries the open registrations of that exact aggregate and event type and adds,
  to the same transaction, updates that mark those schedules cancelled (`cancelled_at`,
  set only if absent, without a condition: an append is never refused because of a
  schedule) and close the registrations.
- Coming due: the `scheduled_events` job (every minute) Queries the sparse `by_due` index
  for what is due within LOOKAHEAD_SECONDS, marks each queued with a conditional update
  (a second run does not send it again; one whose message was lost is sent again after
  REQUEUE_SECONDS) and sends it to the "timers" queue with DelaySeconds = due - now,
  rounded down (the task waits the fraction left).
- Emitting: the task reads the scheduling event, resolves the emit and appends it as the
  system (`reactions.emit`) with a Guard that claims the item (pending and not cancelled
  -> emitted, with the stream id) and writes the `scheduled_event_emitted` audit entry,
  all in the append's transaction: emitted exactly once, however many copies run. An
  emit the data plane refuses is recorded as an attempt (its error) and tried again
  after RETRY_DELAYS; after MAX_ATTEMPTS the item is failed: a dead letter an operator
  may retry or inspect. A scheduling event since tombstoned cancels it."""
from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.identity import audit
from chalicelib.identity.principal import SCHEDULER
from chalicelib.store import listing, queues, reactions
from chalicelib.store.conditions import update_if
from chalicelib.store.keys import scope_key, stream_key
from chalicelib.store.streams import event_scope
from chalicelib.store.tables import CancelRegistration, ScheduledEvent, StoredEvent

ID_PATTERN = r"^se_[0-9]{13}[0-9a-f]{12}$"
_ID = re.compile(ID_PATTERN)
TASK = "scheduled_event"
DUE = "due"                        # the by_due index's one partition
LOOKAHEAD_SECONDS = 90             # the job queues what is due this soon (it runs every 60 s)
REQUEUE_SECONDS = 120              # a queued one still pending this long after is sent again
EARLY_SECONDS = 1.5                # a message this early waits here; earlier, it is re-sent
JOB_BATCH = 1000                   # at most this many queued per run (the next run goes on)
RETRY_DELAYS = (60, 300)           # after the 1st and 2nd failed attempt
MAX_ATTEMPTS = 3                   # then failed: a dead letter
KEEP_SECONDS = 35 * 86400          # an emitted or cancelled one is kept this long (TTL)
REGISTRATION_SECONDS = 30 * 86400  # a registration outlives its due time by this much
CLOSED_REGISTRATION_SECONDS = 86400
MAX_CANCELS_PER_APPEND = 24        # more are cancelled right after the append commits
MAX_PAGE = 1000
DEFAULT_PAGE = 100
STATUSES = ("pending", "emitted", "cancelled", "failed")
_sleep = time.sleep   # replaceable in tests


def parse_delay_ms(schedule: dict) -> int:
    from chalicelib.domain.specs.rules import parse_duration
    if "delay_ms" in schedule:
        return int(schedule["delay_ms"])
    return int(parse_duration(schedule["delay"])) * 1000


# --- what the spec schedules and cancels -------------------------------------------------

@dataclass
class Plan:
    """A spec's schedules by triggering event, and the events some cancel_on names."""
    schedules: dict = field(default_factory=dict)  # (type, event) -> [(i, schedule)]
    cancellers: set = field(default_factory=set)   # {(type, event)}


_plans: "OrderedDict[int, tuple[dict, Plan]]" = OrderedDict()
_plans_lock = threading.Lock()


def plan_of(spec: dict) -> Plan:
    """What `spec` schedules (kept per spec object: the spec store caches the spec in
    force, so an append costs a dict lookup)."""
    with _plans_lock:
        found = _plans.get(id(spec))
        if found is not None and found[0] is spec:
            return found[1]
    plan = Plan()
    for agg_type, agg in (spec.get("aggregate_types") or {}).items():
        for event_type, definition in ((agg or {}).get("events") or {}).items():
            for i, implication in enumerate((definition or {}).get("implications") or []):
                schedule = implication.get("schedule") if isinstance(implication, dict) else None
                if not isinstance(schedule, dict):
                    continue
                plan.schedules.setdefault((agg_type, event_type), []).append((i, schedule))
                for entry in schedule.get("cancel_on") or []:
                    if isinstance(entry, str):
                        plan.cancellers.add((agg_type, entry))
                    elif isinstance(entry, dict):
                        plan.cancellers.add((entry.get("aggregate_type"), entry.get("event_type")))
    with _plans_lock:
        _plans[id(spec)] = (spec, plan)
        while len(_plans) > 64:
            _plans.popitem(last=False)
    return plan


def target_id(template, agg_type: str, scope_vars: dict) -> str | None:
    """An aggregate id from an `id` value (a literal or a path into the event); a
    "<type>:<id>" key of `agg_type` ($.key) gives its id. None when it names none."""
    from chalicelib.domain import ticks
    value = ticks.resolve(template, scope_vars)
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    prefix = f"{agg_type}:"
    if text.startswith(prefix) and len(text) > len(prefix):
        text = text[len(prefix):]
    return text or None


def _cancel_key(agg_type: str, agg_id: str, event_type: str) -> str:
    return f"{agg_type}#{agg_id}#{event_type}"


def _split_key(key: str) -> dict:
    agg_type, rest = key.split("#", 1)
    agg_id, event_type = rest.rsplit("#", 1)
    return {"aggregate_type": agg_type, "id": agg_id, "event_type": event_type}


# --- the reactor ---------------------------------------------------------------------------

def new_id(created_at: float, stream: str, position: int, implication: int) -> str:
    """Derived from the scheduling event and the implication: one item per pair."""
    digest = hashlib.sha256(f"{stream}@{position}#{implication}".encode()).hexdigest()
    return f"se_{int(created_at * 1000):013d}{digest[:12]}"


def _scheduled(scope: str, instance_id: str, env: str, w: reactions.Written, i: int,
               schedule: dict) -> tuple[ScheduledEvent, list[str]]:
    from chalicelib.domain import ticks
    stream = stream_key(instance_id, env, w.agg_type, w.agg_id)
    delay_ms = parse_delay_ms(schedule)
    due = round(w.created_at + delay_ms / 1000, 3)
    scope_vars = event_scope(w.agg_type, w.agg_id, w.event_type, w.data, w.metadata,
                             w.created_at)
    keys: list[str] = []
    for entry in schedule.get("cancel_on") or []:
        if isinstance(entry, str):
            key = _cancel_key(w.agg_type, w.agg_id, entry)
        else:
            try:
                agg_id = target_id(entry["id"], entry["aggregate_type"], scope_vars)
            except ticks.TickError:
                agg_id = None
            if agg_id is None:      # names no aggregate for this event: nothing cancels by it
                continue
            key = _cancel_key(entry["aggregate_type"], agg_id, entry["event_type"])
        if key not in keys:
            keys.append(key)
    emit = schedule["emit"]
    item = ScheduledEvent(
        scope, new_id(w.created_at, stream, w.position, i), status="pending", due_at=due,
        due_key=DUE, source_stream=stream, source_position=w.position,
        source_type=w.agg_type, source_id=w.agg_id, source_event_type=w.event_type,
        implication=i, delay_ms=delay_ms, emit=emit, target_type=emit["aggregate_type"],
        target_event_type=emit["event_type"], cancel_keys=keys, attempts=[],
        created_at=w.created_at)
    return item, keys


def _registration(scope: str, key: str, item: ScheduledEvent, closed_at=None):
    reg = CancelRegistration(key=f"{scope}#{key}", schedule_id=item.id, due_at=item.due_at,
                             ttl=int(item.due_at) + REGISTRATION_SECONDS)
    if closed_at is not None:
        reg.closed_at = closed_at
        reg.ttl = int(closed_at) + CLOSED_REGISTRATION_SECONDS
    return reg


def _kept_until(now: float, due_at: float) -> int:
    """An emitted or cancelled item's TTL: after every registration naming it (those
    expire REGISTRATION_SECONDS after the due time), so that no cancel_on update ever
    meets a registration whose item is gone (an update would make a new item)."""
    return int(max(now, due_at)) + KEEP_SECONDS


def _cancel_actions(now: float, due_at: float, by: str, reason: str) -> list:
    S = ScheduledEvent
    return [S.cancelled_at.set(S.cancelled_at | now), S.cancelled_by.set(S.cancelled_by | by),
            S.cancel_reason.set(S.cancel_reason | reason), S.due_key.remove(),
            S.ttl.set(S.ttl | _kept_until(now, due_at))]


def _close_actions(now: float) -> list:
    return [CancelRegistration.closed_at.set(now),
            CancelRegistration.ttl.set(int(now) + CLOSED_REGISTRATION_SECONDS)]


def react(spec: dict, instance_id: str, env: str, written: list) -> reactions.Effects:
    """What appending `written` schedules and cancels (no I/O unless the spec schedules
    or cancels something for these events)."""
    out = reactions.Effects()
    plan = plan_of(spec)
    if not plan.schedules and not plan.cancellers:
        return out
    scope = scope_key(instance_id, env)
    created: list[tuple[int, ScheduledEvent, list[str]]] = []
    for n, w in enumerate(written):
        for i, schedule in plan.schedules.get((w.agg_type, w.event_type), ()):
            item, keys = _scheduled(scope, instance_id, env, w, i, schedule)
            created.append((n, item, keys))
    hits: dict[str, list] = {}   # cancel key -> [(index in written, event), ...]
    for n, w in enumerate(written):
        if (w.agg_type, w.event_type) in plan.cancellers:
            hits.setdefault(_cancel_key(w.agg_type, w.agg_id, w.event_type), []).append((n, w))
    now = clock.now()
    # a schedule made and cancelled within this one append is written cancelled
    for n, item, keys in created:
        after = [(m, w) for k in keys for m, w in hits.get(k, ()) if m > n]
        by = min(after, key=lambda hit: hit[0])[1] if after else None
        if by is not None:
            item.status = "cancelled"
            item.due_key = None
            item.cancelled_at, item.cancelled_by = now, by.stream_id
            item.cancel_reason = f"cancel_on {by.agg_type}.{by.event_type}"
            item.ttl = _kept_until(now, item.due_at)
        out.puts.append(item)
        out.puts += [_registration(scope, k, item, now if by is not None else None)
                     for k in keys]
    # schedules made by earlier appends: their open registrations for these events
    seen: set[str] = set()
    late: list = []
    for key, [(_, w), *_] in hits.items():
        emitting = (w.metadata or {}).get("scheduled_by")   # never cancels itself
        condition = (CancelRegistration.closed_at.does_not_exist()
                     & (CancelRegistration.ttl > int(now)))
        for reg in CancelRegistration.query(f"{scope}#{key}", filter_condition=condition,
                                            consistent_read=True):
            if reg.schedule_id in seen or reg.schedule_id == emitting:
                continue
            seen.add(reg.schedule_id)
            writes = [(ScheduledEvent(scope, reg.schedule_id),
                       _cancel_actions(now, float(reg.due_at), w.stream_id,
                                       f"cancel_on {w.agg_type}.{w.event_type}")),
                      (CancelRegistration(key=reg.key, schedule_id=reg.schedule_id),
                       _close_actions(now))]
            if len(seen) <= MAX_CANCELS_PER_APPEND:
                out.updates += writes
            else:
                late += writes
    if late:
        out.after.append(lambda: _apply(late))
    return out


def _apply(writes: list) -> None:
    """Cancellations beyond what one append's transaction holds, once it committed
    (each an unconditional, repeatable update)."""
    for item, actions in writes:
        item.update(actions=actions)


# --- the job: hand what is due to the timers queue ---------------------------------------

def run_due() -> dict:
    """Queue every pending scheduled event due within LOOKAHEAD_SECONDS (not queued, or
    queued REQUEUE_SECONDS ago and still pending), each claimed with a conditional
    update first: two runs at once send each once."""
    now = clock.now()
    S = ScheduledEvent
    fresh = S.queued_at.does_not_exist() | (S.queued_at <= now - REQUEUE_SECONDS)
    queued = resent = lost = 0
    for item in S.by_due.query(DUE, S.due_at <= now + LOOKAHEAD_SECONDS,
                               filter_condition=fresh, limit=JOB_BATCH):
        condition = ((S.status == "pending") & S.cancelled_at.does_not_exist()
                     & (S.due_key == DUE) & (S.due_at == item.due_at))
        condition &= (S.queued_at.does_not_exist() if item.queued_at is None
                      else S.queued_at == item.queued_at)
        claimed = ScheduledEvent(item.scope, item.id)
        if not update_if(claimed, [S.queued_at.set(now)], condition):
            lost += 1
            continue
        sent = queues.offer("timers", {"task": TASK, "scope": item.scope, "id": item.id},
                            delay_seconds=math.floor(max(0.0, item.due_at - clock.now())))
        if item.queued_at is None:
            queued += 1
        else:
            resent += 1
        if not sent:
            lost += 1
    return {"queued": queued, "resent": resent, "skipped": lost}


# --- the task: emit one ------------------------------------------------------------------

def _error_text(exc: AppError) -> str:
    """What an attempt records of a refusal: the kind, its description and the paths
    involved, never the values (they may be personal data the event carried)."""
    text = f"{exc.kind.name}: {exc.kind.message}"
    paths = [d.get("path") for d in (exc.details or []) if isinstance(d, dict) and d.get("path")]
    if paths:
        text += " (at " + ", ".join(str(p) for p in paths[:5]) + ")"
    elif exc.kind.name in ("UNKNOWN_AGGREGATE_TYPE", "UNKNOWN_EVENT_TYPE", "SPEC_NOT_FOUND",
                           "BATCH_TOO_LARGE", "EVENT_TOO_LARGE", "STATE_TOO_LARGE"):
        text += f" ({exc.message[:300]})"
    return text


def run_task(message: dict) -> str:
    """One scheduled event from the timers queue: emitted, retried later, or nothing
    (already emitted, cancelled or gone: a message delivered twice does the work once)."""
    scope, schedule_id = message.get("scope"), message.get("id")
    if not isinstance(scope, str) or not isinstance(schedule_id, str):
        return "dropped"
    try:
        item = ScheduledEvent.get(scope, schedule_id, consistent_read=True)
    except ScheduledEvent.DoesNotExist:
        return "gone"
    if item.status != "pending" or item.cancelled_at is not None:
        return "done"
    wait = item.due_at - clock.now()
    if wait > EARLY_SECONDS:
        if wait <= queues.MAX_DELAY_SECONDS:
            queues.send("timers", {"task": TASK, "scope": scope, "id": schedule_id},
                        delay_seconds=math.ceil(wait))
            return "early"
        return "not due"
    if wait > 0:
        _sleep(wait)   # DelaySeconds is whole seconds, rounded down: the fraction here
    return emit(item)


def emit(item: ScheduledEvent) -> str:
    from chalicelib.domain import ticks
    instance_id, env = item.scope.split("#", 1)
    try:
        source = StoredEvent.get(item.source_stream, item.source_position, consistent_read=True)
    except StoredEvent.DoesNotExist:
        return record_failure(item, "SOURCE_MISSING: the event that scheduled it is not stored")
    if source.tombstoned is not None:
        return cancel_tombstoned(item)
    scope_vars = event_scope(item.source_type, item.source_id, source.event_type, source.data,
                             source.metadata, source.created_at)
    spec_emit = item.emit
    try:
        agg_id = target_id(spec_emit["id"], spec_emit["aggregate_type"], scope_vars)
        data = ticks.resolve(spec_emit.get("data", {}), scope_vars)
    except ticks.TickError as exc:
        return record_failure(item, f"HANDLER_FAILED: the emit could not be resolved "
                                    f"(at {exc.path or 'emit'})")
    if agg_id is None:
        return record_failure(item, "INVALID_ID: emit.id names no aggregate for the event "
                                    "that scheduled it")
    actor = (source.metadata or {}).get("actor")
    metadata = {"actor": actor, "scheduled_by": item.id}
    keys = list(item.cancel_keys or [])
    source_id = f"{item.source_type}/{item.source_id}@{int(item.source_position)}"
    refusal = AppError("SCHEDULED_EVENT_TAKEN")
    guard = reactions.Guard(write=None, count=2 + len(keys), refusal=refusal)

    def write(tx):
        now = clock.now()
        stream_id = (guard.planned or {}).get("stream_id") or ""
        S = ScheduledEvent
        tx.update(ScheduledEvent(item.scope, item.id),
                  actions=[S.status.set("emitted"), S.emitted_at.set(now),
                           S.emitted_stream_id.set(stream_id), S.due_key.remove(),
                           S.ttl.set(_kept_until(now, item.due_at))],
                  condition=(S.status == "pending") & S.cancelled_at.does_not_exist())
        note = audit.Note(f"{instance_id}/{env}/scheduled/{item.id}",
                          {"scheduled_event_id": item.id, "stream_id": stream_id,
                           "source": source_id, "due_at": clock.iso(item.due_at)})
        audit.Act(SCHEDULER, "scheduled_event_emitted").put(tx, note)
        for key in keys:
            tx.update(CancelRegistration(key=f"{item.scope}#{key}", schedule_id=item.id),
                      actions=_close_actions(now))

    guard.write = write
    try:
        reactions.emit(instance_id, env, spec_emit["aggregate_type"], agg_id,
                       spec_emit["event_type"], data, metadata, guard=guard)
    except AppError as exc:
        if exc is refusal or exc.kind.name == "SCHEDULED_EVENT_TAKEN":
            return "taken"
        if exc.kind.name == "SERVICE_UNAVAILABLE":
            raise       # busy: the message comes back (and the job re-sends it)
        if exc.kind.name == "AGGREGATE_TOMBSTONED":   # the target was erased: never
            return cancel_tombstoned(item, "target aggregate was tombstoned")
        return record_failure(item, _error_text(exc))
    return "emitted"


def record_failure(item: ScheduledEvent, error: str) -> str:
    """Record a failed attempt: try again after RETRY_DELAYS, or (the last) fail it.
    Conditional on the due time this run took, so two copies record one attempt."""
    S = ScheduledEvent
    now = clock.now()
    attempts = list(item.attempts or []) + [{"at": round(now, 3), "error": error[:1000]}]
    made = len(attempts) - int(item.attempts_base or 0)
    actions = [S.attempts.set(attempts), S.queued_at.remove()]
    if made >= MAX_ATTEMPTS:
        actions += [S.status.set("failed"), S.due_key.remove()]
    else:
        actions += [S.due_at.set(round(now + RETRY_DELAYS[min(made, len(RETRY_DELAYS)) - 1], 3))]
    condition = ((S.status == "pending") & S.cancelled_at.does_not_exist()
                 & (S.due_at == item.due_at))
    if not update_if(ScheduledEvent(item.scope, item.id), actions, condition):
        return "taken"
    return "failed" if made >= MAX_ATTEMPTS else "retry later"


def cancel_tombstoned(item: ScheduledEvent,
                      reason: str = "source event was tombstoned") -> str:
    S = ScheduledEvent
    now = clock.now()
    actions = [S.status.set("cancelled"), S.cancelled_at.set(now),
               S.cancelled_by.set(SCHEDULER.subject),
               S.cancel_reason.set(reason), S.due_key.remove(),
               S.queued_at.remove(), S.ttl.set(_kept_until(now, item.due_at))]
    condition = (S.status == "pending") & S.cancelled_at.does_not_exist()
    return "cancelled" if update_if(ScheduledEvent(item.scope, item.id), actions,
                                    condition) else "taken"


# --- what the routes show and do -----------------------------------------------------------

def status_of(item: ScheduledEvent) -> str:
    if item.cancelled_at is not None and item.status != "emitted":
        return "cancelled"
    return item.status


def describe(item: ScheduledEvent) -> dict:
    status = status_of(item)
    cancelled = status == "cancelled"
    return {
        "id": item.id, "status": status, "due_at": clock.iso(item.due_at),
        "delay_ms": int(item.delay_ms),
        "aggregate_type": item.source_type, "aggregate_id": item.source_id,
        "event_type": item.source_event_type,
        "source_stream_id": f"{item.source_type}/{item.source_id}@{int(item.source_position)}",
        "emit": {"aggregate_type": item.target_type, "event_type": item.target_event_type},
        "cancel_on": [_split_key(k) for k in (item.cancel_keys or [])],
        "attempts": [{"at": clock.iso(a.get("at")), "error": a.get("error")}
                     for a in (item.attempts or [])],
        "created_at": clock.iso(item.created_at),
        "queued_at": clock.iso(item.queued_at) if status == "pending" else None,
        "emitted_at": clock.iso(item.emitted_at),
        "emitted_stream_id": item.emitted_stream_id,
        "cancelled_at": clock.iso(item.cancelled_at) if cancelled else None,
        "cancelled_by": item.cancelled_by if cancelled else None,
        "cancel_reason": item.cancel_reason if cancelled else None,
        "retried_at": clock.iso(item.retried_at),
    }


def get(instance_id: str, env: str, schedule_id: str) -> ScheduledEvent:
    if not _ID.match(schedule_id or ""):
        raise AppError("SCHEDULED_EVENT_NOT_FOUND", "No scheduled event has that id (ids look "
                                                    "like se_<13 digits><12 hex>)")
    try:
        item = ScheduledEvent.get(scope_key(instance_id, env), schedule_id,
                                  consistent_read=True)
    except ScheduledEvent.DoesNotExist:
        raise AppError("SCHEDULED_EVENT_NOT_FOUND")
    if item.source_stream is None:     # only a late cancel_on update's remains
        raise AppError("SCHEDULED_EVENT_NOT_FOUND")
    return item


def _status_condition(status: str):
    S = ScheduledEvent
    if status == "emitted":
        return S.status == "emitted"
    if status == "cancelled":
        return (S.status == "cancelled") | (S.cancelled_at.exists() & (S.status != "emitted"))
    return (S.status == status) & S.cancelled_at.does_not_exist()


def list_page(instance_id: str, env: str, status: str | None, agg_type: str | None,
              agg_id: str | None, limit: int, cursor: str | None, key: str = "scheduled") -> dict:
    """Newest first, `limit` at a time: one consistent Query of the environment's
    scheduled events, filtered by status and by the aggregate whose event scheduled them."""
    S = ScheduledEvent
    page, next_cursor = listing.newest_first(
        S, scope_key(instance_id, env),
        [_status_condition(status) if status is not None else None,
         S.source_type == agg_type if agg_type is not None else None,
         S.source_id == agg_id if agg_id is not None else None],
        limit, cursor, _ID)
    return {key: [describe(i) for i in page if i.source_stream is not None],
            "next_cursor": next_cursor}


def _target(instance_id: str, env: str, item: ScheduledEvent) -> str:
    return f"{instance_id}/{env}/scheduled/{item.id}"


def cancel(act: audit.Act, instance_id: str, env: str, schedule_id: str,
           reason: str | None) -> tuple[dict, audit.Note]:
    """A pending one becomes cancelled (its registrations closed), with its audit entry
    in the same transaction; 409 for any other status."""
    item = get(instance_id, env, schedule_id)
    if status_of(item) != "pending":
        raise AppError("SCHEDULED_EVENT_NOT_PENDING",
                       f"Scheduled event {item.id} is {status_of(item)}; only a pending one "
                       "can be cancelled")
    S = ScheduledEvent
    now = clock.now()
    why = reason or "cancelled by an operator"
    note = audit.Note(_target(instance_id, env, item),
                      {"scheduled_event_id": item.id, "reason": why,
                       "due_at": clock.iso(item.due_at)})

    def write(tx):
        tx.update(ScheduledEvent(item.scope, item.id),
                  actions=[S.status.set("cancelled"), S.cancelled_at.set(now),
                           S.cancelled_by.set(act.actor.subject), S.cancel_reason.set(why),
                           S.due_key.remove(), S.queued_at.remove(),
                           S.ttl.set(_kept_until(now, item.due_at))],
                  condition=(S.status == "pending") & S.cancelled_at.does_not_exist())
        for key in item.cancel_keys or []:
            tx.update(CancelRegistration(key=f"{item.scope}#{key}", schedule_id=item.id),
                      actions=_close_actions(now))
    if not act.commit(note, write):
        raise AppError("SCHEDULED_EVENT_NOT_PENDING", f"Scheduled event {item.id} was emitted "
                                                      "or cancelled meanwhile")
    return describe(get(instance_id, env, schedule_id)), note


def retry(act: audit.Act, instance_id: str, env: str,
          schedule_id: str) -> tuple[dict, audit.Note]:
    """A failed one (a dead letter) becomes pending, due now, with MAX_ATTEMPTS more
    attempts, and is sent to the timers queue at once; 409 for any other status."""
    item = get(instance_id, env, schedule_id)
    if status_of(item) != "failed":
        raise AppError("SCHEDULED_EVENT_NOT_FAILED",
                       f"Scheduled event {item.id} is {status_of(item)}; only a failed one "
                       "can be retried")
    S = ScheduledEvent
    now = round(clock.now(), 3)
    attempts = len(item.attempts or [])
    note = audit.Note(_target(instance_id, env, item),
                      {"scheduled_event_id": item.id, "attempts": attempts})

    def write(tx):
        tx.update(ScheduledEvent(item.scope, item.id),
                  actions=[S.status.set("pending"), S.due_at.set(now), S.due_key.set(DUE),
                           S.queued_at.set(now), S.attempts_base.set(attempts),
                           S.retried_at.set(now)],
                  condition=(S.status == "failed") & S.cancelled_at.does_not_exist())
    if not act.commit(note, write):
        raise AppError("SCHEDULED_EVENT_NOT_FAILED", f"Scheduled event {item.id} is no longer "
                                                     "failed")
    # a lost message is sent again by the job after REQUEUE_SECONDS
    queues.offer("timers", {"task": TASK, "scope": item.scope, "id": item.id})
    return describe(get(instance_id, env, schedule_id)), note
