"""Folding an aggregate from its newest usable checkpoint plus the events after it: what
reads of a past state (`?at=`), new checkpoints, restores and root checkpoints share.

A checkpoint is *usable* for a fold under a spec when
- its handlers fingerprint (domain/checkpoints.py) is the spec's for the aggregate type:
  a checkpoint folded by other handlers is never used silently;
- it lies within what the fold asks for: its length at most the length asked, and every
  event it covers written at or before the time asked (`max_event_at <= at`, so imported
  events with out-of-order timestamps are handled exactly as a replay handles them);
- it still belongs to the stream: the stored event just before the tail carries the
  checkpoint's chain hash (a stream replaced by a backup restore no longer does);
- its state can be read (inline, or from S3 with the SHA-256 it was stored with).
Otherwise the next older one is tried (at most MAX_CANDIDATES), then the fold starts
from the empty state. Either way the answer is exactly what a full replay gives.

Where a state lives: inline in the checkpoint item up to INLINE_BYTES of canonical JSON
(one GetItem reads it; 32 KB costs 32 write units once and 8 read units per use), else
in the "backups" bucket at checkpoints/<instance>/<env>/<checkpoint id>.json (one
GetObject, flat cost whatever the size)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from chalicelib.core.errors import AppError
from chalicelib.domain import events as ev
from chalicelib.domain import merkle
from chalicelib.domain.checkpoints import handlers_fingerprint
from chalicelib.store import aws, specs
from chalicelib.store.buckets import bucket_name
from chalicelib.store.streams import replay
from chalicelib.store.tables import Checkpoint, SpecVersion, StoredEvent

INLINE_BYTES = 32 * 1024
MAX_CANDIDATES = 3     # older checkpoints tried when the newest one cannot be used
REPLAY_CHUNK = 500     # events folded per step: memory holds one chunk of the tail
BUCKET = "backups"


def spec_in_force(instance_id: str, env: str) -> SpecVersion:
    """The spec version in force (cached as every read caches it); 404 without one."""
    item = specs.current(instance_id, env)
    if item is None:
        raise AppError("SPEC_NOT_FOUND", "No spec is deployed in this environment; "
                                         "deploy one with POST /api/instances/{id}/spec")
    return item


def state_key(instance_id: str, env: str, checkpoint_id: str) -> str:
    return f"checkpoints/{instance_id}/{env}/{checkpoint_id}.json"


def _s3():
    return aws.client("s3")


def put_state(key: str, raw: bytes, sha256: str) -> None:
    _s3().put_object(Bucket=bucket_name(BUCKET), Key=key, Body=raw,
                     ContentType="application/json", Metadata={"sha256": sha256})


def delete_state(key: str) -> None:
    _s3().delete_object(Bucket=bucket_name(BUCKET), Key=key)


def load_state(item: Checkpoint):
    """The checkpoint's state, or None when it cannot be read as stored (object gone,
    or bytes that do not hash to state_sha256)."""
    if item.s3_key is None:
        return item.state if item.state is not None else None
    try:
        raw = _s3().get_object(Bucket=bucket_name(BUCKET), Key=item.s3_key)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - only a missing object means "unusable"
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    if hashlib.sha256(raw).hexdigest() != item.state_sha256:
        return None
    return json.loads(raw)


@dataclass
class Folded:
    """A fold's outcome: the state after `length` events, what those events were, and
    (when asked for) the Merkle frontier after them."""
    state: dict
    length: int = 0
    first_at: float | None = None
    last_at: float | None = None
    max_at: float | None = None
    chain_hash: str | None = None
    frontier: list | None = None            # [(level, bytes)], with tree=True
    base: Checkpoint | None = None          # the checkpoint the fold started from
    events_read: int = 0
    skipped: list = field(default_factory=list)   # ids of candidates found unusable

    @property
    def merkle_root(self) -> bytes:
        return merkle.frontier_root(self.frontier or [])


def candidates(stream: str, fingerprint: str, length: int | None = None,
               at: float | None = None):
    """The stream's checkpoints that may serve the fold, newest (longest) first: a Query
    of the by_stream index (only keys, handlers and max_event_at are projected)."""
    condition = Checkpoint.handlers == fingerprint
    if at is not None:
        condition &= Checkpoint.max_event_at <= at
    key_condition = Checkpoint.length <= length if length is not None else None
    return Checkpoint.by_stream.query(stream, range_key_condition=key_condition,
                                      filter_condition=condition, scan_index_forward=False)


def _usable(entry) -> tuple[Checkpoint, dict] | None:
    try:
        item = Checkpoint.get(entry.scope, entry.id, consistent_read=True)
    except Checkpoint.DoesNotExist:      # deleted since the index saw it
        return None
    if item.frontier is None:
        return None
    state = load_state(item)
    return None if state is None else (item, state)


def fold(spec: dict, agg_type: str, agg_id: str, stream: str, *, length: int | None = None,
         at: float | None = None, tree: bool = False, use_checkpoints: bool = True,
         fingerprint: str | None = None) -> Folded:
    """The state of the stream's longest prefix that has at most `length` events and
    whose events were all written at or before `at` (either may be None: no bound),
    folded by `spec`, from the newest usable checkpoint. With `tree`, the Merkle frontier
    after that prefix too (extended from the checkpoint's, so no tile is read)."""
    fingerprint = fingerprint or handlers_fingerprint(spec, agg_type)
    skipped = []
    if use_checkpoints and length != 0:
        tried = 0
        for entry in candidates(stream, fingerprint, length, at):
            if tried >= MAX_CANDIDATES:
                break
            tried += 1
            found = _usable(entry)
            if found is not None:
                item, state = found
                out = fold_from(spec, agg_type, agg_id, stream, item, state, length=length, at=at,
                                tree=tree)
                if out is not None:
                    out.skipped = skipped
                    return out
            skipped.append(entry.id)
    out = fold_from(spec, agg_type, agg_id, stream, None, None, length=length, at=at, tree=tree)
    out.skipped = skipped
    return out


def fold_from(spec: dict, agg_type: str, agg_id: str, stream: str, base: Checkpoint | None,
              state, *, length: int | None = None, at: float | None = None,
              tree: bool = False) -> Folded | None:
    """Fold the events after `base` (None: from the start) onto its state; None when the
    stored event before the tail does not carry the checkpoint's chain hash."""
    if base is None:
        out = Folded(state={}, frontier=[] if tree else None)
        start = 0
    else:
        out = Folded(state=state, length=int(base.length), first_at=base.first_event_at,
                     last_at=base.last_event_at, max_at=base.max_event_at,
                     chain_hash=base.chain_hash, base=base,
                     frontier=([(int(lv), bytes.fromhex(h)) for lv, h in base.frontier]
                               if tree else None))
        start = int(base.length) - 1      # the event before the tail: the chain check
    if length is not None and length <= out.length:
        if base is not None and not _chain_holds(stream, base):
            return None
        return out
    condition = (StoredEvent.position >= start if length is None
                 else StoredEvent.position.between(start, length - 1))
    chunk = []
    checked = base is None
    for event in StoredEvent.query(stream, range_key_condition=condition, consistent_read=True):
        out.events_read += 1
        if not checked:
            if int(event.position) != start or event.chain_hash != base.chain_hash:
                return None
            checked = True
            continue
        if at is not None and event.created_at > at:
            break
        chunk.append(event)
        if out.first_at is None:
            out.first_at = event.created_at
        out.last_at = event.created_at
        out.max_at = event.created_at if out.max_at is None else max(out.max_at,
                                                                     event.created_at)
        out.chain_hash = event.chain_hash
        if tree:
            leaf = ev.leaf(agg_type, agg_id, int(event.position),
                           bytes.fromhex(event.content_hash))
            out.frontier, _ = merkle.extend(out.frontier, leaf, out.length)
        out.length += 1
        if len(chunk) >= REPLAY_CHUNK:
            out.state = replay(spec, agg_type, agg_id, chunk, state=out.state)[0]
            chunk = []
    if not checked:
        return None           # the checkpoint's last event is gone: not this stream
    if chunk:
        out.state = replay(spec, agg_type, agg_id, chunk, state=out.state)[0]
    return out


def _chain_holds(stream: str, base: Checkpoint) -> bool:
    try:
        event = StoredEvent.get(stream, int(base.length) - 1, consistent_read=True)
    except StoredEvent.DoesNotExist:
        return False
    return event.chain_hash == base.chain_hash


def drop_stream(stream: str) -> int:
    """Delete every checkpoint of a stream (and its stored state): what erasing the
    stream's payloads (a tombstone) must do, since a checkpoint holds the folded data.
    The number deleted."""
    deleted = 0
    for entry in Checkpoint.by_stream.query(stream):
        try:
            item = Checkpoint.get(entry.scope, entry.id, consistent_read=True)
        except Checkpoint.DoesNotExist:
            continue
        item.delete()
        if item.s3_key:
            delete_state(item.s3_key)
        deleted += 1
    return deleted
