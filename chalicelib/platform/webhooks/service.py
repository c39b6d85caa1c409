"""Listener deliveries: made with their event, sent from the timers queue, retried,
then failed (a dead letter); listed, shown and re-sent by operators.

- The reactor (`react`) turns each appended event a listener subscribes to into a
  pending Delivery written in the append's own transaction, and queues attempt 1 once
  it has committed. It reads nothing and writes nothing when the spec in force has no
  listener for the events.
- The task (`run_attempt`, message {"task": "webhook_delivery", "scope", "id",
  "attempt"}) makes attempt N: it drops a message for an attempt already made; waits
  for next_attempt_at (re-queued with the remaining delay, or paused under a second);
  claims the attempt with a conditional update (attempt_count == N - 1, no live claim);
  reads the event (a tombstoned or missing event cancels the delivery) and the listener
  in force (gone: cancelled); POSTs the signed body; records the attempt under the same
  claim; queues the next attempt. A sender that dies mid-attempt leaves a claim that
  expires; the sweeper re-queues.
- Attempts of a round: the first at once, then after 5 s and 25 s (DELAYS, times
  WEBHOOK_TIME_SCALE); after WEBHOOK_MAX_ATTEMPTS (3) failures the delivery is failed.
  A 429/503's Retry-After (seconds or an HTTP date, capped at an hour) pushes the next
  attempt back. An operator's retry of a failed delivery starts a new round.
- Cleanup deletes delivered deliveries 7 days after delivery, failed and cancelled ones
  30 days after they ended."""
from __future__ import annotations

import re
import secrets as _secrets
import time
import zlib
from functools import partial

from chalicelib.core import clock, settings
from chalicelib.core.errors import AppError, invalid
from chalicelib.domain import webhooks
from chalicelib.identity import audit
from chalicelib.store import queues, reactions
from chalicelib.store.conditions import delete_if, update_if
from chalicelib.store.keys import scope_key, stream_key
from chalicelib.store.tables import Delivery, StoredEvent

TASK = "webhook_delivery"
ID_PATTERN = r"^dl_[0-9]{13}[0-9a-f]{12}$"
_ID = re.compile(ID_PATTERN)
STATUSES = ("pending", "delivered", "failed", "cancelled")
SHARDS = 4                        # the due index's partitions ("pending#0".."pending#3")
KEEP_DELIVERED = 7 * 86400
KEEP_ENDED = 30 * 86400           # failed and cancelled
SWEEP_AFTER = 60                  # a pending delivery this late has lost its message
CLAIM_MARGIN = 30                 # a claim outlives its attempt's timeout by this
MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_KEPT_ATTEMPTS = 50            # a delivery retried many times keeps its latest attempts
CLEANUP_BATCH = 2000              # deletions per shard per run; the next run goes on
_pause = time.sleep               # waits under a second before an attempt (tests: the clock)


def new_id() -> str:
    return f"dl_{int(clock.now() * 1000):013d}{_secrets.token_hex(6)}"


def _shard(delivery_id: str) -> int:
    return zlib.crc32(delivery_id.encode()) % SHARDS


def _message(scope: str, delivery_id: str, attempt: int) -> dict:
    return {"task": TASK, "scope": scope, "id": delivery_id, "attempt": attempt}


def _queue(scope: str, delivery_id: str, attempt: int, delay: float = 0.0) -> bool:
    return queues.offer("timers", _message(scope, delivery_id, attempt),
                        webhooks.whole_delay(delay))


# --- the reactor -------------------------------------------------------------------------

def react(spec: dict, instance_id: str, env: str, written: list) -> reactions.Effects:
    """A pending delivery per (event, listener subscribed to it), in the append's
    transaction; attempt 1 queued once it commits. Pure but for the ids and the clock."""
    effects = reactions.Effects()
    if not isinstance(spec, dict) or not spec.get("listeners"):
        return effects
    scope = scope_key(instance_id, env)
    now = clock.now()
    for w in written:
        for listener in webhooks.listeners_for(spec, w.agg_type, w.event_type):
            delivery_id = new_id()
            effects.puts.append(Delivery(
                scope, delivery_id, instance_id=instance_id, environment=env,
                listener=listener["name"],
                stream=stream_key(instance_id, env, w.agg_type, w.agg_id),
                position=w.position, aggregate_type=w.agg_type, aggregate_id=w.agg_id,
                event_type=w.event_type, event_at=w.created_at, status="pending",
                attempts=[], attempt_count=0, round=1, round_start=0, next_attempt_at=now,
                created_at=now, due_kind=f"pending#{_shard(delivery_id)}", due_at=now))
            effects.after.append(partial(_queue, scope, delivery_id, 1))
    return effects


# --- one attempt ---------------------------------------------------------------------------

def _get(scope: str, delivery_id: str) -> Delivery | None:
    try:
        return Delivery.get(scope, delivery_id, consistent_read=True)
    except Delivery.DoesNotExist:
        return None


def run_attempt(message: dict) -> str:
    """The timers queue's task; what happened, in a word or two (logged)."""
    try:
        scope, delivery_id = str(message["scope"]), str(message["id"])
        attempt = int(message.get("attempt", 1))
    except (KeyError, TypeError, ValueError):
        return "dropped: not a delivery message"
    item = _get(scope, delivery_id)
    if item is None:
        return "gone"
    if item.status != "pending":
        return f"already {item.status}"
    number = int(item.attempt_count) + 1
    if attempt != number:
        return f"stale: attempt {attempt} was made"
    now = clock.now()
    wait = float(item.next_attempt_at or 0) - now
    if wait >= 1:
        _queue(scope, delivery_id, number, wait)
        return f"early by {wait:.3f}s: queued again"
    if wait > 0:
        _pause(wait)
        now = clock.now()
    if item.claim is not None and float(item.claim_until or 0) > now:
        return "in flight elsewhere"
    s = settings.get()
    spec_version = _spec(item.instance_id, item.environment)
    listener = webhooks.listener_named(spec_version.spec if spec_version else {}, item.listener)
    timeout = (listener or {}).get("timeout_ms") or s.webhook_timeout_ms
    claimed = update_if(item, [Delivery.claim.set(number),
                               Delivery.claim_until.set(now + timeout / 1000 + CLAIM_MARGIN)],
                        (Delivery.status == "pending") & (Delivery.attempt_count == number - 1)
                        & (Delivery.claim.does_not_exist() | (Delivery.claim_until < now)))
    if not claimed:
        return "claimed elsewhere"
    event, stream_erased = _event(item)
    if event is None:
        return _cancel(item, number, "source event is missing")
    if event.tombstoned or stream_erased:
        return _cancel(item, number, "source event was tombstoned")
    if listener is None:
        return _cancel(item, number, f"listener {item.listener!r} is no longer in the spec "
                                     "in force")
    from chalicelib.platform.webhooks import sender
    from chalicelib.store import listener_secrets as secrets
    try:
        key = secrets.open_key(item.instance_id, listener.get("secret_ref") or "")
    except Exception:  # noqa: BLE001 - the sealing key is missing or does not open it
        from chalicelib.core.observability import logger
        logger.exception("listener secret could not be opened", extra={
            "delivery_id": item.id, "listener": item.listener})
        key = None
    raw = webhooks.body(item.id, item.listener, item.instance_id, item.environment,
                        item.aggregate_type, item.aggregate_id, item.event_type,
                        int(item.position), event.data, event.metadata, float(event.created_at))
    if key is None:
        outcome = sender.Outcome(None, 0, "the listener's signing secret is not stored or "
                                          "does not open; deploy the spec with its secret")
    else:
        headers = webhooks.headers(key, item.id, int(now), raw)
        try:
            outcome = sender.post(listener["url"], raw, headers, timeout / 1000,
                                  s.webhook_allow_loopback)
        except Exception as exc:  # noqa: BLE001 - recorded as a failed attempt, so a
            # fault of ours cannot make the task fail (and be re-run) forever
            from chalicelib.core.observability import logger
            logger.exception("delivery attempt crashed", extra={"delivery_id": item.id})
            outcome = sender.Outcome(None, 0, f"internal error while sending: "
                                              f"{type(exc).__name__}")
    return _record(item, number, now, outcome)


def _spec(instance_id: str, env: str):
    from chalicelib.store import specs
    return specs.current(instance_id, env)


def _event(item: Delivery) -> tuple[StoredEvent | None, bool]:
    """(the event, whether its stream is being or has been erased), in one serializable
    read: a tombstone marks the stream's head before it rewrites the events, so an
    attempt never sends what an erasure under way is removing. Only the head's marker is
    read, not its state."""
    from chalicelib.store import aws
    from chalicelib.store.tables import StreamHead
    answer = aws.client("dynamodb").transact_get_items(TransactItems=[
        {"Get": {"TableName": StoredEvent.Meta.table_name,
                 "Key": {"stream": {"S": item.stream},
                         "position": {"N": str(int(item.position))}}}},
        {"Get": {"TableName": StreamHead.Meta.table_name,
                 "Key": {"stream": {"S": item.stream}},
                 "ProjectionExpression": "tombstoned"}}])
    event_raw, head_raw = (r.get("Item") for r in answer["Responses"])
    event = StoredEvent.from_raw_data(event_raw) if event_raw else None
    marker = (head_raw or {}).get("tombstoned")
    return event, bool(marker) and not marker.get("NULL")


def _held(number: int):
    return (Delivery.claim == number) & (Delivery.attempt_count == number - 1)


def _ended(status: str, now: float) -> list:
    keep = KEEP_DELIVERED if status == "delivered" else KEEP_ENDED
    return [Delivery.status.set(status), Delivery.ended_at.set(now),
            Delivery.next_attempt_at.remove(), Delivery.claim.remove(),
            Delivery.claim_until.remove(), Delivery.due_at.set(now + keep)]


def _cancel(item: Delivery, number: int, why: str) -> str:
    now = clock.now()
    actions = _ended("cancelled", now) + [Delivery.error.set(why),
                                          Delivery.due_kind.set(f"ended#{_shard(item.id)}")]
    update_if(item, actions, _held(number))
    return f"cancelled: {why}"


def _record(item: Delivery, number: int, at: float, outcome) -> str:
    """The attempt's record and what follows it, under the attempt's claim."""
    s = settings.get()
    now = clock.now()
    entry = {"attempt": number, "round": int(item.round), "at": round(at, 3),
             "status_code": outcome.status_code, "duration_ms": outcome.duration_ms,
             "error": outcome.error}
    # read-modify-write is safe here: the update holds the attempt's claim
    actions = [Delivery.attempts.set((list(item.attempts or []) + [entry])[-MAX_KEPT_ATTEMPTS:]),
               Delivery.attempt_count.set(number)]
    in_round = number - int(item.round_start or 0)
    follow = None
    if outcome.ok:
        actions += _ended("delivered", now) + [Delivery.delivered_at.set(now),
                                               Delivery.error.remove()]
        actions.append(Delivery.due_kind.set(f"ended#{_shard(item.id)}"))
        result = f"delivered on attempt {number}"
    elif in_round >= s.webhook_max_attempts:
        actions += _ended("failed", now) + [Delivery.error.set(outcome.error or "failed")]
        actions.append(Delivery.due_kind.set(f"ended#{_shard(item.id)}"))
        result = f"failed after {in_round} attempts: {outcome.error}"
    else:
        # the schedule counts from the failed attempt's start; a 429/503's Retry-After
        # from its answer, when that is later
        next_at = at + webhooks.retry_delay(in_round, s.webhook_time_scale)
        if outcome.status_code in webhooks.RETRY_AFTER_STATUSES:
            asked = webhooks.retry_after_seconds(outcome.retry_after, now)
            if asked is not None:
                next_at = max(next_at, now + asked)
        actions += [Delivery.next_attempt_at.set(round(next_at, 3)),
                    Delivery.due_at.set(round(next_at, 3)),
                    Delivery.claim.remove(), Delivery.claim_until.remove(),
                    Delivery.error.set(outcome.error or "failed")]
        follow = (number + 1, max(0.0, next_at - now))
        result = f"attempt {number} failed ({outcome.error}); next in {next_at - now:.3f}s"
    if not update_if(item, actions, _held(number)):
        return "claim lost: another sender recorded this attempt"
    if follow is not None:
        _queue(item.scope, item.id, *follow)
    return result


# --- background: lost messages and cleanup -----------------------------------------------

def sweep() -> dict:
    """Re-queue pending deliveries whose next attempt is SWEEP_AFTER seconds overdue (their
    message was lost, or their sender died): each is claimed by moving its due time, so
    two sweeps at once queue it once, and a sender's duplicate is refused by the claim."""
    now = clock.now()
    requeued = 0
    for shard in range(SHARDS):
        for item in Delivery.by_due.query(f"pending#{shard}", Delivery.due_at < now - SWEEP_AFTER,
                                          limit=1000):
            if item.status != "pending":
                continue
            if item.claim is not None and float(item.claim_until or 0) > now:
                continue
            if update_if(item, [Delivery.due_at.set(now)],
                         (Delivery.status == "pending") & (Delivery.due_at == item.due_at)):
                _queue(item.scope, item.id, int(item.attempt_count) + 1)
                requeued += 1
    return {"requeued": requeued}


def cleanup() -> dict:
    """Delete deliveries whose keeping time has passed (delivered: 7 days; failed and
    cancelled: 30 days); an operator's retry meanwhile keeps it (conditional delete)."""
    now = clock.now()
    deleted = 0
    for shard in range(SHARDS):
        for item in Delivery.by_due.query(f"ended#{shard}", Delivery.due_at <= now,
                                          limit=CLEANUP_BATCH):
            if delete_if(item, (Delivery.due_kind == item.due_kind)
                         & (Delivery.due_at == item.due_at)):
                deleted += 1
    return {"deleted": deleted}


# --- operators ---------------------------------------------------------------------------

def describe(item: Delivery) -> dict:
    attempts = [{"attempt": int(a.get("attempt", i + 1)), "round": int(a.get("round", 1)),
                 "at": webhooks.iso_ms(a.get("at")), "status_code": a.get("status_code"),
                 "duration_ms": int(a.get("duration_ms") or 0), "error": a.get("error")}
                for i, a in enumerate(item.attempts or [])]
    return {"id": item.id, "instance_id": item.instance_id, "environment": item.environment,
            "listener": item.listener, "status": item.status,
            "dead_letter": item.status == "failed",
            "aggregate_type": item.aggregate_type, "aggregate_id": item.aggregate_id,
            "event_type": item.event_type,
            "stream_id": f"{item.aggregate_type}/{item.aggregate_id}@{int(item.position)}",
            "position": int(item.position), "event_timestamp": webhooks.iso_ms(item.event_at),
            "round": int(item.round or 1), "attempt_count": int(item.attempt_count or 0),
            "attempts": attempts,
            "next_attempt_at": webhooks.iso_ms(item.next_attempt_at)
            if item.status == "pending" else None,
            "created_at": webhooks.iso_ms(item.created_at),
            "delivered_at": webhooks.iso_ms(item.delivered_at),
            "ended_at": webhooks.iso_ms(item.ended_at),
            "error": item.error}


def get(instance_id: str, env: str, delivery_id: str) -> Delivery:
    if not _ID.match(delivery_id or ""):
        raise AppError("DELIVERY_NOT_FOUND", "No delivery has that id (ids look like "
                                             "dl_<13 digits><12 hex>)")
    item = _get(scope_key(instance_id, env), delivery_id)
    if item is None:
        raise AppError("DELIVERY_NOT_FOUND")
    return item


def _bound(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        return clock.parse_iso(text)
    except ValueError as exc:
        raise invalid(name, str(exc))


def list_page(instance_id: str, env: str, query: dict) -> dict:
    """Newest first, `limit` at a time, filtered; since/until bound the creation time
    (the ids sort by it), the rest filter the Query."""
    cursor = query.get("cursor")
    if cursor is not None and not _ID.match(cursor):
        raise invalid("cursor", "is not a cursor this listing gave out")
    since, until = _bound(query.get("since"), "since"), _bound(query.get("until"), "until")
    if since is not None and until is not None and since > until:
        raise invalid("since", "must not be after until")
    limit = query["limit"]
    low = f"dl_{int(since * 1000):013d}" if since is not None else None
    high = f"dl_{int(until * 1000):013d}g" if until is not None else None
    if cursor is not None and (high is None or cursor < high):
        high = cursor                      # exclusive: the cursor's own row is skipped
    if low is not None and high is not None:
        key_condition = Delivery.id.between(low, high)
    elif low is not None:
        key_condition = Delivery.id >= low
    elif high is not None:
        key_condition = Delivery.id <= high
    else:
        key_condition = None
    condition = None
    for field, attribute in (("status", Delivery.status), ("listener", Delivery.listener),
                             ("event_type", Delivery.event_type),
                             ("aggregate_type", Delivery.aggregate_type)):
        if query.get(field) is not None:
            part = attribute == query[field]
            condition = part if condition is None else condition & part
    rows = []
    if low is None or high is None or low <= high:
        for item in Delivery.query(scope_key(instance_id, env), key_condition,
                                   filter_condition=condition, scan_index_forward=False,
                                   consistent_read=True, limit=limit + 2):
            if item.id == cursor:
                continue
            rows.append(item)
            if len(rows) > limit:
                break
    page = rows[:limit]
    return {"deliveries": [describe(d) for d in page],
            "next_cursor": page[-1].id if len(rows) > limit else None}


def retry(act: audit.Act, instance_id: str, env: str,
          delivery_id: str) -> tuple[dict, audit.Note]:
    """A failed delivery starts a new round of attempts (the first at once), with the
    audit entry in the same transaction; the listener and secret in force are used."""
    item = get(instance_id, env, delivery_id)
    if item.status != "failed":
        raise AppError("DELIVERY_NOT_RETRYABLE", f"Delivery {item.id} is {item.status}; only "
                       "a failed delivery can be retried")
    now = clock.now()
    new_round = int(item.round or 1) + 1
    actions = [Delivery.status.set("pending"), Delivery.round.set(new_round),
               Delivery.round_start.set(int(item.attempt_count)),
               Delivery.next_attempt_at.set(now), Delivery.ended_at.remove(),
               Delivery.due_kind.set(f"pending#{_shard(item.id)}"), Delivery.due_at.set(now)]
    note = audit.Note(f"{instance_id}/{env}/{item.id}", {
        "delivery_id": item.id, "listener": item.listener, "round": new_round,
        "attempts_before": int(item.attempt_count),
        "event": f"{item.aggregate_type}/{item.aggregate_id}@{int(item.position)}",
        "event_type": item.event_type})
    if not act.commit(note, lambda tx: tx.update(item, actions=actions,
                                                 condition=Delivery.status == "failed")):
        raise AppError("DELIVERY_NOT_RETRYABLE", "The delivery changed meanwhile; it is no "
                                                 "longer failed")
    _queue(item.scope, item.id, int(item.attempt_count) + 1)
    fresh = _get(item.scope, item.id) or item
    return describe(fresh), note
