"""The append's retry loop, made deterministic: the budget's clock and the sleep are
replaced, and lost races are made by a rival writer (another container, with a head
cache of its own) writing between our read and our commit.

- a write without previous_length retries lost races with jittered exponential backoff,
  re-reading the head after each pause, and lands;
- once the budget is spent it answers 503 SERVICE_UNAVAILABLE with Retry-After, having
  never slept past the budget;
- a write with previous_length answers 409 CONCURRENT_WRITE at once when the length moved;
- a stale cached head costs one retry on the head the lost transaction returned, no read;
- appends to one stream from one container take turns in arrival order, and a turn
  held too long is waited for at most TURN_WAIT_SECONDS."""
from collections import OrderedDict

import pytest

from chalicelib.core.errors import AppError
from chalicelib.identity.api_keys import VerifiedKey
from chalicelib.platform.events import service as event_store
from chalicelib.platform.instances import service as instances
from chalicelib.platform.integrity import service as integrity
from chalicelib.platform.keys import service as keys
from chalicelib.platform.specs import service as specs
from chalicelib.store.keys import stream_key
from chalicelib.store.tables import StoredEvent
from testing.specs import ORDER_SPEC
from tests.services.conftest import act

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
RIVAL_WRITING = []   # non-empty while the rival writes: its reads are not ours


class FakeTime:
    """The retry loop's monotonic clock and sleep: sleeping moves the clock."""

    def __init__(self, monkeypatch, jitter=0.5):
        self.now = 1000.0
        self.sleeps = []
        monkeypatch.setattr(event_store, "_monotonic", lambda: self.now)
        monkeypatch.setattr(event_store, "_sleep", self.sleep)
        monkeypatch.setattr(event_store, "_random", lambda: jitter)

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def scope(store):
    inst = instances.create(act("instance_created"), "acme", "pro")[0]["id"]
    specs.deploy(act("spec_deployed"), inst, "prod", ORDER_SPEC, False)
    created, _ = keys.create(act("key_created"), inst, "w", "write", "prod")
    key = VerifiedKey(id=created["id"], instance_id=inst, environment="prod", scope="write")
    return key, created["key"], stream_key(inst, "prod", "order", "0RDER0001")


def item(sku):
    return [{"event_type": "item_added", "data": {"sku": sku, "qty": 1}, "metadata": ACTOR}]


def write(key, sku, expected=None):
    return event_store.append(key, "order", "0RDER0001", item(sku), expected, None, sku)


@pytest.fixture
def rival(monkeypatch, scope):
    """rival.wins = n: the next n commits of ours are each beaten by a rival's append,
    written from a container of its own (its own head cache) just before ours."""
    key = scope[0]

    class Rival:
        wins = 0
        written = []

    real_commit = event_store._commit

    def commit(*args, **kwargs):
        if Rival.wins:
            Rival.wins -= 1
            ours, our_turns = event_store._heads, event_store._turns
            monkeypatch.setattr(event_store, "_heads", OrderedDict())  # the other container
            monkeypatch.setattr(event_store, "_turns", event_store._Turns())
            try:
                sku = f"rival-{len(Rival.written)}"
                monkeypatch.setattr(event_store, "_commit", real_commit)
                RIVAL_WRITING.append(sku)
                write(key, sku)
                Rival.written.append(sku)
            finally:
                RIVAL_WRITING.clear()
                monkeypatch.setattr(event_store, "_commit", commit)
                monkeypatch.setattr(event_store, "_heads", ours)
                monkeypatch.setattr(event_store, "_turns", our_turns)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(event_store, "_commit", commit)
    return Rival


@pytest.fixture
def reads(monkeypatch):
    """Counts the consistent reads of a head."""
    seen = []
    real = event_store.read_head

    def counted(stream, scope_type):
        if not RIVAL_WRITING:
            seen.append(stream)
        return real(stream, scope_type)

    monkeypatch.setattr(event_store, "read_head", counted)
    return seen


def stored_skus(stream):
    return [e.data.get("sku") for e in StoredEvent.query(stream, consistent_read=True)]


def test_lost_races_are_retried_with_growing_jittered_pauses(scope, rival, reads,
                                                             monkeypatch):
    key, _, stream = scope
    clock = FakeTime(monkeypatch)
    event_store.append(key, "order", "0RDER0001", [{"event_type": "created",
                                             "data": {"customer": "C00000001"}, "metadata": ACTOR}],
                       None, None, "first")
    reads.clear()
    rival.wins = 6
    answer = write(key, "ours")
    assert answer["ok"] is True and answer["length"] == 8
    # the first loss was on the cached head: retried at once on the head DynamoDB
    # returned; every later loss: a pause of jitter x min(cap, base x 2^n), then a read
    base, cap = event_store.BACKOFF_BASE_SECONDS, event_store.BACKOFF_CAP_SECONDS
    assert clock.sleeps == [0.5 * min(cap, base * 2 ** n) for n in range(5)]
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[-1] == 0.5 * cap
    assert reads.count(stream) == 5
    assert stored_skus(stream) == [None] + [f"rival-{n}" for n in range(6)] + ["ours"]
    assert integrity.verify_chain(stream, "order", "0RDER0001")["valid"] is True


def test_the_pause_is_random_within_its_bound(monkeypatch):
    monkeypatch.setattr(event_store, "_random", lambda: 0.0)
    assert event_store.backoff(3) == 0.0
    monkeypatch.setattr(event_store, "_random", lambda: 0.999)
    for lost in range(40):
        bound = min(event_store.BACKOFF_CAP_SECONDS, event_store.BACKOFF_BASE_SECONDS * 2 ** lost)
        assert 0 <= event_store.backoff(lost) < bound


def test_a_spent_budget_answers_503_with_retry_after(scope, reads, monkeypatch):
    key, _, stream = scope
    clock = FakeTime(monkeypatch, jitter=0.9)
    write(key, "before")
    started = clock.now
    reads.clear()
    # every commit loses (as under a writer that never lets go of the stream)
    monkeypatch.setattr(event_store, "_commit", lambda *a, **k: ("stale", {}))
    with pytest.raises(AppError) as refused:
        write(key, "ours")
    err = refused.value
    assert err.kind.name == "SERVICE_UNAVAILABLE" and err.status == 503
    assert int(err.headers["Retry-After"]) >= 1
    spent = clock.now - started
    assert spent <= event_store.RETRY_BUDGET_SECONDS            # never slept past it
    assert spent > event_store.RETRY_BUDGET_SECONDS - event_store.BACKOFF_CAP_SECONDS
    assert max(clock.sleeps) <= event_store.BACKOFF_CAP_SECONDS
    assert len(reads) == len(clock.sleeps) + 1                  # a fresh read each time
    assert stored_skus(stream) == ["before"]


def test_a_spent_budget_reaches_the_client_as_503_with_retry_after(store, scope, monkeypatch):
    _, text, _ = scope
    FakeTime(monkeypatch)
    monkeypatch.setattr(event_store, "_commit", lambda *a, **k: ("stale", {}))
    answer = store.call("POST", "/data/order/0RDER0001/item_added",
                        headers={"Authorization": f"Bearer {text}"},
                        body={"data": {"sku": "x", "qty": 1}, "metadata": ACTOR})
    assert answer.status == 503, answer
    assert answer.json["ok"] is False and answer.json["code"] == "SERVICE_UNAVAILABLE"
    assert int(answer.headers["Retry-After"]) >= 1


def test_previous_length_that_moved_is_409_at_once(scope, rival, monkeypatch):
    key, _, stream = scope
    clock = FakeTime(monkeypatch)
    write(key, "a")
    write(key, "b")
    with pytest.raises(AppError) as refused:
        write(key, "stale", expected=1)
    assert refused.value.kind.name == "CONCURRENT_WRITE" and refused.value.status == 409
    assert refused.value.message == "Concurrent write detected. Stream has 2 events, expected 1."
    # the length was right when read, but a rival got there first: 409 too, no pause
    rival.wins = 1
    with pytest.raises(AppError) as refused:
        write(key, "raced", expected=2)
    assert refused.value.kind.name == "CONCURRENT_WRITE"
    assert refused.value.message == "Concurrent write detected. Stream has 3 events, expected 2."
    assert clock.sleeps == []
    assert stored_skus(stream) == ["a", "b", "rival-0"]


def test_a_stale_cached_head_costs_one_retry_and_no_read(scope, rival, reads, monkeypatch):
    key, _, stream = scope
    clock = FakeTime(monkeypatch)
    write(key, "a")                      # our container now caches the head (length 1)
    rival.wins = 1                        # another container appends meanwhile
    reads.clear()
    assert write(key, "b")["length"] == 3
    assert reads == [] and clock.sleeps == []
    assert stored_skus(stream) == ["a", "rival-0", "b"]
    assert integrity.verify_chain(stream, "order", "0RDER0001")["valid"] is True


def test_one_containers_appends_to_a_stream_take_turns_in_arrival_order(monkeypatch):
    import threading
    import time

    turns = event_store._Turns()
    order, started = [], []

    def append(n):
        started.append(n)
        with turns.take("s", 5.0):
            order.append(n)
            time.sleep(0.02)

    with turns.take("s", 5.0):             # the turn is held: everyone lines up
        threads = []
        for n in range(5):
            threads.append(threading.Thread(target=append, args=(n,)))
            threads[-1].start()
            while len(started) <= n:
                time.sleep(0.001)
            time.sleep(0.01)                 # n is waiting before n + 1 arrives
        with turns.take("other", 0.0):      # another stream is not held up
            pass
    for t in threads:
        t.join(5)
    assert order == list(range(5))
    assert turns._lines == {}


def test_a_turn_held_too_long_is_waited_for_only_so_long():
    import time

    turns = event_store._Turns()
    with turns.take("s", 5.0):
        began = time.monotonic()
        with turns.take("s", 0.05):          # goes ahead after 0.05 s
            waited = time.monotonic() - began
    assert 0.04 <= waited < 1.0
    assert turns._lines == {}
