"""Every DynamoDB table, declared once. Nothing outside store/ names a table."""
from __future__ import annotations

from pynamodb.attributes import (JSONAttribute, ListAttribute,
                                 NumberAttribute, UnicodeAttribute)
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
    trust_tier = UnicodeAttribute(default="new")


class Instance(BaseModel):
    Meta = table_meta("instances")
    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    plan = UnicodeAttribute()
    tier = UnicodeAttribute()
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()


class KeyIdIndex(GlobalSecondaryIndex):
    Meta = _index("by_id")
    id = UnicodeAttribute(hash_key=True)


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
    by_id = KeyIdIndex()
    by_pending_revocation = KeyRevocationIndex()
    by_instance = KeyInstanceIndex()


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


TABLES = [Operator, Session, Challenge, Device, Instance, ApiKey, AuditEntry, ErrorRecord, MetaItem]
