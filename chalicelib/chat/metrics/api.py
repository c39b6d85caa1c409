"""Server metrics (seed 004): the chat server pushes samples; admins read the summary,
timeseries and exports."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.chat.metrics import service as metrics
from chalicelib.http.routing import route

bp = Blueprint(__name__)

SAMPLES = {
    "type": "object", "additionalProperties": False, "required": ["samples"],
    "properties": {"samples": {
        "type": "array",
        "description": f"At most {metrics.MAX_SAMPLES} samples; one bad sample refuses the batch",
        "items": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "value", "kind"],
            "properties": {
                "name": {"type": "string", "enum": list(metrics.PUSHED)},
                "value": {"type": "number", "minimum": 0},
                "kind": {"type": "string", "enum": ["counter", "gauge"]},
                "timestamp": {"type": "number",
                              "description": "unix seconds; default now. At most "
                                             f"{metrics.MAX_FUTURE_SECONDS} s ahead and "
                                             f"{metrics.MAX_AGE_SECONDS} s old"}}}}},
}
PERIOD = {"type": "string", "enum": list(metrics.PERIODS), "default": metrics.DEFAULT_PERIOD}
SERIES = {
    "metric": {"type": "string", "description": "one of: " + ", ".join(metrics.METRICS)},
    "period": PERIOD,
    "interval": {"type": "string", "enum": list(metrics.INTERVALS),
                 "description": "default: 5m for 1h, 1h for 24h and 7d, 1d for 30d"},
}
FORMAT = {"format": {"type": "string", "enum": list(metrics.EXPORT_FORMATS),
                     "default": "prometheus"}}


@route(bp, "/internal/metrics", "POST", summary="Push counter and gauge samples",
       auth="node", body=SAMPLES, status=202, tags=("internal", "metrics"))
def push_samples(ctx):
    return {"accepted": metrics.ingest(ctx.body["samples"])}


@route(bp, "/admin/v1/metrics", "GET", summary="Server metrics over a period",
       permission="view_metrics", query={"period": PERIOD}, rate_limit="metrics_queries",
       tags=("metrics",))
def get_metrics(ctx):
    return metrics.summary(ctx.query["period"])


@route(bp, "/admin/v1/metrics/timeseries", "GET", summary="One metric over time",
       permission="view_metrics", query=SERIES, rate_limit="metrics_queries", tags=("metrics",))
def get_timeseries(ctx):
    return metrics.timeseries(ctx.query.get("metric"), ctx.query["period"],
                              ctx.query.get("interval"))


@route(bp, "/admin/v1/metrics/export", "GET", summary="Metrics as Prometheus text, JSON or CSV",
       permission="view_metrics", query=FORMAT, rate_limit="metrics_queries", tags=("metrics",))
def export_metrics(ctx):
    body, content_type = metrics.export(ctx.query["format"])
    return Response(body=body, status_code=200, headers={"Content-Type": content_type})
