"""Sagas (modules.sagas): started by their trigger's append, run step by step through the
"timers" queue, compensated in reverse order after a timeout or a failure, retried by an
operator; the routes on the internal and ops surfaces."""
import copy
import threading

import pytest

from chalicelib import features
from chalicelib.core import clock
from chalicelib.platform.sagas import service
from chalicelib.store import reactions
from chalicelib.store.keys import stream_key
from chalicelib.store.tables import AuditEntry, SagaInstance, SagaWaiter, StoredEvent
from local import consumer
from tests.api.test_export import ACTOR

CART, PRODUCT = "CART00001", "PR0D00001"


def _event(schema_props=None, required=()):
    return {"schema": {"type": "object", "properties": schema_props or {},
                       "required": list(required)}, "handler": []}


SPEC = {
    "aggregate_types": {
        "cart": {"events": {
            "checkout_started": _event({"product_id": {"type": "string"},
                                        "quantity": {"type": "integer"},
                                        "amount": {"type": "number"}}),
            "was_confirmed": _event(),
            "was_cancelled": _event(),
        }},
        "inventory": {"events": {
            "reservation_requested": _event({"quantity": {"type": "integer"}}, ["quantity"]),
            "was_reserved": _event({"reservation": {"type": "string"}}),
            "reservation_failed": _event(),
            "reservation_released": _event({"reservation": {"type": "string"}}),
        }},
        "payment": {"events": {
            "charge_requested": _event({"amount": {"type": "number"}}),
            "was_charged": _event({"charge": {"type": "string"}}),
            "refunded": _event({"charge": {"type": "string"}}, ["charge"]),
        }},
        "shipment": {"events": {
            "ship_requested": _event(),
            "was_shipped": _event(),
        }},
    },
    "agent_types": ["user"],
    "modules": {"sagas": {"checkout": {
        "trigger": {"aggregate_type": "cart", "event_type": "checkout_started"},
        "steps": [
            {"name": "reserve_inventory",
             "emit": {"aggregate_type": "inventory", "id": "$.data.product_id",
                      "event_type": "reservation_requested",
                      "data": {"quantity": "$.data.quantity"}},
             "await": {"aggregate_type": "inventory",
                       "event_types": ["was_reserved", "reservation_failed"]},
             "compensate": {"aggregate_type": "inventory", "id": "$.data.product_id",
                            "event_type": "reservation_released",
                            "data": {"reservation": "$prev.data.reservation"}},
             "timeout_ms": 30000},
            {"name": "charge_payment",
             "condition": {"equals": ["$prev.type", "was_reserved"]},
             "emit": {"aggregate_type": "payment", "id": "$.id",
                      "event_type": "charge_requested", "data": {"amount": "$.data.amount"}},
             "await": {"aggregate_type": "payment", "event_types": ["was_charged"]},
             "compensate": {"aggregate_type": "payment", "id": "$.id",
                            "event_type": "refunded", "data": {"charge": "$prev.data.charge"}},
             "timeout": "1m"},
            {"name": "ship",
             "emit": {"aggregate_type": "shipment", "id": "$.id",
                      "event_type": "ship_requested", "data": {}},
             "await": {"aggregate_type": "shipment", "event_types": ["was_shipped"]},
             "timeout_ms": 5000},
            {"name": "confirm",
             "emit": {"aggregate_type": "cart", "id": "$.id", "event_type": "was_confirmed"}},
        ],
    }}},
}


class World:
    def __init__(self, stack):
        self.stack = stack
        self.token = stack.operator_token()
        self.inst = stack.call("POST", "/api/instances", self.token,
                               body={"name": "shop"}).json["id"]
        self.deploy(SPEC)
        self.key = stack.call("POST", f"/api/instances/{self.inst}/keys", self.token,
                              body={"name": "w", "scope": "write",
                                    "environment": "prod"}).json["key"]
        self.ops = f"/api/instances/{self.inst}/ops/prod"
        self.internal = f"/internal/instances/{self.inst}/prod"

    def deploy(self, spec, expect=(200, 201)):
        answer = self.stack.call("POST", f"/api/instances/{self.inst}/spec", self.token,
                                 body={"environment": "prod", "spec": spec})
        assert answer.status in expect, answer
        from chalicelib.store import specs
        specs.clear_cache()
        return answer

    def append(self, agg, agg_id, event, data=None):
        answer = self.stack.call("POST", f"/data/{agg}/{agg_id}/{event}",
                                 headers={"Authorization": f"Bearer {self.key}"},
                                 body={"data": data or {}, "metadata": ACTOR})
        assert answer.status == 201, answer
        return answer.json

    def events(self, agg, agg_id):
        return list(StoredEvent.query(stream_key(self.inst, "prod", agg, agg_id)))

    def saga(self, saga_id=None):
        path = f"{self.ops}/sagas/{saga_id or self.only().id}"
        answer = self.stack.call("GET", path, self.token)
        assert answer.status == 200, answer
        return answer.json

    def only(self):
        [item] = list(SagaInstance.scan())
        return item

    def statuses(self):
        return [s["status"] for s in self.saga()["steps"]]

    def start(self, amount=12.5):
        self.append("cart", CART, "checkout_started",
                    {"product_id": PRODUCT, "quantity": 2, "amount": amount})
        return consumer.drain(queue="timers")


@pytest.fixture
def world(stack, frozen_clock):
    return World(stack)


def drain():
    return consumer.drain(queue="timers")


def audits(action):
    return sorted((e for e in AuditEntry.scan() if e.action == action),
                  key=lambda e: e.sort_key)


# --- a saga that succeeds ----------------------------------------------------------------

def test_saga_runs_to_completion(world):
    w = world
    w.append("cart", CART, "checkout_started",
             {"product_id": PRODUCT, "quantity": 2, "amount": 12.5})
    item = w.only()   # written in the trigger's own transaction, before any message
    assert item.status == "running" and item.saga == "checkout"
    assert (item.trigger_type, item.trigger_id, int(item.trigger_position)) == ("cart", CART, 0)
    assert "12.5" not in str(item.attribute_values)   # references, never the data
    drain()
    [requested] = w.events("inventory", PRODUCT)
    assert requested.event_type == "reservation_requested"
    assert requested.data == {"quantity": 2}
    assert requested.metadata == {"actor": ACTOR["actor"], "saga_id": item.id,
                                  "saga_step": "reserve_inventory"}
    saga = w.saga()
    assert saga["status"] == "running" and saga["current_step"] == 0
    step = saga["steps"][0]
    assert step["status"] == "awaiting" and step["attempts"] == 1
    assert step["awaits"] == {"aggregate_type": "inventory", "aggregate_id": PRODUCT,
                              "event_types": ["was_reserved", "reservation_failed"]}
    assert step["emitted_at"] and step["deadline_at"] > step["emitted_at"]
    assert [s["status"] for s in saga["steps"][1:]] == ["pending"] * 3

    clock.advance(2)
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "RSV-1"})
    [waiter] = list(SagaWaiter.scan())   # the arrival, recorded in the append's transaction
    assert waiter.arrival == "arrived" and int(waiter.arrived_position) == 1
    drain()
    saga = w.saga()
    assert w.statuses() == ["completed", "awaiting", "pending", "pending"]
    assert saga["steps"][0]["awaited"] == {
        "aggregate_type": "inventory", "aggregate_id": PRODUCT, "event_type": "was_reserved",
        "position": 1, "stream_id": f"inventory/{PRODUCT}@1"}
    [charge] = w.events("payment", CART)
    assert charge.event_type == "charge_requested" and charge.data == {"amount": 12.5}

    clock.advance(2)
    w.append("payment", CART, "was_charged", {"charge": "CH-1"})
    drain()
    assert w.statuses() == ["completed", "completed", "awaiting", "pending"]
    w.append("shipment", CART, "was_shipped")
    drain()
    saga = w.saga()
    assert saga["status"] == "completed" and w.statuses() == ["completed"] * 4
    assert [e.event_type for e in w.events("cart", CART)] == ["checkout_started",
                                                              "was_confirmed"]
    assert all(s["completed_at"] for s in saga["steps"])
    assert SagaWaiter.count() == 0 and w.only().due_at is None   # nothing left to sweep
    entries = audits("saga_step_emitted")
    assert sorted(e.details["step"] for e in entries) == ["charge_payment", "confirm",
                                                          "reserve_inventory", "ship"]
    assert entries[0].admin == "system:sagas"
    assert entries[0].target == f"{w.inst}/prod/sagas/{item.id}"
    assert all("RSV" not in str(e.details) and "12.5" not in str(e.details) for e in entries)


def test_condition_false_skips_the_step(world):
    w = world
    w.start()
    w.append("inventory", PRODUCT, "reservation_failed")
    drain()
    assert w.statuses() == ["completed", "skipped", "awaiting", "pending"]
    assert w.events("payment", CART) == []
    w.append("shipment", CART, "was_shipped")
    drain()
    assert w.saga()["status"] == "completed"
    assert w.statuses() == ["completed", "skipped", "completed", "completed"]


def test_event_of_another_aggregate_or_type_does_not_satisfy(world):
    w = world
    w.start()
    w.append("inventory", "PR0D00002", "was_reserved", {"reservation": "x"})
    w.append("inventory", PRODUCT, "reservation_released", {})
    drain()
    assert w.statuses()[0] == "awaiting"


def test_awaited_event_written_by_the_emits_own_implication(world):
    """An await satisfied in the very append of the step's emit (an implication)."""
    w = world
    spec = copy.deepcopy(SPEC)
    spec["aggregate_types"]["inventory"]["events"]["reservation_requested"]["implications"] = [
        {"emit": {"aggregate_type": "inventory", "id": "$.data.product",
                  "event_type": "was_reserved", "data": {"reservation": "AUTO"}}}]
    spec["modules"]["sagas"]["checkout"]["steps"][0]["emit"]["data"]["product"] = \
        "$.data.product_id"
    spec["aggregate_types"]["inventory"]["events"]["reservation_requested"]["schema"][
        "properties"]["product"] = {"type": "string"}
    w.deploy(spec)
    w.start()
    assert w.statuses() == ["completed", "awaiting", "pending", "pending"]
    assert w.saga()["steps"][0]["awaited"]["position"] == 1


# --- timeouts and compensation -------------------------------------------------------------

@pytest.fixture
def emitted(monkeypatch):
    seen = []
    real = reactions.emit

    def spy(instance_id, env, agg_type, agg_id, event_type, *args, **kwargs):
        out = real(instance_id, env, agg_type, agg_id, event_type, *args, **kwargs)
        seen.append((agg_type, event_type))
        return out
    monkeypatch.setattr(service.reactions, "emit", spy)
    return seen


def _to_ship(w):
    w.start()
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "RSV-1"})
    drain()
    w.append("payment", CART, "was_charged", {"charge": "CH-1"})
    drain()
    assert w.statuses() == ["completed", "completed", "awaiting", "pending"]


def test_timeout_compensates_completed_steps_in_reverse_order(world, emitted):
    w = world
    _to_ship(w)
    clock.advance(4)
    assert features.run("saga_sweep")["sent"] == 0      # not due yet
    drain()
    assert w.statuses()[2] == "awaiting"
    clock.advance(1.5)                                  # past the 5000 ms timeout
    assert features.run("saga_sweep")["sent"] == 1
    drain()
    saga = w.saga()
    assert saga["status"] == "compensated"
    assert w.statuses() == ["compensated", "compensated", "timed_out", "pending"]
    assert "was_shipped within 5000 ms" in saga["steps"][2]["error"]
    assert emitted[-2:] == [("payment", "refunded"), ("inventory", "reservation_released")]
    refund = w.events("payment", CART)[-1]
    assert refund.data == {"charge": "CH-1"}      # $prev: the event its own step awaited
    assert refund.metadata["saga_step"] == "charge_payment"
    release = w.events("inventory", PRODUCT)[-1]
    assert release.data == {"reservation": "RSV-1"}
    assert sorted(e.details["step"] for e in audits("saga_compensated")) == [
        "charge_payment", "reserve_inventory"]
    assert SagaWaiter.count() == 0 and w.only().due_at is None
    # a late arrival changes nothing
    w.append("shipment", CART, "was_shipped")
    drain()
    assert w.saga()["status"] == "compensated"


def test_timeout_message_alone_times_the_step_out(world):
    """The delayed message (not the sweeper) ends the await when it comes due."""
    w = world
    w.start()
    clock.advance(31)
    service.advance(w.only().scope, w.only().id, "timeout")
    assert w.statuses()[0] == "timed_out" and w.saga()["status"] == "compensated"
    assert [e.event_type for e in w.events("inventory", PRODUCT)] == ["reservation_requested"]


def test_a_refused_emit_fails_the_step_and_compensates(world):
    w = world
    spec = copy.deepcopy(SPEC)
    spec["aggregate_types"]["payment"]["events"]["charge_requested"]["schema"]["required"] = [
        "currency"]
    w.deploy(spec)
    w.start()
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "RSV-1"})
    drain()
    saga = w.saga()
    assert saga["status"] == "compensated"
    assert w.statuses() == ["compensated", "failed", "pending", "pending"]
    assert saga["steps"][1]["error"].startswith("SCHEMA_VIOLATION")


def test_a_failed_compensation_fails_the_saga_and_retry_compensates_again(world):
    w = world
    w.start()
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "RSV-1"})
    drain()
    w.append("payment", CART, "was_charged", {})        # no charge: refunded needs one
    drain()
    clock.advance(6)
    features.run("saga_sweep")
    drain()
    saga = w.saga()
    assert saga["status"] == "failed" and "compensation of charge_payment" in saga["error"]
    assert w.statuses() == ["completed", "compensation_failed", "timed_out", "pending"]
    # the operator fixes the spec; retry compensates under it
    spec = copy.deepcopy(SPEC)
    spec["aggregate_types"]["payment"]["events"]["refunded"]["schema"]["required"] = []
    w.deploy(spec)
    answer = w.stack.call("POST", f"{w.ops}/sagas/{saga['id']}/retry", w.token)
    assert answer.status == 200, answer
    assert answer.json["status"] == "compensating"
    drain()
    assert w.saga()["status"] == "compensated"
    assert w.statuses() == ["compensated", "compensated", "timed_out", "pending"]
    [entry] = audits("saga_retried")
    assert entry.admin == "admin@example.com" and entry.details["retry"] == "compensation"


def test_retry_of_a_compensated_saga_starts_again(world):
    w = world
    w.start()
    clock.advance(31)
    features.run("saga_sweep")
    drain()
    saga = w.saga()
    assert saga["status"] == "compensated"
    refused = w.stack.call("POST", f"{w.ops}/sagas/{saga['id']}/retry", w.token)
    assert refused.status == 200, refused
    assert refused.json["status"] == "running" and refused.json["run"] == 2
    drain()
    saga = w.saga()
    assert saga["steps"][0]["status"] == "awaiting" and saga["steps"][0]["attempts"] == 2
    assert [e.event_type for e in w.events("inventory", PRODUCT)] == [
        "reservation_requested", "reservation_requested"]
    # a running saga is not retried
    again = w.stack.call("POST", f"{w.ops}/sagas/{saga['id']}/retry", w.token)
    assert again.status == 409 and again.json["error"] == "SAGA_NOT_RETRYABLE"
    assert [e.details["retry"] for e in audits("saga_retried")] == ["restart"]
    # the new run's await is satisfied by an event appended now
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "RSV-2"})
    drain()
    assert w.statuses()[:2] == ["completed", "awaiting"]


# --- duplicates ---------------------------------------------------------------------------

def test_duplicate_messages_do_the_work_once(world):
    w = world
    w.append("cart", CART, "checkout_started",
             {"product_id": PRODUCT, "quantity": 2, "amount": 1})
    item = w.only()
    for _ in range(3):
        service.send(item.scope, item.id, "start")
    assert drain() >= 4     # (a delayed message of an earlier test may surface too)
    assert len(w.events("inventory", PRODUCT)) == 1
    assert w.saga()["steps"][0]["attempts"] == 1
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "R"})
    for _ in range(2):
        service.send(item.scope, item.id, "arrival")
    drain()
    assert len(w.events("payment", CART)) == 1
    assert len(audits("saga_step_emitted")) == 2


def test_two_copies_at_once_emit_once(world):
    w = world
    w.append("cart", CART, "checkout_started",
             {"product_id": PRODUCT, "quantity": 2, "amount": 1})
    stale, other = w.only(), w.only()     # two copies read the saga at version 1
    assert service._turn(other, "start") == "awaiting"
    # the other copy's guarded emit is refused: nothing appended, it looks again
    assert service._turn(stale, "start") is None
    assert len(w.events("inventory", PRODUCT)) == 1
    # and two threads at once
    clock.advance(31)
    outcomes = []

    def copy_of_the_message():
        try:
            outcomes.append(service.advance(stale.scope, stale.id, "timeout"))
        except Exception as exc:  # noqa: BLE001 - shown by the assertion
            outcomes.append(repr(exc))
    threads = [threading.Thread(target=copy_of_the_message) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # a copy may also lose to the other inside DynamoDB (a transaction conflict): its
    # message then comes back, and finds the work done
    assert "compensated" in outcomes and all(
        o == "compensated" or "Conflict" in o or "Cancel" in o for o in outcomes), outcomes
    assert service.advance(stale.scope, stale.id, "timeout") == "compensated"
    assert len(w.events("inventory", PRODUCT)) == 1
    assert w.statuses()[0] == "timed_out"
    assert len(audits("saga_step_emitted")) == 1


def test_lost_messages_are_made_up_by_the_sweeper(world, monkeypatch):
    w = world
    monkeypatch.setattr(service.queues, "offer", lambda *a, **k: False)   # every send lost
    w.append("cart", CART, "checkout_started",
             {"product_id": PRODUCT, "quantity": 2, "amount": 1})
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "R"})  # before its await
    monkeypatch.undo()
    drain()
    assert w.statuses()[0] == "running"                    # nobody told the saga
    clock.advance(service.GRACE_SECONDS + 1)
    assert features.run("saga_sweep")["sent"] == 1
    assert features.run("saga_sweep")["sent"] == 0        # not sent again each minute
    drain()
    assert w.statuses()[0] == "awaiting"                   # the early event did not count
    monkeypatch.setattr(service.queues, "offer", lambda *a, **k: False)
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "R2"})
    monkeypatch.undo()
    drain()
    assert w.statuses()[0] == "awaiting"                   # nobody told the saga
    clock.advance(service.GRACE_SECONDS + 1)
    assert features.run("saga_sweep")["arrivals"] == 1
    drain()
    assert w.statuses()[:2] == ["completed", "awaiting"]


def test_tombstoned_trigger_cancels_the_saga(world):
    w = world
    w.start()
    stream = stream_key(w.inst, "prod", "cart", CART)
    event = StoredEvent.get(stream, 0)
    event.update(actions=[StoredEvent.tombstoned.set({"_was_tombstoned": True})])
    w.append("inventory", PRODUCT, "was_reserved", {"reservation": "R"})
    drain()
    saga = w.saga()
    assert saga["status"] == "cancelled" and saga["error"] == "source event was tombstoned"
    assert w.events("payment", CART) == []


def test_no_saga_work_for_events_no_saga_names(world, monkeypatch):
    w = world
    calls = []
    monkeypatch.setattr(SagaWaiter, "query", classmethod(lambda cls, *a, **k: calls.append(a)
                                                         or iter(())))
    w.append("cart", "CART00002", "was_confirmed")
    w.append("inventory", PRODUCT, "reservation_requested", {"quantity": 1})
    assert calls == [] and SagaInstance.count() == 0
    w.append("inventory", PRODUCT, "was_reserved", {})
    assert len(calls) == 1


# --- deploy refusals -----------------------------------------------------------------------

def test_deploy_refuses_bad_sagas_at_their_paths(world):
    w = world
    spec = copy.deepcopy(SPEC)
    steps = spec["modules"]["sagas"]["checkout"]["steps"]
    steps[0]["timeout_ms"] = 10
    steps[0]["condition"] = {"equals": ["$prev.type", "x"]}
    steps[1]["await"]["event_types"] = ["was_charged", "was_paid"]
    steps[3]["timeout_ms"] = 5000
    steps[2]["compensate"] = {"aggregate_type": "shipment", "id": "$.id",
                              "event_type": "ship_cancelled"}
    answer = w.deploy(spec, expect=(422,))
    assert answer.json["error"] == "INVALID_SPEC"
    base = "$.modules.sagas.checkout.steps"
    found = {d["path"]: d["message"] for d in answer.json["details"]}
    assert set(found) == {f"{base}[0].timeout_ms", f"{base}[0].condition.equals[0]",
                          f"{base}[1].await.event_types[1]", f"{base}[3].timeout_ms",
                          f"{base}[2].compensate.event_type"}
    assert "minimum is 1000" in found[f"{base}[0].timeout_ms"]
    assert "no earlier step has an await" in found[f"{base}[0].condition.equals[0]"]
    assert "this step awaits nothing" in found[f"{base}[3].timeout_ms"]


# --- routes --------------------------------------------------------------------------------

def test_routes_on_both_surfaces_and_permissions(world):
    w = world
    w.start()
    first = w.only().id
    clock.advance(1)
    w.append("cart", "CART00002", "checkout_started",
             {"product_id": PRODUCT, "quantity": 1, "amount": 3})
    drain()
    clock.advance(31)
    features.run("saga_sweep")
    drain()
    ids = {s.id for s in SagaInstance.scan()}
    second = (ids - {first}).pop()
    for base, call in ((w.ops, lambda m, p: w.stack.call(m, p, w.token)),
                       (w.internal, lambda m, p: w.stack.node(m, p))):
        listed = call("GET", base + "/sagas")
        assert listed.status == 200, listed
        assert [s["id"] for s in listed.json["sagas"]] == [second, first]
        page = call("GET", base + "/sagas?limit=1").json
        assert [s["id"] for s in page["sagas"]] == [second] and page["next_cursor"] == second
        rest = call("GET", f"{base}/sagas?limit=1&cursor={page['next_cursor']}").json
        assert [s["id"] for s in rest["sagas"]] == [first] and rest["next_cursor"] is None
        assert call("GET", base + "/sagas?name=checkout").json["sagas"]
        assert call("GET", base + "/sagas?name=other").json["sagas"] == []
        assert call("GET", base + "/sagas?status=running").json["sagas"] == []
        assert len(call("GET", base + "/sagas?status=compensated").json["sagas"]) == 2
        assert call("GET", base + "/sagas?status=nope").status == 400
        assert call("GET", base + "/sagas?cursor=nope").status == 400
        detail = call("GET", f"{base}/sagas/{first}")
        assert detail.status == 200 and len(detail.json["steps"]) == 4
        missing = call("GET", f"{base}/sagas/sg_0000000000000000000000000")
        assert missing.status == 404 and missing.json["error"] == "SAGA_NOT_FOUND"
        missing = call("POST", f"{base}/sagas/sg_0000000000000000000000000/retry")
        assert missing.status == 404 and missing.json["error"] == "SAGA_NOT_FOUND"
    assert w.stack.call("POST", f"{w.ops}/sagas/{first}/retry", w.token).status == 200
    assert w.stack.node("POST", f"{w.internal}/sagas/{second}/retry").status == 200
    assert sorted(e.admin for e in audits("saga_retried")) == ["admin@example.com", "node"]
    token = w.stack.token_with(["view_instances", "load_data"])
    for method, path in (("GET", "/sagas"), ("GET", f"/sagas/{first}"),
                         ("POST", f"/sagas/{first}/retry")):
        answer = w.stack.call(method, w.ops + path, token)
        assert answer.status == 403 and answer.json["error"] == "INSUFFICIENT_PERMISSIONS"
    assert w.stack.call("GET", w.internal + "/sagas").status == 401
    assert len(audits("saga_retried")) == 2


def test_transient_failures_are_retried_then_fail_the_step(world, monkeypatch):
    w = world
    from chalicelib.core.errors import AppError
    w.append("cart", CART, "checkout_started",
             {"product_id": PRODUCT, "quantity": 2, "amount": 1})
    item = w.only()

    def down(*args, **kwargs):
        raise AppError("SERVICE_UNAVAILABLE", "the store is down")
    monkeypatch.setattr(service.reactions, "emit", down)
    for attempt in (1, 2):
        with pytest.raises(AppError):       # the message comes back
            service.advance(item.scope, item.id, "start")
        step = w.saga()["steps"][0]
        assert step["status"] == "running" and step["attempts"] == attempt
        assert "the store is down" in step["error"]
    monkeypatch.undo()
    assert drain() >= 1                     # the pending start message: it recovers
    step = w.saga()["steps"][0]
    assert step["status"] == "awaiting" and step["attempts"] == 3 and step["error"] is None
    # three failures in a row fail the step
    w.append("cart", "CART00002", "checkout_started",
             {"product_id": PRODUCT, "quantity": 2, "amount": 1})
    other = [s for s in SagaInstance.scan() if s.trigger_id == "CART00002"][0]
    monkeypatch.setattr(service.reactions, "emit", down)
    for _ in range(2):
        with pytest.raises(AppError):
            service.advance(other.scope, other.id, "start")
    assert service.advance(other.scope, other.id, "start") == "compensated"
    saga = w.saga(other.id)
    assert saga["steps"][0]["status"] == "failed" and saga["steps"][0]["attempts"] == 3
