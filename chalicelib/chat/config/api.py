"""Server configuration (seed 004): read, and patch partially with validation."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.config import service as server_config
from chalicelib.http.routing import ANY_ADMIN, route

bp = Blueprint(__name__)


@route(bp, "/admin/v1/config", "GET", summary="Current server configuration",
       permission=ANY_ADMIN, tags=("config",))
def get_config(ctx):
    return server_config.current()


@route(bp, "/admin/v1/config", "PATCH", summary="Partial configuration update (validated)",
       permission="manage_config", body={"type": "object"}, audit="config_updated",
       rate_limit="config_updates", tags=("config",))
def patch_config(ctx):
    return server_config.update(ctx.act, ctx.body)
