"""A client written only from the hosted platform's public pages ("Writing events",
"Batch operations", "Reading aggregates"), its base URL pointed at our /data, against
the `make run` stack; and the stack started with the operator's own admin list
(SERVER_CONFIG_FILE), which it honours."""
from __future__ import annotations

import time
import uuid

import pytest
import requests
from nacl.signing import SigningKey

from chalicelib.domain import devices
from testing.e2e import ADMIN_EMAIL, ADMIN_PASSWORD, NODE_SECRET, SERVER_NAME, running_stack

VIEWER = SigningKey.generate()
VIEWER_ADDRESS = f"{devices.device_id(VIEWER.verify_key.encode())}@{SERVER_NAME}"

SPEC = {
    "aggregate_types": {"user": {"events": {
        "was_created": {
            "schema": {"type": "object", "properties": {"name": {"type": "string"},
                                                        "email": {"type": "string"}},
                       "required": ["name", "email"]},
            "handler": [{"set": {"target": "", "value": "$.data"}},
                        {"set": {"target": "created_at", "value": "$.metadata.timestamp"}}]},
        "had_email_updated": {
            "schema": {"type": "object", "properties": {"email": {"type": "string"}},
                       "required": ["email"]},
            "handler": [{"merge": {"target": "", "value": "$.data"}}]},
    }}},
    "agent_types": ["user", "admin"],
}


class PlatformClient:
    """What a user of the platform writes from its docs: POST /{type}/{id}/{event} with
    {data, metadata: {actor}}, batches, GET /{type}/{id}, /length, /events."""

    def __init__(self, base_url: str, api_key: str):
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {api_key}",
                                  "Content-Type": "application/json"})

    def write(self, agg_type, agg_id, event_type, data, actor, **metadata):
        return self.http.post(f"{self.base}/{agg_type}/{agg_id}/{event_type}", timeout=30,
                              json={"data": data, "metadata": {"actor": actor, **metadata}})

    def batch(self, agg_type, agg_id, events, actor, **metadata):
        return self.http.post(f"{self.base}/{agg_type}/{agg_id}", timeout=30,
                              json={"events": events, "metadata": {"actor": actor, **metadata}})

    def get(self, agg_type, agg_id, tail=""):
        return self.http.get(f"{self.base}/{agg_type}/{agg_id}{tail}", timeout=30)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("platform-client")
    admin_file = tmp / "operators-admins.toml"
    admin_file.write_text(f'[server.admins]\n"{VIEWER_ADDRESS}" = ["view_metrics"]\n')
    with running_stack(tmp, SERVER_CONFIG_FILE=str(admin_file)) as running:
        running.admin_file = admin_file
        yield running


def test_the_callers_admin_list_is_the_one_used(stack):
    registered = stack.call("POST", "/internal/devices", headers={"X-Node-Secret": NODE_SECRET},
                            body={"public_key": VIEWER.verify_key.encode().hex()})
    assert registered.status_code in (200, 201), registered.text
    challenge = stack.call("GET", "/admin/v1/auth/challenge").json()["challenge"]
    login = stack.call("POST", "/admin/v1/auth", body={
        "device_address": VIEWER_ADDRESS, "challenge": challenge,
        "challenge_signature": VIEWER.sign(challenge.encode()).signature.hex(),
        "timestamp": int(time.time())})
    assert login.status_code == 200, login.text
    assert login.json()["permissions"] == ["view_metrics"]
    text = stack.admin_file.read_text()
    assert VIEWER_ADDRESS in text          # the operator's entry is kept
    assert stack.device_address in text    # and the bootstrap device added beside it


def test_a_client_written_from_the_platform_docs_works_unchanged(stack):
    token = requests.post(stack.url + "/api/login", timeout=30, json={
        "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["admin_token"]
    auth = {"Authorization": f"Bearer {token}"}
    inst = requests.post(stack.url + "/api/instances", json={"name": "moved"}, headers=auth,
                         timeout=30).json()["id"]
    deployed = requests.post(stack.url + f"/api/instances/{inst}/spec", headers=auth,
                             timeout=30, json={"environment": "prod", "spec": SPEC})
    assert deployed.status_code == 201, deployed.text
    key = requests.post(stack.url + f"/api/instances/{inst}/keys", headers=auth, timeout=30,
                        json={"name": "app", "scope": "write", "environment": "prod"}).json()
    client = PlatformClient(stack.url + "/data", key["key"])
    actor = {"type": "admin", "id": str(uuid.uuid4())}

    alice = str(uuid.uuid4())
    written = client.write("user", alice, "was_created",
                           {"name": "Alice", "email": "alice@example.com"}, actor)
    assert written.status_code == 201 and written.json()["ok"] is True, written.text
    assert client.get("user", alice, "/length").json() == {"ok": True, "length": 1}
    stale = client.write("user", alice, "had_email_updated", {"email": "x@example.com"},
                         actor, previous_length=0)
    assert stale.status_code == 409 and stale.json()["ok"] is False, stale.text

    bob = str(uuid.uuid4())
    batch = client.batch("user", bob, [
        {"type": "was_created", "data": {"name": "Bob", "email": "bob@example.com"}},
        {"type": "had_email_updated", "data": {"email": "bob@new.example"}}],
        actor, previous_length=0)
    assert batch.status_code == 201, batch.text
    assert batch.json()["count"] == 2 and len(batch.json()["stream_ids"]) == 2

    state = client.get("user", bob)
    assert state.status_code == 200, state.text
    assert state.json()["data"]["email"] == "bob@new.example"
    assert state.json()["metadata"]["length"] == 2
    assert isinstance(state.json()["data"]["created_at"], int)
    events = client.get("user", bob, "/events").json()["events"]
    assert [e["type"] for e in events] == ["was_created", "had_email_updated"]
    assert client.get("user", str(uuid.uuid4())).status_code == 404
