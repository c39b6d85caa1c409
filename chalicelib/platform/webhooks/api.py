"""Seed 000's listener deliveries, on the internal surface (node secret) and the ops
surface (admin JWT with manage_ops) from one handler each: the list (filtered, paged,
every attempt with its status code, duration and error), one delivery, and an
operator's retry of a failed one (audited delivery_retried). Listeners themselves are
configured in the spec (see service.py and secrets.py)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.requests import TYPE_PATTERN
from chalicelib.http.schemas import BOOLEAN, COUNT, ISO_TIME, STRING, array, nullable, obj
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.webhooks import service as deliveries

bp = Blueprint(__name__)

_TYPE = {"type": "string", "pattern": TYPE_PATTERN}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"}
_DELIVERY_ID = {"type": "string", "pattern": deliveries.ID_PATTERN,
                "description": "dl_<13 digits><12 hex>; also the webhook-id header"}
_STATUS = {"type": "string", "enum": list(deliveries.STATUSES)}
_TIME_MS = {**ISO_TIME, "description": "ISO 8601, UTC, milliseconds"}

LIST_QUERY = {
    "status": {**_STATUS, "description": "failed = the dead letters"},
    "listener": {**_NAME, "description": "a listener's name"},
    "event_type": {**_NAME, "description": "the event's type"},
    "aggregate_type": {**_TYPE, "description": "the event's aggregate type"},
    "since": {"type": "string", "format": "date-time", "minLength": 1, "maxLength": 64,
              "description": "made at or after (ISO 8601 with a zone)"},
    "until": {"type": "string", "format": "date-time", "minLength": 1, "maxLength": 64,
              "description": "made at or before (ISO 8601 with a zone)"},
    "limit": {"type": "integer", "minimum": 1, "maximum": deliveries.MAX_PAGE,
              "default": deliveries.DEFAULT_PAGE},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 64,
               "description": "next_cursor of the previous page"},
}
ATTEMPT = obj({
    "attempt": {**COUNT, "minimum": 1, "description": "1, 2, ... across every round"},
    "round": {**COUNT, "minimum": 1, "description": "1, then one more per operator retry"},
    "at": {**_TIME_MS, "description": "when the request started"},
    "status_code": nullable({"type": "integer", "description": "the receiver's HTTP "
                             "status; null when none came (refused address, connection "
                             "failure, timeout)"}),
    "duration_ms": COUNT,
    "error": nullable({**STRING, "description": "why the attempt failed; null on success"}),
})
DELIVERY = obj({
    "id": _DELIVERY_ID, "instance_id": STRING, "environment": STRING,
    "listener": STRING, "status": _STATUS,
    "dead_letter": {**BOOLEAN, "description": "failed: every attempt of its last round "
                    "failed; an operator may retry it"},
    "aggregate_type": STRING, "aggregate_id": STRING, "event_type": STRING,
    "stream_id": {**STRING, "description": "<type>/<id>@<position> of the event"},
    "position": COUNT,
    "event_timestamp": _TIME_MS,
    "round": {**COUNT, "minimum": 1},
    "attempt_count": COUNT,
    "attempts": array(ATTEMPT),
    "next_attempt_at": nullable({**_TIME_MS, "description": "while pending"}),
    "created_at": _TIME_MS,
    "delivered_at": nullable(_TIME_MS),
    "ended_at": nullable({**_TIME_MS, "description": "when it was delivered, failed or "
                          "cancelled"}),
    "error": nullable({**STRING, "description": "the last attempt's error, or why it was "
                       "cancelled"}),
})
PAGE = obj({"deliveries": array(DELIVERY),
            "next_cursor": nullable({**STRING, "description": "pass back as cursor; null "
                                     "on the last page"})})
RETRY = {"type": "object", "properties": {}, "additionalProperties": False}


@on_every_surface(bp, "GET", "/deliveries", None,
                  summary="List listener deliveries, newest first (filter by status, "
                          "listener, event type, aggregate type, time; paged)",
                  permission="manage_ops", query=LIST_QUERY, response=PAGE)
def list_deliveries(ctx, **params):
    instance_id, env = where(ctx, params)
    return deliveries.list_page(instance_id, env, ctx.query)


@on_every_surface(bp, "GET", "/deliveries/{delivery_id}", None,
                  summary="One listener delivery with every attempt",
                  permission="manage_ops", path_schemas={"delivery_id": _DELIVERY_ID},
                  response=DELIVERY, errors=("DELIVERY_NOT_FOUND",))
def get_delivery(ctx, **params):
    instance_id, env = where(ctx, params)
    return deliveries.describe(deliveries.get(instance_id, env, params["delivery_id"]))


@on_every_surface(bp, "POST", "/deliveries/{delivery_id}/retry", None,
                  summary="Send a failed delivery again: a new round of attempts, the "
                          "first at once",
                  permission="manage_ops", body=RETRY, body_required=False,
                  path_schemas={"delivery_id": _DELIVERY_ID}, response=DELIVERY,
                  audit="delivery_retried",
                  errors=("DELIVERY_NOT_FOUND", "DELIVERY_NOT_RETRYABLE"))
def retry_delivery(ctx, **params):
    instance_id, env = where(ctx, params)
    return deliveries.retry(ctx.act, instance_id, env, params["delivery_id"])
