"""The event data plane, authenticated by API key (SPEC section 5)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import route

bp = Blueprint(__name__)


@route(bp, "/data", "GET", summary="Which instance, environment and scope this key has",
       auth="api_key", scope="read", surface="data", tags=("data",))
def whoami(ctx):
    key = ctx.principal
    return {"ok": True, "instance_id": key.instance_id, "environment": key.environment,
            "scope": key.scope}
