"""The outside probe's contention case against the `make run` stack: 8 writers x 25
appends on one stream over HTTP, none naming previous_length. Every append must answer
201 (the service retries lost races within its budget), and the stream must then hold
exactly 200 more events, each once, with a valid hash chain (the verify-chain route is
integrity.verify_chain). bench/contention.py runs the same probe and prints latencies."""
from __future__ import annotations

import statistics
import subprocess
import threading
import time

import pytest
import requests
from nacl.signing import SigningKey
from test_stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Stack,
    free_port,
    kill_group,
    runner_env,
    start_runner,
)

from testing.specs import ORDER_SPEC

WRITERS = 8
EACH = 25
ACTOR = {"actor": {"type": "user", "id": "u"}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e-contention")
    port = free_port()
    key = SigningKey.generate()
    env = runner_env(port, free_port(taken=(port,)), tmp / "local",
                     ADMIN_DEVICE_PUBLIC_KEY=key.verify_key.encode().hex())
    log_path = tmp / "runner.log"
    with open(log_path, "wb") as log:
        proc = start_runner(env, stdout=log, stderr=subprocess.STDOUT)
    running = Stack(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path,
                    device_key=key)
    try:
        running.wait_ready()
        yield running
    finally:
        running.http.close()
        kill_group(proc)


def test_eight_writers_on_one_stream_all_succeed(stack):
    token = stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL,
                                                    "password": ADMIN_PASSWORD}).json()["admin_token"]
    inst = stack.call("POST", "/api/instances", token, body={"name": "contention"}).json()["id"]
    deployed = stack.call("POST", f"/api/instances/{inst}/spec", token,
                          body={"environment": "prod", "spec": ORDER_SPEC})
    assert deployed.status_code == 201, deployed.text
    key = stack.call("POST", f"/api/instances/{inst}/keys", token,
                     body={"name": "w", "scope": "write", "environment": "prod"}).json()["key"]
    auth = {"Authorization": f"Bearer {key}"}
    first = stack.call("POST", "/data/order/o1/created", headers=auth,
                       body={"data": {"customer": "c1"}, "metadata": ACTOR})
    assert first.status_code == 201, first.text
    before = stack.call("GET", "/data/order/o1/length", headers=auth).json()["length"]

    start = threading.Barrier(WRITERS)
    results: list[tuple[int, float, str]] = []
    lock = threading.Lock()

    def writer(n):
        session = requests.Session()
        start.wait()
        for i in range(EACH):
            began = time.monotonic()
            try:
                answer = session.post(f"{stack.url}/data/order/o1/item_added", headers=auth,
                                      json={"data": {"sku": f"w{n}-{i}", "qty": 1},
                                            "metadata": ACTOR}, timeout=30)
                status, text = answer.status_code, answer.text[:300]
            except requests.RequestException as exc:
                status, text = 0, repr(exc)
            with lock:
                results.append((status, time.monotonic() - began, text))
        session.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    refused = [(status, text) for status, _, text in results if status != 201]
    latencies = sorted(seconds for _, seconds, _ in results)
    print(f"{len(results) - len(refused)}/{WRITERS * EACH} answered 201; median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    assert len(results) == WRITERS * EACH
    assert not refused, refused[:5]

    length = stack.call("GET", "/data/order/o1/length", headers=auth).json()["length"]
    assert length == before + WRITERS * EACH
    chain = stack.call("GET", "/data/order/o1/audit/verify-chain", headers=auth).json()
    assert chain["valid"] is True, chain
    assert chain["checked"] == chain["length"] == before + WRITERS * EACH, chain
    state = stack.call("GET", "/data/order/o1", headers=auth).json()
    assert state["data"]["count"] == WRITERS * EACH
    skus = [item["sku"] for item in state["data"]["items"]]
    assert sorted(skus) == sorted(f"w{n}-{i}" for n in range(WRITERS) for i in range(EACH))
    for n in range(WRITERS):  # each writer's own appends land in the order it made them
        assert [int(s.split("-")[1]) for s in skus if s.startswith(f"w{n}-")] == list(range(EACH))
    root = stack.call("GET", "/data/order/o1/audit/merkle-root", headers=auth).json()
    assert root["treeSize"] == before + WRITERS * EACH
