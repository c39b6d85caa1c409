"""The outside probe's contention case against the `make run` stack: 8 writers x 25
appends on one stream over HTTP, none naming previous_length. Every append must answer
201 (the service retries lost races within its budget), and the stream must then hold
exactly 200 more events, each once, with a valid hash chain (the verify-chain route is
integrity.verify_chain). bench/contention.py runs the same probe and prints latencies."""
from __future__ import annotations

import statistics

import pytest

from testing.e2e import contend, instance_with_writer, running_stack

WRITERS = 8
EACH = 25
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("e2e-contention")) as running:
        yield running


def test_eight_writers_on_one_stream_all_succeed(stack):
    _, _, key = instance_with_writer(stack.url, "contention")
    auth = {"Authorization": f"Bearer {key}"}
    first = stack.call("POST", "/data/order/0RDER0001/created", headers=auth,
                       body={"data": {"customer": "C00000001"}, "metadata": ACTOR})
    assert first.status_code == 201, first.text
    before = stack.call("GET", "/data/order/0RDER0001/length", headers=auth).json()["length"]

    results = contend(stack.url, "0RDER0001", auth, WRITERS, EACH, timeout=30)
    refused = [(status, text) for status, _, text in results if status != 201]
    latencies = sorted(seconds for _, seconds, _ in results)
    print(f"{len(results) - len(refused)}/{WRITERS * EACH} answered 201; median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    assert len(results) == WRITERS * EACH
    assert not refused, refused[:5]

    length = stack.call("GET", "/data/order/0RDER0001/length", headers=auth).json()["length"]
    assert length == before + WRITERS * EACH
    chain = stack.call("GET", "/data/order/0RDER0001/audit/verify-chain", headers=auth).json()
    assert chain["valid"] is True, chain
    assert chain["checked"] == chain["length"] == before + WRITERS * EACH, chain
    state = stack.call("GET", "/data/order/0RDER0001", headers=auth).json()
    assert state["data"]["count"] == WRITERS * EACH
    skus = [item["sku"] for item in state["data"]["items"]]
    assert sorted(skus) == sorted(f"w{n}-{i}" for n in range(WRITERS) for i in range(EACH))
    for n in range(WRITERS):  # each writer's own appends land in the order it made them
        assert [int(s.split("-")[1]) for s in skus if s.startswith(f"w{n}-")] == list(range(EACH))
    root = stack.call("GET", "/data/order/0RDER0001/audit/merkle-root", headers=auth).json()
    assert root["treeSize"] == before + WRITERS * EACH
