"""Seed 000's "Data loading" rows: exporting an environment's events (internal surface)."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.http.routing import route
from chalicelib.http.surfaces import INTERNAL, where
from chalicelib.store import event_log as export

bp = Blueprint(__name__)

EXPORT_QUERY = {
    "aggregate_type": {"type": "string", "minLength": 1, "maxLength": 200,
                       "description": "Only this aggregate type's events"},
    "cursor": {"type": "string", "minLength": 1, "maxLength": 4000,
               "description": "X-Next-Cursor of the previous page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": export.PAGE_SIZE,
              "description": f"Events per page (at most {export.PAGE_SIZE})"},
}


@route(bp, INTERNAL + "/export", "GET", auth="node", query=EXPORT_QUERY, tags=("internal",),
       summary="Export every stored event of the environment as JSON Lines, a page at a time "
               "(X-Next-Cursor names the next page; absent on the last)")
def export_events(ctx, **params):
    instance_id, env = where(ctx, params)
    result = export.page(instance_id, env, aggregate_type=ctx.query.get("aggregate_type"),
                         cursor=ctx.query.get("cursor"), limit=ctx.query.get("limit"))
    headers = {"Content-Type": "application/x-ndjson", "X-Export-Count": str(len(result.lines))}
    if result.next_cursor:
        headers["X-Next-Cursor"] = result.next_cursor
    return Response(body=result.body, status_code=200, headers=headers)
