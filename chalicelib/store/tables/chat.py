"""Tables of the chat server's records: devices, federation peers, the counters kept
with them, pushed metric buckets and alerts."""
from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, index_meta, table_meta


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


class PeerBlockIndex(GlobalSecondaryIndex):
    """Sparse: only peers with a block carry `block_state`, so listing blocks is a Query."""
    Meta = index_meta("by_block")
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
