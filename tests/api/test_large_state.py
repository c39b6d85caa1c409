"""A state too large for its head lives in snapshots plus the events after them: an
append's write cost stays bounded by its event, and every read — warm, cold, as of a
time, after an import — gives exactly the state a full replay gives."""
import json

import pytest

from chalicelib.core import caches, clock
from chalicelib.domain import events as ev
from chalicelib.store import streams
from chalicelib.store.keys import stream_key
from chalicelib.store.tables import StateSnapshot, StoredEvent, StreamHead
from testing.aws_calls import recording
from tests.api.test_export import World

SKU = "S" * 1000          # each item adds about 1 KB to the state


@pytest.fixture
def world(stack):
    w = World(stack)
    w.token = stack.operator_token()
    w.append("order", "0RDER0001", "created", {"customer": "C00000001", "total": 1})
    return w


def replayed(w, env="prod"):
    stream = stream_key(w.inst, env, "order", "0RDER0001")
    spec = streams.current_spec(w.inst, env)
    return streams.replay(spec, "order", "0RDER0001", StoredEvent.query(stream))[0]


def read(w, env="prod", query=""):
    key = w.stack.call("POST", f"/api/instances/{w.inst}/keys", w.token,
                       body={"name": "r", "scope": "read", "environment": env}).json["key"]
    return w.stack.call("GET", f"/data/order/0RDER0001{query}",
                        headers={"Authorization": f"Bearer {key}"}).json


def item_sizes(calls):
    """Bytes of each item of the TransactWriteItems among `calls` (DynamoDB JSON)."""
    out = []
    for operation, params in calls:
        if operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                body = entry.get("Put", {}).get("Item") or entry.get("Update", {}).get("Key")
                out.append((entry.get("Put", {}).get("TableName") or
                            entry.get("Update", {}).get("TableName"), len(json.dumps(body))))
    return out


def test_a_large_state_leaves_the_head_and_reads_stay_exact(world):
    w = world
    for i in range(60):
        w.append("order", "0RDER0001", "item_added", {"sku": f"{SKU}{i}", "qty": 1})
    stream = stream_key(w.inst, "prod", "order", "0RDER0001")
    head = StreamHead.get(stream)
    assert head.snapshot_length is not None and not head.state
    assert len(list(StateSnapshot.query(stream))) >= 1
    expected = replayed(w)
    assert len(ev.canonical(expected)) > 50_000
    assert read(w)["data"] == expected
    caches.clear_all()                        # a cold container: state from snapshot + tail
    w.append("order", "0RDER0001", "item_added", {"sku": "late", "qty": 2})
    assert read(w)["data"] == replayed(w)
    assert read(w)["data"]["count"] == 62
    clock.advance(5)
    assert read(w, query=f"?at={clock.now()}")["data"] == replayed(w)


def test_an_appends_write_is_bounded_by_its_event_not_the_state(world):
    w = world
    for i in range(60):
        w.append("order", "0RDER0001", "item_added", {"sku": f"{SKU}{i}", "qty": 1})
    sizes = []
    for i in range(40):
        with recording() as calls:
            w.append("order", "0RDER0001", "item_added", {"sku": f"x{i}", "qty": 1})
        sizes.append(sum(size for _, size in item_sizes(calls)))
    state = len(ev.canonical(replayed(w)))
    # most appends write a few KB; one in max(32, state KB) also writes the snapshot
    small = sorted(sizes)[: len(sizes) - 2]
    assert max(small) < 6_000 < state
    assert sum(sizes) / len(sizes) < 6_000 + 2 * state / 32


def test_an_import_of_a_large_stream_is_read_back_exactly(world):
    w = world
    for i in range(30):
        w.append("order", "0RDER0001", "item_added", {"sku": f"{SKU}{i}", "qty": 1})
    from testing.specs import ORDER_SPEC
    from local import consumer
    w.stack.call("POST", f"/api/instances/{w.inst}/spec", w.token,
                 body={"environment": "test", "spec": ORDER_SPEC})
    lines = [json.loads(t) for t in w.export().text.splitlines()]
    job = w.stack.call("POST", f"/api/instances/{w.inst}/ops/test/import", w.token,
                       body={"events": lines})
    assert job.status == 202
    consumer.drain()
    assert StreamHead.get(stream_key(w.inst, "test", "order", "0RDER0001")).snapshot_length
    assert read(w, env="test")["data"] == replayed(w, "prod")
