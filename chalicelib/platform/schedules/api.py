"""Seed 000's scheduled events, on the internal surface (node secret) and the ops surface
(admin JWT with manage_ops) from one handler each: list (filtered, paged), one with its
attempts, cancel (pending only), retry (failed only) and the dead letters. See
service.py for how they are made, emitted and cancelled."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.requests import ID_PATTERN, TYPE_PATTERN
from chalicelib.http.schemas import COUNT, ISO_TIME, STRING, array, nullable, obj
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.schedules import service as schedules

bp = Blueprint(__name__)

_TYPE = {"type": "string", "pattern": TYPE_PATTERN, "description": "an aggregate type"}
_SCHEDULED_ID = {"type": "string", "pattern": schedules.ID_PATTERN,
                 "description": "se_<13 digits><12 hex>"}
_STATUS = {"type": "string", "enum": list(schedules.STATUSES)}
_CURSOR = {"type": "string", "minLength": 1, "maxLength": 64,
           "description": "next_cursor of the previous page"}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": schedules.MAX_PAGE,
          "default": schedules.DEFAULT_PAGE}

LIST_QUERY = {
    "status": _STATUS,
    "aggregate_type": {**_TYPE, "description": "the type of the aggregate whose event "
                       "scheduled it"},
    "aggregate_id": {"type": "string", "pattern": ID_PATTERN,
                     "description": "the aggregate whose event scheduled it"},
    "limit": _LIMIT,
    "cursor": _CURSOR,
}
DEAD_QUERY = {"aggregate_type": LIST_QUERY["aggregate_type"],
              "aggregate_id": LIST_QUERY["aggregate_id"], "limit": _LIMIT, "cursor": _CURSOR}
CANCEL = {
    "type": "object",
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500,
                              "description": "kept with the cancellation and in the audit "
                                             "entry (default: cancelled by an operator)"}},
    "additionalProperties": False,
}
RETRY = {"type": "object", "properties": {}, "additionalProperties": False}

ATTEMPT = obj({"at": ISO_TIME,
               "error": {**STRING, "description": "the refusal's kind, its description and "
                         "the paths involved (never event data)"}})
SCHEDULED = obj({
    "id": _SCHEDULED_ID, "status": _STATUS,
    "due_at": {**ISO_TIME, "description": "when it is (or was) to be emitted; moved by a "
               "failed attempt's retry"},
    "delay_ms": COUNT,
    "aggregate_type": {**STRING, "description": "the aggregate whose event scheduled it"},
    "aggregate_id": STRING,
    "event_type": {**STRING, "description": "the event that scheduled it"},
    "source_stream_id": {**STRING, "description": "<type>/<id>@<position> of that event"},
    "emit": obj({"aggregate_type": STRING, "event_type": STRING}),
    "cancel_on": array(obj({"aggregate_type": STRING, "id": STRING, "event_type": STRING})),
    "attempts": array(ATTEMPT),
    "created_at": ISO_TIME,
    "queued_at": nullable({**ISO_TIME, "description": "handed to the timers queue (pending)"}),
    "emitted_at": nullable(ISO_TIME),
    "emitted_stream_id": nullable({**STRING, "description": "<type>/<id>@<position> of the "
                                   "emitted event"}),
    "cancelled_at": nullable(ISO_TIME),
    "cancelled_by": nullable({**STRING, "description": "the operator, system:scheduler, or "
                              "the stream id of the cancel_on event"}),
    "cancel_reason": nullable(STRING),
    "retried_at": nullable(ISO_TIME),
})
PAGE = obj({"scheduled": array(SCHEDULED),
            "next_cursor": nullable({**STRING, "description": "pass back as cursor; null on "
                                     "the last page"})})
DEAD_PAGE = obj({"dead_letters": array(SCHEDULED),
                 "next_cursor": PAGE["properties"]["next_cursor"]})


@on_every_surface(bp, "GET", "/scheduled", None,
                  summary="List scheduled events, newest first (filter by status and by the "
                          "aggregate that scheduled them; paged)",
                  permission="manage_ops", query=LIST_QUERY, response=PAGE)
def list_scheduled(ctx, **params):
    instance_id, env = where(ctx, params)
    q = ctx.query
    return schedules.list_page(instance_id, env, q.get("status"), q.get("aggregate_type"),
                               q.get("aggregate_id"), q["limit"], q.get("cursor"))


@on_every_surface(bp, "GET", "/scheduled/dead", None,
                  summary="List dead letters: scheduled events whose every attempt failed, "
                          "each with the error of each attempt",
                  permission="manage_ops", query=DEAD_QUERY, response=DEAD_PAGE)
def list_dead_scheduled(ctx, **params):
    instance_id, env = where(ctx, params)
    q = ctx.query
    return schedules.list_page(instance_id, env, "failed", q.get("aggregate_type"),
                               q.get("aggregate_id"), q["limit"], q.get("cursor"),
                               key="dead_letters")


@on_every_surface(bp, "GET", "/scheduled/{event_id}", None,
                  summary="One scheduled event, with every attempt",
                  permission="manage_ops", path_schemas={"event_id": _SCHEDULED_ID},
                  response=SCHEDULED, errors=("SCHEDULED_EVENT_NOT_FOUND",))
def get_scheduled(ctx, **params):
    instance_id, env = where(ctx, params)
    return schedules.describe(schedules.get(instance_id, env, params["event_id"]))


@on_every_surface(bp, "POST", "/scheduled/{event_id}/cancel", None,
                  summary="Cancel a pending scheduled event",
                  permission="manage_ops", body=CANCEL, body_required=False,
                  path_schemas={"event_id": _SCHEDULED_ID}, response=SCHEDULED,
                  audit="scheduled_event_cancelled",
                  errors=("SCHEDULED_EVENT_NOT_FOUND", "SCHEDULED_EVENT_NOT_PENDING"))
def cancel_scheduled(ctx, **params):
    instance_id, env = where(ctx, params)
    return schedules.cancel(ctx.act, instance_id, env, params["event_id"],
                            (ctx.body or {}).get("reason"))


@on_every_surface(bp, "POST", "/scheduled/{event_id}/retry", None,
                  summary="Retry a failed scheduled event (a dead letter): pending again, due "
                          "now, with three more attempts",
                  permission="manage_ops", body=RETRY, body_required=False,
                  path_schemas={"event_id": _SCHEDULED_ID},
                  response=SCHEDULED, audit="scheduled_event_retried",
                  errors=("SCHEDULED_EVENT_NOT_FOUND", "SCHEDULED_EVENT_NOT_FAILED"))
def retry_scheduled(ctx, **params):
    instance_id, env = where(ctx, params)
    return schedules.retry(ctx.act, instance_id, env, params["event_id"])
