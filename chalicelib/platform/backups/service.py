"""Seed 000's backups: an instance environment's events as JSON Lines (the export's own
lines, store/event_log.py) in the "backups" bucket at `<instance>/<env>/<backup_id>.jsonl`.

Lifecycle: a request stores a "pending" record and queues it (chalicelib/store/queues.py);
the queue's consumer, or else the scheduled job (jobs.py, every 5 minutes), claims it with a conditional update pending -> running, streams the export page by page
into S3 (a multipart upload of >= 8 MiB parts, so memory holds about one part), and
records "completed" with events, size, sha256 and completed_at, or "failed" with the
reason. Choices:

- Stale runs: a backup still "running" STALE_AFTER (15 min) after it started is taken
  for a crashed run. On its first attempt it goes back to "pending" and runs again; after
  MAX_ATTEMPTS (2) it becomes "failed" ("timed out").
- Finding work never scans: unfinished backups carry `work_state` (a sparse index);
  listings Query the instance environment, newest first (ids sort by request time).
- Automatic backups: an instance whose settings are enabled gets, every interval_hours,
  one backup of each environment with a deployed spec (requested_by "system:scheduler").
  The job claims the due time with a conditional update, so two runs take it once.
- Retention: after the job completes a backup, the completed backups of that instance
  environment beyond the newest `retain` (default 7) are deleted, object and record.
  Manual and automatic backups count alike; failed records are kept until deleted.
- Offsite: when settings name {"bucket", "prefix"}, a completed backup is copied (S3
  copy) to `<prefix>/<instance>/<env>/<id>.jsonl` there; offsite_status is "completed"
  or "failed" (the backup itself stays completed). Deleting or pruning a backup leaves
  the offsite copy alone: it is the copy meant to outlive this bucket.
"""
from __future__ import annotations

import secrets
import time

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.identity import audit
from chalicelib.store import aws, jobs
from chalicelib.store import event_log as export
from chalicelib.store.buckets import bucket_name
from chalicelib.store.conditions import delete_if, update_if
from chalicelib.store.keys import scope_key
from chalicelib.store.tables import Backup, BackupSetting

STALE_AFTER = 15 * 60
MAX_ATTEMPTS = 2
PART_BYTES = 8 * 1024 * 1024        # S3 parts must be >= 5 MiB except the last
PROGRESS_EVERY_SECONDS = 2.0
DEFAULTS = {"enabled": False, "interval_hours": 24, "retain": 7, "offsite": None}
BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"

SETTINGS_BODY = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "interval_hours": {"type": "integer", "minimum": 1, "maximum": 168},
        "retain": {"type": "integer", "minimum": 1, "maximum": 365},
        "offsite": {
            "oneOf": [
                {"type": "null"},
                {"type": "object", "required": ["bucket"],
                 "properties": {"bucket": {"type": "string", "pattern": BUCKET_NAME},
                                "prefix": {"type": "string", "maxLength": 512,
                                           "pattern": "^[^/].*$|^$"}},
                 "additionalProperties": False},
            ],
        },
    },
    "additionalProperties": False,
}


def _scope(instance_id: str, env: str) -> str:
    return scope_key(instance_id, env)


def _s3():
    return aws.client("s3")


def _bucket() -> str:
    return bucket_name("backups")


def new_id() -> str:
    return f"bk_{int(clock.now() * 1000):013d}{secrets.token_hex(6)}"


def describe(b: Backup) -> dict:
    return {"id": b.id, "instance_id": b.instance_id, "environment": b.environment,
            "status": b.status, "requested_at": clock.iso(b.requested_at),
            "requested_by": b.requested_by, "started_at": clock.iso(b.started_at),
            "completed_at": clock.iso(b.completed_at),
            "events": int(b.events) if b.events is not None else None,
            "size": int(b.size) if b.size is not None else None, "sha256": b.sha256,
            "s3_key": b.s3_key, "offsite_status": b.offsite_status, "error": b.error,
            "progress": jobs.progress_view(
                {"done": b.events, "total": b.events, "bytes": b.size}
                if b.status == "completed" else b.progress,
                b.started_at, b.completed_at)}


# --- requests and reads ----------------------------------------------------------------

def status_url(instance_id: str, env: str, backup_id: str) -> str:
    return f"/api/instances/{instance_id}/ops/{env}/backups/{backup_id}"


def request_job(act: audit.Act, instance_id: str, env: str) -> tuple[dict, audit.Note]:
    """An admin's request: the pending backup and its audit entry in one transaction;
    the answer is the long job's {job_id, status_url} with the record."""
    item = _new(instance_id, env, act.actor.subject)
    note = audit.Note(f"{instance_id}/{env}/{item.id}", {"backup_id": item.id})
    act.commit(note, lambda tx: tx.save(item, condition=Backup.id.does_not_exist()))
    _enqueue(item)
    return {"job_id": item.id, "status_url": status_url(instance_id, env, item.id),
            "backup": describe(item)}, note


def request(instance_id: str, env: str, requested_by: str) -> Backup:
    """The scheduler's request of an automatic backup."""
    item = _new(instance_id, env, requested_by)
    item.save(Backup.id.does_not_exist())
    _enqueue(item)
    return item


def _enqueue(item: Backup) -> None:
    """Start the backup within seconds (the work queue's consumer runs it); if the queue
    cannot be reached, the scheduled job takes it at its next run."""
    from chalicelib.store import queues
    queues.offer("work", {"task": "backup", "scope": item.scope, "id": item.id})


def run_requested(scope: str, backup_id: str) -> str:
    """The work queue's task: run this backup if it is still pending (a claim makes a
    second delivery, or the scheduled job, do nothing)."""
    try:
        item = Backup.get(scope, backup_id, consistent_read=True)
    except Backup.DoesNotExist:
        return "skipped"
    now = clock.now()
    if item.status != "pending" or not claim(item, now):
        return "skipped"
    item.refresh(consistent_read=True)
    status = run_one(item)
    prune(item.instance_id, item.environment)
    return status


def _new(instance_id: str, env: str, requested_by: str) -> Backup:
    backup_id = new_id()
    now = clock.now()
    item = Backup(_scope(instance_id, env), backup_id, instance_id=instance_id,
                  environment=env, status="pending", requested_at=now,
                  requested_by=requested_by, s3_key=f"{instance_id}/{env}/{backup_id}.jsonl",
                  attempts=0, work_state="pending")
    return item


def get(instance_id: str, env: str, backup_id: str) -> Backup:
    try:
        return Backup.get(_scope(instance_id, env), backup_id, consistent_read=True)
    except Backup.DoesNotExist:
        raise AppError("BACKUP_NOT_FOUND")


def list_all(instance_id: str, env: str) -> list[Backup]:
    return list(Backup.query(_scope(instance_id, env), scan_index_forward=False,
                             consistent_read=True))


def _delete_object(key: str) -> None:
    _s3().delete_object(Bucket=_bucket(), Key=key)


def delete(instance_id: str, env: str, backup_id: str) -> tuple[dict, audit.Note]:
    item = get(instance_id, env, backup_id)
    if item.status == "running":
        raise AppError("BACKUP_RUNNING")
    _delete_object(item.s3_key)
    if not delete_if(item, Backup.status != "running"):
        raise AppError("BACKUP_RUNNING")
    return ({"deleted": True, "backup": describe(item)},
            audit.Note(f"{instance_id}/{env}/{item.id}",
                       {"backup_id": item.id, "s3_key": item.s3_key}))


def request_restore(act: audit.Act, instance_id: str, env: str, backup_id: str, target: str,
                    replace: bool) -> tuple[dict, audit.Note]:
    """A job that loads the backup's file into `target` with the events' own positions,
    timestamps and hashes (the imports feature runs it), so the target's export equals
    the backup line for line. The target must hold no events, unless `replace` (staging
    and test only) clears it first. A target without a spec gets the source
    environment's spec in force, in the same transaction as the job."""
    from chalicelib.store import jobs, specs
    from chalicelib.store.tables import Job, SpecVersion
    item = get(instance_id, env, backup_id)
    if item.status != "completed":
        raise AppError("BACKUP_NOT_COMPLETED")
    if replace and target == "prod":
        raise AppError("RESTORE_NOT_ALLOWED", "replace is refused in prod: restore into an "
                       "empty environment, or into staging or test with replace")
    if not replace and specs.stored_types(instance_id, target):
        raise AppError("RESTORE_NOT_ALLOWED", f"The {target} environment holds events: "
                       "restore into an empty environment, or pass replace (staging, test)")
    copy = None
    if specs.latest(instance_id, target) is None:
        source = specs.latest(instance_id, env)
        if source is None:
            raise AppError("SPEC_NOT_FOUND", "Neither the backup's environment nor the target "
                           "has a spec to validate the events with")
        copy = SpecVersion(scope=_scope(instance_id, target), version=1, spec=source.spec,
                           deployed_at=clock.now_int(), deployed_by=act.actor.subject)
    job = jobs.new(instance_id, target, "restore_backup",
                   {"source": {"bucket": _bucket(), "key": item.s3_key}, "backup_id": item.id,
                    "source_environment": env, "replace": replace}, act.actor.subject,
                   total=int(item.events or 0))
    note = audit.Note(f"{instance_id}/{target}/{job.id}",
                      {"job_id": job.id, "backup_id": item.id, "source_environment": env,
                       "target_environment": target, "replace": replace,
                       "spec_copied": copy is not None})

    def write(tx) -> None:
        tx.save(job, condition=Job.id.does_not_exist())
        if copy is not None:
            tx.save(copy, condition=SpecVersion.version.does_not_exist())
    if not act.commit(note, write):
        raise AppError("RESTORE_NOT_ALLOWED", "The target environment changed meanwhile; "
                       "try again")
    if copy is not None:
        specs.forget(instance_id, target)
    jobs.enqueue(job)
    return jobs.accepted(job), note


# --- settings --------------------------------------------------------------------------

def _setting(instance_id: str) -> BackupSetting | None:
    try:
        return BackupSetting.get(instance_id, consistent_read=True)
    except BackupSetting.DoesNotExist:
        return None


def settings_of(instance_id: str) -> dict:
    item = _setting(instance_id)
    if item is None:
        return dict(DEFAULTS)
    return {"enabled": item.enabled == "true", "interval_hours": int(item.interval_hours),
            "retain": int(item.retain), "offsite": item.offsite}


def put_settings(act: audit.Act, instance_id: str, body: dict) -> tuple[dict, audit.Note]:
    """Fields given replace the current ones, the rest stay; the settings and the audit
    entry (old and new values) are one transaction."""
    old = settings_of(instance_id)
    new = {**old, **body}
    if new["offsite"] is not None:
        new["offsite"] = {"bucket": new["offsite"]["bucket"],
                          "prefix": new["offsite"].get("prefix", "")}
    item = _setting(instance_id) or BackupSetting(instance_id)
    was_auto = item.auto == "true"
    item.enabled = "true" if new["enabled"] else "false"
    item.interval_hours = new["interval_hours"]
    item.retain = new["retain"]
    item.offsite = new["offsite"]
    item.updated_at = clock.now_int()
    if new["enabled"]:
        item.auto = "true"
        if not was_auto or item.next_due is None:
            item.next_due = clock.now_int()          # first automatic backup: next run
        elif new["interval_hours"] != old["interval_hours"]:
            item.next_due = min(item.next_due, clock.now_int() + new["interval_hours"] * 3600)
    else:
        item.auto = None
        item.next_due = None
    note = audit.Note(instance_id, {"old": old, "new": new})
    act.commit(note, lambda tx: tx.save(item))
    return new, note


# --- the job ---------------------------------------------------------------------------

def claim(item: Backup, now: float) -> bool:
    """pending -> running, conditionally: only one run gets it."""
    return update_if(item, [Backup.status.set("running"), Backup.work_state.set("running"),
                            Backup.started_at.set(now), Backup.attempts.add(1)],
                     Backup.status == "pending")


def _write(item: Backup) -> tuple[int, int, str]:
    """Stream the export into S3 (store/uploads.MultipartWriter: memory holds about one
    part); (events, size, sha256)."""
    from chalicelib.store.uploads import MultipartWriter
    out = MultipartWriter(_bucket(), item.s3_key, "application/x-ndjson", PART_BYTES)
    events = 0
    reported = time.monotonic()
    try:
        cursor = None
        while True:
            page = export.page(item.instance_id, item.environment, cursor=cursor)
            for text in page.lines:
                out.write(text.encode())
                events += 1
            cursor = page.next_cursor
            if not cursor:
                break
            if time.monotonic() - reported >= PROGRESS_EVERY_SECONDS:
                item.update(actions=[Backup.progress.set({"done": events, "bytes": out.size})])
                reported = time.monotonic()
        size, sha = out.close()
    except Exception:
        out.abort()
        raise
    return events, size, sha


def offsite_key(offsite: dict, s3_key: str) -> str:
    prefix = (offsite.get("prefix") or "").strip("/")
    return f"{prefix}/{s3_key}" if prefix else s3_key


def _copy_offsite(item: Backup) -> str | None:
    offsite = settings_of(item.instance_id)["offsite"]
    if not offsite:
        return None
    try:
        _s3().copy({"Bucket": _bucket(), "Key": item.s3_key}, offsite["bucket"],
                   offsite_key(offsite, item.s3_key))
        return "completed"
    except Exception:  # noqa: BLE001 - the backup stands; only the copy failed
        from chalicelib.core.observability import logger
        logger.exception("offsite copy failed", extra={"backup_id": item.id})
        return "failed"


def run_one(item: Backup) -> str:
    """Run a claimed backup to its end; its final status."""
    try:
        events, size, sha = _write(item)
    except Exception as exc:  # noqa: BLE001 - recorded on the backup
        reason = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
        item.update(actions=[Backup.status.set("failed"), Backup.work_state.remove(),
                             Backup.completed_at.set(clock.now()),
                             Backup.error.set(reason[:1000])])
        return "failed"
    item.update(actions=[Backup.status.set("completed"), Backup.work_state.remove(),
                         Backup.completed_at.set(clock.now()), Backup.events.set(events),
                         Backup.size.set(size), Backup.sha256.set(sha)])
    status = _copy_offsite(item)
    if status is not None:
        item.update(actions=[Backup.offsite_status.set(status)])
    return "completed"


def recover_stale(now: float) -> dict:
    """Running backups older than STALE_AFTER: back to pending once, then failed."""
    out = {"retried": 0, "timed_out": 0}
    for item in Backup.by_work_state.query("running", Backup.requested_at <= now):
        if item.status != "running" or (item.started_at or 0) > now - STALE_AFTER:
            continue
        retry = int(item.attempts or 0) < MAX_ATTEMPTS
        actions = ([Backup.status.set("pending"), Backup.work_state.set("pending")] if retry
                   else [Backup.status.set("failed"), Backup.work_state.remove(),
                         Backup.completed_at.set(now),
                         Backup.error.set("timed out: the run stopped without finishing")])
        if not update_if(item, actions, (Backup.status == "running")
                         & (Backup.started_at == item.started_at)):
            continue
        out["retried" if retry else "timed_out"] += 1
    return out


def schedule_due(now: float) -> int:
    """Automatic backups of instances whose interval has passed; the number requested."""
    from chalicelib.domain.environments import ENVIRONMENTS
    from chalicelib.identity.principal import SCHEDULER
    from chalicelib.store import specs
    requested = 0
    for setting in BackupSetting.by_due.query("true", BackupSetting.next_due <= int(now)):
        due = setting.next_due
        if not update_if(setting, [BackupSetting.next_due.set(
                int(now) + int(setting.interval_hours) * 3600)],
                (BackupSetting.next_due == due) & (BackupSetting.auto == "true")):
            continue
        for env in ENVIRONMENTS:
            if specs.latest(setting.instance_id, env) is not None:
                request(setting.instance_id, env, SCHEDULER.subject)
                requested += 1
    return requested


def prune(instance_id: str, env: str) -> int:
    """Delete completed backups beyond the newest `retain`; the number deleted."""
    retain = settings_of(instance_id)["retain"]
    completed = [b for b in list_all(instance_id, env) if b.status == "completed"]
    deleted = 0
    for item in completed[retain:]:
        _delete_object(item.s3_key)
        if delete_if(item, Backup.status == "completed"):
            deleted += 1
    return deleted


def run_pending() -> dict:
    now = clock.now()
    out = {"requested": 0, "completed": 0, "failed": 0, "pruned": 0}
    out.update(recover_stale(now))
    out["requested"] = schedule_due(now)
    touched = set()
    for item in Backup.by_work_state.query("pending", Backup.requested_at <= now):
        if item.status != "pending" or not claim(item, now):
            continue
        item.refresh(consistent_read=True)
        out[run_one(item)] += 1
        touched.add((item.instance_id, item.environment))
    for instance_id, env in sorted(touched):
        out["pruned"] += prune(instance_id, env)
    return out
