"""Spec deployment (seed 000 "Spec management")."""
import pytest

from chalicelib.store.tables import AuditEntry
from testing.specs import ORDER_SPEC, spec


@pytest.fixture
def inst(stack):
    token = stack.operator_token()
    return token, stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]


def deploy(stack, inst, body_spec, env="prod", force=None):
    token, instance_id = inst
    body = {"environment": env, "spec": body_spec}
    if force is not None:
        body["force"] = force
    return stack.call("POST", f"/api/instances/{instance_id}/spec", token, body=body)


def test_deploy_versions_and_serves_the_spec(stack, inst):
    first = deploy(stack, inst, ORDER_SPEC)
    assert first.status == 201, first
    assert first.json["version"] == 1 and first.json["environment"] == "prod"
    second = deploy(stack, inst, ORDER_SPEC)
    assert second.json["version"] == 2
    token, instance_id = inst
    served = stack.call("GET", f"/api/instances/{instance_id}/spec?environment=prod", token).json
    assert served["spec"] == ORDER_SPEC and served["version"] == 2
    internal = stack.node("GET", f"/internal/instances/{instance_id}/prod/spec")
    assert internal.status == 200 and internal.json["spec"] == ORDER_SPEC
    entries = [e for e in AuditEntry.scan() if e.action == "spec_deployed"]
    assert len(entries) == 2 and entries[0].target == instance_id


def test_environments_are_separate(stack, inst):
    deploy(stack, inst, ORDER_SPEC, env="staging")
    token, instance_id = inst
    answer = stack.call("GET", f"/api/instances/{instance_id}/spec?environment=prod", token)
    assert answer.status == 404 and answer.json["error"] == "SPEC_NOT_FOUND"


def test_invalid_spec_lists_every_problem_and_stores_nothing(stack, inst):
    bad = spec(agent_types=[])
    bad["aggregate_types"]["order"]["events"]["created"]["schema"] = {"type": "bogus"}
    bad["aggregate_types"]["order"]["events"]["closed"]["handler"] = [{"explode": {}}]
    answer = deploy(stack, inst, bad)
    assert answer.status == 422 and answer.json["error"] == "INVALID_SPEC"
    paths = [d["path"] for d in answer.json["details"]]
    assert len(paths) >= 3
    assert any("created.schema" in p for p in paths) and any("closed.handler" in p for p in paths)
    assert any("agent_types" in p for p in paths)
    token, instance_id = inst
    assert stack.call("GET", f"/api/instances/{instance_id}/spec", token).status == 404


def test_unsupported_features_are_refused_by_name(stack, inst):
    wasm = spec()
    wasm["aggregate_types"]["order"]["events"]["closed"]["implications"] = [{"wasm": {"module": "x"}}]
    answer = deploy(stack, inst, wasm)
    assert answer.status == 422 and "wasm" in str(answer.json["details"])
    reserved = spec()
    reserved["aggregate_types"]["order"]["events"]["length"] = {"schema": {"type": "object"},
                                                                "handler": []}
    assert deploy(stack, inst, reserved).status == 422


def test_schedule_implications_deploy(stack, inst):
    scheduled = spec()
    scheduled["aggregate_types"]["order"]["events"]["closed"]["implications"] = [
        {"schedule": {"delay": "24h", "emit": {"aggregate_type": "order", "id": "$.id",
                                               "event_type": "closed"},
                      "cancel_on": [{"aggregate_type": "order", "id": "$.key",
                                     "event_type": "created"}]}},
        {"schedule": {"delay_ms": 600_000, "emit": {"aggregate_type": "customer",
                                                    "id": "$.metadata.actor.id",
                                                    "event_type": "ordered"},
                      "cancel_on": ["item_added"]}}]
    answer = deploy(stack, inst, scheduled)
    assert answer.status == 201, answer
    too_soon = spec()
    too_soon["aggregate_types"]["order"]["events"]["closed"]["implications"] = [
        {"schedule": {"delay": "4m", "emit": {"aggregate_type": "order", "id": "$.id",
                                              "event_type": "closed"}}}]
    answer = deploy(stack, inst, too_soon)
    assert answer.status == 422 and answer.json["error"] == "INVALID_SPEC"
    assert [d["path"] for d in answer.json["details"]] == [
        "$.aggregate_types.order.events.closed.implications[0].schedule.delay"]


def test_force_is_refused_in_prod(stack, inst):
    answer = deploy(stack, inst, ORDER_SPEC, force=True)
    assert answer.status == 409 and answer.json["error"] == "FORCE_NOT_ALLOWED"


def test_dropping_types_with_events_is_refused(stack, inst):
    token, instance_id = inst
    for env in ("prod", "staging"):
        assert deploy(stack, inst, ORDER_SPEC, env=env).status == 201
        key = stack.call("POST", f"/api/instances/{instance_id}/keys", token,
                         body={"name": "w", "scope": "write", "environment": env}).json["key"]
        wrote = stack.call("POST", "/data/order/0RDER0001/closed", headers={"Authorization": f"Bearer {key}"},
                           body={"data": {}, "metadata": {"actor": {"type": "user", "id": "AGENT0001"}}})
        assert wrote.status == 201, wrote
    smaller = spec()
    del smaller["aggregate_types"]["order"]["events"]["closed"]
    refused = deploy(stack, inst, smaller)
    assert refused.status == 409 and refused.json["error"] == "SPEC_ORPHANS_EVENTS"
    assert [d["path"] for d in refused.json["details"]] == ["order.closed"]
    still = stack.call("GET", f"/api/instances/{instance_id}/spec?environment=prod", token).json
    assert still["version"] == 1
    forced = deploy(stack, inst, smaller, env="staging", force=True)
    assert forced.status == 201 and forced.json["orphaned"] == ["order.closed"]
    # dropping a type with no events is fine
    no_item = spec()
    del no_item["aggregate_types"]["order"]["events"]["item_added"]
    assert deploy(stack, inst, no_item).status == 201


def test_deploy_needs_permission_and_instance(stack, inst):
    token = stack.token_with(["view_instances"])
    _, instance_id = inst
    answer = stack.call("POST", f"/api/instances/{instance_id}/spec", token,
                        body={"environment": "prod", "spec": ORDER_SPEC})
    assert answer.status == 403
    missing = deploy(stack, (inst[0], "nope"), ORDER_SPEC)
    assert missing.status == 404 and missing.json["error"] == "INSTANCE_NOT_FOUND"


def test_projections_are_listed_per_environment(stack, inst):
    with_projection = spec(projections={"order_totals": {
        "source": ["order"], "handler": [{"increment": {"target": "orders"}}]}})
    deploy(stack, inst, with_projection, env="staging")
    deploy(stack, inst, ORDER_SPEC, env="prod")
    token, instance_id = inst
    answer = stack.call("GET", f"/api/instances/{instance_id}/projections", token)
    assert answer.status == 200
    assert answer.json == {"projections": [{"name": "order_totals", "environment": "staging",
                                            "spec_version": 1, "source": ["order"],
                                            "handler_operations": 1}]}
    assert stack.call("GET", "/api/instances/nope/projections", token).status == 404
