"""Spec deployment (seed 000 "Spec management")."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.http.requests import validate
from chalicelib.http.routing import route
from chalicelib.http.schemas import BOOLEAN, ENVIRONMENT, ISO_TIME, STRING, array, obj
from chalicelib.platform.specs import service as specs

bp = Blueprint(__name__)

ENV_QUERY = {"environment": {"type": "string", "enum": list(ENVIRONMENTS), "default": "prod"}}
# The platform's pages show three bodies: {"environment", "spec"} (its Admin API), {"spec"}
# (its spec reference: the file the dashboard uploads) and the bare spec (an earlier
# revision); without "environment" in the body, ?environment= names it (default prod).
WRAPPED = {
    "type": "object", "additionalProperties": False, "required": ["spec"],
    "properties": {"environment": {"type": "string", "enum": list(ENVIRONMENTS)},
                   "spec": {"type": "object"},
                   "force": {"type": "boolean", "default": False}},
}
BARE = {"type": "object", "required": ["aggregate_types"],
        "description": "the spec itself; the environment from ?environment="}
DEPLOY = {"anyOf": [WRAPPED, BARE]}

_VERSION = {"type": "integer", "minimum": 1}
_VERSION_FIELDS = {"instance_id": STRING, "environment": ENVIRONMENT, "version": _VERSION,
                   "deployed_at": ISO_TIME, "deployed_by": STRING}
DEPLOYED_ANSWER = obj({
    **_VERSION_FIELDS, "forced": BOOLEAN,
    "orphaned": {**array(STRING), "description": "types dropped that have stored events "
                                                 "(\"order\" or \"order.paid\"); empty "
                                                 "unless forced"},
})
SPEC_ANSWER = obj({**_VERSION_FIELDS, "spec": {"type": "object", "description": "the spec"}})
PROJECTIONS_ANSWER = obj({"projections": array(obj({
    "name": STRING, "environment": ENVIRONMENT, "spec_version": _VERSION,
    "source": {**array(STRING), "description": "the aggregate types it reads"},
    "handler_operations": {"type": "integer", "minimum": 0},
}))})


@route(bp, "/api/instances/{instance_id}/spec", "POST",
       summary="Validate and deploy a spec to one environment (422 lists every problem)",
       permission="deploy_spec", body=DEPLOY, validate_body={"type": "object"},
       query=ENV_QUERY, response=DEPLOYED_ANSWER, audit="spec_deployed", status=201,
       tags=("specs",),
       errors=("FORCE_NOT_ALLOWED", "INVALID_SPEC", "SPEC_ORPHANS_EVENTS", "SPEC_DEPLOY_CONFLICT"))
def deploy_spec(ctx, instance_id):
    b = ctx.body
    if "aggregate_types" in b and "spec" not in b:
        return specs.deploy(ctx.act, instance_id, ctx.query["environment"], b, False)
    validate(WRAPPED, b)
    return specs.deploy(ctx.act, instance_id, b.get("environment", ctx.query["environment"]),
                        b["spec"], b.get("force", False))


@route(bp, "/api/instances/{instance_id}/spec", "GET", summary="The spec in force",
       permission="view_instances", query=ENV_QUERY, response=SPEC_ANSWER, tags=("specs",),
       errors=("SPEC_NOT_FOUND",))
def get_spec(ctx, instance_id):
    return specs.describe(instance_id, ctx.query["environment"])


@route(bp, "/internal/instances/{instance_id}/{env}/spec", "GET",
       summary="The spec in force, for workers", auth="node", response=SPEC_ANSWER,
       tags=("internal", "specs"),
       errors=("SPEC_NOT_FOUND",))
def get_spec_internal(ctx, instance_id, env):
    from chalicelib.http.surfaces import check_env
    return specs.describe(instance_id, check_env(env))


@route(bp, "/api/instances/{instance_id}/projections", "GET",
       summary="Projections configured in each environment's spec", permission="view_instances",
       response=PROJECTIONS_ANSWER, tags=("specs",))
def list_projections(ctx, instance_id):
    return {"projections": specs.projections(instance_id)}
