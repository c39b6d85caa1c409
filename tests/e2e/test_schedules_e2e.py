"""Scheduled events against the `make run` stack: the stack's own scheduler runs the
`scheduled_events` job (every minute) and its own consumers take the timers queue. The
stack's clock is moved (CLOCK_OFFSET_FILE) so that events scheduled 5 minutes ahead come
due about 70 s later in real time, after at least one run of the job; each is emitted
within a second or two of its due time, one cancelled by cancel_on stays cancelled, and
the time from due to emitted is printed (median, p99, max)."""
from __future__ import annotations

import re
import statistics
import time

import boto3
import pytest
import requests

from testing.e2e import ADMIN_EMAIL, ADMIN_PASSWORD, running_stack

EVENTS = 12
_EVENT = {"schema": {"type": "object"}, "handler": []}
SPEC = {
    "aggregate_types": {
        "cart": {"events": {
            "had_item_added": {**_EVENT, "implications": [{"schedule": {
                "delay": "5m",
                "emit": {"aggregate_type": "notification", "id": "$.metadata.actor.id",
                         "event_type": "reminder", "data": {"cart_id": "$.key"}},
                "cancel_on": [{"aggregate_type": "cart", "id": "$.key",
                               "event_type": "was_checked_out"}]}}]},
            "was_checked_out": _EVENT}},
        "notification": {"events": {"reminder": _EVENT}},
    },
    "agent_types": ["user"],
}
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schedules")
    offset = tmp / "clock-offset"
    offset.write_text("0")
    with running_stack(tmp, CLOCK_OFFSET_FILE=str(offset)) as running:
        running.offset_file = offset
        yield running


def scheduled_items(stack) -> list[dict]:
    port = re.search(r"Embedded AWS \(moto\): http://127\.0\.0\.1:(\d+)",
                     stack.output()).group(1)
    dynamodb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}",
                            region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")
    name = next(n for n in dynamodb.list_tables()["TableNames"]
                if n.endswith("scheduled_events"))
    return [item for page in dynamodb.get_paginator("scan").paginate(TableName=name)
            for item in page["Items"]]


def test_scheduled_events_come_due_under_make_run(stack):
    url = stack.url
    token = requests.post(url + "/api/login", timeout=30,
                          json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    auth = {"Authorization": f"Bearer {token['admin_token']}"}
    inst = requests.post(url + "/api/instances", json={"name": "later"}, headers=auth,
                         timeout=30).json()["id"]
    assert requests.post(f"{url}/api/instances/{inst}/spec", headers=auth, timeout=30,
                         json={"environment": "prod", "spec": SPEC}).status_code == 201
    key = requests.post(f"{url}/api/instances/{inst}/keys", headers=auth, timeout=30,
                        json={"name": "w", "scope": "write", "environment": "prod"}).json()["key"]
    data = {"Authorization": f"Bearer {key}"}

    def append(cart, event):
        answer = requests.post(f"{url}/data/cart/{cart}/{event}", headers=data, timeout=30,
                               json={"data": {}, "metadata": ACTOR})
        assert answer.status_code == 201, answer.text

    first = time.time()
    carts = [f"CART{i:05d}" for i in range(EVENTS)]
    for cart in carts:
        append(cart, "had_item_added")
        time.sleep(0.3)
    append(carts[0], "was_checked_out")          # cancelled before it comes due
    # the first comes due 70 s from now (real time): the job, every 60 s, runs before
    stack.offset_file.write_text(str(300 - 70 - (time.time() - first)))
    ops = f"{url}/api/instances/{inst}/ops/prod/scheduled"
    deadline = time.monotonic() + 150
    listed = []
    while time.monotonic() < deadline:
        listed = requests.get(ops, headers=auth, timeout=30).json()["scheduled"]
        if len(listed) == EVENTS and all(i["status"] in ("emitted", "cancelled") for i in listed):
            break
        time.sleep(1)
    status = {i["aggregate_id"]: i["status"] for i in listed}
    assert status[carts[0]] == "cancelled", status
    assert all(status[c] == "emitted" for c in carts[1:]), status
    late = sorted(float(i["emitted_at"]["N"]) - float(i["due_at"]["N"])
                  for i in scheduled_items(stack) if i["status"]["S"] == "emitted")
    assert len(late) == EVENTS - 1
    p99 = late[min(len(late) - 1, round(0.99 * (len(late) - 1)))]
    print(f"\ndue -> emitted under make run ({len(late)} events): median "
          f"{statistics.median(late):.2f} s, p99 {p99:.2f} s, max {late[-1]:.2f} s")
    assert 0 <= late[0] and late[-1] < 3, late
    events = requests.get(f"{url}/data/notification/AGENT0001/events", headers=data,
                          timeout=30).json()["events"]
    assert sorted(e["data"]["cart_id"] for e in events) == [f"cart:{c}" for c in carts[1:]]
