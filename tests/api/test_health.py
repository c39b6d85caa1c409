"""Health, the chat server's status push, and alerts (seed 004 "health", "alerts")."""
import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.chat.health import alerts as alert_service
from chalicelib.chat.health import service as health
from chalicelib.core import clock
from chalicelib.domain import alert_rules
from chalicelib.store import aws, metric_store
from chalicelib.store.buckets import bucket_name
from chalicelib.store.tables import Alert, MetaItem

STATUS = {
    "message_queue": {"status": "healthy", "queue_size": 120, "details": "Redis 7.0.5"},
    "federation": {"status": "healthy", "active_connections": 25, "details": "All peers reachable"},
    "websocket": {"status": "healthy", "active_connections": 650,
                  "details": "650 active WebSocket connections"},
}
COMPONENTS = {"database", "storage", "message_queue", "federation", "websocket"}


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    """Every test here runs on a clock that moves only when the test moves it."""


@pytest.fixture(autouse=True)
def patient(monkeypatch):
    """moto under a loaded test run can take over 500 ms; latency tests set their own."""
    monkeypatch.setattr(health, "STORAGE_LATENCY_MS", 60_000)
    monkeypatch.setattr(alert_rules, "STORAGE_LATENCY_MS", 60_000)


@pytest.fixture
def viewer(stack):
    return stack.token_with(["view_metrics"])


def push(stack, **changes):
    body = {name: {**value, **changes.get(name, {})} for name, value in STATUS.items()}
    answer = stack.node("POST", "/internal/status", body=body)
    assert answer.status == 202 and answer.json == {"accepted": True}, answer
    return body


def get_health(stack, token):
    return stack.call("GET", "/admin/v1/health", token)


def align():
    """Put the clock 10 s into a 5-minute bucket, so windows are predictable."""
    clock.advance((10 - clock.now_int() % 300) % 300)
    return clock.now_int()


# --- POST /internal/status --------------------------------------------------------------

def test_status_push_is_stored_with_its_receive_time(stack):
    push(stack)
    item = MetaItem.get(health.WORKER_STATUS_KEY)
    assert item.value["components"] == STATUS
    assert abs(item.value["received_at"] - clock.now_int()) <= 1


@pytest.mark.parametrize("body,path", [
    ({**STATUS, "websocket": {**STATUS["websocket"], "status": "fine"}}, "websocket.status"),
    ({**STATUS, "message_queue": {**STATUS["message_queue"], "queue_size": -1}},
     "message_queue.queue_size"),
    ({**STATUS, "federation": {"status": "healthy", "details": "x"}}, "federation"),
    ({k: v for k, v in STATUS.items() if k != "websocket"}, ""),
    ({**STATUS, "cpu": 3}, ""),
    ({**STATUS, "websocket": {**STATUS["websocket"], "active_connections": "650"}},
     "websocket.active_connections"),
])
def test_status_push_is_validated(stack, body, path):
    answer = stack.node("POST", "/internal/status", body=body)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR", answer
    assert path in [d["path"] for d in answer.json["details"]]
    assert MetaItem.count(health.WORKER_STATUS_KEY) == 0


def test_status_push_needs_the_node_secret(stack):
    assert stack.call("POST", "/internal/status", body=STATUS).status == 401
    answer = stack.node("POST", "/internal/status", body=STATUS, secret="wrong")
    assert answer.status == 401 and answer.json["error"] == "INVALID_NODE_SECRET"
    assert MetaItem.count(health.WORKER_STATUS_KEY) == 0


# --- GET /admin/v1/health ---------------------------------------------------------------

def test_healthy_after_a_fresh_push(stack, viewer):
    push(stack)
    answer = get_health(stack, viewer)
    assert answer.status == 200, answer
    body = answer.json
    assert set(body) == {"status", "timestamp", "version", "uptime_seconds", "components",
                         "warnings"}
    assert body["status"] == "healthy" and body["warnings"] == []
    assert body["version"] == "1.0.0"
    assert abs(body["timestamp"] - clock.now_int()) <= 1
    bootstrapped = MetaItem.get("bootstrap").value["bootstrapped_at"]
    assert body["uptime_seconds"] == body["timestamp"] - bootstrapped
    components = body["components"]
    assert set(components) == COMPONENTS
    for name in ("database", "storage"):
        assert set(components[name]) == {"status", "latency_ms", "details"}
        assert components[name]["status"] == "healthy"
        assert isinstance(components[name]["latency_ms"], int)
        assert components[name]["latency_ms"] >= 0
    assert components["database"]["details"] == f"DynamoDB: {len(health.TABLES)} tables reachable"
    from chalicelib.store.buckets import BUCKETS
    assert components["storage"]["details"] == f"S3: {len(BUCKETS)} buckets reachable"
    assert components["message_queue"] == STATUS["message_queue"]
    assert components["federation"] == STATUS["federation"]
    assert components["websocket"] == STATUS["websocket"]


def test_uptime_grows_with_the_clock(stack, viewer):
    push(stack)
    first = get_health(stack, viewer).json["uptime_seconds"]
    clock.advance(100)
    push(stack)
    assert get_health(stack, viewer).json["uptime_seconds"] - first in (100, 101)


def test_never_pushed_is_degraded(stack, viewer):
    answer = get_health(stack, viewer)
    assert answer.status == 200 and answer.json["status"] == "degraded"
    components = answer.json["components"]
    assert components["database"]["status"] == components["storage"]["status"] == "healthy"
    assert components["message_queue"] == {"status": "degraded", "queue_size": None,
                                           "details": "Not reported by the chat server yet"}
    assert components["websocket"]["active_connections"] is None
    assert answer.json["warnings"] == ["Chat server has not reported its status"]


def test_stale_status_is_degraded(stack, viewer):
    push(stack)
    clock.advance(health.STALE_SECONDS)
    assert get_health(stack, viewer).json["status"] == "healthy"
    clock.advance(1)
    answer = get_health(stack, viewer)
    assert answer.status == 200 and answer.json["status"] == "degraded"
    components = answer.json["components"]
    for name in ("message_queue", "federation", "websocket"):
        assert components[name]["status"] == "degraded"
        assert components[name]["details"].startswith("Last reported 301 s ago")
    assert components["message_queue"]["queue_size"] == 120
    assert answer.json["warnings"] == ["Chat server status is stale: last report 301 s ago"]
    push(stack)  # a fresh push heals it
    assert get_health(stack, viewer).json["status"] == "healthy"


def test_pushed_problems_degrade_but_do_not_make_it_unhealthy(stack, viewer):
    push(stack, message_queue={"status": "degraded", "details": "Backlog growing"},
         websocket={"status": "unhealthy", "details": "Listener down"})
    answer = get_health(stack, viewer)
    assert answer.status == 200 and answer.json["status"] == "degraded"
    assert answer.json["components"]["websocket"]["status"] == "unhealthy"
    assert answer.json["warnings"] == ["Message queue is degraded: Backlog growing",
                                       "WebSocket is unhealthy: Listener down",
                                       "Message delivery may be delayed"]


def test_slow_storage_is_degraded(stack, viewer, monkeypatch):
    push(stack)
    monkeypatch.setattr(health, "STORAGE_LATENCY_MS", -1)
    answer = get_health(stack, viewer)
    assert answer.status == 200 and answer.json["status"] == "degraded"
    assert answer.json["components"]["database"]["status"] == "degraded"
    assert any(w.startswith("Database latency") for w in answer.json["warnings"])


def test_database_unreachable_is_503_with_the_seed_shape(stack, viewer, monkeypatch):
    push(stack)

    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    monkeypatch.setattr(health.probe_client("dynamodb"), "batch_get_item", unreachable)
    answer = get_health(stack, viewer)
    assert answer.status == 503, answer
    body = answer.json
    assert body["status"] == "unhealthy"
    assert set(body) == {"status", "timestamp", "version", "uptime_seconds", "components",
                         "warnings"}
    assert body["components"]["database"] == {"status": "unhealthy", "latency_ms": None,
                                              "error": "Connection refused",
                                              "details": "Unable to connect to DynamoDB"}
    assert body["components"]["storage"]["status"] == "healthy"
    assert body["components"]["message_queue"] == STATUS["message_queue"]
    assert body["warnings"] == ["Database connection failed"]
    assert "Traceback" not in answer.text and "amazonaws" not in answer.text


def test_database_timeout_is_reported_as_such(stack, viewer, monkeypatch):
    from botocore.exceptions import ConnectTimeoutError

    def slow(**kwargs):
        raise ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    monkeypatch.setattr(health.probe_client("dynamodb"), "batch_get_item", slow)
    answer = get_health(stack, viewer)
    assert answer.status == 503
    assert answer.json["components"]["database"]["error"] == "Connection timeout"


def test_a_missing_table_makes_the_database_unhealthy(stack, viewer):
    push(stack)
    Alert.delete_table()  # a real probe failure: the table is gone
    answer = get_health(stack, viewer)
    assert answer.status == 503
    database = answer.json["components"]["database"]
    assert database["status"] == "unhealthy" and database["latency_ms"] is None
    assert database["error"] == "ResourceNotFoundException"
    assert answer.json["warnings"] == ["Database check failed: ResourceNotFoundException"]


def test_a_missing_bucket_makes_storage_unhealthy(stack, viewer):
    push(stack)
    aws.client("s3").delete_bucket(Bucket=bucket_name("exports"))
    answer = get_health(stack, viewer)
    assert answer.status == 503 and answer.json["status"] == "unhealthy"
    storage = answer.json["components"]["storage"]
    assert storage == {"status": "unhealthy", "latency_ms": None, "error": "NoSuchBucket",
                       "details": f"Unable to reach S3 bucket {bucket_name('exports')}"}
    assert answer.json["components"]["database"]["status"] == "healthy"


def test_s3_unreachable(stack, viewer, monkeypatch):
    push(stack)

    def unreachable(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
    monkeypatch.setattr(health.probe_client("s3"), "head_bucket", unreachable)
    answer = get_health(stack, viewer)
    assert answer.status == 503
    assert answer.json["components"]["storage"]["error"] == "Connection refused"
    assert answer.json["warnings"] == ["Storage connection failed"]


def test_health_and_alerts_need_view_metrics(stack):
    token = stack.token_with(["view_audit", "manage_config"])
    for path in ("/admin/v1/health", "/admin/v1/alerts"):
        answer = stack.call("GET", path, token)
        assert answer.status == 403 and answer.json["code"] == 4011
        assert stack.call("GET", path).status == 401


# --- alerts -----------------------------------------------------------------------------

def run_job(stack):
    event = stack.client.events.generate_cw_event(source="aws.events",
                                                  detail_type="Scheduled Event", detail={},
                                                  resources=[])
    return stack.client.lambda_.invoke("job_alerts", event).payload


def listed(stack, token):
    answer = stack.call("GET", "/admin/v1/alerts", token)
    assert answer.status == 200, answer
    assert set(answer.json) == {"active_alerts", "total_count"}
    assert answer.json["total_count"] == len(answer.json["active_alerts"])
    return {a["id"]: a for a in answer.json["active_alerts"]}


def rows():
    return {row.id: row.attribute_values for row in Alert.scan()}


CHANGES = ("activated", "updated", "cleared", "pending")


def no_changes(payload):
    return all(payload[k] == 0 for k in CHANGES)


def test_no_alerts_on_a_quiet_system(stack, viewer):
    push(stack)
    assert run_job(stack)["firing"] == 0
    assert listed(stack, viewer) == {}
    assert stack.call("GET", "/admin/v1/alerts", viewer).json == {"active_alerts": [],
                                                                  "total_count": 0}


def test_high_cpu_fires_keeps_started_at_and_clears(stack, viewer):
    now = align()
    push(stack)
    metric_store.record("cpu_usage_percent", 85.0, "gauge", now - 300)
    metric_store.record("cpu_usage_percent", 85.3, "gauge", now)
    assert run_job(stack)["activated"] == 1
    alert = listed(stack, viewer)["alert_high_cpu"]
    assert alert == {"id": "alert_high_cpu", "severity": "warning", "component": "server",
                     "message": "CPU usage above 80% for 5 minutes", "started_at": now,
                     "details": {"cpu_usage": 85.3, "threshold": 80}}
    # still high a minute later: same started_at, newest reading in details
    clock.advance(60)
    push(stack)
    metric_store.record("cpu_usage_percent", 91.0, "gauge")
    payload = run_job(stack)
    assert payload["activated"] == 0 and payload["updated"] == 1
    alert = listed(stack, viewer)["alert_high_cpu"]
    assert alert["started_at"] == now and alert["details"]["cpu_usage"] == 91.0
    # the bucket's average drops to 80 or below: cleared
    metric_store.record("cpu_usage_percent", 20.0, "gauge")
    assert run_job(stack)["cleared"] == 1
    assert "alert_high_cpu" not in listed(stack, viewer)
    row = Alert.get("alert_high_cpu")
    assert row.active is None and row.cleared_at == clock.now_int()
    assert row.started_at == now  # kept for history


def test_high_cpu_needs_five_minutes_of_data(stack, viewer):
    now = align()
    push(stack)
    metric_store.record("cpu_usage_percent", 99.0, "gauge", now)
    run_job(stack)
    assert "alert_high_cpu" not in listed(stack, viewer)


def test_spam_spike_fires_and_clears(stack, viewer):
    now = align()
    push(stack)
    metric_store.record("spam_reports", 240, "counter", now - 5 * 3600)  # 10 an hour
    metric_store.record("spam_reports", 29, "counter", now - 600)
    run_job(stack)
    assert "alert_spam_spike" not in listed(stack, viewer)  # up 190%: not yet
    metric_store.record("spam_reports", 1, "counter", now)
    run_job(stack)
    assert listed(stack, viewer)["alert_spam_spike"] == {
        "id": "alert_spam_spike", "severity": "info", "component": "moderation",
        "message": "Spam reports increased 200% in last hour", "started_at": now,
        "details": {"current_rate": 30, "average_rate": 10}}
    clock.advance(3600)  # the burst leaves the last hour
    push(stack)
    assert run_job(stack)["cleared"] == 1
    assert "alert_spam_spike" not in listed(stack, stack.token_with(["view_metrics"]))


@pytest.mark.parametrize("failed,sent", [(51, 100_000), (11, 100)])
def test_federation_failures_fire_and_clear(stack, viewer, failed, sent):
    now = align()
    push(stack)
    metric_store.record("federation_messages_sent", sent, "counter", now - 1200)
    metric_store.record("federation_failed_deliveries", failed - 1, "counter", now - 1200)
    run_job(stack)
    assert "alert_federation_failures" not in listed(stack, viewer)
    metric_store.record("federation_failed_deliveries", 1, "counter", now)
    run_job(stack)
    alert = listed(stack, viewer)["alert_federation_failures"]
    assert alert["severity"] == "warning" and alert["component"] == "federation"
    assert alert["details"]["failed_deliveries"] == failed
    assert alert["message"] == f"{failed} failed federation deliveries in last hour"
    clock.advance(3600)
    push(stack)
    run_job(stack)
    assert "alert_federation_failures" not in listed(stack, stack.token_with(["view_metrics"]))


def test_storage_latency_fires_after_holding_a_minute_and_clears(stack, viewer, monkeypatch):
    push(stack)
    monkeypatch.setattr(alert_rules, "STORAGE_LATENCY_MS", -1)
    first = clock.now_int()
    assert run_job(stack)["pending"] == 1
    assert "alert_storage_latency" not in listed(stack, viewer)
    clock.advance(30)
    push(stack)
    assert no_changes(run_job(stack))  # held 30 s: still pending
    clock.advance(30)
    push(stack)
    assert run_job(stack)["activated"] == 1
    alert = listed(stack, viewer)["alert_storage_latency"]
    assert alert["severity"] == "warning" and alert["started_at"] == first
    assert alert["message"] == "DynamoDB and S3 latency above -1 ms"
    assert isinstance(alert["details"]["dynamodb_latency_ms"], int)
    monkeypatch.setattr(alert_rules, "STORAGE_LATENCY_MS", 60_000)
    assert run_job(stack)["cleared"] == 1
    assert "alert_storage_latency" not in listed(stack, viewer)


def test_storage_unreachable_is_critical(stack, viewer):
    push(stack)
    aws.client("s3").delete_bucket(Bucket=bucket_name("backups"))
    first = clock.now_int()
    run_job(stack)
    clock.advance(60)
    push(stack)
    run_job(stack)
    alert = listed(stack, viewer)["alert_storage_latency"]
    assert alert["severity"] == "critical" and alert["message"] == "S3 unreachable"
    assert alert["details"]["s3_error"] == "NoSuchBucket" and alert["started_at"] == first


def test_worker_stale_warns_then_turns_critical_then_clears(stack, viewer):
    push(stack)
    pushed_at = clock.now_int()
    clock.advance(301)
    run_job(stack)
    alert = listed(stack, viewer)["alert_worker_stale"]
    started = alert["started_at"]
    assert alert["severity"] == "warning" and alert["component"] == "chat_server"
    assert alert["details"] == {"last_reported_at": pushed_at, "stale_seconds": 301,
                                "threshold_seconds": 300}
    assert alert["message"] == "Chat server status not reported for 5 minutes"
    clock.advance(1500)
    run_job(stack)
    alert = listed(stack, viewer)["alert_worker_stale"]
    assert alert["severity"] == "critical" and alert["started_at"] == started
    push(stack)
    assert run_job(stack)["cleared"] == 1
    assert listed(stack, viewer) == {}


def test_worker_that_never_reported_is_stale_after_five_minutes(stack, viewer):
    run_job(stack)
    assert "alert_worker_stale" not in listed(stack, viewer)
    clock.advance(400)
    run_job(stack)
    alert = listed(stack, viewer)["alert_worker_stale"]
    assert alert["details"]["last_reported_at"] is None
    assert alert["message"].startswith("Chat server has not reported its status since deployment")


def test_job_is_idempotent(stack, viewer):
    now = align()
    push(stack)
    metric_store.record("cpu_usage_percent", 95.0, "gauge", now - 300)
    metric_store.record("cpu_usage_percent", 95.0, "gauge", now)
    metric_store.record("spam_reports", 50, "counter", now)
    first = run_job(stack)
    assert first["activated"] == 2
    before = rows()
    second = run_job(stack)
    assert no_changes(second) and second["firing"] == first["firing"] == 2
    assert rows() == before


def test_a_concurrent_activation_does_not_reset_started_at(stack, viewer):
    now = align()
    push(stack)
    metric_store.record("cpu_usage_percent", 95.0, "gauge", now - 300)
    metric_store.record("cpu_usage_percent", 95.0, "gauge", now)
    run_job(stack)
    # a second run that read the row before the first one wrote it tries to activate too
    rule = next(r for r in alert_rules.RULES if r.id == "alert_high_cpu")
    finding = rule.evaluate(alert_service.gather())
    _, stale_plan = alert_rules.plan(rule, finding, None, now + 45)
    assert alert_service.write_change(rule, alert_rules.ACTIVATE, stale_plan, now + 45) is False
    assert Alert.get("alert_high_cpu").started_at == now


def test_alerts_sorted_by_severity_then_started_at(stack, viewer):
    now = align()
    metric_store.record("spam_reports", 50, "counter", now)  # info
    push(stack)
    run_job(stack)
    clock.advance(301)  # worker stale (warning)
    later = clock.now_int()
    metric_store.record("federation_failed_deliveries", 60, "counter", later)  # warning
    run_job(stack)
    clock.advance(1500)  # worker stale turns critical
    run_job(stack)
    answer = stack.call("GET", "/admin/v1/alerts", viewer).json
    order = [(a["severity"], a["id"]) for a in answer["active_alerts"]]
    assert order == [("critical", "alert_worker_stale"), ("warning", "alert_federation_failures"),
                     ("info", "alert_spam_spike")]
    assert answer["total_count"] == 3
    assert set(answer["active_alerts"][0]) == {"id", "severity", "component", "message",
                                               "started_at", "details"}


def test_clear_by_others_is_not_listed(stack, viewer):
    """Rows of rules that no longer exist, or cleared rows, are never listed."""
    Alert(id="alert_retired", severity="warning", component="x", message="m",
          started_at=1, details={}, active="true").save()
    Alert(id="alert_high_cpu", severity="warning", component="server", message="m",
          started_at=1, details={}, cleared_at=2).save()
    assert listed(stack, viewer) == {}


def test_job_is_scheduled_every_minute():
    import app
    from chalicelib import features
    assert features.JOBS["alerts"].minutes == 1
    assert app.job_alerts is not None
