"""Device and federation numbers kept up to date as records change, so that metrics
never scan the device or peer tables.

Every change of a device (or peer) is written in ONE DynamoDB transaction together with
the counter deltas it causes, conditional on the record's previous state: a retry or a
concurrent writer can never count a change twice or lose one.

Counters (Counter table; `value` is moved with atomic ADD):

  scalars, bucket 0:
    devices#total            every registered device
    devices#verified         verified and not blocked
    devices#blocked          blocked (whether verified or not)
    peers#total              every known federation peer
    peers#blocked_permanent  peers blocked without an expiry
  histograms, each kept at two resolutions, `<name>#h` (bucket = hour start) and
  `<name>#s` (bucket = the second itself):
    devices#registered       first_seen of every device          -> new in period
    devices#pool             first_seen of devices neither verified nor blocked
                                                                 -> new / established / trusted
    devices#active           last_seen of every device that has one -> active in period
    peers#block_expiry       block_expires_at of expiring peer blocks -> blocked now

"How many have a timestamp >= T" reads the second buckets of T's partial hour and the
hour buckets after it: exact to the second, one page per Query (at most 3,600 second
items, or one item per hour of the period: 720 for 30 days), whatever the number of
devices. The device classes are disjoint:
total = blocked + verified + new + established + trusted.

rebuild() recomputes everything from the tables (for bulk loads and repair); prune()
deletes second buckets older than any read reaches (a daily job's work).
"""
from __future__ import annotations

import time
from collections import Counter as Tally
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from chalicelib.core import clock
from chalicelib.store import server_config as config_store
from chalicelib.store.conditions import reason_codes, transaction_conflict
from chalicelib.store.tables import Counter, Device, FederationPeer

HOUR = 3600
TOTAL = "devices#total"
VERIFIED = "devices#verified"
BLOCKED = "devices#blocked"
REGISTERED = "devices#registered"
POOL = "devices#pool"
ACTIVE = "devices#active"
PEERS_TOTAL = "peers#total"
PEERS_BLOCKED_PERMANENT = "peers#blocked_permanent"
PEERS_BLOCK_EXPIRY = "peers#block_expiry"

ACTIVITY_RESOLUTION_SECONDS = 60  # a device's last_seen is rewritten at most once a minute
MAX_ACTIVITY_BATCH = 500
# devices per activity transaction: each adds its own update and at most 2 counter
# decrements (its old second and hour), plus the 2 shared increments: <= 98 of 100 items
ACTIVITY_GROUP = 32
_ATTEMPTS = 6


# --- counter deltas ---------------------------------------------------------------------

Key = tuple  # (counter name, bucket)


def _hist(name: str, ts: int) -> list[Key]:
    ts = int(ts)
    return [(f"{name}#s", ts), (f"{name}#h", ts - ts % HOUR)]


@dataclass(frozen=True)
class DeviceState:
    """What of a device the counters depend on."""
    first_seen: int
    last_seen: int | None
    verified: bool
    blocked: bool


def device_state(device: Device) -> DeviceState:
    return DeviceState(first_seen=int(device.first_seen),
                       last_seen=None if device.last_seen is None else int(device.last_seen),
                       verified=device.verified_at is not None,
                       blocked=device.blocked_at is not None)


def _device_keys(s: DeviceState) -> list[Key]:
    keys = [(TOTAL, 0)] + _hist(REGISTERED, s.first_seen)
    if s.blocked:
        keys.append((BLOCKED, 0))
    elif s.verified:
        keys.append((VERIFIED, 0))
    else:
        keys += _hist(POOL, s.first_seen)
    if s.last_seen is not None:
        keys += _hist(ACTIVE, s.last_seen)
    return keys


@dataclass(frozen=True)
class PeerState:
    blocked: bool
    expires_at: int | None


def peer_state(peer: FederationPeer) -> PeerState:
    return PeerState(blocked=peer.blocked_at is not None,
                     expires_at=None if peer.block_expires_at is None
                     else int(peer.block_expires_at))


def _peer_keys(s: PeerState) -> list[Key]:
    keys = [(PEERS_TOTAL, 0)]
    if s.blocked:
        keys += ([(PEERS_BLOCKED_PERMANENT, 0)] if s.expires_at is None
                 else _hist(PEERS_BLOCK_EXPIRY, s.expires_at))
    return keys


def _delta(keys_of: Callable, before, after) -> dict:
    tally = Tally()
    for key in keys_of(after) if after is not None else ():
        tally[key] += 1
    for key in keys_of(before) if before is not None else ():
        tally[key] -= 1
    return {key: n for key, n in tally.items() if n}


def device_delta(before: DeviceState | None, after: DeviceState | None) -> dict:
    """{(counter, bucket): change} taking the counters from `before` to `after`
    (None: the device does not exist)."""
    return _delta(_device_keys, before, after)


def peer_delta(before: PeerState | None, after: PeerState | None) -> dict:
    return _delta(_peer_keys, before, after)


def device_condition(before: DeviceState):
    """The stored device still is `before` (so the deltas computed from it are right)."""
    cond = Device.device_address.exists()
    cond &= Device.verified_at.exists() if before.verified else Device.verified_at.does_not_exist()
    cond &= Device.blocked_at.exists() if before.blocked else Device.blocked_at.does_not_exist()
    cond &= (Device.last_seen == before.last_seen if before.last_seen is not None
             else Device.last_seen.does_not_exist())
    return cond


def peer_condition(peer: FederationPeer):
    cond = FederationPeer.domain.exists()
    cond &= (FederationPeer.blocked_at == peer.blocked_at if peer.blocked_at is not None
             else FederationPeer.blocked_at.does_not_exist())
    cond &= (FederationPeer.block_expires_at == peer.block_expires_at
             if peer.block_expires_at is not None
             else FederationPeer.block_expires_at.does_not_exist())
    return cond


# --- writing a record change with its counters, in one transaction ---------------------------

class Conflict(Exception):
    """A record was not in the state the change assumed (its condition failed).
    `failed`: the positions, among the records written, of those whose condition failed."""

    def __init__(self, failed=(0,)):
        super().__init__(f"condition failed for record(s) {list(failed)}")
        self.failed = set(failed)


def commit(write: Callable, delta: dict, records: int = 1) -> None:
    """One transaction: `write(tx)` adds the conditional writes of `records` records
    (puts, or updates), then come the counter deltas (updates). PynamoDB sends puts
    before updates, so the records' writes are the first items either way. Raises
    Conflict when a record's condition failed (nothing is written then); retries a
    transaction conflict with another writer."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.store.base import transact_write

    for attempt in range(_ATTEMPTS):
        try:
            with transact_write() as tx:
                write(tx)
                for (name, bucket), change in sorted(delta.items()):
                    tx.update(Counter(name=name, bucket=bucket),
                              actions=[Counter.value.add(change)])
            return
        except TransactWriteError as exc:
            codes = reason_codes(exc)
            failed = [i for i, code in enumerate(codes[:records]) if code == "ConditionalCheckFailed"]
            if failed:
                raise Conflict(failed) from exc
            if transaction_conflict(exc):
                time.sleep(0.01 * (2 ** attempt))
                continue
            raise
    raise Conflict(range(records))


def create_device(device: Device) -> bool:
    """Save a new device with its counters; False when the address is already registered
    (then nothing is counted)."""
    try:
        commit(lambda tx: tx.save(device, condition=Device.device_address.does_not_exist()),
               device_delta(None, device_state(device)))
        return True
    except Conflict:
        return False


def change_device(device: Device, actions: list, after: DeviceState,
                  also: Callable | None = None) -> None:
    """Apply `actions` to a device read just before, moving the counters from its
    state to `after`; Conflict when it changed in between (re-read and retry).
    `also(tx)` adds writes that must happen with the change (its audit entry)."""
    before = device_state(device)

    def write(tx) -> None:
        tx.update(device, actions=actions, condition=device_condition(before))
        if also is not None:
            also(tx)
    commit(write, device_delta(before, after))


# --- activity ------------------------------------------------------------------------------

def record_activity(addresses: Iterable[str]) -> dict:
    """Mark devices active now. A device's last_seen moves at most once per
    ACTIVITY_RESOLUTION_SECONDS. Devices are written ACTIVITY_GROUP to a transaction,
    each conditional on its previous last_seen, together with the summed counter moves,
    so concurrent reports never double count; 500 devices cost 5 BatchGetItems and
    about 16 TransactWriteItems. A device another writer moved in between is read again
    and retried (the transaction it was in is retried without it)."""
    wanted = list(dict.fromkeys(a.lower() for a in addresses))
    now = clock.now_int()
    found = {d.device_address: d for d in Device.batch_get(wanted)}
    recorded = unchanged = 0

    def due(device: Device | None) -> bool:
        nonlocal unchanged
        if device is None:
            return False
        last = device.last_seen
        if last is not None and now - int(last) < ACTIVITY_RESOLUTION_SECONDS:
            unchanged += 1
            return False
        return True

    pending = [found[a] for a in wanted if due(found.get(a))]
    for _ in range(_ATTEMPTS):
        retry: list[Device] = []
        for start in range(0, len(pending), ACTIVITY_GROUP):
            group = pending[start:start + ACTIVITY_GROUP]
            try:
                touch_group(group, now)
                recorded += len(group)
            except Conflict as exc:
                for i, device in enumerate(group):
                    if i not in exc.failed:
                        retry.append(device)
                    elif due(fresh := _reload(device.device_address)):
                        retry.append(fresh)
        pending = retry
        if not pending:
            break
    else:
        from chalicelib.core.errors import AppError
        raise AppError("SERVICE_UNAVAILABLE", "Devices kept changing; send the report again")
    unknown = [a for a in wanted if a not in found]
    return {"recorded": recorded, "unchanged": unchanged, "unknown": unknown}


def touch_group(group: list[Device], now: int) -> None:
    """Move last_seen of every device in `group` to `now` and their counters, in one
    transaction conditional on each device's previous last_seen (Conflict names the stale)."""
    delta: Tally = Tally()
    writes = []
    for device in group:
        before = device_state(device)
        delta.update(device_delta(before, replace(before, last_seen=now)))
        cond = (Device.last_seen == before.last_seen if before.last_seen is not None
                else Device.last_seen.does_not_exist())
        writes.append((device, cond & Device.device_address.exists()))

    def write(tx) -> None:
        for device, cond in writes:
            tx.update(device, actions=[Device.last_seen.set(now)], condition=cond)

    commit(write, {k: v for k, v in delta.items() if v}, records=len(group))


def _reload(address: str) -> Device | None:
    try:
        return Device.get(address, consistent_read=True)
    except Device.DoesNotExist:
        return None


# --- repair ----------------------------------------------------------------------------------

HISTOGRAMS = (REGISTERED, POOL, ACTIVE, PEERS_BLOCK_EXPIRY)
SCALARS = (TOTAL, VERIFIED, BLOCKED, PEERS_TOTAL, PEERS_BLOCKED_PERMANENT)


def rebuild() -> dict:
    """Recompute every counter from the Device and FederationPeer tables (one Scan of
    each). For bulk loads (e.g. the benchmark's 100,000 devices, written with
    BatchWriteItem) and for repair after a manual edit of the tables; never on a request
    path. Run it while nothing else changes devices or peers."""
    tally = Tally()
    devices = peers = 0
    for device in Device.scan():
        devices += 1
        tally.update(_device_keys(device_state(device)))
    for peer in FederationPeer.scan():
        peers += 1
        tally.update(_peer_keys(peer_state(peer)))
    names = list(SCALARS) + [f"{h}#{level}" for h in HISTOGRAMS for level in ("s", "h")]
    with Counter.batch_write() as batch:
        for name in names:
            for item in Counter.query(name):
                if (item.name, int(item.bucket)) not in tally:
                    batch.delete(item)
        for (name, bucket), value in tally.items():
            batch.save(Counter(name=name, bucket=bucket, value=value))
    return {"devices": devices, "peers": peers, "counters": len(tally)}


# Second buckets of these histograms are read only for thresholds up to 30 days back
# (the longest metrics period); older ones are deleted by prune(). The tier histogram
# (POOL) is kept whole: its thresholds reach back as far as the tier durations.
PRUNABLE = (ACTIVE, REGISTERED)
PRUNE_AFTER_SECONDS = 31 * 86400


def prune(now: int | None = None) -> int:
    """Delete second buckets no read can reach any more (a daily job's work; every
    activity move leaves one behind). A Query per histogram and BatchWriteItem deletes;
    run twice, the second run finds nothing. Answers how many were deleted."""
    cutoff = (clock.now_int() if now is None else int(now)) - PRUNE_AFTER_SECONDS
    deleted = 0
    with Counter.batch_write() as batch:
        for name in PRUNABLE:
            for item in Counter.query(f"{name}#s", Counter.bucket < cutoff):
                batch.delete(item)
                deleted += 1
    return deleted


# --- reading ---------------------------------------------------------------------------------

def _scalars(names: list[str]) -> dict:
    """Scalar counters in one BatchGetItem."""
    values = dict.fromkeys(names, 0)
    for item in Counter.batch_get([(n, 0) for n in names]):
        values[item.name] = int(item.value or 0)
    return values


def _ceil_hour(ts: int) -> int:
    return ts if ts % HOUR == 0 else ts - ts % HOUR + HOUR


def counts_since(name: str, thresholds: list[int]) -> list[int]:
    """For each T: how many entries of histogram `name` have a timestamp >= T.
    One Query of hour buckets (from the earliest threshold's next hour on) plus one
    Query of second buckets per threshold not on an hour boundary."""
    thresholds = [int(t) for t in thresholds]
    first_hour = min(_ceil_hour(t) for t in thresholds)
    hours = [(int(c.bucket), int(c.value or 0))
             for c in Counter.query(f"{name}#h", Counter.bucket >= first_hour)]
    out = []
    for t in thresholds:
        h = _ceil_hour(t)
        n = sum(v for b, v in hours if b >= h)
        if h > t:
            n += sum(int(c.value or 0)
                     for c in Counter.query(f"{name}#s", Counter.bucket.between(t, h - 1)))
        out.append(n)
    return out


def devices_summary(period_seconds: int) -> dict:
    """The seed's `devices` object. active_last_24h / new_last_24h count the last
    `period_seconds` (the key names stay the seed's); the tiers are as of now.
    Round trips: 1 config GetItem + 1 BatchGetItem + 3 Queries (tiers) + 2 (new)
    + 2 (active) = 9, whatever the number of devices."""
    cfg = config_store.trust_config()
    now = clock.now_int()
    since = now - int(period_seconds)
    scalars = _scalars([TOTAL, VERIFIED, BLOCKED])
    total, verified, blocked = scalars[TOTAL], scalars[VERIFIED], scalars[BLOCKED]
    pool = total - verified - blocked
    if cfg.enabled:
        # new: age < new_seconds, i.e. first_seen >= now - new_seconds + 1
        younger_than_new, younger_than_established = counts_since(
            POOL, [now - cfg.new_seconds + 1, now - cfg.established_until_seconds + 1])
        tiers = {"new": younger_than_new,
                 "established": younger_than_established - younger_than_new,
                 "trusted": pool - younger_than_established}
    else:
        tiers = {"new": 0, "established": 0, "trusted": pool}
    tiers["verified"] = verified
    (new_in_period,) = counts_since(REGISTERED, [since])
    (active_in_period,) = counts_since(ACTIVE, [since])
    return {"total": total, "active_last_24h": active_in_period, "new_last_24h": new_in_period,
            "verified": verified, "blocked": blocked, "by_trust_tier": tiers}


def federation_summary() -> dict:
    """{active_peers, blocked_peers}: blocked = blocks in force now (permanent, or
    expiring later than now); active = every known peer that is not blocked.
    Round trips: 1 BatchGetItem + 2 Queries."""
    now = clock.now_int()
    scalars = _scalars([PEERS_TOTAL, PEERS_BLOCKED_PERMANENT])
    (expiring_later,) = counts_since(PEERS_BLOCK_EXPIRY, [now + 1])
    blocked = scalars[PEERS_BLOCKED_PERMANENT] + expiring_later
    return {"active_peers": scalars[PEERS_TOTAL] - blocked, "blocked_peers": blocked}


SPAM_REPORTS = "spam_reports"
AUTO_BLOCKED = "auto_blocked_devices"


def spam_summary(period_seconds: int) -> dict:
    """{reports_last_24h, auto_blocked_devices_last_24h} over the last `period_seconds`,
    from the metric store's counters (written by moderation.report_spam), over the same
    window the metrics summary uses for every other counter. Round trips: 1 GetItem
    (roll-up watermarks) + 1 Query per name and resolution range (2 for up to a day)."""
    from chalicelib.store import metric_store as ms
    start, end, coarsest = _metric_window(int(period_seconds))
    done = ms.watermarks()

    def total(name: str) -> int:
        return int(ms.total(name, start, end, done, coarsest))

    return {"reports_last_24h": total(SPAM_REPORTS),
            "auto_blocked_devices_last_24h": total(AUTO_BLOCKED)}


def _metric_window(period_seconds: int) -> tuple:
    """(start, end, coarsest) as services.metrics reads a summary window: from the first
    5-minute (period up to an hour) or hour boundary at or after now - period, to now
    included; whole days only for periods of 30 days and more."""
    from chalicelib.store import metric_store as ms
    now = clock.now_int()
    start = ms.ceil_start(now - period_seconds, "5m" if period_seconds <= HOUR else "1h")
    return start, now + 1, "1d" if period_seconds >= 30 * 86400 else "1h"
