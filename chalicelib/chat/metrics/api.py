"""Server metrics (seed 004): the chat server pushes samples; admins read the summary,
timeseries and exports."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.chat.metrics import service as metrics
from chalicelib.domain import trust
from chalicelib.http.requests import idempotency_key
from chalicelib.http.routing import route
from chalicelib.http.schemas import (
    COUNT,
    NUMBER,
    STRING,
    UNIX_SECONDS,
    array,
    nullable,
    obj,
)

bp = Blueprint(__name__)


def _pushed(kind: str) -> list[str]:
    return [n for n in metrics.PUSHED if metrics.METRICS[n].kind == kind]


_SAMPLE_FIELDS = {
    "type": "object", "additionalProperties": False, "required": ["name", "value", "kind"],
    "properties": {
        "name": {"type": "string", "enum": list(metrics.PUSHED)},
        "value": {"type": "number", "minimum": 0, "maximum": metrics.MAX_VALUE},
        "kind": {"type": "string", "enum": ["counter", "gauge"]},
        "timestamp": {"type": "number",
                      "description": "unix seconds; default now. At most "
                                     f"{metrics.MAX_FUTURE_SECONDS} s ahead and "
                                     f"{metrics.MAX_AGE_SECONDS} s old"}},
}
# A sample's kind must be its metric's own: gauges are set, counters added (the service
# checks that, and the timestamps, listing every bad sample by index).
_SAMPLE = {
    **_SAMPLE_FIELDS,
    "if": {"properties": {"name": {"enum": _pushed("gauge")}}},
    "then": {"properties": {"kind": {"const": "gauge"}}},
    "else": {"properties": {"kind": {"const": "counter"}}},
}


def _samples(item: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "required": ["samples"],
            "properties": {"samples": {
                "type": "array", "items": item, "maxItems": metrics.MAX_SAMPLES,
                "description": "one bad sample refuses the batch"}}}


SAMPLES = _samples(_SAMPLE)
PERIOD = {"type": "string", "enum": list(metrics.PERIODS), "default": metrics.DEFAULT_PERIOD}
SERIES = {
    "metric": {"type": "string", "enum": list(metrics.METRICS)},
    "period": PERIOD,
    "interval": {"type": "string", "enum": list(metrics.INTERVALS),
                 "description": "default: 5m for 1h, 1h for 24h and 7d, 1d for 30d"},
}
FORMAT = {"format": {"type": "string", "enum": list(metrics.EXPORT_FORMATS),
                     "default": "prometheus"}}

# --- answers -------------------------------------------------------------------------------

_TOTAL = {**NUMBER, "minimum": 0, "description": "counter: summed over the period"}
_GAUGE = {**nullable({**NUMBER, "minimum": 0}),
          "description": "gauge: newest value pushed in the period; null when none was"}
PUSH_ANSWER = obj({"accepted": {**COUNT, "description": "samples written"}},
                  {"idempotent_replay": {"const": True, "description":
                                         "the stored answer of an earlier push with the "
                                         "same X-Idempotency-Key; nothing was written"}})
# The `_last_24h` keys are the seed's names; they count the requested period.
METRICS_ANSWER = obj({
    "period": {"type": "string", "enum": list(metrics.PERIODS)},
    "timestamp": UNIX_SECONDS,
    "server": obj({
        "uptime_seconds": {**nullable(COUNT), "description": "since bootstrap"},
        "version": STRING,
        "cpu_usage_percent": {**NUMBER, "minimum": 0},
        "memory_usage_mb": {**NUMBER, "minimum": 0},
        "storage_used_gb": {**nullable({**NUMBER, "minimum": 0}),
                            "description": "null when AWS refuses to tell"},
    }),
    "devices": obj({
        "total": COUNT, "active_last_24h": COUNT, "new_last_24h": COUNT,
        "verified": COUNT, "blocked": COUNT,
        "by_trust_tier": obj({tier: COUNT for tier in trust.TIERS}),
    }),
    "messages": obj({
        "sent_last_24h": _TOTAL, "received_last_24h": _TOTAL, "queued": _GAUGE,
        "expired_last_24h": _TOTAL,
        "average_size_bytes": {**nullable(COUNT), "description": "null when none was sent"},
    }),
    "spam": obj({"reports_last_24h": COUNT, "auto_blocked_devices_last_24h": COUNT,
                 "rate_limited_requests_last_24h": _TOTAL}),
    "federation": obj({"active_peers": COUNT, "blocked_peers": COUNT,
                       "messages_sent_last_24h": _TOTAL, "messages_received_last_24h": _TOTAL,
                       "failed_deliveries_last_24h": _TOTAL}),
    "performance": obj({"average_delivery_latency_ms": _GAUGE,
                        "p95_delivery_latency_ms": _GAUGE, "p99_delivery_latency_ms": _GAUGE,
                        "websocket_connections": _GAUGE}),
})
_NULLABLE_NUMBER = nullable(NUMBER)
TIMESERIES_ANSWER = obj({
    "metric": {"type": "string", "enum": list(metrics.METRICS)},
    "period": {"type": "string", "enum": list(metrics.PERIODS)},
    "interval": {"type": "string", "enum": list(metrics.INTERVALS)},
    "data_points": {**array(obj({"timestamp": UNIX_SECONDS, "value": NUMBER})),
                    "description": "oldest first; gauges leave out intervals without samples",
                    "maxItems": metrics.MAX_POINTS},
    "aggregate": obj({"min": _NULLABLE_NUMBER, "max": _NULLABLE_NUMBER,
                      "avg": _NULLABLE_NUMBER, "total": NUMBER}),
})
_GAUGES = [name for name, _, _ in metrics.EXPORTED_FROM_SUMMARY]
_COUNTERS = [name for name, _, _ in metrics.EXPORTED_COUNTERS]
EXPORT_ANSWER = obj({
    "timestamp": UNIX_SECONDS,
    "metrics": obj({
        name: obj({"value": nullable(NUMBER), "type": {"const": kind}, "help": STRING})
        for names, kind in ((_GAUGES, "gauge"), (_COUNTERS, "counter")) for name in names}),
})



@route(bp, "/internal/metrics", "POST", summary="Push counter and gauge samples",
       auth="node", body=SAMPLES, validate_body=_samples(_SAMPLE_FIELDS),
       response=PUSH_ANSWER, status=202,
       errors=("IDEMPOTENCY_KEY_REUSED",), tags=("internal", "metrics"))
def push_samples(ctx):
    return metrics.ingest(ctx.body["samples"], idempotency_key(ctx.request))


@route(bp, "/admin/v1/metrics", "GET", summary="Server metrics over a period",
       permission="view_metrics", query={"period": PERIOD}, response=METRICS_ANSWER,
       rate_limit="metrics_queries", tags=("metrics",))
def get_metrics(ctx):
    return metrics.summary(ctx.query["period"])


@route(bp, "/admin/v1/metrics/timeseries", "GET", summary="One metric over time",
       permission="view_metrics", query=SERIES, required_query=("metric",),
       response=TIMESERIES_ANSWER, rate_limit="metrics_queries", tags=("metrics",))
def get_timeseries(ctx):
    return metrics.timeseries(ctx.query.get("metric"), ctx.query["period"],
                              ctx.query.get("interval"))


@route(bp, "/admin/v1/metrics/export", "GET", summary="Metrics as Prometheus text, JSON or CSV",
       permission="view_metrics", query=FORMAT, response=EXPORT_ANSWER,
       media_types=("application/json", "text/plain", "text/csv"),
       rate_limit="metrics_queries", tags=("metrics",))
def export_metrics(ctx):
    body, content_type = metrics.export(ctx.query["format"])
    return Response(body=body, status_code=200, headers={"Content-Type": content_type})
