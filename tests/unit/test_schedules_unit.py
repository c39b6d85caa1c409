"""Scheduled events without AWS: the spec forms the validator accepts and refuses (each
problem at its path), ids resolved from the scheduling event, what the reactor does for
a spec without schedules (nothing, no I/O), and what an attempt records of a refusal."""
import copy

import pytest

from chalicelib.core.errors import AppError
from chalicelib.domain.specs import validate_spec
from chalicelib.platform.schedules import service as svc
from chalicelib.store import reactions
from chalicelib.store.streams import event_scope

EVENT = {"schema": {"type": "object"}, "handler": []}
SCHED = "$.aggregate_types.cart.events.had_item_added.implications[0].schedule"


def spec_with(schedule):
    return {"aggregate_types": {
        "cart": {"events": {"had_item_added": {**EVENT, "implications": [{"schedule": schedule}]},
                            "was_checked_out": EVENT}},
        "notification": {"events": {"reminder": EVENT}}},
        "agent_types": ["user"]}


DOCS = {"delay": "24h",
        "emit": {"aggregate_type": "notification", "id": "$.metadata.actor.id",
                 "event_type": "reminder", "data": {"cart_id": "$.key", "cart": "$.id"}},
        "cancel_on": [{"aggregate_type": "cart", "id": "$.key",
                       "event_type": "was_checked_out"}]}


def with_(**changes):
    out = copy.deepcopy(DOCS)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("schedule", [
    DOCS,
    with_(delay=None, delay_ms=300_000),
    with_(delay=None, delay_ms=365 * 86400 * 1000),
    with_(delay="5m"), with_(delay="300s"), with_(delay="365d"),
    with_(cancel_on=["was_checked_out"]),                     # the older form
    with_(cancel_on=[]), with_(cancel_on=None),
    with_(cancel_on=[{"aggregate_type": "notification", "id": "admin",
                      "event_type": "reminder"}]),
])
def test_accepted(schedule):
    assert validate_spec(spec_with(schedule)) == []


@pytest.mark.parametrize("schedule, path, message", [
    (with_(delay="4m"), f"{SCHED}.delay", "too short: the minimum is 5m"),
    (with_(delay="299s"), f"{SCHED}.delay", "too short"),
    (with_(delay="366d"), f"{SCHED}.delay", "the maximum is 365d"),
    (with_(delay=None, delay_ms=299_999), f"{SCHED}.delay_ms", "too short"),
    (with_(delay=None, delay_ms=365 * 86400 * 1000 + 1), f"{SCHED}.delay_ms", "too long"),
    (with_(delay=None, delay_ms="600000"), f"{SCHED}.delay_ms", "whole number"),
    (with_(delay=None, delay_ms=600000.5), f"{SCHED}.delay_ms", "whole number"),
    (with_(delay=None, delay_ms=True), f"{SCHED}.delay_ms", "whole number"),
    (with_(delay_ms=600_000), f"{SCHED}.delay_ms", "not both"),
    (with_(delay=None), SCHED, "missing required key 'delay'"),
    (with_(cancel_on="was_checked_out"), f"{SCHED}.cancel_on", "must be a list"),
    (with_(cancel_on=["gone"]), f"{SCHED}.cancel_on[0]", "no event type 'gone'"),
    (with_(cancel_on=[{"aggregate_type": "cart", "id": "$.key"}]), f"{SCHED}.cancel_on[0]",
     "missing required key 'event_type'"),
    (with_(cancel_on=[{"aggregate_type": "ghost", "id": "$.key", "event_type": "x"}]),
     f"{SCHED}.cancel_on[0].aggregate_type", "unknown aggregate type 'ghost'"),
    (with_(cancel_on=[{"aggregate_type": "cart", "id": "$.key", "event_type": "paid"}]),
     f"{SCHED}.cancel_on[0].event_type", "has no event type 'paid'"),
    (with_(cancel_on=[{"aggregate_type": "cart", "id": "@.owner",
                       "event_type": "was_checked_out"}]),
     f"{SCHED}.cancel_on[0].id", "the state (@) is not available"),
    (with_(cancel_on=[{"aggregate_type": "cart", "id": "", "event_type": "was_checked_out"}]),
     f"{SCHED}.cancel_on[0].id", "non-empty string"),
    (with_(cancel_on=[{"aggregate_type": "cart", "id": "$.key", "event_type": "was_checked_out",
                       "when": "always"}]), f"{SCHED}.cancel_on[0].when", "unknown key 'when'"),
    (with_(cancel_on=[DOCS["cancel_on"][0], DOCS["cancel_on"][0]]), f"{SCHED}.cancel_on[1]",
     "duplicate cancel_on entry"),
    (with_(emit={"aggregate_type": "notification", "id": "$.nobody", "event_type": "reminder"}),
     f"{SCHED}.emit.id", "$.nobody is not"),
])
def test_refused_at_its_path(schedule, path, message):
    found = validate_spec(spec_with(schedule))
    assert any(p["path"] == path and message in p["message"] for p in found), found


def test_target_ids_from_the_event():
    scope = event_scope("cart", "CART00001", "had_item_added", {"other": "cart:X"},
                        {"actor": {"type": "user", "id": "AGENT0001"}}, 1_700_000_000)
    assert svc.target_id("$.key", "cart", scope) == "CART00001"       # "<type>:<id>" -> id
    assert svc.target_id("$.key", "notification", scope) == "cart:CART00001"
    assert svc.target_id("$.id", "cart", scope) == "CART00001"
    assert svc.target_id("$.metadata.actor.id", "notification", scope) == "AGENT0001"
    assert svc.target_id("admin", "notification", scope) == "admin"
    assert svc.target_id("$.data.missing", "cart", scope) is None
    assert svc.target_id("cart:", "cart", scope) == "cart:"
    assert svc.parse_delay_ms({"delay": "24h"}) == 86_400_000
    assert svc.parse_delay_ms({"delay_ms": 300_000}) == 300_000


def test_a_spec_without_schedules_costs_nothing(monkeypatch):
    def no_io(*a, **k):
        raise AssertionError("the reactor read something")
    monkeypatch.setattr(svc.CancelRegistration, "query", no_io)
    spec = spec_with(DOCS)
    del spec["aggregate_types"]["cart"]["events"]["had_item_added"]["implications"]
    written = [reactions.Written("cart", "CART00001", "was_checked_out", 0, {}, {}, 1.0, "h")]
    assert svc.react(spec, "inst", "prod", written).count == 0
    assert svc.plan_of(spec) is svc.plan_of(spec)
    # events no cancel_on names read nothing either
    spec = spec_with(DOCS)
    written = [reactions.Written("notification", "A", "reminder", 0, {}, {}, 1.0, "h")]
    assert svc.react(spec, "inst", "prod", written).count == 0


def test_the_reactor_schedules_with_a_reference_not_the_data():
    written = [reactions.Written("cart", "CART00001", "had_item_added", 3,
                                 {"secret": "Jane Doe"},
                                 {"actor": {"type": "user", "id": "AGENT0001"}}, 1000.0, "h")]
    effects = svc.react(spec_with(DOCS), "inst", "prod", written)
    [item, reg] = effects.puts
    assert item.id == svc.new_id(1000.0, "inst#prod#cart#CART00001", 3, 0)
    assert item.due_at == 1000.0 + 86400 and item.status == "pending" and item.due_key == "due"
    assert item.source_stream == "inst#prod#cart#CART00001" and item.source_position == 3
    assert item.cancel_keys == ["cart#CART00001#was_checked_out"]
    assert "Jane" not in str(item.attribute_values)
    assert reg.key == "inst#prod#cart#CART00001#was_checked_out" and reg.schedule_id == item.id
    # planned again (a lost race re-plans): the same item
    again = svc.react(spec_with(DOCS), "inst", "prod", written)
    assert again.puts[0].id == item.id


def test_an_attempt_records_no_event_values():
    refusal = AppError("SCHEMA_VIOLATION", "$.data.email: 'jane@example.com' is not an email",
                       details=[{"path": "$.data.email", "message": "'jane@example.com' bad"}])
    text = svc._error_text(refusal)
    assert text.startswith("SCHEMA_VIOLATION") and "$.data.email" in text
    assert "jane" not in text
    assert svc._error_text(AppError("HANDLER_FAILED", "handler: 'Jane' is not a number")) \
        .startswith("HANDLER_FAILED") and "Jane" not in svc._error_text(
            AppError("HANDLER_FAILED", "handler: 'Jane' is not a number"))


def test_one_append_schedules_then_cancels():
    actor = {"actor": {"type": "user", "id": "AGENT0001"}}
    checked = reactions.Written("cart", "CART00001", "was_checked_out", 0, {}, actor, 5.0, "h")
    added = reactions.Written("cart", "CART00001", "had_item_added", 1, {}, actor, 5.0, "h")
    checked_again = reactions.Written("cart", "CART00001", "was_checked_out", 2, {}, actor,
                                      5.0, "h")
    spec = spec_with(DOCS)
    svc_query = svc.CancelRegistration.query
    try:
        svc.CancelRegistration.query = lambda *a, **k: iter(())
        # checked out before it was scheduled: pending; after: written cancelled
        [item, reg] = svc.react(spec, "inst", "prod", [checked, added]).puts
        assert item.status == "pending" and reg.closed_at is None
        [item, reg] = svc.react(spec, "inst", "prod", [checked, added, checked_again]).puts
        assert item.status == "cancelled" and item.cancelled_by == "cart/CART00001@2"
        assert item.due_key is None and reg.closed_at is not None
    finally:
        svc.CancelRegistration.query = svc_query
