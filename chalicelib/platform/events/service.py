"""The event store behind the data plane: validated appends, folded state, hash chain
and Merkle tiles, all written in one DynamoDB transaction per append.

An append reads nothing when this container already holds the stream's head: the head
item carries the folded state, the chain head and the Merkle frontier, and the
transaction's condition on the head's length proves the cached copy is current. On a
lost race the head is re-read and the append retried (unless the caller named the
length it expected, which then answers 409).

A lost transaction returns the heads it found (ALL_OLD), so a stale cached head costs one
retry and no read. A write without `previous_length` never fails because others wrote:
after losing on a current head it sleeps a jittered, exponentially growing pause, re-reads
the head (consistent read) and tries again, for up to RETRY_BUDGET_SECONDS (well under API
Gateway's 29 s); only when that budget is spent does it answer 503 SERVICE_UNAVAILABLE
with Retry-After. Within one container, appends to one stream take turns (`_Turns`), so
the races left to retry are those between containers."""
from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import OrderedDict, deque
from contextlib import contextmanager
from dataclasses import dataclass

from chalicelib.core import caches, clock
from chalicelib.core.errors import AppError, invalid
from chalicelib.domain import events as ev
from chalicelib.store import keys, reactions, specs
from chalicelib.store.streams import (
    Head,
    materialize,
    advance,
    check_data,
    check_id,
    check_metadata,
    current_spec,
    event_definition,
    event_scope,
    read_head,
    refuse_tombstoned,
    unchanged,
)
from chalicelib.store.base import transact_write
from chalicelib.store.conditions import reason_codes
from chalicelib.store.tables import (
    IdempotencyRecord,
    MerkleTile,
    StoredEvent,
    StreamHead,
    StreamTypeCounter,
)

MAX_TRANSACTION_ITEMS = 100   # DynamoDB's limit on one TransactWriteItems
MAX_STATE_BYTES = 350_000     # the head item (state included) must stay under DynamoDB's 400 KB
MAX_EVENT_BYTES = 300_000     # one stored event (data + metadata), under the same item limit
MAX_WRITE_BYTES = 3_500_000   # one transaction, under DynamoDB's 4 MB
MAX_BATCH_EVENTS = 25         # events per batch request (implications share the budget)
HEAD_CACHE_SIZE = 10_000
IDEMPOTENCY_SECONDS = 24 * 3600
# Lost races on one stream: retry for this long, sleeping a random time in
# [0, min(BACKOFF_CAP, BACKOFF_BASE * 2**n)) after the n-th lost race ("full jitter").
RETRY_BUDGET_SECONDS = 8.0
BACKOFF_BASE_SECONDS = 0.01
BACKOFF_CAP_SECONDS = 0.1
RETRY_AFTER_SECONDS = 1
TURN_WAIT_SECONDS = 2.0    # at most this long in line behind this container's own appends

# The retry loop's time and sleep, replaceable in tests (the budget is wall time spent in
# this request, so it is measured with a monotonic clock, not clock.now()).
_monotonic = time.monotonic
_sleep = time.sleep
_random = random.random

_heads: "OrderedDict[str, Head]" = OrderedDict()
_heads_lock = threading.Lock()   # `chalice local` serves requests in threads


@dataclass(frozen=True)
class Scope:
    instance_id: str
    env: str


@dataclass(frozen=True)
class _SystemKey:
    """Where a system append writes (what an API key names for a client's)."""
    instance_id: str
    environment: str


class _Turns:
    """Appends to one stream from this container take turns, in arrival order, so they
    never lose races to one another (under `chalice local` every request is a thread of
    one process; a Lambda container serves one request at a time and never waits here).
    Waiting is bounded by TURN_WAIT_SECONDS, after which an append goes ahead anyway:
    the conditional write decides, as it does between containers."""

    def __init__(self):
        self._lock = threading.Lock()
        self._lines: dict[str, deque] = {}

    @contextmanager
    def take(self, stream: str, wait: float):
        mine = threading.Event()
        with self._lock:
            line = self._lines.setdefault(stream, deque())
            line.append(mine)
            if len(line) == 1:
                mine.set()
        try:
            mine.wait(max(0.0, wait))
            yield
        finally:
            with self._lock:
                line = self._lines[stream]
                first = line[0] is mine
                line.remove(mine)
                if not line:
                    del self._lines[stream]
                elif first:
                    line[0].set()


_turns = _Turns()


def clear_cache() -> None:
    with _heads_lock:
        _heads.clear()


def _cache(head: Head) -> None:
    with _heads_lock:
        _heads[head.stream] = head
        _heads.move_to_end(head.stream)
        while len(_heads) > HEAD_CACHE_SIZE:
            _heads.popitem(last=False)


def _forget(stream: str) -> None:
    with _heads_lock:
        _heads.pop(stream, None)


def _cached(stream: str) -> "Head | None":
    with _heads_lock:
        head = _heads.get(stream)
        return head.copy() if head is not None else None


def _head(stream: str, scope_type: str, fresh: bool, known: dict | None = None) -> Head:
    """The stream's head: the cached copy, or (fresh) the one a lost transaction just
    returned, or a consistent read."""
    if not fresh:
        cached = _cached(stream)
        if cached is not None:
            return cached
    if known and stream in known:
        head = known[stream]
        _cache(head)
        return head.copy()
    head = read_head(stream, scope_type)
    _cache(head)
    return head.copy()


# --- validation ------------------------------------------------------------------------

# --- appending -------------------------------------------------------------------------

@dataclass
class Pending:
    """One event to write, with where it goes."""
    agg_type: str
    agg_id: str
    event_type: str
    data: object
    metadata: dict


def _implied(spec: dict, definition: dict, agg_type: str, agg_id: str, event_type: str, data,
             metadata: dict, where: str) -> list[Pending]:
    """The events an event's `emit` implications add, in the same transaction."""
    from chalicelib.domain import ticks
    out = []
    scope_vars = event_scope(agg_type, agg_id, event_type, data, metadata, clock.now())
    for i, implication in enumerate(definition.get("implications") or []):
        emit = implication.get("emit")
        if emit is None:
            continue
        try:
            target_id = ticks.resolve(emit["id"], scope_vars)
            payload = ticks.resolve(emit.get("data", {}), scope_vars)
        except ticks.TickError as exc:
            raise AppError("HANDLER_FAILED", f"{where}.implications[{i}]: {exc}")
        if target_id is None or target_id == "" or isinstance(target_id, (dict, list, bool)):
            raise AppError("HANDLER_FAILED", f"{where}.implications[{i}].emit.id resolved to "
                           f"{target_id!r}; it must name an aggregate id")
        check_id(spec, str(target_id), f"{where}.implications[{i}].emit.id")
        out.append(Pending(emit["aggregate_type"], str(target_id), emit["event_type"], payload,
                           {**metadata, "implied_by": where}))
    return out


def append(key, agg_type: str, agg_id: str, items: list[dict], expected_length: int | None,
           idempotency_key: str | None, request_hash: str, rate=None,
           guard: reactions.Guard | None = None) -> dict:
    """Append events (with their implications) atomically; the answer is idempotent.
    `rate` (data_limits.Deferred) is a rate count made in the same transaction; `guard`
    (a system append's claim) too, its condition failing refusing the append."""
    scope = Scope(key.instance_id, key.environment)
    if len(items) > MAX_BATCH_EVENTS:
        raise AppError("BATCH_TOO_LARGE", f"At most {MAX_BATCH_EVENTS} events per request")
    spec = current_spec(scope.instance_id, scope.env)
    check_id(spec, agg_id, "agg_id")
    pending: list[Pending] = []
    for i, item in enumerate(items):
        where = f"events[{i}]" if len(items) > 1 else "$"
        definition = event_definition(spec, agg_type, item["event_type"])
        check_data(definition, item.get("data"), where)
        check_metadata(spec, item["metadata"], where)
        pending.append(Pending(agg_type, agg_id, item["event_type"], item.get("data"),
                               item["metadata"]))
        # implications of implied events too: the spec validator refuses emit cycles
        queue = _implied(spec, definition, agg_type, agg_id, item["event_type"], item.get("data"),
                         item["metadata"], where)
        while queue:
            implied = queue.pop(0)
            implied_def = event_definition(spec, implied.agg_type, implied.event_type)
            check_data(implied_def, implied.data, f"{where}.implied")
            pending.append(implied)
            if len(pending) > MAX_TRANSACTION_ITEMS:
                raise AppError("BATCH_TOO_LARGE", "The implications of this write exceed "
                               "what one transaction can hold")
            queue += _implied(spec, implied_def, implied.agg_type, implied.agg_id,
                              implied.event_type, implied.data, implied.metadata,
                              f"{where}.implied")
    idem = (keys.idempotency_key(scope.instance_id, scope.env, idempotency_key)
            if idempotency_key else None)
    primary = keys.stream_key(scope.instance_id, scope.env, agg_type, agg_id)
    deadline = _monotonic() + RETRY_BUDGET_SECONDS
    with _turns.take(primary, min(TURN_WAIT_SECONDS, RETRY_BUDGET_SECONDS)):
        return _write(spec, scope, pending, primary, agg_type, agg_id, expected_length, idem,
                      rate, request_hash, deadline, guard)


def append_as_system(instance_id: str, env: str, agg_type: str, agg_id: str,
                     event_type: str, data, metadata: dict,
                     guard: reactions.Guard | None = None) -> dict:
    """One event appended by the system (a scheduled event come due, a saga step): the
    same checks and writes as a client's append, no rate limit, `guard` in the same
    transaction (chalicelib/store/reactions.py)."""
    return append(_SystemKey(instance_id, env), agg_type, agg_id,
                  [{"event_type": event_type, "data": data, "metadata": metadata}],
                  None, None, "", guard=guard)


def _write(spec, scope: Scope, pending: list[Pending], primary: str, agg_type: str,
           agg_id: str, expected_length: int | None, idem: str | None, rate,
           request_hash: str, deadline: float, guard=None) -> dict:
    """Plan and commit until the write lands, is refused, or the budget is spent."""
    fresh = False
    lost = 0      # races lost on a fresh read of the head(s)
    known = {}    # heads as the lost transaction found them (its ALL_OLD return values)
    while True:
        heads: dict[str, Head] = {}
        for p in pending:
            stream = keys.stream_key(scope.instance_id, scope.env, p.agg_type, p.agg_id)
            if stream not in heads:
                heads[stream] = materialize(
                    _head(stream, keys.scope_type_key(scope.instance_id, scope.env, p.agg_type),
                          fresh, known), spec)
        originals = {s: h.length for s, h in heads.items()}
        for p in pending:
            refuse_tombstoned(heads[keys.stream_key(scope.instance_id, scope.env, p.agg_type,
                                                    p.agg_id)], p.agg_type, p.agg_id)
        if expected_length is not None and originals[primary] != expected_length:
            if not fresh:
                fresh = True
                continue  # the cached head may be stale: decide on a consistent read
            _replay_or(idem, request_hash, AppError(
                "CONCURRENT_WRITE", f"Concurrent write detected. Stream has "
                f"{originals[primary]} events, expected {expected_length}."))
        answer, writes = _plan(spec, scope, heads, pending, primary, agg_type, agg_id)
        outcome, known = _commit(heads, originals, writes, idem, request_hash, answer, rate,
                                 guard)
        if outcome == "ok":
            for head in heads.values():
                _cache(head)
            reactions.run_after(writes["effects"])
            return answer
        if outcome == "replay":
            return _replay_or(idem, request_hash, None)
        for stream in heads:
            _forget(stream)
        if not fresh:
            fresh = True
            continue  # the cached head was stale: retry at once on the one DynamoDB returned
        # Lost to another writer. With previous_length the re-read decides at once (409
        # when the length moved); without it, back off and try again within the budget.
        delay = backoff(lost) if expected_length is None else 0.0
        lost += 1
        if _monotonic() + delay >= deadline:
            raise AppError("SERVICE_UNAVAILABLE",
                           f"The stream kept changing under this write for "
                           f"{RETRY_BUDGET_SECONDS:g} s ({lost} lost races); retry",
                           headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        if delay:
            known = {}  # what the lost transaction saw is old news after a pause: re-read
            _sleep(delay)


def backoff(lost: int) -> float:
    """Seconds to wait after the `lost`-th (from 0) lost race: full jitter, capped."""
    return _random() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2 ** min(lost, 16)))


def _plan(spec, scope: Scope, heads: dict, pending: list[Pending], primary: str,
          agg_type: str, agg_id: str):
    """Fold every event onto its head; collect the items to write."""
    from chalicelib.domain import ticks
    now = round(clock.now(), 3)
    events_out, tiles, type_counts, written = [], {}, {}, []
    first_position = None
    size = 0
    for p in pending:
        stream = keys.stream_key(scope.instance_id, scope.env, p.agg_type, p.agg_id)
        head = heads[stream]
        definition = event_definition(spec, p.agg_type, p.event_type)
        event_bytes = len(ev.canonical(p.data)) + len(ev.canonical(p.metadata))
        if event_bytes > MAX_EVENT_BYTES:
            raise AppError("EVENT_TOO_LARGE", f"An event of {event_bytes} bytes exceeds the "
                           f"limit of {MAX_EVENT_BYTES}")
        size += event_bytes
        if stream == primary and first_position is None:
            first_position = head.length
        try:
            step = advance(head, definition, p.agg_type, p.agg_id, p.event_type, p.data,
                           p.metadata, now)
        except ticks.TickError as exc:
            raise AppError("HANDLER_FAILED", f"handler of {p.agg_type}.{p.event_type}: {exc}")
        for tile, hashes in step.tiles.items():
            tiles.setdefault((stream, tile), []).extend(hashes)
        events_out.append(step.event)
        written.append(reactions.Written(p.agg_type, p.agg_id, p.event_type,
                                         int(step.event.position), p.data, p.metadata, now,
                                         step.event.content_hash))
        type_key = f"{p.agg_type}.{p.event_type}"
        type_counts[type_key] = type_counts.get(type_key, 0) + 1
        if len(ev.canonical(head.state)) > MAX_STATE_BYTES:
            raise AppError("STATE_TOO_LARGE", f"The state of {p.agg_type}/{p.agg_id} would exceed "
                           f"{MAX_STATE_BYTES} bytes; its handler must keep it smaller")
    size += sum(len(ev.canonical(h.state)) for h in heads.values())
    if size > MAX_WRITE_BYTES:
        raise AppError("BATCH_TOO_LARGE", f"This write is {size} bytes; one atomic write holds "
                       f"at most {MAX_WRITE_BYTES}. Send fewer or smaller events.")
    writes = {"events": events_out, "tiles": tiles, "counts": type_counts,
              "scope": keys.scope_key(scope.instance_id, scope.env),
              "usage": (keys.usage_key(scope.instance_id),
                        keys.event_totals(scope.env, keys.month_of(now), primary),
                        len(events_out)),
              "effects": reactions.effects(spec, scope.instance_id, scope.env, written)}
    answer = {"ok": True, "stream_id": f"{agg_type}/{agg_id}@{first_position}",
              "length": heads[primary].length}
    if len(pending) > 1:
        answer["implied"] = len(pending) - sum(1 for p in pending
                                               if (p.agg_type, p.agg_id) == (agg_type, agg_id))
    return answer, writes


def _commit(heads: dict, originals: dict, writes: dict, idem: str | None, request_hash: str,
            answer: dict, rate=None, guard: reactions.Guard | None = None) -> tuple[str, dict]:
    """One TransactWriteItems: heads (conditional on their length), events, tiles,
    type counters, the idempotency record, what the events set in motion (reactions)
    and a system append's guard. ("ok" | "stale" | "replay", heads): on
    "stale", the heads whose condition failed as DynamoDB found them (each head is put
    with ReturnValuesOnConditionCheckFailure=ALL_OLD), so a retry needs no extra read."""
    from pynamodb.exceptions import TransactWriteError
    effects = writes["effects"]
    count = (len(heads) + len(writes["events"]) + len(writes["tiles"]) + len(writes["counts"])
             + len(writes["usage"][1]) + (1 if idem else 0) + (1 if rate else 0)
             + effects.count + (guard.count if guard else 0))
    if count > MAX_TRANSACTION_ITEMS:
        raise AppError("BATCH_TOO_LARGE", f"This write needs {count} items in one transaction; "
                       f"DynamoDB allows {MAX_TRANSACTION_ITEMS}. Send fewer events.")
    now = clock.now_int()
    heads_snapshots: list = []
    try:
        with transact_write() as tx:
            for stream, head in heads.items():
                condition = unchanged(originals[stream], head.restores)
                item, snapshots = head.items()
                tx.save(item, condition=condition, return_values="ALL_OLD")
                heads_snapshots += snapshots
            for event in writes["events"]:
                tx.save(event, condition=StoredEvent.position.does_not_exist())
            for (stream, tile), hashes in writes["tiles"].items():
                tx.update(MerkleTile(stream=stream, tile=tile),
                          actions=[MerkleTile.hashes.set((MerkleTile.hashes | []).append(hashes))])
            for type_key, n in writes["counts"].items():
                tx.update(StreamTypeCounter(scope=writes["scope"], type_key=type_key),
                          actions=[StreamTypeCounter.count.add(n)])
            usage_scope, totals, n = writes["usage"]   # per environment
            for total in totals:
                tx.update(StreamTypeCounter(scope=usage_scope, type_key=total),
                          actions=[StreamTypeCounter.count.add(n)])
            for snapshot in heads_snapshots:     # puts: before the idempotency record
                tx.save(snapshot)
            if idem:
                tx.save(IdempotencyRecord(key=idem, status=201, body=answer,
                                          request_hash=request_hash, created_at=now,
                                          ttl=now + IDEMPOTENCY_SECONDS),
                        condition=IdempotencyRecord.key.does_not_exist())
            # puts after the record, updates after the counters: neither shifts a position
            # read below; the guard's updates come last but for the rate count
            effects.write(tx)
            if guard:
                guard.planned = answer
                guard.write(tx)
            if rate:   # the last update of the request: its reason comes last
                tx.update(rate.counter, actions=rate.actions, condition=rate.condition)
        return "ok", {}
    except TransactWriteError as exc:
        reasons = reason_codes(exc)
        if rate and reasons and reasons[-1] == "ConditionalCheckFailed":
            raise rate.refusal
        if guard:
            guard_at = (len(heads) + len(writes["events"]) + len(heads_snapshots)
                        + (1 if idem else 0) + len(effects.puts) + len(writes["tiles"])
                        + len(writes["counts"]) + len(writes["usage"][1])
                        + len(effects.updates))
            if "ConditionalCheckFailed" in reasons[guard_at:guard_at + guard.count]:
                raise guard.refusal
        # the request lists puts in the order saved: heads, events, then the record
        idem_at = len(heads) + len(writes["events"]) + len(heads_snapshots)
        if idem and len(reasons) > idem_at and reasons[idem_at] == "ConditionalCheckFailed":
            return "replay", {}
        if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
            return "stale", _found_heads(exc, list(heads))
        raise


def _found_heads(exc, streams: list[str]) -> dict:
    """The current heads a cancelled transaction returned, by stream (heads come first
    in the request; a head whose condition held, or that did not exist, is absent)."""
    found = {}
    for stream, reason in zip(streams, exc.cancellation_reasons or []):
        if reason is not None and reason.code == "ConditionalCheckFailed" and reason.raw_item:
            item = StreamHead.from_raw_data(reason.raw_item)
            if item.stream == stream:
                found[stream] = Head.from_item(item)
    return found


def _replay_or(idem: str | None, request_hash: str, error: AppError | None):
    """A retry of a request already answered returns that answer; otherwise `error`."""
    if idem:
        try:
            record = IdempotencyRecord.get(idem, consistent_read=True)
        except IdempotencyRecord.DoesNotExist:
            record = None
        if record is not None and record.ttl and record.ttl > clock.now_int():
            if record.request_hash != request_hash:
                raise AppError("IDEMPOTENCY_KEY_REUSED")
            return dict(record.body, idempotent_replay=True)
    if error is None:
        raise AppError("CONCURRENT_WRITE", "The idempotency record vanished; retry")
    raise error


def request_digest(*parts) -> str:
    return hashlib.sha256(ev.canonical(list(parts))).hexdigest()


# --- reading ---------------------------------------------------------------------------

def _stream(key, agg_type: str, agg_id: str) -> str:
    return keys.stream_key(key.instance_id, key.environment, agg_type, agg_id)


def _read_spec(key, agg_id: str) -> dict | None:
    """The spec in force (cached), for the id rules of a read; 422 INVALID_ID for an id
    that is not one. No spec deployed: only the fixed forms and `global` are ids."""
    item = specs.current(key.instance_id, key.environment)
    spec = item.spec if item is not None else None
    check_id(spec, agg_id, "agg_id")
    return spec


def _singleton(spec: dict | None, agg_id: str) -> bool:
    from chalicelib.domain import identifiers
    return identifiers.is_singleton(agg_id, spec)


def read(key, agg_type: str, agg_id: str, at: float | None = None) -> dict:
    """Current state (one GetItem), or the state as of `at` (folded from the events)."""
    stream = _stream(key, agg_type, agg_id)
    spec = _read_spec(key, agg_id)
    if at is None:
        try:
            head = StreamHead.get(stream, consistent_read=True)
        except StreamHead.DoesNotExist:
            if _singleton(spec, agg_id):   # "one well-known instance, possibly empty"
                return {"ok": True, "data": {}, "metadata": {"length": 0, "created_at": None,
                                                             "updated_at": None}}
            raise AppError("AGGREGATE_NOT_FOUND")
        refuse_tombstoned(Head.from_item(head), agg_type, agg_id)
        state = head.state
        if head.snapshot_length is not None:   # a large state: in a snapshot plus the tail
            state = materialize(Head.from_item(head),
                                current_spec(key.instance_id, key.environment)).state
        return {"ok": True, "data": state or {},
                "metadata": {"length": int(head.length), "created_at": head.created_at,
                             "updated_at": head.updated_at}}
    try:    # a past state of an erased aggregate is erased too
        refuse_tombstoned(Head.from_item(StreamHead.get(stream, consistent_read=True)),
                          agg_type, agg_id)
    except StreamHead.DoesNotExist:
        pass
    return _state_at(key, agg_type, agg_id, stream, at)


def _state_at(key, agg_type, agg_id, stream, at: float) -> dict:
    """The state as of `at`: the newest usable checkpoint plus the events after it up
    to `at` (store/checkpoints.py), exactly what replaying every event up to `at` gives."""
    from chalicelib.store import checkpoints
    spec = current_spec(key.instance_id, key.environment)
    folded = checkpoints.fold(spec, agg_type, agg_id, stream, at=at)
    if folded.length == 0:
        raise AppError("AGGREGATE_NOT_FOUND", "The aggregate had no events at that time")
    return {"ok": True, "data": folded.state,
            "metadata": {"length": folded.length, "created_at": folded.first_at,
                         "updated_at": folded.last_at}}


MAX_EVENTS_PAGE = 1000


def list_events(key, agg_type: str, agg_id: str, cursor: str | None, limit: int) -> dict:
    """The raw stream in order, a page at a time: one Query from the cursor's position.
    404 AGGREGATE_NOT_FOUND when nothing was ever written to the aggregate (a singleton:
    an empty page)."""
    stream = _stream(key, agg_type, agg_id)
    spec = _read_spec(key, agg_id)
    start = 0
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 12:
            raise invalid("cursor", "is not a cursor this listing gave out")
        start = int(cursor)
    rows = list(StoredEvent.query(stream, StoredEvent.position >= start, consistent_read=True,
                                  limit=limit + 1))
    if not rows and start == 0 and not _singleton(spec, agg_id):
        raise AppError("AGGREGATE_NOT_FOUND")
    page = rows[:limit]
    events = [{"stream_id": f"{agg_type}/{agg_id}@{int(e.position)}",
               "position": int(e.position), "type": e.event_type,
               "data": None if e.tombstoned is not None else e.data,
               "metadata": e.metadata or {}, "timestamp": e.created_at,
               **({"tombstoned": True} if e.tombstoned is not None else {})} for e in page]
    more = len(rows) > limit
    return {"ok": True, "events": events,
            "next_cursor": str(int(page[-1].position) + 1) if more else None}


def length(key, agg_type: str, agg_id: str) -> dict:
    _read_spec(key, agg_id)
    try:
        head = StreamHead.get(_stream(key, agg_type, agg_id), consistent_read=True)
        return {"ok": True, "length": int(head.length)}
    except StreamHead.DoesNotExist:
        return {"ok": True, "length": 0}


caches.register("stream_heads", clear_cache)
