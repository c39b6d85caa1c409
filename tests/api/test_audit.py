"""GET /admin/v1/audit and /admin/v1/audit/export (seed 004)."""
import csv
import io
import json

import pytest

from chalicelib.core import clock
from chalicelib.identity import audit
from chalicelib.identity.principal import Origin, Principal
from chalicelib.store.tables import RateCounter

ALICE = Principal(subject="a1b2c3d4e5f61728394a5b6c7d8e9f10@server.com", kind="device")
BOB = Principal(subject="f1e2d3c4b5a6978869504132e1f2d3c4@server.com", kind="device")
ORIGIN = Origin(ip_address="192.168.1.100", user_agent="CryptidAdmin/1.0")


@pytest.fixture
def trail(stack, frozen_clock):
    """Six entries an hour apart, the newest first in time order of writing last."""
    token = stack.token_with(["view_audit"])
    base = clock.now_int()
    rows = [(ALICE, "device_verified", "dev1@server.com", {"reason": "Known community member"}),
            (BOB, "federation_blocked", "spam-factory.com", {"reason": "Excessive spam"}),
            (ALICE, "config_updated", "server_config", {"updated_fields": ["x.y"]}),
            (BOB, "device_verified", "dev2@server.com", {"reason": "Vouched"}),
            (ALICE, "federation_blocked", "bad.example", {"reason": "Abuse"}),
            (ALICE, "device_verified", "dev1@server.com", {"reason": "Again"})]
    clock.advance(-6 * 3600)
    for actor, action, target, details in rows:
        clock.advance(3600)
        audit.record(actor, action, target, details, ORIGIN)
    assert clock.now_int() == base
    return stack, token


def get(stack, token, query=""):
    return stack.call("GET", "/admin/v1/audit" + query, token)


def mine(answer):
    """Entries written by the fixture (the token's own admin_login is excluded)."""
    return [e for e in answer.json["entries"] if e["action"] != "admin_login"]


def test_default_window_is_last_24h_newest_first(trail):
    stack, token = trail
    answer = get(stack, token)
    assert answer.status == 200
    assert set(answer.json) == {"entries", "total_count", "has_more", "next_offset"}
    entries = mine(answer)
    assert [e["target"] for e in entries][:2] == ["dev1@server.com", "bad.example"]
    assert entries[0]["details"] == {"reason": "Again"}
    assert set(entries[0]) == {"id", "timestamp", "action", "admin", "target", "details",
                               "ip_address", "user_agent"}
    assert entries[0]["ip_address"] == "192.168.1.100"
    ts = [e["timestamp"] for e in answer.json["entries"]]
    assert ts == sorted(ts, reverse=True)


@pytest.mark.parametrize("query,expected", [
    ("?action=device_verified", 3),
    (f"?admin={ALICE.subject}", 4),
    ("?target=dev1@server.com", 2),
    (f"?action=device_verified&admin={ALICE.subject}", 2),
    (f"?action=federation_blocked&target=bad.example&admin={ALICE.subject}", 1),
])
def test_filters(trail, query, expected):
    stack, token = trail
    answer = get(stack, token, query)
    assert answer.json["total_count"] == expected == len(answer.json["entries"])


def test_time_window(trail):
    stack, token = trail
    now = clock.now_int()
    answer = get(stack, token, f"?since={now - 2 * 3600}&until={now - 3600}&action=federation_blocked")
    assert [e["target"] for e in answer.json["entries"]] == ["bad.example"]  # bounds inclusive
    answer = get(stack, token, f"?since={now - 2 * 3600}&until={now - 3600}")
    assert [e["target"] for e in answer.json["entries"]] == ["bad.example", "dev2@server.com"]
    answer = get(stack, token, f"?since={now - 2 * 3600 + 1}&until={now - 3600 - 1}")
    assert answer.json["entries"] == [] and answer.json["total_count"] == 0


def test_paging(trail):
    stack, token = trail
    first = get(stack, token, "?action=device_verified&limit=2")
    assert first.json["has_more"] is True and first.json["next_offset"] == 2
    second = get(stack, token, "?action=device_verified&limit=2&offset=2")
    assert second.json["has_more"] is False and second.json["next_offset"] is None
    ids = [e["id"] for e in first.json["entries"] + second.json["entries"]]
    assert len(set(ids)) == 3
    assert get(stack, token, "?offset=100").json["entries"] == []


@pytest.mark.parametrize("query", ["?limit=1001", "?limit=0", "?since=abc", "?offset=-1",
                                   "?since=100&until=50"])
def test_bad_queries_are_400(trail, query):
    stack, token = trail
    answer = get(stack, token, query)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR"


def test_spans_months_without_scanning(stack):
    from testing.aws_calls import operations, recording
    token = stack.token_with(["view_audit"])
    clock.advance(-40 * 86400)
    audit.record(ALICE, "device_verified", "old@server.com", {}, ORIGIN)
    clock.advance(40 * 86400)
    since = clock.now_int() - 45 * 86400
    with recording() as calls:
        answer = get(stack, token, f"?since={since}&target=old@server.com")
        assert answer.json["total_count"] == 1
        answer = get(stack, token, f"?since={since}")
        assert "old@server.com" in [e["target"] for e in answer.json["entries"]]
    assert "Scan" not in operations(calls)


def test_export_csv_has_seed_columns(trail):
    stack, token = trail
    answer = stack.call("GET", "/admin/v1/audit/export?format=csv&action=device_verified", token)
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0]) == ["id", "timestamp", "action", "admin", "target", "details", "ip_address"]
    assert len(rows) == 3 and rows[0]["details"] == "Again"
    assert rows[2]["details"] == "Known community member"


def test_export_json_and_csv_agree(trail):
    stack, token = trail
    as_json = stack.call("GET", "/admin/v1/audit/export?format=json", token).json
    as_csv = list(csv.DictReader(io.StringIO(
        stack.call("GET", "/admin/v1/audit/export?format=csv", token).text)))
    assert [e["id"] for e in as_json["entries"]] == [r["id"] for r in as_csv]
    assert as_json["next_cursor"] is None
    config_row = [r for r in as_csv if r["action"] == "config_updated"][0]
    assert json.loads(config_row["details"]) == {"updated_fields": ["x.y"]}


def test_export_pages_with_cursor(trail, monkeypatch):
    stack, token = trail
    monkeypatch.setattr(audit, "EXPORT_PAGE", 2)
    seen, cursor = [], None
    for _ in range(10):
        query = "?format=json" + (f"&cursor={cursor.replace('#', '%23')}" if cursor else "")
        answer = stack.call("GET", "/admin/v1/audit/export" + query, token)
        seen += [e["id"] for e in answer.json["entries"]]
        cursor = answer.json["next_cursor"]
        if cursor:
            assert answer.headers["X-Next-Cursor"] == cursor
        else:
            break
    full = stack.call("GET", "/admin/v1/audit?limit=1000", token).json
    assert seen == [e["id"] for e in full["entries"]] and len(seen) == len(set(seen))


def test_audit_query_limit_is_1000_per_hour(trail):
    stack, token = trail
    now = clock.now_int()
    subject = [e for e in get(stack, token).json["entries"] if e["action"] == "admin_login"][0]["admin"]
    RateCounter(key=f"audit_queries#{subject}#{now - now % 3600}", count=1000).save()
    refused = get(stack, token)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert stack.call("GET", "/admin/v1/audit/export", token).status == 429


def test_view_audit_needed(stack):
    token = stack.token_with(["view_metrics"])
    assert get(stack, token).status == 403
