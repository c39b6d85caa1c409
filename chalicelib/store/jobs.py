"""Long jobs: requested in a request, run by the queue consumer in slices, resumed after
a crash. What each kind of job does lives in its feature (a `run(job)` function that
chalicelib.features lists by kind); this module is how every kind is kept.

Lifecycle
- `start` stores the job "pending" with its audit entry in one transaction and puts
  `{"task": "job", "scope", "id"}` on the work queue: the consumer starts it within
  seconds, and the answer is 202 `{"job_id", "status_url"}` at once.
- A slice claims the job with a conditional update (status pending or running, no live
  lease) that sets a lease (`lease_owner`, `lease_until`, LEASE_SECONDS ahead); a second
  copy of the message finds the lease held and does nothing.
- The kind's function does work until `job.time_left()` runs low, saving its `cursor`
  and `progress` as it goes (each save extends the lease, conditionally on still owning
  it), and returns "more" or its result. On "more" the lease is released and a message
  for the next slice is sent, so no job depends on one invocation finishing.
- An AppError ends the job "failed" with its message. Any other exception releases the
  lease and is raised again: the message comes back after the visibility timeout and the
  slice runs again from the last saved cursor (after MAX_CRASHES the job fails).
- The sweeper (a scheduled job, every minute) re-sends the message of every open job
  whose lease has expired or that never started within SWEEP_AFTER seconds, so a lost
  message or a killed consumer delays a job, never loses it."""
from __future__ import annotations

import secrets
import time

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.store.conditions import update_if
from chalicelib.store.keys import scope_key
from chalicelib.store.tables import Job

SLICE_SECONDS = 600.0        # work per invocation; the consumer's timeout is 900 s
LEASE_SECONDS = 120          # a slice that saves nothing for this long is taken for dead
SAVE_EVERY_SECONDS = 2.0     # progress written at most this often
SWEEP_AFTER = 30             # a pending job not started after this long is re-sent
MAX_CRASHES = 3
OPEN = "open"

_monotonic = time.monotonic


class LeaseLost(Exception):
    """Another slice holds the job now: stop without writing anything more."""


def new_id() -> str:
    return f"job_{int(clock.now() * 1000):013d}{secrets.token_hex(6)}"


def status_url(instance_id: str, env: str, job_id: str) -> str:
    return f"/api/instances/{instance_id}/ops/{env}/jobs/{job_id}"


def progress_view(progress: dict | None, started_at: float | None,
                  until: float | None) -> dict:
    """A job's progress as status routes show it: done of total, bytes, percent, and the
    rate since it started (`until`: when it ended, or its last update)."""
    progress = dict(progress or {})
    done, total = progress.get("done", 0), progress.get("total")
    elapsed = (until or clock.now()) - started_at if started_at else None
    return {"done": int(done), "total": None if total is None else int(total),
            "bytes": int(progress.get("bytes", 0)),
            "percent": round(100.0 * done / total, 1) if total else None,
            "rate_per_second": (round(done / elapsed, 1) if elapsed and elapsed > 0
                                else None)}


def describe(job: Job) -> dict:
    return {"id": job.id, "kind": job.kind, "instance_id": job.instance_id,
            "environment": job.environment, "status": job.status,
            "requested_at": clock.iso(job.requested_at), "requested_by": job.requested_by,
            "started_at": clock.iso(job.started_at), "updated_at": clock.iso(job.updated_at),
            "completed_at": clock.iso(job.completed_at),
            "params": job.params or {},
            "progress": progress_view(job.progress, job.started_at,
                                      job.completed_at or job.updated_at),
            "result": job.result, "error": job.error,
            "status_url": status_url(job.instance_id, job.environment, job.id)}


def accepted(job: Job) -> dict:
    """The 202 answer of a route that started a job."""
    return {"job_id": job.id, "status_url": status_url(job.instance_id, job.environment,
                                                       job.id), "job": describe(job)}


def new(instance_id: str, env: str, kind: str, params: dict, requested_by: str,
        total: int | None = None) -> Job:
    now = clock.now()
    return Job(scope_key(instance_id, env), new_id(), kind=kind, instance_id=instance_id,
               environment=env, status="pending", params=params, requested_at=now,
               requested_by=requested_by, updated_at=now, work_state=OPEN,
               progress={"done": 0, "total": total, "bytes": 0})


def start(act, job: Job, note) -> dict:
    """Store the job with the act's audit entry (`note`) in one transaction, then queue
    it; the 202 answer."""
    act.commit(note, lambda tx: tx.save(job, condition=Job.id.does_not_exist()))
    enqueue(job)
    return accepted(job)


def enqueue(job: Job, delay_seconds: int = 0) -> None:
    """Hand the job to the consumer. If the queue cannot be reached the job stays
    pending and the sweeper sends it later."""
    from chalicelib.store import queues
    queues.offer("work", {"task": "job", "scope": job.scope, "id": job.id}, delay_seconds)


def get(instance_id: str, env: str, job_id: str) -> Job:
    try:
        return Job.get(scope_key(instance_id, env), job_id, consistent_read=True)
    except Job.DoesNotExist:
        raise AppError("JOB_NOT_FOUND")


def page(instance_id: str, env: str, kind: str | None, status: str | None, limit: int,
         cursor: str | None) -> tuple[list[Job], str | None]:
    """Newest first; `cursor` is the id of the last job of the previous page."""
    from chalicelib.core.errors import invalid
    condition = None
    if cursor is not None:
        if not cursor.startswith("job_") or len(cursor) > 40:
            raise invalid("cursor", "is not a cursor this listing gave out")
        condition = Job.id < cursor
    filters = None
    if kind is not None:
        filters = Job.kind == kind
    if status is not None:
        filters = (Job.status == status) if filters is None else filters & (Job.status == status)
    out: list[Job] = []
    for job in Job.query(scope_key(instance_id, env), range_key_condition=condition,
                         filter_condition=filters, scan_index_forward=False,
                         consistent_read=True):
        out.append(job)
        if len(out) > limit:
            break
    more = len(out) > limit
    out = out[:limit]
    return out, (out[-1].id if more and out else None)


# --- running ----------------------------------------------------------------------------

class Run:
    """A claimed slice of a job, as the kind's function sees it."""

    def __init__(self, job: Job, owner: str, slice_seconds: float):
        self.job = job
        self.owner = owner
        self.params: dict = job.params or {}
        self.cursor: dict = dict(job.cursor or {})
        self.progress_now: dict = dict(job.progress or {"done": 0, "total": None, "bytes": 0})
        self._deadline = _monotonic() + slice_seconds
        self._saved_at = _monotonic()

    def time_left(self) -> float:
        return self._deadline - _monotonic()

    def progress(self, done: int | None = None, total: int | None = None,
                 bytes_done: int | None = None, *, save: bool = False) -> None:
        if done is not None:
            self.progress_now["done"] = int(done)
        if total is not None:
            self.progress_now["total"] = int(total)
        if bytes_done is not None:
            self.progress_now["bytes"] = int(bytes_done)
        if save or _monotonic() - self._saved_at >= SAVE_EVERY_SECONDS:
            self.save()

    def save(self) -> None:
        """Write cursor and progress, extending the lease; LeaseLost if it is gone."""
        now = clock.now()
        if not update_if(self.job, [Job.cursor.set(self.cursor),
                                    Job.progress.set(self.progress_now),
                                    Job.updated_at.set(now),
                                    Job.lease_until.set(now + LEASE_SECONDS)],
                         Job.lease_owner == self.owner):
            raise LeaseLost(self.job.id)
        self._saved_at = _monotonic()


def claim(job: Job, now: float) -> str | None:
    """Take the job's lease (conditional update); the owner token, or None when the job
    is finished or another slice holds it."""
    owner = secrets.token_hex(8)
    free = Job.lease_until.does_not_exist() | (Job.lease_until < now)
    actions = [Job.status.set("running"), Job.lease_owner.set(owner),
               Job.lease_until.set(now + LEASE_SECONDS), Job.slices.add(1),
               Job.updated_at.set(now)]
    if job.started_at is None:
        actions.append(Job.started_at.set(now))
    if not update_if(job, actions, Job.status.is_in("pending", "running") & free):
        return None
    return owner


def _finish(job: Job, owner: str, status: str, *, result=None, error: str | None = None,
            progress: dict | None = None) -> bool:
    now = clock.now()
    actions = [Job.status.set(status), Job.completed_at.set(now), Job.updated_at.set(now),
               Job.work_state.remove(), Job.lease_owner.remove(), Job.lease_until.remove()]
    if result is not None:
        actions.append(Job.result.set(result))
    if error is not None:
        actions.append(Job.error.set(error[:2000]))
    if progress is not None:
        actions.append(Job.progress.set(progress))
    return update_if(job, actions, Job.lease_owner == owner)


def _release(job: Job, owner: str, run: Run | None) -> None:
    actions = [Job.lease_until.remove(), Job.lease_owner.remove(),
               Job.updated_at.set(clock.now())]
    if run is not None:
        actions += [Job.cursor.set(run.cursor), Job.progress.set(run.progress_now)]
    update_if(job, actions, Job.lease_owner == owner)


def run_slice(scope: str, job_id: str, kinds: dict, slice_seconds: float | None = None) -> str:
    """Run one slice of the job: "completed", "failed", "more", or "skipped" (finished
    already, or held by another slice)."""
    from chalicelib.core.observability import logger
    try:
        job = Job.get(scope, job_id, consistent_read=True)
    except Job.DoesNotExist:
        return "skipped"
    if job.status not in ("pending", "running"):
        return "skipped"
    owner = claim(job, clock.now())
    if owner is None:
        return "skipped"
    job.refresh(consistent_read=True)
    run = Run(job, owner, SLICE_SECONDS if slice_seconds is None else slice_seconds)
    handler = kinds.get(job.kind)
    try:
        if handler is None:
            raise AppError("JOB_FAILED", f"no handler for jobs of kind '{job.kind}'")
        outcome = handler(run)
    except LeaseLost:
        return "skipped"
    except AppError as exc:   # its `extra` (e.g. the lines refused) becomes the result
        _finish(job, owner, "failed", error=exc.message, progress=run.progress_now,
                result=exc.extra or None)
        return "failed"
    except Exception as exc:
        logger.exception("job slice crashed", extra={"job_id": job.id, "kind": job.kind})
        job.refresh(consistent_read=True)
        if int(job.crashes or 0) + 1 >= MAX_CRASHES:
            _finish(job, owner, "failed", progress=run.progress_now,
                    error=f"stopped after {MAX_CRASHES} crashes; last: "
                          f"{type(exc).__name__}: {exc}")
            return "failed"
        update_if(job, [Job.crashes.add(1)], Job.lease_owner == owner)
        _release(job, owner, None)     # resume from the last cursor it saved
        raise
    if outcome == "more":
        _release(job, owner, run)
        enqueue(job)
        return "more"
    _finish(job, owner, "completed", result=outcome if isinstance(outcome, dict) else None,
            progress=run.progress_now)
    return "completed"


def sweep(now: float | None = None) -> dict:
    """Re-send the message of open jobs that should be running and are not; count the
    slices that died holding a lease."""
    now = clock.now() if now is None else now
    out = {"resent": 0, "crashed": 0}
    for job in Job.by_work_state.query(OPEN, Job.requested_at <= now):
        if job.status not in ("pending", "running"):
            continue
        leased = job.lease_until is not None
        if leased and job.lease_until >= now:
            continue           # a slice is at work
        if not leased and (job.updated_at or job.requested_at) > now - SWEEP_AFTER:
            continue           # just requested or just released: its message is on its way
        if leased:   # the slice died without releasing: count it, then free the job
            if not update_if(job, [Job.crashes.add(1), Job.lease_until.remove(),
                                   Job.lease_owner.remove(), Job.updated_at.set(now)],
                             Job.lease_until == job.lease_until):
                continue
            out["crashed"] += 1
            job.refresh(consistent_read=True)
            if int(job.crashes or 0) >= MAX_CRASHES:
                update_if(job, [Job.status.set("failed"), Job.completed_at.set(now),
                                Job.work_state.remove(),
                                Job.error.set(f"stopped after {MAX_CRASHES} crashes")],
                          Job.lease_owner.does_not_exist())
                continue
        else:
            update_if(job, [Job.updated_at.set(now)], Job.lease_owner.does_not_exist())
        enqueue(job)
        out["resent"] += 1
    return out
