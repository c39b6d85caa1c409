"""Seed 000's "Data loading" rows: inject, import, import_jsonl, cold_start and export.

Served on the internal surface (node secret), and the loads also on the ops surface for
operators with `load_data`, from one handler. A load answers 202 {job_id, status_url,
job} (inject 201 with what it wrote); the job's status is at status_url
(platform/jobs/api.py). The event shape in and out is the export's JSON line
(loader.py)."""
from __future__ import annotations

from chalice import Response

from chalice import Blueprint

from chalicelib.core.errors import AppError, invalid
from chalicelib.http.requests import media_type
from chalicelib.http.routing import route
from chalicelib.http.schemas import (
    COUNT,
    ISO_TIME,
    JOB_ACCEPTED,
    STRING,
    obj,
)
from chalicelib.http.surfaces import INTERNAL, on_every_surface, where
from chalicelib.platform.imports import service as imports

bp = Blueprint(__name__)

EXPORT_QUERY = {
    "aggregate_type": {"type": "string", "minLength": 1, "maxLength": 200,
                       "description": "Only this aggregate type's events"},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 4000,
               "description": "X-Next-Cursor of the previous page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": imports.PAGE_SIZE,
              "description": f"Events per page (at most {imports.PAGE_SIZE})"},
}
EVENT_LINE = {
    "type": "object",
    "required": ["aggregate_type", "aggregate_id", "event_type", "metadata"],
    "properties": {
        "aggregate_type": {"type": "string", "minLength": 1},
        "aggregate_id": {"type": "string", "minLength": 1},
        "event_type": {"type": "string", "minLength": 1},
        "data": {"description": "the event's payload (absent on a tombstoned event)"},
        "metadata": {"type": "object", "description": "with its actor {type, id}"},
        "position": {"type": "integer", "minimum": 0,
                     "description": "where it goes in its stream; absent: appended"},
        "created_at": {"type": "number", "minimum": 0,
                       "description": "unix seconds; absent: the time of the load"},
        "content_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "chain_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "tombstoned": {"type": "object"},
    },
    "description": "one line of the export",
}
EVENTS_BODY = {
    "type": "object", "required": ["events"],
    "properties": {"events": {"type": "array", "minItems": 1,
                              "maxItems": imports.MAX_BODY_EVENTS, "items": EVENT_LINE}},
    "additionalProperties": False,
}
INJECT_BODY = {
    "type": "object", "required": ["events"],
    "properties": {"events": {"type": "array", "minItems": 1, "maxItems": 1000,
                              "items": EVENT_LINE}},
    "additionalProperties": False,
}
UPLOAD_BODY = {
    "type": "object", "required": ["upload_id"],
    "properties": {"upload_id": {"type": "string", "pattern": "^up_[0-9]{13}[0-9a-f]{16}$"}},
    "additionalProperties": False,
}
EVENTS_OR_UPLOAD = {"oneOf": [EVENTS_BODY, UPLOAD_BODY],
                    "description": "{\"events\": [...]}, or {\"upload_id\"} of a presigned "
                                   "upload"}
LOAD_QUERY = {"skip_invalid": {"type": "boolean", "default": False,
                               "description": "apply the valid lines and list the rest; "
                                              "by default one bad line applies nothing"}}
INJECT_ANSWER = obj({"ok": {"const": True}, "count": COUNT, "streams": COUNT,
                     "job_id": STRING})
UPLOAD_ANSWER = obj({"upload_id": STRING, "url": {**STRING, "format": "uri"},
                     "method": {"const": "PUT"}, "headers": {"type": "object"},
                     "expires_at": ISO_TIME})
LOAD_ERRORS = ("SPEC_NOT_FOUND",)


@route(bp, INTERNAL + "/export", "GET", auth="node", query=EXPORT_QUERY, tags=("internal",),
       media_types=(imports.MEDIA_TYPE,),
       summary="Export every stored event of the environment as JSON Lines, a page at a time "
               "(X-Next-Cursor names the next page; absent on the last)",
               errors=("UNKNOWN_AGGREGATE_TYPE",))
def export_events(ctx, **params):
    instance_id, env = where(ctx, params)
    body, headers = imports.export_page(instance_id, env, ctx.query.get("aggregate_type"),
                                        ctx.query.get("cursor"), ctx.query.get("limit"))
    return Response(body=body, status_code=200, headers=headers)


@on_every_surface(bp, "POST", "/inject", None, permission="load_data", body=INJECT_BODY,
                  response=INJECT_ANSWER, status=201, statuses=(202,), audit="events_injected",
                  errors=LOAD_ERRORS + ("INJECT_NOT_ALLOWED", "SCHEMA_VIOLATION",
                                        "HANDLER_FAILED"),
                  summary="Inject test data (staging and test only): validated like any "
                          "write, appended now; 202 with the job if it takes longer")
def inject(ctx, **params):
    from chalicelib.platform.imports import jobs
    instance_id, env = where(ctx, params)

    def status(code: int) -> None:
        ctx.status = code
    return imports.inject(ctx.act, instance_id, env, ctx.body["events"], jobs.KINDS, status)


@on_every_surface(bp, "POST", "/import", None, permission="load_data", body=EVENTS_BODY,
                  query=LOAD_QUERY, response=JOB_ACCEPTED, status=202, audit="import_requested",
                  errors=LOAD_ERRORS,
                  summary="Import historical events (the export's lines, with their positions "
                          "and timestamps), as a job")
def import_events(ctx, **params):
    instance_id, env = where(ctx, params)
    return imports.load(ctx.act, instance_id, env, "import", ctx.body["events"],
                        ctx.query.get("skip_invalid", False))


@on_every_surface(bp, "POST", "/import_jsonl", None, permission="load_data",
                  body=EVENTS_OR_UPLOAD, validate_body=False, accepts_json_lines=True,
                  query=LOAD_QUERY, response=JOB_ACCEPTED, status=202,
                  audit="import_requested", errors=LOAD_ERRORS + ("UPLOAD_NOT_FOUND",),
                  summary="Import events as JSON Lines: an application/x-ndjson body, or "
                          "{\"upload_id\"} of a file put at a presigned URL "
                          "(import_jsonl/uploads), as a job")
def import_jsonl(ctx, **params):
    instance_id, env = where(ctx, params)
    return _from_body_or_upload(ctx, instance_id, env, "import_jsonl")


@on_every_surface(bp, "POST", "/import_jsonl/uploads", None, permission="load_data",
                  response=UPLOAD_ANSWER, status=201, errors=LOAD_ERRORS,
                  audit="upload_url_issued",
                  summary="A presigned URL to PUT a JSON Lines file too large for a request "
                          "(valid 1 hour); then POST import_jsonl {\"upload_id\"}")
def upload_url(ctx, **params):
    instance_id, env = where(ctx, params)
    return imports.presign_upload(instance_id, env)


@on_every_surface(bp, "POST", "/cold_start", None, permission="load_data",
                  body=EVENTS_OR_UPLOAD, validate_body=False, accepts_json_lines=True,
                  query=LOAD_QUERY, response=JOB_ACCEPTED, status=202,
                  audit="cold_start_requested",
                  errors=LOAD_ERRORS + ("ENVIRONMENT_NOT_EMPTY", "UPLOAD_NOT_FOUND"),
                  summary="The initial load of an environment with no events: {\"events\"}, "
                          "{\"upload_id\"} or a JSON Lines body, as a job")
def cold_start(ctx, **params):
    instance_id, env = where(ctx, params)
    return _from_body_or_upload(ctx, instance_id, env, "cold_start")


def _from_body_or_upload(ctx, instance_id: str, env: str, kind: str):
    """A JSON body {"upload_id"} or {"events"}, else the raw body as JSON Lines."""
    from chalicelib.http.requests import validate
    raw = ctx.request.raw_body or b""
    skip = ctx.query.get("skip_invalid", False)
    if media_type(ctx.request) != "application/x-ndjson":
        data = ctx.body        # parsed as JSON by the wrapper
        if isinstance(data, dict) and "upload_id" in data:
            validate(UPLOAD_BODY, data)
            return imports.load_upload(ctx.act, instance_id, env, kind, data["upload_id"], skip)
        validate(EVENTS_BODY, data)
        return imports.load(ctx.act, instance_id, env, kind, data["events"], skip)
    if not raw.strip():
        raise invalid("", "body is required", "A JSON Lines body is required")
    if len(raw) > 6 * 1024 * 1024:
        raise AppError("VALIDATION_ERROR", "The body is larger than a request may be; upload "
                       "the file at a presigned URL (import_jsonl/uploads)")
    return imports.load(ctx.act, instance_id, env, kind, bytes(raw), skip)
