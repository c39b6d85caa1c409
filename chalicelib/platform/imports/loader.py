"""Loading events into an environment from JSON Lines in S3: the work of the `import`,
`import_jsonl`, `cold_start` and backup-restore jobs (and, inline, of `inject`).

One line is one event in the export's shape (store/event_log.line): `aggregate_type`,
`aggregate_id`, `event_type`, `data`, `metadata` (with its `actor`), and for historical
events `position`, `created_at` (unix seconds), `content_hash`, `chain_hash`; a
tombstoned event carries `tombstoned` and its original `content_hash` instead of `data`.
An export (or a backup) therefore feeds back in unchanged.

Two passes over the file, each streamed (one S3 range read from the saved offset; the
memory held is one chunk), each resumable from its cursor:
1. validate: every line is parsed and checked against the spec (event type, schema,
   metadata, identifiers, hashes it carries). Bad lines are reported with their line
   numbers. Unless `skip_invalid`, one bad line fails the job and nothing is applied.
2. apply: lines are taken in chunks; each chunk's events are folded onto their streams'
   heads with the data plane's own step (store/streams.advance), so the state, hash chain
   and Merkle tiles are exactly those of appending the same events live. Per chunk:
   - one BatchGetItem of the heads, and of stored events a line's position says are
     already there (a rerun: they must be the same event, and are skipped);
   - one transaction holding the chunk's streams (`load_lock` until a minute ahead,
     conditional on each head's length): appends to them wait until it lets go;
   - the events by BatchWriteItem, 25 per call;
   - one transaction writing the heads (conditional on our hold), the Merkle tiles, the
     event counters and the job's cursor and progress (conditional on the job's lease).
   A crash anywhere leaves either the chunk undone (its events rewritten identically on
   resume) or done with the cursor past it: a resumed job ends with exactly the file's
   events, and running the same file again writes nothing.

A line with a `position` goes there: below the stream's length it must be the stored
event (else it is refused), above it is a gap (refused). A line without one is appended.
Implications are not run: an export already holds the events they implied."""
from __future__ import annotations

import json
from dataclasses import dataclass

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain import events as ev
from chalicelib.store import aws, keys
from chalicelib.store.streams import (
    Head,
    materialize,
    advance,
    check_data,
    check_id,
    check_metadata,
    event_definition,
)
from chalicelib.store.tables import MerkleTile, StoredEvent, StreamHead, StreamTypeCounter

MAX_REPORTED = 100          # bad lines listed in a job's result (all are counted)
MAX_LINE_BYTES = 400_000    # one event must fit a DynamoDB item
CHUNK_LINES = 2_500         # lines per chunk at most
CHUNK_STREAMS = 25          # streams per chunk at most: their heads share two transactions
MAX_TX_ITEMS = 100
MAX_TX_BYTES = 3_500_000
HOLD_SECONDS = 60
READ_BLOCK = 256 * 1024      # bytes per ranged GET of the file


class BadLine(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Line:
    number: int               # 1-based
    agg_type: str
    agg_id: str
    event_type: str
    data: object
    metadata: dict
    position: int | None
    created_at: float | None
    content_hash: str | None
    chain_hash: str | None
    tombstoned: object
    size: int
    end: int = 0              # byte offset just past the line in its file

    @property
    def stream_key(self) -> tuple[str, str]:
        return self.agg_type, self.agg_id


# --- reading a file ---------------------------------------------------------------------

def lines_from(bucket: str, key: str, offset: int = 0):
    """(line bytes without its newline, offset just past it), from byte `offset` on,
    streamed a block at a time: each block is one ranged GET read to its end before its
    lines are used, so no S3 response stays open while the lines are written (the
    embedded AWS of `make run` serves one request at a time, and a body it is still
    sending would hold back every other call)."""
    s3 = aws.client("s3")
    try:
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except Exception:  # noqa: BLE001 - missing or unreadable: the job says so
        raise AppError("JOB_FAILED", f"the file to load is not in S3 (s3://{bucket}/{key})")
    pending = b""
    at = pos = offset
    while pos < size:
        end = min(pos + READ_BLOCK, size) - 1
        block = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={pos}-{end}")["Body"].read()
        if not block:
            break
        pos += len(block)
        pending += block
        start = 0
        while True:
            newline = pending.find(b"\n", start)
            if newline < 0:
                break
            at += newline + 1 - start
            yield pending[start:newline], at
            start = newline + 1
        pending = pending[start:]
        if len(pending) > MAX_LINE_BYTES * 4:   # a line too long to ever be an event
            at += len(pending)
            yield pending[:MAX_LINE_BYTES + 1], at
            pending = b""
    if pending:
        at += len(pending)
        yield pending, at


# --- one line ---------------------------------------------------------------------------

_FIELDS = {"aggregate_type", "aggregate_id", "event_type", "data", "metadata", "position",
           "created_at", "content_hash", "chain_hash", "tombstoned", "stream_id", "timestamp"}


def parse(raw: bytes, number: int, spec: dict, historical: bool) -> Line | None:
    """The line as an event to load, None for a blank line, or BadLine with the reason.
    `historical`: positions and timestamps are taken from the line (import, restore);
    otherwise the event is appended now (inject)."""
    if not raw.strip():
        return None
    if len(raw) > MAX_LINE_BYTES:
        raise BadLine(f"longer than {MAX_LINE_BYTES} bytes")
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadLine("not a JSON object")
    return check(record, number, spec, historical, len(raw))


def check(record, number: int, spec: dict, historical: bool, size: int = 0) -> Line:
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise BadLine(f"unknown field '{unknown[0]}'")
    for name in ("aggregate_type", "aggregate_id", "event_type"):
        if not isinstance(record.get(name), str) or not record[name]:
            raise BadLine(f"{name} must be a non-empty string")
    metadata = record.get("metadata")
    tombstoned = record.get("tombstoned")
    if tombstoned is not None and metadata is None:
        pass      # a tombstone erased the event's metadata with its data
    elif not isinstance(metadata, dict):
        raise BadLine("metadata must be an object with the event's actor")
    else:
        actor = metadata.get("actor")
        if not (isinstance(actor, dict) and isinstance(actor.get("type"), str)
                and isinstance(actor.get("id"), str)):
            raise BadLine("metadata.actor must be {\"type\", \"id\"}")
    content_hash = record.get("content_hash")
    for name in ("content_hash", "chain_hash"):
        value = record.get(name)
        if value is not None and not (isinstance(value, str) and len(value) == 64
                                      and all(c in "0123456789abcdef" for c in value)):
            raise BadLine(f"{name} must be 64 lowercase hex characters")
    position = record.get("position")
    created_at = record.get("created_at", record.get("timestamp"))
    if historical:
        if position is not None and (not isinstance(position, int) or isinstance(position, bool)
                                     or position < 0):
            raise BadLine("position must be an integer >= 0")
        if created_at is not None and (not isinstance(created_at, (int, float))
                                       or isinstance(created_at, bool) or created_at < 0
                                       or created_at > 32503680000):
            raise BadLine("created_at must be unix seconds")
    else:
        position = created_at = None
    agg_type, agg_id, event_type = (record["aggregate_type"], record["aggregate_id"],
                                    record["event_type"])
    try:
        check_id(spec, agg_id, "aggregate_id")
        definition = event_definition(spec, agg_type, event_type)
        if tombstoned is None:
            if "data" not in record:
                raise BadLine("data is missing")
            check_data(definition, record["data"], "$")
            check_metadata(spec, metadata, "$")
    except AppError as exc:
        raise BadLine(exc.message)
    if tombstoned is not None:
        if not historical or content_hash is None or created_at is None:
            raise BadLine("a tombstoned event needs its content_hash and created_at")
    elif content_hash is not None:
        if created_at is None:
            raise BadLine("content_hash given without the created_at it was computed with")
        if ev.content_hash(event_type, record["data"], metadata, created_at).hex() != content_hash:
            raise BadLine("content_hash does not match the event")
    return Line(number, agg_type, agg_id, event_type, record.get("data"), metadata, position,
                None if created_at is None else float(created_at), content_hash,
                record.get("chain_hash"), tombstoned, size)


# --- the job ----------------------------------------------------------------------------

def run(job, spec_of, source: tuple[str, str], *, historical: bool, skip_invalid: bool,
        before_apply=None):
    """One slice of a load job (store/jobs.Run): "more", or the result. `spec_of()` is
    the spec in force in the target environment; `before_apply(job)` runs once, between
    the two passes (cold_start's emptiness check, a restore's clearing)."""
    cursor = job.cursor
    cursor.setdefault("phase", "validate")
    spec = spec_of()
    bucket, key = source
    if cursor["phase"] == "validate":
        outcome = _validate(job, spec, bucket, key, historical)
        if outcome == "more":
            return "more"
        if cursor["bad"] and not skip_invalid:
            job.save()
            raise AppError("JOB_FAILED", f"{cursor['bad']} of {cursor['lines']} lines are not "
                           "valid events; nothing was applied (see the result's invalid "
                           "lines, or load with skip_invalid=true)",
                           extra={"invalid": cursor["invalid"]})
        if before_apply is not None:
            before_apply(job)
        cursor.update({"phase": "apply", "offset": 0, "line": 0})
        job.progress(done=0, total=cursor["lines"] - cursor["bad"], save=True)
    try:
        outcome = _apply(job, spec, bucket, key, historical)
    except _Contended:    # an append got in between: this chunk again, on fresh heads
        return "more"
    if outcome == "more":
        return "more"
    return {"lines": cursor["lines"], "applied": cursor.get("applied", 0),
            "already_present": cursor.get("present", 0), "invalid_count": cursor["bad"],
            "invalid": cursor["invalid"], "streams": cursor.get("streams", 0)}


def _validate(job, spec, bucket, key, historical) -> str:
    c = job.cursor
    c.setdefault("offset", 0)
    c.setdefault("line", 0)
    c.setdefault("lines", 0)
    c.setdefault("bad", 0)
    c.setdefault("invalid", [])
    for raw, end in lines_from(bucket, key, c["offset"]):
        c["line"] += 1
        try:
            if parse(raw, c["line"], spec, historical) is not None:
                c["lines"] += 1
        except BadLine as exc:
            c["lines"] += 1
            c["bad"] += 1
            if len(c["invalid"]) < MAX_REPORTED:
                c["invalid"].append({"line": c["line"], "error": exc.message})
        c["offset"] = end
        job.progress(done=c["lines"], bytes_done=end)
        if job.time_left() < 5:
            job.save()
            return "more"
    job.save()
    return "done"


def _items_for(events: int) -> int:
    """Transaction items one stream with `events` new events needs, at most: its head, a
    snapshot, a Merkle tile per TILE_WIDTH events plus one it may end in and one above."""
    from chalicelib.domain.merkle import TILE_WIDTH
    return 2 + -(-events // TILE_WIDTH) + 2


def _apply(job, spec, bucket, key, historical) -> str:
    """Chunks are cut so that their writes fit one transaction (MAX_TX_ITEMS, counting
    the Merkle tiles each stream's events fill), at most CHUNK_STREAMS streams and
    CHUNK_LINES lines; an oversized plan is still halved by _commit_chunk."""
    c = job.cursor
    chunk: list[Line] = []
    streams: dict = {}
    chunk_end = c["offset"]
    line_no = c["line"]
    fixed = 8                      # counters, usage totals, the job
    for raw, end in lines_from(bucket, key, c["offset"]):
        line_no += 1
        try:
            parsed = parse(raw, line_no, spec, historical)
        except BadLine:
            parsed = None        # reported by the first pass; skip_invalid lets it go
        if parsed is not None:
            parsed.end = end
            n = streams.get(parsed.stream_key, 0)
            grown = (sum(_items_for(k) for k in streams.values()) + fixed
                     - (_items_for(n) if n else 0) + _items_for(n + 1))
            if chunk and (grown > MAX_TX_ITEMS or (
                    parsed.stream_key not in streams and len(streams) >= CHUNK_STREAMS)):
                _commit_chunk(job, spec, chunk, chunk_end, line_no - 1)
                chunk, streams = [], {}
                if job.time_left() < 10:
                    return "more"
            chunk.append(parsed)
            streams[parsed.stream_key] = streams.get(parsed.stream_key, 0) + 1
        chunk_end = end
        if len(chunk) >= CHUNK_LINES:
            _commit_chunk(job, spec, chunk, chunk_end, line_no)
            chunk, streams = [], {}
            if job.time_left() < 10:
                return "more"
    _commit_chunk(job, spec, chunk, chunk_end, line_no)
    return "done"


def _commit_chunk(job, spec, chunk: list[Line], end: int, line_no: int) -> None:
    """Apply the chunk's lines (the heads of at most CHUNK_STREAMS streams) and move the
    cursor past it, as described in the module's docstring."""
    c = job.cursor
    instance_id, env = job.job.instance_id, job.job.environment
    if not chunk:
        c.update({"offset": end, "line": line_no})
        job.save()
        return
    plan = _plan(instance_id, env, spec, chunk, job)
    while plan.items() > MAX_TX_ITEMS or plan.bytes() > MAX_TX_BYTES:
        if len(chunk) == 1:
            raise AppError("JOB_FAILED", f"line {chunk[0].number}: its stream's head and "
                           "tiles do not fit one transaction")
        half = len(chunk) // 2     # rare: large states or many tiles; commit in halves
        _commit_chunk(job, spec, chunk[:half], chunk[half - 1].end, chunk[half - 1].number)
        chunk = chunk[half:]
        plan = _plan(instance_id, env, spec, chunk, job)
    now = clock.now()
    _hold(job, plan, now)
    _batch_put(plan.events)
    _write_heads(job, plan, instance_id, env, end, line_no, now)


@dataclass
class Plan:
    heads: dict           # stream -> Head after the chunk
    originals: dict       # stream -> (length, restores) before
    events: list
    tiles: dict           # (stream, tile) -> [hex]
    counts: dict          # "<type>.<event>" -> n
    present: int

    def items(self) -> int:   # heads (and a snapshot each at most), tiles, counters, job
        return 2 * len(self.heads) + len(self.tiles) + len(self.counts) + 3

    def bytes(self) -> int:
        return sum(len(ev.canonical(h.state)) for h in self.heads.values()) + sum(
            64 * len(v) for v in self.tiles.values())


def _plan(instance_id: str, env: str, spec: dict, chunk: list[Line], job) -> Plan:
    order: list[str] = []
    for line in chunk:
        stream = keys.stream_key(instance_id, env, line.agg_type, line.agg_id)
        if stream not in order:
            order.append(stream)
    heads = {s: materialize(h, spec) for s, h in _read_heads(instance_id, env, chunk,
                                                             order).items()}
    originals = {s: (h.length, h.restores) for s, h in heads.items()}
    stored = _stored_at(instance_id, env, chunk, originals)
    events, tiles, counts, present = [], {}, {}, 0
    now = round(clock.now(), 3)
    for line in chunk:
        stream = keys.stream_key(instance_id, env, line.agg_type, line.agg_id)
        head = heads[stream]
        if line.position is not None and line.position < head.length:
            found = stored.get((stream, line.position))
            if found is None or not _same(found, line):
                raise AppError("JOB_FAILED", f"line {line.number}: position {line.position} "
                               f"of {line.agg_type}/{line.agg_id} holds another event")
            present += 1
            continue
        if head.tombstoned is not None:
            raise AppError("JOB_FAILED", f"line {line.number}: {line.agg_type}/{line.agg_id} "
                           f"was erased by tombstone {head.tombstoned.get('tombstone_id')}; "
                           "it takes no more events")
        if line.position is not None and line.position > head.length:
            raise AppError("JOB_FAILED", f"line {line.number}: position {line.position} of "
                           f"{line.agg_type}/{line.agg_id} leaves a gap (the stream has "
                           f"{head.length} events)")
        from chalicelib.domain import ticks
        definition = event_definition(spec, line.agg_type, line.event_type)
        created_at = line.created_at if line.created_at is not None else now
        try:
            step = advance(head, definition, line.agg_type, line.agg_id, line.event_type,
                           line.data, line.metadata, created_at,
                           content_hash=line.content_hash, tombstoned=line.tombstoned)
        except ticks.TickError as exc:
            raise AppError("JOB_FAILED", f"line {line.number}: the handler of "
                           f"{line.agg_type}.{line.event_type} failed: {exc}")
        if line.chain_hash is not None and step.event.chain_hash != line.chain_hash:
            raise AppError("JOB_FAILED", f"line {line.number}: chain_hash does not follow from "
                           "the events before it in the stream")
        events.append(step.event)
        for tile, hashes in step.tiles.items():
            tiles.setdefault((stream, tile), []).extend(hashes)
        type_key = f"{line.agg_type}.{line.event_type}"
        counts[type_key] = counts.get(type_key, 0) + 1
    changed = {s: h for s, h in heads.items() if h.length != originals[s][0]}
    return Plan(changed, {s: originals[s] for s in changed}, events, tiles, counts, present)


def _same(stored: StoredEvent, line: Line) -> bool:
    if stored.event_type != line.event_type:
        return False
    if line.content_hash is not None:
        return stored.content_hash == line.content_hash
    if line.created_at is not None and abs(float(stored.created_at) - line.created_at) > 1e-6:
        return False
    return (ev.canonical(stored.data) == ev.canonical(line.data)
            and ev.canonical(stored.metadata) == ev.canonical(line.metadata))


def _read_heads(instance_id: str, env: str, chunk: list[Line], order: list[str]) -> dict:
    """The chunk's heads in one BatchGetItem (consistent)."""
    types = {keys.stream_key(instance_id, env, ln.agg_type, ln.agg_id): ln.agg_type
             for ln in chunk}
    found = {}
    for item in StreamHead.batch_get(order, consistent_read=True):
        found[item.stream] = Head.from_item(item)
    return {s: found.get(s) or Head(stream=s, scope_type=keys.scope_type_key(
        instance_id, env, types[s])) for s in order}


def _stored_at(instance_id: str, env: str, chunk: list[Line], originals: dict) -> dict:
    """Stored events at positions lines name below their stream's length (a rerun)."""
    wanted = []
    for line in chunk:
        stream = keys.stream_key(instance_id, env, line.agg_type, line.agg_id)
        if line.position is not None and line.position < originals[stream][0]:
            wanted.append((stream, line.position))
    if not wanted:
        return {}
    return {(e.stream, int(e.position)): e for e in StoredEvent.batch_get(wanted)}


def _hold(job, plan: Plan, now: float) -> None:
    """One transaction: each changed stream held for this job (conditional on the length
    and restores read), and the job still ours (its lease)."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.store.base import transact_write
    from chalicelib.store.tables import Job
    mine = job.job.id
    free = (StreamHead.load_lock == mine) | StreamHead.load_until.does_not_exist() | (
        StreamHead.load_until < now)
    try:
        with transact_write() as tx:
            for stream, head in plan.heads.items():
                length, restores = plan.originals[stream]
                item = StreamHead(stream=stream)
                actions = [StreamHead.load_lock.set(mine),
                           StreamHead.load_until.set(now + HOLD_SECONDS)]
                if length == 0:
                    actions += [StreamHead.scope_type.set(head.scope_type),
                                StreamHead.length.set(0)]
                    condition = StreamHead.stream.does_not_exist() | (
                        (StreamHead.length == 0) & free)
                else:
                    condition = (StreamHead.length == length) & free & (
                        StreamHead.restores == restores if restores
                        else StreamHead.restores.does_not_exist()) & (
                        StreamHead.tombstoned.does_not_exist())
                tx.update(item, actions=actions, condition=condition)
            tx.condition_check(Job, job.job.scope, job.job.id,
                               condition=Job.lease_owner == job.owner)
    except TransactWriteError:
        raise _Contended()


class _Contended(Exception):
    """An append or another slice got there first: the slice stops and runs again."""


def _batch_put(events: list) -> None:
    """BatchWriteItem, 25 events per call (PynamoDB's batch_write), unprocessed items
    resent until none are left."""
    with StoredEvent.batch_write() as batch:
        for event in events:
            batch.save(event)


def _write_heads(job, plan: Plan, instance_id: str, env: str, end: int, line_no: int,
                 now: float) -> None:
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.store.base import transact_write
    from chalicelib.store.tables import Job
    c = job.cursor
    applied = c.get("applied", 0) + len(plan.events)
    present = c.get("present", 0) + plan.present
    new_streams = sum(1 for s in plan.heads if plan.originals[s][0] == 0)
    cursor = {**c, "offset": end, "line": line_no, "applied": applied, "present": present,
              "streams": c.get("streams", 0) + new_streams}
    progress = {**job.progress_now, "done": applied + present, "bytes": end}
    scope = keys.scope_key(instance_id, env)
    by_stream: dict = {}
    for event in plan.events:
        by_stream[event.stream] = by_stream.get(event.stream, 0) + 1
    try:
        with transact_write() as tx:
            for stream, head in plan.heads.items():
                item, snapshots = head.items()
                tx.save(item, condition=(StreamHead.load_lock == job.job.id)
                        & StreamHead.tombstoned.does_not_exist())
                for snapshot in snapshots:
                    tx.save(snapshot)
            for (stream, tile), hashes in plan.tiles.items():
                tx.update(MerkleTile(stream=stream, tile=tile),
                          actions=[MerkleTile.hashes.set((MerkleTile.hashes | []).append(hashes))])
            for type_key, n in plan.counts.items():
                tx.update(StreamTypeCounter(scope=scope, type_key=type_key),
                          actions=[StreamTypeCounter.count.add(n)])
            if plan.events:    # the instance's running totals, in the first stream's shard
                first = plan.events[0].stream
                for total in keys.event_totals(env, keys.month_of(now), first):
                    tx.update(StreamTypeCounter(scope=keys.usage_key(instance_id),
                                                type_key=total),
                              actions=[StreamTypeCounter.count.add(len(plan.events))])
            tx.update(Job(job.job.scope, job.job.id),
                      actions=[Job.cursor.set(cursor), Job.progress.set(progress),
                               Job.updated_at.set(now),
                               Job.lease_until.set(now + _lease_seconds())],
                      condition=Job.lease_owner == job.owner)
    except Exception as exc:
        # a timed-out transaction may still have been applied: its cursor says so
        stored = Job.get(job.job.scope, job.job.id, consistent_read=True).cursor or {}
        if (stored.get("offset"), stored.get("line")) != (end, line_no):
            if isinstance(exc, TransactWriteError):
                raise _Contended()
            raise
    job.cursor.clear()
    job.cursor.update(cursor)
    job.progress_now.update(progress)


def _lease_seconds() -> int:
    from chalicelib.store import jobs
    return jobs.LEASE_SECONDS


def clear_environment(job) -> None:
    """Delete every stream of the job's environment (events, Merkle tiles, heads) and its
    event counters: what a restore with `replace` does before loading. Idempotent (a
    rerun deletes what is left); streams are found with Queries of the type index."""
    from chalicelib.store import event_log
    from chalicelib.store.tables import MerkleTile, StateSnapshot
    instance_id, env = job.job.instance_id, job.job.environment
    scope = keys.scope_key(instance_id, env)
    removed = 0
    for agg_type in event_log.aggregate_types(instance_id, env):
        for head in StreamHead.by_scope_type.query(keys.scope_type_key(instance_id, env,
                                                                       agg_type)):
            with StoredEvent.batch_write() as batch:
                for event in StoredEvent.query(head.stream, attributes_to_get=["stream",
                                                                               "position"]):
                    batch.delete(event)
                    removed += 1
            with MerkleTile.batch_write() as batch:
                for tile in MerkleTile.query(head.stream):
                    batch.delete(tile)
            with StateSnapshot.batch_write() as batch:
                for snapshot in StateSnapshot.query(head.stream, attributes_to_get=[
                        "stream", "length"]):
                    batch.delete(snapshot)
            head.delete()
            job.progress(bytes_done=0)
    with StreamTypeCounter.batch_write() as batch:
        for counter in StreamTypeCounter.query(scope):
            batch.delete(counter)
    if removed:   # the stored-events total of the environment (shard 0 takes the change)
        StreamTypeCounter(scope=keys.usage_key(instance_id), type_key=f"events#{env}").update(
            actions=[StreamTypeCounter.count.add(-removed)])
    job.cursor["cleared"] = removed
    job.save()
