"""The real stack as `make run` starts it (moto's server, bootstrap, `chalice local`, the
schedules), driven over HTTP: device and operator login, an instance, an API key's life
cycle, token refresh and logout, a busy port, and a clean Ctrl-C."""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import time

import pytest

from testing.e2e import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NODE_SECRET,
    STOP_TIMEOUT,
    Stack,
    free_port,
    group_alive,
    instance_with_writer,
    kill_group,
    runner_env,
    running_stack,
    start_runner,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("e2e-stack")) as running:
        yield running


def device_login(stack: Stack) -> dict:
    challenge = stack.call("GET", "/admin/v1/auth/challenge")
    assert challenge.status_code == 200, challenge.text
    text = challenge.json()["challenge"]
    assert len(text) == 48, text
    signature = stack.device_key.sign(text.encode()).signature.hex()
    answer = stack.call("POST", "/admin/v1/auth", body={
        "device_address": stack.device_address, "challenge": text,
        "challenge_signature": signature, "timestamp": int(time.time())})
    assert answer.status_code == 200, answer.text
    assert answer.json()["admin_level"] == "admin", answer.text
    return answer.json()


# --- tests (in this order: the last one stops the stack) -------------------------------

def test_a_busy_port_is_refused_with_one_clear_line(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = start_runner(runner_env(port, free_port(taken=(port,)), tmp_path / "local"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = proc.communicate(timeout=30)
        finally:
            kill_group(proc)
    assert proc.returncode == 2, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert f"port {port}" in lines[0] and "in use" in lines[0], out
    assert f"PORT={port + 1} make run" in lines[0], out


def test_admin_flows_over_http(stack):
    device_token = device_login(stack)["admin_token"]

    login = stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL,
                                                    "password": ADMIN_PASSWORD})
    assert login.status_code == 200, login.text
    operator_token = login.json()["admin_token"]
    wrong = stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL, "password": "nope"})
    assert wrong.status_code == 401, wrong.text

    created = stack.call("POST", "/api/instances", token=operator_token, body={"name": "e2e"})
    assert created.status_code == 201, created.text
    instance = created.json()
    assert instance["name"] == "e2e", instance
    listed = stack.call("GET", "/api/instances", token=device_token)
    assert listed.status_code == 200, listed.text
    assert instance["id"] in [i["id"] for i in listed.json()["instances"]], listed.text

    made = stack.call("POST", f"/api/instances/{instance['id']}/keys", token=operator_token,
                      body={"name": "ingest", "scope": "write", "environment": "prod"})
    assert made.status_code == 201, made.text
    first = made.json()
    used = stack.call("GET", "/data", token=first["key"])
    assert used.status_code == 200, used.text
    assert used.json() == {"ok": True, "instance_id": instance["id"], "environment": "prod",
                           "scope": "write"}

    rotated = stack.call("POST", f"/api/keys/{first['id']}/rotate", token=device_token, body={})
    assert rotated.status_code == 201, rotated.text
    second = rotated.json()
    assert second["key"] != first["key"] and second["rotated_from"] == first["id"], second
    old = stack.call("GET", "/data", token=first["key"])
    assert old.status_code == 401, old.text
    used = stack.call("GET", "/data", token=second["key"])
    assert used.status_code == 200, used.text
    assert used.json()["instance_id"] == instance["id"], used.text

    revoked = stack.call("DELETE", f"/api/keys/{second['id']}", token=operator_token)
    assert revoked.status_code == 200, revoked.text
    refused = stack.call("GET", "/data", token=second["key"])
    assert refused.status_code == 401, refused.text
    keys = stack.call("GET", f"/api/instances/{instance['id']}/keys", token=operator_token)
    assert keys.status_code == 200, keys.text
    assert len(keys.json()["keys"]) == 2, keys.text
    assert all("key" not in k and k["revoked_at"] for k in keys.json()["keys"]), keys.text

    refreshed = stack.call("POST", "/admin/v1/auth/refresh", token=device_token)
    assert refreshed.status_code == 200, refreshed.text
    new_token = refreshed.json()["admin_token"]
    assert new_token != device_token
    assert stack.call("GET", "/api/instances", token=new_token).status_code == 200

    out = stack.call("POST", "/admin/v1/auth/logout", token=new_token)
    assert out.status_code == 200, out.text
    for token in (new_token, device_token):  # the whole session ends at once
        refused = stack.call("GET", "/api/instances", token=token)
        assert refused.status_code == 401, refused.text
    still = stack.call("GET", "/api/instances", token=operator_token)
    assert still.status_code == 200, still.text  # another session is untouched

    # `chalice local` runs no schedules: the runner calls them, first right at start
    deadline = time.monotonic() + 10
    while "[jobs] key_revocations ok" not in stack.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "[jobs] key_revocations ok" in stack.output(), stack.output()


def test_event_store_over_http(stack):
    """Deploy a spec, write with an API key, read the state, and verify a Merkle proof
    with a verifier written here from RFC 9162, independent of the server's code."""
    import base64

    token, inst, key = instance_with_writer(stack.url, "events")
    auth = {"Authorization": f"Bearer {key}"}
    actor = {"actor": {"type": "user", "id": "AGENT0001"}}
    first = stack.call("POST", "/data/order/0RDER0001/created", headers=auth,
                       body={"data": {"customer": "C00000001", "total": 5}, "metadata": actor})
    assert first.status_code == 201 and first.json()["ok"] is True, first.text
    for i in range(4):
        stack.call("POST", "/data/order/0RDER0001/item_added", headers=auth,
                   body={"data": {"sku": f"s{i}", "qty": 1}, "metadata": {**actor, "previous_length": i + 1}})
    conflict = stack.call("POST", "/data/order/0RDER0001/closed", headers=auth,
                          body={"data": {}, "metadata": {**actor, "previous_length": 2}})
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "Concurrent write detected. Stream has 5 events, expected 2."
    state = stack.call("GET", "/data/order/0RDER0001", headers=auth).json()
    assert state["data"]["count"] == 4 and state["metadata"]["length"] == 5

    proof = stack.call("GET", "/data/order/0RDER0001/audit/merkle-proof/3", headers=auth).json()
    root = base64.b64decode(stack.call("GET", "/data/order/0RDER0001/audit/merkle-root",
                                       headers=auth).json()["root"])
    fn, sn, r = 3, proof["treeSize"] - 1, base64.b64decode(proof["leafHash"])
    for p in map(base64.b64decode, proof["proof"]):
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0 and r == root
    verdict = stack.call("POST", "/data/order/0RDER0001/audit/merkle-verify", headers=auth, body={
        k: proof[k] for k in ("leafIdx", "treeSize", "leafHash", "proof", "root")}).json()
    assert verdict["valid"] is True


def test_server_admin_over_http(stack):
    """Seed 004 end to end: device login, config patch, pushed metrics and status, then
    metrics, timeseries, audit, health and alerts."""
    token = device_login(stack)["admin_token"]
    node = {"X-Node-Secret": NODE_SECRET}
    patched = stack.call("PATCH", "/admin/v1/config", token,
                         body={"progressive_trust": {"new_tier_limit": 15}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["updated_fields"] == ["progressive_trust.new_tier_limit"]
    assert stack.call("GET", "/admin/v1/config", token).json()["progressive_trust"]["new_tier_limit"] == 15

    now = int(time.time())
    pushed = stack.call("POST", "/internal/metrics", headers=node, body={"samples": [
        {"name": "messages_sent", "value": 40, "kind": "counter", "timestamp": now - 60},
        {"name": "messages_sent", "value": 2, "kind": "counter", "timestamp": now},
        {"name": "websocket_connections", "value": 650, "kind": "gauge", "timestamp": now}]})
    assert pushed.status_code == 202 and pushed.json() == {"accepted": 3}, pushed.text
    status = stack.call("POST", "/internal/status", headers=node, body={
        "message_queue": {"status": "healthy", "queue_size": 3, "details": "queue ok"},
        "federation": {"status": "healthy", "active_connections": 2, "details": "peers ok"},
        "websocket": {"status": "healthy", "active_connections": 650, "details": "ws ok"}})
    assert status.status_code == 202, status.text

    metrics = stack.call("GET", "/admin/v1/metrics?period=1h", token).json()
    assert metrics["messages"]["sent_last_24h"] == 42
    assert metrics["performance"]["websocket_connections"] == 650
    assert metrics["devices"]["total"] >= 1
    series = stack.call("GET", "/admin/v1/metrics/timeseries?metric=messages_sent&period=1h&interval=5m",
                        token).json()
    assert series["aggregate"]["total"] == 42 and series["data_points"]
    prom = stack.call("GET", "/admin/v1/metrics/export?format=prometheus", token)
    assert prom.status_code == 200 and "# TYPE cryptid_devices_total gauge" in prom.text

    audit = stack.call("GET", "/admin/v1/audit?action=config_updated", token).json()
    assert audit["total_count"] == 1
    assert audit["entries"][0]["details"]["new_values"] == {"progressive_trust.new_tier_limit": 15}
    health = stack.call("GET", "/admin/v1/health", token)
    assert health.status_code == 200, health.text
    assert health.json()["components"]["database"]["status"] == "healthy"
    assert health.json()["components"]["websocket"]["status"] == "healthy"
    alerts = stack.call("GET", "/admin/v1/alerts", token)
    assert alerts.status_code == 200 and "active_alerts" in alerts.json()


def test_sigint_stops_everything_with_code_0(stack):
    assert stack.proc.poll() is None, stack.output()
    started = time.monotonic()
    os.killpg(stack.proc.pid, signal.SIGINT)  # the group, as Ctrl-C in a terminal does
    try:
        code = stack.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the runner did not stop within {STOP_TIMEOUT:.0f} s:\n{stack.output()}")
    elapsed = time.monotonic() - started
    assert code == 0, stack.output()
    assert "[local] stopped" in stack.output(), stack.output()
    assert not group_alive(stack.proc.pid), "a process of the runner's group outlived it"
    print(f"runner stopped in {elapsed:.2f} s")
