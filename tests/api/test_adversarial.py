"""The threat model as one table: what a hostile or broken client sends, and the one
answer each probe must get. Every row asserts the status, the error code in the surface's
documented shape (admin: {"error", "message", "code"[, "details"]}; /data: {"ok": false,
"error", "code", ...}), that the answer carries no stack trace or file path, and, for
writes, that nothing changed (counts before and after).

Credentials and bodies that need the running stack (a fresh challenge, a minted token)
are built by the named helpers below, before the "before" counts are taken. A refused
write must leave every table (rate counters and challenges aside) and every bucket as
it found them; the counts a row names say what the attack would have written."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import jwt
import pytest
from nacl.signing import SigningKey

from chalicelib.core import clock
from chalicelib.core.errors import KINDS
from chalicelib.http.declarations import MUTATING
from chalicelib.store import aws, secrets
from chalicelib.store.buckets import bucket_name
from chalicelib.store.tables import AuditEntry, Instance, Session, StoredEvent
from testing.specs import ORDER_SPEC
from testing.stack import NODE_SECRET, VECTOR_ADDRESS

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
ACTOR_JSON = json.dumps(ACTOR)
DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
LONG = "x" * 1024
LOGIN_BODY = '{"email": "admin@example.com", "password": %s}'


def event(data_json: str) -> str:
    """An append body with `data_json` as its data, exactly as written."""
    return '{"data": %s, "metadata": %s}' % (data_json, ACTOR_JSON)


# --- what is counted before and after a refused write ----------------------------------

def _blob_count() -> int:
    listed = aws.client("s3").list_objects_v2(Bucket=bucket_name("blobs"))
    return len(listed.get("Contents", []))


def _everything() -> int:
    """Items in every table (but the rate counters a refused call may still spend, and
    challenges, which only GET makes) and objects in every bucket."""
    from chalicelib.store.buckets import BUCKETS
    from chalicelib.store.tables import TABLES, Challenge, RateCounter
    items = sum(sum(1 for _ in model.scan()) for model in TABLES
                if model not in (RateCounter, Challenge))
    s3 = aws.client("s3")
    return items + sum(len(s3.list_objects_v2(Bucket=bucket_name(b)).get("Contents", []))
                       for b in BUCKETS)


COUNTS: dict[str, Callable[[], int]] = {
    "everything": _everything,
    "audit": lambda: sum(1 for _ in AuditEntry.scan()),
    "instances": lambda: sum(1 for _ in Instance.scan()),
    "events": lambda: sum(1 for _ in StoredEvent.scan()),
    "sessions": lambda: sum(1 for _ in Session.scan()),
    "blobs": _blob_count,
}


# --- the world every probe runs against -------------------------------------------------

@dataclass
class World:
    stack: Any
    token: str                   # the operator's (permission "all")
    A: str                       # instance A: spec in prod and staging
    B: str                       # instance B: spec in prod
    keys: dict = field(default_factory=dict)   # ("A", "prod", "write") -> key text


@pytest.fixture
def world(stack):
    token = stack.operator_token()
    w = World(stack, token, "", "")
    for name, envs in (("A", ("prod", "staging")), ("B", ("prod",))):
        inst = stack.call("POST", "/api/instances", token, body={"name": name}).json["id"]
        setattr(w, name, inst)
        for env in envs:
            deployed = stack.call("POST", f"/api/instances/{inst}/spec", token,
                                  body={"environment": env, "spec": ORDER_SPEC})
            assert deployed.status == 201, deployed
            for scope in ("read", "write"):
                made = stack.call("POST", f"/api/instances/{inst}/keys", token, body={
                    "name": scope, "scope": scope, "environment": env})
                w.keys[(name, env, scope)] = made.json["key"]
    # an aggregate each in B/prod and A/staging, none in A/prod
    for owner, env, agg in (("B", "prod", "B00000001"), ("A", "staging", "S00000001")):
        wrote = stack.call("POST", f"/data/order/{agg}/created", body={
            "data": {"customer": "C00000001"}, "metadata": ACTOR},
            headers={"Authorization": f"Bearer {w.keys[(owner, env, 'write')]}"})
        assert wrote.status == 201, wrote
    return w


# --- credentials: each a function of the world answering headers ------------------------

def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _claims(w: World) -> dict:
    return jwt.decode(w.token, options={"verify_signature": False})


def _signing_key():
    """The deployment's signing key, read as tokens.py reads it (a hex Ed25519 seed)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secrets.read("signing_key").strip()))


def minted(**changes) -> Callable[[World], dict]:
    """A token signed with the real key: the operator's claims with `changes`."""
    def make(w: World) -> dict:
        return _bearer(jwt.encode({**_claims(w), **changes}, _signing_key(), algorithm="EdDSA"))
    return make


def _alg_none(w: World) -> dict:
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return _bearer(f"{header}.{_b64url(json.dumps(_claims(w)).encode())}.")


def _hs256_with_public_key(encoding: str) -> Callable[[World], dict]:
    """The key-confusion attack: HMAC-SHA256 keyed with the published public key."""
    def make(w: World) -> dict:
        from cryptography.hazmat.primitives import serialization
        public = _signing_key().public_key()
        secret = (public.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
                  if encoding == "pem" else
                  public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        signing_input = (_b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "."
                         + _b64url(json.dumps(_claims(w)).encode()))
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return _bearer(f"{signing_input}.{_b64url(mac)}")
    return make


def _tampered(w: World) -> dict:
    """The real signature over a payload changed afterwards (a longer life)."""
    header, _, signature = w.token.split(".")
    claims = {**_claims(w), "exp": _claims(w)["exp"] + 86400}
    return _bearer(f"{header}.{_b64url(json.dumps(claims).encode())}.{signature}")


def _expired(w: World) -> dict:
    clock.advance(3601)
    return _bearer(w.token)


def _after_logout(w: World) -> dict:
    token = w.stack.operator_token()
    assert w.stack.call("POST", "/admin/v1/auth/logout", token).status == 200
    return _bearer(token)


def _node(secret: str) -> Callable[[World], dict]:
    return lambda w: {"X-Node-Secret": secret}


def _key(owner: str, env: str, scope: str, as_node_secret: bool = False):
    def make(w: World) -> dict:
        text = w.keys[(owner, env, scope)]
        return {"X-Node-Secret": text} if as_node_secret else _bearer(text)
    return make


def _revoked_key(w: World) -> dict:
    text = w.keys[("A", "prod", "write")]
    listed = w.stack.call("GET", f"/api/instances/{w.A}/keys", w.token).json
    for key in listed["keys"]:
        if text.startswith(key["prefix"]) and key["environment"] == "prod" \
                and key["scope"] == "write":
            assert w.stack.call("DELETE", f"/api/keys/{key['id']}", w.token).status == 200
    return _bearer(text)


CREDENTIALS: dict[str, Callable[[World], dict]] = {
    "operator": lambda w: _bearer(w.token),
    "node": _node(NODE_SECRET),
    "key A/prod/write": _key("A", "prod", "write"),
    "key A/prod/read": _key("A", "prod", "read"),
    "key A/prod/write as X-Node-Secret": _key("A", "prod", "write", as_node_secret=True),
    "key A/prod/write, revoked": _revoked_key,
    "jwt alg=none": _alg_none,
    "jwt HS256 keyed with the PEM public key": _hs256_with_public_key("pem"),
    "jwt HS256 keyed with the raw public key": _hs256_with_public_key("raw"),
    "jwt tampered payload": _tampered,
    "jwt expired": _expired,
    "jwt after logout": _after_logout,
    "jwt wrong audience": minted(aud="someone-else"),
    "jwt wrong issuer": minted(iss="evil.example.com"),
    "jwt sid int": minted(sid=12345),
    "jwt sid object": minted(sid={"S": "sess_x"}),
    "jwt sid list": minted(sid=["sess_x"]),
    "jwt sid empty": minted(sid=""),
    "jwt sid 3000 chars": minted(sid="s" * 3000),
    "jwt sid lone surrogate": minted(sid="sess_\ud800"),
    "jwt sub int": minted(sub=7),
    "jwt jti list": minted(jti=["a"]),
    "jwt permissions a string": minted(permissions="all"),
    "jwt exp a string": minted(exp="9999999999"),
}


# --- device login bodies: each a function of the world answering the JSON body ----------

def _signed(w: World, key: SigningKey, address: str, timestamp: int | None = None,
            sign_with: SigningKey | None = None) -> dict:
    challenge = w.stack.call("GET", "/admin/v1/auth/challenge").json["challenge"]
    signature = (sign_with or key).sign(challenge.encode()).signature.hex()
    return {"device_address": address, "challenge": challenge,
            "challenge_signature": signature,
            "timestamp": clock.now_int() if timestamp is None else timestamp}


def _replayed(w: World) -> dict:
    body = _signed(w, w.stack.admin_key, VECTOR_ADDRESS)
    assert w.stack.call("POST", "/admin/v1/auth", body=body).status == 200
    return body


def _stale(offset: int) -> Callable[[World], dict]:
    return lambda w: _signed(w, w.stack.admin_key, VECTOR_ADDRESS, clock.now_int() + offset)


def _not_an_admin(w: World) -> dict:
    key = SigningKey.generate()
    return _signed(w, key, w.stack.register_device(key))


def _bad_signature(w: World) -> dict:
    return _signed(w, w.stack.admin_key, VECTOR_ADDRESS, sign_with=SigningKey.generate())


# --- the table --------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    path: str                    # {A} and {B} are the instances' ids
    status: int
    code: str
    auth: str | None = None      # a name in CREDENTIALS
    body: Any = None             # JSON value, or a function of the world answering one
    raw: str | bytes | None = None   # the exact body bytes (str is sent as UTF-8)
    unchanged: tuple = ()        # names in COUNTS ("everything" is added for writes)
    writes_audit: bool = False   # a refusal that is itself audited (admin_login_failed)

    @property
    def watched(self) -> tuple:
        if self.method in MUTATING and not self.writes_audit:
            return tuple(dict.fromkeys(self.unchanged + ("everything",)))
        return self.unchanged


P = Probe
BAD = (400, "VALIDATION_ERROR")
WRITE_A = "key A/prod/write"
NEW_INSTANCE = {"name": "x"}
BLOB = {"name": "m.wasm", "data": "AAAA"}
NOTHING_STORED = ("events", "audit")

PROBES = [
    # parser: nesting depth (RecursionError -> 500 before), on every kind of route
    P("login body nested 1000 deep", "POST", "/api/login", *BAD, raw=DEEP_ARRAY,
      unchanged=("audit", "sessions")),
    P("login password nested 1000 deep", "POST", "/api/login", *BAD,
      raw=LOGIN_BODY % DEEP_ARRAY, unchanged=("audit", "sessions")),
    P("device login nested 1000 deep", "POST", "/admin/v1/auth", *BAD, raw=DEEP_OBJECT,
      unchanged=("audit", "sessions")),
    P("instance body nested 1000 deep", "POST", "/api/instances", *BAD, auth="operator",
      raw='{"name": "x", "plan": %s}' % DEEP_ARRAY, unchanged=("instances", "audit")),
    P("event data nested 1000 deep", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event('{"customer": %s}' % DEEP_OBJECT), unchanged=NOTHING_STORED),
    P("event body nested 65 deep", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event('{"customer": "C00000000", "x": %s}' % ("[" * 63 + "]" * 63)), unchanged=NOTHING_STORED),
    P("batch nested 1000 deep", "POST", "/data/order/0RDER0001", *BAD, auth=WRITE_A,
      raw='{"events": %s}' % DEEP_ARRAY, unchanged=NOTHING_STORED),
    P("node body nested 1000 deep", "POST", "/internal/metrics", *BAD, auth="node",
      raw='{"samples": %s}' % DEEP_ARRAY),
    # parser: numbers JSON cannot carry (stored as nan/inf or crashing before)
    P("event data NaN", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event('{"customer": "C00000000", "total": NaN}'), unchanged=NOTHING_STORED),
    P("event data Infinity", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event('{"customer": "C00000000", "total": Infinity}'), unchanged=NOTHING_STORED),
    P("event data -Infinity", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event('{"customer": "C00000000", "total": -Infinity}'), unchanged=NOTHING_STORED),
    P("event data 1e400", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event('{"customer": "C00000000", "total": 1e400}'), unchanged=NOTHING_STORED),
    P("event metadata NaN", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw='{"data": {"customer": "C00000000"}, "metadata": {"actor": {"type": "user", "id": "AGENT0001"}, '
          '"previous_length": NaN}}', unchanged=NOTHING_STORED),
    P("login password NaN", "POST", "/api/login", *BAD, raw=LOGIN_BODY % "NaN",
      unchanged=("audit", "sessions")),
    P("config value Infinity", "PATCH", "/admin/v1/config", *BAD, auth="operator",
      raw='{"progressive_trust": {"new_tier_limit": Infinity}}', unchanged=("audit",)),
    P("config value -1e999", "PATCH", "/admin/v1/config", *BAD, auth="operator",
      raw='{"progressive_trust": {"new_tier_limit": -1e999}}', unchanged=("audit",)),
    # parser: strings that are not Unicode (lone surrogates; 500s and a lost audit entry)
    P("event data lone surrogate", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event(r'{"customer": "c\ud800"}'), unchanged=NOTHING_STORED),
    P("event data key lone surrogate", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=event(r'{"customer": "C00000000", "\udc00": 1}'), unchanged=NOTHING_STORED),
    P("event actor id lone surrogate", "POST", "/data/order/0RDER0001/created", *BAD, auth=WRITE_A,
      raw=r'{"data": {"customer": "C00000000"}, "metadata": {"actor": {"type": "user", "id": "\ud83d"}}}',
      unchanged=NOTHING_STORED),
    P("login email lone surrogate", "POST", "/api/login", *BAD,
      raw=r'{"email": "\ud800@example.com", "password": "x"}', unchanged=("audit", "sessions")),
    P("instance name lone surrogate", "POST", "/api/instances", *BAD, auth="operator",
      raw=r'{"name": "acme\udfff"}', unchanged=("instances", "audit")),
    P("instance name as UTF-8-encoded surrogate bytes", "POST", "/api/instances", *BAD,
      auth="operator", raw=b'{"name": "acme\xed\xa0\x80"}', unchanged=("instances", "audit")),
    P("federation block reason lone surrogate", "POST", "/admin/v1/federation/block", *BAD,
      auth="operator", raw=r'{"domain": "spam.example", "reason": "spam \ud83d"}',
      unchanged=("audit",)),
    P("query parameter lone surrogate", "GET", "/admin/v1/audit?action=\ud800", *BAD,
      auth="operator"),
    P("path parameter lone surrogate", "GET", "/api/instances/\udc80", *BAD, auth="operator"),
    P("data path lone surrogate", "GET", "/data/order/o\ud800", *BAD, auth="key A/prod/read"),
    # data plane names: key-size limits and '#' (500 from DynamoDB before)
    P("append: aggregate id 1024 chars", "POST", f"/data/order/{LONG}/created", *BAD,
      auth=WRITE_A, body={"data": {"customer": "C00000000"}, "metadata": ACTOR},
      unchanged=NOTHING_STORED),
    P("append: aggregate type 1024 chars", "POST", f"/data/{LONG}/0RDER0001/created", *BAD,
      auth=WRITE_A, body={"data": {}, "metadata": ACTOR}, unchanged=NOTHING_STORED),
    P("append: event type 1024 chars", "POST", f"/data/order/0RDER0001/{LONG}", *BAD,
      auth=WRITE_A, body={"data": {}, "metadata": ACTOR}, unchanged=NOTHING_STORED),
    P("append: aggregate id with '#'", "POST", "/data/order/o1%23x/created", *BAD,
      auth=WRITE_A, body={"data": {"customer": "C00000000"}, "metadata": ACTOR},
      unchanged=NOTHING_STORED),
    P("append: aggregate id 257 chars", "POST", f"/data/order/{'y' * 257}/created", *BAD,
      auth=WRITE_A, body={"data": {"customer": "C00000000"}, "metadata": ACTOR},
      unchanged=NOTHING_STORED),
    P("batch: aggregate id 1024 chars", "POST", f"/data/order/{LONG}", *BAD, auth=WRITE_A,
      body={"events": [{"type": "created", "data": {"customer": "C00000000"}, "metadata": ACTOR}]},
      unchanged=NOTHING_STORED),
    P("read: aggregate id 1024 chars", "GET", f"/data/order/{LONG}", *BAD,
      auth="key A/prod/read"),
    P("read: aggregate type 1024 chars", "GET", f"/data/{LONG}/0RDER0001", *BAD,
      auth="key A/prod/read"),
    P("length: aggregate id 1024 chars", "GET", f"/data/order/{LONG}/length", *BAD,
      auth="key A/prod/read"),
    P("merkle root (data): aggregate id 1024 chars", "GET", f"/data/order/{LONG}/audit/merkle-root",
      *BAD, auth="key A/prod/read"),
    P("merkle proof (data): aggregate type 1024 chars", "GET",
      f"/data/{LONG}/0RDER0001/audit/merkle-proof/0", *BAD, auth="key A/prod/read"),
    P("verify chain (internal): aggregate id 1024 chars", "GET",
      f"/internal/instances/{{A}}/prod/audit/verify-chain/order/{LONG}", *BAD, auth="node"),
    P("merkle root (ops): aggregate type 1024 chars", "GET",
      f"/api/instances/{{A}}/ops/prod/audit/merkle-root/{LONG}/0RDER0001", *BAD, auth="operator"),
    P("instance id 3000 chars", "GET", f"/api/instances/{'z' * 3000}", *BAD, auth="operator"),
    # query numbers (nan was accepted, and compares false with everything)
    P("?at=nan", "GET", "/data/order/B00000001?at=nan", *BAD, auth="key A/prod/read"),
    P("?at=NaN", "GET", "/data/order/B00000001?at=NaN", *BAD, auth="key A/prod/read"),
    P("?at=inf", "GET", "/data/order/B00000001?at=inf", *BAD, auth="key A/prod/read"),
    P("?at=-Infinity", "GET", "/data/order/B00000001?at=-Infinity", *BAD, auth="key A/prod/read"),
    P("?at=1e400", "GET", "/data/order/B00000001?at=1e400", *BAD, auth="key A/prod/read"),
    # cursors a listing did not give out (500 before, for blobs)
    P("blob cursor not base64", "GET", "/internal/instances/{A}/prod/blobs?cursor=garbage!!",
      *BAD, auth="node"),
    P("blob cursor not a cursor", "GET", "/internal/instances/{A}/prod/blobs?cursor=AAAA",
      *BAD, auth="node"),
    P("blob cursor S3-style token", "GET",
      "/internal/instances/{A}/prod/blobs?cursor=a5afded18d747b07581824b2eb4ae227", *BAD,
      auth="node"),
    P("blob cursor (ops surface)", "GET", "/api/instances/{A}/ops/prod/blobs?cursor=%00", *BAD,
      auth="operator"),
    P("instances cursor garbage", "GET", "/api/instances?cursor=garbage!!", *BAD,
      auth="operator"),
    P("instances cursor of the wrong shape", "GET",
      "/api/instances?cursor=" + base64.urlsafe_b64encode(b'{"a": 1}').decode().rstrip("="),
      *BAD, auth="operator"),
    P("instances limit 0", "GET", "/api/instances?limit=0", *BAD, auth="operator"),
    P("instances limit 1001", "GET", "/api/instances?limit=1001", *BAD, auth="operator"),
    P("instances limit not a number", "GET", "/api/instances?limit=ten", *BAD, auth="operator"),
    # admin JWTs
    P("jwt alg=none", "POST", "/api/instances", 401, "UNAUTHENTICATED", auth="jwt alg=none",
      body=NEW_INSTANCE, unchanged=("instances", "audit")),
    P("jwt HS256 keyed with the PEM public key", "POST", "/api/instances", 401,
      "UNAUTHENTICATED", auth="jwt HS256 keyed with the PEM public key", body=NEW_INSTANCE,
      unchanged=("instances", "audit")),
    P("jwt HS256 keyed with the raw public key", "POST", "/api/instances", 401,
      "UNAUTHENTICATED", auth="jwt HS256 keyed with the raw public key", body=NEW_INSTANCE,
      unchanged=("instances", "audit")),
    P("jwt tampered payload", "POST", "/api/instances", 401, "UNAUTHENTICATED",
      auth="jwt tampered payload", body=NEW_INSTANCE, unchanged=("instances", "audit")),
    P("jwt expired", "POST", "/api/instances", 401, "TOKEN_EXPIRED", auth="jwt expired",
      body=NEW_INSTANCE, unchanged=("instances", "audit")),
    P("jwt wrong audience", "POST", "/api/instances", 401, "UNAUTHENTICATED",
      auth="jwt wrong audience", body=NEW_INSTANCE, unchanged=("instances", "audit")),
    P("jwt wrong issuer", "POST", "/api/instances", 401, "UNAUTHENTICATED",
      auth="jwt wrong issuer", body=NEW_INSTANCE, unchanged=("instances", "audit")),
    P("jwt after logout", "POST", "/api/instances", 401, "SESSION_REVOKED",
      auth="jwt after logout", body=NEW_INSTANCE, unchanged=("instances", "audit")),
    *[P(name, "POST", "/api/instances", 401, "UNAUTHENTICATED", auth=name, body=NEW_INSTANCE,
        unchanged=("instances", "audit"))
      for name in ("jwt sid int", "jwt sid object", "jwt sid list", "jwt sid empty",
                   "jwt sid 3000 chars", "jwt sid lone surrogate", "jwt sub int",
                   "jwt jti list", "jwt permissions a string", "jwt exp a string")],
    # admin device login
    P("challenge replayed", "POST", "/admin/v1/auth", 410, "CHALLENGE_EXPIRED",
      body=_replayed, unchanged=("sessions",)),
    P("timestamp 330 s old", "POST", "/admin/v1/auth", 401, "STALE_TIMESTAMP",
      body=_stale(-330), unchanged=("sessions",)),
    P("timestamp 330 s ahead", "POST", "/admin/v1/auth", 401, "STALE_TIMESTAMP",
      body=_stale(330), unchanged=("sessions",)),
    P("device key not in the admin list", "POST", "/admin/v1/auth", 401, "INVALID_ADMIN",
      body=_not_an_admin, unchanged=("sessions",)),
    P("challenge signed by another key", "POST", "/admin/v1/auth", 403, "INVALID_SIGNATURE",
      body=_bad_signature, unchanged=("sessions",), writes_audit=True),
    # node secret
    *[P(f"node secret {label}", "POST", "/internal/instances/{A}/prod/blobs", 401,
        "INVALID_NODE_SECRET", auth=f"node secret {label}", body=BLOB, unchanged=("blobs",))
      for label in ("missing", "wrong", "upper case", "capitalised", "leading space",
                    "trailing space", "trailing tab", "prefix only", "with a suffix")],
    # API keys out of their instance, environment or scope
    P("API key as an admin token on instance B", "GET", "/api/instances/{B}", 401,
      "UNAUTHENTICATED", auth=WRITE_A),
    P("API key on instance A's ops route of another environment", "GET",
      "/api/instances/{A}/ops/staging/audit/merkle-root/order/S00000001", 401, "UNAUTHENTICATED",
      auth=WRITE_A),
    P("API key as a node secret on instance B", "POST", "/internal/instances/{B}/prod/blobs",
      401, "INVALID_NODE_SECRET", auth="key A/prod/write as X-Node-Secret", body=BLOB,
      unchanged=("blobs",)),
    P("API key of A cannot read B's aggregate", "GET", "/data/order/B00000001", 404,
      "AGGREGATE_NOT_FOUND", auth="key A/prod/read"),
    P("API key of A/prod cannot read A/staging's aggregate", "GET", "/data/order/S00000001", 404,
      "AGGREGATE_NOT_FOUND", auth="key A/prod/read"),
    P("API key of A/prod cannot prove B's aggregate", "GET", "/data/order/B00000001/audit/merkle-root",
      404, "AGGREGATE_NOT_FOUND", auth="key A/prod/read"),
    P("read-scope API key writing", "POST", "/data/order/0RDER0001/created", 403,
      "INSUFFICIENT_PERMISSIONS", auth="key A/prod/read",
      body={"data": {"customer": "C00000000"}, "metadata": ACTOR}, unchanged=NOTHING_STORED),
    P("revoked API key", "POST", "/data/order/0RDER0001/created", 401, "INVALID_API_KEY",
      auth="key A/prod/write, revoked", body={"data": {"customer": "C00000000"}, "metadata": ACTOR},
      unchanged=NOTHING_STORED),
]

CREDENTIALS.update({
    "node secret missing": lambda w: {},
    "node secret wrong": _node("not-the-node-secret"),
    "node secret upper case": _node(NODE_SECRET.upper()),
    "node secret capitalised": _node(NODE_SECRET.capitalize()),
    "node secret leading space": _node(" " + NODE_SECRET),
    "node secret trailing space": _node(NODE_SECRET + " "),
    "node secret trailing tab": _node(NODE_SECRET + "\t"),
    "node secret prefix only": _node(NODE_SECRET[:-1]),
    "node secret with a suffix": _node(NODE_SECRET + "x"),
})

# what would betray the server's insides: a Python trace, a source file, a site path
LEAK = re.compile(r'Traceback|File "|\.py\b|site-packages|/work/|/usr/lib')


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_probe_is_refused(world, probe: Probe):
    w = world
    headers = CREDENTIALS[probe.auth](w) if probe.auth else {}
    body = probe.body(w) if callable(probe.body) else probe.body
    before = {name: COUNTS[name]() for name in probe.watched}

    answer = w.stack.call(probe.method, probe.path.format(A=w.A, B=w.B), body=body,
                          raw_body=probe.raw, headers=headers)

    assert answer.status == probe.status, answer
    assert not LEAK.search(answer.text), answer
    assert isinstance(answer.json, dict), answer
    if probe.path.startswith("/data"):
        assert answer.json["ok"] is False and answer.json["code"] == probe.code, answer
        assert isinstance(answer.json["error"], str) and answer.json["error"], answer
    else:
        kind = KINDS[probe.code]
        assert answer.json["error"] == probe.code, answer
        assert answer.json["code"] == kind.code and isinstance(answer.json["message"], str), answer
        assert set(answer.json) <= {"error", "message", "code", "details"}, answer
    if probe.code == "VALIDATION_ERROR":
        details = answer.json["details"]
        assert details and all(set(d) == {"path", "message"} for d in details), answer
    assert {name: COUNTS[name]() for name in probe.watched} == before, probe.name


# --- what the guards must still let through --------------------------------------------

def test_64_deep_and_valid_unicode_are_accepted(world):
    w = world
    nested = "[" * 62 + "1" + "]" * 62   # 64 levels: the body, its data, 62 arrays
    body = event('{"sku": "c\\ud83d\\ude00 \u00e9", "qty": 1, "x": %s}' % nested)
    answer = w.stack.call("POST", "/data/order/0RDER0001/item_added", raw_body=body,
                          headers=_bearer(w.keys[("A", "prod", "write")]))
    assert answer.status == 201, answer
    state = w.stack.call("GET", "/data/order/0RDER0001?at=9999999999.5",
                         headers=_bearer(w.keys[("A", "prod", "read")]))
    assert state.status == 200, state
    item = state.json["data"]["items"][0]
    assert item["sku"] == "c\U0001F600 \u00e9"
    assert json.dumps(item["x"]) == nested


def test_ids_within_the_rules_are_accepted(world):
    w = world
    auth = _bearer(w.keys[("A", "prod", "write")])
    # within the path's character rules but not an identifier: the id rules answer
    odd = w.stack.call("POST", "/data/order/user:a.b_c-d@example.com~1+2=/created",
                       headers=auth, body={"data": {"customer": "C00000000"}, "metadata": ACTOR})
    assert odd.status == 422 and odd.json["code"] == "INVALID_ID", odd
    agg_id = "550e8400-e29b-41d4-a716-446655440000:" + "t" * 32   # the longest form
    wrote = w.stack.call("POST", f"/data/order/{agg_id}/created", headers=auth,
                         body={"data": {"customer": "C00000000"}, "metadata": ACTOR})
    assert wrote.status == 201, wrote
    length = w.stack.call("GET", f"/data/order/{agg_id}/length",
                          headers=_bearer(w.keys[("A", "prod", "read")]))
    assert length.json == {"ok": True, "length": 1}
    # an unknown type within the rules is still the spec's business: 422, not 400
    unknown = w.stack.call("POST", "/data/Order.v2/0RDER0001/created", headers=auth,
                           body={"data": {}, "metadata": ACTOR})
    assert unknown.status == 422 and unknown.json["code"] == "UNKNOWN_AGGREGATE_TYPE"


def test_blob_cursor_pages_through(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "b"}).json["id"]
    base = f"/internal/instances/{inst}/prod/blobs"
    names = [f"n{i}.bin" for i in range(5)]
    for name in names:
        assert stack.node("POST", base, body={"name": name, "data": "AAAA"}).status == 201
    seen, cursor = [], None
    while True:
        page = stack.node("GET", f"{base}?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status == 200, page
        seen += [b["name"] for b in page.json["blobs"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert seen == names


def test_instances_page_in_creation_order(stack):
    token = stack.operator_token()
    made = []
    for i in range(5):
        made.append(stack.call("POST", "/api/instances", token, body={"name": f"i{i}"}).json["id"])
        clock.advance(1 if i % 2 else 0)    # some share a second: ties go by id
    expected = [i["id"] for i in stack.call("GET", "/api/instances", token).json["instances"]]
    assert sorted(expected) == sorted(made)
    seen, cursor, pages = [], None, 0
    while True:
        page = stack.call("GET", "/api/instances?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                          token)
        assert page.status == 200, page
        assert len(page.json["instances"]) <= 2
        seen += [i["id"] for i in page.json["instances"]]
        cursor, pages = page.json["next_cursor"], pages + 1
        if cursor is None:
            break
        if pages == 1:   # one created between pages comes last, nothing repeats or drops
            clock.advance(1)
            made.append(stack.call("POST", "/api/instances", token,
                                   body={"name": "late"}).json["id"])
            expected.append(made[-1])
    assert seen == expected and pages == 3
    whole = stack.call("GET", "/api/instances", token).json
    assert whole["next_cursor"] is None and [i["id"] for i in whole["instances"]] == expected
