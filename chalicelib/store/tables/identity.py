"""Tables of identity and the control plane itself: operators, login sessions and
challenges, the audit trail, admin rate counters, 5xx records, and small named items."""
from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, index_meta, table_meta


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


class AuditActionIndex(GlobalSecondaryIndex):
    Meta = index_meta("by_action")
    action = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)


class AuditAdminIndex(GlobalSecondaryIndex):
    Meta = index_meta("by_admin")
    admin = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)


class AuditTargetIndex(GlobalSecondaryIndex):
    Meta = index_meta("by_target")
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


class RateCounter(BaseModel):
    """Per-admin hourly request counts for seed 004's admin rate limits."""
    Meta = table_meta("rate_counters")
    key = UnicodeAttribute(hash_key=True)  # "<limit>#<admin>#<hour start>"
    count = NumberAttribute(default=0)
    ttl = NumberAttribute(null=True)


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
    # item "audit_months" only: the oldest and newest month ("2026-11") holding an audit
    # entry, kept as plain strings so that a conditional write can compare them
    first_month = UnicodeAttribute(null=True)
    last_month = UnicodeAttribute(null=True)
