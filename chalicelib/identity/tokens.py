"""Admin JWTs: EdDSA-signed, one hour, tied to a login session that logout revokes."""
from __future__ import annotations

from chalicelib.core import caches, clock, settings
from chalicelib.core.errors import AppError
from chalicelib.domain import permissions as perms
from chalicelib.identity.principal import Principal
from chalicelib.store import secrets
from chalicelib.store.tables import Session

TOKEN_SECONDS = 3600
SESSION_MAX_SECONDS = 12 * 3600  # refresh extends a session up to this, then log in again

_keys: dict[str, tuple] = {}


def _signing_keys():
    """(private, public) from the secret's hex seed, derived once per secret value."""
    seed_hex = secrets.read("signing_key")
    if seed_hex not in _keys:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex.strip()))
        _keys.clear()
        _keys[seed_hex] = (private, private.public_key())
    return _keys[seed_hex]


def start_session(subject: str, kind: str) -> Session:
    now = clock.now_int()
    session = Session(sid=clock.new_id("sess_"), subject=subject, kind=kind, created_at=now,
                      expires_at=now + SESSION_MAX_SECONDS,
                      ttl=now + SESSION_MAX_SECONDS + 86400)
    session.save()
    return session


def issue(subject: str, kind: str, permissions, sid: str, session_expires_at: int) -> dict:
    """A signed token and the login answer's fields."""
    import jwt  # deferred: PyJWT pulls in cryptography

    now = clock.now_int()
    exp = min(now + TOKEN_SECONDS, int(session_expires_at))
    granted = perms.expand(permissions)
    s = settings.get()
    claims = {"iss": s.server_name, "sub": subject, "aud": s.token_audience, "iat": now,
              "exp": exp, "jti": clock.new_id(), "sid": sid, "kind": kind,
              "permissions": granted, "admin_level": perms.admin_level(granted)}
    private, _ = _signing_keys()
    token = jwt.encode(claims, private, algorithm="EdDSA", headers={"typ": "JWT"})
    return {"admin_token": token, "expires_at": exp, "permissions": granted,
            "admin_level": claims["admin_level"]}


def authenticate(token: str) -> Principal:
    """Verify signature and claims, then the session: one consistent GetItem."""
    import jwt

    s = settings.get()
    _, public = _signing_keys()
    try:
        claims = jwt.decode(token, public, algorithms=["EdDSA"], audience=s.token_audience,
                            issuer=s.server_name, leeway=0,
                            options={"require": ["exp", "iat", "sub", "sid", "jti"],
                                     "verify_exp": False, "verify_iat": False})
    except jwt.PyJWTError:
        raise AppError("UNAUTHENTICATED", "Bearer token is invalid")
    if not _well_typed(claims):
        raise AppError("UNAUTHENTICATED", "Bearer token is invalid")
    # times are checked against our clock, which tests and the local runner can move
    now = clock.now_int()
    if claims["iat"] > now + 60:
        raise AppError("UNAUTHENTICATED", "Bearer token is not valid yet")
    if claims["exp"] <= now:
        raise AppError("TOKEN_EXPIRED")
    try:
        session = Session.get(claims["sid"], consistent_read=True)
    except Session.DoesNotExist:
        raise AppError("SESSION_REVOKED")
    if session.revoked_at is not None or session.expires_at <= clock.now_int():
        raise AppError("SESSION_REVOKED")
    return Principal(subject=claims["sub"], kind=claims.get("kind", "operator"),
                     permissions=tuple(claims.get("permissions", [])), sid=claims["sid"],
                     token_exp=int(claims["exp"]),
                     extra={"session_expires_at": int(session.expires_at)})


MAX_CLAIM_CHARS = 512   # sub is an email or a device address (32 hex @ server name)


def _well_typed(claims: dict) -> bool:
    """The claims this module reads have the types it issues: a signed token is still
    input (a key leak, a bug elsewhere), and a sid that is not a short string would
    reach DynamoDB as a key it refuses."""
    def text(value) -> bool:
        if not isinstance(value, str) or not 0 < len(value) <= MAX_CLAIM_CHARS:
            return False
        try:
            value.encode("utf-8")      # a lone surrogate from a "\\ud800" escape
        except UnicodeEncodeError:
            return False
        return True

    def integer(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    return (all(text(claims[name]) for name in ("sub", "sid", "jti"))
            and integer(claims["exp"]) and integer(claims["iat"])
            and text(claims.get("kind", "operator"))
            and isinstance(claims.get("permissions", []), list)
            and all(text(p) for p in claims.get("permissions", [])))


def revoke_session(sid: str) -> None:
    """Every token of the session fails from the next request on."""
    Session(sid=sid).update(actions=[Session.revoked_at.set(clock.now_int())],
                            condition=Session.sid.exists())


caches.register("signing_keys", _keys.clear)
