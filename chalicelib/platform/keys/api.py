"""API keys of an instance (seed 000 "API key management")."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.core import clock
from chalicelib.core.errors import invalid
from chalicelib.domain.api_keys import SCOPES
from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.http.routing import route
from chalicelib.http.schemas import (
    ENVIRONMENT,
    ISO_TIME,
    STRING,
    array,
    data_ok,
    nullable,
    obj,
)
from chalicelib.platform.keys import service as keys

bp = Blueprint(__name__)

CREATE = {
    "type": "object", "additionalProperties": False,
    "required": ["name", "scope", "environment"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"},
                   "scope": {"type": "string", "enum": list(SCOPES)},
                   "environment": {"type": "string", "enum": list(ENVIRONMENTS)}},
}
ROTATE = {
    "type": "object", "additionalProperties": False,
    "properties": {"grace_period_seconds": {
        "type": "integer", "minimum": 0, "maximum": keys.MAX_ROTATION_GRACE_SECONDS,
        "description": "How long the old key keeps working; default 0 (revoked at once)"}},
}
SCHEDULE = {
    "type": "object", "additionalProperties": False, "required": ["revoke_at"],
    "properties": {"revoke_at": {
        "type": "string", "format": "date-time", "maxLength": 64,
        "description": f"ISO 8601 with a zone, in the future and at most {clock.MAX_ISO} "
                       "in UTC"}},
}

_ENVS = "|".join(ENVIRONMENTS)
SCOPE = {"type": "string", "enum": list(SCOPES)}
KEY_PREFIX = {"type": "string", "pattern": rf"^j17_0_({_ENVS})_[A-Za-z0-9]{{4}}$",
              "description": "the key's first characters, to recognise it"}
KEY_ANSWER = obj({
    "id": STRING, "name": STRING, "prefix": KEY_PREFIX, "scope": SCOPE,
    "environment": ENVIRONMENT, "created_at": ISO_TIME,
    "revoke_at": nullable({**ISO_TIME, "description": "scheduled end (ISO 8601, UTC)"}),
    "revoked_at": nullable(ISO_TIME), "last_used_at": nullable(ISO_TIME),
})
KEY_LIST_ANSWER = obj({"keys": array(KEY_ANSWER)})
_SHOWN_ONCE = {
    "id": STRING, "name": STRING, "scope": SCOPE, "environment": ENVIRONMENT,
    "created_at": ISO_TIME, "prefix": KEY_PREFIX,
    "key": {"type": "string", "pattern": rf"^j17_0_({_ENVS})_[A-Za-z0-9]{{32}}$",
            "description": "the key text: shown only in this answer"},
}
NEW_KEY_ANSWER = obj(_SHOWN_ONCE)
ROTATED_KEY_ANSWER = obj({**_SHOWN_ONCE, "rotated_from": STRING,
                          "old_key_revoke_at": {**ISO_TIME, "description":
                                                "when the old key stops working"}})
WHOAMI_ANSWER = data_ok({"instance_id": STRING, "environment": ENVIRONMENT, "scope": SCOPE})


@route(bp, "/api/instances/{instance_id}/keys", "GET", summary="List keys (never the key text)",
       permission="manage_keys", response=KEY_LIST_ANSWER, tags=("keys",))
def list_keys(ctx, instance_id):
    return {"keys": keys.list_for(instance_id)}


@route(bp, "/api/instances/{instance_id}/keys", "POST", summary="Create a key (shown once)",
       permission="manage_keys", body=CREATE, response=NEW_KEY_ANSWER, audit="key_created",
       status=201, tags=("keys",))
def create_key(ctx, instance_id):
    return keys.create(ctx.act, instance_id, ctx.body["name"], ctx.body["scope"],
                       ctx.body["environment"])


@route(bp, "/api/keys/{key_id}/rotate", "POST",
       summary="A new key; the old one is revoked now or after grace_period_seconds",
       permission="manage_keys", body=ROTATE, body_required=False,
       response=ROTATED_KEY_ANSWER, audit="key_rotated", status=201, tags=("keys",),
       errors=("KEY_NOT_FOUND", "KEY_REVOKED"))
def rotate_key(ctx, key_id):
    return keys.rotate(ctx.act, key_id, ctx.body.get("grace_period_seconds", 0))


@route(bp, "/api/keys/{key_id}/schedule_revocation", "POST",
       summary="Revoke the key at a future time", permission="manage_keys", body=SCHEDULE,
       response=KEY_ANSWER, audit="key_revocation_scheduled", tags=("keys",),
       errors=("KEY_NOT_FOUND", "KEY_REVOKED"))
def schedule_revocation(ctx, key_id):
    try:  # range included: nothing is written for a date that would not show again
        revoke_at = clock.parse_iso(ctx.body["revoke_at"])
    except ValueError as exc:
        raise invalid("revoke_at", str(exc))
    return keys.schedule_revocation(ctx.act, key_id, revoke_at)


@route(bp, "/api/keys/{key_id}", "DELETE", summary="Revoke the key now",
       permission="manage_keys", response=KEY_ANSWER, audit="key_revoked", tags=("keys",),
       errors=("KEY_NOT_FOUND", "KEY_REVOKED"))
def revoke_key(ctx, key_id):
    return keys.revoke(ctx.act, key_id)


@route(bp, "/data", "GET", summary="Which instance, environment and scope this key has",
       auth="api_key", scope="read", surface="data", response=WHOAMI_ANSWER, tags=("data",))
def whoami(ctx):
    key = ctx.principal
    return {"ok": True, "instance_id": key.instance_id, "environment": key.environment,
            "scope": key.scope}
