"""Health and alerts (seed 004), and the chat server's status push they read."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.health import alerts
from chalicelib.chat.health import service as health
from chalicelib.http.routing import route

bp = Blueprint(__name__)

_DETAILS = {"type": "string", "maxLength": 1000}
_STATUS = {"type": "string", "enum": list(health.STATUSES)}


def _component(count_field: str) -> dict:
    return {"type": "object", "additionalProperties": False,
            "required": ["status", count_field, "details"],
            "properties": {"status": _STATUS,
                           count_field: {"type": "integer", "minimum": 0},
                           "details": _DETAILS}}


STATUS_PUSH = {
    "type": "object", "additionalProperties": False, "required": list(health.PUSHED),
    "properties": {name: _component(count) for name, (count, _) in health.PUSHED.items()},
}


@route(bp, "/internal/status", "POST",
       summary="The chat server's component status (message queue, federation, websocket)",
       auth="node", body=STATUS_PUSH, status=202, tags=("internal",))
def push_status(ctx):
    health.record_status(ctx.body)
    return {"accepted": True}


@route(bp, "/admin/v1/health", "GET",
       summary="Server health: DynamoDB and S3 probed, chat server components as last pushed; "
               "503 when unhealthy",
       permission="view_metrics", tags=("health",))
def get_health(ctx):
    ctx.status, body = health.report()
    return body


@route(bp, "/admin/v1/alerts", "GET",
       summary="Active alerts, most severe first, then oldest first",
       permission="view_metrics", tags=("health",))
def get_alerts(ctx):
    active = alerts.active()
    return {"active_alerts": active, "total_count": len(active)}
