"""API keys: shown once, stored as SHA-256, verified in one DynamoDB round trip."""
from __future__ import annotations

import uuid

from chalicelib.core import clock
from chalicelib.core.errors import AppError, invalid
from chalicelib.domain import api_keys
from chalicelib.identity import audit
from chalicelib.identity.principal import SCHEDULER, Origin, Principal
from chalicelib.store import keys as store_keys
from chalicelib.store.base import transact_write
from chalicelib.store.conditions import field_actions, reason_codes
from chalicelib.store.instances import load_instance
from chalicelib.store.tables import ApiKey, ApiKeyId, StreamTypeCounter

MAX_ROTATION_GRACE_SECONDS = 30 * 86400
PENDING = "pending"


def to_json(key: ApiKey) -> dict:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scope": key.scope,
            "environment": key.environment, "created_at": clock.iso(key.created_at),
            "revoke_at": clock.iso(key.revoke_at), "revoked_at": clock.iso(key.revoked_at),
            "last_used_at": clock.iso(key.last_used_at)}


def _new_key(actor: Principal, instance_id: str, name: str, scope: str, environment: str,
             rotated_from: str | None = None) -> tuple[ApiKey, str]:
    text = api_keys.generate(environment)
    key = ApiKey(key_hash=api_keys.key_hash(text), id=str(uuid.uuid4()),
                 instance_id=instance_id, name=name, prefix=api_keys.display_prefix(text),
                 scope=scope, environment=environment, created_at=clock.now_int(),
                 created_by=actor.subject, rotated_from=rotated_from)
    return key, text


def _shown_once(key: ApiKey, text: str) -> dict:
    return {"id": key.id, "name": key.name, "key": text, "scope": key.scope,
            "environment": key.environment, "created_at": clock.iso(key.created_at),
            "prefix": key.prefix}


def create(act: audit.Act, instance_id: str, name: str, scope: str,
           environment: str) -> tuple[dict, audit.Note]:
    """The key, its id entry and the audit entry, in one transaction."""
    load_instance(instance_id)
    key, text = _new_key(act.actor, instance_id, name.strip(), scope, environment)
    note = audit.Note(key.id, {"instance_id": instance_id, "name": key.name, "scope": key.scope,
                               "environment": key.environment, "prefix": key.prefix})
    act.commit(note, lambda tx: _save_new(tx, key))
    return _shown_once(key, text), note


def _count(tx, instance_id: str, delta: int) -> None:
    """The instance's count of keys not finally revoked (keys.usage_key "api_keys"), kept
    in the same transaction as each key's creation and final revocation, so that the
    instance's details read it with the instance."""
    tx.update(StreamTypeCounter(scope=store_keys.usage_key(instance_id), type_key="api_keys"),
              actions=[StreamTypeCounter.count.add(delta)])


def _save_new(tx, key: ApiKey, counted: bool = True) -> None:
    """The key and its id entry, in the caller's transaction."""
    tx.save(key, condition=ApiKey.key_hash.does_not_exist())
    tx.save(ApiKeyId(id=key.id, key_hash=key.key_hash), condition=ApiKeyId.id.does_not_exist())
    if counted:
        _count(tx, key.instance_id, 1)


def list_for(instance_id: str) -> list[dict]:
    load_instance(instance_id)
    return [to_json(k) for k in ApiKey.by_instance.query(instance_id)]


def find(key_id: str) -> ApiKey:
    """Two consistent reads: the id entry, then the key."""
    try:
        digest = ApiKeyId.get(key_id, consistent_read=True).key_hash
        return ApiKey.get(digest, consistent_read=True)
    except (ApiKeyId.DoesNotExist, ApiKey.DoesNotExist):
        raise AppError("KEY_NOT_FOUND")


def rotate(act: audit.Act, key_id: str, grace_seconds: int) -> tuple[dict, audit.Note]:
    """A new key with the same name, scope and environment; the old one ends now or
    after the grace period, atomically with the new one's creation."""

    old = find(key_id)
    now = clock.now_int()
    if not api_keys.is_live(old.revoked_at, old.revoke_at, now):
        raise AppError("KEY_REVOKED")
    new, text = _new_key(act.actor, old.instance_id, old.name, old.scope, old.environment,
                         rotated_from=old.id)
    if grace_seconds:
        ends = [ApiKey.revoke_at.set(now + grace_seconds), ApiKey.revoke_pending.set(PENDING)]
    else:
        ends = [ApiKey.revoked_at.set(now), ApiKey.revoke_pending.remove()]
    note = audit.Note(old.id, {"new_key_id": new.id, "grace_period_seconds": grace_seconds,
                               "old_key_revoke_at": clock.iso(now + grace_seconds)})

    def write(tx) -> None:
        # without grace, one key ends as the other begins: the count stays (and one
        # transaction may not touch the counter twice)
        _save_new(tx, new, counted=bool(grace_seconds))
        tx.update(old, actions=ends, condition=ApiKey.revoked_at.does_not_exist())
    if not act.commit(note, write):
        raise AppError("KEY_REVOKED")
    answer = _shown_once(new, text)
    answer["rotated_from"] = old.id
    answer["old_key_revoke_at"] = clock.iso(now + grace_seconds)
    return answer, note


def schedule_revocation(act: audit.Act, key_id: str,
                        revoke_at: float) -> tuple[dict, audit.Note]:
    """revoke_at is checked before anything is written: a future instant within clock's
    range (at most 9999-12-31T23:59:59Z), so that the stored value shows as ISO 8601
    again. The key's change and its audit entry are one transaction."""
    key = find(key_id)
    if not isinstance(revoke_at, (int, float)) or not clock.MIN_TS <= revoke_at < clock.MAX_TS + 1:
        raise invalid("revoke_at", f"must be at most {clock.MAX_ISO}",
                      f"revoke_at must be at most {clock.MAX_ISO}")
    if revoke_at <= clock.now():
        raise invalid("revoke_at", "must be in the future", "revoke_at must be in the future")
    note = audit.Note(key_id, {"revoke_at": clock.iso(int(revoke_at))})
    _update_unrevoked(act, note, key, revoke_at=int(revoke_at), revoke_pending=PENDING)
    return to_json(key), note


def revoke(act: audit.Act, key_id: str) -> tuple[dict, audit.Note]:
    key = find(key_id)
    note = audit.Note(key_id, {"reason": "revoked by admin"})
    _update_unrevoked(act, note, key, -1, revoked_at=clock.now_int(), revoke_pending=None)
    return to_json(key), note


def _update_unrevoked(act: audit.Act, note: audit.Note, key: ApiKey, count: int = 0,
                      **changes) -> None:
    """Change a live key (None removes a field) and write the act's audit entry, in one
    transaction (with `count` added to the instance's key count); `key` then holds the
    new values."""
    def write(tx) -> None:
        tx.update(key, actions=field_actions(ApiKey, changes),
                  condition=ApiKey.revoked_at.does_not_exist())
        if count:
            _count(tx, key.instance_id, count)
    if not api_keys.is_live(key.revoked_at, key.revoke_at, clock.now_int()) or not act.commit(
            note, write):
        raise AppError("KEY_REVOKED")
    for name, value in changes.items():
        setattr(key, name, value)


def apply_due_revocations(origin: Origin | None = None) -> int:
    """Scheduled: make due revocations final and audit each exactly once."""
    now = clock.now_int()
    done = 0
    from pynamodb.exceptions import TransactWriteError
    for key in ApiKey.by_pending_revocation.query(PENDING, ApiKey.revoke_at <= now):
        try:
            with transact_write() as tx:   # final, and counted, once
                tx.update(key, actions=[ApiKey.revoked_at.set(int(key.revoke_at)),
                                        ApiKey.revoke_pending.remove()],
                          condition=ApiKey.revoked_at.does_not_exist()
                          & (ApiKey.revoke_pending == PENDING))
                _count(tx, key.instance_id, -1)
        except TransactWriteError as exc:
            if {"ConditionalCheckFailed", "TransactionConflict"} & set(reason_codes(exc)):
                continue  # another run got there first (or is getting there)
            raise
        audit.record(SCHEDULER, "key_revoked", key.id,
                     {"reason": "scheduled", "instance_id": key.instance_id,
                      "revoke_at": clock.iso(key.revoke_at), "prefix": key.prefix}, origin)
        done += 1
    return done
