"""Listener signing secrets: moved out of the spec at deploy, sealed, opened to sign.

At deploy (chalicelib/platform/specs/service.py calls `seal_listeners`) each listener's
``secret`` is replaced in the stored spec by the placeholder ``whsec_redacted`` and a
``secret_ref`` ("lsk_<13 digits><12 hex>"). The secret itself is sealed with AES-256-GCM
under the key kept in Secrets Manager ("webhook_key", made by bootstrap or the stack) and
stored in ListenerSecret (instance, ref) in the deploy's own transaction; the GCM
associated data binds it to its instance and ref, so a sealed value moved to another item
does not open. A spec deployed with the placeholder keeps the secret its ``secret_ref``
names (or, without a ref, the one of the same listener in the version in force), so an
operator can GET the spec, edit it and deploy it back."""
from __future__ import annotations

import base64
import os
import secrets as _secrets
import threading

from chalicelib.core import caches, clock
from chalicelib.core.errors import AppError
from chalicelib.domain import webhooks
from chalicelib.store.tables import ListenerSecret

_opened: dict[tuple[str, str], bytes] = {}     # (instance, ref) -> HMAC key; never changes
_lock = threading.Lock()


def _aes():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from chalicelib.store import secrets
    try:
        key = bytes.fromhex(secrets.read("webhook_key").strip())
    except Exception as exc:  # noqa: BLE001 - a missing key is a deployment fault
        raise RuntimeError("the webhook_key secret is missing or not 64 hex characters; "
                           "bootstrap (or the stack) creates it") from exc
    if len(key) != 32:
        raise RuntimeError("the webhook_key secret must be 64 hex characters (32 bytes)")
    return AESGCM(key)


def _aad(instance_id: str, ref: str) -> bytes:
    return f"j17-listener-secret:{instance_id}:{ref}".encode()


def new_ref() -> str:
    return f"lsk_{int(clock.now() * 1000):013d}{_secrets.token_hex(6)}"


def seal(instance_id: str, env: str, listener: str, secret: str, actor: str) -> ListenerSecret:
    key = webhooks.secret_key(secret)
    ref = new_ref()
    nonce = os.urandom(12)
    sealed = _aes().encrypt(nonce, key, _aad(instance_id, ref))
    return ListenerSecret(instance_id, ref, listener=listener, environment=env,
                          nonce=base64.b64encode(nonce).decode(),
                          sealed=base64.b64encode(sealed).decode(),
                          created_at=clock.now(), created_by=actor)


def open_key(instance_id: str, ref: str) -> bytes | None:
    """The HMAC key a ref names (cached: a sealed secret never changes), or None."""
    hit = _opened.get((instance_id, ref))
    if hit is not None:
        return hit
    try:
        item = ListenerSecret.get(instance_id, ref, consistent_read=True)
    except ListenerSecret.DoesNotExist:
        return None
    key = _aes().decrypt(base64.b64decode(item.nonce), base64.b64decode(item.sealed),
                         _aad(instance_id, ref))
    with _lock:
        _opened[(instance_id, ref)] = key
    return key


def _exists(instance_id: str, ref: str) -> bool:
    try:
        ListenerSecret.get(instance_id, ref, consistent_read=True, attributes_to_get=["ref"])
        return True
    except ListenerSecret.DoesNotExist:
        return False


def seal_listeners(instance_id: str, env: str, spec: dict, previous: dict | None,
                   actor: str) -> tuple[dict, list[ListenerSecret]]:
    """(the spec to store, the sealed secrets to put in the deploy's transaction). The
    spec given is not changed. A placeholder secret whose ref is unknown is refused
    (422 INVALID_SPEC at the listener's secret), never stored as a secret."""
    listeners = spec.get("listeners") if isinstance(spec, dict) else None
    if not listeners:
        return spec, []
    stored, items, problems = [], [], []
    for i, listener in enumerate(listeners):
        path = f"$.listeners[{i}].secret"
        out = dict(listener)
        secret = listener.get("secret")
        if webhooks.is_redacted(secret):
            ref = listener.get("secret_ref")
            if ref is None:
                before = webhooks.listener_named(previous or {}, listener.get("name"))
                ref = (before or {}).get("secret_ref")
            if ref is None or not _exists(instance_id, ref):
                problems.append({"path": path, "message": (
                    f"secret is the redacted placeholder, but no stored secret "
                    + (f"has secret_ref {ref!r} in this instance" if ref else
                       f"belongs to listener {listener.get('name')!r} in the spec in force")
                    + ": give the secret itself (whsec_...)")})
                continue
            out["secret_ref"] = ref
        else:
            item = seal(instance_id, env, listener["name"], secret, actor)
            items.append(item)
            out["secret"] = webhooks.REDACTED
            out["secret_ref"] = item.ref
        stored.append(out)
    if problems:
        raise AppError("INVALID_SPEC", f"{len(problems)} problem(s) in the spec; see details",
                       details=problems)
    return {**spec, "listeners": stored}, items


def clear_cache() -> None:
    _opened.clear()


caches.register("listener_secrets", clear_cache)
