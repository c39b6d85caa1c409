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
Merkle root from its frontier), one created after it is left out.

Aggregates are enumerated by Querying the streams table's by_scope_type index (keys
only), their heads read with consistent BatchGetItems of HEADS_PER_BATCH, and the file
streamed to S3 (store/uploads.py: parts of 8 MiB, each a gzip member), so memory holds
one batch of heads and one part whatever the number of aggregates.

The work is `write(item, spec, progress)`: the request (or the scheduled job) stores
the "running" record with its audit entry, runs it, and the record ends "completed" with
its manifest fields or "failed" with the reason. A record still "running" STALE_AFTER
after it started is shown (and may be deleted) as failed: its run was cut short.

Automatic root checkpoints: per instance environment, settings {"enabled",
"interval_hours", "aggregate_types" ([] = every type of the spec in force), "retain"};
the scheduled job claims a due time with a conditional update (two copies of the job:
one takes it), writes one root checkpoint per type and keeps the newest `retain`
completed ones of each type (manual and automatic alike; failed ones stay until
deleted)."""
from __future__ import annotations

import json
import re
import secrets

from chalicelib.core import clock
from chalicelib.core.errors import AppError, invalid
from chalicelib.domain import merkle
from chalicelib.identity import audit
from chalicelib.store import checkpoints as folds
from chalicelib.store.buckets import bucket_name
from chalicelib.store.conditions import update_if
from chalicelib.store.keys import scope_key, scope_type_key
from chalicelib.store.tables import RootCheckpoint, RootCheckpointSetting, StreamHead
from chalicelib.store.uploads import GzipLinesWriter

ID_PATTERN = r"^rc_[0-9]{13}[0-9a-f]{12}$"
_ID = re.compile(ID_PATTERN)
CUT_DELAY = 8.0                 # seconds between cut_at and the request
STALE_AFTER = 15 * 60
HEADS_PER_BATCH = 25            # heads read at once (a head holds up to 350 KB of state)
PROGRESS_EVERY = 500            # aggregates between progress writes
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
    return item.status == "running" and (now or clock.now()) - item.created_at > STALE_AFTER


def describe(item: RootCheckpoint) -> dict:
    instance_id, env = item.scope.split("#", 1)
    stale = _stale(item)
    return {"id": item.id, "instance_id": instance_id, "environment": env,
            "aggregate_type": item.aggregate_type,
            "status": "failed" if stale else item.status,
            "created_at": clock.iso(item.created_at), "created_by": item.created_by,
            "cut_at": clock.iso(item.cut_at), "completed_at": clock.iso(item.completed_at),
            "spec_version": int(item.spec_version), "count": int(item.count or 0),
            "size": int(item.size or 0), "sha256": item.sha256, "s3_key": item.s3_key,
            "manifest_key": item.manifest_key,
            "error": ("timed out: the run stopped without finishing" if stale
                      else item.error)}


# --- creating --------------------------------------------------------------------------

def _new(instance_id: str, env: str, agg_type: str, spec_version: int,
         created_by: str) -> RootCheckpoint:
    rc_id = new_id()
    now = clock.now()
    base = f"root-checkpoints/{instance_id}/{env}/{agg_type}/{rc_id}"
    return RootCheckpoint(_scope(instance_id, env), rc_id, aggregate_type=agg_type,
                          status="running", created_at=now, created_by=created_by,
                          cut_at=now - CUT_DELAY, spec_version=spec_version,
                          s3_key=base + ".jsonl.gz", manifest_key=base + ".manifest.json",
                          count=0, size=0)


def _types_of(spec: dict) -> list[str]:
    return sorted((spec.get("aggregate_types") or {}))


def create(act: audit.Act, instance_id: str, env: str, agg_type: str,
           progress=None) -> tuple[dict, audit.Note]:
    """Store the running record with its audit entry (one transaction), write the file,
    answer the record as it ended."""
    version = folds.spec_in_force(instance_id, env)
    if agg_type not in _types_of(version.spec):
        raise AppError("UNKNOWN_AGGREGATE_TYPE",
                       f"Aggregate type '{agg_type}' is not in the spec in force",
                       details=[{"path": "aggregate_type",
                                 "message": f"must be one of {_types_of(version.spec)}"}])
    item = _new(instance_id, env, agg_type, int(version.version), act.actor.subject)
    note = audit.Note(f"{instance_id}/{env}/{agg_type}",
                      {"root_checkpoint_id": item.id, "spec_version": int(version.version)})
    act.commit(note, lambda tx: tx.save(item, condition=RootCheckpoint.id.does_not_exist()))
    run(item, version.spec, progress)
    return describe(item), note


def run(item: RootCheckpoint, spec: dict, progress=None) -> str:
    """Write the file and manifest of a running record; its final status. `progress`,
    if given, is called with (aggregates written, bytes written) every PROGRESS_EVERY
    aggregates; the record's own count and size are updated as often."""
    try:
        manifest = write(item, spec, _progress(item, progress))
    except Exception as exc:  # noqa: BLE001 - recorded on the record
        from chalicelib.core.observability import logger
        logger.exception("root checkpoint failed", extra={"root_checkpoint_id": item.id})
        reason = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
        item.update(actions=[RootCheckpoint.status.set("failed"),
                             RootCheckpoint.completed_at.set(clock.now()),
                             RootCheckpoint.error.set(reason[:1000])])
        return "failed"
    item.update(actions=[RootCheckpoint.status.set("completed"),
                         RootCheckpoint.completed_at.set(clock.now()),
                         RootCheckpoint.count.set(manifest["count"]),
                         RootCheckpoint.size.set(manifest["size"]),
                         RootCheckpoint.sha256.set(manifest["sha256"])])
    return "completed"


def _progress(item: RootCheckpoint, callback):
    def report(done: int, size: int) -> None:
        item.update(actions=[RootCheckpoint.count.set(done), RootCheckpoint.size.set(size)])
        if callback is not None:
            callback(done, size)
    return report


def _heads(instance_id: str, env: str, agg_type: str):
    """Every head of the type, in stream order, read consistently HEADS_PER_BATCH at a
    time; keys come from a Query of the by_scope_type index (never a scan)."""
    keys = StreamHead.by_scope_type.query(scope_type_key(instance_id, env, agg_type),
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
    if head.updated_at <= cut:
        root = merkle.frontier_root([(int(lv), bytes.fromhex(h)) for lv, h in head.frontier or []])
        return {"id": agg_id, "length": int(head.length), "state": head.state or {},
                "merkle_root": root.hex()}
    folded = folds.fold(spec, agg_type, agg_id, head.stream, at=cut, tree=True)
    if folded.length == 0:
        return None
    return {"id": agg_id, "length": folded.length, "state": folded.state,
            "merkle_root": folded.merkle_root.hex()}


def write(item: RootCheckpoint, spec: dict, progress=None) -> dict:
    """Stream every aggregate's line into the file, then the manifest; the manifest."""
    instance_id, env = item.scope.split("#", 1)
    agg_type = item.aggregate_type
    prefix = scope_type_key(instance_id, env, agg_type) + "#"
    bucket = bucket_name(BUCKET)
    out = GzipLinesWriter(bucket, item.s3_key)
    try:
        for head in _heads(instance_id, env, agg_type):
            line = _line(spec, agg_type, prefix, head, item.cut_at)
            if line is None:
                continue
            out.write_line(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
            if progress is not None and out.lines % PROGRESS_EVERY == 0:
                progress(out.lines, out.size)
        size, sha = out.close()
    except Exception:
        out.abort()
        raise
    manifest = {"id": item.id, "instance_id": instance_id, "environment": env,
                "aggregate_type": agg_type, "count": out.lines, "sha256": sha, "size": size,
                "spec_version": int(item.spec_version), "created_at": clock.iso(item.created_at),
                "cut_at": clock.iso(item.cut_at), "cut_at_unix": item.cut_at,
                "file": item.s3_key, "format": FORMAT}
    from chalicelib.store import aws
    aws.client("s3").put_object(Bucket=bucket, Key=item.manifest_key,
                                Body=json.dumps(manifest, indent=2).encode(),
                                ContentType="application/json")
    return manifest


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
    if cursor is not None and not _ID.match(cursor):
        raise invalid("cursor", "is not a cursor this listing gave out")
    rows = list(RootCheckpoint.query(
        _scope(instance_id, env), RootCheckpoint.id < cursor if cursor else None,
        filter_condition=(RootCheckpoint.aggregate_type == agg_type) if agg_type else None,
        scan_index_forward=False, consistent_read=True, limit=limit + 1))
    page = rows[:limit]
    return {"root_checkpoints": [describe(r) for r in page],
            "next_cursor": page[-1].id if len(rows) > limit else None}


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
        (RootCheckpoint.status != "running")
        | (RootCheckpoint.created_at < clock.now() - STALE_AFTER))
    if not act.commit(note, lambda tx: tx.delete(item, condition=condition)):
        return None
    from chalicelib.store import aws
    s3 = aws.client("s3")
    for key in (item.s3_key, item.manifest_key):
        s3.delete_object(Bucket=bucket_name(BUCKET), Key=key)
    return note


def delete(act: audit.Act, instance_id: str, env: str, rc_id: str) -> tuple[dict, audit.Note]:
    item = get(instance_id, env, rc_id)
    if item.status == "running" and not _stale(item):
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
    completed = [r for r in RootCheckpoint.query(
        _scope(instance_id, env), filter_condition=(RootCheckpoint.aggregate_type == agg_type)
        & (RootCheckpoint.status == "completed"), scan_index_forward=False,
        consistent_read=True)]
    return sum(1 for item in completed[retain:]
               if _remove(act, item, {"reason": "retention", "retain": retain}) is not None)


def run_due() -> dict:
    """Take every due setting (claimed first, so a second copy of the job skips it),
    write one root checkpoint per type, prune beyond `retain`."""
    from chalicelib.identity.principal import SCHEDULER
    from chalicelib.store import specs
    now = clock.now()
    out = {"due": 0, "completed": 0, "failed": 0, "skipped": 0, "pruned": 0}
    for setting in due(now):
        if not claim(setting, now):
            continue
        out["due"] += 1
        version = specs.latest(setting.instance_id, setting.environment)
        if version is None:
            continue
        known = _types_of(version.spec)
        wanted = list(setting.aggregate_types or []) or known
        act = audit.Act(SCHEDULER, "root_checkpoint_created")
        for agg_type in wanted:
            if agg_type not in known:      # dropped from the spec since the settings
                out["skipped"] += 1
                continue
            item = _new(setting.instance_id, setting.environment, agg_type,
                        int(version.version), SCHEDULER.subject)
            note = audit.Note(f"{setting.instance_id}/{setting.environment}/{agg_type}",
                              {"root_checkpoint_id": item.id,
                               "spec_version": int(version.version), "automatic": True})
            act.commit(note, lambda tx, item=item: tx.save(
                item, condition=RootCheckpoint.id.does_not_exist()))
            out[run(item, version.spec)] += 1
            out["pruned"] += prune(setting.instance_id, setting.environment, agg_type,
                                   int(setting.retain))
    return out
