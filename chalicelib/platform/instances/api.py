"""Instances of the event platform (seed 000), and the lookup of a 5xx by its error_id."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http import error_log
from chalicelib.http.routing import route
from chalicelib.platform.instances import service as instances
from chalicelib.store.instances import load_instance

bp = Blueprint(__name__)

CREATE = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100,
                            "pattern": r"\S"},
                   "plan": {"type": "string", "enum": sorted(instances.PLANS)}},
}


@route(bp, "/api/instances", "POST", summary="Create an instance", permission="manage_instances",
       body=CREATE, audit="instance_created", status=201, tags=("instances",))
def create_instance(ctx):
    return instances.create(ctx.act, ctx.body["name"], ctx.body.get("plan"))


@route(bp, "/api/instances", "GET", summary="List instances", permission="view_instances",
       tags=("instances",))
def list_instances(ctx):
    return {"instances": instances.list_all()}


@route(bp, "/api/instances/{instance_id}", "GET", summary="Instance details, plan and tier",
       permission="view_instances", tags=("instances",))
def get_instance(ctx, instance_id):
    return instances.describe(instance_id)


@route(bp, "/api/instances/{instance_id}/ops/{env}/errors/{error_id}", "GET",
       summary="Details of a 5xx by its error_id, with context and stack trace",
       permission="manage_ops", tags=("ops",))
def get_error(ctx, instance_id, env, error_id):
    load_instance(instance_id)
    return error_log.lookup(error_id, instance_id, env)
