"""Seed 000's tombstones, on the internal surface (node secret) and the ops surface
(admin JWT with erase_data) from one handler each: request (201), list, get, cancel
(DELETE while pending), execute (202 once the grace period has passed). See service.py
for the lifecycle and execution.py for what an execution erases."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain import identifiers
from chalicelib.http.requests import TYPE_PATTERN
from chalicelib.http.schemas import COUNT, ISO_TIME, STRING, array, nullable, obj
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.tombstones import service as tombstones

bp = Blueprint(__name__)

_ID = {"type": "string", "pattern": tombstones.ID_PATTERN, "description": "ts_<13 digits><12 hex>"}
_TYPE = {"type": "string", "pattern": TYPE_PATTERN, "description": "an aggregate type (or "
         "an agent or target type) of the spec in force"}
_AGG_ID = {"type": "string", "pattern": identifiers.PATTERN,
           "description": "an identifier: " + identifiers.FORMS}
_TEXT = {"type": "string", "minLength": 1}

REQUEST = {
    "type": "object",
    "required": ["reason", "legal_basis", "requested_by"],
    "properties": {
        "reason": {**_TEXT, "maxLength": 2000,
                   "description": "why (kept on the tombstone, never in the audit trail)"},
        "legal_basis": {**_TEXT, "maxLength": 200,
                        "description": "e.g. \"GDPR Art. 17(1)(a)\""},
        "requested_by": {**_TEXT, "maxLength": 256,
                         "description": "who asked (a role or ticket reference, not a name: "
                                        "it goes into the audit trail)"},
        "grace_period_hours": {"type": "number", "minimum": 0,
                               "maximum": tombstones.MAX_GRACE_HOURS,
                               "description": "longer than the environment's minimum (72 h "
                                              "by default); shorter is refused (422)"},
    },
    "additionalProperties": False,
}
LIST_QUERY = {
    "status": {"type": "string", "enum": list(tombstones.STATUSES)},
    "aggregate_type": _TYPE,
    "limit": {"type": "integer", "minimum": 1, "maximum": tombstones.MAX_PAGE,
              "default": tombstones.DEFAULT_PAGE},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 64,
               "description": "next_cursor of the previous page"},
}
_AGGREGATE = obj({"aggregate_type": STRING, "aggregate_id": STRING})
TOMBSTONE = obj({
    "id": _ID, "instance_id": STRING, "environment": STRING,
    "aggregate_type": STRING, "aggregate_id": STRING,
    "status": {"type": "string", "enum": list(tombstones.STATUSES)},
    "reason": STRING, "legal_basis": STRING, "requested_by": STRING,
    "requested_actor": {**STRING, "description": "the admin, or node, that sent the request"},
    "requested_at": ISO_TIME,
    "grace_period_hours": {"type": "number", "minimum": 0},
    "executable_at": {**ISO_TIME, "description": "from then on it may be executed"},
    "cancelled_at": nullable(ISO_TIME), "cancelled_by": nullable(STRING),
    "started_at": nullable(ISO_TIME),
    "started_by": nullable({**STRING, "description": "the admin, node or system:scheduler"}),
    "executed_at": nullable(ISO_TIME),
    "cascade": nullable(obj({
        "aggregates": array(_AGGREGATE),
        "complete": {"type": "boolean", "description": "false: the preview stopped reading "
                     "(execution computes the whole cascade)"},
        "source": {"type": "string", "enum": ["preview", "execution"]}})),
    "progress": obj({"phase": nullable({"type": "string",
                                        "enum": ["plan", "erase", "copies", "done"]}),
                     "streams_total": nullable(COUNT), "streams_done": COUNT,
                     "events_erased": COUNT}),
    "streams_erased": COUNT, "events_erased": COUNT,
    "copies": obj({name: COUNT for name in (
        "checkpoints_deleted", "snapshots_deleted", "root_checkpoints_rewritten",
        "backups_rewritten", "offsite_backups_rewritten", "uploads_deleted",
        "job_reports_scrubbed")}),
    "error": nullable(STRING),
})
PAGE = obj({"tombstones": array(TOMBSTONE),
            "next_cursor": nullable({**STRING, "description": "pass back as cursor; null on "
                                     "the last page"})})


@on_every_surface(bp, "POST", "/tombstone/{aggregate_type}/{aggregate_id}", None,
                  summary="Request the erasure of an aggregate (and its cascade) after the "
                          "grace period",
                  permission="erase_data", body=REQUEST, response=TOMBSTONE, status=201,
                  path_schemas={"aggregate_type": _TYPE, "aggregate_id": _AGG_ID},
                  audit="tombstone_requested",
                  errors=("SPEC_NOT_FOUND", "UNKNOWN_AGGREGATE_TYPE", "INVALID_ID",
                          "GRACE_PERIOD_TOO_SHORT", "TOMBSTONE_EXISTS"))
def request_tombstone(ctx, **params):
    instance_id, env = where(ctx, params)
    return tombstones.request(ctx.act, instance_id, env, params["aggregate_type"],
                              params["aggregate_id"], ctx.body)


@on_every_surface(bp, "GET", "/tombstones", None,
                  summary="List tombstones, newest first (filter by status, aggregate type; "
                          "paged)",
                  permission="erase_data", query=LIST_QUERY, response=PAGE)
def list_tombstones(ctx, **params):
    instance_id, env = where(ctx, params)
    q = ctx.query
    return tombstones.list_page(instance_id, env, q.get("status"), q.get("aggregate_type"),
                                q["limit"], q.get("cursor"))


@on_every_surface(bp, "GET", "/tombstones/{tombstone_id}", None,
                  summary="A tombstone: status, progress, what was erased",
                  permission="erase_data", path_schemas={"tombstone_id": _ID},
                  response=TOMBSTONE, errors=("TOMBSTONE_NOT_FOUND",))
def get_tombstone(ctx, **params):
    instance_id, env = where(ctx, params)
    return tombstones.describe(tombstones.get(instance_id, env, params["tombstone_id"]))


@on_every_surface(bp, "DELETE", "/tombstones/{tombstone_id}", None,
                  summary="Cancel a pending tombstone",
                  permission="erase_data", path_schemas={"tombstone_id": _ID},
                  response=TOMBSTONE, audit="tombstone_cancelled",
                  errors=("TOMBSTONE_NOT_FOUND", "TOMBSTONE_NOT_PENDING"))
def cancel_tombstone(ctx, **params):
    instance_id, env = where(ctx, params)
    return tombstones.cancel(ctx.act, instance_id, env, params["tombstone_id"])


@on_every_surface(bp, "POST", "/tombstones/{tombstone_id}/execute", None,
                  summary="Execute a tombstone whose grace period has passed (a queued job; "
                          "a failed one runs again)",
                  permission="erase_data", path_schemas={"tombstone_id": _ID},
                  body_required=False, response=TOMBSTONE, status=202,
                  audit="tombstone_execution_started",
                  errors=("TOMBSTONE_NOT_FOUND", "TOMBSTONE_NOT_PENDING",
                          "TOMBSTONE_GRACE_PERIOD"))
def execute_tombstone(ctx, **params):
    instance_id, env = where(ctx, params)
    return tombstones.execute(ctx.act, instance_id, env, params["tombstone_id"])
