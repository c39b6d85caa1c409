"""Instances and the error lookup of seed 000."""
import pytest

from chalicelib.store.tables import AuditEntry, Instance


def test_create_list_and_describe(stack):
    token = stack.operator_token()
    created = stack.call("POST", "/api/instances", token, body={"name": "acme", "plan": "pro"})
    assert created.status == 201
    body = created.json
    assert set(body) == {"id", "name", "plan", "tier", "created_at", "environments"}
    assert body["plan"] == "pro" and body["tier"] == "dedicated"
    assert body["environments"] == ["prod", "staging", "test"]
    listed = stack.call("GET", "/api/instances", token).json
    assert listed == {"instances": [body], "next_cursor": None}
    detail = stack.call("GET", f"/api/instances/{body['id']}", token).json
    assert {k: detail[k] for k in body} == body and "limits" in detail
    entry = [e for e in AuditEntry.scan() if e.action == "instance_created"][0]
    assert entry.target == body["id"] and entry.details["plan"] == "pro"


def test_default_plan_is_free(stack):
    token = stack.operator_token()
    body = stack.call("POST", "/api/instances", token, body={"name": "x"}).json
    assert body["plan"] == "free" and body["tier"] == "shared"


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x", "plan": "gold"}, {"name": 3}])
def test_invalid_instance_bodies(stack, body):
    token = stack.operator_token()
    answer = stack.call("POST", "/api/instances", token, body=body)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR"
    assert Instance.count() == 0


def test_unknown_instance_is_404(stack):
    answer = stack.call("GET", "/api/instances/nope", stack.operator_token())
    assert answer.status == 404 and answer.json["code"] == 4041


def test_crash_answers_500_with_error_id_and_lookup_resolves_it(stack, monkeypatch):
    from chalicelib.platform.instances import service as instances
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]

    def boom(instance_id):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(instances, "describe", boom)
    answer = stack.call("GET", f"/api/instances/{inst}", token)
    assert answer.status == 500
    assert set(answer.json) == {"error", "message", "code", "error_id"}
    assert "Traceback" not in answer.text and "disk on fire" not in answer.text
    monkeypatch.undo()
    found = stack.call("GET", f"/api/instances/{inst}/ops/prod/errors/{answer.json['error_id']}",
                       token)
    assert found.status == 200
    assert found.json["error_type"] == "RuntimeError" and "disk on fire" in found.json["stack_trace"]
    assert found.json["instance_id"] == inst
    other = stack.call("POST", "/api/instances", token, body={"name": "b"}).json["id"]
    assert stack.call("GET", f"/api/instances/{other}/ops/prod/errors/{answer.json['error_id']}",
                      token).status == 404


def test_unknown_error_id_is_404(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]
    answer = stack.call("GET", f"/api/instances/{inst}/ops/prod/errors/err_nope", token)
    assert answer.status == 404 and answer.json["error"] == "ERROR_NOT_FOUND"


def test_unreachable_storage_is_503_with_error_id(stack, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from chalicelib.platform.instances import service as instances
    token = stack.operator_token()

    def down():
        raise EndpointConnectionError(endpoint_url="http://dynamodb")
    monkeypatch.setattr(instances, "list_all", down)
    answer = stack.call("GET", "/api/instances", token)
    assert answer.status == 503 and answer.json["error"] == "SERVICE_UNAVAILABLE"
    assert answer.json["error_id"] and answer.headers["Retry-After"] == "5"
