"""Listener deliveries end to end, with a real HTTP receiver on loopback: signed bodies
verified on the receiver side (standardwebhooks and the README's X-J17-Signature
check), retries at the documented offsets driven by the clock and the timers queue,
Retry-After, failures, address refusals, duplicates, tombstoned events, lost messages."""
import copy
import json
import socket
import threading

import pytest
from standardwebhooks import Webhook

import moto.sqs.models as moto_sqs
from chalicelib import features
from chalicelib.core import clock, settings
from chalicelib.domain import webhooks as wh
from chalicelib.platform.webhooks import sender
from chalicelib.platform.webhooks import service as svc
from chalicelib.store import aws, queues
from chalicelib.store.tables import Delivery, StoredEvent
from local import consumer
from testing.specs import ORDER_SPEC
from testing.webhook_receiver import Answer, Receiver

SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
ACTOR = {"actor": {"type": "user", "id": "a0000000-0000-4000-a000-000000000001"}}
ORDER = "0RDER0001"


@pytest.fixture
def sqs_on_the_clock(monkeypatch):
    """The embedded SQS counts DelaySeconds and visibility on the project clock, so a
    test moves time with clock.advance and never sleeps."""
    real_ms, real_s = moto_sqs.unix_time_millis, moto_sqs.unix_time
    monkeypatch.setattr(moto_sqs, "unix_time_millis",
                        lambda dt=None: real_ms(dt) if dt is not None else clock.now() * 1000)
    monkeypatch.setattr(moto_sqs, "unix_time",
                        lambda dt=None: real_s(dt) if dt is not None else clock.now())
    yield
    # messages still delayed on this test's clock would outlive the emptying between
    # tests (it receives only visible ones)
    clock.advance(queues.MAX_DELAY_SECONDS + queues.VISIBILITY_SECONDS["timers"] + 1)
    sqs = aws.client("sqs")
    for name in (queues.queue_name("timers"), queues.dead_letter_name("timers")):
        url = queues.queue_url(name)
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=0).get("Messages", []):
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def receiver():
    r = Receiver(clock_now=lambda: clock.now()).start()
    yield r
    r.stop()


class Hooks:
    def __init__(self, stack, receiver):
        self.stack = stack
        self.receiver = receiver
        self.token = stack.operator_token()
        self.inst = stack.call("POST", "/api/instances", self.token,
                               body={"name": "hooks"}).json["id"]
        self.keys = {}

    def spec(self, url=None, events=None, **listener):
        doc = copy.deepcopy(ORDER_SPEC)
        doc["listeners"] = [{"name": "billing", "url": url or self.receiver.url,
                             "events": events or [{"aggregate_type": "order",
                                                   "event_type": "*"}],
                             "secret": SECRET, **listener}]
        return doc

    def deploy(self, spec, env="prod", status=201):
        answer = self.stack.call("POST", f"/api/instances/{self.inst}/spec", self.token,
                                 body={"environment": env, "spec": spec})
        assert answer.status == status, answer
        return answer

    def key(self, env="prod"):
        if env not in self.keys:
            self.keys[env] = self.stack.call(
                "POST", f"/api/instances/{self.inst}/keys", self.token,
                body={"name": "w", "scope": "write", "environment": env}).json["key"]
        return self.keys[env]

    def append(self, event="created", data=None, agg="order", agg_id=ORDER, env="prod"):
        data = data if data is not None else {"customer": "C00000001", "total": 10}
        answer = self.stack.call("POST", f"/data/{agg}/{agg_id}/{event}",
                                 headers={"Authorization": f"Bearer {self.key(env)}"},
                                 body={"data": data, "metadata": ACTOR})
        assert answer.status == 201, answer
        return answer.json

    def ops(self, method, tail="", body=None, env="prod", token=None):
        return self.stack.call(method, f"/api/instances/{self.inst}/ops/{env}/deliveries{tail}",
                               token or self.token, body=body)

    def internal(self, method, tail="", env="prod"):
        return self.stack.node(method, f"/internal/instances/{self.inst}/{env}/deliveries{tail}")

    def deliveries(self, **query):
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        answer = self.internal("GET", f"?{qs}" if qs else "")   # a node secret never expires
        assert answer.status == 200, answer
        return answer.json["deliveries"]

    def only(self):
        [one] = self.deliveries()
        return one


@pytest.fixture
def hooks(stack, frozen_clock, sqs_on_the_clock, receiver, monkeypatch):
    s = settings.get()
    monkeypatch.setattr(s, "webhook_allow_loopback", True)
    monkeypatch.setattr(s, "webhook_time_scale", 1.0)
    monkeypatch.setattr(s, "webhook_max_attempts", 3)
    h = Hooks(stack, receiver)
    h.deploy(h.spec())
    return h


def drain():
    return consumer.drain(queue="timers")


def offsets(delivery):
    times = [clock.parse_iso(a["at"]) for a in delivery["attempts"]]
    return [round(t - times[0], 3) for t in times]


def verify_j17(received, now=None):
    return wh.verify_j17(SECRET, received.headers["X-J17-Signature"], received.body,
                         now if now is not None else clock.now())


# --- delivered and signed --------------------------------------------------------------

def test_an_event_is_delivered_signed_both_ways(hooks):
    h = hooks
    appended = h.append()
    assert h.receiver.requests == []          # sent from the queue, not the request
    assert drain() == 1
    [got] = h.receiver.requests
    # the receiver's side: the standardwebhooks package, unchanged, and the README check
    payload = Webhook(SECRET).verify(got.body, got.headers)
    assert verify_j17(got)
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["webhook-id"] == payload["id"]
    assert got.headers["webhook-timestamp"] == str(int(clock.now()))
    assert list(payload) == ["id", "listener", "instance_id", "environment", "aggregate_type",
                             "aggregate_id", "event_type", "stream_id", "position", "data",
                             "metadata", "timestamp"]
    assert payload["listener"] == "billing" and payload["instance_id"] == h.inst
    assert payload["environment"] == "prod" and payload["aggregate_id"] == ORDER
    assert payload["event_type"] == "created" and payload["position"] == 0
    assert payload["stream_id"] == appended["stream_id"] == f"order/{ORDER}@0"
    assert payload["data"] == {"customer": "C00000001", "total": 10}
    assert payload["metadata"]["actor"] == ACTOR["actor"]
    d = h.only()
    assert d["id"] == payload["id"] and d["status"] == "delivered" and not d["dead_letter"]
    assert d["attempt_count"] == 1 and d["delivered_at"] and d["next_attempt_at"] is None
    [attempt] = d["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["duration_ms"] >= 0 and attempt["attempt"] == 1 and attempt["round"] == 1
    # nothing more happens: the queue is empty, the sweeper finds nothing
    clock.advance(600)
    assert features.run("webhook_sweeper") == {"requeued": 0}
    assert drain() == 0 and len(h.receiver.requests) == 1


def test_every_matching_listener_and_event_gets_one_delivery(hooks):
    h = hooks
    spec = h.spec()
    spec["listeners"].append({"name": "crm", "url": h.receiver.url, "secret": SECRET,
                              "events": ["customer.ordered", "order.closed"]})
    h.deploy(spec)
    h.append()                               # order.created implies customer.ordered
    h.append("closed", {})
    drain()
    seen = sorted((json.loads(r.body)["listener"], json.loads(r.body)["event_type"])
                  for r in h.receiver.requests)
    assert seen == [("billing", "closed"), ("billing", "created"), ("crm", "closed"),
                    ("crm", "ordered")]
    assert len({r.headers["webhook-id"] for r in h.receiver.requests}) == 4


def test_an_event_no_listener_wants_costs_nothing(hooks, monkeypatch):
    h = hooks
    h.deploy(h.spec(events=["order.closed"]))
    calls = []
    monkeypatch.setattr(queues, "offer", lambda *a, **k: calls.append(a))
    h.append()
    assert calls == [] and list(Delivery.scan()) == []
    h.deploy({k: v for k, v in h.spec().items() if k != "listeners"})
    h.append("closed", {})
    assert calls == [] and list(Delivery.scan()) == []


# --- retries ---------------------------------------------------------------------------

def test_a_receiver_down_then_up_gets_the_event_exactly_once(hooks):
    h = hooks
    port = h.receiver.port
    h.receiver.stop()                        # down: the connection is refused
    h.append()
    drain()
    d = h.only()
    assert d["status"] == "pending" and d["attempt_count"] == 1
    assert "connection failed" in d["attempts"][0]["error"]
    assert d["attempts"][0]["status_code"] is None
    h.receiver.start(port)                   # up again, same address
    clock.advance(4.9)
    assert drain() == 0                      # the retry is not due yet
    clock.advance(0.1)
    assert drain() == 1
    d = h.only()
    assert d["status"] == "delivered" and offsets(d) == [0, 5]
    clock.advance(3600)
    features.run("webhook_sweeper")
    drain()
    assert len(h.receiver.requests) == 1
    assert Webhook(SECRET).verify(h.receiver.requests[0].body, h.receiver.requests[0].headers)


def test_a_receiver_that_fails_is_a_dead_letter_after_exactly_three_attempts(hooks):
    h = hooks
    h.receiver.default = Answer(500)
    h.append()
    drain()
    clock.advance(5)
    drain()
    clock.advance(25)
    drain()
    d = h.only()
    assert d["status"] == "failed" and d["dead_letter"] and d["attempt_count"] == 3
    assert offsets(d) == [0, 5, 30]          # at once, +5 s, +25 s after that
    assert [a["status_code"] for a in d["attempts"]] == [500, 500, 500]
    assert d["attempts"][-1]["error"].startswith("HTTP 500")
    assert d["error"].startswith("HTTP 500") and d["next_attempt_at"] is None
    # no fourth attempt, whatever runs
    clock.advance(3600)
    features.run("webhook_sweeper")
    drain()
    assert len(h.receiver.requests) == 3
    assert [x["id"] for x in h.deliveries(status="failed")] == [d["id"]]
    assert h.deliveries(status="pending") == []


def test_a_receiver_that_never_answers_times_out_three_times(hooks):
    h = hooks
    h.deploy(h.spec(timeout_ms=200))
    h.receiver.default = Answer(200, delay=1.0)      # answers, but too late
    h.append()
    for wait in (0, 5, 25):
        clock.advance(wait)
        drain()
    d = h.only()
    assert d["status"] == "failed" and offsets(d) == [0, 5, 30]
    for attempt in d["attempts"]:
        assert attempt["status_code"] is None
        assert attempt["error"] == "no answer within 200 ms"
        assert 150 <= attempt["duration_ms"] < 1000


def test_the_time_scale_setting_scales_the_offsets(hooks, monkeypatch):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_time_scale", 0.01)
    monkeypatch.setattr(svc, "_pause", clock.advance)  # waits under a second
    h.receiver.default = Answer(503)
    h.append()
    drain()                                   # the delays are under a second: one drain
    d = h.only()
    assert d["status"] == "failed" and offsets(d) == [0, 0.05, 0.3]


def test_a_raised_maximum_uses_the_125_second_delay(hooks, monkeypatch):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 4)
    h.receiver.default = Answer(500)
    h.append()
    for wait in (0, 5, 25, 124):
        clock.advance(wait)
        drain()
    assert h.only()["attempt_count"] == 3
    clock.advance(1)
    drain()
    d = h.only()
    assert d["status"] == "failed" and offsets(d) == [0, 5, 30, 155]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(hooks, status):
    h = hooks
    h.receiver.script = [Answer(status, {"Retry-After": "60"})]
    h.append()
    drain()
    d = h.only()
    assert d["next_attempt_at"] == wh.iso_ms(clock.parse_iso(d["attempts"][0]["at"]) + 60)
    clock.advance(5)
    assert drain() == 0 and len(h.receiver.requests) == 1   # the message waits 60 s
    clock.advance(54.9)
    drain()
    assert len(h.receiver.requests) == 1
    clock.advance(0.1)
    drain()
    d = h.only()
    assert d["status"] == "delivered" and offsets(d) == [0, 60]


def test_retry_after_as_an_http_date_and_capped_at_an_hour(hooks):
    import email.utils
    h = hooks
    when = email.utils.formatdate(clock.now() + 120, usegmt=True)
    h.receiver.script = [Answer(429, {"Retry-After": when}), Answer(503, {"Retry-After": "86400"})]
    h.append()
    drain()
    first = clock.parse_iso(h.only()["attempts"][0]["at"])
    assert abs(clock.parse_iso(h.only()["next_attempt_at"]) - (first + 120)) <= 1
    clock.advance(121)
    drain()
    d = h.only()
    assert d["attempt_count"] == 2
    assert clock.parse_iso(d["next_attempt_at"]) == pytest.approx(
        clock.parse_iso(d["attempts"][1]["at"]) + 3600, abs=0.01)


@pytest.mark.parametrize("answer, error", [
    (Answer(302, {"Location": "http://127.0.0.1:1/elsewhere"}), "HTTP 302"),
    (Answer(301, {"Location": "/x"}), "redirects are not followed"),
    (Answer(400), "HTTP 400"),
    (Answer(404), "HTTP 404"),
    (Answer(410), "HTTP 410"),
])
def test_3xx_and_4xx_are_failures(hooks, monkeypatch, answer, error):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 1)
    h.receiver.default = answer
    h.append()
    drain()
    d = h.only()
    assert d["status"] == "failed" and d["attempts"][0]["status_code"] == answer.status
    assert error in d["attempts"][0]["error"] and len(h.receiver.requests) == 1


# --- where a delivery may go -------------------------------------------------------------

@pytest.fixture
def dns(monkeypatch):
    """Names the resolver answers with the given addresses (the rest resolve as usual);
    counts lookups."""
    names = {}
    lookups = []
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        lookups.append(host)
        if host in names:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM,
                     6, "", (a, port) if ":" not in a else (a, port, 0, 0))
                    for a in names[host]]
        return real(host, port, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    names["lookups"] = lookups
    return names


@pytest.mark.parametrize("addresses, fragment", [
    (["10.0.0.7"], "10.0.0.7 is a private address"),
    (["169.254.169.254"], "169.254.169.254 is a link-local address"),
    (["93.184.216.34", "192.168.0.3"], "192.168.0.3 is a private address"),
    (["fd00::1"], "fd00::1 is a private address"),
])
def test_names_resolving_to_private_addresses_are_refused(hooks, dns, monkeypatch,
                                                          addresses, fragment):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 1)
    dns["hooks.example.test"] = addresses
    h.deploy(h.spec(url="https://hooks.example.test/in"))
    h.append()
    drain()
    d = h.only()
    assert d["status"] == "failed" and d["attempts"][0]["status_code"] is None
    assert d["attempts"][0]["error"] == f"refused: hooks.example.test resolves to {fragment}"
    assert dns["lookups"].count("hooks.example.test") == 1   # resolved once


def test_loopback_is_refused_unless_the_setting_allows_it(hooks, monkeypatch):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_allow_loopback", False)
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 1)
    h.deploy(h.spec(url=f"http://localhost:{h.receiver.port}/hook"))
    h.append()
    drain()
    d = h.only()
    assert d["status"] == "failed" and h.receiver.requests == []
    assert d["attempts"][0]["error"].startswith("refused: localhost resolves to ")
    assert "loopback address (allowed only where WEBHOOK_ALLOW_LOOPBACK is on)" in \
        d["attempts"][0]["error"]


def test_the_connection_goes_to_the_checked_address_with_the_host_name(hooks, dns,
                                                                    monkeypatch):
    """One lookup per attempt; the socket is opened to the address checked, and the Host
    header keeps the name."""
    h = hooks
    dns["localhost"] = ["127.0.0.1"]
    h.deploy(h.spec(url=f"http://localhost:{h.receiver.port}/hook?x=1"))
    connects = []
    real = socket.socket.connect

    def spy(sock, address):
        connects.append(address)
        return real(sock, address)
    monkeypatch.setattr(socket.socket, "connect", spy)
    h.append()
    drain()
    assert ("127.0.0.1", h.receiver.port) in connects
    assert dns["lookups"].count("localhost") == 1
    [got] = h.receiver.requests
    assert got.headers["Host"] == f"localhost:{h.receiver.port}" and got.path == "/hook?x=1"
    assert h.only()["status"] == "delivered"


def test_literal_private_addresses_are_refused_at_deploy(hooks):
    h = hooks
    for url, fragment in (("https://10.0.0.1/h", "private address"),
                          ("https://169.254.169.254/latest", "link-local address"),
                          ("https://[::ffff:10.0.0.1]/h", "private address"),
                          ("http://example.com/h", "must use https://"),
                          ("https://user:pw@example.com/h", "must not carry credentials")):
        answer = h.deploy(h.spec(url=url), status=422)
        [problem] = answer.json["details"]
        assert problem["path"] == "$.listeners[0].url" and fragment in problem["message"]


def test_sender_resolves_once_even_if_the_name_changes(monkeypatch):
    """DNS rebinding: a second lookup would answer a private address; there is none."""
    answers = [["127.0.0.1"], ["10.0.0.1"]]

    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers.pop(0)[0], port))]
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    r = Receiver().start()
    try:
        out = sender.post(f"http://rebind.example.test:{r.port}/h", b"{}",
                          {"Content-Type": "application/json"}, 2.0, allow_loopback=True)
    finally:
        r.stop()
    assert out.ok and answers == [["10.0.0.1"]] and len(r.requests) == 1


# --- exactly once, whatever the queue does -------------------------------------------------

def test_a_duplicate_message_sends_once(hooks):
    h = hooks
    h.append()
    d = h.only()
    queues.send("timers", {"task": "webhook_delivery", "scope": f"{h.inst}#prod",
                           "id": d["id"], "attempt": 1})
    assert drain() == 2
    assert len(h.receiver.requests) == 1 and h.only()["attempt_count"] == 1


def test_two_senders_at_once_send_once(hooks):
    h = hooks
    h.receiver.default = Answer(200, delay=0.3)
    h.append()
    d = h.only()
    message = {"task": "webhook_delivery", "scope": f"{h.inst}#prod", "id": d["id"],
               "attempt": 1}
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(svc.run_attempt(message)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(h.receiver.requests) == 1
    assert sorted(o.split(" ")[0] for o in outcomes) in (
        ["claimed", "delivered"], ["delivered", "in"])
    assert h.only()["attempt_count"] == 1


def test_a_lost_message_is_found_by_the_sweeper(hooks):
    h = hooks
    h.append()
    sqs = aws.client("sqs")
    url = queues.queue_url(queues.queue_name("timers"))
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    clock.advance(30)
    assert features.run("webhook_sweeper") == {"requeued": 0}   # not late enough yet
    clock.advance(31)
    assert features.run("webhook_sweeper") == {"requeued": 1}
    assert features.run("webhook_sweeper") == {"requeued": 0}   # claimed: sent once
    drain()
    assert len(h.receiver.requests) == 1 and h.only()["status"] == "delivered"


def test_a_sender_that_died_mid_attempt_is_taken_over(hooks):
    h = hooks
    h.append()
    d = h.only()
    item = Delivery.get(f"{h.inst}#prod", d["id"])
    item.update(actions=[Delivery.claim.set(1), Delivery.claim_until.set(clock.now() + 40)])
    assert drain() == 1 and h.receiver.requests == []          # "in flight elsewhere"
    clock.advance(61)
    assert features.run("webhook_sweeper") == {"requeued": 1}
    drain()
    assert len(h.receiver.requests) == 1 and h.only()["status"] == "delivered"


# --- references, not copies --------------------------------------------------------------

def test_a_tombstoned_event_cancels_its_delivery(hooks):
    h = hooks
    h.receiver.default = Answer(500)
    h.append()
    drain()
    d = h.only()
    assert d["status"] == "pending"
    item = Delivery.get(f"{h.inst}#prod", d["id"])
    assert not hasattr(item, "data") and "C00000001" not in json.dumps(item.attribute_values,
                                                                        default=str)
    event = StoredEvent.get(item.stream, 0)
    event.update(actions=[StoredEvent.tombstoned.set({"_was_tombstoned": True}),
                          StoredEvent.data.set({"_was_tombstoned": True})])
    clock.advance(5)
    drain()
    d = h.only()
    assert d["status"] == "cancelled" and d["error"] == "source event was tombstoned"
    assert len(h.receiver.requests) == 1 and d["attempt_count"] == 1


def test_a_tombstone_executed_between_attempts_cancels_the_delivery(hooks):
    """The real erasure: requested, its 72-hour grace passed, executed by its job; the
    delivery's next attempt is cancelled, and no delivery item holds the payload."""
    h = hooks
    h.receiver.default = Answer(500)
    h.append(data={"customer": "C00000001", "total": 7, "email": "alice@example.com"})
    drain()
    assert h.only()["status"] == "pending"
    base = f"/internal/instances/{h.inst}/prod"
    requested = h.stack.node("POST", f"{base}/tombstone/order/{ORDER}", body={
        "reason": "erasure request", "legal_basis": "GDPR Art. 17(1)(a)",
        "requested_by": "ticket-1"})
    assert requested.status in (200, 201, 202), requested
    clock.advance(72 * 3600 + 1)
    started = h.stack.node("POST", f"{base}/tombstones/{requested.json['id']}/execute")
    assert started.status == 202, started
    consumer.drain()                                     # the work queue runs it
    assert h.stack.node("GET", f"{base}/tombstones/{requested.json['id']}").json[
        "status"] == "executed"
    drain()
    d = h.only()
    assert d["status"] == "cancelled" and d["error"] == "source event was tombstoned"
    assert len(h.receiver.requests) == 1 and d["attempt_count"] == 1
    stored = json.dumps([i.attribute_values for i in Delivery.scan()], default=str)
    assert "alice@example.com" not in stored and "C00000001" not in stored


def test_an_erasure_under_way_cancels_before_the_events_are_rewritten(hooks):
    """A tombstone marks the stream's head first: a delivery read then is not sent."""
    from chalicelib.store.tables import StreamHead
    h = hooks
    h.append()
    item = Delivery.get(f"{h.inst}#prod", h.only()["id"])
    StreamHead(stream=item.stream).update(actions=[StreamHead.tombstoned.set(
        {"status": "executing", "tombstone_id": "ts_x", "tombstoned_at": clock.now()})])
    assert StoredEvent.get(item.stream, 0).tombstoned is None     # not rewritten yet
    drain()
    d = h.only()
    assert d["status"] == "cancelled" and d["error"] == "source event was tombstoned"
    assert h.receiver.requests == []


def test_a_listener_dropped_from_the_spec_cancels_its_deliveries(hooks):
    h = hooks
    h.receiver.default = Answer(500)
    h.append()
    drain()
    h.deploy(h.spec(events=["order.closed"]) | {"listeners": [
        {"name": "other", "url": h.receiver.url, "events": ["order.closed"], "secret": SECRET}]})
    clock.advance(5)
    drain()
    d = h.only()
    assert d["status"] == "cancelled"
    assert d["error"] == "listener 'billing' is no longer in the spec in force"


# --- cleanup -----------------------------------------------------------------------------

def test_cleanup_after_7_days_delivered_and_30_days_failed(hooks, monkeypatch):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 1)
    h.append()                                # delivered
    drain()
    h.receiver.default = Answer(500)
    h.append("closed", {})                    # failed
    drain()
    assert sorted(d["status"] for d in h.deliveries()) == ["delivered", "failed"]
    clock.advance(7 * 86400 - 1)
    assert features.run("webhook_cleanup") == {"deleted": 0}
    clock.advance(2)
    assert features.run("webhook_cleanup") == {"deleted": 1}
    assert [d["status"] for d in h.deliveries()] == ["failed"]
    clock.advance(23 * 86400 - 3)
    assert features.run("webhook_cleanup") == {"deleted": 0}
    clock.advance(2)
    assert features.run("webhook_cleanup") == {"deleted": 1}
    assert h.deliveries() == []
    assert features.run("webhook_cleanup") == {"deleted": 0}


# --- https: the certificate is checked against the host name, not the address --------------

def _tls_pair(tmp_path):
    """A CA and a server certificate for "localhost" it signed (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    import ssl
    paths = _tls_pair(tmp_path)
    r = Receiver(clock_now=lambda: clock.now()).start()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(paths["cert"], paths["key"])
    r._server.socket = server_ctx.wrap_socket(r._server.socket, server_side=True)
    client_ctx = ssl.create_default_context(cafile=str(paths["ca"]))
    monkeypatch.setattr(sender, "_tls_context", lambda: client_ctx)
    yield r
    r.stop()


def test_https_checks_the_certificate_against_the_host_name(hooks, dns, tls_receiver,
                                                             monkeypatch):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 1)
    port = tls_receiver.port
    dns["localhost"] = ["127.0.0.1"]
    dns["elsewhere.example.test"] = ["127.0.0.1"]      # the same address, another name
    h.deploy(h.spec(url=f"https://localhost:{port}/hook"))
    h.append()
    drain()
    [ok] = h.deliveries()
    assert ok["status"] == "delivered", ok                 # SNI and certificate: localhost
    [got] = tls_receiver.requests
    assert Webhook(SECRET).verify(got.body, got.headers)
    h.deploy(h.spec(url=f"https://elsewhere.example.test:{port}/hook"))
    h.append("closed", {})
    drain()
    bad = h.deliveries(event_type="closed")[0]
    assert bad["status"] == "failed" and len(tls_receiver.requests) == 1
    assert bad["attempts"][0]["error"].startswith("TLS certificate refused: Hostname "
                                                  "mismatch"), bad["attempts"][0]["error"]


def test_a_crash_while_sending_is_a_failed_attempt(hooks, monkeypatch):
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 1)

    def broken(*args, **kwargs):
        raise ValueError("a bug")
    monkeypatch.setattr(sender, "post", broken)
    h.append()
    assert drain() == 1
    d = h.only()
    assert d["status"] == "failed"
    assert d["attempts"][0]["error"] == "internal error while sending: ValueError"


def test_a_secret_that_does_not_open_is_a_failed_attempt(hooks, monkeypatch):
    from chalicelib.store import listener_secrets as secrets
    h = hooks
    monkeypatch.setattr(settings.get(), "webhook_max_attempts", 1)
    secrets.clear_cache()
    monkeypatch.setattr(secrets, "_aes", lambda: (_ for _ in ()).throw(RuntimeError("no key")))
    h.append()
    assert drain() == 1
    d = h.only()
    assert d["status"] == "failed" and h.receiver.requests == []
    assert d["attempts"][0]["error"].startswith("the listener's signing secret is not stored")
