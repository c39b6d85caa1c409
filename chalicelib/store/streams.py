"""One aggregate's stream, as every writer and reader of events sees it: its head (length,
folded state, chain head, Merkle frontier), the spec's definition of an event and the
checks an event passes, what a handler reads of an event, and the step that adds one
event to a head (fold, content hash, chain hash, Merkle nodes).

The data plane's appends, imports and restores, and checkpoints all go through these
functions, so an event imported or restored is stored exactly as the same event appended
live would be."""
from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain import events as ev
from chalicelib.domain import json_schema, merkle
from chalicelib.store import specs
from chalicelib.store.tables import StateSnapshot, StoredEvent, StreamHead


# A head carries its stream's folded state while the state is small. Past INLINE_STATE_BYTES
# the state is written to a StateSnapshot only every max(SNAPSHOT_EVERY, size in KB)
# events and the head carries a pointer (snapshot_length): an append then writes its event,
# a small head and, now and then, the snapshot, so its write cost is bounded by the
# event's size plus a constant (about 2 write units amortized for the snapshot) whatever
# the state's size. Reading such a state costs the snapshot's GetItem and a Query of the
# events after it (at most that many); a container keeps the state of heads it caches.
INLINE_STATE_BYTES = 8 * 1024
SNAPSHOT_EVERY = 32


@dataclass
class Head:
    stream: str
    scope_type: str
    length: int = 0
    state: dict | None = field(default_factory=dict)  # None: not read yet (materialize)
    created_at: float | None = None
    updated_at: float | None = None
    chain_head: str | None = None
    frontier: list = field(default_factory=list)   # [(level, bytes)]
    restores: int = 0      # times a checkpoint restore replaced the state
    snapshot_length: int | None = None   # where the state's StateSnapshot is, if external
    tombstoned: dict | None = None       # a tombstone erasing it: appends are refused

    @classmethod
    def from_item(cls, item: StreamHead) -> "Head":
        inline = item.snapshot_length is None   # else the state is in a StateSnapshot
        return cls(stream=item.stream, scope_type=item.scope_type, length=int(item.length),
                   state=(item.state or {}) if inline else None, created_at=item.created_at,
                   updated_at=item.updated_at, chain_head=item.chain_head,
                   frontier=[(int(lv), bytes.fromhex(h)) for lv, h in item.frontier or []],
                   restores=int(item.restores or 0),
                   snapshot_length=None if inline else int(item.snapshot_length),
                   tombstoned=item.tombstoned)

    def items(self) -> tuple[StreamHead, list]:
        """The head item to write, and the StateSnapshot to write with it (none, or one
        when the state is external and a snapshot is due). Updates snapshot_length."""
        raw = len(ev.canonical(self.state))
        snapshots = []
        if raw <= INLINE_STATE_BYTES:
            self.snapshot_length = None
        else:
            every = max(SNAPSHOT_EVERY, raw // 1024)
            if self.snapshot_length is None or self.length - self.snapshot_length >= every:
                snapshots.append(StateSnapshot(stream=self.stream, length=self.length,
                                               state=self.state))
                self.snapshot_length = self.length
        item = StreamHead(stream=self.stream, scope_type=self.scope_type, length=self.length,
                          state=self.state if self.snapshot_length is None else None,
                          created_at=self.created_at, updated_at=self.updated_at,
                          chain_head=self.chain_head,
                          frontier=[[lv, h.hex()] for lv, h in self.frontier],
                          restores=self.restores or None, snapshot_length=self.snapshot_length)
        return item, snapshots

    def copy(self) -> "Head":
        return Head(self.stream, self.scope_type, self.length, self.state, self.created_at,
                    self.updated_at, self.chain_head, list(self.frontier), self.restores,
                    self.snapshot_length, self.tombstoned)

    @property
    def agg_type(self) -> str:
        return self.scope_type.rsplit("#", 1)[1]

    @property
    def agg_id(self) -> str:
        return self.stream[len(self.scope_type) + 1:]


def materialize(head: Head, spec: dict) -> Head:
    """Give `head` its state when it lives outside the head: the snapshot it points to,
    plus the events after it folded under `spec` (a missing snapshot: every event)."""
    if head.state is not None:
        return head
    base, start = {}, 0
    try:
        snap = StateSnapshot.get(head.stream, head.snapshot_length, consistent_read=True)
        base, start = snap.state, int(snap.length)
    except StateSnapshot.DoesNotExist:
        pass
    if start < head.length:
        tail = StoredEvent.query(head.stream, StoredEvent.position >= start,
                                 consistent_read=True)
        base = replay(spec, head.agg_type, head.agg_id,
                      (e for e in tail if e.position < head.length), base)[0]
    head.state = base
    return head


def unchanged(length: int, restores: int = 0):
    """The condition of a write of a head read at `length` (0: no head yet): nobody
    appended since, and no checkpoint restore replaced its state since (a head cached
    before a restore would otherwise put the old state back with its next event), and no
    tombstone is erasing it or has erased it."""
    now = clock.now()
    alive = StreamHead.tombstoned.does_not_exist()
    if length == 0:    # a load may have created the head, holding it: wait for it
        return StreamHead.stream.does_not_exist() | (
            (StreamHead.length == 0) & unlocked(now) & alive)
    condition = (StreamHead.length == length) & unlocked(now) & alive
    return condition & (StreamHead.restores == restores if restores
                        else StreamHead.restores.does_not_exist())


def unlocked(now: float):
    """No data load holds the stream (or its hold has run out): a load writes a stream's
    events outside a transaction, so appends wait until it has written its head."""
    return StreamHead.load_until.does_not_exist() | (StreamHead.load_until < now)


def refuse_tombstoned(head: Head, agg_type: str, agg_id: str) -> None:
    """410 AGGREGATE_TOMBSTONED when a tombstone erased the stream or is erasing it: what
    was erased cannot be written again under that id."""
    marker = head.tombstoned
    if marker is None:
        return
    status = marker.get("status", "executed")
    raise AppError("AGGREGATE_TOMBSTONED",
                   f"{agg_type}/{agg_id} " + ("is being erased" if status == "executing"
                                              else "was erased") +
                   f" by tombstone {marker.get('tombstone_id')}; it takes no more events",
                   extra={"tombstone_id": marker.get("tombstone_id"),
                          "tombstone_status": status,
                          "tombstoned_at": clock.iso(marker.get("tombstoned_at"))})


def read_head(stream: str, scope_type: str) -> Head:
    try:
        return Head.from_item(StreamHead.get(stream, consistent_read=True))
    except StreamHead.DoesNotExist:
        return Head(stream=stream, scope_type=scope_type)


def current_spec(instance_id: str, env: str) -> dict:
    item = specs.current(instance_id, env)
    if item is None:
        raise AppError("SPEC_NOT_FOUND", "No spec is deployed in this environment; "
                                         "deploy one with POST /api/instances/{id}/spec")
    return item.spec


def event_definition(spec: dict, agg_type: str, event_type: str) -> dict:
    agg = (spec.get("aggregate_types") or {}).get(agg_type)
    if agg is None:
        raise AppError("UNKNOWN_AGGREGATE_TYPE", f"Aggregate type '{agg_type}' is not in the spec")
    definition = (agg.get("events") or {}).get(event_type)
    if definition is None:
        raise AppError("UNKNOWN_EVENT_TYPE",
                       f"Event type '{event_type}' is not defined for '{agg_type}'")
    return definition


def check_data(definition: dict, data, where: str) -> None:
    problems = json_schema.problems(definition.get("schema") or {}, data)
    if problems:
        for p in problems:
            p["path"] = f"{where}.data" + (f".{p['path']}" if p["path"] else "")
        first = problems[0]
        raise AppError("SCHEMA_VIOLATION", f"{first['path']}: {first['message']}",
                       details=problems)


def check_id(spec: dict | None, text, where: str) -> None:
    """422 INVALID_ID unless `text` is an identifier (domain/identifiers.py)."""
    from chalicelib.domain import identifiers
    reason = identifiers.problem(text, spec)
    if reason is not None:
        raise AppError("INVALID_ID", f"{where}: {reason}",
                       details=[{"path": where, "message": reason}])


def check_metadata(spec: dict, metadata: dict, where: str) -> None:
    actor = metadata.get("actor")
    check_id(spec, actor.get("id"), f"{where}.metadata.actor.id")
    agents = spec.get("agent_types") or []
    if actor["type"] not in agents:
        raise AppError("SCHEMA_VIOLATION", f"{where}.metadata.actor.type: '{actor['type']}' is "
                       f"not one of the spec's agent_types {agents}",
                       details=[{"path": f"{where}.metadata.actor.type",
                                 "message": f"must be one of {agents}"}])
    target = metadata.get("target")
    if target is not None:
        check_id(spec, target.get("id"), f"{where}.metadata.target.id")
        targets = spec.get("target_types") or []
        if target.get("type") not in targets:
            raise AppError("SCHEMA_VIOLATION", f"{where}.metadata.target.type: must be one of "
                           f"the spec's target_types {targets}",
                           details=[{"path": f"{where}.metadata.target.type",
                                     "message": f"must be one of {targets}"}])


def event_scope(agg_type: str, agg_id: str, event_type: str, data, metadata: dict,
                timestamp: float) -> dict:
    """What a handler or an implication reads of an event: $.data, $.metadata with the
    event's `timestamp` (unix seconds, set here, never by the client), $.key
    ("<type>:<id>"), $.id (the aggregate id alone) and $.type."""
    return {"data": data, "metadata": {**(metadata or {}), "timestamp": int(timestamp)},
            "key": f"{agg_type}:{agg_id}", "id": agg_id, "type": event_type}


def fold_event(state, definition: dict, agg_type: str, agg_id: str, event_type: str, data,
                metadata: dict, timestamp: float) -> dict:
    from chalicelib.domain import ticks
    s = event_scope(agg_type, agg_id, event_type, data, metadata, timestamp)
    return ticks.apply_handler(state, definition.get("handler") or [], s["data"],
                               s["metadata"], s["key"], s["type"])


@dataclass
class Step:
    """What adding one event to a head produced: the stored event and the Merkle nodes
    to add to the stream's tiles, as {tile: [hex, ...]}."""
    event: StoredEvent
    tiles: dict


def advance(head: Head, definition: dict | None, agg_type: str, agg_id: str, event_type: str,
            data, metadata: dict, created_at: float, *, content_hash: str | None = None,
            tombstoned=None) -> Step:
    """Add one event to `head` (changed in place): fold it with its handler (none for a
    tombstoned event, whose payload is gone and whose original content hash is given),
    chain it and extend the Merkle frontier. Raises ticks.TickError from the handler."""
    if tombstoned is None:
        head.state = fold_event(head.state, definition or {}, agg_type, agg_id, event_type,
                                data, metadata, created_at)
        content = ev.content_hash(event_type, data, metadata, created_at)
    else:
        content = bytes.fromhex(content_hash)
    previous = bytes.fromhex(head.chain_head) if head.chain_head else None
    chain = merkle.chain_hash(previous, content)
    leaf = ev.leaf(agg_type, agg_id, head.length, content)
    head.frontier, nodes = merkle.extend(head.frontier, leaf, head.length)
    tiles: dict = {}
    for level, index, value in nodes:
        spot = merkle.tile_of(level, index)
        if spot:
            tiles.setdefault(spot[0], []).append(value.hex())
    event = StoredEvent(stream=head.stream, position=head.length, event_type=event_type,
                        data=None if tombstoned is not None else data, metadata=metadata,
                        created_at=created_at, content_hash=content.hex(),
                        chain_hash=chain.hex(), tombstoned=tombstoned)
    head.length += 1
    head.chain_head = chain.hex()
    head.created_at = head.created_at or created_at
    head.updated_at = created_at
    return Step(event, tiles)


def replay(spec: dict, agg_type: str, agg_id: str, events, state=None) -> tuple[dict, int]:
    """Fold stored events onto `state` (None: the empty state) with one fold (the state
    is copied once, not per event); (state, events seen). Tombstoned events count but
    fold nothing. AppError HANDLER_FAILED names the failing event's position."""
    from chalicelib.domain import ticks
    steps, positions, seen = [], [], 0
    for event in events:
        seen += 1
        if event.tombstoned is not None:
            continue
        definition = event_definition(spec, agg_type, event.event_type)
        s = event_scope(agg_type, agg_id, event.event_type, event.data, event.metadata,
                        event.created_at)
        steps.append((definition.get("handler") or [], s["data"], s["metadata"], s["key"],
                      s["type"]))
        positions.append(int(event.position))
    try:
        return ticks.fold(steps, state), seen
    except ticks.TickError as exc:
        index = getattr(exc, "event_index", None)
        where = positions[index] if index is not None else "?"
        raise AppError("HANDLER_FAILED", f"replaying event {where}: {exc}")
