"""Logging in: operators by password, admin devices by Ed25519 challenge."""
from __future__ import annotations

import secrets as _secrets

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.identity import admin_limits
from chalicelib.identity import admin_list as admins
from chalicelib.identity import audit, passwords, tokens
from chalicelib.identity.principal import Origin, Principal
from chalicelib.store.conditions import delete_if, save_if
from chalicelib.store.tables import Challenge, Device, Operator

CHALLENGE_SECONDS = 300
TIMESTAMP_SKEW_SECONDS = 300


def operator_login(email: str, password: str, origin: Origin) -> tuple[dict, audit.Note]:
    email = email.strip().lower()
    admin_limits.check_login(email, origin.ip_address)
    try:
        operator = Operator.get(email)
    except Operator.DoesNotExist:
        operator = None
    ok = passwords.verify_password(operator.password_hash if operator else None, password)
    if not ok:
        admin_limits.count_failed_login(email, origin.ip_address)
        audit.record(Principal(subject=email, kind="operator"), "admin_login_failed", email,
                     {"method": "password"}, origin)
        raise AppError("INVALID_CREDENTIALS")
    return _login(Principal(subject=email, kind="operator", permissions=tuple(operator.permissions)),
                  {"method": "password"})


def new_challenge() -> dict:
    challenge = _secrets.token_hex(24)
    expires_at = clock.now_int() + CHALLENGE_SECONDS
    Challenge(challenge=challenge, expires_at=expires_at, ttl=expires_at + 3600).save()
    return {"challenge": challenge, "expires_at": expires_at}


def device_login(address: str, challenge: str, signature_hex: str, timestamp: int,
                 origin: Origin) -> tuple[dict, audit.Note]:
    if abs(clock.now_int() - int(timestamp)) > TIMESTAMP_SKEW_SECONDS:
        raise AppError("STALE_TIMESTAMP")
    address = address.lower()
    permissions = admins.device_permissions(address)
    if not permissions:
        raise AppError("INVALID_ADMIN")
    try:
        device = Device.get(address)
    except Device.DoesNotExist:
        raise AppError("INVALID_ADMIN", "Device is configured as admin but not registered")
    _consume_challenge(challenge)
    if not _signature_ok(device.public_key, challenge, signature_hex):
        audit.record(Principal(subject=address, kind="device"), "admin_login_failed", address,
                     {"method": "device", "reason": "invalid_signature"}, origin)
        raise AppError("INVALID_SIGNATURE")
    return _login(Principal(subject=address, kind="device", permissions=tuple(permissions)),
                  {"method": "device"})


def _consume_challenge(challenge: str) -> None:
    """Single use: the delete succeeds once, and only before expiry."""
    if not delete_if(Challenge(challenge=challenge),
                     Challenge.challenge.exists() & (Challenge.expires_at > clock.now_int())):
        raise AppError("CHALLENGE_EXPIRED")


def _signature_ok(public_key_hex: str, challenge: str, signature_hex: str) -> bool:
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey
    try:
        signature = bytes.fromhex(signature_hex)
        VerifyKey(bytes.fromhex(public_key_hex)).verify(challenge.encode(), signature)
        return True
    except (ValueError, BadSignatureError):
        return False


def _login(principal: Principal, details: dict) -> tuple[dict, audit.Note]:
    session = tokens.start_session(principal.subject, principal.kind)
    answer = tokens.issue(principal.subject, principal.kind, principal.permissions, session.sid,
                          session.expires_at)
    return answer, audit.Note(principal.subject, dict(details, session_id=session.sid,
                                                      admin_level=answer["admin_level"]),
                              actor=principal)


def current_permissions(principal: Principal) -> list[str] | None:
    """What the principal may do now (the admin list or operator record may have changed)."""
    if principal.kind == "device":
        return admins.device_permissions(principal.subject)
    try:
        return list(Operator.get(principal.subject).permissions)
    except Operator.DoesNotExist:
        return None


def refresh(principal: Principal) -> tuple[dict, audit.Note]:
    permissions = current_permissions(principal)
    if not permissions:
        tokens.revoke_session(principal.sid)
        raise AppError("INVALID_ADMIN", "No longer configured as admin")
    answer = tokens.issue(principal.subject, principal.kind, permissions, principal.sid,
                          principal.extra["session_expires_at"])
    return ({"admin_token": answer["admin_token"], "expires_at": answer["expires_at"]},
            audit.Note(principal.subject, {"session_id": principal.sid,
                                           "expires_at": answer["expires_at"]}))


def logout(principal: Principal) -> tuple[dict, audit.Note]:
    tokens.revoke_session(principal.sid)
    return ({"message": "Admin token invalidated"},
            audit.Note(principal.subject, {"session_id": principal.sid}))


def create_operator(email: str, password: str, permissions) -> bool:
    """Bootstrap: create the operator unless it exists. True when created."""
    operator = Operator(email=email.strip().lower(),
                        password_hash=passwords.hash_password(password),
                        permissions=list(permissions), created_at=clock.now_int())
    return save_if(operator, Operator.email.does_not_exist())
