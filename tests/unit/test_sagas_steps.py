"""The pure rules of saga steps (chalicelib/domain/sagas.py)."""
import pytest

from chalicelib.domain import sagas

TRIGGER = sagas.event_view("cart", "CART00001", "checkout_started",
                           {"product_id": "P1", "quantity": 2}, {"actor": {"id": "A"}}, 100.7)
PREV = sagas.event_view("inventory", "P1", "was_reserved", {"reservation": "R1"}, {}, 101)


def test_rewrite_prev_only_rewrites_prev_paths():
    value = {"a": "$prev.type", "b": "$prev", "c": "$prev[0]", "d": "$previous",
             "e": {"literal": "$prev.type"}, "f": ["$prev.data.x?", "$.data.y"], "g": 3}
    assert sagas.rewrite_prev(value) == {
        "a": "$.prev.type", "b": "$.prev", "c": "$.prev[0]", "d": "$previous",
        "e": {"literal": "$prev.type"}, "f": ["$.prev.data.x?", "$.data.y"], "g": 3}
    assert sagas.uses_prev({"equals": ["$prev.type", "x"]})
    assert not sagas.uses_prev({"literal": "$prev.type"})
    assert not sagas.uses_prev(["$previous", "$.data.x"])


def test_values_read_trigger_and_prev():
    names = sagas.scope(TRIGGER, PREV)
    assert sagas.resolve({"q": "$.data.quantity", "k": "$.key", "i": "$.id", "t": "$.type",
                          "p": "$prev.data.reservation", "pt": "$prev.type",
                          "pk": "$prev.key", "pi": "$prev.id",
                          "ts": "$.metadata.timestamp"}, names) == {
        "q": 2, "k": "cart:CART00001", "i": "CART00001", "t": "checkout_started",
        "p": "R1", "pt": "was_reserved", "pk": "inventory:P1", "pi": "P1", "ts": 100}


def test_prev_reads_null_without_an_awaited_event():
    names = sagas.scope(TRIGGER, None)
    assert sagas.resolve({"p": "$prev.type", "q": "$.data.quantity"}, names) == {"q": 2}
    assert sagas.condition_holds({"equals": ["$prev.type", None]}, names)
    assert not sagas.condition_holds({"exists": "$prev.data"}, names)


def test_conditions():
    names = sagas.scope(TRIGGER, PREV)
    assert sagas.condition_holds(None, names)
    assert sagas.condition_holds({"equals": ["$prev.type", "was_reserved"]}, names)
    assert not sagas.condition_holds({"equals": ["$prev.type", "reservation_failed"]}, names)
    assert sagas.condition_holds({"and": [{"gt": ["$.data.quantity", 1]},
                                          {"not": {"in": ["$prev.type", ["x", "y"]]}}]}, names)
    with pytest.raises(sagas.StepError):
        sagas.condition_holds({"nope": []}, names)


def test_resolve_emit_and_await_target():
    names = sagas.scope(TRIGGER, PREV)
    emit = {"aggregate_type": "payment", "id": "$.id", "event_type": "charge_requested",
            "data": {"r": "$prev.data.reservation"}}
    assert sagas.resolve_emit(emit, names) == ("payment", "CART00001", "charge_requested",
                                               {"r": "R1"})
    assert sagas.resolve_emit({"aggregate_type": "a", "id": "lit", "event_type": "e"},
                              names) == ("a", "lit", "e", {})
    step = {"await": {"aggregate_type": "payment", "event_types": ["was_charged"]}}
    assert sagas.await_target(step, "CART00001", names) == ("payment", "CART00001",
                                                            ["was_charged"])
    step["await"]["id"] = "$prev.data.reservation"
    assert sagas.await_target(step, "CART00001", names)[1] == "R1"
    for bad in ("$.data.missing", "$.data", ""):
        with pytest.raises(sagas.StepError):
            sagas.resolve_emit({"aggregate_type": "a", "id": bad, "event_type": "e"}, names)
    numeric = sagas.scope(sagas.event_view("c", "X", "e", {"n": 7.0}, {}, 0), None)
    assert sagas.resolve_emit({"aggregate_type": "a", "id": "$.data.n", "event_type": "e"},
                              numeric)[1] == "7"


def test_timeouts():
    assert sagas.timeout_ms({"timeout_ms": 30000}) == 30000
    assert sagas.timeout_ms({"timeout": "2m"}) == 120000
    assert sagas.timeout_ms({}) == sagas.DEFAULT_TIMEOUT_MS


def test_prev_step_and_compensation_order():
    definition = {"steps": [{"name": "a", "compensate": {}}, {"name": "b"},
                            {"name": "c", "compensate": {}}, {"name": "d", "compensate": {}}]}
    records = sagas.new_records(definition)
    assert [r["status"] for r in records] == ["running", "pending", "pending", "pending"]
    records[0].update(status="completed", awaited={"position": 1})
    records[1].update(status="completed")
    records[2].update(status="completed")
    records[3].update(status="timed_out")
    assert sagas.prev_step(records, 3) == 0 and sagas.prev_step(records, 0) is None
    assert sagas.to_compensate(definition, records) == [2, 0]
    records[2]["status"] = "compensated"
    assert sagas.to_compensate(definition, records) == [0]


def test_the_documented_checkout_saga_is_accepted():
    from chalicelib.domain.specs import validate_spec
    event = {"schema": {"type": "object"}, "handler": []}
    spec = {
        "aggregate_types": {
            "cart": {"events": {"checkout_started": event}},
            "inventory": {"events": {name: event for name in (
                "reservation_requested", "was_reserved", "reservation_failed",
                "reservation_released")}},
            "payment": {"events": {"charge_requested": event, "was_charged": event}},
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
                                "event_type": "reservation_released", "data": {}},
                 "timeout_ms": 30000},
                {"name": "charge_payment",
                 "condition": {"equals": ["$prev.type", "was_reserved"]},
                 "emit": {"aggregate_type": "payment", "id": "$.id",
                          "event_type": "charge_requested",
                          "data": {"reservation": "$prev.data.id", "cart": "$.key"}},
                 "await": {"aggregate_type": "payment", "event_types": ["was_charged"],
                           "id": "$prev.id"},
                 "timeout": "5m"},
            ]}}},
    }
    assert validate_spec(spec) == []
