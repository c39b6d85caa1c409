"""Seed 000's sagas, on the internal surface (node secret) and, for operators, the ops
surface (admin JWT with manage_ops) from one handler each: list (filtered, paged),
detail (every step with its status, attempts and times), retry (audited)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain import sagas as rules
from chalicelib.http.requests import TYPE_PATTERN
from chalicelib.http.schemas import COUNT, ISO_TIME, STRING, array, nullable, obj
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.sagas import service as sagas

bp = Blueprint(__name__)

_SAGA_ID = {"type": "string", "pattern": sagas.ID_PATTERN,
            "description": "sg_<13 digits><12 hex>"}
_NAME = {"type": "string", "pattern": TYPE_PATTERN, "description": "a saga of the spec"}
_TIME = nullable(ISO_TIME)
_REF = obj({"aggregate_type": STRING, "aggregate_id": STRING, "event_type": STRING,
            "position": COUNT, "stream_id": {**STRING, "description": "type/id@position"}})

LIST_QUERY = {
    "name": _NAME,
    "status": {"type": "string", "enum": list(rules.SAGA_STATUSES)},
    "limit": {"type": "integer", "minimum": 1, "maximum": sagas.MAX_PAGE,
              "default": sagas.DEFAULT_PAGE},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 64,
               "description": "next_cursor of the previous page"},
}

STEP = obj({
    "index": COUNT, "name": STRING,
    "status": {"type": "string", "enum": list(rules.STEP_STATUSES)},
    "attempts": {**COUNT, "description": "times its emit was attempted"},
    "started_at": {**_TIME, "description": "when it became the saga's current step"},
    "emitted_at": {**_TIME, "description": "when its emit was appended"},
    "completed_at": {**_TIME, "description": "when it completed (its awaited event's "
                     "time), was skipped, failed or timed out"},
    "deadline_at": {**_TIME, "description": "the end of its await"},
    "compensated_at": {**_TIME, "description": "when its compensate was appended"},
    "awaits": nullable(obj({"aggregate_type": STRING, "aggregate_id": STRING,
                            "event_types": array(STRING)})),
    "awaited": nullable({**_REF, "description": "the event that satisfied its await "
                         "($prev of the steps after it)"}),
    "error": nullable(STRING),
})
SAGA = obj({
    "id": _SAGA_ID, "saga": STRING,
    "status": {"type": "string", "enum": list(rules.SAGA_STATUSES)},
    "trigger": {**_REF, "description": "the event that started it"},
    "current_step": {**COUNT, "description": "the step running, or the last one run"},
    "run": {"type": "integer", "minimum": 1, "description": "1 + restarts by retry"},
    "version": {"type": "integer", "minimum": 1,
                "description": "raised by every change (they are conditional on it)"},
    "error": nullable(STRING), "steps": array(STEP),
    "created_at": ISO_TIME, "updated_at": ISO_TIME,
})
SAGA_PAGE = obj({"sagas": array(SAGA),
                 "next_cursor": nullable({**STRING, "description": "pass back as cursor; "
                                          "null on the last page"})})


@on_every_surface(bp, "GET", "/sagas", None,
                  summary="List sagas, newest first (filter by name and status; paged)",
                  permission="manage_ops", query=LIST_QUERY, response=SAGA_PAGE)
def list_sagas(ctx, **params):
    instance_id, env = where(ctx, params)
    q = ctx.query
    return sagas.list_page(instance_id, env, q.get("name"), q.get("status"), q["limit"],
                           q.get("cursor"))


@on_every_surface(bp, "GET", "/sagas/{saga_id}", None,
                  summary="A saga with every step's status, attempts and times",
                  permission="manage_ops", path_schemas={"saga_id": _SAGA_ID},
                  response=SAGA, errors=("SAGA_NOT_FOUND",))
def get_saga(ctx, **params):
    instance_id, env = where(ctx, params)
    return sagas.describe(sagas.get(instance_id, env, params["saga_id"]))


@on_every_surface(bp, "POST", "/sagas/{saga_id}/retry", None,
                  summary="Retry a failed saga (its failed compensations, or its failed step) "
                          "or run a compensated one again from its first step",
                  permission="manage_ops", path_schemas={"saga_id": _SAGA_ID},
                  response=SAGA, audit="saga_retried",
                  errors=("SAGA_NOT_FOUND", "SAGA_NOT_RETRYABLE", "CONCURRENT_WRITE"))
def retry_saga(ctx, **params):
    instance_id, env = where(ctx, params)
    return sagas.retry(ctx.act, instance_id, env, params["saga_id"])
