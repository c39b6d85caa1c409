"""Long jobs of an instance environment (imports, restores, root checkpoints): the
status_url every 202 answer names, and the listing. Served on the ops surface (admin,
`manage_ops` or `load_data`: whoever may start a job may watch it) and the internal
surface, from one handler. The lifecycle is in chalicelib/store/jobs.py."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.schemas import (
    JOB_ACCEPTED,  # noqa: F401 - the 202 answer, named here beside the status route
    JOB_ANSWER,
    JOB_ID,
    JOB_KINDS,
    STRING,
    array,
    nullable,
    obj,
)
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.jobs import service as jobs

bp = Blueprint(__name__)

STATUS = JOB_ANSWER["properties"]["status"]
JOB_PAGE_ANSWER = obj({"jobs": array(JOB_ANSWER),
                       "next_cursor": nullable({**STRING, "description": "pass back as "
                                                "cursor; null on the last page"})})
LIST_QUERY = {
    "kind": {"type": "string", "enum": list(JOB_KINDS)},
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
