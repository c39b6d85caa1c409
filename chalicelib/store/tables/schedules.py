"""Tables of scheduled events: the events a `schedule` implication set for later, and the
registrations by which a `cancel_on` event finds the schedules it cancels.

Neither keeps a copy of event data: a scheduled event names the event that scheduled it
(stream key and position) and resolves its emit from that event when it comes due."""
from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, index_meta, table_meta


class DueIndex(GlobalSecondaryIndex):
    """Sparse: only a scheduled event still to emit carries `due_key` ("due"), so the
    job reads what is due, never the history."""
    Meta = index_meta("by_due")
    due_key = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class ScheduledEvent(BaseModel):
    """One event to emit later. `status` is pending | emitted | cancelled | failed; a
    `cancel_on` event sets `cancelled_at` without a condition (in its own append's
    transaction), so a pending (or failed) one with `cancelled_at` is cancelled, and the
    emit's claim requires `status == pending` and no `cancelled_at`."""
    Meta = table_meta("scheduled_events")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)         # "se_<ms, 13 digits><12 hex>"
    status = UnicodeAttribute()
    due_at = NumberAttribute()                    # unix seconds (ms precision)
    due_key = UnicodeAttribute(null=True)         # "due" while still to emit (by_due)
    queued_at = NumberAttribute(null=True)        # handed to the timers queue at
    # the event that scheduled it (a reference, never its data)
    source_stream = UnicodeAttribute()            # "<instance>#<env>#<type>#<id>"
    source_position = NumberAttribute()
    source_type = UnicodeAttribute()
    source_id = UnicodeAttribute()
    source_event_type = UnicodeAttribute()
    implication = NumberAttribute()               # index in the event type's implications
    delay_ms = NumberAttribute()
    emit = JSONAttribute()                        # the spec's emit block (templates, no data)
    target_type = UnicodeAttribute()              # emit.aggregate_type
    target_event_type = UnicodeAttribute()        # emit.event_type
    cancel_keys = JSONAttribute(null=True)        # ["<type>#<id>#<event_type>", ...]
    attempts = JSONAttribute(null=True)           # [{"at": unix s, "error": text}, ...]
    attempts_base = NumberAttribute(null=True)    # attempts before the last retry
    created_at = NumberAttribute()
    emitted_at = NumberAttribute(null=True)
    emitted_stream_id = UnicodeAttribute(null=True)
    cancelled_at = NumberAttribute(null=True)
    cancelled_by = UnicodeAttribute(null=True)    # an operator, or "<type>/<id>@<pos>"
    cancel_reason = UnicodeAttribute(null=True)
    retried_at = NumberAttribute(null=True)
    ttl = NumberAttribute(null=True)              # set once emitted or cancelled
    by_due = DueIndex()


class CancelRegistration(BaseModel):
    """A `cancel_on` of one scheduled event: the exact aggregate and event type that
    cancel it. Written with the scheduled event; closed (`closed_at`) when it is emitted
    or cancelled, and removed by TTL after."""
    Meta = table_meta("schedule_cancellations")
    key = UnicodeAttribute(hash_key=True)         # "<instance>#<env>#<type>#<id>#<event>"
    schedule_id = UnicodeAttribute(range_key=True)
    due_at = NumberAttribute()
    closed_at = NumberAttribute(null=True)
    ttl = NumberAttribute(null=True)
