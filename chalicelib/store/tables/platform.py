"""Tables of the event platform: instances, API keys, specs, event streams with their
heads, Merkle tiles and counters, idempotency records, backups and their settings,
checkpoints, root checkpoints and their settings."""
from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

from chalicelib.store.base import BaseModel, index_meta, table_meta


class Instance(BaseModel):
    Meta = table_meta("instances")
    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    plan = UnicodeAttribute()
    tier = UnicodeAttribute()
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()


class KeyInstanceIndex(GlobalSecondaryIndex):
    Meta = index_meta("by_instance")
    instance_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class KeyRevocationIndex(GlobalSecondaryIndex):
    """Sparse: only keys with a revocation still to apply carry `revoke_pending`."""
    Meta = index_meta("by_pending_revocation")
    revoke_pending = UnicodeAttribute(hash_key=True)
    revoke_at = NumberAttribute(range_key=True)


class ApiKey(BaseModel):
    """Keyed by the SHA-256 of the key text, so verifying a key is one GetItem."""
    Meta = table_meta("api_keys")
    key_hash = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute()
    instance_id = UnicodeAttribute()
    name = UnicodeAttribute()
    prefix = UnicodeAttribute()
    scope = UnicodeAttribute()
    environment = UnicodeAttribute()
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
    revoke_at = NumberAttribute(null=True)
    revoked_at = NumberAttribute(null=True)
    last_used_at = NumberAttribute(null=True)
    rotated_from = UnicodeAttribute(null=True)
    revoke_pending = UnicodeAttribute(null=True)
    by_pending_revocation = KeyRevocationIndex()
    by_instance = KeyInstanceIndex()


class ApiKeyId(BaseModel):
    """Key id -> key hash, written with the key in one transaction: finding a key by id
    is then a consistent read (a GSI on the key table would lag behind its writes)."""
    Meta = table_meta("api_key_ids")
    id = UnicodeAttribute(hash_key=True)
    key_hash = UnicodeAttribute()


class SpecVersion(BaseModel):
    """A deployed spec of one instance environment; the highest version is current."""
    Meta = table_meta("specs")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    version = NumberAttribute(range_key=True)
    spec = JSONAttribute()
    deployed_at = NumberAttribute()
    deployed_by = UnicodeAttribute()
    forced = UnicodeAttribute(null=True)


class TypeIndex(GlobalSecondaryIndex):
    Meta = index_meta("by_scope_type")
    scope_type = UnicodeAttribute(hash_key=True)  # "<instance>#<env>#<type>"
    stream = UnicodeAttribute(range_key=True)


class StreamHead(BaseModel):
    """One aggregate's stream: its length, folded state, hash-chain head and Merkle
    frontier (the roots of the right edge's complete subtrees), so that an append needs
    no read beyond this item and a state read is one GetItem."""
    Meta = table_meta("streams")
    stream = UnicodeAttribute(hash_key=True)      # "<instance>#<env>#<type>#<id>"
    scope_type = UnicodeAttribute()               # "<instance>#<env>#<type>"
    length = NumberAttribute()
    state = JSONAttribute(null=True, default=dict)  # absent while in a StateSnapshot
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    chain_head = UnicodeAttribute(null=True)      # hex of the last chain hash
    frontier = JSONAttribute(default=list)        # [[level, hex], ...] left to right
    # times a checkpoint restore replaced `state` (absent: never); a write of the head is
    # conditional on it as on `length`, so a copy of the head cached before a restore
    # cannot put the old state back
    restores = NumberAttribute(null=True)
    # a data load writing this stream's events holds it until load_until (unix s);
    # appends wait for it (chalicelib/platform/imports/loader.py)
    load_lock = UnicodeAttribute(null=True)
    load_until = NumberAttribute(null=True)
    # a state too large to ride in the head lives in StateSnapshot (stream, this length)
    # plus the events after it; `state` is then absent (store/streams.py)
    snapshot_length = NumberAttribute(null=True)
    # a tombstone erasing this stream: {"status": "executing"|"executed", "tombstone_id",
    # "tombstoned_at"}; appends (and checkpoint restores) are refused while it is set
    tombstoned = JSONAttribute(null=True)
    by_scope_type = TypeIndex()


class StateSnapshot(BaseModel):
    """The folded state of a stream whose state is too large for its head, at a length:
    written by an append every so many events (store/streams.py), so that an append's
    write cost does not grow with the state. Superseded ones are kept: one per at least
    state-size-in-KB events, so they store at most about 1 KB per event."""
    Meta = table_meta("state_snapshots")
    stream = UnicodeAttribute(hash_key=True)
    length = NumberAttribute(range_key=True)
    state = JSONAttribute()


class StoredEvent(BaseModel):
    Meta = table_meta("events")
    stream = UnicodeAttribute(hash_key=True)
    position = NumberAttribute(range_key=True)    # 0-based
    event_type = UnicodeAttribute()
    data = JSONAttribute(null=True)
    metadata = JSONAttribute(null=True)
    created_at = NumberAttribute()                # unix seconds, float (ms precision)
    content_hash = UnicodeAttribute()
    chain_hash = UnicodeAttribute()
    tombstoned = JSONAttribute(null=True)         # {"_was_tombstoned": ..., ...} after erasure


class MerkleTile(BaseModel):
    """Go checksum-database style tiles: tile level t holds, in order, the hashes of the
    tree's level (TILE_HEIGHT * t) nodes, TILE_WIDTH to a tile; higher levels inside a
    tile are hashed on demand (domain/merkle/tiles.py)."""
    Meta = table_meta("merkle_tiles")
    stream = UnicodeAttribute(hash_key=True)
    tile = UnicodeAttribute(range_key=True)       # "<tile level>/<tile index>"
    hashes = ListAttribute(of=UnicodeAttribute, default=list)


class IdempotencyRecord(BaseModel):
    """The first answer to an X-Idempotency-Key, written in the same transaction as the
    write it answers, so a retry can never write twice."""
    Meta = table_meta("idempotency")
    key = UnicodeAttribute(hash_key=True)         # "<instance>#<env>#<client key>"
    status = NumberAttribute()
    body = JSONAttribute()
    request_hash = UnicodeAttribute()
    created_at = NumberAttribute()
    ttl = NumberAttribute(null=True)


class StreamTypeCounter(BaseModel):
    """Events stored per (instance env, aggregate type, event type): what a spec deploy
    may not orphan."""
    Meta = table_meta("event_type_counts")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    type_key = UnicodeAttribute(range_key=True)   # "<aggregate type>.<event type>"
    count = NumberAttribute(default=0)


class BackupWorkIndex(GlobalSecondaryIndex):
    """Sparse: only backups still to run ("pending") or running carry `work_state`, so the
    job finds its work with a Query."""
    Meta = index_meta("by_work_state")
    work_state = UnicodeAttribute(hash_key=True)
    requested_at = NumberAttribute(range_key=True)


class Backup(BaseModel):
    """One backup of an instance environment; ids sort by request time, so the newest
    come first from a Query with scan_index_forward=False."""
    Meta = table_meta("backups")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)         # "bk_<ms, 13 digits><hex>"
    instance_id = UnicodeAttribute()
    environment = UnicodeAttribute()
    status = UnicodeAttribute()                   # pending | running | completed | failed
    requested_at = NumberAttribute()
    requested_by = UnicodeAttribute()
    started_at = NumberAttribute(null=True)
    completed_at = NumberAttribute(null=True)
    events = NumberAttribute(null=True)
    size = NumberAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    s3_key = UnicodeAttribute()
    offsite_status = UnicodeAttribute(null=True)  # null | completed | failed
    error = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    progress = JSONAttribute(null=True)           # {"done", "bytes"} while it runs
    work_state = UnicodeAttribute(null=True)      # "pending" | "running" while unfinished
    by_work_state = BackupWorkIndex()


class BackupDueIndex(GlobalSecondaryIndex):
    """Sparse: only enabled settings carry `auto`, so finding due backups is a Query."""
    Meta = index_meta("by_due")
    auto = UnicodeAttribute(hash_key=True)
    next_due = NumberAttribute(range_key=True)


class BackupSetting(BaseModel):
    """An instance's backup settings; absent means the defaults."""
    Meta = table_meta("backup_settings")
    instance_id = UnicodeAttribute(hash_key=True)
    enabled = UnicodeAttribute(default="false")   # "true" | "false"
    interval_hours = NumberAttribute(default=24)
    retain = NumberAttribute(default=7)
    offsite = JSONAttribute(null=True)            # {"bucket", "prefix"} or null
    updated_at = NumberAttribute(null=True)
    auto = UnicodeAttribute(null=True)            # "true" while enabled
    next_due = NumberAttribute(null=True)         # when the next automatic backup is due
    by_due = BackupDueIndex()


class CheckpointStreamIndex(GlobalSecondaryIndex):
    """A stream's checkpoints by length: what a read of a past state looks for (only
    what the choice needs is projected; the state is read from the table)."""
    class Meta:
        index_name = "by_stream"
        projection = IncludeProjection(["handlers", "max_event_at"])
    stream = UnicodeAttribute(hash_key=True)
    length = NumberAttribute(range_key=True)


class Checkpoint(BaseModel):
    """One aggregate's folded state at a stream length, under the spec version (and its
    handlers' fingerprint) that folded it. The state is here while small (`state`), else
    in S3 (`s3_key`), checked by `state_sha256` either way."""
    Meta = table_meta("checkpoints")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)         # "cp_<ms, 13 digits><hex>"
    stream = UnicodeAttribute()                   # "<instance>#<env>#<type>#<id>"
    aggregate_type = UnicodeAttribute()
    aggregate_id = UnicodeAttribute()
    length = NumberAttribute()                    # events folded: positions [0, length)
    spec_version = NumberAttribute()
    handlers = UnicodeAttribute()                 # SHA-256 hex of the type's handlers
    merkle_root = UnicodeAttribute()              # hex, RFC 6962 root at `length`
    chain_hash = UnicodeAttribute()               # hex, chain hash of event length - 1
    frontier = JSONAttribute(null=True)           # [[level, hex], ...] of the tree at length
    first_event_at = NumberAttribute()
    last_event_at = NumberAttribute()
    max_event_at = NumberAttribute()              # latest created_at among the events
    state = JSONAttribute(null=True)
    s3_key = UnicodeAttribute(null=True)
    state_size = NumberAttribute()                # bytes of the canonical JSON
    state_sha256 = UnicodeAttribute()
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
    by_stream = CheckpointStreamIndex()


class RootCheckpoint(BaseModel):
    """Every aggregate of one type at once: a gzip JSON Lines file in S3 and its manifest.
    Ids sort by creation time, so the newest come first from a descending Query."""
    Meta = table_meta("root_checkpoints")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)         # "rc_<ms, 13 digits><hex>"
    aggregate_type = UnicodeAttribute()
    status = UnicodeAttribute()                   # pending | running | completed | failed
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
    job_id = UnicodeAttribute(null=True)          # the long job writing it
    updated_at = NumberAttribute(null=True)       # its last progress
    cut_at = NumberAttribute()                    # events written up to this time
    spec_version = NumberAttribute()
    s3_key = UnicodeAttribute()
    manifest_key = UnicodeAttribute()
    completed_at = NumberAttribute(null=True)
    aggregates = NumberAttribute(default=0)       # aggregates written (so far)
    size = NumberAttribute(default=0)             # bytes of the gzip file (so far)
    sha256 = UnicodeAttribute(null=True)          # of the gzip file
    error = UnicodeAttribute(null=True)


class RootCheckpointDueIndex(GlobalSecondaryIndex):
    """Sparse: only enabled settings carry `auto`, so finding due work is a Query."""
    Meta = index_meta("by_due")
    auto = UnicodeAttribute(hash_key=True)
    next_due = NumberAttribute(range_key=True)


class RootCheckpointSetting(BaseModel):
    """An instance environment's automatic root checkpoints; absent means the defaults."""
    Meta = table_meta("root_checkpoint_settings")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    instance_id = UnicodeAttribute()
    environment = UnicodeAttribute()
    enabled = UnicodeAttribute(default="false")   # "true" | "false"
    interval_hours = NumberAttribute(default=24)
    aggregate_types = ListAttribute(of=UnicodeAttribute, default=list)  # [] = every type
    retain = NumberAttribute(default=7)
    updated_at = NumberAttribute(null=True)
    auto = UnicodeAttribute(null=True)            # "true" while enabled
    next_due = NumberAttribute(null=True)
    by_due = RootCheckpointDueIndex()
