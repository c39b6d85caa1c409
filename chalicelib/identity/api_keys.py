"""Checking a presented API key: one consistent GetItem by its hash.

The key text is never stored; its SHA-256 is the table's key, compared again in
constant time after the read. Creating, rotating and revoking keys are the keys
feature's acts; this is the check every data-plane request makes."""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain import api_keys
from chalicelib.store.conditions import update_if
from chalicelib.store.tables import ApiKey

TOUCH_EVERY_SECONDS = 300  # last_used_at is refreshed at most this often per key


@dataclass(frozen=True)
class VerifiedKey:
    id: str
    instance_id: str
    environment: str
    scope: str


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
    if not hmac.compare_digest(key.key_hash, digest) or not api_keys.is_live(
            key.revoked_at, key.revoke_at, now):
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
