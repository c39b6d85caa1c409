"""API keys: shown once, stored as SHA-256, verified in one DynamoDB round trip."""
from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from chalicelib.core import clock
from chalicelib.domain import api_keys
from chalicelib.core.errors import AppError
from chalicelib.identity import audit
from chalicelib.platform.instances import service as instances
from chalicelib.identity.principal import SCHEDULER, Origin, Principal
from chalicelib.store.base import transact_write
from chalicelib.store.conditions import condition_failed, update_if
from chalicelib.store.tables import ApiKey, ApiKeyId

MAX_ROTATION_GRACE_SECONDS = 30 * 86400
TOUCH_EVERY_SECONDS = 300  # last_used_at is refreshed at most this often per key
PENDING = "pending"


@dataclass(frozen=True)
class VerifiedKey:
    id: str
    instance_id: str
    environment: str
    scope: str


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


def create(actor: Principal, instance_id: str, name: str, scope: str, environment: str) -> dict:
    instances.get(instance_id)
    key, text = _new_key(actor, instance_id, name.strip(), scope, environment)
    with transact_write() as tx:
        _save_new(tx, key)
    return _shown_once(key, text)


def _save_new(tx, key: ApiKey) -> None:
    """The key and its id entry, in the caller's transaction."""
    tx.save(key, condition=ApiKey.key_hash.does_not_exist())
    tx.save(ApiKeyId(id=key.id, key_hash=key.key_hash), condition=ApiKeyId.id.does_not_exist())


def list_for(instance_id: str) -> list[dict]:
    instances.get(instance_id)
    return [to_json(k) for k in ApiKey.by_instance.query(instance_id)]


def find(key_id: str) -> ApiKey:
    """Two consistent reads: the id entry, then the key."""
    try:
        digest = ApiKeyId.get(key_id, consistent_read=True).key_hash
        return ApiKey.get(digest, consistent_read=True)
    except (ApiKeyId.DoesNotExist, ApiKey.DoesNotExist):
        raise AppError("KEY_NOT_FOUND")


def _live(key: ApiKey, now: float) -> bool:
    return key.revoked_at is None and (key.revoke_at is None or key.revoke_at > now)


def rotate(actor: Principal, key_id: str, grace_seconds: int) -> dict:
    """A new key with the same name, scope and environment; the old one ends now or
    after the grace period, atomically with the new one's creation."""
    from pynamodb.exceptions import TransactWriteError

    old = find(key_id)
    now = clock.now_int()
    if not _live(old, now):
        raise AppError("KEY_REVOKED")
    new, text = _new_key(actor, old.instance_id, old.name, old.scope, old.environment,
                         rotated_from=old.id)
    if grace_seconds:
        ends = [ApiKey.revoke_at.set(now + grace_seconds), ApiKey.revoke_pending.set(PENDING)]
    else:
        ends = [ApiKey.revoked_at.set(now), ApiKey.revoke_pending.remove()]
    try:
        with transact_write() as tx:
            _save_new(tx, new)
            tx.update(old, actions=ends, condition=ApiKey.revoked_at.does_not_exist())
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise AppError("KEY_REVOKED")
        raise
    answer = _shown_once(new, text)
    answer["rotated_from"] = old.id
    answer["old_key_revoke_at"] = clock.iso(now + grace_seconds)
    return answer


def schedule_revocation(key_id: str, revoke_at: float) -> dict:
    key = find(key_id)
    if revoke_at <= clock.now():
        raise AppError("VALIDATION_ERROR", "revoke_at must be in the future",
                       details=[{"path": "revoke_at", "message": "must be in the future"}])
    _update_unrevoked(key, [ApiKey.revoke_at.set(int(revoke_at)),
                            ApiKey.revoke_pending.set(PENDING)])
    return to_json(key)


def revoke(key_id: str) -> dict:
    key = find(key_id)
    _update_unrevoked(key, [ApiKey.revoked_at.set(clock.now_int()), ApiKey.revoke_pending.remove()])
    return to_json(key)


def _update_unrevoked(key: ApiKey, actions) -> None:
    if not _live(key, clock.now_int()) or not update_if(
            key, actions, ApiKey.revoked_at.does_not_exist()):
        raise AppError("KEY_REVOKED")


def verify(text: str | None) -> VerifiedKey:
    """The one check of a presented key: a single consistent GetItem by its hash."""
    if not text or not api_keys.well_formed(text):
        raise AppError("INVALID_API_KEY")
    digest = api_keys.key_hash(text)
    try:
        key = ApiKey.get(digest, consistent_read=True)
    except ApiKey.DoesNotExist:
        raise AppError("INVALID_API_KEY")
    now = clock.now()
    if not hmac.compare_digest(key.key_hash, digest) or not _live(key, now):
        raise AppError("INVALID_API_KEY")
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY_SECONDS:
        _touch(key, int(now))
    return VerifiedKey(id=key.id, instance_id=key.instance_id, environment=key.environment,
                       scope=key.scope)


def _touch(key: ApiKey, now: int) -> None:
    """Record use, throttled so a busy key costs one write per few minutes, not per call."""
    update_if(key, [ApiKey.last_used_at.set(now)],
              ApiKey.last_used_at.does_not_exist()
              | (ApiKey.last_used_at < now - TOUCH_EVERY_SECONDS + 1))


def apply_due_revocations(origin: Origin | None = None) -> int:
    """Scheduled: make due revocations final and audit each exactly once."""
    now = clock.now_int()
    done = 0
    for key in ApiKey.by_pending_revocation.query(PENDING, ApiKey.revoke_at <= now):
        if not update_if(key, [ApiKey.revoked_at.set(int(key.revoke_at)),
                               ApiKey.revoke_pending.remove()],
                         ApiKey.revoked_at.does_not_exist() & (ApiKey.revoke_pending == PENDING)):
            continue  # another run got there first
        audit.record(SCHEDULER, "key_revoked", key.id,
                     {"reason": "scheduled", "instance_id": key.instance_id,
                      "revoke_at": clock.iso(key.revoke_at), "prefix": key.prefix}, origin)
        done += 1
    return done
