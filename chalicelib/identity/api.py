"""Identity routes: logging in and out (operators by password, admin devices by Ed25519
challenge) and reading the audit trail of every admin act."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.core import clock
from chalicelib.core.errors import invalid
from chalicelib.domain.permissions import PERMISSIONS
from chalicelib.http.routing import ANY_ADMIN, route
from chalicelib.http.schemas import (
    BOOLEAN,
    DEVICE_ADDRESS,
    INTEGER,
    STRING,
    UNIX_SECONDS,
    array,
    nullable,
    obj,
)
from chalicelib.identity import audit
from chalicelib.identity import logins as auth

bp = Blueprint(__name__)

LOGIN = {
    "type": "object", "additionalProperties": False, "required": ["email", "password"],
    "properties": {"email": {"type": "string", "minLength": 3, "maxLength": 254},
                   "password": {"type": "string", "minLength": 1, "maxLength": 1024}},
}
DEVICE_LOGIN = {
    "type": "object", "additionalProperties": False,
    "required": ["device_address", "challenge", "challenge_signature", "timestamp"],
    "properties": {
        "device_address": DEVICE_ADDRESS,
        "challenge": {"type": "string", "pattern": "^[0-9a-f]{48}$"},
        "challenge_signature": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"},
        "timestamp": {"type": "integer"},
    },
}

# --- answers -------------------------------------------------------------------------------

TOKEN = {"type": "string", "minLength": 1, "description": "EdDSA-signed JWT; send it as "
                                                         "Authorization: Bearer <token>"}
LOGIN_ANSWER = obj({
    "admin_token": TOKEN,
    "expires_at": UNIX_SECONDS,
    "permissions": {**array({"type": "string", "enum": sorted(PERMISSIONS)}),
                    "description": "granted permissions, `all` spelled out"},
    "admin_level": {"type": "string", "enum": ["admin", "moderator", "viewer"]},
})
CHALLENGE_ANSWER = obj({
    "challenge": {"type": "string", "pattern": "^[0-9a-f]{48}$",
                  "description": "sign it (UTF-8 bytes) with the device's Ed25519 key"},
    "expires_at": UNIX_SECONDS,
})
REFRESH_ANSWER = obj({"admin_token": TOKEN, "expires_at": UNIX_SECONDS})
LOGOUT_ANSWER = obj({"message": {"const": "Admin token invalidated"}})


@route(bp, "/api/login", "POST", summary="Operator login (email and password)",
       auth="public", body=LOGIN, response=LOGIN_ANSWER, audit="admin_login",
       errors=("INVALID_CREDENTIALS", "RATE_LIMITED"), tags=("auth",))
def operator_login(ctx):
    return auth.operator_login(ctx.body["email"], ctx.body["password"], ctx.origin)


@route(bp, "/admin/v1/auth/challenge", "GET", summary="A single-use login challenge (300 s)",
       auth="public", response=CHALLENGE_ANSWER, tags=("auth",))
def challenge(ctx):
    return auth.new_challenge()


@route(bp, "/admin/v1/auth", "POST", summary="Admin device login (signed challenge)",
       auth="public", body=DEVICE_LOGIN, response=LOGIN_ANSWER, audit="admin_login",
       errors=("STALE_TIMESTAMP", "INVALID_ADMIN", "INVALID_SIGNATURE", "CHALLENGE_EXPIRED"),
       tags=("auth",))
def device_login(ctx):
    b = ctx.body
    return auth.device_login(b["device_address"], b["challenge"], b["challenge_signature"],
                             b["timestamp"], ctx.origin)


@route(bp, "/admin/v1/auth/refresh", "POST", summary="A new token in the same session",
       permission=ANY_ADMIN, response=REFRESH_ANSWER, audit="admin_token_refreshed",
       errors=("INVALID_ADMIN",), tags=("auth",))
def refresh(ctx):
    return auth.refresh(ctx.principal)


@route(bp, "/admin/v1/auth/logout", "POST", summary="Revoke the session and all its tokens",
       permission=ANY_ADMIN, response=LOGOUT_ANSWER, audit="admin_logout", tags=("auth",))
def logout(ctx):
    return auth.logout(ctx.principal)


# --- the audit trail -----------------------------------------------------------------------

_TS = {"type": "integer", "minimum": audit.MIN_TS, "maximum": audit.MAX_TS,
       "description": "unix seconds, at most 253402300799 (9999-12-31T23:59:59Z)"}
_FILTERS = {"since": _TS, "until": _TS,
            "action": {"type": "string", "minLength": 1, "maxLength": 64},
            "admin": {"type": "string", "minLength": 1, "maxLength": 256},
            "target": {"type": "string", "minLength": 1, "maxLength": 256}}
AUDIT_QUERY = {**_FILTERS,
               "limit": {"type": "integer", "minimum": 1, "maximum": audit.MAX_LIMIT,
                         "default": 100},
               "offset": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0}}
EXPORT_QUERY = {**_FILTERS, "format": {"type": "string", "enum": ["csv", "json"],
                                       "default": "csv"},
                "cursor": {"type": "string", "pattern": r"^\d{10}#audit_[0-9a-f]{32}$"}}


def _window(query: dict) -> tuple[int, int]:
    now = clock.now_int()
    until = query.get("until", min(now, audit.MAX_TS))
    since = query.get("since", max(until - 86400, audit.MIN_TS))
    if since > until:
        raise invalid("since", "must not be after until", "since must not be after until")
    return since, until


AUDIT_ENTRY = obj({
    "id": {"type": "string", "pattern": "^audit_[0-9a-f]{32}$"},
    "timestamp": UNIX_SECONDS,
    "action": {**STRING, "description": "the audited action, e.g. device_verified"},
    "admin": {**STRING, "description": "who acted: device address, operator email or "
                                       "system:<name>"},
    "target": STRING,
    "details": {"type": "object", "description": "what the act changed; depends on the action"},
    "ip_address": nullable(STRING),
    "user_agent": nullable(STRING),
})
AUDIT_ANSWER = obj({
    "entries": {**array(AUDIT_ENTRY), "description": "newest first"},
    "total_count": {**INTEGER, "minimum": 0, "description": "entries matching the filters"},
    "has_more": BOOLEAN,
    "next_offset": {**nullable({**INTEGER, "minimum": 0}),
                    "description": "the offset of the next page; null on the last"},
})
AUDIT_EXPORT_ANSWER = obj({
    "entries": {**array(AUDIT_ENTRY), "description": f"newest first, at most "
                                                     f"{audit.EXPORT_PAGE}"},
    "count": {**INTEGER, "minimum": 0, "maximum": audit.EXPORT_PAGE},
    "next_cursor": {**nullable(EXPORT_QUERY["cursor"]),
                    "description": "pass as cursor for the next page; null on the last"},
})


@route(bp, "/admin/v1/audit", "GET", summary="Audit log, filtered and paged",
       permission="view_audit", query=AUDIT_QUERY, response=AUDIT_ANSWER,
       rate_limit="audit_queries", tags=("audit",))
def get_audit(ctx):
    q = ctx.query
    since, until = _window(q)
    return audit.query(since, until, q.get("action"), q.get("admin"), q.get("target"),
                       q["limit"], q["offset"])


@route(bp, "/admin/v1/audit/export", "GET",
       summary="Audit log as CSV or JSON, in pages of 5000 (X-Next-Cursor names the next)",
       permission="view_audit", query=EXPORT_QUERY, response=AUDIT_EXPORT_ANSWER,
       media_types=("application/json", "text/csv"), rate_limit="audit_queries",
       tags=("audit",))
def export_audit(ctx):
    q = ctx.query
    since, until = _window(q)
    entries, cursor = audit.export_page(since, until, q.get("action"), q.get("admin"),
                                        q.get("target"), q.get("cursor"))
    headers = {"X-Next-Cursor": cursor} if cursor else {}
    if q["format"] == "json":
        ctx.headers.update(headers)
        return {"entries": entries, "count": len(entries), "next_cursor": cursor}
    return Response(body=audit.to_csv(entries), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": 'attachment; filename="audit.csv"', **headers})
