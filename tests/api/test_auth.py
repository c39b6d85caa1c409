"""Operator and device login, tokens, refresh and logout (seed 004 auth)."""
import jwt
import pytest
from nacl.signing import SigningKey

from chalicelib.core import clock
from chalicelib.store.tables import AuditEntry, Challenge
from tests.api.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, VECTOR_ADDRESS

VECTOR_CHALLENGE = "a1b2c3d4e5f61728394a5b6c7d8e9f101234567890abcdef"
VECTOR_SIGNATURE = ("24c94e82a12c6163eded8631645771459707b396fb09c4a8ee443ea7d26cb8b6"
                    "740ef13c3087af387f887f051bd43c738c562b6d69821387b903792c5293a30c")


def audit_actions():
    return sorted(e.action for e in AuditEntry.scan())


def test_operator_login_answers_seed_shape(stack):
    answer = stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert answer.status == 200
    assert set(answer.json) == {"admin_token", "expires_at", "permissions", "admin_level"}
    assert answer.json["admin_level"] == "admin"
    assert "all" in answer.json["permissions"] and "view_metrics" in answer.json["permissions"]
    assert 3590 <= answer.json["expires_at"] - clock.now_int() <= 3600
    assert audit_actions() == ["admin_login"]


@pytest.mark.parametrize("body", [{"email": ADMIN_EMAIL, "password": "wrong"},
                                  {"email": "nobody@example.com", "password": ADMIN_PASSWORD}])
def test_operator_login_refuses_bad_credentials(stack, body):
    answer = stack.call("POST", "/api/login", body=body)
    assert answer.status == 401
    assert answer.json["error"] == "INVALID_CREDENTIALS" and answer.json["code"] == 4006
    assert "admin_token" not in answer.text


def test_password_guessing_is_throttled_per_account_and_address(stack, frozen_clock):
    from chalicelib.identity.admin_limits import FAILED_LOGINS
    wrong = {"email": ADMIN_EMAIL, "password": "guess"}
    for _ in range(FAILED_LOGINS):
        assert stack.call("POST", "/api/login", body=wrong).status == 401
    # the right password is not even checked now: the limit tells a guesser nothing
    locked = stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL,
                                                    "password": ADMIN_PASSWORD})
    assert locked.status == 429 and locked.json["error"] == "RATE_LIMITED", locked
    assert 0 < int(locked.headers["Retry-After"]) <= 3600
    assert audit_actions().count("admin_login_failed") == FAILED_LOGINS
    # another account from the same address is unaffected
    assert stack.call("POST", "/api/login", body={"email": "other@example.com",
                                                  "password": "x"}).status == 401
    clock.advance(int(locked.headers["Retry-After"]))
    assert stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL,
                                                  "password": ADMIN_PASSWORD}).status == 200


@pytest.mark.parametrize("raw", ["", "not json", '{"email": 5}', '{"email":"a@b.c"}', "[]"])
def test_login_refuses_malformed_bodies(stack, raw):
    answer = stack.call("POST", "/api/login", raw_body=raw)
    assert answer.status == 400
    assert answer.json["error"] == "VALIDATION_ERROR" and answer.json["code"] == 4000
    assert isinstance(answer.json["details"], list) and answer.json["details"]


def test_challenge_shape(stack):
    answer = stack.call("GET", "/admin/v1/auth/challenge")
    assert answer.status == 200
    assert set(answer.json) == {"challenge", "expires_at"}
    assert len(answer.json["challenge"]) == 48 and int(answer.json["challenge"], 16) >= 0
    assert answer.json["expires_at"] == pytest.approx(clock.now_int() + 300, abs=2)


def test_spec_test_vector_logs_in(stack):
    """The bootstrapped device is the published test-vector key; its published signature works."""
    Challenge(challenge=VECTOR_CHALLENGE, expires_at=clock.now_int() + 300).save()
    answer = stack.call("POST", "/admin/v1/auth", body={
        "device_address": VECTOR_ADDRESS, "challenge": VECTOR_CHALLENGE,
        "challenge_signature": VECTOR_SIGNATURE, "timestamp": clock.now_int()})
    assert answer.status == 200, answer
    assert answer.json["admin_level"] == "admin"
    claims = jwt.decode(answer.json["admin_token"], options={"verify_signature": False})
    assert claims["sub"] == VECTOR_ADDRESS


def test_device_token_claims(stack):
    answer = stack.device_login(stack.admin_key, VECTOR_ADDRESS)
    token = answer.json["admin_token"]
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"iss", "sub", "aud", "iat", "exp", "jti", "sid", "permissions", "admin_level"} <= set(claims)
    assert claims["iss"] == "chat.example.com" and claims["exp"] - claims["iat"] == 3600
    assert audit_actions() == ["admin_login"]


def test_bad_signature_is_403(stack):
    ch = stack.call("GET", "/admin/v1/auth/challenge").json["challenge"]
    other = SigningKey.generate().sign(ch.encode()).signature.hex()
    answer = stack.call("POST", "/admin/v1/auth", body={
        "device_address": VECTOR_ADDRESS, "challenge": ch, "challenge_signature": other,
        "timestamp": clock.now_int()})
    assert answer.status == 403
    assert answer.json == {"error": "INVALID_SIGNATURE",
                           "message": "Challenge signature verification failed", "code": 4001}


def test_challenge_is_single_use(stack):
    ch = stack.call("GET", "/admin/v1/auth/challenge").json["challenge"]
    body = {"device_address": VECTOR_ADDRESS, "challenge": ch,
            "challenge_signature": stack.admin_key.sign(ch.encode()).signature.hex(),
            "timestamp": clock.now_int()}
    assert stack.call("POST", "/admin/v1/auth", body=body).status == 200
    again = stack.call("POST", "/admin/v1/auth", body=body)
    assert again.status == 410
    assert again.json == {"error": "CHALLENGE_EXPIRED",
                          "message": "Challenge has expired. Request a new one.", "code": 4010}


def test_expired_and_unknown_challenges_are_410(stack):
    ch = stack.call("GET", "/admin/v1/auth/challenge").json["challenge"]
    clock.advance(301)
    sig = stack.admin_key.sign(ch.encode()).signature.hex()
    body = {"device_address": VECTOR_ADDRESS, "challenge": ch, "challenge_signature": sig,
            "timestamp": clock.now_int()}
    assert stack.call("POST", "/admin/v1/auth", body=body).json["code"] == 4010
    body["challenge"] = "0" * 48
    assert stack.call("POST", "/admin/v1/auth", body=body).status == 410


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamp_is_401(stack, skew):
    ch = stack.call("GET", "/admin/v1/auth/challenge").json["challenge"]
    answer = stack.call("POST", "/admin/v1/auth", body={
        "device_address": VECTOR_ADDRESS, "challenge": ch,
        "challenge_signature": stack.admin_key.sign(ch.encode()).signature.hex(),
        "timestamp": clock.now_int() + skew})
    assert answer.status == 401 and answer.json["error"] == "STALE_TIMESTAMP"


def test_device_not_in_admin_list_is_401(stack):
    key = SigningKey.generate()
    address = stack.register_device(key)
    answer = stack.device_login(key, address)
    assert answer.status == 401
    assert answer.json == {"error": "INVALID_ADMIN", "message": "Device is not configured as admin",
                           "code": 4009}


def test_admin_levels_follow_permissions(stack):
    for perms, level in [(["manage_config"], "admin"), (["verify_devices"], "moderator"),
                         (["view_metrics", "view_audit"], "viewer")]:
        key = SigningKey.generate()
        address = stack.register_device(key)
        stack.set_admins({VECTOR_ADDRESS: ["all"], address: perms})
        answer = stack.device_login(key, address)
        assert answer.json["admin_level"] == level
        assert answer.json["permissions"] == perms


def test_refresh_keeps_session_and_logout_revokes_every_token(stack):
    token = stack.device_login(stack.admin_key, VECTOR_ADDRESS).json["admin_token"]
    clock.advance(5)
    refreshed = stack.call("POST", "/admin/v1/auth/refresh", token)
    assert refreshed.status == 200
    assert set(refreshed.json) == {"admin_token", "expires_at"}
    new = refreshed.json["admin_token"]
    old_claims = jwt.decode(token, options={"verify_signature": False})
    new_claims = jwt.decode(new, options={"verify_signature": False})
    assert new_claims["sid"] == old_claims["sid"] and new_claims["jti"] != old_claims["jti"]
    assert refreshed.json["expires_at"] > old_claims["exp"]
    assert stack.call("GET", "/api/instances", new).status == 200

    out = stack.call("POST", "/admin/v1/auth/logout", new)
    assert out.status == 200 and out.json == {"message": "Admin token invalidated"}
    for t in (token, new):
        refused = stack.call("GET", "/api/instances", t)
        assert refused.status == 401 and refused.json["error"] == "SESSION_REVOKED"
    assert stack.call("POST", "/admin/v1/auth/refresh", new).status == 401
    assert audit_actions() == ["admin_login", "admin_logout", "admin_token_refreshed"]


def test_logout_of_one_session_leaves_others(stack):
    first = stack.operator_token()
    second = stack.operator_token()
    stack.call("POST", "/admin/v1/auth/logout", first)
    assert stack.call("GET", "/api/instances", first).status == 401
    assert stack.call("GET", "/api/instances", second).status == 200


def test_expired_token_is_401(stack):
    token = stack.operator_token()
    clock.advance(3601)
    answer = stack.call("GET", "/api/instances", token)
    assert answer.status == 401 and answer.json["error"] == "TOKEN_EXPIRED"


def test_refresh_refused_once_removed_from_admin_list(stack):
    token = stack.device_login(stack.admin_key, VECTOR_ADDRESS).json["admin_token"]
    stack.set_admins({})
    answer = stack.call("POST", "/admin/v1/auth/refresh", token)
    assert answer.status == 401 and answer.json["code"] == 4009
    assert stack.call("GET", "/api/instances", token).status == 401


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Basic abc", "Bearer "])
def test_malformed_tokens_are_401(stack, header):
    answer = stack.call("GET", "/api/instances", headers={"Authorization": header})
    assert answer.status == 401 and answer.json["error"] == "UNAUTHENTICATED"


def test_token_signed_by_another_key_is_401(stack):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    token = stack.operator_token()
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA")
    assert stack.call("GET", "/api/instances", forged).status == 401


def test_audit_entries_carry_origin(stack):
    stack.operator_token()
    (entry,) = list(AuditEntry.scan())
    assert entry.id.startswith("audit_") and len(entry.id) == 38
    assert entry.admin == ADMIN_EMAIL and entry.user_agent == "pytest/1.0"
    assert entry.ip_address
