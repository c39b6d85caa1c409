"""Seed 000's tombstones: erasure of an aggregate's payloads (GDPR Article 17) after a
grace period, on the internal surface (node secret) and the ops surface (erase_data).

Lifecycle: pending (requested; cancellable until executed) -> executing (claimed with a
conditional update, by POST .../execute once the grace period has passed or by the
scheduled job when it is due) -> executed; or cancelled; or failed (the execution
crashed MAX_CRASHES times; POST .../execute runs it again). What execution does is in
execution.py.

- One live tombstone per aggregate: the request writes a TombstoneLock for the stream in
  the same transaction (condition: none yet); cancelling removes it; an executed one keeps
  it, so an erased aggregate is not tombstoned twice (409 TOMBSTONE_EXISTS).
- The grace period is the setting TOMBSTONE_GRACE_HOURS (default and minimum 72 h); a
  request may ask for longer (`grace_period_hours`), never shorter (422).
- Every act writes its audit entry in the same transaction; no entry carries event data,
  nor the free-text `reason` (it may describe the person): what is erased (type, id,
  streams and events), when, by whom (`requested_by` as given, and the caller), and the
  legal basis."""
from __future__ import annotations

import re
import secrets

from chalicelib.core import clock, settings
from chalicelib.core.errors import AppError
from chalicelib.identity import audit
from chalicelib.store import listing, specs
from chalicelib.store.conditions import update_if
from chalicelib.store.keys import scope_key, stream_key
from chalicelib.store.streams import check_id
from chalicelib.store.tables import Tombstone, TombstoneLock

ID_PATTERN = r"^ts_[0-9]{13}[0-9a-f]{12}$"
_ID = re.compile(ID_PATTERN)
STATUSES = ("pending", "executing", "executed", "cancelled", "failed")
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_GRACE_HOURS = 24 * 366          # a request may ask for up to a year
PENDING, EXECUTING = "pending", "executing"     # the sparse index's work states
TASK = "tombstone_execute"


def new_id() -> str:
    return f"ts_{int(clock.now() * 1000):013d}{secrets.token_hex(6)}"


def minimum_grace_hours() -> float:
    return settings.get().tombstone_grace_hours


def _hours(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _target(t: Tombstone) -> str:
    return f"{t.instance_id}/{t.environment}/{t.aggregate_type}/{t.aggregate_id}"


def describe(t: Tombstone) -> dict:
    counts = t.counts or {}
    cursor = t.cursor or {}
    plan = t.plan
    if plan is not None:
        cascade = {"aggregates": [{"aggregate_type": a, "aggregate_id": b} for a, b in plan],
                   "complete": True, "source": "execution"}
    elif t.preview is not None:
        cascade = {"aggregates": [{"aggregate_type": a, "aggregate_id": b}
                                  for a, b in t.preview.get("aggregates", [])],
                   "complete": bool(t.preview.get("complete")), "source": "preview"}
    else:
        cascade = None
    return {
        "id": t.id, "instance_id": t.instance_id, "environment": t.environment,
        "aggregate_type": t.aggregate_type, "aggregate_id": t.aggregate_id,
        "status": t.status, "reason": t.reason, "legal_basis": t.legal_basis,
        "requested_by": t.requested_by, "requested_actor": t.requested_actor,
        "requested_at": clock.iso(t.requested_at),
        "grace_period_hours": _hours(t.grace_period_hours),
        "executable_at": clock.iso(t.executable_at),
        "cancelled_at": clock.iso(t.cancelled_at), "cancelled_by": t.cancelled_by,
        "started_at": clock.iso(t.started_at), "started_by": t.started_by,
        "executed_at": clock.iso(t.executed_at),
        "cascade": cascade,
        "progress": {"phase": cursor.get("phase") if t.status == "executing" else
                     ("done" if t.status == "executed" else None),
                     "streams_total": len(plan) if plan is not None else None,
                     "streams_done": int(counts.get("streams", 0)),
                     "events_erased": int(counts.get("events", 0))},
        "streams_erased": int(counts.get("streams", 0)),
        "events_erased": int(counts.get("events", 0)),
        "copies": {name: int(counts.get(name, 0)) for name in
                   ("checkpoints_deleted", "snapshots_deleted", "root_checkpoints_rewritten",
                    "backups_rewritten", "offsite_backups_rewritten", "uploads_deleted",
        "job_reports_scrubbed")},
        "error": t.error,
    }


# --- request ---------------------------------------------------------------------------

def _check_type(spec: dict, agg_type: str) -> None:
    known = set((spec.get("aggregate_types") or {})) | set(spec.get("agent_types") or []) | set(
        spec.get("target_types") or [])
    if agg_type not in known:
        raise AppError("UNKNOWN_AGGREGATE_TYPE",
                       f"'{agg_type}' is neither an aggregate type nor an agent or target type "
                       "of the spec in force",
                       details=[{"path": "type", "message": "not a type of the spec"}])


def request(act: audit.Act, instance_id: str, env: str, agg_type: str, agg_id: str,
            body: dict) -> tuple[dict, audit.Note]:
    from chalicelib.platform.tombstones import execution
    version = specs.current(instance_id, env)
    if version is None:
        raise AppError("SPEC_NOT_FOUND", "No spec is deployed in this environment")
    spec = version.spec
    _check_type(spec, agg_type)
    check_id(spec, agg_id, "id")
    minimum = minimum_grace_hours()
    grace = body.get("grace_period_hours", minimum)
    if grace < minimum:
        raise AppError("GRACE_PERIOD_TOO_SHORT",
                       f"grace_period_hours: {grace:g} is below this environment's minimum "
                       f"of {minimum:g} hours", details=[{
                           "path": "grace_period_hours",
                           "message": f"must be at least {minimum:g}"}])
    stream = stream_key(instance_id, env, agg_type, agg_id)
    now = clock.now()
    tombstone_id = new_id()
    executable_at = now + grace * 3600
    preview = execution.preview(spec, instance_id, env, agg_type, agg_id)
    item = Tombstone(scope_key(instance_id, env), tombstone_id, instance_id=instance_id,
                     environment=env, aggregate_type=agg_type, aggregate_id=agg_id,
                     status="pending", reason=body["reason"], legal_basis=body["legal_basis"],
                     requested_by=body["requested_by"], requested_actor=act.actor.subject,
                     requested_at=now, grace_period_hours=grace, executable_at=executable_at,
                     preview=preview, counts={}, work=PENDING, due_at=executable_at)
    lock = TombstoneLock(stream=stream, tombstone_id=tombstone_id)
    note = audit.Note(_target(item), {
        "tombstone_id": tombstone_id, "aggregate_type": agg_type, "aggregate_id": agg_id,
        "legal_basis": item.legal_basis, "requested_by": item.requested_by,
        "grace_period_hours": _hours(grace), "executable_at": clock.iso(executable_at)})

    def write(tx):
        tx.save(lock, condition=TombstoneLock.stream.does_not_exist())
        tx.save(item, condition=Tombstone.id.does_not_exist())
    if not act.commit(note, write):
        try:
            existing = TombstoneLock.get(stream, consistent_read=True).tombstone_id
        except TombstoneLock.DoesNotExist:
            existing = None
        raise AppError("TOMBSTONE_EXISTS",
                       f"{agg_type}/{agg_id} already has tombstone {existing}",
                       extra={"tombstone_id": existing})
    return describe(item), note


# --- reads -----------------------------------------------------------------------------

def get(instance_id: str, env: str, tombstone_id: str) -> Tombstone:
    if not _ID.match(tombstone_id or ""):
        raise AppError("TOMBSTONE_NOT_FOUND", "No tombstone has that id (ids look like "
                                              "ts_<13 digits><12 hex>)")
    try:
        return Tombstone.get(scope_key(instance_id, env), tombstone_id, consistent_read=True)
    except Tombstone.DoesNotExist:
        raise AppError("TOMBSTONE_NOT_FOUND")


def list_page(instance_id: str, env: str, status: str | None, agg_type: str | None,
              limit: int, cursor: str | None) -> dict:
    """Newest first: one consistent Query of the environment's tombstones, filtered."""
    page, next_cursor = listing.newest_first(
        Tombstone, scope_key(instance_id, env),
        [Tombstone.status == status if status is not None else None,
         Tombstone.aggregate_type == agg_type if agg_type is not None else None],
        limit, cursor, _ID)
    return {"tombstones": [describe(t) for t in page], "next_cursor": next_cursor}


# --- cancel ----------------------------------------------------------------------------

def _not_pending(t: Tombstone, doing: str) -> AppError:
    return AppError("TOMBSTONE_NOT_PENDING", f"Tombstone {t.id} is {t.status}; only a "
                    f"pending tombstone can be {doing}", extra={"status": t.status})


def cancel(act: audit.Act, instance_id: str, env: str,
           tombstone_id: str) -> tuple[dict, audit.Note]:
    t = get(instance_id, env, tombstone_id)
    if t.status != "pending":
        raise _not_pending(t, "cancelled")
    now = clock.now()
    stream = stream_key(instance_id, env, t.aggregate_type, t.aggregate_id)
    note = audit.Note(_target(t), {"tombstone_id": t.id, "aggregate_type": t.aggregate_type,
                                   "aggregate_id": t.aggregate_id,
                                   "legal_basis": t.legal_basis,
                                   "requested_by": t.requested_by})

    def write(tx):
        tx.update(t, actions=[Tombstone.status.set("cancelled"),
                              Tombstone.cancelled_at.set(now),
                              Tombstone.cancelled_by.set(act.actor.subject),
                              Tombstone.work.remove(), Tombstone.due_at.remove()],
                  condition=Tombstone.status == "pending")
        tx.delete(TombstoneLock(stream=stream),
                  condition=TombstoneLock.tombstone_id == t.id)
    if not act.commit(note, write):
        raise _not_pending(get(instance_id, env, tombstone_id), "cancelled")
    return describe(get(instance_id, env, tombstone_id)), note


# --- execute ---------------------------------------------------------------------------

def _mark_head(tx, t: Tombstone, now: float) -> None:
    """The aggregate's head marked "executing" in the claim's own transaction, so appends
    are refused from the moment the tombstone is executing (an empty head is created for
    an aggregate never written). Not while a data load holds the stream."""
    from chalicelib.platform.tombstones import execution
    from chalicelib.store.keys import scope_type_key
    from chalicelib.store.tables import StreamHead
    stream = stream_key(t.instance_id, t.environment, t.aggregate_type, t.aggregate_id)
    tx.update(StreamHead(stream=stream), actions=[
        StreamHead.tombstoned.set(execution.head_marker("executing", t.id, t.started_at or now)),
        StreamHead.scope_type.set(scope_type_key(t.instance_id, t.environment,
                                                 t.aggregate_type)),
        StreamHead.length.set(StreamHead.length | 0),
        StreamHead.created_at.set(StreamHead.created_at | now),
        StreamHead.updated_at.set(StreamHead.updated_at | now)],
        condition=StreamHead.tombstoned.does_not_exist() & (
            StreamHead.load_until.does_not_exist() | (StreamHead.load_until < now)))


def claim(act: audit.Act, t: Tombstone, now: float, note: audit.Note) -> bool:
    """pending (grace passed) or failed -> executing, with the act's audit entry, in one
    transaction: of two claims at once one wins. The aggregate's head is marked in the
    same transaction when it can be (else the execution's first slice marks it)."""
    from chalicelib.platform.tombstones import execution
    version = specs.current(t.instance_id, t.environment)
    has_stream = version is not None and t.aggregate_type in (
        version.spec.get("aggregate_types") or {})

    def write(tx, mark_head=True):
        tx.update(t, actions=[Tombstone.status.set("executing"),
                              Tombstone.started_at.set(t.started_at or now),
                              Tombstone.started_by.set(act.actor.subject),
                              Tombstone.error.remove(), Tombstone.crashes.set(0),
                              Tombstone.lease_owner.remove(), Tombstone.lease_until.remove(),
                              Tombstone.work.set(EXECUTING),
                              Tombstone.due_at.set(now + execution.LEASE_SECONDS)],
                  condition=((Tombstone.status == "pending") & (Tombstone.executable_at <= now))
                  | (Tombstone.status == "failed"))
        if mark_head and has_stream:
            _mark_head(tx, t, now)
    if act.commit(note, write):
        return True
    return has_stream and act.commit(note, lambda tx: write(tx, mark_head=False))


def execute(act: audit.Act, instance_id: str, env: str,
            tombstone_id: str) -> tuple[dict, audit.Note]:
    from chalicelib.platform.tombstones import execution
    t = get(instance_id, env, tombstone_id)
    now = clock.now()
    if t.status not in ("pending", "failed"):
        raise AppError("TOMBSTONE_NOT_PENDING", f"Tombstone {t.id} is {t.status}; only a "
                       "pending tombstone (or a failed one, to run it again) can be executed",
                       extra={"status": t.status})
    if t.status == "pending" and now < t.executable_at:
        raise AppError("TOMBSTONE_GRACE_PERIOD",
                       f"The grace period of tombstone {t.id} runs until "
                       f"{clock.iso(t.executable_at)}; it can be executed from then on",
                       extra={"executable_at": clock.iso(t.executable_at),
                              "executable_in_seconds": int(t.executable_at - now) + 1})
    note = audit.Note(_target(t), {"tombstone_id": t.id, "aggregate_type": t.aggregate_type,
                                   "aggregate_id": t.aggregate_id,
                                   "legal_basis": t.legal_basis,
                                   "requested_by": t.requested_by})
    if not claim(act, t, now, note):
        fresh = get(instance_id, env, tombstone_id)
        raise AppError("TOMBSTONE_NOT_PENDING", f"Tombstone {t.id} is {fresh.status}",
                       extra={"status": fresh.status})
    execution.enqueue(t.scope, t.id)
    return describe(get(instance_id, env, tombstone_id)), note


def run_due(now: float | None = None) -> dict:
    """The scheduled job: claim every pending tombstone whose grace period has passed
    (audited as system:scheduler) and queue its execution; queue again every executing
    one whose lease ran out (a crashed or lost slice). Two runs at once claim each once."""
    from chalicelib.identity.principal import SCHEDULER
    from chalicelib.platform.tombstones import execution
    now = clock.now() if now is None else now
    claimed = resent = 0
    for entry in Tombstone.by_work.query(PENDING, Tombstone.due_at <= now):
        try:
            t = Tombstone.get(entry.scope, entry.id, consistent_read=True)
        except Tombstone.DoesNotExist:
            continue
        note = audit.Note(_target(t), {"tombstone_id": t.id,
                                       "aggregate_type": t.aggregate_type,
                                       "aggregate_id": t.aggregate_id,
                                       "legal_basis": t.legal_basis,
                                       "requested_by": t.requested_by})
        if t.status == "pending" and claim(audit.Act(SCHEDULER, "tombstone_execution_started"),
                                           t, now, note):
            execution.enqueue(t.scope, t.id)
            claimed += 1
    for entry in Tombstone.by_work.query(EXECUTING, Tombstone.due_at <= now):
        # push the due time on, so the next run does not send it again at once
        if update_if(Tombstone(scope=entry.scope, id=entry.id),
                     [Tombstone.due_at.set(now + execution.LEASE_SECONDS)],
                     (Tombstone.status == "executing") & (Tombstone.due_at <= now)):
            execution.enqueue(entry.scope, entry.id)
            resent += 1
    return {"claimed": claimed, "resent": resent}
