"""Registering one handler on the internal (node secret), ops (admin JWT) and data (API
key) surfaces, and finding the instance environment a call acts on."""
from __future__ import annotations

from chalicelib.core.errors import invalid
from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.http.routing import route

INTERNAL = "/internal/instances/{instance_id}/{env}"
OPS = "/api/instances/{instance_id}/ops/{env}"


def check_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise invalid("env", "unknown environment",
                      f"environment must be one of {list(ENVIRONMENTS)}")
    return env


def where(ctx, params: dict) -> tuple[str, str]:
    """(instance, environment): from the API key on /data, from the path elsewhere."""
    if "instance_id" not in params:
        return ctx.principal.instance_id, ctx.principal.environment
    from chalicelib.store.instances import load_instance
    load_instance(params["instance_id"])
    return params["instance_id"], check_env(params["env"])


def on_every_surface(bp, method: str, tail: str, data_tail: str | None, *, summary: str,
                     permission: str, scope: str = "read", **kwargs):
    """Serve `fn` at INTERNAL+tail (node secret), OPS+tail (admin, `permission`) and,
    when given, /data+data_tail (API key with `scope`)."""
    def decorate(fn):
        base = fn.__name__
        route(bp, INTERNAL + tail, method, summary=summary, auth="node",
              name=f"{base}_internal", tags=("internal",), **kwargs)(fn)
        route(bp, OPS + tail, method, summary=summary, permission=permission,
              name=f"{base}_ops", tags=("ops",), **kwargs)(fn)
        if data_tail is not None:
            route(bp, "/data" + data_tail, method, summary=summary, auth="api_key", scope=scope,
                  surface="data", name=f"{base}_data", tags=("data",), **kwargs)(fn)
        return fn
    return decorate
