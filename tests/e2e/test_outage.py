"""The embedded AWS stops answering (SIGSTOP of moto's process, as `make run` starts it)
while requests run: every request answers within 10 s, with 503 and Retry-After or a
success; after SIGCONT the same stack recovers without a restart, and no write is half
applied (a write that answered 503 exists whole or not at all, and sending it again with
its X-Idempotency-Key lands it exactly once)."""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from testing.e2e import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Stack,
    instance_with_writer,
    running_stack,
)

ANSWER_WITHIN = 10.0     # seconds; API Gateway gives up at 29
RECOVER_WITHIN = 15.0
PAUSE_AT_LEAST = 3.0     # keep moto stopped this long, so writes are cut at every stage
WRITERS = 3
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("e2e-outage")) as running:
        yield running


def moto_pid(stack: Stack) -> int:
    found = re.search(r"embedded AWS \(moto\) on \S+ \(pid (\d+)\)", stack.output())
    assert found, stack.output()
    pid = int(found.group(1))
    assert pid != stack.proc.pid  # its own process: pausing it leaves the rest running
    return pid


def timed(method: str, url: str, **kwargs) -> tuple[int, float, dict, str]:
    began = time.monotonic()
    try:
        answer = requests.request(method, url, timeout=25, **kwargs)
        status, headers, text = answer.status_code, dict(answer.headers), answer.text[:300]
    except requests.RequestException as exc:
        status, headers, text = 0, {}, repr(exc)
    return status, time.monotonic() - began, headers, text


def acceptable(status: int, seconds: float, headers: dict) -> bool:
    """Within the time limit, and either a success or a 503 that says when to retry."""
    if seconds > ANSWER_WITHIN:
        return False
    if 200 <= status < 300:
        return True
    return status == 503 and int(headers.get("Retry-After", "0")) > 0


def test_an_outage_answers_503_in_time_and_the_stack_recovers(stack):
    url = stack.url
    token, inst, key = instance_with_writer(url, "outage")
    data = {"Authorization": f"Bearer {key}"}
    admin = {"Authorization": f"Bearer {token}"}
    for agg in ("0RDER0001", "0RDER0002"):
        assert stack.call("POST", f"/data/order/{agg}/created", headers=data, body={
            "data": {"customer": "C00000001"}, "metadata": ACTOR}).status_code == 201
    kinds = {
        "login": lambda n: timed("POST", f"{url}/api/login",
                                 json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        "admin GET": lambda n: timed("GET", f"{url}/api/instances/{inst}", headers=admin),
        "data write": lambda n: timed("POST", f"{url}/data/order/0RDER0001/item_added",
                                      headers={**data, "X-Idempotency-Key": f"kind-{n}"},
                                      json={"data": {"sku": f"kind-{n}", "qty": 1},
                                            "metadata": ACTOR}),
        "device challenge": lambda n: timed("GET", f"{url}/admin/v1/auth/challenge"),
    }
    for name, call in kinds.items():  # all work, and every cache is warm
        status, _, _, text = call("warm")
        assert 200 <= status < 300, (name, status, text)

    # writers that keep appending to o2 before, during and after the outage, so writes
    # are cut at every stage (the key's read, the head's read, the transaction)
    stop = threading.Event()
    writes: list[tuple[str, int, float, dict, str]] = []

    def writer(w):
        n = 0
        while not stop.is_set():
            sku = f"w{w}-{n}"
            status, seconds, headers, text = timed(
                "POST", f"{url}/data/order/0RDER0002/item_added",
                headers={**data, "X-Idempotency-Key": sku},
                json={"data": {"sku": sku, "qty": 1}, "metadata": ACTOR})
            writes.append((sku, status, seconds, headers, text))
            n += 1

    background = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for thread in background:
        thread.start()
    pid = moto_pid(stack)
    try:
        time.sleep(0.5)
        paused_at = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        with ThreadPoolExecutor(max_workers=len(kinds) * 2) as pool:
            during = {(name, round_): pool.submit(call, f"paused-{round_}")
                      for round_ in range(2) for name, call in kinds.items()}
            during = {k: f.result() for k, f in during.items()}
        time.sleep(max(0.0, PAUSE_AT_LEAST - (time.monotonic() - paused_at)))
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed_at = time.monotonic()
    for (name, round_), (status, seconds, headers, text) in sorted(during.items()):
        print(f"during the pause: {name} #{round_}: {status} in {seconds:.2f} s "
              f"(Retry-After {headers.get('Retry-After')})")
    bad = {k: v for k, v in during.items() if not acceptable(v[0], v[1], v[2])}
    assert not bad, bad
    assert any(v[0] == 503 for v in during.values()), during  # the outage was seen

    # the same requests succeed again, on the same stack (no restart)
    recovered = {}
    while len(recovered) < len(kinds) and time.monotonic() - resumed_at < RECOVER_WITHIN:
        for name, call in kinds.items():
            if name not in recovered and 200 <= call(f"after-{len(writes)}")[0] < 300:
                recovered[name] = time.monotonic() - resumed_at
        time.sleep(0.1)
    print(f"recovered after SIGCONT in {max(recovered.values(), default=-1):.2f} s: {recovered}")
    assert set(recovered) == set(kinds), (recovered, stack.output()[-3000:])
    assert stack.proc.poll() is None and moto_pid(stack) == pid
    time.sleep(0.5)
    stop.set()
    for thread in background:
        thread.join(30)

    slow = [w for w in writes if not acceptable(w[1], w[2], w[3])]
    assert not slow, slow
    refused = [sku for sku, status, *_ in writes if status != 201]
    landed = [sku for sku, status, *_ in writes if status == 201]
    print(f"writers: {len(landed)} answered 201, {len(refused)} refused during the outage")
    # (a write that straddles the pause may also land: its call's retry meets SIGCONT)
    assert refused, "no write of the writers met the outage"

    def o2():
        state = requests.get(f"{url}/data/order/0RDER0002", headers=data, timeout=10).json()
        chain = requests.get(f"{url}/data/order/0RDER0002/audit/verify-chain", headers=data,
                             timeout=10).json()
        skus = [i["sku"] for i in state["data"].get("items", [])]
        assert chain["valid"] is True, chain
        assert chain["length"] == state["metadata"]["length"] == len(skus) + 1, (chain, state)
        assert len(skus) == len(set(skus)), skus          # nothing written twice
        return skus

    skus = o2()
    assert set(landed) <= set(skus)                        # every 201 is there
    assert set(skus) <= set(landed) | set(refused)
    # a 503'd write is whole or absent; sent again with its key it lands exactly once
    for sku in refused:
        status, _, _, text = timed("POST", f"{url}/data/order/0RDER0002/item_added",
                                   headers={**data, "X-Idempotency-Key": sku},
                                   json={"data": {"sku": sku, "qty": 1}, "metadata": ACTOR})
        assert status == 201, (sku, text)
    assert sorted(o2()) == sorted(landed + refused)
