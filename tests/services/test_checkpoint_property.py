"""The checkpoint property: for any stream, any checkpoints taken at any lengths (under
the spec in force then), any later spec deploy and any time asked, a read of the past
state (`?at=`, the data plane's read) gives exactly what replaying every event up to
that time under the spec in force gives; so does a checkpoint created at any length."""
import copy
import itertools
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain.checkpoints import handlers_fingerprint
from chalicelib.platform.checkpoints import service as checkpoints
from chalicelib.platform.events import service as event_store
from chalicelib.store import specs
from chalicelib.store.keys import stream_key
from chalicelib.store.streams import replay
from chalicelib.store.tables import Checkpoint, StoredEvent
from tests.services.conftest import act

LEDGER = {
    "aggregate_types": {"account": {"events": {
        "opened": {"schema": {"type": "object"},
                   "handler": [{"set": {"target": "status", "value": "open"}},
                               {"set": {"target": "owner", "value": "$.data.owner"}},
                               {"set": {"target": "opened_at",
                                        "value": "$.metadata.timestamp"}}]},
        "credited": {"schema": {"type": "object"},
                     "handler": [{"increment": {"target": "balance", "by": "$.data.amount"}},
                                 {"append": {"target": "history", "value": "$.data"}}]},
        "debited": {"schema": {"type": "object"},
                    "handler": [{"decrement": {"target": "balance", "by": "$.data.amount"}},
                                {"conditional": {
                                    "if": {"lt": ["@.balance", 0]},
                                    "then": [{"set": {"target": "overdrawn", "value": True}}],
                                    "else": [{"remove": {"target": "overdrawn"}}]}}]},
        "tagged": {"schema": {"type": "object"},
                   "handler": [{"append_unique": {"target": "tags", "value": "$.data.tag"}}]},
        "renamed": {"schema": {"type": "object"},
                    "handler": [{"merge": {"target": "profile", "value": {"name": "$.data.name"}}}]},
    }}},
    "agent_types": ["user"],
}
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}

EVENTS = st.one_of(
    st.builds(lambda o: ("opened", {"owner": o}), st.sampled_from(["ann", "bob"])),
    st.builds(lambda a: ("credited", {"amount": a}),
              st.one_of(st.integers(0, 50), st.sampled_from([0.1, 0.2, 2.5]))),
    st.builds(lambda a: ("debited", {"amount": a}), st.integers(0, 60)),
    st.builds(lambda t: ("tagged", {"tag": t}), st.sampled_from(["a", "b", "c"])),
    st.builds(lambda n: ("renamed", {"name": n}), st.text("xyz", min_size=1, max_size=3)),
)
GAPS = st.sampled_from([0.0, 0.001, 0.5, 1.0, 7.0])


def changed_ledger():
    spec = copy.deepcopy(LEDGER)
    spec["aggregate_types"]["account"]["events"]["credited"]["handler"] = [
        {"increment": {"target": "balance", "by": 1}}]
    return spec


def deploy(stack, token, inst, spec):
    answer = stack.call("POST", f"/api/instances/{inst}/spec", token,
                        body={"environment": "test", "spec": spec})
    assert answer.status in (200, 201), answer
    specs.clear_cache()


def naive(spec, events, at):
    """What the data plane answered before checkpoints: replay the longest prefix whose
    events were all written at or before `at`."""
    prefix = list(itertools.takewhile(lambda e: e.created_at <= at, events))
    if not prefix:
        return None
    return replay(spec, "account", prefix[0].stream.rsplit("#", 1)[1], prefix)[0], len(prefix)


_counter = itertools.count()


@pytest.fixture
def frozen(monkeypatch):
    """Time moves only when the test moves it, so equal timestamps happen."""
    base = float(int(clock.now()))
    monkeypatch.setattr(clock, "now", lambda: base + clock._offset)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=st.lists(st.tuples(EVENTS, GAPS), min_size=1, max_size=18),
       cuts=st.lists(st.floats(0, 1), max_size=4),
       scramble=st.lists(st.floats(-20, 20, allow_nan=False), max_size=18),
       redeploy=st.sampled_from([None, "before_reads", "between"]),
       asks=st.lists(st.floats(-2, 1.2), min_size=1, max_size=6))
def test_reads_from_checkpoints_equal_a_full_replay(store, frozen, events, cuts, scramble,
                                                    redeploy, asks):
    stack = store
    if not hasattr(stack, "world"):
        token = stack.operator_token()
        inst = stack.call("POST", "/api/instances", token, body={"name": "prop"}).json["id"]
        stack.world = SimpleNamespace(token=token, inst=inst)
    token, inst = stack.world.token, stack.world.inst
    deploy(stack, token, inst, LEDGER)
    key = SimpleNamespace(instance_id=inst, environment="test")
    agg_id = f"ACC{next(_counter):06d}"          # a humane code, new in each example
    stream = stream_key(inst, "test", "account", agg_id)
    start = clock.now()
    for (event_type, data), gap in events:
        clock.advance(gap)
        event_store.append(key, "account", agg_id, [{"event_type": event_type, "data": data,
                                                     "metadata": ACTOR}], None, None, "x")
    # imported events carry their own timestamps, in any order: scramble some
    for position, shift in enumerate(scramble[:len(events)]):
        if shift > 10:
            StoredEvent(stream=stream, position=position).update(
                actions=[StoredEvent.created_at.set(round(start + shift, 3))])
    n = len(events)
    made = []

    def checkpoint_at(fraction):
        length = max(1, min(n, round(fraction * n)))
        rec, _ = checkpoints.create(act("checkpoint_created"), inst, "test",
                                    {"aggregate_type": "account", "aggregate_id": agg_id,
                                     "length": length})
        made.append(rec)
    half = len(cuts) // 2
    for fraction in cuts[:half]:
        checkpoint_at(fraction)
    if redeploy == "between":
        deploy(stack, token, inst, changed_ledger())
    for fraction in cuts[half:]:
        checkpoint_at(fraction)
    if redeploy == "before_reads":
        deploy(stack, token, inst, changed_ledger())
    spec = specs.latest(inst, "test").spec
    stored = list(StoredEvent.query(stream, consistent_read=True))
    end = clock.now()
    for ask in asks:
        at = round(start + ask * (end - start + 1), 3)
        expected = naive(spec, stored, at)
        try:
            got = event_store.read(key, "account", agg_id, at)
        except AppError as exc:
            assert exc.kind.name == "AGGREGATE_NOT_FOUND" and expected is None
            continue
        assert expected is not None
        assert (got["data"], got["metadata"]["length"]) == expected, (at, made)
    # a checkpoint made under each spec holds exactly the replay of its prefix
    for rec in made:
        item = Checkpoint.get(f"{inst}#test", rec["id"])
        spec_then = specs_at(inst, item.spec_version)
        assert item.handlers == handlers_fingerprint(spec_then, "account")
        assert item.state == replay(spec_then, "account", agg_id, stored[:int(item.length)])[0]
        assert item.chain_hash == stored[int(item.length) - 1].chain_hash


def specs_at(inst, version):
    from chalicelib.store.tables import SpecVersion
    return SpecVersion.get(f"{inst}#test", version).spec
