"""Executing a tombstone: queued work on the "work" queue (task "tombstone_execute"), in
slices that resume from a cursor saved on the tombstone, each slice holding a lease
taken with a conditional update (a second copy of the message finds it held and does
nothing; a crashed slice's lease runs out and the scheduled job sends the work again).

Phases (the cursor's "phase"):
1. plan: the aggregates to erase, the requested one first, then its cascade
   (`cascade`): every stream of a type whose `onTombstone.actor` is "cascade" that has
   an event whose metadata.actor is {type, id} of an aggregate being erased, and the same
   for `target`, transitively; a visited set stops loops. Cost: one Query of the type
   index per cascading type and one Query of every stream of those types (their events'
   metadata only): the cascade reads every event of the cascading types once.
2. erase, stream by stream: the head is marked {"status": "executing"} first (appends are
   refused from then on, so the length read after it is final), then every event is
   replaced by its marker (BatchWriteItem puts; position, type, created_at, content_hash
   and chain_hash kept; `data` and `metadata` gone; `tombstoned` = {"_was_tombstoned":
   true, "content_hash", "tombstone_id", "tombstoned_at"}), then the stream's
   StateSnapshots and checkpoints (and their S3 states) are deleted and the head's state
   emptied and marked {"status": "executed"}. A stream another tombstone already holds is
   left to it.
3. copies: root checkpoint files holding an erased aggregate are rewritten with its line
   replaced ({"id", "length", "state": {}, "merkle_root", "tombstoned": true}; manifest
   and record sha256/size updated); completed backups are rewritten with the erased events
   as markers, as the export now writes them (record sha256/size updated; the offsite
   copy, when the settings name one, overwritten); upload files of data loads no open job
   is reading are deleted. A root checkpoint, backup or load still being written is
   waited for (the slice is queued again WAIT_SECONDS later).
4. done: status executed and the audit entry "tombstone_executed", in one transaction.

Every step is idempotent: an event already a marker is not written again, a file with
no line left to erase is not rewritten, counts are saved with the cursor that passes
them."""
from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import tempfile
import time

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.identity import audit
from chalicelib.identity.principal import Principal
from chalicelib.store import aws, queues, specs
from chalicelib.store import checkpoints as checkpoint_store
from chalicelib.store.buckets import bucket_name
from chalicelib.store.conditions import update_if
from chalicelib.store.keys import scope_key, scope_type_key, stream_key
from chalicelib.store.tables import (
    Backup,
    BackupSetting,
    Job,
    RootCheckpoint,
    StateSnapshot,
    StoredEvent,
    StreamHead,
    Tombstone,
)

LEASE_SECONDS = 300          # a slice that saves nothing for this long is taken for dead
SLICE_SECONDS = 240.0        # work per message (the work queue's consumer allows 900 s)
SAVE_EVERY = 500             # events erased between cursor saves
WAIT_SECONDS = 30            # a copy still being written: look again this much later
MAX_CRASHES = 3
PREVIEW_EVENTS = 2000        # events a request may read to preview the cascade
UPLOAD_SECONDS = 3600        # a presigned upload's life (imports.service.UPLOAD_SECONDS)
TASK = "tombstone_execute"
ROLES = ("actor", "target")

_monotonic = time.monotonic


def enqueue(scope: str, tombstone_id: str, delay_seconds: int = 0) -> None:
    """Hand the execution to the work queue; if it cannot be reached the scheduled job
    sends it once the lease (due_at) has run out."""
    queues.offer("work", {"task": TASK, "scope": scope, "id": tombstone_id}, delay_seconds)


# --- the cascade ------------------------------------------------------------------------

class _OverBudget(Exception):
    pass


def rules(spec: dict) -> dict:
    """{role: [aggregate types whose onTombstone[role] is "cascade"]}."""
    out = {role: [] for role in ROLES}
    for agg_type, body in sorted((spec.get("aggregate_types") or {}).items()):
        on = (body or {}).get("onTombstone") or {}
        for role in ROLES:
            if on.get(role) == "cascade":
                out[role].append(agg_type)
    return out


def references(spec: dict, instance_id: str, env: str, budget: int | None = None) -> dict:
    """{(type, id) named as actor/target: {(type, id) of a cascading stream naming it}}."""
    cascading = rules(spec)
    refs: dict = {}
    read = 0
    for agg_type in sorted(set(cascading["actor"]) | set(cascading["target"])):
        roles = [r for r in ROLES if agg_type in cascading[r]]
        prefix = scope_type_key(instance_id, env, agg_type) + "#"
        for head in StreamHead.by_scope_type.query(scope_type_key(instance_id, env, agg_type),
                                                   attributes_to_get=["stream"]):
            agg_id = head.stream[len(prefix):]
            for event in StoredEvent.query(head.stream, attributes_to_get=["position",
                                                                           "metadata"]):
                read += 1
                if budget is not None and read > budget:
                    raise _OverBudget()
                metadata = event.metadata or {}
                for role in roles:
                    named = metadata.get(role)
                    if isinstance(named, dict) and isinstance(named.get("type"), str) \
                            and isinstance(named.get("id"), str):
                        refs.setdefault((named["type"], named["id"]), set()).add(
                            (agg_type, agg_id))
    return refs


def cascade(spec: dict, instance_id: str, env: str, agg_type: str, agg_id: str,
            budget: int | None = None) -> list[tuple[str, str]]:
    """The aggregate and every aggregate its erasure reaches, breadth first, each once."""
    refs = references(spec, instance_id, env, budget)
    order = [(agg_type, agg_id)]
    seen = {(agg_type, agg_id)}
    i = 0
    while i < len(order):
        for child in sorted(refs.get(order[i], ())):
            if child not in seen:
                seen.add(child)
                order.append(child)
        i += 1
    return order


def preview(spec: dict, instance_id: str, env: str, agg_type: str, agg_id: str) -> dict:
    """The cascade as it stands, when reading at most PREVIEW_EVENTS events finds it;
    else only the aggregate itself, marked incomplete (execution computes it whole)."""
    try:
        found = cascade(spec, instance_id, env, agg_type, agg_id, PREVIEW_EVENTS)
        return {"aggregates": [list(a) for a in found], "complete": True}
    except _OverBudget:
        return {"aggregates": [[agg_type, agg_id]], "complete": False}


# --- markers ----------------------------------------------------------------------------

def marker(content_hash: str, tombstone_id: str, tombstoned_at: float) -> dict:
    return {"_was_tombstoned": True, "content_hash": content_hash,
            "tombstone_id": tombstone_id, "tombstoned_at": clock.iso(tombstoned_at)}


def erased(event: StoredEvent, tombstone_id: str, tombstoned_at: float) -> StoredEvent:
    return StoredEvent(stream=event.stream, position=event.position,
                       event_type=event.event_type, data=None, metadata=None,
                       created_at=event.created_at, content_hash=event.content_hash,
                       chain_hash=event.chain_hash,
                       tombstoned=marker(event.content_hash, tombstone_id, tombstoned_at))


def head_marker(status: str, tombstone_id: str, at: float) -> dict:
    return {"status": status, "tombstone_id": tombstone_id, "tombstoned_at": at}


# --- one stream -------------------------------------------------------------------------

def mark(stream: str, scope_type: str, tombstone_id: str, now: float) -> bool | None:
    """Mark the head "executing" for this tombstone (creating an empty one, so the id
    takes no events afterwards); False when another tombstone holds the stream, None
    while a data load holds it (its events are written outside a transaction: wait)."""
    for _ in range(10):
        try:
            head = StreamHead.get(stream, consistent_read=True)
        except StreamHead.DoesNotExist:
            head = None
        if head is not None and head.tombstoned is not None:
            return head.tombstoned.get("tombstone_id") == tombstone_id
        if head is not None and head.load_until is not None and head.load_until >= now:
            return None
        value = head_marker("executing", tombstone_id, now)
        if head is None:
            ok = update_if(StreamHead(stream=stream),
                           [StreamHead.scope_type.set(scope_type), StreamHead.length.set(0),
                            StreamHead.created_at.set(now), StreamHead.updated_at.set(now),
                            StreamHead.tombstoned.set(value)],
                           StreamHead.stream.does_not_exist())
        else:
            ok = update_if(StreamHead(stream=stream), [StreamHead.tombstoned.set(value)],
                           StreamHead.stream.exists() & StreamHead.tombstoned.does_not_exist()
                           & (StreamHead.load_until.does_not_exist()
                              | (StreamHead.load_until < now)))
        if ok:
            return True
    raise AppError("CONCURRENT_WRITE", f"the head of {stream} kept changing")


def erase_events(stream: str, start: int, tombstone_id: str, tombstoned_at: float,
                 until: float | None = None, on_progress=None) -> tuple[int, bool]:
    """Replace every event from `start` by its marker; (next position, finished)."""
    position = start
    batch: list = []

    def flush():
        if batch:
            with StoredEvent.batch_write() as writer:
                for item in batch:
                    writer.save(item)
            batch.clear()
    since_save = 0
    for event in StoredEvent.query(stream, StoredEvent.position >= start, consistent_read=True):
        if event.tombstoned is None:
            batch.append(erased(event, tombstone_id, tombstoned_at))
            if len(batch) >= 25:
                flush()
        position = int(event.position) + 1
        since_save += 1
        if since_save >= SAVE_EVERY:
            flush()
            since_save = 0
            if on_progress is not None:
                on_progress(position)
            if until is not None and _monotonic() > until:
                return position, False
    flush()
    return position, True


def finish_stream(stream: str, tombstone_id: str, tombstoned_at: float) -> dict:
    """The copies of the stream's payloads kept beside its events go: state snapshots,
    checkpoints (and their S3 states); the head's state is emptied and marked executed."""
    snapshots = 0
    with StateSnapshot.batch_write() as writer:
        for snap in StateSnapshot.query(stream, attributes_to_get=["stream", "length"]):
            writer.delete(snap)
            snapshots += 1
    checkpoints = checkpoint_store.drop_stream(stream)
    update_if(StreamHead(stream=stream),
              [StreamHead.state.set({}), StreamHead.snapshot_length.remove(),
               StreamHead.tombstoned.set(head_marker("executed", tombstone_id,
                                                     tombstoned_at))],
              StreamHead.stream.exists())
    head = StreamHead.get(stream, consistent_read=True)
    return {"events": int(head.length), "snapshots_deleted": snapshots,
            "checkpoints_deleted": checkpoints}


# --- copies in S3 -----------------------------------------------------------------------

def _s3():
    return aws.client("s3")


def _spool(bucket: str, key: str):
    """The object in a temporary file, and the SHA-256 of its bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    digest = hashlib.sha256()
    body = _s3().get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(1024 * 1024), b""):
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    return spool, digest.hexdigest()


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("NoSuchKey", "404", "NotFound")


def _put(bucket: str, key: str, spool, content_type: str) -> tuple[int, str]:
    spool.seek(0)
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: spool.read(1024 * 1024), b""):
        digest.update(chunk)
        size += len(chunk)
    spool.seek(0)
    _s3().upload_fileobj(spool, bucket, key, ExtraArgs={"ContentType": content_type})
    return size, digest.hexdigest()


def rewrite_root_checkpoint(item: RootCheckpoint, ids: set) -> bool:
    """Replace the lines of erased aggregates; True when the file changed."""
    bucket = bucket_name(checkpoint_store.BUCKET)
    try:
        source, before = _spool(bucket, item.s3_key)
    except Exception as exc:  # noqa: BLE001
        if _missing(exc):
            return False
        raise
    changed = False
    with source, tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as out:
        with gzip.GzipFile(fileobj=source, mode="rb") as lines, \
                gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as writer:
            for raw in lines:
                if not raw.strip():
                    continue
                line = json.loads(raw)
                if line.get("id") in ids and not line.get("tombstoned"):
                    line = {"id": line["id"], "length": line.get("length"), "state": {},
                            "merkle_root": line.get("merkle_root"), "tombstoned": True}
                    changed = True
                    raw = (json.dumps(line, separators=(",", ":"), ensure_ascii=False)
                           + "\n").encode()
                writer.write(raw)
        if changed:
            size, sha = _put(bucket, item.s3_key, out, "application/gzip")
        else:
            size, sha = int(item.size or 0), before
    if changed or sha != item.sha256:
        try:
            manifest = json.loads(_s3().get_object(Bucket=bucket,
                                                   Key=item.manifest_key)["Body"].read())
            manifest.update({"sha256": sha, "size": size})
            _s3().put_object(Bucket=bucket, Key=item.manifest_key,
                             Body=json.dumps(manifest, indent=2).encode(),
                             ContentType="application/json")
        except Exception as exc:  # noqa: BLE001
            if not _missing(exc):
                raise
        item.update(actions=[RootCheckpoint.sha256.set(sha), RootCheckpoint.size.set(size)])
    return changed


def rewrite_backup(item: Backup, streams: set, tombstone_id: str,
                   tombstoned_at: float) -> bool:
    """Replace the events of erased aggregates by markers (the line the export writes
    for a tombstoned event); True when the file changed. The offsite copy, when the
    settings name one and the backup was copied there, is overwritten too."""
    bucket = bucket_name("backups")
    try:
        source, before = _spool(bucket, item.s3_key)
    except Exception as exc:  # noqa: BLE001
        if _missing(exc):
            return False
        raise
    changed = False
    with source, tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as out:
        for raw in source:
            if not raw.strip():
                continue
            line = json.loads(raw)
            if (line.get("aggregate_type"), line.get("aggregate_id")) in streams \
                    and line.get("tombstoned") is None and line.get("content_hash"):
                line = {"aggregate_type": line["aggregate_type"],
                        "aggregate_id": line["aggregate_id"], "position": line.get("position"),
                        "event_type": line.get("event_type"),
                        "tombstoned": marker(line["content_hash"], tombstone_id,
                                             tombstoned_at),
                        "metadata": None, "created_at": line.get("created_at"),
                        "content_hash": line["content_hash"],
                        "chain_hash": line.get("chain_hash")}
                raw = (json.dumps(line, separators=(",", ":"), ensure_ascii=False)
                       + "\n").encode()
                changed = True
            out.write(raw)
        if changed:
            size, sha = _put(bucket, item.s3_key, out, "application/x-ndjson")
        else:
            size, sha = int(item.size or 0), before
    if changed or sha != item.sha256:
        item.update(actions=[Backup.sha256.set(sha), Backup.size.set(size)])
    if changed and item.offsite_status == "completed":
        _rewrite_offsite(item)
    return changed


def _rewrite_offsite(item: Backup) -> bool:
    """The offsite copy where the backup settings put it: <prefix>/<backup key>."""
    try:
        offsite = BackupSetting.get(item.instance_id, consistent_read=True).offsite
    except BackupSetting.DoesNotExist:
        offsite = None
    if not offsite or not offsite.get("bucket"):
        return False
    prefix = (offsite.get("prefix") or "").strip("/")
    try:
        _s3().copy({"Bucket": bucket_name("backups"), "Key": item.s3_key}, offsite["bucket"],
                   f"{prefix}/{item.s3_key}" if prefix else item.s3_key)
        return True
    except Exception:  # noqa: BLE001 - reported by the count, logged
        from chalicelib.core.observability import logger
        logger.exception("offsite backup rewrite failed", extra={"backup_id": item.id})
        return False


def _scrubbed(report, tombstone_id: str):
    """A load's list of refused lines with each validator message replaced (a message
    may quote the value it refused); None when there was nothing to replace."""
    if not isinstance(report, dict) or not report.get("invalid"):
        return None
    note = f"(message erased by tombstone {tombstone_id}: it may have quoted erased data)"
    if all(isinstance(x, dict) and x.get("error") == note for x in report["invalid"]):
        return None
    return {**report, "invalid": [{**x, "error": note} if isinstance(x, dict) else note
                                  for x in report["invalid"]]}


def scrub_load_reports(instance_id: str, env: str, tombstone_id: str) -> int:
    """Finished data loads of the environment report the lines they refused with the
    validator's message, which may quote a refused value: those messages are replaced
    (line numbers kept). The number of jobs changed."""
    changed = 0
    for job in Job.query(scope_key(instance_id, env), consistent_read=True):
        if job.status not in ("completed", "failed"):
            continue
        actions = []
        for name in ("result", "cursor"):
            new = _scrubbed(getattr(job, name), tombstone_id)
            if new is not None:
                actions.append(getattr(Job, name).set(new))
        if actions:
            job.update(actions=actions)
            changed += 1
    return changed


# --- the execution ----------------------------------------------------------------------

class LeaseLost(Exception):
    """Another slice holds the tombstone now: stop without writing anything more."""


class _Work:
    def __init__(self, t: Tombstone, owner: str, deadline: float):
        self.t = t
        self.owner = owner
        self.deadline = deadline
        self.cursor = dict(t.cursor or {})
        self.counts = dict(t.counts or {})
        self.at = float(t.started_at or clock.now())

    @property
    def scope(self) -> tuple[str, str]:
        return self.t.instance_id, self.t.environment

    def save(self, plan: list | None = None) -> None:
        now = clock.now()
        actions = [Tombstone.cursor.set(self.cursor), Tombstone.counts.set(self.counts),
                   Tombstone.lease_until.set(now + LEASE_SECONDS),
                   Tombstone.due_at.set(now + LEASE_SECONDS)]
        if plan is not None:
            actions.append(Tombstone.plan.set(plan))
        if not update_if(self.t, actions, (Tombstone.lease_owner == self.owner)
                         & (Tombstone.status == "executing")):
            raise LeaseLost()

    def add(self, name: str, n: int) -> None:
        self.counts[name] = int(self.counts.get(name, 0)) + int(n)

    def out_of_time(self) -> bool:
        return _monotonic() > self.deadline

    def run(self) -> str:
        phase = self.cursor.get("phase", "plan")
        if phase == "plan":
            self.plan_it()
        if self.cursor["phase"] == "erase":
            outcome = self.erase()
            if outcome != "done":
                return outcome
        if self.cursor["phase"] == "copies":
            outcome = self.copies()
            if outcome != "done":
                return outcome
        self.finish()
        return "done"

    # phase 1
    def plan_it(self) -> None:
        instance_id, env = self.scope
        version = specs.current(instance_id, env)
        spec = version.spec if version is not None else {}
        plan = [list(a) for a in cascade(spec, instance_id, env, self.t.aggregate_type,
                                         self.t.aggregate_id)]
        types = sorted((spec.get("aggregate_types") or {}))
        self.cursor = {"phase": "erase", "i": 0, "pos": 0, "marked": None, "types": types}
        self.t.plan = plan
        self.save(plan)

    # phase 2
    def erase(self) -> str:
        instance_id, env = self.scope
        plan = self.t.plan or []
        types = set(self.cursor.get("types") or [])
        tid = self.t.id
        while self.cursor["i"] < len(plan):
            if self.out_of_time():
                self.save()
                return "more"
            agg_type, agg_id = plan[self.cursor["i"]]
            if agg_type not in types:      # an agent or target type: no stream of its own
                self.next_stream()
                continue
            stream = stream_key(instance_id, env, agg_type, agg_id)
            if self.cursor.get("marked") != self.cursor["i"]:
                marked = mark(stream, scope_type_key(instance_id, env, agg_type), tid,
                              clock.now())
                if marked is None:        # a data load holds the stream: look again later
                    self.save()
                    return "wait"
                if not marked:
                    self.add("streams_held_elsewhere", 1)
                    self.next_stream()
                    continue
                self.cursor["marked"] = self.cursor["i"]
                self.save()

            def progress(position):
                self.cursor["pos"] = position
                self.save()
            position, finished = erase_events(stream, int(self.cursor.get("pos") or 0), tid,
                                              self.at, self.deadline, progress)
            self.cursor["pos"] = position
            if not finished:
                self.save()
                return "more"
            done = finish_stream(stream, tid, self.at)
            self.add("streams", 1)
            for name, n in done.items():
                self.add(name, n)
            self.next_stream()
        self.cursor = {"phase": "copies", "step": "root_checkpoints", "done": []}
        self.save()
        return "done"

    def next_stream(self) -> None:
        self.cursor.update({"i": self.cursor["i"] + 1, "pos": 0, "marked": None})
        self.save()

    # phase 3
    def copies(self) -> str:
        instance_id, env = self.scope
        plan = [tuple(a) for a in (self.t.plan or [])]
        ids_by_type: dict = {}
        for agg_type, agg_id in plan:
            ids_by_type.setdefault(agg_type, set()).add(agg_id)
        scope = scope_key(instance_id, env)
        done = set(self.cursor.get("done") or [])
        if self.cursor["step"] == "root_checkpoints":
            for item in RootCheckpoint.query(scope, consistent_read=True):
                if item.aggregate_type not in ids_by_type or item.id in done:
                    continue
                if item.status in ("pending", "running"):
                    self.save()
                    return "wait"
                if item.status == "completed" and rewrite_root_checkpoint(
                        item, ids_by_type[item.aggregate_type]):
                    self.add("root_checkpoints_rewritten", 1)
                done.add(item.id)
                self.cursor["done"] = sorted(done)
                self.save()
                if self.out_of_time():
                    return "more"
            self.cursor.update({"step": "backups", "done": []})
            done = set()
            self.save()
        if self.cursor["step"] == "backups":
            for item in Backup.query(scope, consistent_read=True):
                if item.id in done:
                    continue
                if item.status in ("pending", "running"):
                    self.save()
                    return "wait"
                if item.status == "completed" and rewrite_backup(item, set(plan), self.t.id,
                                                                 self.at):
                    self.add("backups_rewritten", 1)
                    if item.offsite_status == "completed":
                        self.add("offsite_backups_rewritten", 1)
                done.add(item.id)
                self.cursor["done"] = sorted(done)
                self.save()
                if self.out_of_time():
                    return "more"
            self.cursor.update({"step": "uploads", "done": []})
            self.save()
        if self.cursor["step"] == "uploads":
            outcome = self.uploads()
            if outcome != "done":
                return outcome
            self.cursor.update({"step": "jobs", "done": []})
            self.save()
        if self.cursor["step"] == "jobs":
            self.add("job_reports_scrubbed", scrub_load_reports(instance_id, env, self.t.id))
        self.cursor = {"phase": "done"}
        self.save()
        return "done"

    def uploads(self) -> str:
        """Files of data loads of the environment: deleted unless an open job reads them
        (then waited for). A file uploaded but not yet loaded goes too: it may hold what
        is erased (it must be uploaded again)."""
        instance_id, env = self.scope
        bucket = bucket_name("uploads")
        open_keys = set()
        for job in Job.query(scope_key(instance_id, env), consistent_read=True):
            source = (job.params or {}).get("source") or {}
            if job.status in ("pending", "running") and source.get("bucket") == bucket:
                open_keys.add(source.get("key"))
        paginator = _s3().get_paginator("list_objects_v2")
        waiting = False
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{instance_id}/{env}/"):
            for obj in page.get("Contents", []):
                if obj["Key"] in open_keys:
                    waiting = True
                    continue
                _s3().delete_object(Bucket=bucket, Key=obj["Key"])
                self.add("uploads_deleted", 1)
        if waiting:
            self.save()
            return "wait"
        return "done"

    # phase 4
    def finish(self) -> None:
        t = self.t
        now = clock.now()
        plan = t.plan or []
        started_by = t.started_by or "system:scheduler"
        actor = Principal(subject=started_by,
                          kind="system" if started_by.startswith("system:") else "operator")
        act = audit.Act(actor, "tombstone_executed")
        note = audit.Note(f"{t.instance_id}/{t.environment}/{t.aggregate_type}/{t.aggregate_id}",
                          {"tombstone_id": t.id, "aggregate_type": t.aggregate_type,
                           "aggregate_id": t.aggregate_id, "legal_basis": t.legal_basis,
                           "requested_by": t.requested_by,
                           "requested_actor": t.requested_actor,
                           "requested_at": clock.iso(t.requested_at),
                           "executed_by": started_by, "executed_at": clock.iso(now),
                           "streams_erased": int(self.counts.get("streams", 0)),
                           "events_erased": int(self.counts.get("events", 0)),
                           "aggregates": [{"aggregate_type": a, "aggregate_id": b}
                                          for a, b in plan[:100]],
                           "aggregates_total": len(plan),
                           "copies": {k: v for k, v in self.counts.items()
                                      if k not in ("streams", "events")}})

        def write(tx):
            tx.update(t, actions=[Tombstone.status.set("executed"),
                                  Tombstone.executed_at.set(now),
                                  Tombstone.counts.set(self.counts),
                                  Tombstone.cursor.set({"phase": "done"}),
                                  Tombstone.work.remove(), Tombstone.due_at.remove(),
                                  Tombstone.lease_owner.remove(),
                                  Tombstone.lease_until.remove()],
                      condition=(Tombstone.lease_owner == self.owner)
                      & (Tombstone.status == "executing"))
        if not act.commit(note, write):
            raise LeaseLost()


def run(message: dict) -> str:
    """One slice of an execution (the queue task): "executed", "more" / "wait" (queued
    again), or why it did nothing ("skipped", "busy")."""
    scope, tombstone_id = message["scope"], message["id"]
    try:
        t = Tombstone.get(scope, tombstone_id, consistent_read=True)
    except Tombstone.DoesNotExist:
        return "gone"
    if t.status != "executing":
        return "skipped"
    owner = secrets.token_hex(8)
    now = clock.now()
    if not update_if(t, [Tombstone.lease_owner.set(owner),
                         Tombstone.lease_until.set(now + LEASE_SECONDS),
                         Tombstone.due_at.set(now + LEASE_SECONDS)],
                     (Tombstone.status == "executing")
                     & (Tombstone.lease_until.does_not_exist() | (Tombstone.lease_until < now))):
        return "busy"
    t.refresh(consistent_read=True)
    work = _Work(t, owner, _monotonic() + SLICE_SECONDS)
    try:
        outcome = work.run()
    except LeaseLost:
        return "lease lost"
    except Exception as exc:
        _crashed(t, owner, exc)
        raise
    if outcome == "done":
        return "executed"
    _release(t, owner)
    enqueue(scope, tombstone_id, WAIT_SECONDS if outcome == "wait" else 0)
    return outcome


def _release(t: Tombstone, owner: str) -> None:
    update_if(t, [Tombstone.lease_owner.remove(), Tombstone.lease_until.remove()],
              Tombstone.lease_owner == owner)


def _crashed(t: Tombstone, owner: str, exc: Exception) -> None:
    """A slice that raised: the message comes back; after MAX_CRASHES it is failed (the
    streams marked so far stay closed to appends; POST .../execute runs it again)."""
    crashes = int(t.crashes or 0) + 1
    reason = f"{type(exc).__name__}: {exc}"[:500]
    if crashes >= MAX_CRASHES:
        update_if(t, [Tombstone.status.set("failed"), Tombstone.error.set(reason),
                      Tombstone.crashes.set(crashes), Tombstone.work.remove(),
                      Tombstone.due_at.remove(), Tombstone.lease_owner.remove(),
                      Tombstone.lease_until.remove()],
                  Tombstone.lease_owner == owner)
    else:
        update_if(t, [Tombstone.crashes.set(crashes), Tombstone.error.set(reason),
                      Tombstone.lease_owner.remove(), Tombstone.lease_until.remove()],
                  Tombstone.lease_owner == owner)


# --- a backup restore -------------------------------------------------------------------

def reapply(instance_id: str, target_env: str, source_env: str | None = None) -> int:
    """After a restore into `target_env`: every executed tombstone of the target and of
    the backup's environment is applied again to what the restore wrote (events still
    holding payloads become markers, states go, heads are marked): a backup made before
    an erasure never brings the data back. The number of streams touched."""
    touched = 0
    for env in dict.fromkeys([target_env, source_env or target_env]):
        for t in Tombstone.query(scope_key(instance_id, env), consistent_read=True,
                                 filter_condition=Tombstone.status == "executed"):
            at = float(t.started_at or t.executed_at or clock.now())
            version = specs.current(instance_id, target_env)
            types = set(((version.spec if version else {}) or {}).get("aggregate_types") or {})
            for agg_type, agg_id in t.plan or []:
                if agg_type not in types:
                    continue
                stream = stream_key(instance_id, target_env, agg_type, agg_id)
                try:
                    StreamHead.get(stream, consistent_read=True)
                except StreamHead.DoesNotExist:
                    continue
                update_if(StreamHead(stream=stream),
                          [StreamHead.tombstoned.set(head_marker("executing", t.id, at))],
                          StreamHead.stream.exists())
                erase_events(stream, 0, t.id, at)
                finish_stream(stream, t.id, at)
                touched += 1
    return touched
