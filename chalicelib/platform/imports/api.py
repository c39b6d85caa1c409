"""Seed 000's "Data loading" rows: exporting an environment's events (internal surface)."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.http.routing import route
from chalicelib.http.surfaces import INTERNAL, where
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
