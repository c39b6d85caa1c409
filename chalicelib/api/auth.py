"""Logging in and out: operators by password, admin devices by Ed25519 challenge."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import ANY_ADMIN, route
from chalicelib.services import auth

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
        "device_address": {"type": "string", "pattern": "^[0-9a-fA-F]{32}@[A-Za-z0-9.:-]+$"},
        "challenge": {"type": "string", "pattern": "^[0-9a-f]{48}$"},
        "challenge_signature": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"},
        "timestamp": {"type": "integer"},
    },
}


@route(bp, "/api/login", "POST", summary="Operator login (email and password)",
       auth="public", body=LOGIN, audit="admin_login", tags=("auth",))
def operator_login(ctx):
    return auth.operator_login(ctx.body["email"], ctx.body["password"], ctx.origin)


@route(bp, "/admin/v1/auth/challenge", "GET", summary="A single-use login challenge (300 s)",
       auth="public", tags=("auth",))
def challenge(ctx):
    return auth.new_challenge()


@route(bp, "/admin/v1/auth", "POST", summary="Admin device login (signed challenge)",
       auth="public", body=DEVICE_LOGIN, audit="admin_login", tags=("auth",))
def device_login(ctx):
    b = ctx.body
    return auth.device_login(b["device_address"], b["challenge"], b["challenge_signature"],
                             b["timestamp"], ctx.origin)


@route(bp, "/admin/v1/auth/refresh", "POST", summary="A new token in the same session",
       permission=ANY_ADMIN, audit="admin_token_refreshed", tags=("auth",))
def refresh(ctx):
    answer = auth.refresh(ctx.principal)
    ctx.audit(ctx.principal.subject, {"session_id": ctx.principal.sid,
                                      "expires_at": answer["expires_at"]})
    return answer


@route(bp, "/admin/v1/auth/logout", "POST", summary="Revoke the session and all its tokens",
       permission=ANY_ADMIN, audit="admin_logout", tags=("auth",))
def logout(ctx):
    auth.logout(ctx.principal)
    ctx.audit(ctx.principal.subject, {"session_id": ctx.principal.sid})
    return {"message": "Admin token invalidated"}
