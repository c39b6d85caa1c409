"""The event data plane: the platform's own data API under /data, authenticated by an
API key that names its instance and environment.

Path parameters are checked before anything is read or written (http/requests.py,
PATH_PARAMETERS; 400 VALIDATION_ERROR in the data shape): `agg_type` and `event_type`
match ^[A-Za-z0-9_.:-]{1,128}$ (every spec name does), `agg_id` matches
^[A-Za-z0-9_.:@~+=-]{1,256}$, so a stream key stays far below DynamoDB's key limits and
no '#' can make two (type, id) pairs one key."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.errors import invalid
from chalicelib.http.requests import TYPE_PATTERN, idempotency_key
from chalicelib.http.routing import route
from chalicelib.http.schemas import UNIX_TIME, data_ok, nullable, obj
from chalicelib.platform.events import service as event_store

bp = Blueprint(__name__)

_NAME = {"type": "string", "pattern": TYPE_PATTERN}
METADATA = {
    "type": "object", "required": ["actor"],
    "properties": {
        "actor": {"type": "object", "required": ["type", "id"], "additionalProperties": False,
                  "properties": {"type": {"type": "string", "minLength": 1, "maxLength": 64},
                                 "id": {"type": "string", "minLength": 1, "maxLength": 256}}},
        "target": {"type": "object", "required": ["type", "id"],
                   "properties": {"type": {"type": "string"}, "id": {"type": "string"}}},
        "previous_length": {"type": "integer", "minimum": 0},
    },
}
EVENT = {"type": "object", "required": ["metadata"], "additionalProperties": False,
         "properties": {"data": {}, "metadata": METADATA}}
# The platform's batch: one `metadata` for every event (actor, target, previous_length:
# one concurrency check for the batch). An event may carry metadata of its own instead,
# and a top-level `previous_length` is taken as well, as an earlier form of this API had.
BATCH = {
    "type": "object", "required": ["events"], "additionalProperties": False,
    "properties": {
        "metadata": METADATA,
        "previous_length": {"type": "integer", "minimum": 0},
        "events": {"type": "array", "minItems": 1, "maxItems": event_store.MAX_BATCH_EVENTS,
                   "items": {"type": "object", "required": ["type"],
                             "additionalProperties": False,
                             "properties": {"type": _NAME, "data": {}, "metadata": METADATA}}},
    },
}
# every event has metadata: the batch's, or its own (the handler names the event lacking it)
BATCH_DOCUMENTED = {**BATCH, "anyOf": [
    {"required": ["metadata"]},
    {"properties": {"events": {"items": {"required": ["metadata"]}}}}]}
AT_QUERY = {"at": {"type": "number", "minimum": 0,
                   "description": "unix seconds: the state as of that time"},
            "synchronous": {"type": "string", "enum": ["true", "false"],
                            "description": "the platform's cache bypass; a read here is "
                                           "always of the stored head, so it changes nothing"}}

_LENGTH = {"type": "integer", "minimum": 0, "description": "events in the aggregate's stream"}
APPENDED_ANSWER = data_ok(
    {"stream_id": {"type": "string", "pattern": r"^.+/.+@[0-9]+$",
                   "description": "<agg_type>/<agg_id>@<position of the first event written>"},
     "length": {**_LENGTH, "minimum": 1}},
    {"implied": {"type": "integer", "minimum": 0,
                 "description": "events the implications added to other aggregates; "
                                "only when the write held more than one event"},
     "idempotent_replay": {"const": True,
                           "description": "the stored answer of an earlier request with "
                                          "the same X-Idempotency-Key"}})
AGGREGATE_ANSWER = data_ok({
    "data": {"type": "object", "description": "the folded state"},
    "metadata": obj({"length": {**_LENGTH, "description": "0 only for a singleton not "
                                                         "written yet"},
                     "created_at": nullable(UNIX_TIME), "updated_at": nullable(UNIX_TIME)}),
})
BATCH_ANSWER = data_ok(
    {"stream_ids": {"type": "array", "items": APPENDED_ANSWER["properties"]["stream_id"],
                    "description": "one per event of the batch, in order"},
     "count": {"type": "integer", "minimum": 1, "description": "events written"},
     "length": {**_LENGTH, "minimum": 1}},
    {"implied_count": {"type": "integer", "minimum": 1,
                       "description": "events the implications added; left out when none"},
     "idempotent_replay": APPENDED_ANSWER["properties"]["idempotent_replay"]})
LENGTH_ANSWER = data_ok({"length": _LENGTH})
EVENTS_QUERY = {"limit": {"type": "integer", "minimum": 1, "maximum": event_store.MAX_EVENTS_PAGE,
                          "default": 100},
                "cursor": {"type": "string", "pattern": "^[0-9]{1,12}$",
                           "description": "next_cursor of the previous page"}}
EVENTS_ANSWER = data_ok({
    "events": {"type": "array", "items": obj(
        {"stream_id": APPENDED_ANSWER["properties"]["stream_id"],
         "position": {"type": "integer", "minimum": 0}, "type": {"type": "string"},
         "data": {}, "metadata": {"type": "object"}, "timestamp": UNIX_TIME},
        {"tombstoned": {"const": True, "description": "erased: data is null"}})},
    "next_cursor": {"type": ["string", "null"], "description": "null on the last page"}})



def _write(ctx, agg_type: str, agg_id: str, items: list[dict], expected):
    for item in items:
        item["metadata"] = {k: v for k, v in item["metadata"].items() if k != "previous_length"}
    digest = event_store.request_digest(ctx.request.method, ctx.request.path, ctx.body)
    return event_store.append(ctx.principal, agg_type, agg_id, items, expected,
                              idempotency_key(ctx.request), digest, ctx.count_in_write)


# what a write can be refused with, beyond the request's own shape
WRITE_ERRORS = ("SPEC_NOT_FOUND", "UNKNOWN_AGGREGATE_TYPE", "UNKNOWN_EVENT_TYPE", "INVALID_ID",
                "SCHEMA_VIOLATION", "HANDLER_FAILED", "BATCH_TOO_LARGE", "EVENT_TOO_LARGE",
                "STATE_TOO_LARGE", "CONCURRENT_WRITE", "IDEMPOTENCY_KEY_REUSED",
                "AGGREGATE_TOMBSTONED")


@route(bp, "/data/{agg_type}/{agg_id}/{event_type}", "POST", summary="Append one event",
       auth="api_key", scope="write", surface="data", body=EVENT, response=APPENDED_ANSWER,
       status=201, tags=("data",),
       errors=WRITE_ERRORS)
def append_event(ctx, agg_type, agg_id, event_type):
    expected = ctx.body["metadata"].get("previous_length")
    return _write(ctx, agg_type, agg_id, [{"event_type": event_type, "data": ctx.body.get("data"),
                                           "metadata": ctx.body["metadata"]}], expected)


@route(bp, "/data/{agg_type}/{agg_id}", "POST", summary="Append several events atomically",
       auth="api_key", scope="write", surface="data", body=BATCH_DOCUMENTED,
       validate_body=BATCH, response=BATCH_ANSWER,
       status=201, tags=("data",),
       errors=WRITE_ERRORS)
def append_batch(ctx, agg_type, agg_id):
    events, shared = ctx.body["events"], ctx.body.get("metadata")
    for i, e in enumerate(events):
        if "metadata" not in e and shared is None:
            raise invalid(f"events.{i}.metadata", "required: give each event its metadata, or "
                          "one metadata for the batch",
                          "metadata (with its actor) is required, for the batch or each event")
    expected = next((m["previous_length"] for m in [shared or {}] + [e.get("metadata") or {}
                     for e in events] if "previous_length" in m),
                    ctx.body.get("previous_length"))
    answer = _write(ctx, agg_type, agg_id, [{"event_type": e["type"], "data": e.get("data"),
                                             "metadata": e.get("metadata", shared)}
                                            for e in events], expected)
    return _batch_answer(answer, len(events))


def _batch_answer(answer: dict, count: int) -> dict:
    """The platform's batch answer from the append's: every event's stream id, the count,
    and the implied events (left out when none)."""
    stream, first = answer["stream_id"].rsplit("@", 1)
    out = {"ok": True, "stream_ids": [f"{stream}@{int(first) + i}" for i in range(count)],
           "count": count, "length": answer["length"]}
    if answer.get("implied"):
        out["implied_count"] = answer["implied"]
    if answer.get("idempotent_replay"):
        out["idempotent_replay"] = True
    return out


@route(bp, "/data/{agg_type}/{agg_id}", "GET", summary="Aggregate state (?at=<unix> for the past)",
       auth="api_key", scope="read", surface="data", query=AT_QUERY, response=AGGREGATE_ANSWER,
       tags=("data",),
       errors=("AGGREGATE_NOT_FOUND", "INVALID_ID", "SPEC_NOT_FOUND", "UNKNOWN_AGGREGATE_TYPE",
               "UNKNOWN_EVENT_TYPE", "HANDLER_FAILED", "STATE_TOO_LARGE",
               "AGGREGATE_TOMBSTONED"))
def get_aggregate(ctx, agg_type, agg_id):
    return event_store.read(ctx.principal, agg_type, agg_id, ctx.query.get("at"))


@route(bp, "/data/{agg_type}/{agg_id}/events", "GET",
       summary="The raw event stream, in order, paged (limit, cursor)",
       auth="api_key", scope="read", surface="data", query=EVENTS_QUERY,
       response=EVENTS_ANSWER, tags=("data",), errors=("AGGREGATE_NOT_FOUND", "INVALID_ID"))
def list_events(ctx, agg_type, agg_id):
    return event_store.list_events(ctx.principal, agg_type, agg_id, ctx.query.get("cursor"),
                                   ctx.query["limit"])


@route(bp, "/data/{agg_type}/{agg_id}/length", "GET", summary="Number of events of the aggregate",
       auth="api_key", scope="read", surface="data", response=LENGTH_ANSWER, tags=("data",),
       errors=("INVALID_ID",))
def get_length(ctx, agg_type, agg_id):
    return event_store.length(ctx.principal, agg_type, agg_id)
