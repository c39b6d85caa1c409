"""Tables of sagas: one item per saga instance (its steps' statuses and times), and the
waiters by which an appended event finds the saga step awaiting it.

Neither keeps event data: an instance refers to its trigger event (stream key and
position) and each step to the event that satisfied its await, and reads them when a
step needs their values (a tombstoned event then cancels the saga)."""
from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import (
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
)

from chalicelib.store.base import BaseModel, table_meta


class SagaDueIndex(GlobalSecondaryIndex):
    """Sparse: only unfinished sagas carry `due` ("due") and `due_at` (when the sweeper
    should look at it: the running step's deadline, or a grace period after a message
    was sent), so the sweep is one Query of what is due."""
    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()
    due = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class SagaInstance(BaseModel):
    """One run of a spec's saga, started by one trigger event. Ids sort by creation
    time, so a descending Query lists the newest first. Every change is a write
    conditional on `version` (and adds one to it)."""
    Meta = table_meta("sagas")
    scope = UnicodeAttribute(hash_key=True)        # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)          # "sg_<ms, 13 digits><hex>"
    saga = UnicodeAttribute()                      # the saga's name in the spec
    # running | completed | compensating | compensated | failed | cancelled
    status = UnicodeAttribute()
    trigger_type = UnicodeAttribute()              # aggregate type of the trigger event
    trigger_id = UnicodeAttribute()                # its aggregate id
    trigger_event = UnicodeAttribute()             # its event type
    trigger_position = NumberAttribute()           # its position in that stream
    definition = JSONAttribute()                   # the saga's spec at its start (or retry)
    steps = JSONAttribute()                        # [{name, status, attempts, times...}]
    step = NumberAttribute(default=0)              # the step running (or last one run)
    run = NumberAttribute(default=1)               # 1 + retries from step 0
    version = NumberAttribute(default=1)
    error = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    due = UnicodeAttribute(null=True)              # "due" while unfinished
    due_at = NumberAttribute(null=True)
    by_due = SagaDueIndex()


class SagaArrivalIndex(GlobalSecondaryIndex):
    """Sparse: waiters whose awaited event arrived (`arrival` = "arrived") by arrival
    time: what the sweeper hands on when the message sent at arrival was lost."""
    class Meta:
        index_name = "by_arrival"
        projection = IncludeProjection(["scope", "saga_id"])
    arrival = UnicodeAttribute(hash_key=True)
    arrived_at = NumberAttribute(range_key=True)


class SagaWaiter(BaseModel):
    """A saga step awaiting an event of one aggregate: registered in the same
    transaction as the step's emit; the append of a matching event records its arrival
    (its type and position, never its data) in the append's own transaction."""
    Meta = table_meta("saga_waiters")
    key = UnicodeAttribute(hash_key=True)          # "<instance>#<env>#<type>#<id>"
    waiter = UnicodeAttribute(range_key=True)      # "<saga id>#<run>#<step index>"
    scope = UnicodeAttribute(null=True)
    saga_id = UnicodeAttribute(null=True)
    step = NumberAttribute(null=True)
    event_types = ListAttribute(of=UnicodeAttribute, null=True)
    created_at = NumberAttribute(null=True)
    arrival = UnicodeAttribute(null=True)          # "arrived" once an event matched
    arrived_at = NumberAttribute(null=True)
    arrived_type = UnicodeAttribute(null=True)
    arrived_position = NumberAttribute(null=True)
    by_arrival = SagaArrivalIndex()
