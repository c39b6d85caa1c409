"""Long jobs of an instance environment (imports, restores, root checkpoints): the
status_url every 202 answer names, and the listing. Served on the ops surface (admin,
`manage_ops` or `load_data`: whoever may start a job may watch it) and the internal
surface, from one handler. The lifecycle is in chalicelib/store/jobs.py."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.schemas import COUNT, ENVIRONMENT, ISO_TIME, STRING, array, nullable, obj
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.jobs import service as jobs

bp = Blueprint(__name__)

JOB_ID = {"type": "string", "pattern": "^job_[0-9]{13}[0-9a-f]{12}$"}
STATUS = {"type": "string", "enum": list(jobs.STATUSES)}
JOB_ANSWER = obj({
    "id": JOB_ID, "kind": {"type": "string", "enum": list(jobs.KINDS)},
    "instance_id": STRING, "environment": ENVIRONMENT, "status": STATUS,
    "requested_at": ISO_TIME, "requested_by": STRING,
    "started_at": nullable(ISO_TIME), "updated_at": nullable(ISO_TIME),
    "completed_at": nullable(ISO_TIME),
    "params": {"type": "object", "description": "what was asked"},
    "progress": obj({
        "done": {**COUNT, "description": "items done (events, lines, aggregates)"},
        "total": nullable({**COUNT, "description": "items in all, once known"}),
        "bytes": {**COUNT, "description": "bytes read or written"},
        "percent": nullable({"type": "number", "minimum": 0}),
        "rate_per_second": nullable({"type": "number", "minimum": 0,
                                     "description": "items per second since it started"}),
    }),
    "result": nullable({"type": "object", "description": "what the job did, once completed"}),
    "error": nullable({**STRING, "description": "why it failed"}),
    "status_url": STRING,
})
JOB_ACCEPTED = obj({"job_id": JOB_ID, "status_url": STRING, "job": JOB_ANSWER})
JOB_PAGE_ANSWER = obj({"jobs": array(JOB_ANSWER),
                       "next_cursor": nullable({**STRING, "description": "pass back as "
                                                "cursor; null on the last page"})})
LIST_QUERY = {
    "kind": {"type": "string", "enum": list(jobs.KINDS)},
    "status": STATUS,
    "limit": {"type": "integer", "minimum": 1, "maximum": jobs.MAX_PAGE,
              "default": jobs.DEFAULT_PAGE},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 40},
}


@on_every_surface(bp, "GET", "/jobs", None, summary="List jobs, newest first (paged)",
                  permission="manage_ops", query=LIST_QUERY, response=JOB_PAGE_ANSWER)
def list_jobs(ctx, **params):
    instance_id, env = where(ctx, params)
    return jobs.list_page(instance_id, env, ctx.query.get("kind"), ctx.query.get("status"),
                          ctx.query["limit"], ctx.query.get("cursor"))


@on_every_surface(bp, "GET", "/jobs/{job_id}", None, summary="A job's status and progress",
                  permission="manage_ops", response=JOB_ANSWER,
                  path_schemas={"job_id": JOB_ID}, errors=("JOB_NOT_FOUND",))
def get_job(ctx, **params):
    instance_id, env = where(ctx, params)
    return jobs.status(instance_id, env, params["job_id"])
