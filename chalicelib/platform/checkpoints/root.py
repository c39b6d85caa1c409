"""Root checkpoints: every aggregate of one type of an instance environment at once, as
a gzip JSON Lines file in the "backups" bucket with a manifest beside it:

    root-checkpoints/<instance>/<env>/<aggregate type>/<id>.jsonl.gz
        one line per aggregate, in id order: {"id", "length", "state", "merkle_root"}
    root-checkpoints/<instance>/<env>/<aggregate type>/<id>.manifest.json
        {"id", "instance_id", "environment", "aggregate_type", "count", "sha256" (of the
         gzip file), "size", "spec_version", "created_at", "cut_at", "file", "format"}

Consistent as of one instant, `cut_at` (CUT_DELAY seconds before the request, so that
every append stamped before it has committed: an append's transaction is bounded well
inside that by store/aws.py's timeouts): an aggregate written since is folded up to
cut_at (its newest usable checkpoint plus the events up to then, as a read with
?at=cut_at gives), one untouched since contributes its head (cached state, length,
Merkle root from its frontier), one created after it is left out. So the file is the
same however often its writing is interrupted and resumed.

Writing is a long job (store/jobs.py, kind "root_checkpoint"): the request stores the
pending record, the job and the audit entry in one transaction and answers 202; the
work queue's consumer runs it in slices. Aggregates are enumerated by Querying the
streams table's by_scope_type index (keys only, in stream order), their heads read with
consistent BatchGetItems of HEADS_PER_BATCH, and the file streamed to S3
(store/uploads.py: parts of 8 MiB, each a complete gzip member), so memory holds one
batch of heads and one part whatever the number of aggregates. After each part the job
saves its cursor (the upload, its parts, the last stream written); a slice running out
of time stops after a part, and a crashed one is resumed from the last part saved. The
file's SHA-256 is kept as it is written, or, when the job was resumed, read back from S3.

Automatic root checkpoints: per instance environment, settings {"enabled",
"interval_hours", "aggregate_types" ([] = every type of the spec in force), "retain"};
the scheduled job claims a due time with a conditional update (two copies of the job:
one takes it) and starts one job per type. A job that completes deletes the type's
completed root checkpoints beyond the newest `retain` (manual and automatic alike;
failed ones stay until deleted)."""
from __future__ import annotations

import json
import re
import secrets

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain import merkle
from chalicelib.identity import audit
from chalicelib.store import checkpoints as folds
from chalicelib.store import jobs, listing
from chalicelib.store.buckets import bucket_name
from chalicelib.store.conditions import update_if
from chalicelib.store.keys import scope_key, scope_type_key
from chalicelib.store.tables import (
    Job,
    RootCheckpoint,
    RootCheckpointSetting,
    SpecVersion,
    StreamHead,
)
from chalicelib.store.streams import Head, materialize
from chalicelib.store.uploads import GzipLinesWriter, sha256_of

ID_PATTERN = r"^rc_[0-9]{13}[0-9a-f]{12}$"
_ID = re.compile(ID_PATTERN)
KIND = "root_checkpoint"
CUT_DELAY = 8.0                 # seconds between cut_at and the request
STALE_AFTER = 15 * 60           # unfinished and silent this long: its job is gone
HEADS_PER_BATCH = 25            # heads read at once (a head holds up to 350 KB of state)
PROGRESS_EVERY = 200            # aggregates between progress reports
SLICE_MARGIN = 120.0            # seconds a slice keeps in hand when it stops after a part
MAX_PAGE = 1000
DEFAULT_PAGE = 100
BUCKET = "backups"
FORMAT = "gzip JSON Lines, one aggregate a line: {id, length, state, merkle_root (hex)}"
DEFAULTS = {"enabled": False, "interval_hours": 24, "aggregate_types": [], "retain": 7}
TYPE_NAME = r"^[A-Za-z0-9_.:-]{1,128}$"   # the data plane's type rule (http/requests.py)

SETTINGS_BODY = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "interval_hours": {"type": "integer", "minimum": 1, "maximum": 168},
        "aggregate_types": {"type": "array", "maxItems": 100, "uniqueItems": True,
                            "items": {"type": "string", "pattern": TYPE_NAME},
                            "description": "types to checkpoint; [] means every type of "
                                           "the spec in force"},
        "retain": {"type": "integer", "minimum": 1, "maximum": 365},
    },
    "additionalProperties": False,
}


def new_id() -> str:
    return f"rc_{int(clock.now() * 1000):013d}{secrets.token_hex(6)}"


def _scope(instance_id: str, env: str) -> str:
    return scope_key(instance_id, env)


def _stale(item: RootCheckpoint, now: float | None = None) -> bool:
    """Unfinished, and nothing heard of it for STALE_AFTER: its job died for good."""
    last = item.updated_at or item.created_at
    return item.status in ("pending", "running") and (now or clock.now()) - last > STALE_AFTER


def describe(item: RootCheckpoint) -> dict:
    instance_id, env = item.scope.split("#", 1)
    stale = _stale(item)
    return {"id": item.id, "instance_id": instance_id, "environment": env,
            "aggregate_type": item.aggregate_type,
            "status": "failed" if stale else item.status,
            "created_at": clock.iso(item.created_at), "created_by": item.created_by,
            "job_id": item.job_id,
            "cut_at": clock.iso(item.cut_at), "completed_at": clock.iso(item.completed_at),
            "spec_version": int(item.spec_version), "count": int(item.aggregates or 0),
            "size": int(item.size or 0), "sha256": item.sha256, "s3_key": item.s3_key,
            "manifest_key": item.manifest_key,
            "error": ("timed out: the run stopped without finishing" if stale
                      else item.error)}


# --- creating --------------------------------------------------------------------------

def _types_of(spec: dict) -> list[str]:
    return sorted((spec.get("aggregate_types") or {}))


def _start(act: audit.Act, instance_id: str, env: str, agg_type: str, version: SpecVersion,
           details: dict | None = None) -> tuple[RootCheckpoint, Job, audit.Note]:
    """The pending record, its job and the audit entry in one transaction, then the job
    handed to the work queue."""
    rc_id = new_id()
    now = clock.now()
    base = f"root-checkpoints/{instance_id}/{env}/{agg_type}/{rc_id}"
    job = jobs.new(instance_id, env, KIND, {"root_checkpoint_id": rc_id,
                                            "aggregate_type": agg_type}, act.actor.subject)
    item = RootCheckpoint(_scope(instance_id, env), rc_id, aggregate_type=agg_type,
                          status="pending", created_at=now, created_by=act.actor.subject,
                          job_id=job.id, updated_at=now, cut_at=now - CUT_DELAY,
                          spec_version=int(version.version), s3_key=base + ".jsonl.gz",
                          manifest_key=base + ".manifest.json", aggregates=0, size=0)
    note = audit.Note(f"{instance_id}/{env}/{agg_type}",
                      {"root_checkpoint_id": rc_id, "job_id": job.id,
                       "spec_version": int(version.version), **(details or {})})

    def write(tx):
        tx.save(item, condition=RootCheckpoint.id.does_not_exist())
        tx.save(job, condition=Job.id.does_not_exist())
    act.commit(note, write)
    jobs.enqueue(job)
    return item, job, note


def request(act: audit.Act, instance_id: str, env: str, agg_type: str) -> tuple[dict, audit.Note]:
    """An admin's request: 202 {job_id, status_url, job, root_checkpoint}."""
    version = folds.spec_in_force(instance_id, env)
    if agg_type not in _types_of(version.spec):
        raise AppError("UNKNOWN_AGGREGATE_TYPE",
                       f"Aggregate type '{agg_type}' is not in the spec in force",
                       details=[{"path": "aggregate_type",
                                 "message": f"must be one of {_types_of(version.spec)}"}])
    item, job, note = _start(act, instance_id, env, agg_type, version)
    return {**jobs.accepted(job), "root_checkpoint": describe(item)}, note


def run_job(run) -> dict | str:
    """The job kind "root_checkpoint" (chalicelib.features.JOB_KINDS): one slice of the
    writing; its result, or "more" when the slice stopped to let the next go on."""
    job = run.job
    scope = scope_key(job.instance_id, job.environment)
    try:
        item = RootCheckpoint.get(scope, run.params["root_checkpoint_id"], consistent_read=True)
    except RootCheckpoint.DoesNotExist:
        raise AppError("JOB_FAILED", "the root checkpoint was deleted before it was written")
    if item.status == "completed":
        return _result(item)
    try:
        version = SpecVersion.get(scope, int(item.spec_version), consistent_read=True)
    except SpecVersion.DoesNotExist:
        raise _failed(item, "the spec version it was requested under is gone")
    if item.status == "pending":
        item.update(actions=[RootCheckpoint.status.set("running"),
                             RootCheckpoint.updated_at.set(clock.now())])
    try:
        outcome = write(item, version.spec, run)
    except AppError as exc:
        raise _failed(item, exc.message)
    if outcome == "more":
        return "more"
    retain = settings_of(job.instance_id, job.environment)["retain"]
    pruned = prune(job.instance_id, job.environment, item.aggregate_type, retain)
    return {**_result(item), "pruned": pruned}


def _failed(item: RootCheckpoint, reason: str) -> AppError:
    item.update(actions=[RootCheckpoint.status.set("failed"),
                         RootCheckpoint.completed_at.set(clock.now()),
                         RootCheckpoint.updated_at.set(clock.now()),
                         RootCheckpoint.error.set(reason[:1000])])
    return AppError("JOB_FAILED", reason)


def _result(item: RootCheckpoint) -> dict:
    return {"root_checkpoint_id": item.id, "count": int(item.aggregates or 0),
            "size": int(item.size or 0), "sha256": item.sha256}


def _heads(instance_id: str, env: str, agg_type: str, after: str | None):
    """Every head of the type after stream `after`, in stream order, read consistently
    HEADS_PER_BATCH at a time; keys come from a Query of the by_scope_type index (never
    a scan)."""
    keys = StreamHead.by_scope_type.query(
        scope_type_key(instance_id, env, agg_type),
        range_key_condition=StreamHead.stream > after if after else None,
        attributes_to_get=["stream", "scope_type"])
    batch: list[str] = []
    for entry in keys:
        batch.append(entry.stream)
        if len(batch) == HEADS_PER_BATCH:
            yield from _read(batch)
            batch = []
    if batch:
        yield from _read(batch)


def _read(streams: list[str]):
    found = {h.stream: h for h in StreamHead.batch_get(streams, consistent_read=True)}
    for stream in streams:
        if stream in found:
            yield found[stream]


def _line(spec: dict, agg_type: str, prefix: str, head: StreamHead,
          cut: float) -> dict | None:
    agg_id = head.stream[len(prefix):]
    if head.created_at > cut:
        return None
    if head.tombstoned is not None:     # erased: no state, as a rewritten file shows it
        root = merkle.frontier_root([(int(lv), bytes.fromhex(h)) for lv, h in head.frontier or []])
        return {"id": agg_id, "length": int(head.length), "state": {},
                "merkle_root": root.hex(), "tombstoned": True}
    if head.updated_at <= cut:      # untouched since: the head's own state
        state = head.state or {}
        if head.snapshot_length is not None:    # a large state: its snapshot plus the tail
            state = materialize(Head.from_item(head), spec).state
        root = merkle.frontier_root([(int(lv), bytes.fromhex(h)) for lv, h in head.frontier or []])
        return {"id": agg_id, "length": int(head.length), "state": state,
                "merkle_root": root.hex()}
    folded = folds.fold(spec, agg_type, agg_id, head.stream, at=cut, tree=True)
    if folded.length == 0:
        return None
    return {"id": agg_id, "length": folded.length, "state": folded.state,
            "merkle_root": folded.merkle_root.hex()}


def write(item: RootCheckpoint, spec: dict, run) -> str:
    """Stream the lines of every aggregate from where the job's cursor says, saving the
    cursor after each part; "done" once the file and manifest are written, "more" when
    the slice stopped early. `run` is the job's slice (store/jobs.Run)."""
    instance_id, env = item.scope.split("#", 1)
    agg_type = item.aggregate_type
    prefix = scope_type_key(instance_id, env, agg_type) + "#"
    bucket = bucket_name(BUCKET)
    resume = run.cursor.get("upload")
    out = GzipLinesWriter(bucket, item.s3_key, resume=resume)
    last = run.cursor.get("after")

    def saved() -> None:       # after a cut: the parts so far and where they end
        run.cursor.update({"upload": out.state(), "after": last})
        run.progress(done=out.lines, bytes_done=out.size, save=True)
        item.update(actions=[RootCheckpoint.aggregates.set(out.lines),
                             RootCheckpoint.size.set(out.size),
                             RootCheckpoint.updated_at.set(clock.now())])
    try:
        for head in _heads(instance_id, env, agg_type, last):
            line = _line(spec, agg_type, prefix, head, item.cut_at)
            last = head.stream
            if line is None:
                continue
            text = json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n"
            if out.write_line(text) or (run.time_left() < SLICE_MARGIN
                                        and out.cut_if_possible()):
                saved()
                if run.time_left() < SLICE_MARGIN:
                    return "more"
            elif out.lines % PROGRESS_EVERY == 0:
                run.progress(done=out.lines, bytes_done=out.size)
        size, sha = out.close()
    except AppError:
        out.abort()
        raise
    if sha is None:            # resumed: this slice did not see every byte
        sha = sha256_of(bucket, item.s3_key)
    manifest = {"id": item.id, "instance_id": instance_id, "environment": env,
                "aggregate_type": agg_type, "count": out.lines, "sha256": sha, "size": size,
                "spec_version": int(item.spec_version), "created_at": clock.iso(item.created_at),
                "cut_at": clock.iso(item.cut_at), "cut_at_unix": item.cut_at,
                "file": item.s3_key, "format": FORMAT}
    from chalicelib.store import aws
    aws.client("s3").put_object(Bucket=bucket, Key=item.manifest_key,
                                Body=json.dumps(manifest, indent=2).encode(),
                                ContentType="application/json")
    now = clock.now()
    item.update(actions=[RootCheckpoint.status.set("completed"),
                         RootCheckpoint.completed_at.set(now),
                         RootCheckpoint.updated_at.set(now),
                         RootCheckpoint.aggregates.set(out.lines), RootCheckpoint.size.set(size),
                         RootCheckpoint.sha256.set(sha)])
    run.progress(done=out.lines, bytes_done=size, save=True)
    return "done"


# --- reads and deletes -----------------------------------------------------------------

def get(instance_id: str, env: str, rc_id: str) -> RootCheckpoint:
    if not _ID.match(rc_id or ""):
        raise AppError("ROOT_CHECKPOINT_NOT_FOUND", "No root checkpoint has that id (ids "
                                                    "look like rc_<13 digits><12 hex>)")
    try:
        return RootCheckpoint.get(_scope(instance_id, env), rc_id, consistent_read=True)
    except RootCheckpoint.DoesNotExist:
        raise AppError("ROOT_CHECKPOINT_NOT_FOUND")


def list_page(instance_id: str, env: str, agg_type: str | None, limit: int,
              cursor: str | None) -> dict:
    page, next_cursor = listing.newest_first(
        RootCheckpoint, _scope(instance_id, env),
        [(RootCheckpoint.aggregate_type == agg_type) if agg_type else None],
        limit, cursor, _ID)
    return {"root_checkpoints": [describe(r) for r in page], "next_cursor": next_cursor}


def latest(instance_id: str, env: str, agg_type: str | None) -> dict:
    """The newest completed root checkpoint (of the type, when given)."""
    condition = RootCheckpoint.status == "completed"
    if agg_type:
        condition &= RootCheckpoint.aggregate_type == agg_type
    for item in RootCheckpoint.query(_scope(instance_id, env), filter_condition=condition,
                                     scan_index_forward=False, consistent_read=True, limit=1):
        return describe(item)
    raise AppError("ROOT_CHECKPOINT_NOT_FOUND", "No completed root checkpoint"
                   + (f" of type '{agg_type}'" if agg_type else "") + " in this environment")


def _remove(act: audit.Act, item: RootCheckpoint, details: dict) -> audit.Note | None:
    """The record and its audit entry in one transaction (not while a live run writes
    it), then the file and the manifest; the note, or None when the record was gone or
    had a live run."""
    instance_id, env = item.scope.split("#", 1)
    note = audit.Note(f"{instance_id}/{env}/{item.aggregate_type}",
                      {"root_checkpoint_id": item.id, **details})
    condition = RootCheckpoint.id.exists() & (
        ~RootCheckpoint.status.is_in("pending", "running")
        | (RootCheckpoint.updated_at < clock.now() - STALE_AFTER))
    if not act.commit(note, lambda tx: tx.delete(item, condition=condition)):
        return None
    from chalicelib.store import aws
    s3 = aws.client("s3")
    for key in (item.s3_key, item.manifest_key):
        s3.delete_object(Bucket=bucket_name(BUCKET), Key=key)
    return note


def delete(act: audit.Act, instance_id: str, env: str, rc_id: str) -> tuple[dict, audit.Note]:
    item = get(instance_id, env, rc_id)
    if item.status in ("pending", "running") and not _stale(item):
        raise AppError("ROOT_CHECKPOINT_RUNNING")
    answer = {"deleted": True, "root_checkpoint": describe(item)}
    note = _remove(act, item, {"s3_key": item.s3_key})
    if note is None:
        get(instance_id, env, rc_id)      # 404 when it is gone
        raise AppError("ROOT_CHECKPOINT_RUNNING")
    return answer, note


# --- settings --------------------------------------------------------------------------

def _setting(instance_id: str, env: str) -> RootCheckpointSetting | None:
    try:
        return RootCheckpointSetting.get(_scope(instance_id, env), consistent_read=True)
    except RootCheckpointSetting.DoesNotExist:
        return None


def settings_of(instance_id: str, env: str) -> dict:
    item = _setting(instance_id, env)
    if item is None:
        return {**DEFAULTS, "aggregate_types": []}
    return {"enabled": item.enabled == "true", "interval_hours": int(item.interval_hours),
            "aggregate_types": list(item.aggregate_types or []), "retain": int(item.retain)}


def put_settings(act: audit.Act, instance_id: str, env: str,
                 body: dict) -> tuple[dict, audit.Note]:
    """Fields given replace the current ones, the rest stay. Types named must be in the
    spec in force (422 UNKNOWN_AGGREGATE_TYPE lists every one that is not)."""
    types = body.get("aggregate_types")
    if types:
        version = folds.spec_in_force(instance_id, env)
        known = _types_of(version.spec)
        unknown = [{"path": f"aggregate_types.{i}",
                    "message": f"'{t}' is not an aggregate type of the spec in force"}
                   for i, t in enumerate(types) if t not in known]
        if unknown:
            raise AppError("UNKNOWN_AGGREGATE_TYPE", unknown[0]["message"], details=unknown)
    old = settings_of(instance_id, env)
    new = {**old, **body}
    new["interval_hours"], new["retain"] = int(new["interval_hours"]), int(new["retain"])
    item = _setting(instance_id, env) or RootCheckpointSetting(
        _scope(instance_id, env), instance_id=instance_id, environment=env)
    was_auto = item.auto == "true"
    now = clock.now_int()
    item.enabled = "true" if new["enabled"] else "false"
    item.interval_hours = new["interval_hours"]
    item.aggregate_types = list(new["aggregate_types"])
    item.retain = new["retain"]
    item.updated_at = now
    if new["enabled"]:
        item.auto = "true"
        if not was_auto or item.next_due is None:
            item.next_due = now                       # the first one: at the next run
        elif new["interval_hours"] != old["interval_hours"]:
            item.next_due = min(int(item.next_due), now + new["interval_hours"] * 3600)
    else:
        item.auto = None
        item.next_due = None
    note = audit.Note(f"{instance_id}/{env}", {"old": old, "new": new})
    act.commit(note, lambda tx: tx.save(item))
    return new, note


# --- the scheduled job -----------------------------------------------------------------

def due(now: float) -> list[RootCheckpointSetting]:
    """Enabled settings whose time has come (a Query of the sparse by_due index)."""
    return list(RootCheckpointSetting.by_due.query("true", RootCheckpointSetting.next_due
                                                   <= int(now)))


def claim(setting: RootCheckpointSetting, now: float) -> bool:
    """Move the due time on by the interval, conditionally on it being the one read: of
    two copies of the job that read the same setting, exactly one gets it."""
    was = setting.next_due
    return update_if(setting, [RootCheckpointSetting.next_due.set(
        int(now) + int(setting.interval_hours) * 3600)],
        (RootCheckpointSetting.next_due == was) & (RootCheckpointSetting.auto == "true"))


def prune(instance_id: str, env: str, agg_type: str, retain: int) -> int:
    """Delete the type's completed root checkpoints beyond the newest `retain`."""
    from chalicelib.identity.principal import SCHEDULER
    act = audit.Act(SCHEDULER, "root_checkpoint_deleted")
    completed = list(RootCheckpoint.query(
        _scope(instance_id, env), filter_condition=(RootCheckpoint.aggregate_type == agg_type)
        & (RootCheckpoint.status == "completed"), scan_index_forward=False,
        consistent_read=True))
    return sum(1 for item in completed[retain:]
               if _remove(act, item, {"reason": "retention", "retain": retain}) is not None)


def run_due() -> dict:
    """Take every due setting (claimed first, so a second copy of the job skips it) and
    start one root checkpoint job per type, as system:scheduler."""
    from chalicelib.identity.principal import SCHEDULER
    from chalicelib.store import specs
    now = clock.now()
    out = {"due": 0, "started": 0, "skipped": 0}
    act = audit.Act(SCHEDULER, "root_checkpoint_created")
    for setting in due(now):
        if not claim(setting, now):
            continue
        out["due"] += 1
        version = specs.latest(setting.instance_id, setting.environment)
        if version is None:
            continue
        known = _types_of(version.spec)
        for agg_type in list(setting.aggregate_types or []) or known:
            if agg_type not in known:      # dropped from the spec since the settings
                out["skipped"] += 1
                continue
            _start(act, setting.instance_id, setting.environment, agg_type, version,
                   {"automatic": True})
            out["started"] += 1
    return out
