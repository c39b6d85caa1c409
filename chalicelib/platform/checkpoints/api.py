"""Seed 000's checkpoints and root checkpoints, on the ops surface (admin JWT with
manage_ops) and the internal surface (node secret) from one handler each.

Checkpoints: list (filtered, paged), create (201), restore (200), delete (200); see
service.py. Root checkpoints: list, create (202, a job), latest, delete, and the
auto-checkpoint settings; see root.py."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain import identifiers
from chalicelib.http.requests import ID_PATTERN, TYPE_PATTERN
from chalicelib.http.schemas import (
    BOOLEAN,
    COUNT,
    ISO_TIME,
    JOB_ACCEPTED,
    STRING,
    array,
    nullable,
    obj,
)
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.checkpoints import root
from chalicelib.platform.checkpoints import service as checkpoints

bp = Blueprint(__name__)

_HEX_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256, hex"}
_TYPE = {"type": "string", "pattern": TYPE_PATTERN, "description": "an aggregate type"}
_AGG_ID = {"type": "string", "pattern": identifiers.PATTERN,
           "description": "an identifier: " + identifiers.FORMS}
_CHECKPOINT_ID = {"type": "string", "pattern": checkpoints.ID_PATTERN,
                  "description": "cp_<13 digits><12 hex>"}
_ROOT_ID = {"type": "string", "pattern": root.ID_PATTERN,
            "description": "rc_<13 digits><12 hex>"}
_LENGTH = {"type": "integer", "minimum": 1, "maximum": 10 ** 12,
           "description": "events covered (positions 0 to length - 1); default: all"}

# --- checkpoints -----------------------------------------------------------------------

CREATE = {
    "type": "object",
    "required": ["aggregate_type", "aggregate_id"],
    "properties": {"aggregate_type": _TYPE, "aggregate_id": _AGG_ID, "length": _LENGTH},
    "additionalProperties": False,
}
# checked before the handler: the id's form (a singleton the spec declares is an id
# too, beyond what the document's pattern says) is checked against the spec in force
CREATE_SHAPE = {**CREATE, "properties": {**CREATE["properties"],
                                         "aggregate_id": {"type": "string",
                                                          "pattern": ID_PATTERN}}}
RESTORE = {
    "type": "object",
    "properties": {"accept_handler_change": {
        "type": "boolean", "default": False,
        "description": "restore a checkpoint folded by handlers other than those in force"}},
    "additionalProperties": False,
}
LIST_QUERY = {
    "aggregate_type": _TYPE,
    "aggregate_id": {"type": "string", "pattern": ID_PATTERN},
    "limit": {"type": "integer", "minimum": 1, "maximum": checkpoints.MAX_PAGE,
              "default": checkpoints.DEFAULT_PAGE},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 64,
               "description": "next_cursor of the previous page"},
}

CHECKPOINT = obj({
    "id": _CHECKPOINT_ID, "aggregate_type": STRING, "aggregate_id": STRING,
    "length": {**COUNT, "minimum": 1},
    "spec_version": {**COUNT, "description": "the spec version whose handlers folded it"},
    "handlers": {**_HEX_HASH, "description": "SHA-256 of the canonical JSON of the "
                 "aggregate type's {event_type: handler} in that version"},
    "handlers_current": nullable({**BOOLEAN, "description": "whether the spec in force has "
                                  "the same handlers (reads use only such checkpoints); "
                                  "null without a spec"}),
    "merkle_root": {**_HEX_HASH, "description": "RFC 6962 root of the first `length` events"},
    "chain_hash": {**_HEX_HASH, "description": "chain hash of event length - 1"},
    "state_size": {**COUNT, "description": "bytes of the state's canonical JSON"},
    "state_sha256": _HEX_HASH,
    "state_storage": {"type": "string", "enum": ["inline", "s3"]},
    "created_at": ISO_TIME,
    "created_by": {**STRING, "description": "the admin, or node"},
})
CHECKPOINT_PAGE = obj({"checkpoints": array(CHECKPOINT),
                       "next_cursor": nullable({**STRING, "description": "pass back as "
                                                "cursor; null on the last page"})})
RESTORED = obj({
    "restored": {"const": True}, "checkpoint": CHECKPOINT,
    "aggregate_type": STRING, "aggregate_id": STRING,
    "length": {**COUNT, "description": "the stream's length, unchanged"},
    "replayed": {**COUNT, "description": "events folded after the checkpoint"},
    "spec_version": {**COUNT, "description": "the spec in force, which folded them"},
    "handlers_changed": {**BOOLEAN, "description": "true when the checkpoint was folded by "
                         "other handlers than those in force (accept_handler_change)"},
    "state_changed": BOOLEAN, "state_size": COUNT, "state_sha256": _HEX_HASH,
    "previous_state_sha256": _HEX_HASH,
})
DELETED = obj({"deleted": {"const": True}, "checkpoint": CHECKPOINT})

_CREATE_ERRORS = ("SPEC_NOT_FOUND", "INVALID_ID", "AGGREGATE_NOT_FOUND",
                  "CHECKPOINT_BEYOND_STREAM", "UNKNOWN_AGGREGATE_TYPE", "UNKNOWN_EVENT_TYPE",
                  "HANDLER_FAILED", "INTEGRITY_ERROR", "CONCURRENT_WRITE")
_RESTORE_ERRORS = ("CHECKPOINT_NOT_FOUND", "SPEC_NOT_FOUND", "CHECKPOINT_HANDLERS_CHANGED",
                   "CHECKPOINT_STALE", "INTEGRITY_ERROR", "STATE_TOO_LARGE",
                   "CONCURRENT_WRITE", "HANDLER_FAILED", "UNKNOWN_EVENT_TYPE",
                   "AGGREGATE_TOMBSTONED")


@on_every_surface(bp, "GET", "/checkpoints", None,
                  summary="List checkpoints, newest first (filter by aggregate; paged)",
                  permission="manage_ops", query=LIST_QUERY, response=CHECKPOINT_PAGE)
def list_checkpoints(ctx, **params):
    instance_id, env = where(ctx, params)
    q = ctx.query
    return checkpoints.list_page(instance_id, env, q.get("aggregate_type"),
                                 q.get("aggregate_id"), q["limit"], q.get("cursor"))


@on_every_surface(bp, "POST", "/checkpoints", None,
                  summary="Checkpoint an aggregate's folded state (at a length; default all)",
                  permission="manage_ops", body=CREATE, validate_body=CREATE_SHAPE,
                  response=CHECKPOINT, status=201, audit="checkpoint_created",
                  errors=_CREATE_ERRORS)
def create_checkpoint(ctx, **params):
    instance_id, env = where(ctx, params)
    return checkpoints.create(ctx.act, instance_id, env, ctx.body)


@on_every_surface(bp, "POST", "/checkpoints/{checkpoint_id}/restore", None,
                  summary="Re-fold the aggregate from a checkpoint under the spec in force "
                          "and replace its cached state (no event changes)",
                  permission="manage_ops", body=RESTORE, body_required=False,
                  path_schemas={"checkpoint_id": _CHECKPOINT_ID}, response=RESTORED,
                  audit="checkpoint_restored", errors=_RESTORE_ERRORS)
def restore_checkpoint(ctx, **params):
    instance_id, env = where(ctx, params)
    return checkpoints.restore(ctx.act, instance_id, env, params["checkpoint_id"],
                               bool((ctx.body or {}).get("accept_handler_change")))


@on_every_surface(bp, "DELETE", "/checkpoints/{checkpoint_id}", None,
                  summary="Delete a checkpoint (events and state untouched)",
                  permission="manage_ops", path_schemas={"checkpoint_id": _CHECKPOINT_ID},
                  response=DELETED, audit="checkpoint_deleted",
                  errors=("CHECKPOINT_NOT_FOUND",))
def delete_checkpoint(ctx, **params):
    instance_id, env = where(ctx, params)
    return checkpoints.delete(ctx.act, instance_id, env, params["checkpoint_id"])


# --- root checkpoints ------------------------------------------------------------------

ROOT_CREATE = {
    "type": "object", "required": ["aggregate_type"],
    "properties": {"aggregate_type": {**_TYPE, "description": "an aggregate type of the spec "
                                      "in force"}},
    "additionalProperties": False,
}
ROOT_LIST_QUERY = {
    "aggregate_type": _TYPE,
    "limit": {"type": "integer", "minimum": 1, "maximum": root.MAX_PAGE,
              "default": root.DEFAULT_PAGE},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 64,
               "description": "next_cursor of the previous page"},
}
LATEST_QUERY = {"aggregate_type": _TYPE}
ROOT_CHECKPOINT = obj({
    "id": _ROOT_ID, "instance_id": STRING, "environment": STRING, "aggregate_type": STRING,
    "status": {"type": "string", "enum": ["pending", "running", "completed", "failed"]},
    "created_at": ISO_TIME,
    "created_by": {**STRING, "description": "the admin, node, or system:scheduler"},
    "job_id": nullable({**STRING, "description": "the job writing it (its status_url shows "
                        "the progress)"}),
    "cut_at": {**ISO_TIME, "description": "the file holds every aggregate as of this time"},
    "completed_at": nullable(ISO_TIME),
    "spec_version": COUNT,
    "count": {**COUNT, "description": "aggregates in the file (so far, while running)"},
    "size": {**COUNT, "description": "bytes of the gzip file (so far, while running)"},
    "sha256": nullable({**_HEX_HASH, "description": "of the gzip file"}),
    "s3_key": {**STRING, "description": "the file, in the backups bucket"},
    "manifest_key": {**STRING, "description": "its manifest (JSON), beside it"},
    "error": nullable({**STRING, "description": "why it failed"}),
})
ROOT_ACCEPTED = obj({**JOB_ACCEPTED["properties"], "root_checkpoint": ROOT_CHECKPOINT})
ROOT_PAGE = obj({"root_checkpoints": array(ROOT_CHECKPOINT),
                 "next_cursor": nullable({**STRING, "description": "pass back as cursor; "
                                          "null on the last page"})})
ROOT_DELETED = obj({"deleted": {"const": True}, "root_checkpoint": ROOT_CHECKPOINT})
_ROOT_SETTINGS = root.SETTINGS_BODY["properties"]
ROOT_SETTINGS = obj({name: _ROOT_SETTINGS[name]
                     for name in ("enabled", "interval_hours", "aggregate_types", "retain")})


@on_every_surface(bp, "GET", "/root-checkpoints", None,
                  summary="List root checkpoints, newest first (paged)",
                  permission="manage_ops", query=ROOT_LIST_QUERY, response=ROOT_PAGE)
def list_root_checkpoints(ctx, **params):
    instance_id, env = where(ctx, params)
    q = ctx.query
    return root.list_page(instance_id, env, q.get("aggregate_type"), q["limit"],
                          q.get("cursor"))


@on_every_surface(bp, "POST", "/root-checkpoints", None,
                  summary="Write a root checkpoint (a job): every aggregate of a type, one "
                          "gzip JSON Lines file with a manifest",
                  permission="manage_ops", body=ROOT_CREATE, response=ROOT_ACCEPTED,
                  status=202, audit="root_checkpoint_created",
                  errors=("SPEC_NOT_FOUND", "UNKNOWN_AGGREGATE_TYPE"))
def create_root_checkpoint(ctx, **params):
    instance_id, env = where(ctx, params)
    return root.request(ctx.act, instance_id, env, ctx.body["aggregate_type"])


@on_every_surface(bp, "GET", "/root-checkpoints/latest", None,
                  summary="The newest completed root checkpoint (of a type)",
                  permission="manage_ops", query=LATEST_QUERY, response=ROOT_CHECKPOINT,
                  errors=("ROOT_CHECKPOINT_NOT_FOUND",))
def latest_root_checkpoint(ctx, **params):
    instance_id, env = where(ctx, params)
    return root.latest(instance_id, env, ctx.query.get("aggregate_type"))


@on_every_surface(bp, "DELETE", "/root-checkpoints/{root_checkpoint_id}", None,
                  summary="Delete a root checkpoint (record, file and manifest)",
                  permission="manage_ops", path_schemas={"root_checkpoint_id": _ROOT_ID},
                  response=ROOT_DELETED, audit="root_checkpoint_deleted",
                  errors=("ROOT_CHECKPOINT_NOT_FOUND", "ROOT_CHECKPOINT_RUNNING"))
def delete_root_checkpoint(ctx, **params):
    instance_id, env = where(ctx, params)
    return root.delete(ctx.act, instance_id, env, params["root_checkpoint_id"])


@on_every_surface(bp, "GET", "/root-checkpoint-settings", None,
                  summary="The environment's automatic root checkpoint settings",
                  permission="manage_ops", response=ROOT_SETTINGS)
def get_root_checkpoint_settings(ctx, **params):
    instance_id, env = where(ctx, params)
    return root.settings_of(instance_id, env)


@on_every_surface(bp, "PUT", "/root-checkpoint-settings", None,
                  summary="Update automatic root checkpoint settings (fields given replace "
                          "the current ones)",
                  permission="manage_ops", body=root.SETTINGS_BODY, response=ROOT_SETTINGS,
                  audit="root_checkpoint_settings_updated",
                  errors=("SPEC_NOT_FOUND", "UNKNOWN_AGGREGATE_TYPE"))
def put_root_checkpoint_settings(ctx, **params):
    instance_id, env = where(ctx, params)
    return root.put_settings(ctx.act, instance_id, env, ctx.body)
