"""Long jobs of instance environments (imports, restores, root checkpoints): what was
asked, how far it got, and who holds it now."""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, index_meta, table_meta


class JobWorkIndex(GlobalSecondaryIndex):
    """Sparse: only unfinished jobs carry `work_state`, so the sweeper finds them with a
    Query, never a scan."""
    Meta = index_meta("by_work_state")
    work_state = UnicodeAttribute(hash_key=True)  # "open" while pending or running
    requested_at = NumberAttribute(range_key=True)


class Job(BaseModel):
    """One job; ids sort by request time, so a Query with scan_index_forward=False lists
    the newest first."""
    Meta = table_meta("jobs")
    scope = UnicodeAttribute(hash_key=True)       # "<instance>#<env>"
    id = UnicodeAttribute(range_key=True)         # "job_<ms, 13 digits><hex>"
    kind = UnicodeAttribute()
    instance_id = UnicodeAttribute()
    environment = UnicodeAttribute()
    status = UnicodeAttribute()                   # pending | running | completed | failed
    params = JSONAttribute(default=dict)
    requested_at = NumberAttribute()
    requested_by = UnicodeAttribute()
    started_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    completed_at = NumberAttribute(null=True)
    cursor = JSONAttribute(null=True)             # where the next slice resumes
    progress = JSONAttribute(null=True)           # {"done", "total", "bytes"}
    result = JSONAttribute(null=True)
    error = UnicodeAttribute(null=True)
    slices = NumberAttribute(default=0)           # slices run (a long job takes several)
    crashes = NumberAttribute(default=0)          # slices that stopped without a word
    lease_owner = UnicodeAttribute(null=True)     # the slice running it now
    lease_until = NumberAttribute(null=True)
    work_state = UnicodeAttribute(null=True)
    by_work_state = JobWorkIndex()
