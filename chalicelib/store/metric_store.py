"""Time-bucketed metric samples: the one place that writes and reads MetricBucket.

Series and buckets. A series is one metric at one resolution, partition key
"<metric>#<resolution>", sort key the bucket's start (unix seconds, aligned to UTC):
  5m  raw buckets, written by record()/record_many()        kept 2 days (TTL)
  1h  roll-ups of twelve 5m buckets, written by rollup()    kept 35 days
  1d  roll-ups of twenty-four 1h buckets                    kept for good (tiny)
Within a 5m bucket:
  counter: `total` adds up (and `count` counts the samples)
  gauge:   `last` keeps the value with the newest timestamp (an older sample arriving late
           does not replace it); `total`/`count` still take it, so the mean is available
A roll-up bucket holds total = sum of child totals, count = sum of child counts, min/max of
the child values (value_of), and the newest child's last/last_ts. It is computed from its
children and PUT, so running the roll-up again writes the same item.

Which hours need rolling up. Every write of samples also ADDs 1 to a "pending" mark for
the hour it touched (series "~pending#1h", one item per hour, so one extra write per batch
and hour, not per sample). rollup() folds the hours whose mark is older than the grace
period, then deletes each mark only if nobody ADDed to it meanwhile (a late sample arriving
during the fold keeps its mark for the next run). Folding an hour marks its day the same way.

Idempotent pushes. A push carrying an X-Idempotency-Key is written by record_once() as
ONE TransactWriteItems: an IdempotencyRecord keyed "metrics#<client key>" (the data
plane's records are "<instance uuid>#<env>#<key>", so the two never meet), conditional on
not existing (or having outlived its 24 h), then every (series, bucket) UpdateItem and
every hour's pending mark. A replay fails the record's condition, so nothing of it is
applied, and it answers the stored first answer. A gauge's `last` is set in the same
transaction under its usual condition (no newer value there); when that condition alone
fails, the transaction is sent again with that gauge's bucket only adding to total/count.
DynamoDB allows 100 items per transaction: samples are merged per (series, bucket) first,
so a push fits when its buckets + hours touched + 1 <= 100 (transaction_items()); a
bigger keyed push is refused by the service before anything is written.

What is complete. After a run, MetaItem "metric_rollups" records the watermarks: every 1h
bucket before value["1h"] and every 1d bucket before value["1d"] is folded. A reader
covers a time range with whole 1d buckets below the day watermark, whole 1h buckets below
the hour watermark, and 5m buckets for the rest (plan()), so a range costs at most four
Queries per series whatever its length: 30 days read ~30 + 23 + 23 + 12 items, not 8,640.
"""
from __future__ import annotations

from chalicelib.core import clock
from chalicelib.store.conditions import delete_if, reason_codes, save_if, update_if
from chalicelib.store.tables import IdempotencyRecord, MetaItem, MetricBucket

RESOLUTIONS = {"5m": 300, "1h": 3600, "1d": 86400}
LEVELS = ("1d", "1h", "5m")  # coarsest first
RETENTION = {"5m": 2 * 86400, "1h": 35 * 86400, "1d": None}  # None: kept for good
KINDS = ("counter", "gauge")
# An hour is folded only once it ended this long ago: any write that began before the hour
# ended has finished by then (requests time out well within it).
ROLLUP_GRACE_SECONDS = 120
PENDING = {"1h": "~pending#1h", "1d": "~pending#1d"}
CHILD = {"1h": "5m", "1d": "1h"}
WATERMARK_KEY = "metric_rollups"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
IDEMPOTENCY_PREFIX = "metrics#"
IDEMPOTENCY_SECONDS = 24 * 3600
TRANSACTION_RETRIES = 5


def series_key(name: str, resolution: str) -> str:
    return f"{name}#{resolution}"


def bucket_start(ts: float, resolution: str) -> int:
    size = RESOLUTIONS[resolution]
    return int(ts) - int(ts) % size


def ceil_start(ts: float, resolution: str) -> int:
    size = RESOLUTIONS[resolution]
    floor = bucket_start(ts, resolution)
    return floor if floor == ts else floor + size


def _ttl(start: int, resolution: str) -> int | None:
    keep = RETENTION[resolution]
    return None if keep is None else start + keep


# ----------------------------------------------------------------------------- writes

def record(name: str, value: float, kind: str, ts: float | None = None) -> None:
    """One sample into its 5-minute bucket (see record_many)."""
    record_many([(name, value, kind, ts)])


def record_many(samples) -> int:
    """Samples (name, value, kind, ts|None) into their 5-minute buckets. Samples that share
    a bucket are merged first, so the cost is one UpdateItem per (series, bucket) touched
    (two for a gauge whose bucket already holds a newer value), plus one per hour touched
    for its roll-up mark. Returns the number of samples written."""
    groups, written = merge(samples)
    for (name, start), group in groups.items():
        _write_bucket(name, start, group)
    for hour in hours_of(groups):
        mark_pending("1h", hour)
    return written


def merge(samples, now: float | None = None) -> tuple[dict, int]:
    """({(name, 5m bucket start): merged group}, samples merged): a sample without a
    timestamp is taken at `now`."""
    now = clock.now() if now is None else now
    groups: dict[tuple[str, int], dict] = {}
    written = 0
    for name, value, kind, ts in samples:
        if kind not in KINDS:
            raise ValueError(f"unknown metric kind {kind!r}")
        ts = now if ts is None else ts
        group = groups.setdefault((name, bucket_start(ts, "5m")),
                                  {"kind": kind, "total": 0, "count": 0, "last": None,
                                   "last_ts": None})
        group["total"] += value
        group["count"] += 1
        if kind == "gauge" and (group["last_ts"] is None or ts >= group["last_ts"]):
            group["last"], group["last_ts"] = value, ts
        written += 1
    return groups, written


def hours_of(groups: dict) -> list[int]:
    return sorted({bucket_start(start, "1h") for _, start in groups})


def transaction_items(groups: dict) -> int:
    """Items record_once() writes in its one transaction: the buckets, the hours' pending
    marks and the idempotency record."""
    return len(groups) + len(hours_of(groups)) + 1


def idempotency_key(client_key: str) -> str:
    return IDEMPOTENCY_PREFIX + client_key


def stored_answer(client_key: str, request_hash: str) -> dict | None:
    """The first answer to `client_key` when it was given for this request (with
    idempotent_replay), None when the key is unused or expired; IDEMPOTENCY_KEY_REUSED
    when it answered a different request. One consistent GetItem."""
    from chalicelib.core.errors import AppError
    try:
        record = IdempotencyRecord.get(idempotency_key(client_key), consistent_read=True)
    except IdempotencyRecord.DoesNotExist:
        return None
    if record.ttl is not None and record.ttl <= clock.now_int():
        return None  # outlived its 24 h (DynamoDB's TTL deletes it in its own time)
    if record.request_hash != request_hash:
        raise AppError("IDEMPOTENCY_KEY_REUSED")
    return dict(record.body, idempotent_replay=True)


def record_once(groups: dict, answer: dict, client_key: str, request_hash: str) -> dict:
    """Write merged `groups` (from merge()) and the idempotency record of `client_key` in
    one transaction and return `answer`; a replay writes nothing and returns the first
    answer. At most transaction_items(groups) <= 100 items (the caller checks)."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.core.errors import AppError
    from chalicelib.store.base import transact_write
    from chalicelib.store.conditions import transaction_conflict
    if transaction_items(groups) > MAX_TRANSACTION_ITEMS:
        raise ValueError(f"{transaction_items(groups)} items exceed one transaction")
    key = idempotency_key(client_key)
    ordered = list(groups.items())
    older = set()  # gauge buckets already holding a newer value: no `last` from this push
    conflicts = expired = 0
    while True:
        now = clock.now_int()
        try:
            with transact_write() as tx:
                # the one Put goes first in the request: reasons[0] is the record's
                tx.save(IdempotencyRecord(key=key, status=202, body=answer,
                                          request_hash=request_hash, created_at=now,
                                          ttl=now + IDEMPOTENCY_SECONDS),
                        condition=IdempotencyRecord.key.does_not_exist()
                        | (IdempotencyRecord.ttl <= now))
                for (name, start), group in ordered:
                    actions, condition = _bucket_update(start, group, (name, start) in older)
                    tx.update(MetricBucket(series=series_key(name, "5m"), start=start),
                              actions=actions, condition=condition)
                for hour in hours_of(groups):
                    tx.update(MetricBucket(series=PENDING["1h"], start=hour),
                              actions=_pending_actions(hour))
            return answer
        except TransactWriteError as exc:
            reasons = reason_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                replay = stored_answer(client_key, request_hash)
                if replay is not None:
                    return replay
                expired += 1  # it expired between the write and the read: write afresh
                if expired < TRANSACTION_RETRIES:
                    continue
            failed = {ordered[i - 1][0] for i, code in enumerate(reasons)
                      if code == "ConditionalCheckFailed" and 1 <= i <= len(ordered)}
            if failed - older:  # at most once per gauge bucket of the push
                older |= failed  # an older gauge value still counts toward the mean
                continue
            if transaction_conflict(exc) and conflicts < TRANSACTION_RETRIES:
                import time
                time.sleep(0.02 * (2 ** conflicts))
                conflicts += 1
                continue
            if transaction_conflict(exc):
                raise AppError("CONCURRENT_WRITE", "Other writes kept changing these metric "
                               "buckets; send the push again with the same "
                               "X-Idempotency-Key") from exc
            raise


def _bucket_update(start: int, group: dict, older: bool):
    """(actions, condition) of one bucket's UpdateItem: counters and the gauge mean add
    up; a gauge sets `last` only when no newer value is there."""
    common = [MetricBucket.kind.set(group["kind"]), MetricBucket.total.add(group["total"]),
              MetricBucket.count.add(group["count"]),
              MetricBucket.ttl.set(_ttl(start, "5m"))]
    if group["kind"] == "counter" or older:
        return common, None
    return (common + [MetricBucket.last.set(group["last"]),
                      MetricBucket.last_ts.set(group["last_ts"])],
            MetricBucket.last_ts.does_not_exist() | (MetricBucket.last_ts <= group["last_ts"]))


def _write_bucket(name: str, start: int, group: dict) -> None:
    item = MetricBucket(series=series_key(name, "5m"), start=start)
    actions, condition = _bucket_update(start, group, older=False)
    if condition is None:
        item.update(actions=actions)
        return
    if not update_if(item, actions, condition):
        item.update(actions=_bucket_update(start, group, older=True)[0])  # mean only


def _pending_actions(start: int) -> list:
    return [MetricBucket.kind.set("pending"), MetricBucket.total.add(1),
            MetricBucket.ttl.set(start + RETENTION["5m"] + 86400)]


def mark_pending(level: str, start: int) -> None:
    """Note that the `level` bucket starting at `start` must be (re)computed."""
    MetricBucket(series=PENDING[level], start=start).update(actions=_pending_actions(start))


# ----------------------------------------------------------------------------- reads

def buckets(name: str, resolution: str, start: int, end: int) -> list[MetricBucket]:
    """Buckets of one series with start <= bucket start < end, oldest first (one Query)."""
    if end <= start:
        return []
    return list(MetricBucket.query(series_key(name, resolution),
                                   MetricBucket.start.between(start, end - 1)))


def value_of(bucket: MetricBucket) -> float:
    """A bucket's value: the sum for counters, the latest value for gauges."""
    if bucket.kind == "gauge":
        return bucket.last if bucket.last is not None else (bucket.total / max(bucket.count, 1))
    return bucket.total


def watermarks() -> dict:
    """{"1h": t, "1d": t}: roll-ups at that resolution are complete before t (one GetItem)."""
    try:
        value = MetaItem.get(WATERMARK_KEY, consistent_read=True).value or {}
    except MetaItem.DoesNotExist:
        value = {}
    return {"1h": int(value.get("1h", 0)), "1d": int(value.get("1d", 0))}


def plan(start: int, end: int, done: dict, coarsest: str = "1d") -> list[tuple[str, int, int]]:
    """Cover [start, end) (start 5m-aligned) with (resolution, lo, hi) ranges, oldest first:
    whole buckets of the coarsest allowed resolution where they are complete (below its
    watermark), finer resolutions for the edges. At most 4 ranges for a 1d plan (1h head,
    1d body, 1h tail, 5m tail), 2 for a 1h plan, 1 for a 5m plan."""
    levels = LEVELS[LEVELS.index(coarsest):]
    out: list[tuple[str, int, int]] = []

    def cover(lo: int, hi: int, i: int) -> None:
        if lo >= hi:
            return
        res = levels[i]
        if res == "5m":
            out.append(("5m", lo, hi))
            return
        a = ceil_start(lo, res)
        b = bucket_start(min(hi, done[res]), res)
        if a >= b:
            cover(lo, hi, i + 1)
            return
        cover(lo, a, i + 1)
        out.append((res, a, b))
        cover(b, hi, i + 1)

    cover(start, end, 0)
    return out


def read_range(name: str, start: int, end: int, done: dict,
               coarsest: str = "1d") -> list[MetricBucket]:
    """Every bucket of `name` covering [start, end) once, oldest first (one Query per range
    of plan())."""
    found: list[MetricBucket] = []
    for res, lo, hi in plan(start, end, done, coarsest):
        found.extend(buckets(name, res, lo, hi))
    return found


def total(name: str, start: int, end: int, done: dict, coarsest: str = "1d") -> float:
    """Sum of a counter over [start, end)."""
    return sum(b.total for b in read_range(name, start, end, done, coarsest))


def latest(name: str, start: int, end: int, done: dict, coarsest: str = "1d"):
    """The newest gauge value within [start, end), or None. Reads the ranges newest first,
    one item each, so usually one Query."""
    for res, lo, hi in reversed(plan(start, end, done, coarsest)):
        for bucket in MetricBucket.query(series_key(name, res),
                                         MetricBucket.start.between(lo, hi - 1),
                                         scan_index_forward=False, limit=1):
            return value_of(bucket)
    return None


# ----------------------------------------------------------------------------- roll-ups

def fold(name: str, level: str, start: int) -> MetricBucket | None:
    """Compute the `level` bucket of `name` at `start` from its children and PUT it
    (idempotent). None when there are no children."""
    size = RESOLUTIONS[level]
    children = list(MetricBucket.query(series_key(name, CHILD[level]),
                                       MetricBucket.start.between(start, start + size - 1),
                                       consistent_read=True))
    if not children:
        return None
    values = [value_of(c) for c in children]
    kind = children[-1].kind
    newest = max(children, key=lambda c: (c.last_ts if c.last_ts is not None else -1, c.start))
    bucket = MetricBucket(series=series_key(name, level), start=start, kind=kind,
                          total=sum(c.total for c in children),
                          count=sum(c.count for c in children),
                          min=min(values), max=max(values),
                          last=newest.last if kind == "gauge" else None,
                          last_ts=newest.last_ts if kind == "gauge" else None,
                          ttl=_ttl(start, level))
    bucket.save()
    return bucket


def _fold_pending(level: str, names, before: int, now: float) -> list[int]:
    """Fold every bucket of `level` whose pending mark starts before `before`. A bucket
    whose children may already be expiring (TTL) is left as it is: refolding it from part
    of its children would lose data (only possible after days without a roll-up run)."""
    done = []
    marks = list(MetricBucket.query(PENDING[level], MetricBucket.start < before,
                                    consistent_read=True))
    child_kept = RETENTION[CHILD[level]]
    for mark in marks:
        if child_kept is None or now < int(mark.start) + child_kept:
            for name in names:
                fold(name, level, int(mark.start))
            if level == "1h":
                mark_pending("1d", bucket_start(mark.start, "1d"))
        delete_if(mark, MetricBucket.total == mark.total)  # unless a sample arrived since
        done.append(int(mark.start))
    return done


def rollup(names, now: float | None = None) -> dict:
    """Fold complete hours into 1h buckets, then complete days into 1d buckets, and advance
    the watermarks. Idempotent: a second run finds no marks, or refolds to the same items."""
    now = clock.now() if now is None else now
    hours_before = bucket_start(now - ROLLUP_GRACE_SECONDS, "1h")
    days_before = bucket_start(hours_before, "1d")
    names = list(names)
    hours = _fold_pending("1h", names, hours_before, now)
    days = _fold_pending("1d", names, days_before, now)
    _advance({"1h": hours_before, "1d": days_before})
    return {"hours_folded": len(hours), "days_folded": len(days),
            "complete_before": {"1h": hours_before, "1d": days_before}}


def _advance(marks: dict) -> None:
    """Move the watermarks forward only (a slower concurrent run never moves them back)."""
    try:
        item = MetaItem.get(WATERMARK_KEY, consistent_read=True)
    except MetaItem.DoesNotExist:
        item = None
    old = dict(item.value or {}) if item else {}
    new = {k: max(int(old.get(k, 0)), v) for k, v in marks.items()}
    if item is not None and new == {k: int(old.get(k, 0)) for k in marks}:
        return
    version = item.version if item else 0
    fresh = MetaItem(key=WATERMARK_KEY, value=new, version=version + 1)
    condition = (MetaItem.key.does_not_exist() if item is None
                 else MetaItem.version == version)
    save_if(fresh, condition)  # a lost race: the concurrent run advanced them itself
