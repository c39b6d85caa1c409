"""API key lifecycle (seed 000 "API key management")."""
import re

import pytest

from chalicelib.core import clock
from chalicelib.identity import api_keys as key_service
from chalicelib.store.tables import ApiKey, AuditEntry

KEY_TEXT = re.compile(r"^j17_0_prod_[A-Za-z0-9]{32}$")
LIST_FIELDS = {"id", "name", "prefix", "scope", "environment", "created_at", "revoke_at",
               "revoked_at", "last_used_at"}


@pytest.fixture
def admin(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]
    return token, inst


def create(stack, admin, scope="write", env="prod", name="Production Backend"):
    token, inst = admin
    answer = stack.call("POST", f"/api/instances/{inst}/keys", token,
                        body={"name": name, "scope": scope, "environment": env})
    assert answer.status == 201, answer
    return answer.json


def use(stack, key_text):
    return stack.call("GET", "/data", headers={"Authorization": f"Bearer {key_text}"})


def test_create_answers_seed_shape_once(stack, admin):
    created = create(stack, admin)
    assert {"id", "name", "key", "scope", "environment", "created_at"} <= set(created)
    assert KEY_TEXT.match(created["key"])
    assert created["name"] == "Production Backend" and created["scope"] == "write"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", created["created_at"])
    listed = stack.call("GET", f"/api/instances/{admin[1]}/keys", admin[0]).json["keys"]
    assert len(listed) == 1 and set(listed[0]) == LIST_FIELDS
    assert created["key"] not in str(listed)
    assert listed[0]["prefix"] == created["key"][:15]


def test_key_text_is_stored_only_as_hash(stack, admin):
    created = create(stack, admin)
    items = [item.serialize() for item in ApiKey.scan()]
    assert created["key"] not in str(items)
    assert created["key"][11:] not in str(items)
    import hashlib
    assert items[0]["key_hash"]["S"] == hashlib.sha256(created["key"].encode()).hexdigest()


def test_key_identifies_itself_on_the_data_plane(stack, admin):
    created = create(stack, admin, scope="read", env="staging")
    answer = use(stack, created["key"])
    assert answer.status == 200
    assert answer.json == {"ok": True, "instance_id": admin[1], "environment": "staging",
                           "scope": "read"}
    listed = stack.call("GET", f"/api/instances/{admin[1]}/keys", admin[0]).json["keys"]
    assert listed[0]["last_used_at"] is not None


@pytest.mark.parametrize("header", [None, "Bearer j17_0_prod_" + "A" * 32, "Bearer nope"])
def test_unknown_keys_are_refused_in_data_shape(stack, header):
    answer = stack.call("GET", "/data", headers={"Authorization": header} if header else {})
    assert answer.status == 401
    assert answer.json["ok"] is False and answer.json["code"] == "INVALID_API_KEY"


def test_revoked_key_fails_on_next_use(stack, admin):
    created = create(stack, admin)
    assert use(stack, created["key"]).status == 200
    revoked = stack.call("DELETE", f"/api/keys/{created['id']}", admin[0])
    assert revoked.status == 200 and revoked.json["revoked_at"] is not None
    assert use(stack, created["key"]).status == 401
    again = stack.call("DELETE", f"/api/keys/{created['id']}", admin[0])
    assert again.status == 409 and again.json["error"] == "KEY_REVOKED"


def test_rotation_without_grace_revokes_old_key_at_once(stack, admin):
    old = create(stack, admin)
    answer = stack.call("POST", f"/api/keys/{old['id']}/rotate", admin[0])
    assert answer.status == 201, answer
    new = answer.json
    assert KEY_TEXT.match(new["key"]) and new["key"] != old["key"]
    assert new["name"] == old["name"] and new["scope"] == old["scope"]
    assert new["rotated_from"] == old["id"]
    assert use(stack, old["key"]).status == 401
    assert use(stack, new["key"]).status == 200
    assert stack.call("POST", f"/api/keys/{old['id']}/rotate", admin[0]).status == 409


def test_rotation_with_grace_keeps_old_key_until_it_ends(stack, admin):
    old = create(stack, admin)
    new = stack.call("POST", f"/api/keys/{old['id']}/rotate", admin[0],
                     body={"grace_period_seconds": 600}).json
    assert use(stack, old["key"]).status == 200 and use(stack, new["key"]).status == 200
    clock.advance(601)
    assert use(stack, old["key"]).status == 401
    assert use(stack, new["key"]).status == 200


@pytest.mark.parametrize("body", [{"grace_period_seconds": -1},
                                  {"grace_period_seconds": 10**9}, {"grace": 5}])
def test_rotation_refuses_bad_grace(stack, admin, body):
    old = create(stack, admin)
    answer = stack.call("POST", f"/api/keys/{old['id']}/rotate", admin[0], body=body)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR"
    assert use(stack, old["key"]).status == 200


def test_scheduled_revocation_takes_effect_before_the_job_runs(stack, admin):
    created = create(stack, admin)
    at = clock.iso(clock.now_int() + 120)
    answer = stack.call("POST", f"/api/keys/{created['id']}/schedule_revocation", admin[0],
                        body={"revoke_at": at})
    assert answer.status == 200 and answer.json["revoke_at"] == at
    assert use(stack, created["key"]).status == 200
    clock.advance(121)
    assert use(stack, created["key"]).status == 401


def test_revocation_job_audits_once_and_is_idempotent(stack, admin):
    import app
    created = create(stack, admin)
    stack.call("POST", f"/api/keys/{created['id']}/schedule_revocation", admin[0],
               body={"revoke_at": clock.iso(clock.now_int() + 60)})
    event = stack.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                  detail={}, resources=[])
    stack.client.lambda_.invoke("job_key_revocations", event)
    assert [e for e in AuditEntry.scan() if e.action == "key_revoked"] == []
    clock.advance(61)
    first = stack.client.lambda_.invoke("job_key_revocations", event)
    second = stack.client.lambda_.invoke("job_key_revocations", event)
    assert first.payload == {"revoked": 1} and second.payload == {"revoked": 0}
    entries = [e for e in AuditEntry.scan() if e.action == "key_revoked"]
    assert len(entries) == 1 and entries[0].admin == "system:scheduler"
    assert entries[0].target == created["id"]
    listed = stack.call("GET", f"/api/instances/{admin[1]}/keys", admin[0]).json["keys"]
    assert listed[0]["revoked_at"] is not None
    assert app.job_key_revocations is not None


def test_the_instance_counts_its_keys_through_every_act(stack, admin):
    token, inst = admin

    def active():   # a fresh token: the clock moves past a token's hour below
        return stack.call("GET", f"/api/instances/{inst}",
                          stack.operator_token()).json["usage"]["api_keys_active"]

    start = active()
    a, b, c = (create(stack, admin) for _ in range(3))
    assert active() == start + 3
    stack.call("DELETE", f"/api/keys/{a['id']}", token)
    assert active() == start + 2
    stack.call("POST", f"/api/keys/{b['id']}/rotate", token, body={})          # ends at once
    assert active() == start + 2
    stack.call("POST", f"/api/keys/{c['id']}/rotate", token,
               body={"grace_period_seconds": 3600})                            # both live
    assert active() == start + 3
    event = stack.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                  detail={}, resources=[])
    clock.advance(3601)
    for _ in range(2):   # the job, twice: the old key is counted out once
        stack.client.lambda_.invoke("job_key_revocations", event)
    assert active() == start + 2


@pytest.mark.parametrize("revoke_at", ["2001-01-01T00:00:00Z", "tomorrow", "2099-01-01T00:00:00"])
def test_schedule_refuses_past_or_malformed_times(stack, admin, revoke_at):
    created = create(stack, admin)
    answer = stack.call("POST", f"/api/keys/{created['id']}/schedule_revocation", admin[0],
                        body={"revoke_at": revoke_at})
    assert answer.status == 400 and answer.json["details"][0]["path"] == "revoke_at"


@pytest.mark.parametrize("path,method", [("/api/keys/nope/rotate", "POST"),
                                         ("/api/keys/nope", "DELETE"),
                                         ("/api/keys/nope/schedule_revocation", "POST")])
def test_unknown_key_is_404(stack, admin, path, method):
    body = {"revoke_at": "2099-01-01T00:00:00Z"} if "schedule" in path else None
    answer = stack.call(method, path, admin[0], body=body)
    assert answer.status == 404 and answer.json["error"] == "KEY_NOT_FOUND"


@pytest.mark.parametrize("body,path", [
    ({"name": "x", "scope": "superuser", "environment": "prod"}, "scope"),
    ({"name": "x", "scope": "read", "environment": "dev"}, "environment"),
    ({"scope": "read", "environment": "prod"}, ""),
    ({"name": "   ", "scope": "read", "environment": "prod"}, "name"),
    ({"name": "x", "scope": "read", "environment": "prod", "extra": 1}, ""),
])
def test_create_refuses_invalid_bodies(stack, admin, body, path):
    answer = stack.call("POST", f"/api/instances/{admin[1]}/keys", admin[0], body=body)
    assert answer.status == 400 and answer.json["code"] == 4000
    assert answer.json["details"][0]["path"] == path
    assert ApiKey.count() == 0


def test_create_for_unknown_instance_is_404(stack, admin):
    answer = stack.call("POST", "/api/instances/nope/keys", admin[0],
                        body={"name": "x", "scope": "read", "environment": "prod"})
    assert answer.status == 404 and answer.json["error"] == "INSTANCE_NOT_FOUND"


def test_scopes_are_ordered():
    from chalicelib.domain.api_keys import scope_allows
    assert scope_allows("admin", "write") and scope_allows("write", "read")
    assert not scope_allows("read", "write")


def test_verification_is_single_round_trip_when_recently_used(stack, admin):
    from testing.aws_calls import operations, recording
    created = create(stack, admin)
    key_service.verify(created["key"])  # records last_used_at
    with recording() as calls:
        key_service.verify(created["key"])
    assert operations(calls) == ["GetItem"]
