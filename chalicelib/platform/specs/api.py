"""Spec deployment (seed 000 "Spec management")."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.http.routing import route
from chalicelib.platform.specs import service as specs

bp = Blueprint(__name__)

DEPLOY = {
    "type": "object", "additionalProperties": False, "required": ["environment", "spec"],
    "properties": {"environment": {"type": "string", "enum": list(ENVIRONMENTS)},
                   "spec": {"type": "object"},
                   "force": {"type": "boolean", "default": False}},
}
ENV_QUERY = {"environment": {"type": "string", "enum": list(ENVIRONMENTS), "default": "prod"}}


@route(bp, "/api/instances/{instance_id}/spec", "POST",
       summary="Validate and deploy a spec to one environment (422 lists every problem)",
       permission="deploy_spec", body=DEPLOY, audit="spec_deployed", status=201, tags=("specs",))
def deploy_spec(ctx, instance_id):
    b = ctx.body
    return specs.deploy(ctx.act, instance_id, b["environment"], b["spec"], b.get("force", False))


@route(bp, "/api/instances/{instance_id}/spec", "GET", summary="The spec in force",
       permission="view_instances", query=ENV_QUERY, tags=("specs",))
def get_spec(ctx, instance_id):
    return specs.describe(instance_id, ctx.query["environment"])


@route(bp, "/internal/instances/{instance_id}/{env}/spec", "GET",
       summary="The spec in force, for workers", auth="node", tags=("internal", "specs"))
def get_spec_internal(ctx, instance_id, env):
    from chalicelib.http.surfaces import check_env
    return specs.describe(instance_id, check_env(env))


@route(bp, "/api/instances/{instance_id}/projections", "GET",
       summary="Projections configured in each environment's spec", permission="view_instances",
       tags=("specs",))
def list_projections(ctx, instance_id):
    return {"projections": specs.projections(instance_id)}
