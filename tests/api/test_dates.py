"""Every date the control plane takes is checked for range before anything is written,
and every stored timestamp shows again (clock.parse_iso / clock.iso)."""
import pytest

from chalicelib.core import clock
from chalicelib.platform.keys import service as keys
from chalicelib.store.tables import ApiKey, ApiKeyId, AuditEntry

MAX = clock.MAX_TS  # 9999-12-31T23:59:59Z


@pytest.fixture
def key(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]
    created = stack.call("POST", f"/api/instances/{inst}/keys", token,
                         body={"name": "k", "scope": "read", "environment": "prod"})
    assert created.status == 201, created
    return token, inst, created.json


def schedule(stack, token, key_id, at):
    return stack.call("POST", f"/api/keys/{key_id}/schedule_revocation", token,
                      body={"revoke_at": at})


def stored(key_id):
    return ApiKey.get(ApiKeyId.get(key_id).key_hash, consistent_read=True)


def scheduled_entries():
    return [e for e in AuditEntry.scan() if e.action == "key_revocation_scheduled"]


@pytest.mark.parametrize("at", [
    "9999-12-31T23:59:59-14:00",    # the probe's: 10000-01-01T13:59:59Z, past datetime's max
    "9999-12-31T10:00:00-14:00",    # one second past 9999-12-31T23:59:59Z
    "9999-12-31T23:59:59-00:01",
])
def test_a_date_past_year_9999_in_utc_is_400_and_nothing_is_written(stack, key, at):
    token, inst, created = key
    answer = schedule(stack, token, created["id"], at)
    assert answer.status == 400, answer
    assert answer.json["error"] == "VALIDATION_ERROR"
    assert answer.json["details"][0]["path"] == "revoke_at"
    assert "9999-12-31T23:59:59Z" in answer.json["details"][0]["message"]
    assert stored(created["id"]).revoke_at is None
    assert scheduled_entries() == []
    for _ in range(2):
        listed = stack.call("GET", f"/api/instances/{inst}/keys", token)
        assert listed.status == 200, listed
        assert listed.json["keys"][0]["revoke_at"] is None


@pytest.mark.parametrize("at,shown", [
    ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ("9999-12-31T09:59:59-14:00", "9999-12-31T23:59:59Z"),
    ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59Z"),
    ("9999-12-31T23:59:59+14:00", "9999-12-31T09:59:59Z"),
])
def test_the_last_second_of_year_9999_in_utc_is_accepted_and_shows_again(stack, key, at, shown):
    token, inst, created = key
    answer = schedule(stack, token, created["id"], at)
    assert answer.status == 200, answer
    assert answer.json["revoke_at"] == shown
    [entry] = scheduled_entries()
    assert entry.details == {"revoke_at": shown}
    listed = stack.call("GET", f"/api/instances/{inst}/keys", token)
    assert listed.status == 200 and listed.json["keys"][0]["revoke_at"] == shown
    assert stack.call("GET", "/data", headers={"Authorization": f"Bearer {created['key']}"}
                      ).status == 200


def test_a_stored_out_of_range_date_still_lists(stack, key):
    """What the probe left behind (a revoke_at past year 9999) must not break the list."""
    token, inst, created = key
    item = stored(created["id"])
    item.update(actions=[ApiKey.revoke_at.set(253402351199), ApiKey.revoke_pending.set("pending")])
    for _ in range(2):
        listed = stack.call("GET", f"/api/instances/{inst}/keys", token)
        assert listed.status == 200, listed
        assert listed.json["keys"][0]["revoke_at"] == "9999-12-31T23:59:59Z"  # clamped
    assert keys.apply_due_revocations() == 0
    assert stack.call("GET", "/data", headers={"Authorization": f"Bearer {created['key']}"}
                      ).status == 200
    revoked = stack.call("DELETE", f"/api/keys/{created['id']}", token)
    assert revoked.status == 200 and revoked.json["revoke_at"] == "9999-12-31T23:59:59Z"


@pytest.mark.parametrize("at", ["1969-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
                                "10000-01-01T00:00:00Z", "2030-02-30T00:00:00Z", "x" * 65])
def test_other_impossible_dates_are_400(stack, key, at):
    token, _, created = key
    answer = schedule(stack, token, created["id"], at)
    assert answer.status == 400, answer
    assert answer.json["details"][0]["path"] == "revoke_at"
    assert stored(created["id"]).revoke_at is None


def test_a_service_caller_cannot_store_an_out_of_range_time(stack, key):
    from chalicelib.core.errors import AppError
    from chalicelib.identity import audit
    from chalicelib.identity.principal import Principal
    _, _, created = key
    act = audit.Act(Principal(subject="admin@example.com", kind="operator"),
                    "key_revocation_scheduled")
    with pytest.raises(AppError) as err:
        keys.schedule_revocation(act, created["id"], MAX + 1)
    assert err.value.status == 400
    assert stored(created["id"]).revoke_at is None


def test_moderation_expiry_at_its_maximum_round_trips(stack):
    """expires_at bodies are integers at most 253402300799; they are shown as integers."""
    token = stack.token_with(["block_federation"])
    answer = stack.call("POST", "/admin/v1/federation/block", token,
                        body={"domain": "far.example", "reason": "r", "expires_at": MAX})
    assert answer.status == 200, answer
    assert answer.json["expires_at"] == MAX
    listed = stack.call("GET", "/admin/v1/federation/blocked", token)
    assert listed.status == 200, listed
    over = stack.call("POST", "/admin/v1/federation/block", token,
                      body={"domain": "farther.example", "reason": "r", "expires_at": MAX + 1})
    assert over.status == 400
