"""Server configuration and the audit log (seed 004)."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import clock
from chalicelib.api.routing import ANY_ADMIN, route
from chalicelib.errors import AppError
from chalicelib.services import audit, server_config

bp = Blueprint(__name__)

_TS = {"type": "integer", "minimum": 0}
_FILTERS = {"since": _TS, "until": _TS, "action": {"type": "string", "maxLength": 64},
            "admin": {"type": "string", "maxLength": 256},
            "target": {"type": "string", "maxLength": 256}}
AUDIT_QUERY = {**_FILTERS,
               "limit": {"type": "integer", "minimum": 1, "maximum": audit.MAX_LIMIT,
                         "default": 100},
               "offset": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0}}
EXPORT_QUERY = {**_FILTERS, "format": {"type": "string", "enum": ["csv", "json"],
                                       "default": "csv"},
                "cursor": {"type": "string", "pattern": r"^\d{10}#audit_[0-9a-f]{32}$"}}


@route(bp, "/admin/v1/config", "GET", summary="Current server configuration",
       permission=ANY_ADMIN, tags=("config",))
def get_config(ctx):
    return server_config.current()


@route(bp, "/admin/v1/config", "PATCH", summary="Partial configuration update (validated)",
       permission="manage_config", body={"type": "object"}, audit="config_updated",
       rate_limit="config_updates", tags=("config",))
def patch_config(ctx):
    answer, details = server_config.update(ctx.principal, ctx.body)
    ctx.audit("server_config", details)
    return answer


def _window(query: dict) -> tuple[int, int]:
    now = clock.now_int()
    until = query.get("until", now)
    since = query.get("since", until - 86400)
    if since > until:
        raise AppError("VALIDATION_ERROR", "since must not be after until",
                       details=[{"path": "since", "message": "must not be after until"}])
    return since, until


@route(bp, "/admin/v1/audit", "GET", summary="Audit log, filtered and paged",
       permission="view_audit", query=AUDIT_QUERY, rate_limit="audit_queries", tags=("audit",))
def get_audit(ctx):
    q = ctx.query
    since, until = _window(q)
    return audit.query(since, until, q.get("action"), q.get("admin"), q.get("target"),
                       q["limit"], q["offset"])


@route(bp, "/admin/v1/audit/export", "GET",
       summary="Audit log as CSV or JSON, in pages of 5000 (X-Next-Cursor names the next)",
       permission="view_audit", query=EXPORT_QUERY, rate_limit="audit_queries", tags=("audit",))
def export_audit(ctx):
    q = ctx.query
    since, until = _window(q)
    entries, cursor = audit.export_page(since, until, q.get("action"), q.get("admin"),
                                        q.get("target"), q.get("cursor"))
    headers = {"X-Next-Cursor": cursor} if cursor else {}
    if q["format"] == "json":
        ctx.headers.update(headers)
        return {"entries": entries, "count": len(entries), "next_cursor": cursor}
    return Response(body=audit.to_csv(entries), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": 'attachment; filename="audit.csv"', **headers})
