"""Sagas at run time: `modules.sagas` of the spec in force, run step by step.

- Start: the append of a trigger event writes a SagaInstance (status running, step 0
  running) in its own transaction (jobs.react), then sends a "timers" message.
- A step (`advance`): its condition is evaluated against the trigger event and `$prev`
  (chalicelib/domain/sagas.py); false -> the step is `skipped`. Otherwise its emit is
  appended through the data plane (reactions.emit) with a guard in the same transaction:
  the saga item's update conditional on its version (step awaiting, or completed),
  the waiter of its await, and the audit entry `saga_step_emitted`. A step without an
  await is completed by its emit; one with an await waits for an event of
  await.aggregate_type whose id is await.id (else the id its emit went to) and of one
  of await.event_types, appended after the emit (or by the emit's own implications).
- The append of such an event records its arrival on the waiter (jobs.react, in the
  append's transaction) and sends a message; the step is then completed and the next
  one runs. No event by the deadline (timeout_ms, or timeout, or a day) -> `timed_out`.
- A failed or timed-out step makes the saga `compensating`: the `compensate` emits of
  the completed steps run last first (each step `compensated`, audited
  `saga_compensated`), then the saga is `compensated`. A compensation the data plane
  refuses leaves its step `compensation_failed` and the saga `failed`.
- Every transition is a write conditional on the saga's version: a duplicate message,
  or two copies of one at once, do each step once. A transient failure (the store
  unavailable) is recorded on the step (attempts, error) and raised, so the message
  comes back; after MAX_ATTEMPTS the step fails.
- Values are read from the events themselves when a step runs (the saga keeps only
  references); a tombstoned trigger or awaited event cancels the saga."""
from __future__ import annotations

import math
import re
import secrets
import threading

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain import permissions as perms
from chalicelib.domain import sagas as rules
from chalicelib.identity import audit
from chalicelib.identity.principal import Principal
from chalicelib.store import keys, listing, queues, reactions
from chalicelib.store.conditions import update_if
from chalicelib.store.tables import SagaInstance, SagaWaiter, StoredEvent

ID_PATTERN = r"^sg_[0-9]{13}[0-9a-f]{12}$"
_ID = re.compile(ID_PATTERN)
SAGAS = Principal(subject="system:sagas", kind="system", permissions=(perms.ALL,))
TASK = "saga"
GRACE_SECONDS = 60          # a message not acted on by then is re-sent by the sweeper
MAX_ATTEMPTS = 3            # transient failures of one step's emit before it fails
MAX_PAGE = 500
DEFAULT_PAGE = 50
TOMBSTONED = "source event was tombstoned"


def new_id() -> str:
    return f"sg_{int(clock.now() * 1000):013d}{secrets.token_hex(6)}"


def scope_parts(scope: str) -> tuple[str, str]:
    instance_id, env = scope.rsplit("#", 1)
    return instance_id, env


def message(scope: str, saga_id: str, why: str, waiter: list | None = None) -> dict:
    body = {"task": TASK, "scope": scope, "id": saga_id, "why": why}
    if waiter:
        body["waiter"] = waiter
    return body


def send(scope: str, saga_id: str, why: str, delay: float = 0, waiter=None) -> bool:
    return queues.offer("timers", message(scope, saga_id, why, waiter),
                        delay_seconds=max(0, min(math.ceil(delay), queues.MAX_DELAY_SECONDS)))


# --- the item ---------------------------------------------------------------------------

def new_instance(scope: str, name: str, definition: dict, agg_type: str, agg_id: str,
                 event_type: str, position: int, now: float) -> SagaInstance:
    records = rules.new_records(definition)
    records[0]["started_at"] = now
    return SagaInstance(scope, new_id(), saga=name, status=rules.RUNNING,
                        trigger_type=agg_type, trigger_id=agg_id, trigger_event=event_type,
                        trigger_position=position, definition=definition, steps=records,
                        step=0, run=1, version=1, created_at=now, updated_at=now,
                        due="due", due_at=now + GRACE_SECONDS)


def _changes(item: SagaInstance, now: float, **fields) -> list:
    """Update actions for `fields` plus version + 1 and updated_at; due_at=None takes the
    saga out of the sweeper's index."""
    actions = [SagaInstance.version.set(int(item.version) + 1),
               SagaInstance.updated_at.set(now)]
    for name, value in fields.items():
        if name == "due_at" and value is None:
            actions += [SagaInstance.due.remove(), SagaInstance.due_at.remove()]
        elif name == "due_at":
            actions += [SagaInstance.due.set("due"), SagaInstance.due_at.set(value)]
        elif value is None:
            actions.append(getattr(SagaInstance, name).remove())
        else:
            actions.append(getattr(SagaInstance, name).set(value))
    return actions


def _save(item: SagaInstance, now: float, **fields) -> bool:
    """A transition: applied only if nobody changed the saga since it was read (then
    also to `item`, which the next turn uses without reading it again)."""
    if not update_if(SagaInstance(item.scope, item.id), _changes(item, now, **fields),
                     SagaInstance.version == int(item.version)):
        return False
    _apply(item, now, **fields)
    return True


def _apply(item: SagaInstance, now: float, **fields) -> None:
    """What a committed transition wrote, in memory."""
    item.version = int(item.version) + 1
    item.updated_at = now
    for name, value in fields.items():
        if name == "due_at":
            item.due = None if value is None else "due"
        setattr(item, name, value)
    item.fresh = True


def get(instance_id: str, env: str, saga_id: str) -> SagaInstance:
    if not _ID.match(saga_id or ""):
        raise AppError("SAGA_NOT_FOUND", "No saga has that id (ids look like "
                                         "sg_<13 digits><12 hex>)")
    try:
        return SagaInstance.get(keys.scope_key(instance_id, env), saga_id, consistent_read=True)
    except SagaInstance.DoesNotExist:
        raise AppError("SAGA_NOT_FOUND")


# --- reading the events a step reads ----------------------------------------------------

class Tombstoned(Exception):
    pass


def _event(scope: str, agg_type: str, agg_id: str, position: int) -> dict:
    instance_id, env = scope_parts(scope)
    try:
        event = StoredEvent.get(keys.stream_key(instance_id, env, agg_type, agg_id),
                                int(position), consistent_read=True)
    except StoredEvent.DoesNotExist:
        raise rules.StepError(f"the event {agg_type}/{agg_id}@{position} is not stored")
    if event.tombstoned is not None:
        raise Tombstoned()
    view = rules.event_view(agg_type, agg_id, event.event_type, event.data,
                            event.metadata, float(event.created_at))
    view["_actor"] = (event.metadata or {}).get("actor")
    return view


def _trigger(item: SagaInstance) -> dict:
    return _event(item.scope, item.trigger_type, item.trigger_id, int(item.trigger_position))


def _awaited(item: SagaInstance, index: int | None) -> dict | None:
    if index is None:
        return None
    ref = item.steps[index].get("awaited")
    if not ref:
        return None
    return _event(item.scope, ref["aggregate_type"], ref["aggregate_id"], int(ref["position"]))


def _names(trigger: dict, prev: dict | None) -> dict:
    clean = {k: v for k, v in trigger.items() if k != "_actor"}
    prev = {k: v for k, v in prev.items() if k != "_actor"} if prev else None
    return rules.scope(clean, prev)


# --- an emit that sees its own awaited event (implications) ------------------------------

_local = threading.local()


class _Watch:
    """The await a step registers in its emit's transaction: when that same append also
    writes an awaited event (an implication of the emitted event), the reactor notes it
    here and the waiter is registered already arrived."""

    def __init__(self, key: str, event_types: list[str]):
        self.key = key
        self.event_types = set(event_types)
        self.arrival = None     # (event_type, position, created_at)


def watching() -> "_Watch | None":
    return getattr(_local, "watch", None)


# --- advancing a saga -------------------------------------------------------------------

def advance(scope: str, saga_id: str, why: str = "step", waiter: list | None = None) -> str:
    """Do every transition the saga is ready for; what it is left at."""
    outcome = "gone"
    _local.forgotten = set()
    item = None
    for _ in range(200):
        if item is None or not getattr(item, "fresh", False):
            try:
                item = SagaInstance.get(scope, saga_id, consistent_read=True)
            except SagaInstance.DoesNotExist:
                _forget_waiter(waiter)
                return "gone"
        item.fresh = False
        outcome = _turn(item, why)
        if outcome is not None:
            break
    if waiter and tuple(waiter) not in _local.forgotten and (
            outcome != "awaiting" or _current_waiter(scope, saga_id) != list(waiter)):
        _forget_waiter(waiter)   # an arrival for a step no longer awaiting it
    return outcome or "running"


def _current_waiter(scope: str, saga_id: str) -> list | None:
    try:
        item = SagaInstance.get(scope, saga_id, consistent_read=True)
    except SagaInstance.DoesNotExist:
        return None
    record = item.steps[int(item.step)]
    return list(record.get("waiter") or ()) if record["status"] == rules.AWAITING else None


def _forget_waiter(waiter) -> None:
    if waiter:
        getattr(_local, "forgotten", set()).add(tuple(waiter))
        try:
            SagaWaiter(waiter[0], waiter[1]).delete()
        except Exception:  # noqa: BLE001 - a leftover waiter is only dropped later
            pass


def _turn(item: SagaInstance, why: str) -> str | None:
    """One transition (None: the saga changed, look again) or what the saga waits for."""
    if item.status == rules.RUNNING:
        record = item.steps[int(item.step)]
        if record["status"] == rules.RUNNING:
            return _run_step(item)
        if record["status"] == rules.AWAITING:
            return _check_await(item, why)
        return _fail(item, int(item.step), f"step in unexpected status {record['status']}")
    if item.status == rules.COMPENSATING:
        return _compensate(item)
    return item.status


def _records(item: SagaInstance) -> list[dict]:
    return [dict(r) for r in item.steps]


def _next(item: SagaInstance, records: list[dict], index: int, now: float) -> dict:
    """The fields that move the saga past step `index` (its record already updated)."""
    if index + 1 < len(records):
        records[index + 1].update(status=rules.RUNNING, started_at=now)
        return {"steps": records, "step": index + 1, "due_at": now + GRACE_SECONDS}
    return {"steps": records, "status": rules.COMPLETED, "due_at": None}


def _cancel(item: SagaInstance, index: int, now: float) -> None:
    records = _records(item)
    records[index].update(status=rules.CANCELLED, error=TOMBSTONED, completed_at=now)
    _save(item, now, steps=records, status=rules.CANCELLED, error=TOMBSTONED, due_at=None)


def _fail(item: SagaInstance, index: int, error: str, status: str = rules.FAILED) -> None:
    """The step failed (or timed out): the saga compensates what it completed."""
    now = clock.now()
    records = _records(item)
    records[index].update(status=status, error=error[:1000], completed_at=now)
    _save(item, now, steps=records, status=rules.COMPENSATING, error=error[:1000],
          due_at=now + GRACE_SECONDS)
    return None


def _transient(item: SagaInstance, index: int, exc: Exception, compensating: bool):
    """The store failed under a step: count the attempt, and raise for the message to
    come back (or fail the step after MAX_ATTEMPTS)."""
    now = clock.now()
    records = _records(item)
    record = records[index]
    text = f"{type(exc).__name__}: {exc}"[:1000]
    counter = "compensation_attempts" if compensating else "attempts"
    record[counter] = int(record.get(counter) or 0) + 1
    record["error"] = text
    if record[counter] >= MAX_ATTEMPTS:
        if compensating:
            record["status"] = rules.COMPENSATION_FAILED
            _save(item, now, steps=records, status=rules.FAILED, error=text, due_at=None)
        else:
            record.update(status=rules.FAILED, completed_at=now)
            _save(item, now, steps=records, status=rules.COMPENSATING, error=text,
                  due_at=now + GRACE_SECONDS)
        return None
    if compensating:
        record["status"] = rules.COMPENSATING
    _save(item, now, steps=records, due_at=now + GRACE_SECONDS)
    raise exc


def _run_step(item: SagaInstance) -> str | None:
    index = int(item.step)
    step = item.definition["steps"][index]
    now = clock.now()
    reads_prev = any(rules.uses_prev(step.get(k)) for k in ("condition", "emit", "await"))
    try:
        trigger = _trigger(item)
        prev = _awaited(item, rules.prev_step(item.steps, index)) if reads_prev else None
    except Tombstoned:
        _cancel(item, index, now)
        return None
    except rules.StepError as exc:
        return _fail(item, index, str(exc))
    names = _names(trigger, prev)
    try:
        if not rules.condition_holds(step.get("condition"), names):
            records = _records(item)
            records[index].update(status=rules.SKIPPED, completed_at=now)
            _save(item, now, **_next(item, records, index, now))
            return None
        agg_type, agg_id, event_type, data = rules.resolve_emit(step["emit"], names)
        target = rules.await_target(step, agg_id, names) if step.get("await") else None
    except rules.StepError as exc:
        return _fail(item, index, str(exc))
    instance_id, env = scope_parts(item.scope)
    records = _records(item)
    record = records[index]
    record.update(attempts=int(record.get("attempts") or 0) + 1, emitted_at=now, error=None)
    fields: dict
    watch = None
    if target is not None:
        deadline = now + rules.timeout_ms(step) / 1000
        waiter_key = keys.stream_key(instance_id, env, target[0], target[1])
        waiter_rk = f"{item.id}#{int(item.run)}#{index}"
        record.update(status=rules.AWAITING, deadline_at=deadline,
                      waiter=[waiter_key, waiter_rk], awaits=target[2],
                      await_target=[target[0], target[1]])
        fields = {"steps": records, "due_at": deadline}
        watch = _Watch(waiter_key, target[2])
    else:
        record.update(status=rules.COMPLETED, completed_at=now)
        fields = _next(item, records, index, now)
    refusal = AppError("CONCURRENT_WRITE", "the saga changed; its step is not emitted twice")
    note = audit.Note(f"{instance_id}/{env}/sagas/{item.id}",
                      {"saga": item.saga, "step": step["name"], "aggregate_type": agg_type,
                       "event_type": event_type})

    def write(tx):
        tx.update(SagaInstance(item.scope, item.id), actions=_changes(item, now, **fields),
                  condition=SagaInstance.version == int(item.version))
        if watch is not None:
            actions = [SagaWaiter.scope.set(item.scope), SagaWaiter.saga_id.set(item.id),
                       SagaWaiter.step.set(index), SagaWaiter.event_types.set(target[2]),
                       SagaWaiter.created_at.set(now)]
            if watch.arrival is not None:
                arrived_type, position, at = watch.arrival
                actions += [SagaWaiter.arrival.set("arrived"), SagaWaiter.arrived_at.set(at),
                            SagaWaiter.arrived_type.set(arrived_type),
                            SagaWaiter.arrived_position.set(position)]
            else:   # a waiter left from an earlier attempt never counts for this one
                actions += [SagaWaiter.arrival.remove(), SagaWaiter.arrived_at.remove(),
                            SagaWaiter.arrived_type.remove(),
                            SagaWaiter.arrived_position.remove()]
            tx.update(SagaWaiter(watch.key, waiter_rk), actions=actions)
        audit.Act(SAGAS, "saga_step_emitted").put(tx, note)

    metadata = {"actor": trigger["_actor"], "saga_id": item.id, "saga_step": step["name"]}
    _local.watch = watch
    try:
        reactions.emit(instance_id, env, agg_type, agg_id, event_type, data, metadata,
                       guard=reactions.Guard(write=write, count=3 if watch else 2,
                                             refusal=refusal))
    except AppError as exc:
        if exc is refusal:
            return None          # another copy took this step: look again
        if exc.status >= 500:
            return _transient(item, index, exc, compensating=False)
        return _fail(item, index, f"{exc.kind.name}: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - the store failed: count it, retry
        return _transient(item, index, exc, compensating=False)
    finally:
        _local.watch = None
    _apply(item, now, **fields)
    if watch is not None:
        if watch.arrival is not None:
            return None
        send(item.scope, item.id, "timeout", deadline - clock.now())
        return rules.AWAITING
    return None


def _check_await(item: SagaInstance, why: str) -> str | None:
    index = int(item.step)
    record = item.steps[index]
    now = clock.now()
    key, rk = record["waiter"]
    try:
        waiter = SagaWaiter.get(key, rk, consistent_read=True)
    except SagaWaiter.DoesNotExist:
        waiter = None
    deadline = float(record["deadline_at"])
    if waiter is not None and waiter.arrival and float(waiter.arrived_at) <= deadline:
        records = _records(item)
        agg_type, agg_id = record["await_target"]
        records[index].update(status=rules.COMPLETED, completed_at=float(waiter.arrived_at),
                              awaited={"aggregate_type": agg_type, "aggregate_id": agg_id,
                                       "event_type": waiter.arrived_type,
                                       "position": int(waiter.arrived_position)})
        if _save(item, now, **_next(item, records, index, now)):
            _forget_waiter([key, rk])
        return None
    if now >= deadline:
        records = _records(item)
        waited = ", ".join(record.get("awaits") or ())
        limit = rules.timeout_ms(item.definition["steps"][index])
        records[index].update(status=rules.TIMED_OUT, completed_at=now,
                              error=f"no {waited} within {limit} ms")
        if _save(item, now, steps=records, status=rules.COMPENSATING,
                 error=records[index]["error"], due_at=now + GRACE_SECONDS):
            _forget_waiter([key, rk])
        return None
    if why == "timeout":   # a hop of a timeout longer than SQS's 15-minute delay
        send(item.scope, item.id, "timeout", deadline - now)
    return "awaiting"


def _compensate(item: SagaInstance) -> str | None:
    now = clock.now()
    order = rules.to_compensate(item.definition, item.steps)
    if not order:
        _save(item, now, status=rules.COMPENSATED, due_at=None)
        return None
    index = order[0]
    step = item.definition["steps"][index]
    try:
        trigger = _trigger(item)
        prev_at = index if item.steps[index].get("awaited") else rules.prev_step(item.steps, index)
        prev = _awaited(item, prev_at) if rules.uses_prev(step["compensate"]) else None
        agg_type, agg_id, event_type, data = rules.resolve_emit(
            step["compensate"], _names(trigger, prev), "compensate")
    except Tombstoned:
        _cancel(item, index, now)
        return None
    except rules.StepError as exc:
        return _compensation_failed(item, index, str(exc))
    instance_id, env = scope_parts(item.scope)
    records = _records(item)
    records[index].update(status=rules.COMPENSATED, compensated_at=now, error=None)
    refusal = AppError("CONCURRENT_WRITE", "the saga changed; its compensation is not "
                                           "emitted twice")
    note = audit.Note(f"{instance_id}/{env}/sagas/{item.id}",
                      {"saga": item.saga, "step": step["name"], "aggregate_type": agg_type,
                       "event_type": event_type})

    def write(tx):
        tx.update(SagaInstance(item.scope, item.id),
                  actions=_changes(item, now, steps=records, due_at=now + GRACE_SECONDS),
                  condition=SagaInstance.version == int(item.version))
        audit.Act(SAGAS, "saga_compensated").put(tx, note)

    metadata = {"actor": trigger["_actor"], "saga_id": item.id, "saga_step": step["name"]}
    try:
        reactions.emit(instance_id, env, agg_type, agg_id, event_type, data, metadata,
                       guard=reactions.Guard(write=write, count=2, refusal=refusal))
    except AppError as exc:
        if exc is refusal:
            return None
        if exc.status >= 500:
            return _transient(item, index, exc, compensating=True)
        return _compensation_failed(item, index, f"{exc.kind.name}: {exc.message}")
    except Exception as exc:  # noqa: BLE001
        return _transient(item, index, exc, compensating=True)
    _apply(item, now, steps=records, due_at=now + GRACE_SECONDS)
    return None


def _compensation_failed(item: SagaInstance, index: int, error: str) -> None:
    now = clock.now()
    records = _records(item)
    records[index].update(status=rules.COMPENSATION_FAILED, error=error[:1000])
    _save(item, now, steps=records, status=rules.FAILED,
          error=f"compensation of {records[index]['name']} failed: {error}"[:1000], due_at=None)
    return None


# --- retry ------------------------------------------------------------------------------

def retry(act: audit.Act, instance_id: str, env: str, saga_id: str) -> tuple[dict, audit.Note]:
    """A failed saga whose compensation failed compensates again (the steps whose
    compensation failed are compensated anew); another failed saga runs its failed step
    again; a compensated saga runs again from its first step (a new run: every step
    pending, its attempts kept). Anything else: 409 SAGA_NOT_RETRYABLE."""
    item = get(instance_id, env, saga_id)
    now = clock.now()
    definition = _refreshed(instance_id, env, item)
    records = _records(item)
    fields: dict
    if item.status == rules.FAILED and any(r["status"] == rules.COMPENSATION_FAILED
                                           for r in records):
        mode = "compensation"
        for r in records:
            if r["status"] == rules.COMPENSATION_FAILED:
                r.update(status=rules.COMPLETED, error=None)
        fields = {"status": rules.COMPENSATING}
    elif item.status == rules.FAILED:
        mode = "step"
        records[int(item.step)].update(status=rules.RUNNING, error=None, started_at=now,
                                       completed_at=None)
        fields = {"status": rules.RUNNING}
    elif item.status == rules.COMPENSATED:
        mode = "restart"
        fresh = rules.new_records(definition)
        for r, old in zip(fresh, records):
            r["attempts"] = int(old.get("attempts") or 0)
        fresh[0]["started_at"] = now
        records = fresh
        fields = {"status": rules.RUNNING, "step": 0, "run": int(item.run) + 1}
    else:
        raise AppError("SAGA_NOT_RETRYABLE", f"Saga {item.id} is {item.status}: only a "
                       "failed or compensated saga can be retried")
    note = audit.Note(f"{instance_id}/{env}/sagas/{item.id}",
                      {"saga": item.saga, "from_status": item.status, "retry": mode,
                       "run": int(fields.get("run", item.run))})
    changes = dict(fields, steps=records, definition=definition, error=None,
                   due_at=now + GRACE_SECONDS)

    def write(tx):
        tx.update(SagaInstance(item.scope, item.id), actions=_changes(item, now, **changes),
                  condition=SagaInstance.version == int(item.version))

    if not act.commit(note, write):
        raise AppError("CONCURRENT_WRITE", "The saga changed meanwhile; read it and retry")
    send(item.scope, item.id, "retry")
    return describe(get(instance_id, env, saga_id)), note


def _refreshed(instance_id: str, env: str, item: SagaInstance) -> dict:
    """The saga's definition in the spec in force when it still has the same steps
    (by name), else the one it started with."""
    from chalicelib.store import specs
    version = specs.current(instance_id, env)
    found = ((version.spec.get("modules") or {}).get("sagas") or {}).get(item.saga) \
        if version is not None else None
    if found and [s.get("name") for s in found.get("steps") or ()] == \
            [s["name"] for s in item.definition["steps"]]:
        return found
    return item.definition


# --- reads ------------------------------------------------------------------------------

def _iso_ms(ts) -> str | None:
    if ts is None:
        return None
    ms = int(round(float(ts) * 1000))
    return clock.iso(ms // 1000)[:-1] + f".{ms % 1000:03d}Z"


def describe(item: SagaInstance) -> dict:
    steps = []
    for i, r in enumerate(item.steps):
        awaited = r.get("awaited")
        steps.append({
            "index": i, "name": r["name"], "status": r["status"],
            "attempts": int(r.get("attempts") or 0),
            "started_at": _iso_ms(r.get("started_at")),
            "emitted_at": _iso_ms(r.get("emitted_at")),
            "completed_at": _iso_ms(r.get("completed_at")),
            "deadline_at": _iso_ms(r.get("deadline_at")),
            "compensated_at": _iso_ms(r.get("compensated_at")),
            "awaits": ({"aggregate_type": r["await_target"][0],
                        "aggregate_id": r["await_target"][1],
                        "event_types": list(r.get("awaits") or ())}
                       if r.get("await_target") else None),
            "awaited": ({"aggregate_type": awaited["aggregate_type"],
                         "aggregate_id": awaited["aggregate_id"],
                         "event_type": awaited["event_type"],
                         "position": int(awaited["position"]),
                         "stream_id": f"{awaited['aggregate_type']}/{awaited['aggregate_id']}"
                                      f"@{int(awaited['position'])}"} if awaited else None),
            "error": r.get("error"),
        })
    return {"id": item.id, "saga": item.saga, "status": item.status,
            "trigger": {"aggregate_type": item.trigger_type, "aggregate_id": item.trigger_id,
                        "event_type": item.trigger_event,
                        "position": int(item.trigger_position),
                        "stream_id": f"{item.trigger_type}/{item.trigger_id}"
                                     f"@{int(item.trigger_position)}"},
            "current_step": int(item.step), "run": int(item.run),
            "version": int(item.version), "error": item.error, "steps": steps,
            "created_at": _iso_ms(item.created_at), "updated_at": _iso_ms(item.updated_at)}


def list_page(instance_id: str, env: str, name: str | None, status: str | None,
              limit: int, cursor: str | None) -> dict:
    """Newest first, `limit` at a time: one consistent Query of the environment's
    sagas, filtered on name and status."""
    page, next_cursor = listing.newest_first(
        SagaInstance, keys.scope_key(instance_id, env),
        [SagaInstance.saga == name if name is not None else None,
         SagaInstance.status == status if status is not None else None],
        limit, cursor, _ID)
    return {"sagas": [describe(s) for s in page], "next_cursor": next_cursor}


# --- the sweeper -------------------------------------------------------------------------

SWEEP_BATCH = 500


def sweep() -> dict:
    """Every minute: a message for each saga whose step deadline has passed or whose
    message was lost (due_at passed), pushing its due_at a grace period on so that it is
    not sent again every minute; and one for each arrival not acted on within the grace
    period (the message its append sent was lost)."""
    now = clock.now()
    sent = arrivals = 0
    for row in SagaInstance.by_due.query("due", SagaInstance.due_at <= now,
                                         limit=SWEEP_BATCH):
        if update_if(SagaInstance(row.scope, row.id),
                     [SagaInstance.due_at.set(now + GRACE_SECONDS)],
                     SagaInstance.due_at == row.due_at):
            send(row.scope, row.id, "sweep")
            sent += 1
    for row in SagaWaiter.by_arrival.query("arrived", SagaWaiter.arrived_at <= now - GRACE_SECONDS,
                                           limit=SWEEP_BATCH):
        saga_id = row.waiter.split("#", 1)[0]
        scope = row.scope or row.key.rsplit("#", 2)[0]
        send(scope, saga_id, "arrival", waiter=[row.key, row.waiter])
        arrivals += 1
    return {"sent": sent, "arrivals": arrivals}
