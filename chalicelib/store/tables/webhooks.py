"""Tables of listener deliveries: each delivery of an event to a listener with its
attempts, and the sealed signing secrets of listeners."""
from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, index_meta, table_meta


class DeliveryDueIndex(GlobalSecondaryIndex):
    """Sparse: a pending delivery carries due_kind "pending#<shard>" with due_at its next
    attempt (the sweeper finds those whose message was lost); an ended one (delivered,
    failed, cancelled) "ended#<shard>" with due_at when cleanup deletes it."""
    Meta = index_meta("by_due")
    due_kind = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class Delivery(BaseModel):
    """One event for one listener. Ids sort by creation time (a Query with
    scan_index_forward=False lists the newest first). The event is referenced (stream,
    position), never copied: it is read when an attempt is sent."""
    Meta = table_meta("deliveries")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)         # "dl_<ms, 13 digits><12 hex>"
    instance_id = UnicodeAttribute()
    environment = UnicodeAttribute()
    listener = UnicodeAttribute()
    stream = UnicodeAttribute()                   # the event's stream key
    position = NumberAttribute()
    aggregate_type = UnicodeAttribute()
    aggregate_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    event_at = NumberAttribute()                  # the event's timestamp (unix s, ms)
    status = UnicodeAttribute()                   # pending | delivered | failed | cancelled
    attempts = JSONAttribute(default=list)        # [{at, status_code, duration_ms, error, round}]
    attempt_count = NumberAttribute(default=0)    # attempts made, every round
    round = NumberAttribute(default=1)            # 1, then one more per operator retry
    round_start = NumberAttribute(default=0)      # attempt_count when the round began
    next_attempt_at = NumberAttribute(null=True)  # while pending
    claim = NumberAttribute(null=True)            # the attempt being sent now
    claim_until = NumberAttribute(null=True)      # ...by a sender alive until then
    created_at = NumberAttribute()
    delivered_at = NumberAttribute(null=True)
    ended_at = NumberAttribute(null=True)         # delivered, failed or cancelled
    error = UnicodeAttribute(null=True)           # why it failed or was cancelled
    due_kind = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    by_due = DeliveryDueIndex()


class ListenerSecret(BaseModel):
    """A listener's signing secret, sealed with AES-256-GCM under the key kept in Secrets
    Manager (chalicelib/store/listener_secrets.py). Per instance, so a spec copied to
    another environment of the instance still finds it; written once, never changed."""
    Meta = table_meta("listener_secrets")
    instance_id = UnicodeAttribute(hash_key=True)
    ref = UnicodeAttribute(range_key=True)        # "lsk_<ms, 13 digits><12 hex>"
    listener = UnicodeAttribute()                 # the listener it was given for
    environment = UnicodeAttribute()              # ...in this environment's deploy
    nonce = UnicodeAttribute()                    # base64, 12 bytes
    sealed = UnicodeAttribute()                   # base64 ciphertext + tag
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
