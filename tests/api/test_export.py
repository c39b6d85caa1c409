"""GET /internal/instances/{id}/{env}/export: every stored event as JSON Lines, paged."""
import base64
import hashlib
import json

import pytest

from chalicelib.domain import events as ev
from chalicelib.store import event_log as export
from chalicelib.store.keys import stream_key
from chalicelib.store.tables import StoredEvent, StreamHead
from testing.aws_calls import operations, recording
from testing.specs import ORDER_SPEC

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
FIELDS = ["aggregate_type", "aggregate_id", "position", "event_type", "data", "metadata",
          "created_at", "content_hash", "chain_hash"]


class World:
    def __init__(self, stack):
        self.stack = stack
        token = stack.operator_token()
        self.keys = {}
        self.instances = []
        for name in ("acme", "other"):
            inst = stack.call("POST", "/api/instances", token, body={"name": name}).json["id"]
            self.instances.append(inst)
            for env in ("prod", "staging"):
                deployed = stack.call("POST", f"/api/instances/{inst}/spec", token,
                                      body={"environment": env, "spec": ORDER_SPEC})
                assert deployed.status in (200, 201), deployed
                self.keys[(inst, env)] = stack.call(
                    "POST", f"/api/instances/{inst}/keys", token,
                    body={"name": "w", "scope": "write", "environment": env}).json["key"]

    @property
    def inst(self):
        return self.instances[0]

    def append(self, agg, agg_id, event, data, inst=None, env="prod"):
        key = self.keys[(inst or self.inst, env)]
        answer = self.stack.call("POST", f"/data/{agg}/{agg_id}/{event}",
                                 headers={"Authorization": f"Bearer {key}"},
                                 body={"data": data, "metadata": ACTOR})
        assert answer.status == 201, answer
        return answer

    def export(self, query="", inst=None, env="prod"):
        return self.stack.node("GET", f"/internal/instances/{inst or self.inst}/{env}/export"
                                      + (f"?{query}" if query else ""))


@pytest.fixture
def world(stack):
    w = World(stack)
    # order.created emits customer.ordered: two types, several aggregates each
    w.append("order", "0RDER0001", "created", {"customer": "C00000001", "total": 10})
    w.append("order", "0RDER0001", "item_added", {"sku": "A", "qty": 2})
    w.append("order", "0RDER0002", "created", {"customer": "C00000002", "total": 5.5})
    w.append("order", "0RDER0001", "item_added", {"sku": "B", "qty": 1})
    w.append("order", "0RDER0003", "created", {"customer": "C00000001", "total": 1})
    w.append("order", "0RDER0002", "closed", {})
    w.append("customer", "C00000003", "ordered", {"note": "direct"})
    # elsewhere: must never show up
    w.append("order", "X00000001", "created", {"customer": "CX0000001", "total": 2}, env="staging")
    w.append("order", "X00000002", "created", {"customer": "CY0000001", "total": 3}, inst=w.instances[1])
    return w


def lines_of(answer):
    assert answer.status == 200, answer
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    return [json.loads(text) for text in answer.text.splitlines()]


def stored(inst, env="prod"):
    """Every stored event of the environment, in export order, straight from the table."""
    out = []
    for agg_type in ("customer", "order"):
        prefix = f"{inst}#{env}#{agg_type}#"
        heads = sorted(h.stream for h in StreamHead.by_scope_type.query(prefix[:-1]))
        for stream in heads:
            for event in StoredEvent.query(stream, consistent_read=True):
                out.append((agg_type, stream[len(prefix):], event))
    return out


def full_export(world, query="", limit=None):
    pages, cursor = [], None
    while True:
        parts = [query] if query else []
        if cursor:
            parts.append(f"cursor={cursor}")
        if limit:
            parts.append(f"limit={limit}")
        answer = world.export("&".join(parts))
        pages.append(lines_of(answer))
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return pages
        assert len(pages) < 100


def test_export_matches_the_stored_events_exactly(world):
    answer = world.export()
    lines = lines_of(answer)
    assert "X-Next-Cursor" not in answer.headers
    expected = stored(world.inst)
    # 6 order events + 3 implied customer.ordered + 1 direct customer event
    assert len(lines) == len(expected) == 10
    for got, (agg_type, agg_id, event) in zip(lines, expected):
        assert list(got) == FIELDS
        assert got == {"aggregate_type": agg_type, "aggregate_id": agg_id,
                       "position": event.position, "event_type": event.event_type,
                       "data": event.data, "metadata": event.metadata,
                       "created_at": event.created_at, "content_hash": event.content_hash,
                       "chain_hash": event.chain_hash}
        recomputed = hashlib.sha256(ev.canonical({
            "type": got["event_type"], "data": got["data"], "metadata": got["metadata"],
            "created_at": got["created_at"]})).hexdigest()
        assert recomputed == got["content_hash"]
    keys = [(x["aggregate_type"], x["aggregate_id"], x["position"]) for x in lines]
    assert keys == sorted(keys)
    assert {k[:2] for k in keys} == {("customer", "C00000001"), ("customer", "C00000002"), ("customer", "C00000003"),
                                     ("order", "0RDER0001"), ("order", "0RDER0002"), ("order", "0RDER0003")}
    implied = [x for x in lines if x["aggregate_id"] == "C00000001"]
    assert [x["data"] for x in implied] == [{"total": 10}, {"total": 1}]
    assert all(x["metadata"]["implied_by"] == "$" for x in implied)
    assert not any(x["aggregate_id"] in ("X00000001", "X00000002", "CX0000001", "CY0000001") for x in lines)


def test_other_environments_and_instances_export_only_their_own(world):
    staging = lines_of(world.export(env="staging"))
    assert {(x["aggregate_type"], x["aggregate_id"]) for x in staging} == {
        ("customer", "CX0000001"), ("order", "X00000001")}
    other = lines_of(world.export(inst=world.instances[1]))
    assert {(x["aggregate_type"], x["aggregate_id"]) for x in other} == {
        ("customer", "CY0000001"), ("order", "X00000002")}
    assert lines_of(world.export(inst=world.instances[1], env="test")) == []


def test_filter_by_aggregate_type(world):
    lines = lines_of(world.export("aggregate_type=order"))
    assert len(lines) == 6 and {x["aggregate_type"] for x in lines} == {"order"}
    unknown = world.export("aggregate_type=nope")
    assert unknown.status == 422 and unknown.json["error"] == "UNKNOWN_AGGREGATE_TYPE"


@pytest.mark.parametrize("page_size", [1, 3, 4])
def test_paging_returns_every_event_once_in_order(world, monkeypatch, page_size):
    everything = lines_of(world.export())
    monkeypatch.setattr(export, "PAGE_SIZE", page_size)
    pages = full_export(world)
    assert all(len(p) == page_size for p in pages[:-1]) and 1 <= len(pages[-1]) <= page_size
    assert [x for p in pages for x in p] == everything


def test_limit_parameter_and_filtered_paging(world):
    pages = full_export(world, "aggregate_type=customer", limit=2)
    assert [len(p) for p in pages] == [2, 2]
    assert [x for p in pages for x in p] == lines_of(world.export("aggregate_type=customer"))


def test_byte_budget_bounds_a_page(world, monkeypatch):
    everything = lines_of(world.export())
    monkeypatch.setattr(export, "PAGE_BYTES", 1)   # one event per page, never zero
    pages = full_export(world)
    assert [len(p) for p in pages] == [1] * len(everything)
    assert [x for p in pages for x in p] == everything


def test_cursor_is_opaque_but_names_the_next_event(world, monkeypatch):
    monkeypatch.setattr(export, "PAGE_SIZE", 4)
    first = world.export()
    cursor = first.headers["X-Next-Cursor"]
    everything = stored(world.inst)
    agg_type, agg_id, event = everything[4]
    assert export.decode_cursor(cursor, world.inst, "prod") == export.Position(
        agg_type, stream_key(world.inst, "prod", agg_type, agg_id), event.position)


def test_events_of_a_type_dropped_from_the_spec_are_still_exported(world, stack):
    token = stack.operator_token()
    spec = json.loads(json.dumps(ORDER_SPEC))
    del spec["aggregate_types"]["customer"]
    spec["aggregate_types"]["order"]["events"]["created"].pop("implications")
    forced = stack.call("POST", f"/api/instances/{world.inst}/spec", token,
                        body={"environment": "staging", "spec": spec, "force": True})
    assert forced.status in (200, 201), forced
    lines = lines_of(world.export(env="staging"))
    assert {x["aggregate_type"] for x in lines} == {"customer", "order"}


def test_tombstoned_events_carry_their_marker_instead_of_data(world):
    stream = stream_key(world.inst, "prod", "order", "0RDER0001")
    event = StoredEvent.get(stream, 1)
    marker = {"_was_tombstoned": {"content_hash": event.content_hash}}
    event.update(actions=[StoredEvent.tombstoned.set(marker), StoredEvent.data.set(None)])
    line = next(x for x in lines_of(world.export())
                if x["aggregate_id"] == "0RDER0001" and x["position"] == 1)
    assert line["tombstoned"] == marker and "data" not in line
    assert line["content_hash"] == event.content_hash


def test_export_queries_and_never_scans(world, monkeypatch):
    monkeypatch.setattr(export, "PAGE_SIZE", 3)
    with recording() as calls:
        full_export(world)
    ops = operations(calls)
    assert "Scan" not in ops and "Query" in ops
    index_queries = [p for op, p in calls if op == "Query" and p.get("IndexName")]
    assert index_queries and {p["IndexName"] for p in index_queries} == {"by_scope_type"}


def test_node_secret_is_required(world):
    path = f"/internal/instances/{world.inst}/prod/export"
    assert world.stack.call("GET", path).status == 401
    wrong = world.stack.node("GET", path, secret="not-it")
    assert wrong.status == 401 and wrong.json["error"] == "INVALID_NODE_SECRET"


def test_unknown_instance_and_environment(world):
    missing = world.export(inst="no-such-instance")
    assert missing.status == 404 and missing.json["error"] == "INSTANCE_NOT_FOUND"
    assert world.export(env="dev").status == 400


def _cursor(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("make", [
    lambda w: "%%%not-base64",
    lambda w: _cursor(b"\xff\xfe"),
    lambda w: _cursor({"a": 1}),
    lambda w: _cursor(["order", f"{w.inst}#prod#order#0RDER0001", -1]),
    lambda w: _cursor(["order", f"{w.inst}#prod#order#0RDER0001", "1"]),
    lambda w: _cursor(["order", f"{w.instances[1]}#prod#order#X00000002", 0]),   # another instance
    lambda w: _cursor(["order", f"{w.inst}#staging#order#X00000001", 0]),       # another environment
    lambda w: _cursor(["order", f"{w.inst}#prod#customer#C00000001", 0]),       # type mismatch
], ids=["garbage", "not-utf8", "not-a-triple", "negative", "string-position",
        "other-instance", "other-env", "type-mismatch"])
def test_bad_cursor_is_400(world, make):
    answer = world.export(f"cursor={make(world)}")
    assert answer.status == 400, answer
    assert answer.json["error"] == "VALIDATION_ERROR" and answer.json["details"][0]["path"] == "cursor"


def test_cursor_of_another_filter_is_400(world, monkeypatch):
    monkeypatch.setattr(export, "PAGE_SIZE", 2)
    cursor = world.export("aggregate_type=order").headers["X-Next-Cursor"]
    answer = world.export(f"aggregate_type=customer&cursor={cursor}")
    assert answer.status == 400 and answer.json["details"][0]["path"] == "cursor"
