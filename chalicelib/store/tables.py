"""Every DynamoDB table, declared once. Nothing outside store/ names a table."""
from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, table_meta


def _index(name: str):
    class Meta:
        index_name = name
        projection = AllProjection()
    return Meta


class Operator(BaseModel):
    Meta = table_meta("operators")
    email = UnicodeAttribute(hash_key=True)
    password_hash = UnicodeAttribute()
    permissions = ListAttribute(of=UnicodeAttribute)
    created_at = NumberAttribute()


class Session(BaseModel):
    """A login session; every token carries its `sid`, so logout revokes them all."""
    Meta = table_meta("sessions")
    sid = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute()
    kind = UnicodeAttribute()  # "operator" or "device"
    created_at = NumberAttribute()
    expires_at = NumberAttribute()  # absolute end: refresh cannot pass it
    revoked_at = NumberAttribute(null=True)
    ttl = NumberAttribute(null=True)


class Challenge(BaseModel):
    Meta = table_meta("challenges")
    challenge = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute()
    ttl = NumberAttribute(null=True)


class Device(BaseModel):
    """The chat server's device registry: one record per Ed25519 device key."""
    Meta = table_meta("devices")
    device_address = UnicodeAttribute(hash_key=True)
    public_key = UnicodeAttribute()
    first_seen = NumberAttribute()
    trust_tier = UnicodeAttribute(default="new")  # stored tier at registration; see moderation
    last_seen = NumberAttribute(null=True)
    verified_at = NumberAttribute(null=True)
    verified_by = UnicodeAttribute(null=True)
    blocked_at = NumberAttribute(null=True)
    block_reason = UnicodeAttribute(null=True)
    spam_reports = NumberAttribute(default=0)
    custom_rate_limit = NumberAttribute(null=True)
    custom_rate_limit_expires_at = NumberAttribute(null=True)
    custom_rate_limit_reason = UnicodeAttribute(null=True)


class Instance(BaseModel):
    Meta = table_meta("instances")
    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    plan = UnicodeAttribute()
    tier = UnicodeAttribute()
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()


class KeyInstanceIndex(GlobalSecondaryIndex):
    Meta = _index("by_instance")
    instance_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class KeyRevocationIndex(GlobalSecondaryIndex):
    """Sparse: only keys with a revocation still to apply carry `revoke_pending`."""
    Meta = _index("by_pending_revocation")
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


class AuditActionIndex(GlobalSecondaryIndex):
    Meta = _index("by_action")
    action = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)


class AuditAdminIndex(GlobalSecondaryIndex):
    Meta = _index("by_admin")
    admin = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)


class AuditTargetIndex(GlobalSecondaryIndex):
    Meta = _index("by_target")
    target = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)


class AuditEntry(BaseModel):
    """One admin act. Partitioned by month, sorted by time; one index per filter,
    so a query by time range, action, admin or target never scans."""
    Meta = table_meta("audit")
    month = UnicodeAttribute(hash_key=True)       # "2026-11"
    sort_key = UnicodeAttribute(range_key=True)   # "<10-digit ts>#<id>"
    id = UnicodeAttribute()
    timestamp = NumberAttribute()
    action = UnicodeAttribute()
    admin = UnicodeAttribute()
    target = UnicodeAttribute()
    details = JSONAttribute(default=dict)
    ip_address = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    by_action = AuditActionIndex()
    by_admin = AuditAdminIndex()
    by_target = AuditTargetIndex()


class ErrorRecord(BaseModel):
    """A 5xx the client saw only by id; resolved by the error-lookup route."""
    Meta = table_meta("errors")
    error_id = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute()
    route = UnicodeAttribute()
    method = UnicodeAttribute()
    instance_id = UnicodeAttribute(null=True)
    environment = UnicodeAttribute(null=True)
    error_type = UnicodeAttribute()
    message = UnicodeAttribute()
    stack_trace = UnicodeAttribute()
    context = JSONAttribute(default=dict)
    ttl = NumberAttribute(null=True)


class MetaItem(BaseModel):
    """Small singleton records (bootstrap time, ...)."""
    Meta = table_meta("meta")
    key = UnicodeAttribute(hash_key=True)
    value = JSONAttribute(default=dict)
    version = NumberAttribute(default=0)


class PeerBlockIndex(GlobalSecondaryIndex):
    """Sparse: only peers with a block carry `block_state`, so listing blocks is a Query."""
    Meta = _index("by_block")
    block_state = UnicodeAttribute(hash_key=True)
    blocked_at = NumberAttribute(range_key=True)


class FederationPeer(BaseModel):
    """A server this chat server federates with, registered by the chat server."""
    Meta = table_meta("federation_peers")
    domain = UnicodeAttribute(hash_key=True)
    first_seen = NumberAttribute()
    last_seen = NumberAttribute(null=True)
    blocked_at = NumberAttribute(null=True)
    blocked_by = UnicodeAttribute(null=True)
    block_reason = UnicodeAttribute(null=True)
    block_expires_at = NumberAttribute(null=True)
    auto_blocked = UnicodeAttribute(null=True)  # "true" when blocked by a threshold rule
    block_state = UnicodeAttribute(null=True)   # "blocked" while a block is recorded
    by_block = PeerBlockIndex()


class Counter(BaseModel):
    """Numbers kept up to date as records change, so reads never scan: e.g.
    ("devices", 0) totals, ("devices_registered", <hour start>) per-hour buckets."""
    Meta = table_meta("counters")
    name = UnicodeAttribute(hash_key=True)
    bucket = NumberAttribute(range_key=True)
    value = NumberAttribute(default=0)
    fields = JSONAttribute(null=True)


class MetricBucket(BaseModel):
    """Pushed samples aggregated per time bucket: key "<metric>#<resolution>"
    (5m raw buckets, 1h and 1d roll-ups), sort key the bucket's start."""
    Meta = table_meta("metrics")
    series = UnicodeAttribute(hash_key=True)
    start = NumberAttribute(range_key=True)
    kind = UnicodeAttribute()            # counter | gauge | summary
    total = NumberAttribute(default=0)   # counters: sum; summaries: sum of values
    count = NumberAttribute(default=0)
    min = NumberAttribute(null=True)
    max = NumberAttribute(null=True)
    last = NumberAttribute(null=True)    # gauges: latest value
    last_ts = NumberAttribute(null=True)
    ttl = NumberAttribute(null=True)


class RateCounter(BaseModel):
    """Per-admin hourly request counts for seed 004's admin rate limits."""
    Meta = table_meta("rate_counters")
    key = UnicodeAttribute(hash_key=True)  # "<limit>#<admin>#<hour start>"
    count = NumberAttribute(default=0)
    ttl = NumberAttribute(null=True)


class Alert(BaseModel):
    """One row per alert rule while it fires; cleared rows stay for history."""
    Meta = table_meta("alerts")
    id = UnicodeAttribute(hash_key=True)
    severity = UnicodeAttribute()
    component = UnicodeAttribute()
    message = UnicodeAttribute()
    started_at = NumberAttribute()
    details = JSONAttribute(default=dict)
    active = UnicodeAttribute(null=True)  # "true" while firing
    cleared_at = NumberAttribute(null=True)
    pending_since = NumberAttribute(null=True)


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
    Meta = _index("by_scope_type")
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
    state = JSONAttribute(default=dict)
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    chain_head = UnicodeAttribute(null=True)      # hex of the last chain hash
    frontier = JSONAttribute(default=list)        # [[level, hex], ...] left to right
    by_scope_type = TypeIndex()


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
    tree's level 8t nodes; higher levels inside a tile are hashed on demand."""
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
    Meta = _index("by_work_state")
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
    work_state = UnicodeAttribute(null=True)      # "pending" | "running" while unfinished
    by_work_state = BackupWorkIndex()


class BackupDueIndex(GlobalSecondaryIndex):
    """Sparse: only enabled settings carry `auto`, so finding due backups is a Query."""
    Meta = _index("by_due")
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


TABLES = [Operator, Session, Challenge, Device, Instance, ApiKey, ApiKeyId, AuditEntry, ErrorRecord, MetaItem,
          FederationPeer, Counter, MetricBucket, RateCounter, Alert, SpecVersion, StreamHead,
          StoredEvent, MerkleTile, IdempotencyRecord, StreamTypeCounter, Backup, BackupSetting]
