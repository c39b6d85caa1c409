"""Seed 000's checkpoints on the ops and internal surfaces: create, list, restore, delete,
reads of a past state from a checkpoint, and the spec-version rule."""
import base64
import copy
import hashlib
import json

import pytest

from chalicelib.core import clock
from chalicelib.domain import events as ev
from chalicelib.platform.checkpoints import service as svc
from chalicelib.store import aws
from chalicelib.store import checkpoints as cp_store
from chalicelib.store.buckets import bucket_name
from chalicelib.store.keys import stream_key
from chalicelib.store.tables import AuditEntry, Checkpoint, StoredEvent, StreamHead
from testing.specs import ORDER_SPEC
from tests.api.test_export import World

FIELDS = {"id", "aggregate_type", "aggregate_id", "length", "spec_version", "handlers",
          "handlers_current", "merkle_root", "chain_hash", "state_size", "state_sha256",
          "state_storage", "created_at", "created_by"}
ORDER = "0RDER0001"


@pytest.fixture
def world(stack, frozen_clock):
    w = World(stack)
    w.token = stack.operator_token()
    w.append("order", ORDER, "created", {"customer": "C00000001", "total": 10})
    clock.advance(10)
    w.append("order", ORDER, "item_added", {"sku": "A", "qty": 2})
    clock.advance(10)
    w.append("order", ORDER, "item_added", {"sku": "B", "qty": 1})
    clock.advance(10)
    w.append("order", "0RDER0002", "created", {"customer": "C00000002", "total": 5})
    w.base = f"/api/instances/{w.inst}/ops/prod/checkpoints"
    return w


def call(w, method, path="", body=None, token=None):
    return w.stack.call(method, w.base + path, token or w.token, body=body)


def create(w, agg_id=ORDER, agg_type="order", **extra):
    answer = call(w, "POST", body={"aggregate_type": agg_type, "aggregate_id": agg_id, **extra})
    assert answer.status == 201, answer
    return answer.json


def data(w, path, env="prod"):
    key = w.keys[(w.inst, env)]
    return w.stack.call("GET", f"/data/{path}", headers={"Authorization": f"Bearer {key}"})


def audits(action):
    return [e for e in AuditEntry.scan() if e.action == action]


def deploy(w, spec, env="prod"):
    answer = w.stack.call("POST", f"/api/instances/{w.inst}/spec", w.token,
                          body={"environment": env, "spec": spec})
    assert answer.status in (200, 201), answer
    from chalicelib.store import specs
    specs.clear_cache()
    return answer.json["version"]


def full_replay_at(w, agg_type, agg_id, at, env="prod"):
    """The state a read of `at` gives without any checkpoint."""
    from chalicelib.store import specs
    stream = stream_key(w.inst, env, agg_type, agg_id)
    spec = specs.latest(w.inst, env).spec
    folded = cp_store.fold(spec, agg_type, agg_id, stream, at=at, use_checkpoints=False)
    return folded.state, folded.length


@pytest.fixture
def bases(monkeypatch):
    """The checkpoint each fold started from (None: from the first event)."""
    seen = []
    real = cp_store.fold_from

    def spy(spec, agg_type, agg_id, stream, base, state, **kw):
        out = real(spec, agg_type, agg_id, stream, base, state, **kw)
        if out is not None:
            seen.append(base.id if base is not None else None)
        return out
    monkeypatch.setattr(cp_store, "fold_from", spy)
    return seen


# --- create ----------------------------------------------------------------------------

def test_create_at_current_length(world):
    w = world
    rec = create(w)
    assert set(rec) == FIELDS
    assert rec["id"].startswith("cp_") and rec["length"] == 3 and rec["spec_version"] == 1
    assert rec["handlers_current"] is True and rec["state_storage"] == "inline"
    assert rec["created_by"] == "admin@example.com" and rec["created_at"].endswith("Z")
    state = data(w, f"order/{ORDER}").json["data"]
    raw = ev.canonical(state)
    assert rec["state_size"] == len(raw) and rec["state_sha256"] == hashlib.sha256(raw).hexdigest()
    root = w.stack.call("GET", f"/api/instances/{w.inst}/ops/prod/audit/merkle-root/order/{ORDER}",
                        w.token).json
    assert rec["merkle_root"] == root["root_hex"]
    head = StreamHead.get(stream_key(w.inst, "prod", "order", ORDER))
    assert rec["chain_hash"] == head.chain_head
    item = Checkpoint.get(f"{w.inst}#prod", rec["id"])
    assert item.state == state and item.s3_key is None
    [entry] = audits("checkpoint_created")
    assert entry.target == f"{w.inst}/prod/order/{ORDER}"
    assert entry.details["checkpoint_id"] == rec["id"] and entry.details["length"] == 3


def test_create_at_an_earlier_length_folds_that_prefix(world):
    w = world
    rec = create(w, length=1)
    assert rec["length"] == 1
    item = Checkpoint.get(f"{w.inst}#prod", rec["id"])
    assert item.state == {"customer": "C00000001", "status": "open", "total": 10}
    proof = w.stack.call("GET", f"/api/instances/{w.inst}/ops/prod/audit/merkle-consistency/"
                                f"order/{ORDER}?old_size=1", w.token).json
    assert rec["merkle_root"] == base64.b64decode(proof["root1"]).hex()
    first = StoredEvent.get(stream_key(w.inst, "prod", "order", ORDER), 0)
    assert rec["chain_hash"] == first.chain_hash
    two = create(w, length=2)     # folds from the first checkpoint: one event more
    [entry] = [e for e in audits("checkpoint_created") if e.details["checkpoint_id"] == two["id"]]
    assert entry.details["from_checkpoint"] == rec["id"] and entry.details["events_folded"] == 1
    proof = w.stack.call("GET", f"/api/instances/{w.inst}/ops/prod/audit/merkle-consistency/"
                                f"order/{ORDER}?old_size=2", w.token).json
    assert two["merkle_root"] == base64.b64decode(proof["root1"]).hex()


def test_create_refusals(world):
    w = world
    beyond = call(w, "POST", body={"aggregate_type": "order", "aggregate_id": ORDER, "length": 4})
    assert beyond.status == 422 and beyond.json["error"] == "CHECKPOINT_BEYOND_STREAM"
    assert beyond.json["details"] == [{"path": "length", "message": "must be at most 3"}]
    missing = call(w, "POST", body={"aggregate_type": "order", "aggregate_id": "0RDER0009"})
    assert missing.status == 404 and missing.json["error"] == "AGGREGATE_NOT_FOUND"
    unknown_type = call(w, "POST", body={"aggregate_type": "nope", "aggregate_id": ORDER})
    assert unknown_type.status == 404 and unknown_type.json["error"] == "AGGREGATE_NOT_FOUND"
    bad_id = call(w, "POST", body={"aggregate_type": "order", "aggregate_id": "not-an-id"})
    assert bad_id.status == 422 and bad_id.json["error"] == "INVALID_ID"
    for body in ({}, {"aggregate_type": "order"}, {"aggregate_id": ORDER},
                 {"aggregate_type": "order", "aggregate_id": ORDER, "length": 0},
                 {"aggregate_type": "order", "aggregate_id": ORDER, "length": "2"},
                 {"aggregate_type": "order", "aggregate_id": ORDER, "color": "red"},
                 {"aggregate_type": "a#b", "aggregate_id": ORDER}):
        answer = call(w, "POST", body=body)
        assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR", (body, answer)
    no_spec = w.stack.call("POST", f"/api/instances/{w.inst}/ops/test/checkpoints", w.token,
                           body={"aggregate_type": "order", "aggregate_id": ORDER})
    assert no_spec.status == 404 and no_spec.json["error"] == "SPEC_NOT_FOUND"
    assert w.stack.call("POST", "/api/instances/nope/ops/prod/checkpoints", w.token,
                        body={"aggregate_type": "order", "aggregate_id": ORDER}).status == 404
    assert w.stack.call("POST", f"/api/instances/{w.inst}/ops/moon/checkpoints", w.token,
                        body={"aggregate_type": "order", "aggregate_id": ORDER}).status == 400
    assert audits("checkpoint_created") == [] and Checkpoint.count() == 0


def test_manage_ops_is_required(world):
    w = world
    token = w.stack.token_with(["view_instances", "load_data"])
    for method, path, body in (("GET", "", None),
                               ("POST", "", {"aggregate_type": "order", "aggregate_id": ORDER}),
                               ("POST", "/cp_0000000000000000000000000/restore", {}),
                               ("DELETE", "/cp_0000000000000000000000000", None)):
        answer = call(w, method, path, body, token=token)
        assert answer.status == 403 and answer.json["error"] == "INSUFFICIENT_PERMISSIONS"
    assert Checkpoint.count() == 0


def test_internal_surface_is_the_same_handler(world):
    w = world
    base = f"/internal/instances/{w.inst}/prod/checkpoints"
    made = w.stack.node("POST", base, body={"aggregate_type": "order", "aggregate_id": ORDER})
    assert made.status == 201, made
    assert made.json["created_by"] == "node"
    listed = w.stack.node("GET", base)
    assert [c["id"] for c in listed.json["checkpoints"]] == [made.json["id"]]
    assert w.stack.node("POST", f"{base}/{made.json['id']}/restore").status == 200
    assert w.stack.node("DELETE", f"{base}/{made.json['id']}").status == 200
    assert w.stack.call("GET", base).status == 401
    assert [e.admin for e in audits("checkpoint_created")] == ["node"]


# --- list ------------------------------------------------------------------------------

def test_list_filters_and_pages(world):
    w = world
    made = []
    for agg_id, length in ((ORDER, 1), (ORDER, 2), ("0RDER0002", None), (ORDER, 3)):
        clock.advance(1)
        made.append(create(w, agg_id, **({"length": length} if length else {}))["id"])
    clock.advance(1)
    c1 = create(w, "C00000001", "customer")["id"]
    listed = call(w, "GET").json
    assert [c["id"] for c in listed["checkpoints"]] == [c1] + made[::-1]
    assert listed["next_cursor"] is None
    orders = call(w, "GET", "?aggregate_type=order").json["checkpoints"]
    assert [c["id"] for c in orders] == made[::-1]
    one = call(w, "GET", f"?aggregate_type=order&aggregate_id={ORDER}").json["checkpoints"]
    assert [c["id"] for c in one] == [made[3], made[1], made[0]]
    assert [c["length"] for c in one] == [3, 2, 1]
    by_id = call(w, "GET", "?aggregate_id=0RDER0002").json["checkpoints"]
    assert [c["id"] for c in by_id] == [made[2]]
    pages, cursor = [], None
    while True:
        page = call(w, "GET", "?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        pages.append([c["id"] for c in page["checkpoints"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [[c1, made[3]], [made[2], made[1]], [made[0]]]
    bad = call(w, "GET", "?cursor=nope")
    assert bad.status == 400 and bad.json["details"][0]["path"] == "cursor"
    assert call(w, "GET", "?limit=0").status == 400
    assert call(w, "GET", "?limit=1001").status == 400
    other = w.stack.call("GET", f"/api/instances/{w.inst}/ops/staging/checkpoints", w.token)
    assert other.status == 200 and other.json == {"checkpoints": [], "next_cursor": None}


# --- reads of the past -----------------------------------------------------------------

def test_reads_of_the_past_use_the_newest_usable_checkpoint(world, bases):
    w = world
    t0 = clock.now() - 30
    times = [t0 - 1, t0, t0 + 5, t0 + 10, t0 + 15, t0 + 20, t0 + 30, t0 + 1000]
    before = {at: data(w, f"order/{ORDER}?at={at}") for at in times}
    bases.clear()
    early, late = create(w, length=1)["id"], create(w, length=3)["id"]
    bases.clear()
    after = {at: data(w, f"order/{ORDER}?at={at}") for at in times}
    for at in times:
        assert (after[at].status, after[at].json) == (before[at].status, before[at].json), at
    # t0-1: nothing; t0..t0+5: one event (early); t0+10..: the late one from t0+20
    assert bases == [None, early, early, early, early, late, late, late]
    assert after[t0 + 30].json["metadata"]["length"] == 3
    assert after[t0 - 1].status == 404


def test_a_read_from_a_checkpoint_reads_only_the_tail(world):
    w = world
    for i in range(30):
        w.append("order", ORDER, "item_added", {"sku": f"S{i}", "qty": 1})
    create(w)
    from testing.aws_calls import recording
    with recording() as calls:
        answer = data(w, f"order/{ORDER}?at={clock.now() + 1}")
    assert answer.status == 200 and answer.json["metadata"]["length"] == 33
    queries = [p for op, p in calls if op == "Query" and p["TableName"].endswith("events")]
    assert len(queries) == 1      # from the checkpoint's last event (its chain check) on
    assert {"N": "32"} in queries[0]["ExpressionAttributeValues"].values()
    assert answer.json["data"] == full_replay_at(w, "order", ORDER, clock.now() + 1)[0]


def test_large_states_are_kept_in_s3(world, monkeypatch):
    w = world
    monkeypatch.setattr(svc, "INLINE_BYTES", 10)
    rec = create(w, length=2)
    assert rec["state_storage"] == "s3"
    item = Checkpoint.get(f"{w.inst}#prod", rec["id"])
    assert item.state is None and item.s3_key == f"checkpoints/{w.inst}/prod/{rec['id']}.json"
    raw = aws.client("s3").get_object(Bucket=bucket_name("backups"), Key=item.s3_key)["Body"].read()
    assert hashlib.sha256(raw).hexdigest() == rec["state_sha256"]
    at = clock.now() - 15        # two events
    assert json.loads(raw) == full_replay_at(w, "order", ORDER, at)[0]
    assert data(w, f"order/{ORDER}?at={at}").json["data"] == full_replay_at(w, "order", ORDER, at)[0]
    assert call(w, "DELETE", f"/{rec['id']}").status == 200
    listed = aws.client("s3").list_objects_v2(Bucket=bucket_name("backups"), Prefix="checkpoints/")
    assert listed.get("KeyCount", 0) == 0


def test_an_unreadable_or_foreign_checkpoint_is_skipped(world, monkeypatch, bases):
    w = world
    monkeypatch.setattr(svc, "INLINE_BYTES", 10)
    gone = create(w, length=2)["id"]
    item = Checkpoint.get(f"{w.inst}#prod", gone)
    aws.client("s3").delete_object(Bucket=bucket_name("backups"), Key=item.s3_key)
    monkeypatch.setattr(svc, "INLINE_BYTES", 10 ** 6)
    foreign = create(w, length=3)["id"]
    Checkpoint(f"{w.inst}#prod", foreign).update(
        actions=[Checkpoint.chain_hash.set("00" * 32)])     # not this stream's history
    bases.clear()
    at = clock.now()
    answer = data(w, f"order/{ORDER}?at={at}")
    assert bases == [None]
    assert answer.json["data"] == full_replay_at(w, "order", ORDER, at)[0]
    refused = call(w, "POST", f"/{foreign}/restore")
    assert refused.status == 409 and refused.json["error"] == "CHECKPOINT_STALE"


# --- the spec-version rule -------------------------------------------------------------

def _changed_spec():
    spec = copy.deepcopy(ORDER_SPEC)
    spec["aggregate_types"]["order"]["events"]["item_added"]["handler"] = [
        {"append": {"target": "items", "value": "$.data"}},
        {"increment": {"target": "count", "by": 10}}]
    return spec


def test_a_checkpoint_of_other_handlers_is_never_used_by_reads(world, bases):
    w = world
    cp = create(w)["id"]
    other = copy.deepcopy(ORDER_SPEC)
    other["aggregate_types"]["customer"]["events"]["ordered"]["handler"] = [
        {"increment": {"target": "orders", "by": 2}}]
    deploy(w, other)                 # order's handlers unchanged: still usable
    bases.clear()
    at = clock.now()
    assert data(w, f"order/{ORDER}?at={at}").status == 200 and bases == [cp]
    assert call(w, "GET").json["checkpoints"][0]["handlers_current"] is True
    deploy(w, _changed_spec())       # order.item_added's handler changed
    bases.clear()
    answer = data(w, f"order/{ORDER}?at={at}")
    assert bases == [None]           # replayed from the first event
    assert answer.json["data"]["count"] == 20
    assert answer.json["data"] == full_replay_at(w, "order", ORDER, at)[0]
    assert call(w, "GET").json["checkpoints"][0]["handlers_current"] is False
    newer = create(w)                # a checkpoint under the new handlers is used again
    assert newer["spec_version"] == 3 and newer["handlers_current"] is True
    bases.clear()
    assert data(w, f"order/{ORDER}?at={at}").json["data"]["count"] == 20
    assert bases == [newer["id"]]


def test_restoring_a_checkpoint_of_other_handlers_must_be_explicit(world):
    w = world
    cp = create(w, length=2)["id"]
    deploy(w, _changed_spec())
    refused = call(w, "POST", f"/{cp}/restore", body={})
    assert refused.status == 409 and refused.json["error"] == "CHECKPOINT_HANDLERS_CHANGED"
    assert "accept_handler_change" in refused.json["message"]
    assert audits("checkpoint_restored") == []
    done = call(w, "POST", f"/{cp}/restore", body={"accept_handler_change": True})
    assert done.status == 200, done
    assert done.json["handlers_changed"] is True and done.json["replayed"] == 1
    state = data(w, f"order/{ORDER}").json["data"]
    # events 0-1 as the old handlers folded them (count 2), event 2 by the new (+10)
    assert state["count"] == 12
    [entry] = audits("checkpoint_restored")
    assert entry.details["handlers_changed"] is True


# --- restore ---------------------------------------------------------------------------

def test_restore_recovers_from_a_bad_handler_deploy(world):
    w = world
    good = create(w)["id"]
    export_before = w.export().text
    bad = copy.deepcopy(ORDER_SPEC)
    bad["aggregate_types"]["order"]["events"]["item_added"]["handler"] = [
        {"set": {"target": "count", "value": -1}}]
    deploy(w, bad)
    w.append("order", ORDER, "item_added", {"sku": "C", "qty": 4})
    assert data(w, f"order/{ORDER}").json["data"]["count"] == -1     # the bad fold
    deploy(w, ORDER_SPEC)                                            # the fix
    done = call(w, "POST", f"/{good}/restore")
    assert done.status == 200, done
    answer = done.json
    assert answer["restored"] is True and answer["handlers_changed"] is False
    assert answer["length"] == 4 and answer["replayed"] == 1 and answer["spec_version"] == 3
    assert answer["state_changed"] is True
    state = data(w, f"order/{ORDER}")
    assert state.json["data"]["count"] == 7 and state.json["metadata"]["length"] == 4
    assert state.json["data"] == full_replay_at(w, "order", ORDER, clock.now() + 1)[0]
    # no event was rewritten or removed: the export grew by the one appended event only
    export_after = w.export().text
    assert set(export_before.splitlines()) <= set(export_after.splitlines())
    assert len(export_after.splitlines()) == len(export_before.splitlines()) + 1
    chain = w.stack.call("GET", f"/api/instances/{w.inst}/ops/prod/audit/verify-chain/order/"
                                f"{ORDER}", w.token).json
    assert chain["valid"] is True and chain["length"] == 4
    [entry] = audits("checkpoint_restored")
    assert entry.target == f"{w.inst}/prod/order/{ORDER}"
    assert entry.details["checkpoint_id"] == good and entry.details["replayed"] == 1
    assert entry.details["previous_state_sha256"] == answer["previous_state_sha256"]
    # the next append folds onto the restored state, even in a container that cached the
    # head before the restore (its write is conditional on the restore count)
    w.append("order", ORDER, "item_added", {"sku": "D", "qty": 1})
    assert data(w, f"order/{ORDER}").json["data"]["count"] == 8
    assert StreamHead.get(stream_key(w.inst, "prod", "order", ORDER)).restores == 1


def test_a_cached_head_does_not_undo_a_restore(world):
    w = world
    from chalicelib.platform.events import service as event_store
    stream = stream_key(w.inst, "prod", "order", ORDER)
    good = create(w)["id"]
    Checkpoint(f"{w.inst}#prod", good).update(           # a state the restore will put back
        actions=[Checkpoint.state.set({"marker": True}),
                 Checkpoint.state_sha256.set(hashlib.sha256(ev.canonical({"marker": True}))
                                             .hexdigest())])
    assert event_store._cached(stream) is not None     # this container holds the head
    assert call(w, "POST", f"/{good}/restore").status == 200
    assert event_store._cached(stream).restores == 0   # stale copy, still cached
    w.append("order", ORDER, "closed", {})
    assert data(w, f"order/{ORDER}").json["data"] == {"marker": True, "status": "closed"}


def test_restore_folds_again_when_an_append_lands_meanwhile(world, monkeypatch):
    w = world
    good = create(w)["id"]
    real = cp_store.fold_from
    landed = []

    def racing(*args, **kw):
        out = real(*args, **kw)
        if not landed:    # another writer appends between the restore's read and write
            landed.append(w.append("order", ORDER, "item_added", {"sku": "Z", "qty": 5}))
        return out
    monkeypatch.setattr(cp_store, "fold_from", racing)
    done = call(w, "POST", f"/{good}/restore")
    assert done.status == 200, done
    assert done.json["length"] == 4 and done.json["replayed"] == 1
    assert data(w, f"order/{ORDER}").json["data"]["count"] == 8


def test_restore_gives_up_after_its_attempts(world, monkeypatch):
    w = world
    good = create(w)["id"]
    monkeypatch.setattr(svc, "unchanged", lambda length, restores: StreamHead.length == -1)
    refused = call(w, "POST", f"/{good}/restore")
    assert refused.status == 409 and refused.json["error"] == "CONCURRENT_WRITE"
    assert audits("checkpoint_restored") == []
    assert StreamHead.get(stream_key(w.inst, "prod", "order", ORDER)).restores is None


def test_restore_and_delete_of_unknown_checkpoints(world):
    w = world
    for path in ("/cp_0000000000000000000000000", "/nope", "/" + "x" * 300):
        assert call(w, "POST", path + "/restore").json["error"] == "CHECKPOINT_NOT_FOUND"
        answer = call(w, "DELETE", path)
        assert answer.status == 404 and answer.json["error"] == "CHECKPOINT_NOT_FOUND"
    bad_body = call(w, "POST", "/cp_0000000000000000000000000/restore",
                    body={"accept_handler_change": "yes"})
    assert bad_body.status == 400


# --- delete ----------------------------------------------------------------------------

def test_delete(world, bases):
    w = world
    rec = create(w)
    gone = call(w, "DELETE", f"/{rec['id']}")
    assert gone.status == 200, gone
    assert gone.json["deleted"] is True and gone.json["checkpoint"]["id"] == rec["id"]
    [entry] = audits("checkpoint_deleted")
    assert entry.details["checkpoint_id"] == rec["id"]
    assert call(w, "GET").json["checkpoints"] == []
    again = call(w, "DELETE", f"/{rec['id']}")
    assert again.status == 404 and len(audits("checkpoint_deleted")) == 1
    assert call(w, "POST", f"/{rec['id']}/restore").status == 404
    bases.clear()
    assert data(w, f"order/{ORDER}?at={clock.now()}").json["metadata"]["length"] == 3
    assert bases == [None]
    assert data(w, f"order/{ORDER}").json["metadata"]["length"] == 3   # events untouched


def test_erasing_a_stream_drops_its_checkpoints(world, monkeypatch):
    """What a tombstone must call: a checkpoint holds folded payloads."""
    w = world
    monkeypatch.setattr(svc, "INLINE_BYTES", 10)
    create(w, length=1)
    monkeypatch.setattr(svc, "INLINE_BYTES", 10 ** 6)
    create(w)
    other = create(w, "0RDER0002")["id"]
    assert cp_store.drop_stream(stream_key(w.inst, "prod", "order", ORDER)) == 2
    assert [c["id"] for c in call(w, "GET").json["checkpoints"]] == [other]
    listed = aws.client("s3").list_objects_v2(Bucket=bucket_name("backups"), Prefix="checkpoints/")
    assert listed.get("KeyCount", 0) == 0


def test_restore_and_root_checkpoints_of_a_state_kept_in_snapshots(world):
    """A state past the head's inline limit lives in snapshots: a restore and a root
    checkpoint still see (and give) exactly the replayed state."""
    w = world
    from chalicelib.platform.checkpoints import root
    from chalicelib.store.tables import RootCheckpoint
    from local import consumer
    for i in range(12):                        # about 12 KB of state
        w.append("order", ORDER, "item_added", {"sku": f"{i}" + "S" * 1000, "qty": 1})
    stream = stream_key(w.inst, "prod", "order", ORDER)
    assert StreamHead.get(stream).snapshot_length is not None
    good = create(w)
    assert good["state_size"] > 8 * 1024
    bad = copy.deepcopy(ORDER_SPEC)
    bad["aggregate_types"]["order"]["events"]["item_added"]["handler"] = [
        {"set": {"target": "count", "value": -1}}]
    deploy(w, bad)
    w.append("order", ORDER, "item_added", {"sku": "late", "qty": 2})
    deploy(w, ORDER_SPEC)
    done = call(w, "POST", f"/{good['id']}/restore")
    assert done.status == 200, done
    expected = full_replay_at(w, "order", ORDER, clock.now() + 1)[0]
    assert done.json["state_sha256"] == hashlib.sha256(ev.canonical(expected)).hexdigest()
    assert data(w, f"order/{ORDER}").json["data"] == expected and expected["count"] == 17
    w.append("order", ORDER, "closed", {})
    clock.advance(60)
    expected = full_replay_at(w, "order", ORDER, clock.now())[0]
    assert data(w, f"order/{ORDER}").json["data"] == expected
    answer = w.stack.call("POST", f"/api/instances/{w.inst}/ops/prod/root-checkpoints",
                          w.token, body={"aggregate_type": "order"})
    assert answer.status == 202, answer
    consumer.drain()
    rec = RootCheckpoint.get(f"{w.inst}#prod", answer.json["root_checkpoint"]["id"])
    import gzip
    lines = [json.loads(x) for x in gzip.decompress(
        aws.client("s3").get_object(Bucket=bucket_name("backups"),
                                    Key=rec.s3_key)["Body"].read()).decode().splitlines()]
    assert [x["id"] for x in lines] == [ORDER, "0RDER0002"]
    assert lines[0]["state"] == expected and lines[0]["length"] == 17
    assert root.describe(rec)["count"] == 2
