"""Moderation: device trust (verify, revoke, custom rate limits, spam reports and the
automatic block they lead to) and federation blocks.

Every change of a device or peer goes through device_stats, which writes it in one
transaction with the counters it moves, conditional on the record's previous state;
when another writer got there first the record is read again and the act re-decided.
Answers to the admin surface and audit details name tiers as the seed does ("New",
"Verified"); the internal surface uses the lower-case identifiers ("new").
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from types import SimpleNamespace
from typing import Callable

from chalicelib.core import clock
from chalicelib.core.errors import AppError, invalid
from chalicelib.domain import trust
from chalicelib.identity import audit
from chalicelib.identity.principal import Origin, Principal
from chalicelib.store import device_counters as device_stats
from chalicelib.store import server_config as config_store
from chalicelib.store.base import transact_write
from chalicelib.store.conditions import field_actions, reason_codes, update_if
from chalicelib.store.device_counters import Conflict
from chalicelib.store.tables import Counter, Device, FederationPeer

# Who acts when a threshold rule blocks something.
SYSTEM = Principal(subject="system:moderation", kind="system")
MAX_ATTEMPTS = 6
BLOCKED = "blocked"  # FederationPeer.block_state while a block is recorded
REPORTERS = "spam_reporters#"  # Counter partition per device: one marker per reporter


def trust_config() -> trust.TrustConfig:
    return config_store.trust_config()


# --- reading a device's standing ----------------------------------------------------------

def _load(address: str) -> Device:
    try:
        return Device.get(address.lower(), consistent_read=True)
    except Device.DoesNotExist:
        raise AppError("DEVICE_NOT_FOUND")


def effective_of(device: Device, cfg: trust.TrustConfig,
                 now: float | None = None) -> trust.Effective:
    return trust.of_device(device, clock.now() if now is None else now, cfg)


def current_tier(device: Device, cfg: trust.TrustConfig | None = None) -> str:
    """new | established | trusted | verified | blocked, as of now."""
    return effective_of(device, cfg or trust_config()).tier


def _limit_record(device: Device, eff: trust.Effective) -> dict:
    custom_live = trust.custom_active(device.custom_rate_limit,
                                      device.custom_rate_limit_expires_at, clock.now())
    return {"device_address": device.device_address, "trust_tier": trust.display(eff.tier),
            "rate_limit": eff.rate_limit, "source": eff.source,
            "custom_rate_limit": int(device.custom_rate_limit) if custom_live else None,
            "expires_at": _int(device.custom_rate_limit_expires_at) if custom_live else None,
            "reason": device.custom_rate_limit_reason if custom_live else None}


def rate_limit(address: str) -> dict:
    """For the chat server: the limit to enforce now and where it comes from."""
    device = _load(address)
    eff = effective_of(device, trust_config())
    return {"device_address": device.device_address, "trust_tier": eff.tier,
            "rate_limit": eff.rate_limit, "source": eff.source, "expires_at": eff.expires_at,
            "next_tier_at": eff.next_tier_at}


def _int(value) -> int | None:
    return None if value is None else int(value)


# --- changing a device --------------------------------------------------------------------

def _view(device: Device, **changes) -> SimpleNamespace:
    """The device's standing fields as they will be after `changes` (nothing is written)."""
    fields = {name: getattr(device, name) for name in (
        "device_address", "first_seen", "verified_at", "verified_by", "blocked_at",
        "custom_rate_limit", "custom_rate_limit_expires_at", "custom_rate_limit_reason")}
    return SimpleNamespace(**{**fields, **changes})


def _transition(act: audit.Act, address: str, decide: Callable) -> tuple[Device, audit.Note]:
    """Read the device, let `decide(device, now)` answer (actions, state after, audit
    note) or raise, and commit the change, its counters and its audit entry in one
    transaction; again from a fresh read on a conflict. Returns the device as read."""
    for _ in range(MAX_ATTEMPTS):
        device = _load(address)
        actions, after, note = decide(device, clock.now_int())
        try:
            device_stats.change_device(device, actions, after,
                                       also=lambda tx, note=note: act.put(tx, note))
            return device, note
        except Conflict:
            continue
    raise AppError("SERVICE_UNAVAILABLE", "The device kept changing; try again")


def verify(act: audit.Act, address: str, reason: str) -> tuple[dict, audit.Note]:
    cfg = trust_config()
    stamp = {}

    def decide(device: Device, now: int):
        stamp["at"] = now
        if device.verified_at is not None:
            raise AppError("DEVICE_ALREADY_VERIFIED")
        if device.blocked_at is not None:
            raise AppError("DEVICE_BLOCKED", "Device is blocked; unblock it before verifying it")
        note = audit.Note(device.device_address, {
            "reason": reason, "previous_tier": trust.display(current_tier(device, cfg)),
            "new_tier": trust.display(trust.VERIFIED)})
        return ([Device.verified_at.set(now), Device.verified_by.set(act.actor.subject)],
                replace(device_stats.device_state(device), verified=True), note)

    device, note = _transition(act, address, decide)
    eff = effective_of(_view(device, verified_at=stamp["at"]), cfg)
    answer = {"device_address": device.device_address, "trust_tier": trust.display(eff.tier),
              "rate_limit": eff.rate_limit, "verified_at": stamp["at"],
              "verified_by": act.actor.subject}
    return answer, note


def revoke_verification(act: audit.Act, address: str, reason: str) -> tuple[dict, audit.Note]:
    cfg = trust_config()
    stamp = {}

    def decide(device: Device, now: int):
        stamp["at"] = now
        if device.verified_at is None:
            raise AppError("DEVICE_NOT_VERIFIED")
        after = effective_of(_view(device, verified_at=None, verified_by=None), cfg)
        note = audit.Note(device.device_address, {
            "reason": reason, "previous_tier": trust.display(current_tier(device, cfg)),
            "new_tier": trust.display(after.tier), "verified_by": device.verified_by})
        return ([Device.verified_at.remove(), Device.verified_by.remove()],
                replace(device_stats.device_state(device), verified=False), note)

    device, note = _transition(act, address, decide)
    eff = effective_of(_view(device, verified_at=None, verified_by=None), cfg)
    answer = {"device_address": device.device_address, "trust_tier": trust.display(eff.tier),
              "rate_limit": eff.rate_limit, "source": eff.source,
              "revoked_at": stamp["at"], "revoked_by": act.actor.subject}
    return answer, note


def unblock_device(act: audit.Act, address: str, reason: str) -> tuple[dict, audit.Note]:
    """Lift a block (the spam threshold's or otherwise) and start its spam count afresh."""
    cfg = trust_config()

    def decide(device: Device, now: int):
        if device.blocked_at is None:
            raise AppError("DEVICE_NOT_BLOCKED")
        after = effective_of(_view(device, blocked_at=None), cfg)
        note = audit.Note(device.device_address, {
            "reason": reason, "previous_tier": trust.display(trust.BLOCKED),
            "new_tier": trust.display(after.tier), "block_reason": device.block_reason,
            "spam_reports": int(device.spam_reports or 0)})
        return ([Device.blocked_at.remove(), Device.block_reason.remove(),
                 Device.spam_reports.set(0)],
                replace(device_stats.device_state(device), blocked=False), note)

    device, note = _transition(act, address, decide)
    _forget_reporters(device.device_address)
    eff = effective_of(_view(device, blocked_at=None), cfg)
    answer = {"device_address": device.device_address, "trust_tier": trust.display(eff.tier),
              "rate_limit": eff.rate_limit, "source": eff.source, "spam_reports": 0}
    return answer, note


def set_rate_limit(act: audit.Act, address: str, custom: int | None, reason: str,
                   expires_at: int | None) -> tuple[dict, audit.Note]:
    """A custom limit, permanent or until `expires_at`; `None` removes it. The change and
    its audit entry are one transaction."""
    now = clock.now_int()
    if expires_at is not None and expires_at <= now:
        raise invalid("expires_at", "must be in the future", "expires_at must be in the future")
    if custom is None and expires_at is not None:
        raise invalid("expires_at", "only a custom_rate_limit can expire",
                      "expires_at needs a custom_rate_limit")
    cfg = trust_config()
    device = _load(address)
    before = effective_of(device, cfg)
    changes = ({"custom_rate_limit": None, "custom_rate_limit_expires_at": None,
                "custom_rate_limit_reason": None} if custom is None else
               {"custom_rate_limit": custom, "custom_rate_limit_reason": reason,
                "custom_rate_limit_expires_at": expires_at})
    after = effective_of(_view(device, **changes), cfg)
    note = audit.Note(device.device_address, {
        "reason": reason, "previous_limit": before.rate_limit, "previous_source": before.source,
        "new_limit": custom, "effective_limit": after.rate_limit, "expires_at": expires_at})
    if not act.commit(note, lambda tx: tx.update(device, actions=field_actions(Device, changes),
                                                 condition=Device.device_address.exists())):
        raise AppError("DEVICE_NOT_FOUND")
    for name, value in changes.items():
        setattr(device, name, value)
    answer = _limit_record(device, after)
    answer["previous_rate_limit"] = before.rate_limit
    return answer, note


# --- spam reports ---------------------------------------------------------------------------

def _reporter_bucket(reporter: str) -> int:
    return int(hashlib.sha256(reporter.encode()).hexdigest()[:13], 16)


def report_spam(address: str, reporter: str | None, reason: str | None,
                origin: Origin | None = None) -> dict:
    """Count a report against a device (one per reporter while the device is not
    unblocked again); at progressive_trust.spam_report_block_threshold reports the
    device is blocked, once, and `device_auto_blocked` is audited by system:moderation."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.store import metric_store

    address = address.lower()
    counted = True
    if reporter:
        marker = Counter(name=REPORTERS + address, bucket=_reporter_bucket(reporter), value=1,
                         fields={"reporter": reporter, "at": clock.now_int()})
        try:
            with transact_write() as tx:
                tx.update(Device(device_address=address), actions=[Device.spam_reports.add(1)],
                          condition=Device.device_address.exists())
                tx.save(marker, condition=Counter.name.does_not_exist())
        except TransactWriteError as exc:
            # PynamoDB sends puts before updates: [marker, device]
            codes = reason_codes(exc)
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise AppError("DEVICE_NOT_FOUND")
            if codes and codes[0] == "ConditionalCheckFailed":
                counted = False  # this reporter already reported this device
            else:
                raise
        device = _load(address)
    else:
        device = Device(device_address=address)
        if not update_if(device, [Device.spam_reports.add(1)], Device.device_address.exists()):
            raise AppError("DEVICE_NOT_FOUND")
    if counted:
        metric_store.record(device_stats.SPAM_REPORTS, 1, "counter")
    reports = int(device.spam_reports or 0)
    threshold = trust_config().spam_report_block_threshold
    auto_blocked = False
    if reports >= threshold and device.blocked_at is None:
        auto_blocked = _auto_block(address, reports, threshold, reporter, reason, origin)
    blocked = auto_blocked or device.blocked_at is not None
    return {"device_address": address, "spam_reports": reports, "counted": counted,
            "threshold": threshold, "blocked": blocked, "auto_blocked": auto_blocked}


def _auto_block(address: str, reports: int, threshold: int, reporter: str | None,
                reason: str | None, origin: Origin | None) -> bool:
    """Block the device unless something else did first; True when this call did."""
    from chalicelib.store import metric_store
    block_reason = f"spam reports reached the threshold ({reports} >= {threshold})"

    class AlreadyBlocked(Exception):
        pass

    def decide(device: Device, now: int):
        if device.blocked_at is not None:
            raise AlreadyBlocked()
        note = audit.Note(address, {
            "reason": block_reason, "spam_reports": reports, "threshold": threshold,
            "previous_tier": trust.display(current_tier(device)),
            "new_tier": trust.display(trust.BLOCKED), "last_reporter": reporter,
            "last_report_reason": reason})
        return ([Device.blocked_at.set(now), Device.block_reason.set(block_reason)],
                replace(device_stats.device_state(device), blocked=True), note)

    try:
        _transition(audit.Act(SYSTEM, "device_auto_blocked", origin or Origin()), address,
                    decide)
    except AlreadyBlocked:
        return False
    metric_store.record(device_stats.AUTO_BLOCKED, 1, "counter")
    return True


def _forget_reporters(address: str) -> None:
    """After an unblock every reporter may report the device again."""
    markers = list(Counter.query(REPORTERS + address))
    if markers:
        with Counter.batch_write() as batch:
            for marker in markers:
                batch.delete(marker)


# --- federation ---------------------------------------------------------------------------

def _domain(text: str) -> str:
    try:
        return trust.normalize_domain(text)
    except ValueError as exc:
        raise invalid("domain", str(exc))


def _blocked_now(peer: FederationPeer, now: float) -> bool:
    return peer.blocked_at is not None and (peer.block_expires_at is None
                                            or now < peer.block_expires_at)


def peer_json(peer: FederationPeer, now: float | None = None) -> dict:
    now = clock.now() if now is None else now
    blocked = _blocked_now(peer, now)
    return {"domain": peer.domain, "first_seen": _int(peer.first_seen),
            "last_seen": _int(peer.last_seen), "blocked": blocked,
            "blocked_at": _int(peer.blocked_at) if blocked else None,
            "blocked_by": peer.blocked_by if blocked else None,
            "reason": peer.block_reason if blocked else None,
            "expires_at": _int(peer.block_expires_at) if blocked else None,
            "auto_blocked": (peer.auto_blocked == "true") if blocked else False}


def _load_peer(domain: str) -> FederationPeer | None:
    try:
        return FederationPeer.get(domain, consistent_read=True)
    except FederationPeer.DoesNotExist:
        return None


def register_peer(domain_text: str) -> tuple[dict, bool]:
    """(record, created): the chat server tells us it federates with `domain`."""
    domain = _domain(domain_text)
    now = clock.now_int()
    for _ in range(MAX_ATTEMPTS):
        peer = _load_peer(domain)
        if peer is None:
            peer = FederationPeer(domain=domain, first_seen=now, last_seen=now)
            try:
                device_stats.commit(
                    lambda tx: tx.save(peer, condition=FederationPeer.domain.does_not_exist()),
                    device_stats.peer_delta(None, device_stats.peer_state(peer)))
                return peer_json(peer), True
            except Conflict:
                continue
        update_if(peer, [FederationPeer.last_seen.set(now)],
                  FederationPeer.last_seen.does_not_exist() | (FederationPeer.last_seen < now))
        return peer_json(peer), False
    raise AppError("SERVICE_UNAVAILABLE", "The peer kept changing; try again")


def block_peer(act: audit.Act, domain_text: str, reason: str,
               expires_at: int | None) -> tuple[dict, audit.Note]:
    """Block a server domain (known or not yet seen), permanently or until expires_at;
    the block, its counters and its audit entry are one transaction."""
    domain = _domain(domain_text)
    now = clock.now_int()
    if expires_at is not None and expires_at <= now:
        raise invalid("expires_at", "must be in the future", "expires_at must be in the future")
    after = device_stats.PeerState(blocked=True, expires_at=expires_at)
    note = audit.Note(domain, {"reason": reason, "expires_at": expires_at, "auto_blocked": False})
    fields = dict(blocked_at=now, blocked_by=act.actor.subject, block_reason=reason,
                  block_expires_at=expires_at, auto_blocked=None, block_state=BLOCKED)
    for _ in range(MAX_ATTEMPTS):
        peer = _load_peer(domain)
        try:
            if peer is None:
                peer = FederationPeer(domain=domain, first_seen=now, **fields)
                device_stats.commit(
                    lambda tx: (tx.save(peer, condition=FederationPeer.domain.does_not_exist()),
                                act.put(tx, note)),
                    device_stats.peer_delta(None, after))
            else:
                if _blocked_now(peer, now):
                    raise AppError("PEER_ALREADY_BLOCKED",
                                   f"{domain} is already blocked; unblock it to change the block")
                before, condition = device_stats.peer_state(peer), device_stats.peer_condition(peer)
                actions = field_actions(FederationPeer, fields)
                device_stats.commit(
                    lambda tx: (tx.update(peer, actions=actions, condition=condition),
                                act.put(tx, note)),
                    device_stats.peer_delta(before, after))
                for key, value in fields.items():
                    setattr(peer, key, value)
        except Conflict:
            continue
        return peer_json(peer), note
    raise AppError("SERVICE_UNAVAILABLE", "The peer kept changing; try again")


def unblock_peer(act: audit.Act, domain_text: str,
                 reason: str | None) -> tuple[dict, audit.Note]:
    domain = _domain(domain_text)
    for _ in range(MAX_ATTEMPTS):
        now = clock.now_int()
        peer = _load_peer(domain)
        if peer is None:
            raise AppError("PEER_NOT_FOUND", f"No federation peer {domain}")
        if not _blocked_now(peer, now):
            raise AppError("PEER_NOT_BLOCKED", f"{domain} is not blocked")
        before, condition = device_stats.peer_state(peer), device_stats.peer_condition(peer)
        previous = peer_json(peer, now)
        actions = [FederationPeer.blocked_at.remove(), FederationPeer.blocked_by.remove(),
                   FederationPeer.block_reason.remove(), FederationPeer.block_expires_at.remove(),
                   FederationPeer.auto_blocked.remove(), FederationPeer.block_state.remove()]
        note = audit.Note(domain, {"reason": reason, "previous_reason": previous["reason"],
                                   "blocked_by": previous["blocked_by"],
                                   "expires_at": previous["expires_at"]})
        try:
            device_stats.commit(
                lambda tx: (tx.update(peer, actions=actions, condition=condition),
                            act.put(tx, note)),
                device_stats.peer_delta(before, device_stats.PeerState(False, None)))
        except Conflict:
            continue
        peer.blocked_at = peer.blocked_by = peer.block_reason = None
        peer.block_expires_at = peer.auto_blocked = peer.block_state = None
        return peer_json(peer), note
    raise AppError("SERVICE_UNAVAILABLE", "The peer kept changing; try again")


def blocked_peers() -> list[dict]:
    """Blocks in force now, newest first: a Query of the sparse block index; expired
    blocks are filtered here since DynamoDB does not expire them for us."""
    now = clock.now()
    peers = [p for p in FederationPeer.by_block.query(BLOCKED, scan_index_forward=False)
             if _blocked_now(p, now)]
    peers.sort(key=lambda p: (-int(p.blocked_at), p.domain))
    return [peer_json(p, now) for p in peers]
