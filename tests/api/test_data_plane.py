"""The data plane: appends, reads, concurrency control, idempotency."""
import pytest

from chalicelib.core import clock
from chalicelib.store import keys as store_keys
from chalicelib.store.tables import StoredEvent, StreamHead, StreamTypeCounter
from testing.specs import ORDER_SPEC

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


class Plane:
    def __init__(self, stack, keys):
        self.stack, self.keys = stack, keys

    def call(self, method, path, body=None, scope="write", env="prod", headers=None):
        hdrs = {"Authorization": f"Bearer {self.keys[(scope, env)]}", **(headers or {})}
        return self.stack.call(method, "/data" + path, body=body, headers=hdrs)

    def append(self, agg, event, data, metadata=None, **kw):
        return self.call("POST", f"/order/{agg}/{event}",
                         body={"data": data, "metadata": metadata or ACTOR}, **kw)


@pytest.fixture
def plane(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]
    keys = {}
    for env in ("prod", "staging"):
        stack.call("POST", f"/api/instances/{inst}/spec", token,
                   body={"environment": env, "spec": ORDER_SPEC})
        for scope in ("read", "write"):
            keys[(scope, env)] = stack.call("POST", f"/api/instances/{inst}/keys", token, body={
                "name": scope, "scope": scope, "environment": env}).json["key"]
    return Plane(stack, keys)


def test_append_and_read_state(plane):
    created = plane.append("0RDER0001", "created", {"customer": "C00000001", "total": 12.5})
    assert created.status == 201, created
    assert created.json["ok"] is True and created.json["stream_id"] == "order/0RDER0001@0"
    plane.append("0RDER0001", "item_added", {"sku": "A", "qty": 2})
    plane.append("0RDER0001", "item_added", {"sku": "B", "qty": 3})
    state = plane.call("GET", "/order/0RDER0001", scope="read")
    assert state.status == 200
    assert state.json["ok"] is True
    assert state.json["data"] == {"customer": "C00000001", "status": "open", "total": 12.5, "count": 5,
                                  "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 3}]}
    meta = state.json["metadata"]
    assert meta["length"] == 3 and meta["created_at"] <= meta["updated_at"]
    assert plane.call("GET", "/order/0RDER0001/length", scope="read").json == {"ok": True, "length": 3}


def test_emit_implication_is_written_with_the_event(plane):
    plane.append("0RDER0001", "created", {"customer": "C00000009", "total": 3})
    plane.append("0RDER0002", "created", {"customer": "C00000009", "total": 4})
    customer = plane.call("GET", "/customer/C00000009", scope="read").json
    assert customer["data"] == {"orders": 2} and customer["metadata"]["length"] == 2


def test_batch_is_atomic(plane):
    answer = plane.call("POST", "/order/0RDER0001", body={"events": [
        {"type": "created", "data": {"customer": "C00000001"}, "metadata": ACTOR},
        {"type": "item_added", "data": {"sku": "A", "qty": 1}, "metadata": ACTOR}]})
    assert answer.status == 201 and answer.json["length"] == 2
    bad = plane.call("POST", "/order/0RDER0002", body={"events": [
        {"type": "created", "data": {"customer": "C00000001"}, "metadata": ACTOR},
        {"type": "item_added", "data": {"sku": "A", "qty": 0}, "metadata": ACTOR}]})
    assert bad.status == 422 and bad.json["ok"] is False
    assert plane.call("GET", "/order/0RDER0002/length", scope="read").json["length"] == 0


def test_schema_failure_names_the_path(plane):
    answer = plane.append("0RDER0001", "item_added", {"sku": "A", "qty": "two"})
    assert answer.status == 422
    assert answer.json["ok"] is False and answer.json["code"] == "SCHEMA_VIOLATION"
    assert answer.json["details"][0]["path"] == "$.data.qty"
    email = plane.append("0RDER0001", "created", {"customer": "c", "email": "not-an-email"})
    assert email.status == 422 and email.json["details"][0]["path"] == "$.data.email"
    assert StoredEvent.count() == 0


@pytest.mark.parametrize("path,metadata,code", [
    ("/order/0RDER0001/shipped", ACTOR, "UNKNOWN_EVENT_TYPE"),
    ("/invoice/0RDER0001/created", ACTOR, "UNKNOWN_AGGREGATE_TYPE"),
    ("/order/0RDER0001/closed", {"actor": {"type": "robot", "id": "AGENT0002"}}, "SCHEMA_VIOLATION"),
    ("/order/0RDER0001/closed", {"actor": {"type": "user", "id": "AGENT0003"}, "target": {"type": "x", "id": "T00000001"}},
     "SCHEMA_VIOLATION"),
])
def test_spec_violations_are_422(plane, path, metadata, code):
    answer = plane.call("POST", path, body={"data": {}, "metadata": metadata})
    assert answer.status == 422 and answer.json["code"] == code


def test_missing_actor_is_400(plane):
    answer = plane.call("POST", "/order/0RDER0001/closed", body={"data": {}, "metadata": {}})
    assert answer.status == 400 and answer.json["ok"] is False


def test_previous_length_conflict_has_exact_message(plane):
    plane.append("0RDER0001", "created", {"customer": "C00000001"})
    ok = plane.append("0RDER0001", "closed", {}, {**ACTOR, "previous_length": 1})
    assert ok.status == 201
    stale = plane.append("0RDER0001", "closed", {}, {**ACTOR, "previous_length": 1})
    assert stale.status == 409
    assert stale.json["ok"] is False
    assert stale.json["error"] == "Concurrent write detected. Stream has 2 events, expected 1."
    assert "previous_length" not in str(StoredEvent.get(plane_stream(plane), 1).metadata)


def plane_stream(plane):
    return next(h.stream for h in StreamHead.scan() if h.scope_type.endswith("#order"))


def test_idempotency_key_replays_the_first_answer(plane):
    headers = {"X-Idempotency-Key": "req-1"}
    first = plane.append("0RDER0001", "created", {"customer": "C00000001"}, headers=headers)
    again = plane.append("0RDER0001", "created", {"customer": "C00000001"}, headers=headers)
    assert first.status == 201 and again.status in (200, 201)
    assert again.json["stream_id"] == first.json["stream_id"]
    assert again.json.get("idempotent_replay") is True
    assert plane.call("GET", "/order/0RDER0001/length", scope="read").json["length"] == 1
    # a retry that names the length it expected still gets the first answer
    with_len = {**ACTOR, "previous_length": 1}
    h2 = {"X-Idempotency-Key": "req-2"}
    assert plane.append("0RDER0001", "closed", {}, with_len, headers=h2).status == 201
    assert plane.append("0RDER0001", "closed", {}, with_len, headers=h2).json["stream_id"] == "order/0RDER0001@1"
    reused = plane.append("0RDER0001", "closed", {"other": 1}, headers=headers)
    assert reused.status == 422 and reused.json["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_read_keys_cannot_write_and_envs_are_separate(plane):
    denied = plane.append("0RDER0001", "created", {"customer": "C00000001"}, scope="read")
    assert denied.status == 403 and denied.json["ok"] is False
    plane.append("0RDER0001", "created", {"customer": "C00000001"})
    assert plane.call("GET", "/order/0RDER0001", scope="read", env="staging").status == 404
    assert plane.call("GET", "/order/0RDER0001", scope="read").status == 200


def test_state_at_a_past_time(plane):
    plane.append("0RDER0001", "created", {"customer": "C00000001"})
    between = clock.now() + 5
    clock.advance(10)
    plane.append("0RDER0001", "closed", {})
    past = plane.call("GET", f"/order/0RDER0001?at={between}", scope="read").json
    assert past["data"]["status"] == "open" and past["metadata"]["length"] == 1
    now = plane.call("GET", "/order/0RDER0001", scope="read").json
    assert now["data"]["status"] == "closed"
    before = plane.call("GET", "/order/0RDER0001?at=1", scope="read")
    assert before.status == 404


def test_unknown_aggregate_is_404_and_no_spec_is_404(plane, stack):
    answer = plane.call("GET", "/order/N0THNG001", scope="read")
    assert answer.status == 404 and answer.json["code"] == "AGGREGATE_NOT_FOUND"
    token = stack.operator_token()
    other = stack.call("POST", "/api/instances", token, body={"name": "empty"}).json["id"]
    key = stack.call("POST", f"/api/instances/{other}/keys", token,
                     body={"name": "w", "scope": "write", "environment": "prod"}).json["key"]
    answer = stack.call("POST", "/data/order/0RDER0001/created", headers={"Authorization": f"Bearer {key}"},
                        body={"data": {"customer": "c"}, "metadata": ACTOR})
    assert answer.status == 404 and answer.json["code"] == "SPEC_NOT_FOUND"


def test_append_is_one_round_trip_on_a_warm_stream(plane):
    plane.append("0RDER0001", "created", {"customer": "C00000001"})
    plane.append("0RDER0001", "item_added", {"sku": "A", "qty": 1})
    from chalicelib.identity import api_keys as key_service
    from chalicelib.platform.events.service import append, request_digest
    verified = key_service.verify(plane.keys[("write", "prod")])
    from testing.aws_calls import operations, recording
    with recording() as calls:
        append(verified, "order", "0RDER0001", [{"event_type": "item_added",
                                          "data": {"sku": "B", "qty": 1}, "metadata": ACTOR}],
               None, None, request_digest("x"))
    assert operations(calls) == ["TransactWriteItems"]


def test_state_too_large_is_refused_cleanly(plane, monkeypatch):
    from chalicelib.platform.events import service as event_store
    monkeypatch.setattr(event_store, "MAX_STATE_BYTES", 200)
    assert plane.append("0RDER0001", "created", {"customer": "C00000001"}).status == 201
    written = 1
    for _ in range(10):
        answer = plane.append("0RDER0001", "item_added", {"sku": "x" * 40, "qty": 1})
        if answer.status != 201:
            break
        written += 1
    assert answer.status == 422 and answer.json["code"] == "STATE_TOO_LARGE"
    assert 1 < written < 10
    assert plane.call("GET", "/order/0RDER0001/length", scope="read").json["length"] == written


def test_oversized_events_and_writes_are_refused_cleanly(plane, monkeypatch):
    from chalicelib.platform.events import service as event_store
    monkeypatch.setattr(event_store, "MAX_EVENT_BYTES", 500)
    big = plane.append("0RDER0001", "created", {"customer": "C00000001",
                                                "email": "c" * 600 + "@example.com"})
    assert big.status == 422 and big.json["code"] == "EVENT_TOO_LARGE"
    monkeypatch.setattr(event_store, "MAX_EVENT_BYTES", 300_000)
    monkeypatch.setattr(event_store, "MAX_WRITE_BYTES", 1_000)
    batch = plane.call("POST", "/order/0RDER0002", body={"events": [
        {"type": "created", "data": {"customer": "C00000001",
                                     "email": "c" * 300 + "@example.com"}, "metadata": ACTOR},
        {"type": "item_added", "data": {"sku": "s" * 300, "qty": 1}, "metadata": ACTOR},
        {"type": "item_added", "data": {"sku": "t" * 300, "qty": 1}, "metadata": ACTOR}]})
    assert batch.status == 422 and batch.json["code"] == "BATCH_TOO_LARGE"
    assert plane.call("GET", "/order/0RDER0001/length", scope="read").json["length"] == 0
    assert plane.call("GET", "/order/0RDER0002/length", scope="read").json["length"] == 0


def test_instance_details_count_usage(plane, stack):
    plane.append("0RDER0001", "created", {"customer": "C00000001"})  # + 1 implied customer event
    plane.append("0RDER0001", "closed", {}, env="staging")
    token = stack.operator_token()
    inst = stack.call("GET", "/api/instances", token).json["instances"][0]["id"]
    from testing.aws_calls import operations, recording
    with recording() as calls:
        usage = stack.call("GET", f"/api/instances/{inst}", token).json["usage"]
    month = store_keys.month_of(clock.now())
    assert usage == {"events": {"prod": 2, "staging": 1, "test": 0}, "events_total": 3,
                     "api_keys_active": 4,
                     "this_month": {"month": month,
                                    "events": {"prod": 2, "staging": 1, "test": 0},
                                    "events_total": 3, "allowance": 100_000,
                                    "remaining": 99_997, "percent_used": 0.0}}
    # the session, then the instance with its running totals (kept by the acts they count)
    assert sorted(operations(calls)) == ["BatchGetItem", "GetItem"]


def test_monthly_usage_starts_again_each_month_and_spreads_over_shards(plane, stack):
    for n in range(8):   # eight aggregates: their totals land in more than one shard
        plane.append(f"0RDER000{n + 2}", "closed", {})
    token = stack.operator_token()
    inst = stack.call("GET", "/api/instances", token).json["instances"][0]["id"]
    scope = store_keys.usage_key(inst)
    shards = {c.type_key for c in StreamTypeCounter.query(scope)} & set(
        store_keys.event_total_shards("prod"))
    assert len(shards) > 1
    clock.advance(32 * 86400)    # next month: the allowance is fresh, the all-time total stays
    assert plane.append("0RDER0002", "closed", {}).status == 201
    usage = stack.call("GET", f"/api/instances/{inst}", stack.operator_token()).json["usage"]
    assert usage["events"]["prod"] == 9
    assert usage["this_month"]["events"]["prod"] == 1
    assert usage["this_month"]["month"] == store_keys.month_of(clock.now())
