"""Instances of the event platform (seed 000), and the lookup of a 5xx by its error_id."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.http import error_log
from chalicelib.http.routing import route
from chalicelib.http.schemas import (
    COUNT,
    ENVIRONMENT,
    ISO_TIME,
    STRING,
    array,
    nullable,
    obj,
)
from chalicelib.platform.instances import service as instances
from chalicelib.store.instances import load_instance

bp = Blueprint(__name__)

CREATE = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100,
                            "pattern": r"\S"},
                   "plan": {"type": "string",
                            "enum": sorted(instances.PLANS) + sorted(instances.plans.ALIASES),
                            "description": "the platform's tiers; starter and enterprise "
                                           "are taken as hobby and scale"}},
}

INSTANCE_ANSWER = obj({
    "id": STRING, "name": STRING,
    "plan": {"type": "string", "enum": sorted(instances.PLANS)},
    "tier": {"type": "string", "enum": sorted({p.tier for p in instances.PLANS.values()})},
    "created_at": ISO_TIME,
    "environments": array(ENVIRONMENT),
})
INSTANCE_LIST_ANSWER = obj({
    "instances": {**array(INSTANCE_ANSWER), "maxItems": instances.MAX_PAGE,
                  "description": "in creation order (ties by id)"},
    "next_cursor": nullable({**STRING, "description": "pass back as cursor for the next "
                                                     "page; null on the last page"}),
})
LIST_QUERY = {
    "limit": {"type": "integer", "minimum": 1, "maximum": instances.MAX_PAGE,
              "default": instances.DEFAULT_PAGE, "description": "instances per page"},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 400,
               "description": "next_cursor of the previous page (opaque)"},
}
INSTANCE_DETAIL_ANSWER = obj({
    **INSTANCE_ANSWER["properties"],
    "created_by": STRING,
    "limits": obj({"events_per_month": nullable(COUNT), "api_keys": COUNT,
                   "backups_retained": COUNT, "writes_per_minute": COUNT,
                   "reads_per_minute": COUNT}),
    "usage": obj({
        "events": {**obj({env: COUNT for env in ENVIRONMENTS}, closed=True),
                   "description": "events stored, per environment"},
        "events_total": COUNT,
        "api_keys_active": COUNT,
        "this_month": {**obj({
            "month": {**STRING, "pattern": "^[0-9]{4}-[0-9]{2}$"},
            "events": obj({env: COUNT for env in ENVIRONMENTS}, closed=True),
            "events_total": COUNT,
            "allowance": nullable({**COUNT, "description": "the plan's events_per_month; "
                                                           "null: unlimited"}),
            "remaining": nullable(COUNT),
            "percent_used": nullable({"type": "number", "minimum": 0}),
        }), "description": "events written this calendar month (UTC), against the plan's "
                           "monthly allowance"},
    }),
})
ERROR_ANSWER = obj({
    "error_id": STRING, "created_at": ISO_TIME, "route": STRING, "method": STRING,
    "instance_id": nullable(STRING),
    "environment": nullable({**STRING, "description": "the env path parameter of the failed "
                                                      "call, as given"}),
    "error_type": STRING, "message": STRING, "stack_trace": STRING,
    "context": {"type": "object", "description": "the request's path, params, query, "
                                                 "request_id, instance_id and environment"},
})


@route(bp, "/api/instances", "POST", summary="Create an instance", permission="manage_instances",
       body=CREATE, response=INSTANCE_ANSWER, audit="instance_created", status=201,
       tags=("instances",))
def create_instance(ctx):
    return instances.create(ctx.act, ctx.body["name"], ctx.body.get("plan"))


@route(bp, "/api/instances", "GET", summary="List instances (paged, in creation order)",
       permission="view_instances", query=LIST_QUERY, response=INSTANCE_LIST_ANSWER,
       tags=("instances",))
def list_instances(ctx):
    return instances.list_page(ctx.query["limit"], ctx.query.get("cursor"))


@route(bp, "/api/instances/{instance_id}", "GET", summary="Instance details, plan and tier",
       permission="view_instances", response=INSTANCE_DETAIL_ANSWER, tags=("instances",))
def get_instance(ctx, instance_id):
    return instances.describe(instance_id)


@route(bp, "/api/instances/{instance_id}/ops/{env}/errors/{error_id}", "GET",
       summary="Details of a 5xx by its error_id, with context and stack trace",
       permission="manage_ops", response=ERROR_ANSWER, tags=("ops",),
       errors=("ERROR_NOT_FOUND",))
def get_error(ctx, instance_id, env, error_id):
    load_instance(instance_id)
    return error_log.lookup(error_id, instance_id, env)
