"""Server metrics (seed 004): ingestion of the chat server's samples, the period summary,
timeseries and the export formats. Storage and roll-ups live in metric_store."""
from __future__ import annotations

import math
from typing import NamedTuple

from chalicelib.core import clock
from chalicelib.core.errors import AppError, invalid
from chalicelib.store import metric_store


class Metric(NamedTuple):
    name: str
    kind: str     # counter | gauge
    help: str
    source: str   # "pushed" by the chat server, or "recorded" by the control plane


def _m(name, kind, help_, source="pushed"):
    return Metric(name, kind, help_, source)


# The closed list of metric names. The chat server may push the "pushed" ones, each only as
# its declared kind; the "recorded" ones are written by the control plane itself.
METRICS: dict[str, Metric] = {m.name: m for m in [
    _m("messages_sent", "counter", "Messages sent by this server's devices"),
    _m("messages_received", "counter", "Messages received for this server's devices"),
    _m("messages_expired", "counter",
       "Messages dropped undelivered when their time to live ran out"),
    _m("message_bytes_sent", "counter", "Bytes of the messages counted in messages_sent"),
    _m("messages_queued", "gauge", "Messages waiting for delivery"),
    _m("rate_limited_requests", "counter", "Requests the chat server refused for a rate limit"),
    _m("federation_messages_sent", "counter", "Messages sent to federated servers"),
    _m("federation_messages_received", "counter", "Messages received from federated servers"),
    _m("federation_failed_deliveries", "counter", "Deliveries to federated servers that failed"),
    _m("delivery_latency_avg_ms", "gauge", "Average message delivery latency, milliseconds"),
    _m("delivery_latency_p95_ms", "gauge", "95th percentile delivery latency, milliseconds"),
    _m("delivery_latency_p99_ms", "gauge", "99th percentile delivery latency, milliseconds"),
    _m("websocket_connections", "gauge", "Open websocket connections"),
    _m("cpu_usage_percent", "gauge", "CPU use of the chat server, percent (alert rule: above 80%)"),
    _m("spam_reports", "counter", "Spam reports received over the internal API", "recorded"),
    _m("auto_blocked_devices", "counter",
       "Devices blocked automatically on reaching the spam report threshold", "recorded"),
    _m("active_devices", "gauge",
       "Devices active in the last 24 hours, sampled every 5 minutes by the roll-up job",
       "recorded"),
]}
PUSHED = tuple(n for n, m in METRICS.items() if m.source == "pushed")
RECORDED = tuple(n for n, m in METRICS.items() if m.source == "recorded")

MAX_SAMPLES = 500
MAX_VALUE = 1e15
MAX_FUTURE_SECONDS = 300
MAX_AGE_SECONDS = 86400  # late samples refold their hour; 5m buckets are kept 2 days

PERIODS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
DEFAULT_PERIOD = "24h"
# The coarsest bucket a period's summary reads (with the finer tail not yet rolled up).
SUMMARY_RESOLUTION = {"1h": "1h", "24h": "1h", "7d": "1h", "30d": "1d"}
INTERVALS = tuple(metric_store.RESOLUTIONS)
DEFAULT_INTERVAL = {"1h": "5m", "24h": "1h", "7d": "1h", "30d": "1d"}
MAX_POINTS = 1000


def _num(value):
    """JSON-friendly: integral values as int, others rounded to 2 decimals; None stays."""
    if value is None:
        return None
    value = float(value)
    if value.is_integer():
        return int(value)
    return round(value, 2)


# ----------------------------------------------------------------------------- ingestion

def ingest(samples: list[dict], idempotency_key: str | None = None) -> dict:
    """Validate the whole batch, then write it; a single bad sample refuses the batch
    (400 VALIDATION_ERROR listing each problem as samples.<index>.<field>) and nothing
    is written. The answer is {"accepted": <samples written>}.

    With an idempotency key the batch is written in one transaction with the key's record
    (metric_store.record_once): a replay within 24 h writes nothing and answers the first
    answer (with idempotent_replay), the same key with another body is 422
    IDEMPOTENCY_KEY_REUSED. Such a push must fit one transaction (its 5-minute buckets +
    hours + 1 <= 100 items, after merging samples of the same bucket) or it is refused
    with 400 before anything is written. A replay whose samples have aged past
    MAX_AGE_SECONDS meanwhile still answers the first answer."""
    if len(samples) > MAX_SAMPLES:
        raise invalid("samples", f"at most {MAX_SAMPLES} samples per request",
                      f"samples: at most {MAX_SAMPLES} samples per request (got {len(samples)})")
    now = clock.now()
    digest = request_digest(samples) if idempotency_key is not None else None
    problems, rows = [], []
    for i, sample in enumerate(samples):
        bad = _check(sample, now)
        problems += [{"path": f"samples.{i}.{field}", "message": msg} for field, msg in bad]
        if not bad:
            rows.append((sample["name"], sample["value"], sample["kind"],
                         sample.get("timestamp")))
    if problems:
        if idempotency_key is not None:  # a retry of a push that was valid when first sent
            replay = metric_store.stored_answer(idempotency_key, digest)
            if replay is not None:
                return replay
        first = problems[0]
        raise AppError("VALIDATION_ERROR",
                       f"{len(problems)} invalid sample field(s); nothing was recorded. "
                       f"First: {first['path']}: {first['message']}", details=problems)
    if idempotency_key is None:
        return {"accepted": metric_store.record_many(rows)}
    groups, written = metric_store.merge(rows, now)
    items = metric_store.transaction_items(groups)
    if items > metric_store.MAX_TRANSACTION_ITEMS:
        limit = metric_store.MAX_TRANSACTION_ITEMS
        raise invalid(
            "samples", f"with X-Idempotency-Key a push is one transaction of at most {limit} "
                       f"items; this one needs {items}",
            f"samples: with X-Idempotency-Key a push is written as one transaction of at "
            f"most {limit} items (one per metric and 5-minute bucket, one per hour, one for "
            f"the key); this one needs {items}. Send it as smaller pushes, each with its "
            f"own key. Nothing was recorded.")
    return metric_store.record_once(groups, {"accepted": written}, idempotency_key, digest)


def request_digest(samples: list[dict]) -> str:
    """What an idempotency key is bound to: the SHA-256 of the samples as canonical JSON."""
    import hashlib
    import json
    text = json.dumps(samples, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check(sample: dict, now: float) -> list[tuple[str, str]]:
    bad = []
    name, kind, value = sample.get("name"), sample.get("kind"), sample.get("value")
    metric = METRICS.get(name)
    if metric is None:
        bad.append(("name", f"unknown metric '{name}'; known: {', '.join(PUSHED)}"))
    elif metric.source != "pushed":
        bad.append(("name", f"'{name}' is recorded by the control plane, not pushed"))
    elif kind != metric.kind:
        bad.append(("kind", f"'{name}' is a {metric.kind}, not a {kind}"))
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        bad.append(("value", "must be a finite number"))
    elif value < 0:
        bad.append(("value", "must not be negative"))
    elif value > MAX_VALUE:
        bad.append(("value", f"must be at most {MAX_VALUE:.0e}"))
    ts = sample.get("timestamp")
    if ts is not None:
        if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not math.isfinite(ts):
            bad.append(("timestamp", "must be unix seconds"))
        elif ts > now + MAX_FUTURE_SECONDS:
            bad.append(("timestamp", f"more than {MAX_FUTURE_SECONDS} s in the future"))
        elif ts < now - MAX_AGE_SECONDS:
            bad.append(("timestamp", f"more than {MAX_AGE_SECONDS} s old"))
    return bad


# ----------------------------------------------------------------------------- summary

def window_start(now: int, period: str) -> int:
    """The summary window starts at the first bucket boundary at or after now - period
    (5 minutes for 1h, whole hours otherwise) and runs to now, current bucket included."""
    return metric_store.ceil_start(now - PERIODS[period], "5m" if period == "1h" else "1h")


class _Window:
    def __init__(self, period: str, now: int):
        self.start, self.end = window_start(now, period), now + 1
        self.coarsest = SUMMARY_RESOLUTION[period]
        self.done = metric_store.watermarks()

    def count(self, name: str):
        return _num(metric_store.total(name, self.start, self.end, self.done, self.coarsest))

    def gauge(self, name: str):
        return _num(metric_store.latest(name, self.start, self.end, self.done, self.coarsest))


def summary(period: str) -> dict:
    """GET /admin/v1/metrics: the seed's object. Counters are summed over the window,
    gauges are the newest value pushed within it (null when none was). The `_last_24h`
    keys are the seed's names; they count the requested period."""
    from chalicelib.chat.metrics import server_stats
    from chalicelib.store import device_counters as device_stats
    now = clock.now_int()
    seconds = PERIODS[period]
    w = _Window(period, now)
    sent, size = w.count("messages_sent"), w.count("message_bytes_sent")
    spam = device_stats.spam_summary(seconds)
    peers = device_stats.federation_summary()
    return {
        "period": period,
        "timestamp": now,
        "server": server_stats.snapshot(),
        "devices": device_stats.devices_summary(seconds),
        "messages": {
            "sent_last_24h": sent,
            "received_last_24h": w.count("messages_received"),
            "queued": w.gauge("messages_queued"),
            "expired_last_24h": w.count("messages_expired"),
            "average_size_bytes": round(size / sent) if sent else None,
        },
        "spam": {
            "reports_last_24h": spam["reports_last_24h"],
            "auto_blocked_devices_last_24h": spam["auto_blocked_devices_last_24h"],
            "rate_limited_requests_last_24h": w.count("rate_limited_requests"),
        },
        "federation": {
            "active_peers": peers["active_peers"],
            "blocked_peers": peers["blocked_peers"],
            "messages_sent_last_24h": w.count("federation_messages_sent"),
            "messages_received_last_24h": w.count("federation_messages_received"),
            "failed_deliveries_last_24h": w.count("federation_failed_deliveries"),
        },
        "performance": {
            "average_delivery_latency_ms": w.gauge("delivery_latency_avg_ms"),
            "p95_delivery_latency_ms": w.gauge("delivery_latency_p95_ms"),
            "p99_delivery_latency_ms": w.gauge("delivery_latency_p99_ms"),
            "websocket_connections": w.gauge("websocket_connections"),
        },
    }


# ----------------------------------------------------------------------------- timeseries


def _series_problem(metric: str | None, period: str,
                    interval: str | None) -> tuple[str, str] | None:
    """(field, message) of what makes a timeseries request impossible, or None."""
    if not metric:
        return "metric", f"metric is required. Known metrics: {', '.join(METRICS)}"
    if metric not in METRICS:
        return "metric", f"Unknown metric '{metric}'. Known metrics: {', '.join(METRICS)}"
    interval = interval or DEFAULT_INTERVAL[period]
    step, seconds = metric_store.RESOLUTIONS[interval], PERIODS[period]
    if step > seconds:
        return "interval", f"interval {interval} is longer than period {period}"
    kept = metric_store.RETENTION[interval]
    if kept is not None and seconds > kept:
        fits = [i for i in INTERVALS if (metric_store.RETENTION[i] or math.inf) >= seconds
                and seconds // metric_store.RESOLUTIONS[i] <= MAX_POINTS]
        return "interval", (f"{interval} data is kept for {kept // 86400} days only; for "
                            f"period {period} use interval {' or '.join(fits)}")
    points = seconds // step
    if points > MAX_POINTS:
        return "interval", (f"period {period} at interval {interval} is {points} data points; "
                            f"at most {MAX_POINTS}")
    return None


def timeseries(metric: str | None, period: str, interval: str | None) -> dict:
    """Data points at `interval` over `period`: the last period // interval intervals, the
    current (partial) one included, aligned to UTC. Counters: every interval, 0 when
    nothing was recorded. Gauges: the newest value in each interval; intervals without
    any sample are left out."""
    problem = _series_problem(metric, period, interval)
    if problem:
        path, message = problem
        raise invalid(path, message, message)
    interval = interval or DEFAULT_INTERVAL[period]
    step = metric_store.RESOLUTIONS[interval]
    points = PERIODS[period] // step
    kind = METRICS[metric].kind
    now = clock.now_int()
    last = metric_store.bucket_start(now, interval)
    first = last - (points - 1) * step
    found = metric_store.read_range(metric, first, now + 1, metric_store.watermarks(),
                                    coarsest=interval)
    values: dict[int, float] = {}
    for bucket in found:  # oldest first: for gauges the newest bucket of an interval wins
        at = metric_store.bucket_start(bucket.start, interval)
        if kind == "counter":
            values[at] = values.get(at, 0) + bucket.total
        else:
            values[at] = metric_store.value_of(bucket)
    stamps = range(first, last + step, step)
    if kind == "counter":
        data = [{"timestamp": t, "value": _num(values.get(t, 0))} for t in stamps]
    else:
        data = [{"timestamp": t, "value": _num(values[t])} for t in stamps if t in values]
    return {"metric": metric, "period": period, "interval": interval, "data_points": data,
            "aggregate": aggregate([p["value"] for p in data])}


def aggregate(values: list) -> dict:
    """min, max, avg (total / number of points, 2 decimals) and total of the points."""
    if not values:
        return {"min": None, "max": None, "avg": None, "total": 0}
    total = sum(values)
    return {"min": _num(min(values)), "max": _num(max(values)),
            "avg": _num(total / len(values)), "total": _num(total)}


# ----------------------------------------------------------------------------- export

class Exported(NamedTuple):
    name: str      # the sample name as exposed (counters end in _total)
    kind: str      # gauge | counter
    help: str
    value: float | None


# (exposed name, kind, help, where in the summary) for the summary's numbers. Counters are
# all-time totals instead (Prometheus counters only go up): see _all_time().
EXPORTED_FROM_SUMMARY = [
    ("cryptid_devices_total", "Total number of registered devices", ("devices", "total")),
    ("cryptid_devices_active_24h", "Devices active in last 24 hours",
     ("devices", "active_last_24h")),
    ("cryptid_devices_new_24h", "Devices registered in last 24 hours", ("devices", "new_last_24h")),
    ("cryptid_devices_verified", "Verified devices", ("devices", "verified")),
    ("cryptid_devices_blocked", "Blocked devices", ("devices", "blocked")),
    ("cryptid_devices_trust_tier_new", "Devices in trust tier new",
     ("devices", "by_trust_tier", "new")),
    ("cryptid_devices_trust_tier_established", "Devices in trust tier established",
     ("devices", "by_trust_tier", "established")),
    ("cryptid_devices_trust_tier_trusted", "Devices in trust tier trusted",
     ("devices", "by_trust_tier", "trusted")),
    ("cryptid_devices_trust_tier_verified", "Devices in trust tier verified",
     ("devices", "by_trust_tier", "verified")),
    ("cryptid_messages_queued", "Messages waiting for delivery", ("messages", "queued")),
    ("cryptid_messages_average_size_bytes", "Average size of messages sent in last 24 hours",
     ("messages", "average_size_bytes")),
    ("cryptid_spam_reports_24h", "Spam reports in last 24 hours", ("spam", "reports_last_24h")),
    ("cryptid_spam_auto_blocked_devices_24h", "Devices blocked automatically in last 24 hours",
     ("spam", "auto_blocked_devices_last_24h")),
    ("cryptid_federation_peers_active", "Active federation peers", ("federation", "active_peers")),
    ("cryptid_federation_peers_blocked", "Blocked federation peers",
     ("federation", "blocked_peers")),
    ("cryptid_delivery_latency_average_ms", "Average message delivery latency in milliseconds",
     ("performance", "average_delivery_latency_ms")),
    ("cryptid_delivery_latency_p95_ms", "95th percentile message delivery latency in milliseconds",
     ("performance", "p95_delivery_latency_ms")),
    ("cryptid_delivery_latency_p99_ms", "99th percentile message delivery latency in milliseconds",
     ("performance", "p99_delivery_latency_ms")),
    ("cryptid_websocket_connections", "Open websocket connections",
     ("performance", "websocket_connections")),
    ("cryptid_uptime_seconds", "Seconds since the deployment was bootstrapped",
     ("server", "uptime_seconds")),
    ("cryptid_cpu_usage_percent", "CPU use of the control plane process, percent of one CPU",
     ("server", "cpu_usage_percent")),
    ("cryptid_memory_usage_mb", "Resident memory of the control plane process, MiB",
     ("server", "memory_usage_mb")),
    ("cryptid_storage_used_gb", "Storage used by tables and buckets, GiB",
     ("server", "storage_used_gb")),
]
# Counters exported as all-time totals: exposed name, metric-store series, help.
EXPORTED_COUNTERS = [
    ("cryptid_messages_sent_total", "messages_sent", "Total messages sent"),
    ("cryptid_messages_received_total", "messages_received", "Total messages received"),
    ("cryptid_messages_expired_total", "messages_expired", "Total messages expired undelivered"),
    ("cryptid_message_bytes_sent_total", "message_bytes_sent", "Total bytes of messages sent"),
    ("cryptid_rate_limited_requests_total", "rate_limited_requests",
     "Total requests refused by the chat server's rate limits"),
    ("cryptid_spam_reports_total", "spam_reports", "Total spam reports"),
    ("cryptid_federation_messages_sent_total", "federation_messages_sent",
     "Total messages sent to federated servers"),
    ("cryptid_federation_messages_received_total", "federation_messages_received",
     "Total messages received from federated servers"),
    ("cryptid_federation_failed_deliveries_total", "federation_failed_deliveries",
     "Total failed deliveries to federated servers"),
]
EXPORT_FORMATS = ("prometheus", "json", "csv")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CSV_HEADER = ("metric", "value", "type", "help")


def exported() -> tuple[int, list[Exported]]:
    """(timestamp, every exported number): the 24h summary's numbers as gauges, and the
    counters as all-time totals (1d, 1h and 5m buckets by watermark: 3 Queries each)."""
    data = summary(DEFAULT_PERIOD)
    rows = []
    for name, help_, path in EXPORTED_FROM_SUMMARY:
        value = data
        for key in path:
            value = value[key]
        rows.append(Exported(name, "gauge", help_, value))
    done = metric_store.watermarks()
    end = data["timestamp"] + 1
    for name, series, help_ in EXPORTED_COUNTERS:
        rows.append(Exported(name, "counter", help_,
                             _num(metric_store.total(series, 0, end, done, "1d"))))
    return data["timestamp"], rows


def export(fmt: str) -> tuple[str, str]:
    """(body, content type) in `fmt`."""
    timestamp, rows = exported()
    if fmt == "prometheus":
        return _prometheus(rows), PROMETHEUS_CONTENT_TYPE
    if fmt == "csv":
        return _csv(rows), "text/csv; charset=utf-8"
    import json
    body = {"timestamp": timestamp,
            "metrics": {r.name: {"value": r.value, "type": r.kind, "help": r.help} for r in rows}}
    return json.dumps(body, separators=(",", ":")), "application/json"


def _prometheus(rows: list[Exported]) -> str:
    """The text exposition format from prometheus_client (a fresh registry per call).
    A gauge with no value (nothing pushed) is left out rather than exported as NaN."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class Collector:
        def collect(self):
            for r in rows:
                if r.value is None:
                    continue
                if r.kind == "counter":  # the family is named without _total; samples have it
                    yield CounterMetricFamily(r.name[:-len("_total")], r.help, value=r.value)
                else:
                    yield GaugeMetricFamily(r.name, r.help, value=r.value)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    return generate_latest(registry).decode("utf-8")


def _csv(rows: list[Exported]) -> str:
    """Header metric,value,type,help; an empty value when nothing was pushed."""
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow([r.name, "" if r.value is None else r.value, r.kind, r.help])
    return out.getvalue()
