"""Health and alerts (seed 004), and the chat server's status push they read."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.health import alerts
from chalicelib.chat.health import service as health
from chalicelib.domain import alert_rules as rules
from chalicelib.http.routing import route
from chalicelib.http.schemas import (
    COUNT,
    STRING,
    UNIX_SECONDS,
    array,
    nullable,
    obj,
)

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
PUSH_ANSWER = obj({"accepted": {"const": True}})


@route(bp, "/internal/status", "POST",
       summary="The chat server's component status (message queue, federation, websocket)",
       auth="node", body=STATUS_PUSH, response=PUSH_ANSWER, status=202, tags=("internal",))
def push_status(ctx):
    health.record_status(ctx.body)
    return {"accepted": True}


_PROBED = obj({"status": _STATUS,
               "latency_ms": {**nullable(COUNT), "description": "null when the probe failed"},
               "details": STRING},
              {"error": {**STRING, "description": "why the probe failed (unhealthy only)"}})


def _pushed(count_field: str) -> dict:
    return obj({"status": _STATUS,
                count_field: {**nullable(COUNT),
                              "description": "as last pushed; null when never pushed"},
                "details": STRING})


# Ours always has all five components; the seed's examples show fewer (no storage, and
# the unhealthy one only database and message_queue), so only those two are required.
HEALTH_ANSWER = obj({
    "status": _STATUS,
    "timestamp": UNIX_SECONDS,
    "version": STRING,
    "uptime_seconds": {**nullable(COUNT), "description": "since bootstrap; null when unknown"},
    "components": obj({"database": _PROBED,
                       "message_queue": _pushed(health.PUSHED["message_queue"][0])},
                      {"storage": _PROBED,
                       **{name: _pushed(count) for name, (count, _) in health.PUSHED.items()
                          if name != "message_queue"}}),
    "warnings": array(STRING),
})
ALERT = obj({
    "id": {"type": "string", "enum": list(rules.RULE_IDS)},
    "severity": {"type": "string", "enum": list(rules.SEVERITIES)},
    "component": {"type": "string", "enum": sorted({r.component for r in rules.RULES})},
    "message": STRING,
    "started_at": UNIX_SECONDS,
    "details": {"type": "object", "description": "the measured values and the rule's threshold"},
})
ALERTS_ANSWER = obj({"active_alerts": {**array(ALERT), "description": "most severe first, "
                                                                     "then oldest first"},
                     "total_count": COUNT})


@route(bp, "/admin/v1/health", "GET",
       summary="Server health: DynamoDB and S3 probed, chat server components as last pushed; "
               "503 when unhealthy",
       permission="view_metrics", response=HEALTH_ANSWER, statuses=(503,), tags=("health",))
def get_health(ctx):
    ctx.status, body = health.report()
    return body


@route(bp, "/admin/v1/alerts", "GET",
       summary="Active alerts, most severe first, then oldest first",
       permission="view_metrics", response=ALERTS_ANSWER, tags=("health",))
def get_alerts(ctx):
    active = alerts.active()
    return {"active_alerts": active, "total_count": len(active)}
