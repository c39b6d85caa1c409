"""Server metrics: ingestion, the period summary, timeseries, roll-ups, export, limits."""
import csv
import io
import math
from contextlib import contextmanager
from unittest import mock

import pytest
from nacl.signing import SigningKey

from chalicelib import features
from chalicelib.chat.metrics import server_stats
from chalicelib.chat.metrics import service as metrics
from chalicelib.core import clock
from chalicelib.store import device_counters as device_stats
from chalicelib.store import metric_store
from chalicelib.store.tables import MetaItem, MetricBucket, RateCounter
from tests.api.conftest import ADMIN_EMAIL

SEED_SHAPE = {
    "server": {"uptime_seconds", "version", "cpu_usage_percent", "memory_usage_mb",
               "storage_used_gb"},
    "devices": {"total", "active_last_24h", "new_last_24h", "verified", "blocked",
                "by_trust_tier"},
    "messages": {"sent_last_24h", "received_last_24h", "queued", "expired_last_24h",
                 "average_size_bytes"},
    "spam": {"reports_last_24h", "auto_blocked_devices_last_24h",
             "rate_limited_requests_last_24h"},
    "federation": {"active_peers", "blocked_peers", "messages_sent_last_24h",
                   "messages_received_last_24h", "failed_deliveries_last_24h"},
    "performance": {"average_delivery_latency_ms", "p95_delivery_latency_ms",
                    "p99_delivery_latency_ms", "websocket_connections"},
}


@pytest.fixture(autouse=True)
def _fresh_caches():
    server_stats.clear_cache()
    yield
    server_stats.clear_cache()


@pytest.fixture
def token(stack):
    return stack.token_with(["view_metrics"])


def past_bucket(minutes_ago=20):
    """The start of a 5-minute bucket that ended a while ago (no boundary races)."""
    return metric_store.bucket_start(clock.now() - minutes_ago * 60, "5m")


def push(stack, *samples):
    return stack.node("POST", "/internal/metrics", body={"samples": list(samples)})


def s(name, value, kind, ts=None):
    sample = {"name": name, "value": value, "kind": kind}
    if ts is not None:
        sample["timestamp"] = ts
    return sample


def stored(name, start):
    return MetricBucket.get(metric_store.series_key(name, "5m"), start)


def all_items():
    return sorted((i.series, int(i.start), i.attribute_values.get("total"))
                  for i in MetricBucket.scan())


from testing.aws_calls import recording as aws_calls  # noqa: E402


def metric_queries(calls):
    """The series each Query of the metrics table asked for."""
    out = []
    for op, params in calls:
        if op == "Query" and params["TableName"].endswith("metrics"):
            out.append(next(v["S"] for v in params["ExpressionAttributeValues"].values()
                            if "S" in v))
    return out


# ----------------------------------------------------------------------------- ingestion

def test_push_is_202_with_the_number_accepted(stack):
    t = past_bucket()
    answer = push(stack, s("messages_sent", 3, "counter", t + 1),
                  s("websocket_connections", 40, "gauge", t + 2))
    assert answer.status == 202 and answer.json == {"accepted": 2}
    assert stored("messages_sent", t).total == 3
    assert stored("websocket_connections", t).last == 40


def test_push_without_timestamp_lands_in_the_current_bucket(stack):
    before = metric_store.bucket_start(clock.now(), "5m")
    assert push(stack, s("messages_received", 2, "counter")).status == 202
    after = metric_store.bucket_start(clock.now(), "5m")
    found = metric_store.buckets("messages_received", "5m", before, after + 300)
    assert [b.total for b in found] == [2]


def test_counters_add_up_within_a_bucket(stack):
    t = past_bucket()
    push(stack, s("messages_sent", 3, "counter", t + 10), s("messages_sent", 4, "counter", t + 20))
    push(stack, s("messages_sent", 5.5, "counter", t + 299))
    bucket = stored("messages_sent", t)
    assert bucket.total == 12.5 and bucket.count == 3 and bucket.kind == "counter"
    push(stack, s("messages_sent", 1, "counter", t + 300))  # the next bucket
    assert stored("messages_sent", t).total == 12.5
    assert stored("messages_sent", t + 300).total == 1


def test_gauges_keep_the_newest_value_even_when_an_older_one_arrives_late(stack):
    t = past_bucket()
    push(stack, s("messages_queued", 10, "gauge", t + 100))
    push(stack, s("messages_queued", 3, "gauge", t + 50))            # older, arrives later
    push(stack, s("messages_queued", 7, "gauge", t + 200),          # in one batch, out of order
         s("messages_queued", 1, "gauge", t + 150))
    bucket = stored("messages_queued", t)
    assert bucket.last == 7 and bucket.last_ts == t + 200
    assert bucket.count == 4 and bucket.total == 21                 # the mean stays available


BAD_BATCHES = [
    ([s("no_such_metric", 1, "counter")], "samples.0.name"),
    ([s("spam_reports", 1, "counter")], "samples.0.name"),           # recorded by us, not pushed
    ([s("messages_sent", 1, "gauge")], "samples.0.kind"),
    ([s("messages_sent", -1, "counter")], "samples.0.value"),
    ([s("messages_sent", "1", "counter")], "samples.0.value"),
    ([s("messages_sent", True, "counter")], "samples.0.value"),
    ([s("messages_sent", 1e300, "counter")], "samples.0.value"),
    ([{"name": "messages_sent", "kind": "counter"}], "samples.0"),
    ([{**s("messages_sent", 1, "counter"), "extra": 1}], "samples.0"),
]


@pytest.mark.parametrize("samples,path", BAD_BATCHES)
def test_a_bad_sample_refuses_the_whole_batch(stack, samples, path):
    good = s("messages_sent", 1, "counter", past_bucket())
    before = all_items()
    answer = push(stack, good, *samples)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR", answer
    assert any(d["path"].startswith(path.replace("samples.0", "samples.1"))
               for d in answer.json["details"]), answer.json
    assert all_items() == before


def test_every_bad_sample_is_listed_by_index(stack):
    now = clock.now_int()
    answer = push(stack, s("messages_sent", 1, "counter"),
                  s("messages_sent", 1, "counter", now + 3600),     # future
                  s("messages_sent", 1, "counter", now - 3 * 86400),  # too old
                  s("messages_sent", 1, "gauge"),
                  s("websocket_connections", 1, "gauge", now - 60))
    assert answer.status == 400
    paths = [d["path"] for d in answer.json["details"]]
    assert paths == ["samples.1.timestamp", "samples.2.timestamp", "samples.3.kind"]
    assert "nothing was recorded" in answer.json["message"]
    assert all_items() == []


def test_non_finite_values_are_refused(stack):
    for literal in ("NaN", "Infinity", "-Infinity"):
        answer = stack.call("POST", "/internal/metrics", headers={"X-Node-Secret": "test-node-secret"},
                            raw_body='{"samples":[{"name":"messages_sent","value":%s,'
                                     '"kind":"counter"}]}' % literal)
        assert answer.status == 400, (literal, answer)
        assert answer.json["details"][0]["path"] == "samples.0.value"
    assert all_items() == []


def test_batches_are_limited_to_500_samples(stack):
    t = past_bucket()
    answer = push(stack, *[s("messages_sent", 1, "counter", t)] * 501)
    assert answer.status == 400 and answer.json["details"][0]["path"] == "samples"
    assert all_items() == []
    answer = push(stack, *[s("messages_sent", 1, "counter", t)] * 500)
    assert answer.status == 202 and answer.json == {"accepted": 500}
    assert stored("messages_sent", t).total == 500


def test_push_needs_the_node_secret(stack):
    answer = stack.call("POST", "/internal/metrics", body={"samples": []})
    assert answer.status == 401 and answer.json["error"] == "INVALID_NODE_SECRET"


# ----------------------------------------------------------------------------- summary

def test_every_period_answers_and_a_bad_one_is_400(stack, token):
    for period in metrics.PERIODS:
        answer = stack.call("GET", f"/admin/v1/metrics?period={period}", token)
        assert answer.status == 200 and answer.json["period"] == period, answer
    assert stack.call("GET", "/admin/v1/metrics", token).json["period"] == "24h"
    for bad in ("2h", "24H", "", "1d"):
        answer = stack.call("GET", f"/admin/v1/metrics?period={bad}", token)
        assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR", bad
        assert answer.json["details"][0]["path"] == "period"


def test_nothing_pushed_gives_zero_counters_and_null_gauges(stack, token):
    body = stack.call("GET", "/admin/v1/metrics", token).json
    assert body["messages"] == {"sent_last_24h": 0, "received_last_24h": 0, "queued": None,
                                "expired_last_24h": 0, "average_size_bytes": None}
    assert body["performance"] == dict.fromkeys(SEED_SHAPE["performance"])
    assert body["federation"]["messages_sent_last_24h"] == 0
    assert body["spam"]["rate_limited_requests_last_24h"] == 0


def _known_world(stack):
    """Devices, peers, spam reports and a chat server's pushes, all with known numbers."""
    keys = [SigningKey.generate() for _ in range(3)]
    addresses = [stack.register_device(k) for k in keys]
    stack.node("POST", "/internal/devices/activity", body={"device_addresses": addresses[:2]})
    for domain in ("a.example.org", "b.example.org"):
        stack.node("POST", "/internal/federation/peers", body={"domain": domain})
    stack.node("POST", f"/internal/devices/{addresses[2]}/spam-reports",
               body={"reporter": "r1", "reason": "spam"})
    t = past_bucket(30)
    answer = push(stack,
                  s("messages_sent", 100, "counter", t), s("messages_sent", 50, "counter", t + 600),
                  s("message_bytes_sent", 150 * 2048 + 1, "counter", t),
                  s("messages_received", 120, "counter", t),
                  s("messages_expired", 2, "counter", t),
                  s("messages_queued", 9, "gauge", t), s("messages_queued", 4, "gauge", t + 600),
                  s("rate_limited_requests", 45, "counter", t),
                  s("federation_messages_sent", 15, "counter", t),
                  s("federation_messages_received", 18, "counter", t),
                  s("federation_failed_deliveries", 1, "counter", t),
                  s("delivery_latency_avg_ms", 45, "gauge", t),
                  s("delivery_latency_p95_ms", 120, "gauge", t),
                  s("delivery_latency_p99_ms", 250.5, "gauge", t),
                  s("websocket_connections", 650, "gauge", t + 600),
                  # outside the 1h window, inside 24h (late samples up to 24 h are accepted)
                  s("messages_sent", 1000, "counter", clock.now_int() - 5 * 3600))
    assert answer.status == 202, answer


def test_the_seed_shape_with_every_number_computed(stack, token):
    _known_world(stack)
    server_stats.clear_cache()
    body = stack.call("GET", "/admin/v1/metrics?period=1h", token).json
    assert set(body) == {"period", "timestamp"} | set(SEED_SHAPE)
    for section, keys in SEED_SHAPE.items():
        assert set(body[section]) == keys, section
    assert abs(body["timestamp"] - clock.now_int()) <= 2
    assert body["messages"] == {"sent_last_24h": 150, "received_last_24h": 120, "queued": 4,
                                "expired_last_24h": 2, "average_size_bytes": 2048}
    assert body["spam"] == {"reports_last_24h": 1, "auto_blocked_devices_last_24h": 0,
                            "rate_limited_requests_last_24h": 45}
    assert body["federation"] == {"active_peers": 2, "blocked_peers": 0,
                                  "messages_sent_last_24h": 15, "messages_received_last_24h": 18,
                                  "failed_deliveries_last_24h": 1}
    assert body["performance"] == {"average_delivery_latency_ms": 45,
                                   "p95_delivery_latency_ms": 120,
                                   "p99_delivery_latency_ms": 250.5,
                                   "websocket_connections": 650}
    devices = body["devices"]
    assert devices == device_stats.devices_summary(3600)
    # 3 + the bootstrap admin + the token fixture's admin device
    assert devices["total"] == 5 and devices["active_last_24h"] == 2
    assert sum(devices["by_trust_tier"].values()) + devices["blocked"] == devices["total"]
    server = body["server"]
    started = MetaItem.get("bootstrap").value["bootstrapped_at"]
    assert 0 <= server["uptime_seconds"] - (body["timestamp"] - started) <= 1
    assert server["version"] == "1.0.0"
    assert server["cpu_usage_percent"] > 0 and server["memory_usage_mb"] > 10
    assert server["storage_used_gb"] >= 0
    # 24h takes the sample five hours old as well
    day = stack.call("GET", "/admin/v1/metrics?period=24h", token).json
    assert day["messages"]["sent_last_24h"] == 1150
    assert day["messages"]["average_size_bytes"] == round((150 * 2048 + 1) / 1150)


def test_storage_counts_bucket_objects_and_is_cached(stack, token):
    from chalicelib.store.aws import client
    from chalicelib.store.buckets import bucket_name
    base = server_stats.storage_used_bytes()
    client("s3").put_object(Bucket=bucket_name("blobs"), Key="x", Body=b"\0" * 3 * 1024 ** 2)
    assert server_stats.storage_used_bytes() == base + 3 * 1024 ** 2
    first = stack.call("GET", "/admin/v1/metrics", token).json["server"]["storage_used_gb"]
    assert first == round((base + 3 * 1024 ** 2) / 1024 ** 3, 6)
    client("s3").put_object(Bucket=bucket_name("blobs"), Key="y", Body=b"\0" * 1024 ** 2)
    with aws_calls() as calls:
        again = stack.call("GET", "/admin/v1/metrics", token).json["server"]["storage_used_gb"]
    assert again == first  # cached for STORAGE_CACHE_SECONDS per container
    assert not [op for op, _ in calls if op in ("DescribeTable", "ListObjectsV2")]
    server_stats.clear_cache()
    with aws_calls() as calls:
        server_stats.storage_used_gb()
    from chalicelib.store.buckets import BUCKETS
    from chalicelib.store.tables import TABLES
    assert [op for op, _ in calls].count("DescribeTable") == len(TABLES)
    assert [op for op, _ in calls].count("ListObjectsV2") == len(BUCKETS)


# ----------------------------------------------------------------------------- timeseries

def test_timeseries_counter_is_continuous_and_aggregates_add_up(stack, token):
    a, b = past_bucket(10), past_bucket(40)
    push(stack, s("messages_sent", 3, "counter", a), s("messages_sent", 4, "counter", a + 5),
         s("messages_sent", 10, "counter", b))
    body = stack.call("GET", "/admin/v1/metrics/timeseries?metric=messages_sent&period=1h",
                      token).json
    assert (body["metric"], body["period"], body["interval"]) == ("messages_sent", "1h", "5m")
    points = body["data_points"]
    assert len(points) == 12 and all(set(p) == {"timestamp", "value"} for p in points)
    stamps = [p["timestamp"] for p in points]
    assert stamps == list(range(stamps[0], stamps[0] + 12 * 300, 300))
    assert stamps[-1] == metric_store.bucket_start(clock.now(), "5m")
    values = {p["timestamp"]: p["value"] for p in points}
    assert values[a] == 7 and values[b] == 10
    assert sum(values.values()) == 17
    assert body["aggregate"] == {"min": 0, "max": 10, "total": 17, "avg": round(17 / 12, 2)}


def test_timeseries_gauge_leaves_out_empty_intervals(stack, token):
    a, b = past_bucket(10), past_bucket(40)
    push(stack, s("websocket_connections", 5, "gauge", a + 1),
         s("websocket_connections", 8, "gauge", a + 2), s("websocket_connections", 2, "gauge", b))
    body = stack.call("GET", "/admin/v1/metrics/timeseries?metric=websocket_connections"
                      "&period=1h&interval=5m", token).json
    assert body["data_points"] == [{"timestamp": b, "value": 2}, {"timestamp": a, "value": 8}]
    assert body["aggregate"] == {"min": 2, "max": 8, "avg": 5, "total": 10}


def test_timeseries_every_period_and_interval_that_fits(stack, token):
    expected = {("1h", "5m"): 12, ("24h", "5m"): 288, ("1h", "1h"): 1, ("24h", "1h"): 24,
                ("7d", "1h"): 168, ("30d", "1h"): 720, ("24h", "1d"): 1, ("7d", "1d"): 7,
                ("30d", "1d"): 30}
    for (period, interval), n in expected.items():
        body = stack.call("GET", f"/admin/v1/metrics/timeseries?metric=messages_sent"
                                 f"&period={period}&interval={interval}", token).json
        assert len(body["data_points"]) == n, (period, interval)
        assert body["aggregate"] == {"min": 0, "max": 0, "avg": 0, "total": 0}
    defaults = {"1h": "5m", "24h": "1h", "7d": "1h", "30d": "1d"}
    for period, interval in defaults.items():
        body = stack.call("GET", f"/admin/v1/metrics/timeseries?metric=spam_reports"
                                 f"&period={period}", token).json
        assert body["interval"] == interval


@pytest.mark.parametrize("query,needle", [
    ("metric=messages_sent&period=7d&interval=5m", "kept for 2 days only; for period 7d use interval 1h or 1d"),
    ("metric=messages_sent&period=30d&interval=5m", "use interval 1h or 1d"),
    ("metric=messages_sent&period=1h&interval=1d", "longer than period"),
    ("metric=messages_sent&period=2d", "period"),
    ("metric=messages_sent&interval=15m", "interval"),
    ("metric=nope", "'nope' is not one of ['messages_sent'"),
    ("period=24h", "metric is required"),
])
def test_timeseries_refusals(stack, token, query, needle):
    answer = stack.call("GET", f"/admin/v1/metrics/timeseries?{query}", token)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR", answer
    assert needle in answer.json["message"] or needle in str(answer.json["details"]), answer


def test_unknown_metric_lists_every_known_name(stack, token):
    answer = stack.call("GET", "/admin/v1/metrics/timeseries?metric=nope", token)
    for name in list(metrics.METRICS):
        assert name in answer.json["message"]


def test_active_devices_and_spam_reports_timeseries(stack, token):
    key = SigningKey.generate()
    address = stack.register_device(key)
    stack.node("POST", "/internal/devices/activity", body={"device_addresses": [address]})
    stack.node("POST", f"/internal/devices/{address}/spam-reports", body={"reporter": "x"})
    features.run("metric_rollups")
    now_bucket = metric_store.bucket_start(clock.now(), "5m")
    active = stack.call("GET", "/admin/v1/metrics/timeseries?metric=active_devices&period=1h",
                        token).json
    assert active["data_points"][-1]["value"] == 1
    assert active["data_points"][-1]["timestamp"] in (now_bucket, now_bucket - 300)
    spam = stack.call("GET", "/admin/v1/metrics/timeseries?metric=spam_reports&period=1h",
                      token).json
    assert spam["aggregate"]["total"] == 1


# ----------------------------------------------------------------------------- roll-ups

def _rolled():
    return sorted(((i.series, int(i.start)), dict(sorted(i.attribute_values.items())))
                  for i in MetricBucket.scan()
                  if i.series.endswith(("#1h", "#1d"))
                  and not i.series.startswith(("active_", "~")))


@contextmanager
def clock_at(ts):
    """Run with the clock at unix time `ts`."""
    clock.reset()
    clock.advance(ts - clock.now())
    try:
        yield
    finally:
        clock.reset()


def _history(days=30):
    """Live through `days` days: one counter sample (d, then 1) and one gauge sample (d)
    at 12:00 UTC on the day d days ago, the roll-up job running an hour later as the
    schedule would; then some samples in the last hour of today."""
    today = metric_store.bucket_start(clock.now(), "1d")
    for d in range(days, 0, -1):
        noon = today - d * 86400 + 12 * 3600
        with clock_at(noon + 3600 + 200):
            metric_store.record_many([("messages_sent", d, "counter", noon),
                                      ("messages_sent", 1, "counter", noon + 60),
                                      ("messages_queued", d, "gauge", noon)])
            features.run("metric_rollups")
    recent = past_bucket(10)
    metric_store.record_many([("messages_sent", 1000, "counter", recent),
                              ("messages_queued", 77, "gauge", recent)])


def test_rollup_folds_into_hours_and_days_and_is_idempotent(stack):
    now = clock.now_int()
    yesterday = metric_store.bucket_start(now, "1d") - 86400
    hours = [yesterday + 5 * 3600, yesterday + 17 * 3600,
             metric_store.bucket_start(now, "1h") - 3 * 3600]
    metric_store.record_many(
        [("messages_sent", 2, "counter", h + 10) for h in hours]
        + [("messages_sent", 3, "counter", hours[0] + 700)]
        + [("messages_queued", 5, "gauge", hours[0] + 10),
           ("messages_queued", 1, "gauge", hours[1])])
    first = features.run("metric_rollups")
    assert first["hours_folded"] >= 3 and first["days_folded"] >= 1
    rolled = _rolled()
    hour = MetricBucket.get("messages_sent#1h", hours[0])
    assert (hour.kind, hour.total, hour.count, hour.min, hour.max) == ("counter", 5, 2, 2, 3)
    day = MetricBucket.get("messages_sent#1d", yesterday)
    in_day = [5] + [2] * sum(1 for h in hours[1:] if h < yesterday + 86400)  # hourly totals
    assert (day.total, day.count, day.min, day.max) == (sum(in_day), len(in_day) + 1, 2, 5)
    gauge = MetricBucket.get("messages_queued#1d", yesterday)
    assert (gauge.kind, gauge.last, gauge.min, gauge.max) == ("gauge", 1, 1, 5)
    # again: nothing pending, nothing changes
    second = features.run("metric_rollups")
    assert second["hours_folded"] == 0 and _rolled() == rolled
    # re-folding an hour and a day that have not changed writes the same items
    metric_store.mark_pending("1h", hours[1])
    metric_store.mark_pending("1d", yesterday)
    third = features.run("metric_rollups")
    assert third["hours_folded"] == 1 and third["days_folded"] == 1 and _rolled() == rolled
    # the watermarks say what is complete
    marks = metric_store.watermarks()
    assert marks["1h"] == metric_store.bucket_start(clock.now() - 120, "1h")
    assert marks["1d"] == metric_store.bucket_start(marks["1h"], "1d")


def test_rollup_leaves_alone_what_it_can_no_longer_refold(stack):
    old = metric_store.bucket_start(clock.now(), "1h") - 3 * 86400  # 5m children expiring
    metric_store.record_many([("messages_sent", 4, "counter", old)])
    result = features.run("metric_rollups")
    assert result["hours_folded"] >= 1
    assert not metric_store.buckets("messages_sent", "1h", old, old + 3600)


def test_a_late_sample_refolds_its_hour(stack, token):
    t = metric_store.bucket_start(clock.now() - 3 * 3600, "1h")
    push(stack, s("messages_sent", 5, "counter", t + 60))
    features.run("metric_rollups")
    assert MetricBucket.get("messages_sent#1h", t).total == 5
    push(stack, s("messages_sent", 2, "counter", t + 1800))  # late, for an hour already folded
    features.run("metric_rollups")
    assert MetricBucket.get("messages_sent#1h", t).total == 7
    body = stack.call("GET", "/admin/v1/metrics?period=24h", token).json
    assert body["messages"]["sent_last_24h"] == 7


def test_a_30_day_query_reads_day_buckets_in_a_bounded_number_of_queries(stack, token):
    _history(29)
    features.run("metric_rollups")
    server_stats.storage_used_gb()  # warm the per-container cache
    with aws_calls() as calls:
        body = stack.call("GET", "/admin/v1/metrics?period=30d", token).json
    assert body["messages"]["sent_last_24h"] == sum(range(1, 30)) + 29 + 1000
    assert body["messages"]["queued"] == 77
    series = metric_queries(calls)
    assert "messages_sent#1d" in series
    assert series.count("messages_sent#5m") == 1
    assert len([x for x in series if x.startswith("messages_sent#")]) <= 4
    counters = [n for n, m in metrics.METRICS.items() if m.kind == "counter" and m.source == "pushed"]
    gauges = [n for n, m in metrics.METRICS.items() if m.kind == "gauge" and m.source == "pushed"]
    assert len(series) <= 4 * (len(counters) + 2) + 4 * len(gauges)  # +2: spam counters
    # the 30-day timeseries at 1d reads day buckets too, and agrees
    with aws_calls() as calls:
        ts = stack.call("GET", "/admin/v1/metrics/timeseries?metric=messages_sent&period=30d",
                        token).json
    assert "messages_sent#1d" in metric_queries(calls)
    assert len(metric_queries(calls)) <= 3
    assert ts["aggregate"]["total"] == body["messages"]["sent_last_24h"]
    assert len(ts["data_points"]) == 30


def test_summary_agrees_before_and_after_rollup(stack, token):
    _history(6)
    before = stack.call("GET", "/admin/v1/metrics?period=7d", token).json["messages"]
    features.run("metric_rollups")
    after = stack.call("GET", "/admin/v1/metrics?period=7d", token).json["messages"]
    assert before == after and after["sent_last_24h"] == sum(range(1, 7)) + 6 + 1000


# ----------------------------------------------------------------------------- export

@pytest.fixture
def steady():
    """Process measurements held still, so two exports taken one after the other agree."""
    with mock.patch.object(server_stats, "cpu_usage_percent", return_value=12.5), \
            mock.patch.object(server_stats, "memory_usage_mb", return_value=256.0), \
            mock.patch.object(server_stats, "uptime_seconds", return_value=3600):
        yield


def _json_export(stack, token):
    answer = stack.call("GET", "/admin/v1/metrics/export?format=json", token)
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    return {k: v["value"] for k, v in answer.json["metrics"].items()}, answer.json


def test_prometheus_export_parses_and_matches_json(stack, token, steady):
    from prometheus_client.parser import text_string_to_metric_families
    _known_world(stack)
    answer = stack.call("GET", "/admin/v1/metrics/export", token)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = answer.text
    for line in ("# HELP cryptid_devices_total Total number of registered devices",
                 "# TYPE cryptid_devices_total gauge",
                 "# HELP cryptid_devices_active_24h Devices active in last 24 hours",
                 "# HELP cryptid_messages_sent_total Total messages sent",
                 "# TYPE cryptid_messages_sent_total counter",
                 "# HELP cryptid_spam_reports_24h Spam reports in last 24 hours",
                 "# TYPE cryptid_federation_peers_active gauge"):
        assert line in text, line
    parsed = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            parsed[sample.name] = (sample.value, family.type)
    numbers, body = _json_export(stack, token)
    assert parsed == {k: (v, body["metrics"][k]["type"]) for k, v in numbers.items()
                      if v is not None}
    assert parsed["cryptid_devices_total"][0] == 5
    assert parsed["cryptid_devices_active_24h"][0] == 2
    assert parsed["cryptid_messages_sent_total"] == (1150, "counter")
    assert parsed["cryptid_spam_reports_24h"][0] == 1
    assert parsed["cryptid_federation_peers_active"][0] == 2
    assert parsed["cryptid_cpu_usage_percent"] == (12.5, "gauge")
    assert "cryptid_messages_queued" in parsed and "cryptid_delivery_latency_p99_ms" in parsed


def test_csv_export_parses_and_matches_json(stack, token, steady):
    _known_world(stack)
    answer = stack.call("GET", "/admin/v1/metrics/export?format=csv", token)
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert rows and set(rows[0]) == {"metric", "value", "type", "help"}
    numbers, body = _json_export(stack, token)
    assert [r["metric"] for r in rows] == list(numbers)
    for row in rows:
        expected = numbers[row["metric"]]
        if expected is None:
            assert row["value"] == ""
        else:
            assert math.isclose(float(row["value"]), expected), row
        assert row["type"] == body["metrics"][row["metric"]]["type"]
        assert row["help"] == body["metrics"][row["metric"]]["help"]


def test_export_counters_are_all_time_totals(stack, token):
    _history(33)  # older than the 30-day period: all time, not a window
    features.run("metric_rollups")
    numbers, _ = _json_export(stack, token)
    assert numbers["cryptid_messages_sent_total"] == sum(range(1, 34)) + 33 + 1000
    assert numbers["cryptid_messages_queued"] == 77
    answer = stack.call("GET", "/admin/v1/metrics/export?format=xml", token)
    assert answer.status == 400 and answer.json["details"][0]["path"] == "format"


# ----------------------------------------------------------------------------- access

ROUTES = ["/admin/v1/metrics", "/admin/v1/metrics/timeseries?metric=messages_sent",
          "/admin/v1/metrics/export"]


def test_routes_need_view_metrics(stack):
    token = stack.token_with(["view_audit", "manage_config"])
    for path in ROUTES:
        answer = stack.call("GET", path, token)
        assert answer.status == 403 and answer.json["code"] == 4011, path
        assert stack.call("GET", path).status == 401


def test_the_1001st_query_in_an_hour_is_429_with_retry_after(stack):
    token = stack.operator_token()
    now = clock.now_int()
    window = now - now % 3600
    RateCounter(key=f"metrics_queries#{ADMIN_EMAIL}#{window}", count=999).save()
    for path in ROUTES:
        # the 1000th passes, then every metrics route is refused for the rest of the hour
        if path == ROUTES[0]:
            assert stack.call("GET", path, token).status == 200
        answer = stack.call("GET", path, token)
        assert answer.status == 429 and answer.json["error"] == "RATE_LIMITED", answer
        retry = int(answer.headers["Retry-After"])
        assert 0 < retry <= 3600 and retry >= window + 3600 - clock.now_int() - 1
    other = stack.token_with(["view_metrics"])  # the limit is per admin
    assert stack.call("GET", ROUTES[0], other).status == 200


def test_prometheus_leaves_out_gauges_nothing_pushed(stack, token):
    text = stack.call("GET", "/admin/v1/metrics/export?format=prometheus", token).text
    assert "cryptid_messages_queued" not in text and "cryptid_websocket_connections" not in text
    assert "cryptid_messages_sent_total 0.0" in text
    numbers, _ = _json_export(stack, token)
    assert numbers["cryptid_messages_queued"] is None


def test_storage_unavailable_is_null_not_a_failure(stack, token):
    from botocore.exceptions import ClientError
    refused = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                          "DescribeTable")
    with mock.patch.object(server_stats, "storage_used_bytes", side_effect=refused):
        answer = stack.call("GET", "/admin/v1/metrics", token)
    assert answer.status == 200 and answer.json["server"]["storage_used_gb"] is None
    text = stack.call("GET", "/admin/v1/metrics/export", token).text
    assert "cryptid_storage_used_gb" not in text  # the failure is cached for a minute
