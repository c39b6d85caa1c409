"""Tables of tombstones (GDPR erasure): each request with its progress, and one lock per
aggregate so that an aggregate has at most one live tombstone."""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, index_meta, table_meta


class TombstoneWorkIndex(GlobalSecondaryIndex):
    """Sparse: only tombstones with work ahead carry `work` ("pending": due at
    executable_at; "executing": due again when its lease runs out), so the scheduled job
    finds what is due with a Query, never a scan."""
    Meta = index_meta("by_work")
    work = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class Tombstone(BaseModel):
    """One erasure request of an instance environment; ids sort by request time."""
    Meta = table_meta("tombstones")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)         # "ts_<ms, 13 digits><12 hex>"
    instance_id = UnicodeAttribute()
    environment = UnicodeAttribute()
    aggregate_type = UnicodeAttribute()
    aggregate_id = UnicodeAttribute()
    status = UnicodeAttribute()                   # pending|executing|executed|cancelled|failed
    reason = UnicodeAttribute()
    legal_basis = UnicodeAttribute()
    requested_by = UnicodeAttribute()             # as the request names it
    requested_actor = UnicodeAttribute()          # who sent the request (admin, node)
    requested_at = NumberAttribute()
    grace_period_hours = NumberAttribute()
    executable_at = NumberAttribute()
    preview = JSONAttribute(null=True)            # the cascade as seen at request time
    cancelled_at = NumberAttribute(null=True)
    cancelled_by = UnicodeAttribute(null=True)
    started_at = NumberAttribute(null=True)
    started_by = UnicodeAttribute(null=True)      # the admin, node or system:scheduler
    executed_at = NumberAttribute(null=True)
    plan = JSONAttribute(null=True)               # [[type, id], ...]: what is erased
    cursor = JSONAttribute(null=True)             # where the next slice resumes
    counts = JSONAttribute(null=True)             # streams/events erased, copies rewritten
    error = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    crashes = NumberAttribute(default=0)
    work = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    by_work = TombstoneWorkIndex()


class TombstoneLock(BaseModel):
    """The live tombstone of one aggregate (pending, executing or executed): written with
    the request in one transaction (condition: none yet), removed when it is cancelled."""
    Meta = table_meta("tombstone_locks")
    stream = UnicodeAttribute(hash_key=True)      # "<instance>#<env>#<type>#<id>"
    tombstone_id = UnicodeAttribute()
