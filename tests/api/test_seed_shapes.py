"""Every example answer of seed 004 is matched key for key (recursively) by ours: the
seed's JSON is read from the vendored seed text, so a drift in either fails here."""
import json
from pathlib import Path

import pytest

from chalicelib.core import clock

SEED = Path(__file__).resolve().parents[1] / "seeds" / "server_admin_api.txt"


def seed_examples():
    text, out, depth, start = SEED.read_text(), [], 0, None
    for i, c in enumerate(text):
        if c == "{":
            start = i if depth == 0 else start
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                try:
                    out.append(json.loads(text[start:i + 1]))
                except ValueError:
                    pass
    return out


def example_with(*keys):
    for block in seed_examples():
        if set(keys) <= set(block):
            return block
    raise AssertionError(f"no seed example has {keys}")


def missing_keys(seed, ours, path="$"):
    """Keys the seed shows that our answer lacks (lists: compare first elements)."""
    if isinstance(seed, dict):
        if not isinstance(ours, dict):
            return [path]
        out = []
        for key, value in seed.items():
            if key not in ours:
                out.append(f"{path}.{key}")
            elif key != "details":  # an entry's details depend on its action
                out += missing_keys(value, ours[key], f"{path}.{key}")
        return out
    if isinstance(seed, list) and seed and isinstance(seed[0], dict):
        if not ours:
            return []  # no element to compare (e.g. no entries yet)
        return missing_keys(seed[0], ours[0], f"{path}[0]")
    return []


@pytest.fixture
def admin(stack):
    token = stack.device_login(stack.admin_key, stack.register_device(stack.admin_key)).json
    return stack, token


def test_login_answers(admin):
    stack, login = admin
    assert missing_keys(example_with("admin_token", "admin_level"), login) == []
    assert missing_keys(example_with("challenge", "expires_at"),
                        stack.call("GET", "/admin/v1/auth/challenge").json) == []
    refreshed = stack.call("POST", "/admin/v1/auth/refresh", login["admin_token"]).json
    refresh_example = next(b for b in seed_examples() if set(b) == {"admin_token", "expires_at"})
    assert set(refreshed) == set(refresh_example)


def test_config_answers(admin):
    stack, login = admin
    token = login["admin_token"]
    config = stack.call("GET", "/admin/v1/config", token).json
    assert missing_keys(example_with("server", "registration", "storage"), config) == []
    assert set(config) == set(example_with("server", "registration", "storage"))
    patch = example_with("progressive_trust", "registration", "server")
    if "storage" in patch:
        patch = next(b for b in seed_examples() if set(b) == {"progressive_trust", "registration", "server"})
    answer = stack.call("PATCH", "/admin/v1/config", token, body=patch).json
    seed_answer = example_with("config_updated_at", "updated_fields")
    assert set(answer) == set(seed_answer)
    assert answer["updated_fields"] == seed_answer["updated_fields"]
    assert answer["requires_restart"] is seed_answer["requires_restart"]


def test_metrics_and_timeseries_answers(admin):
    stack, login = admin
    token = login["admin_token"]
    stack.node("POST", "/internal/metrics", body={"samples": [
        {"name": "messages_sent", "value": 5, "kind": "counter"}]})
    metrics = stack.call("GET", "/admin/v1/metrics?period=24h", token).json
    assert missing_keys(example_with("devices", "messages", "performance"), metrics) == []
    series = stack.call("GET", "/admin/v1/metrics/timeseries?metric=messages_sent&period=7d&interval=1h",
                        token).json
    assert missing_keys(example_with("data_points", "aggregate"), series) == []


def test_audit_health_and_alerts_answers(admin):
    stack, login = admin
    token = login["admin_token"]
    stack.call("PATCH", "/admin/v1/config", token, body={"progressive_trust": {"new_tier_limit": 15}})
    audit = stack.call("GET", "/admin/v1/audit", token).json
    assert missing_keys(example_with("entries", "total_count"), audit) == []
    now = clock.now_int()
    assert all(abs(e["timestamp"] - now) < 60 for e in audit["entries"])
    stack.node("POST", "/internal/status", body={
        "message_queue": {"status": "healthy", "queue_size": 1, "details": "ok"},
        "federation": {"status": "healthy", "active_connections": 1, "details": "ok"},
        "websocket": {"status": "healthy", "active_connections": 1, "details": "ok"}})
    health = stack.call("GET", "/admin/v1/health", token).json
    healthy = next(b for b in seed_examples() if b.get("status") == "healthy")
    assert missing_keys(healthy, health) == []
    alerts = stack.call("GET", "/admin/v1/alerts", token).json
    assert missing_keys(example_with("active_alerts", "total_count"), alerts) == []


def test_error_answers_match_the_seed(admin):
    stack, login = admin
    for block in seed_examples():
        if set(block) == {"error", "message", "code"} and block["error"] == "INSUFFICIENT_PERMISSIONS":
            token = stack.token_with(["view_metrics"])
            answer = stack.call("PATCH", "/admin/v1/config", token, body={})
            assert answer.json == block
