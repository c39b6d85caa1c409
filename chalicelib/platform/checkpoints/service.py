"""Seed 000's checkpoints: one aggregate's folded state at a stream length, kept so that
reads of a past state fold only the events after it, and so that a cached state folded
by a bad handler can be put right.

- Creating one folds the stream's first `length` events (default: all) under the spec
  in force, from the newest usable checkpoint (store/checkpoints.py), and records the
  spec version, its handlers' fingerprint for the type, the Merkle root at that length
  (and the frontier it comes from) and the chain hash of the last event covered. The
  state is folded, not copied from the stream head: the head's cached state may have been
  folded partly by older handlers, and a checkpoint must be exactly what its handlers
  give, or reads that use it would differ from a replay.
- The state is stored inline up to INLINE_BYTES, else in S3 (store/checkpoints.py).
- Restoring re-folds the aggregate from the checkpoint under the spec in force (its state
  plus the events after it) and replaces only the stream head's cached state, with a
  write conditional on the head's length and restore count (a concurrent append makes it
  fold again: at most RESTORE_ATTEMPTS times, then 409 CONCURRENT_WRITE). No event is
  deleted or rewritten. A checkpoint whose handlers differ from the spec in force is
  restored only with {"accept_handler_change": true}, and the answer says so.
- Every act writes its audit entry in the same transaction as the act."""
from __future__ import annotations

import re
import secrets

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain.checkpoints import handlers_fingerprint, state_bytes, state_digest
from chalicelib.identity import audit
from chalicelib.store import checkpoints as store
from chalicelib.store import listing
from chalicelib.store.keys import scope_key, scope_type_key, stream_key
from chalicelib.store.streams import (
    check_id,
    materialize,
    read_head,
    refuse_tombstoned,
    unchanged,
)
from chalicelib.store.tables import Checkpoint, StreamHead

ID_PATTERN = r"^cp_[0-9]{13}[0-9a-f]{12}$"
_ID = re.compile(ID_PATTERN)
INLINE_BYTES = store.INLINE_BYTES
RESTORE_ATTEMPTS = 5
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_STATE_BYTES = 350_000      # the data plane's limit on a head's state (400 KB items)
# what a listing reads of each checkpoint: everything but the state
_LISTED = ["scope", "id", "stream", "aggregate_type", "aggregate_id", "length",
           "spec_version", "handlers", "merkle_root", "chain_hash", "state_size",
           "state_sha256", "s3_key", "created_at", "created_by"]


def new_id() -> str:
    return f"cp_{int(clock.now() * 1000):013d}{secrets.token_hex(6)}"


def describe(item: Checkpoint, current: str | None = None) -> dict:
    """The answer's shape; `current` is the spec in force's fingerprint for the type
    (None when no spec is deployed)."""
    return {"id": item.id, "aggregate_type": item.aggregate_type,
            "aggregate_id": item.aggregate_id, "length": int(item.length),
            "spec_version": int(item.spec_version), "handlers": item.handlers,
            "handlers_current": None if current is None else item.handlers == current,
            "merkle_root": item.merkle_root, "chain_hash": item.chain_hash,
            "state_size": int(item.state_size), "state_sha256": item.state_sha256,
            "state_storage": "s3" if item.s3_key else "inline",
            "created_at": clock.iso(item.created_at), "created_by": item.created_by}


def _target(instance_id: str, env: str, item: Checkpoint) -> str:
    return f"{instance_id}/{env}/{item.aggregate_type}/{item.aggregate_id}"


def _current_fingerprints(instance_id: str, env: str):
    from chalicelib.store import specs
    version = specs.current(instance_id, env)
    cache: dict = {}

    def of(agg_type: str) -> str | None:
        if version is None:
            return None
        if agg_type not in cache:
            cache[agg_type] = handlers_fingerprint(version.spec, agg_type)
        return cache[agg_type]
    return of


# --- create ----------------------------------------------------------------------------

def create(act: audit.Act, instance_id: str, env: str, body: dict) -> tuple[dict, audit.Note]:
    version = store.spec_in_force(instance_id, env)
    spec = version.spec
    agg_type, agg_id = body["aggregate_type"], body["aggregate_id"]
    check_id(spec, agg_id, "aggregate_id")
    stream = stream_key(instance_id, env, agg_type, agg_id)
    head = read_head(stream, scope_type_key(instance_id, env, agg_type))
    if head.length == 0:
        raise AppError("AGGREGATE_NOT_FOUND", f"{agg_type}/{agg_id} has no events")
    length = body.get("length", head.length)
    if length > head.length:
        raise AppError("CHECKPOINT_BEYOND_STREAM",
                       f"length {length} is beyond the stream, which has {head.length} events",
                       details=[{"path": "length",
                                 "message": f"must be at most {head.length}"}])
    fingerprint = handlers_fingerprint(spec, agg_type)
    folded = store.fold(spec, agg_type, agg_id, stream, length=length, tree=True,
                        fingerprint=fingerprint)
    if folded.length != length:
        raise AppError("INTEGRITY_ERROR", f"the stream holds {folded.length} of the "
                       f"{length} events its head counts")
    root = folded.merkle_root
    if length == head.length and folded.chain_hash != head.chain_head:
        raise AppError("INTEGRITY_ERROR", "the events' chain does not end at the stream "
                       "head's chain head")
    checkpoint_id = new_id()
    raw = state_bytes(folded.state)
    size, sha = state_digest(folded.state)
    item = Checkpoint(scope_key(instance_id, env), checkpoint_id, stream=stream,
                      aggregate_type=agg_type, aggregate_id=agg_id, length=length,
                      spec_version=int(version.version), handlers=fingerprint,
                      merkle_root=root.hex(), chain_hash=folded.chain_hash,
                      frontier=[[lv, h.hex()] for lv, h in folded.frontier],
                      first_event_at=folded.first_at, last_event_at=folded.last_at,
                      max_event_at=folded.max_at, state_size=size, state_sha256=sha,
                      created_at=clock.now(), created_by=act.actor.subject)
    if size <= INLINE_BYTES:
        item.state = folded.state
    else:
        item.s3_key = store.state_key(instance_id, env, checkpoint_id)
        store.put_state(item.s3_key, raw, sha)
    note = audit.Note(_target(instance_id, env, item),
                      {"checkpoint_id": checkpoint_id, "length": length,
                       "spec_version": int(version.version),
                       "from_checkpoint": folded.base.id if folded.base else None,
                       "events_folded": folded.length - (int(folded.base.length)
                                                         if folded.base else 0)})
    if not act.commit(note, lambda tx: tx.save(item, condition=Checkpoint.id.does_not_exist())):
        if item.s3_key:
            store.delete_state(item.s3_key)
        raise AppError("CONCURRENT_WRITE", "A checkpoint with this id was written meanwhile; "
                                           "retry")
    return describe(item, fingerprint), note


# --- reads -----------------------------------------------------------------------------

def get(instance_id: str, env: str, checkpoint_id: str) -> Checkpoint:
    if not _ID.match(checkpoint_id or ""):
        raise AppError("CHECKPOINT_NOT_FOUND", "No checkpoint has that id (ids look like "
                                               "cp_<13 digits><12 hex>)")
    try:
        return Checkpoint.get(scope_key(instance_id, env), checkpoint_id, consistent_read=True)
    except Checkpoint.DoesNotExist:
        raise AppError("CHECKPOINT_NOT_FOUND")


def list_page(instance_id: str, env: str, agg_type: str | None, agg_id: str | None,
              limit: int, cursor: str | None) -> dict:
    """Newest first, `limit` at a time: one consistent Query of the environment's
    checkpoints (the states are not read), filtered on the type and id given."""
    page, next_cursor = listing.newest_first(
        Checkpoint, scope_key(instance_id, env),
        [Checkpoint.aggregate_type == agg_type if agg_type is not None else None,
         Checkpoint.aggregate_id == agg_id if agg_id is not None else None],
        limit, cursor, _ID, attributes_to_get=_LISTED)
    current = _current_fingerprints(instance_id, env)
    return {"checkpoints": [describe(c, current(c.aggregate_type)) for c in page],
            "next_cursor": next_cursor}


# --- restore ---------------------------------------------------------------------------

def restore(act: audit.Act, instance_id: str, env: str, checkpoint_id: str,
            accept_handler_change: bool = False) -> tuple[dict, audit.Note]:
    item = get(instance_id, env, checkpoint_id)
    version = store.spec_in_force(instance_id, env)
    spec = version.spec
    current = handlers_fingerprint(spec, item.aggregate_type)
    changed = current != item.handlers
    if changed and not accept_handler_change:
        raise AppError("CHECKPOINT_HANDLERS_CHANGED",
                       f"Checkpoint {item.id} was folded under spec version "
                       f"{int(item.spec_version)}, whose {item.aggregate_type} handlers differ "
                       f"from those of version {int(version.version)} in force: its state is "
                       "not what the handlers in force would fold. Send "
                       "{\"accept_handler_change\": true} to restore it anyway.")
    state = store.load_state(item)
    if state is None:
        raise AppError("INTEGRITY_ERROR", f"checkpoint {item.id}'s stored state is missing "
                                          "or does not match its SHA-256")
    scope_type = scope_type_key(instance_id, env, item.aggregate_type)
    for _ in range(RESTORE_ATTEMPTS):
        head = materialize(read_head(item.stream, scope_type), spec)   # its state too
        refuse_tombstoned(head, item.aggregate_type, item.aggregate_id)
        if head.length < int(item.length):
            raise AppError("CHECKPOINT_STALE", f"the stream has {head.length} events, fewer "
                           f"than the checkpoint's {int(item.length)}")
        folded = store.fold_from(spec, item.aggregate_type, item.aggregate_id, item.stream,
                                 item, state, length=head.length)
        if folded is None:
            raise AppError("CHECKPOINT_STALE", "the stored event before the checkpoint's "
                           "tail does not carry the checkpoint's chain hash: the stream was "
                           "replaced since")
        if folded.length != head.length:
            continue    # events still being written behind the head: read it again
        size, sha = state_digest(folded.state)
        if size > MAX_STATE_BYTES:
            raise AppError("STATE_TOO_LARGE", f"The restored state would be {size} bytes; "
                           f"a state holds at most {MAX_STATE_BYTES}")
        previous_size, previous_sha = state_digest(head.state)
        replayed = head.length - int(item.length)
        note = audit.Note(_target(instance_id, env, item), {
            "checkpoint_id": item.id, "checkpoint_length": int(item.length),
            "length": head.length, "replayed": replayed,
            "checkpoint_spec_version": int(item.spec_version),
            "spec_version": int(version.version), "handlers_changed": changed,
            "previous_state_sha256": previous_sha, "state_sha256": sha})
        restores = head.restores + 1

        def write(tx, head=head, folded=folded, restores=restores):
            tx.update(StreamHead(stream=item.stream),
                      actions=[StreamHead.state.set(folded.state),
                               StreamHead.snapshot_length.remove(),   # the state is inline
                               StreamHead.restores.set(restores)],
                      condition=unchanged(head.length, head.restores))
        if act.commit(note, write):
            answer = {"restored": True, "checkpoint": describe(item, current),
                      "aggregate_type": item.aggregate_type,
                      "aggregate_id": item.aggregate_id, "length": head.length,
                      "replayed": replayed, "spec_version": int(version.version),
                      "handlers_changed": changed, "state_changed": sha != previous_sha,
                      "state_size": size, "state_sha256": sha,
                      "previous_state_sha256": previous_sha}
            return answer, note
    raise AppError("CONCURRENT_WRITE", f"The aggregate kept changing during the restore "
                   f"({RESTORE_ATTEMPTS} attempts); retry")


# --- delete ----------------------------------------------------------------------------

def delete(act: audit.Act, instance_id: str, env: str,
           checkpoint_id: str) -> tuple[dict, audit.Note]:
    """The record and its audit entry in one transaction, then the stored state (a crash
    between them leaves an object nothing names, never a record naming nothing)."""
    item = get(instance_id, env, checkpoint_id)
    note = audit.Note(_target(instance_id, env, item),
                      {"checkpoint_id": item.id, "length": int(item.length)})
    if not act.commit(note, lambda tx: tx.delete(item, condition=Checkpoint.id.exists())):
        raise AppError("CHECKPOINT_NOT_FOUND")
    if item.s3_key:
        store.delete_state(item.s3_key)
    return {"deleted": True, "checkpoint": describe(item)}, note
