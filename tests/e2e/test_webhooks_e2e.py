"""Listener deliveries against the `make run` stack: its own consumers take the timers
queue and POST to a receiver on loopback (allowed by default under make run, and said
so at start); signatures verify on the receiver side; a receiver answering 503 once gets
the event again 5 s later, in real time."""
from __future__ import annotations

import copy
import json
import time

import pytest
import requests
from standardwebhooks import Webhook

from chalicelib.domain import webhooks as wh
from testing.e2e import ADMIN_EMAIL, ADMIN_PASSWORD, running_stack
from testing.specs import ORDER_SPEC
from testing.webhook_receiver import Answer, Receiver

SECRET = wh.new_secret()
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("webhooks")) as running:
        yield running


def test_deliveries_under_make_run(stack):
    receiver = Receiver().start()
    try:
        url = stack.url
        assert "WEBHOOK_ALLOW_LOOPBACK=true" in stack.output()
        token = requests.post(url + "/api/login", timeout=30, json={
            "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["admin_token"]
        auth = {"Authorization": f"Bearer {token}"}
        inst = requests.post(url + "/api/instances", json={"name": "hooks"}, headers=auth,
                             timeout=30).json()["id"]
        spec = copy.deepcopy(ORDER_SPEC)
        spec["listeners"] = [{"name": "billing", "url": receiver.url, "secret": SECRET,
                              "events": [{"aggregate_type": "order", "event_type": "*"}]}]
        deployed = requests.post(f"{url}/api/instances/{inst}/spec", headers=auth, timeout=30,
                                 json={"environment": "prod", "spec": spec})
        assert deployed.status_code == 201, deployed.text
        served = requests.get(f"{url}/api/instances/{inst}/spec", headers=auth, timeout=30)
        assert SECRET[6:] not in served.text
        assert served.json()["spec"]["listeners"][0]["secret"] == "whsec_redacted"
        key = requests.post(f"{url}/api/instances/{inst}/keys", headers=auth, timeout=30,
                            json={"name": "w", "scope": "write",
                                  "environment": "prod"}).json()["key"]
        receiver.script = [Answer(503)]
        answer = requests.post(f"{url}/data/order/0RDER0001/created", timeout=30,
                               headers={"Authorization": f"Bearer {key}"},
                               json={"data": {"customer": "C00000001", "total": 3},
                                     "metadata": ACTOR})
        assert answer.status_code == 201, answer.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(receiver.requests) < 2:
            time.sleep(0.1)
        assert len(receiver.requests) == 2, stack.output()[-3000:]
        first, second = receiver.requests
        for got in receiver.requests:
            assert Webhook(SECRET).verify(got.body, got.headers)
            assert wh.verify_j17(SECRET, got.headers["X-J17-Signature"], got.body, time.time())
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        gap = second.at - first.at
        assert 5.0 <= gap < 7.5, gap                     # 5 s, + up to 1 s + polling
        listed = requests.get(f"{url}/api/instances/{inst}/ops/prod/deliveries",
                              headers=auth, timeout=30).json()["deliveries"]
        [d] = listed
        assert d["status"] == "delivered"
        assert [a["status_code"] for a in d["attempts"]] == [503, 200]
        assert json.loads(second.body)["data"] == {"customer": "C00000001", "total": 3}
        print(f"\nretry gap under make run: {gap:.2f} s (scheduled 5 s)")
    finally:
        receiver.stop()
