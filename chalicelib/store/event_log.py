"""Exporting an environment's events as JSON Lines, one bounded page at a time.

Order: aggregate type (sorted), then stream key (the by_scope_type index's range key, so
DynamoDB returns them sorted), then position. A page holds at most PAGE_SIZE events and
about PAGE_BYTES of body; the cursor names the first event of the next page as
(aggregate type, stream, position), base64url-encoded JSON. Nothing here scans: streams
come from a Query on the by_scope_type index, events from a Query per stream."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from chalicelib.core.errors import AppError, invalid
from chalicelib.store import specs
from chalicelib.store.keys import scope_type_key
from chalicelib.store.tables import StoredEvent, StreamHead

PAGE_SIZE = 5_000          # events per response at most
PAGE_BYTES = 4_000_000     # body budget per response, under Lambda's 6 MB answer limit


@dataclass(frozen=True)
class Position:
    agg_type: str
    stream: str
    position: int


@dataclass
class Page:
    lines: list[str]
    next_cursor: str | None

    @property
    def body(self) -> str:
        return "".join(self.lines)


# --- cursors ---------------------------------------------------------------------------

def encode_cursor(at: Position) -> str:
    raw = json.dumps([at.agg_type, at.stream, at.position], separators=(",", ":"),
                     ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, instance_id: str, env: str) -> Position:
    """The cursor back, checked to name a stream of this instance environment."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        agg_type, stream, position = json.loads(raw.decode())
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor this export returned")
    if not (isinstance(agg_type, str) and agg_type and isinstance(stream, str)
            and isinstance(position, int) and not isinstance(position, bool) and position >= 0):
        raise invalid("cursor", "not a cursor this export returned")
    if not stream.startswith(_prefix(instance_id, env, agg_type)):
        raise invalid("cursor", "names a stream outside this instance environment")
    return Position(agg_type, stream, position)


# --- reading ---------------------------------------------------------------------------

def _scope_type(instance_id: str, env: str, agg_type: str) -> str:
    return scope_type_key(instance_id, env, agg_type)


def _prefix(instance_id: str, env: str, agg_type: str) -> str:
    return _scope_type(instance_id, env, agg_type) + "#"


def aggregate_types(instance_id: str, env: str) -> list[str]:
    """The spec's aggregate types plus any with stored events (a forced deploy may have
    dropped a type whose events are still stored)."""
    item = specs.latest(instance_id, env)
    names = set((item.spec.get("aggregate_types") or {}) if item else ())
    names |= set(specs.stored_types(instance_id, env))
    return sorted(names)


def _streams(instance_id: str, env: str, agg_type: str, start: str | None):
    """Stream keys of one type in key order, from `start` on (Query on the GSI)."""
    condition = StreamHead.stream >= start if start else None
    for head in StreamHead.by_scope_type.query(_scope_type(instance_id, env, agg_type),
                                               range_key_condition=condition,
                                               attributes_to_get=["stream", "scope_type"]):
        yield head.stream


def _events(stream: str, start: int, limit: int):
    condition = StoredEvent.position >= start if start else None
    return StoredEvent.query(stream, range_key_condition=condition, consistent_read=True,
                             limit=limit)


def line(agg_type: str, agg_id: str, event: StoredEvent) -> str:
    record = {"aggregate_type": agg_type, "aggregate_id": agg_id,
              "position": int(event.position), "event_type": event.event_type}
    if event.tombstoned is not None:
        record["tombstoned"] = event.tombstoned
    else:
        record["data"] = event.data
    record.update({"metadata": event.metadata, "created_at": event.created_at,
                   "content_hash": event.content_hash, "chain_hash": event.chain_hash})
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"


def page(instance_id: str, env: str, aggregate_type: str | None = None,
         cursor: str | None = None, limit: int | None = None) -> Page:
    """One page of the export (the caller has checked the instance exists)."""
    size = min(limit or PAGE_SIZE, PAGE_SIZE)
    at = decode_cursor(cursor, instance_id, env) if cursor else None
    types = aggregate_types(instance_id, env)
    if aggregate_type is not None:
        if aggregate_type not in types:
            raise AppError("UNKNOWN_AGGREGATE_TYPE",
                           f"Aggregate type '{aggregate_type}' has no spec entry and no events")
        types = [aggregate_type]
        if at is not None and at.agg_type != aggregate_type:
            raise invalid("cursor", "belongs to an export of another aggregate_type")
    if at is not None:
        types = [t for t in types if t > at.agg_type]
        types.insert(0, at.agg_type)   # even if dropped from the spec since
    lines: list[str] = []
    used = 0
    for agg_type in types:
        same_type = at is not None and agg_type == at.agg_type
        prefix = _prefix(instance_id, env, agg_type)
        for stream in _streams(instance_id, env, agg_type, at.stream if same_type else None):
            start = at.position if same_type and stream == at.stream else 0
            # one more than still fits: the first event left over names the next page
            for event in _events(stream, start, size - len(lines) + 1):
                text = line(agg_type, stream[len(prefix):], event)
                nbytes = len(text.encode())
                full = len(lines) >= size or (lines and used + nbytes > PAGE_BYTES)
                if full:
                    return Page(lines, encode_cursor(Position(agg_type, stream,
                                                              int(event.position))))
                lines.append(text)
                used += nbytes
    return Page(lines, None)
