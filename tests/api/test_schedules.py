"""Scheduled events (`schedule` implications) end to end: scheduled by an append, emitted
through the data plane when due (job -> timers queue -> task), cancelled by cancel_on or
by an operator, dead letters after three refused attempts, retry; and seed 000's
scheduled routes on the internal and ops surfaces."""
import copy
import threading

import pytest

from chalicelib import features
from chalicelib.core import clock
from chalicelib.platform.schedules import service as svc
from chalicelib.store.tables import AuditEntry, CancelRegistration, ScheduledEvent
from local import consumer

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
CART, CART2 = "CART00001", "CART00002"
DAY = 86400

SPEC = {
    "aggregate_types": {
        "cart": {"events": {
            "had_item_added": {
                "schema": {"type": "object", "properties": {"product_id": {"type": "string"}}},
                "handler": [{"append": {"target": "items", "value": "$.data"}}],
                "implications": [{"schedule": {
                    "delay": "24h",
                    "emit": {"aggregate_type": "notification", "id": "$.metadata.actor.id",
                             "event_type": "cart_abandonment_reminder",
                             "data": {"cart_id": "$.key", "product": "$.data.product_id"}},
                    "cancel_on": [{"aggregate_type": "cart", "id": "$.key",
                                   "event_type": "was_checked_out"}]}}]},
            "was_opened": {
                "schema": {"type": "object"}, "handler": [],
                "implications": [{"schedule": {
                    "delay_ms": 600_000,
                    "emit": {"aggregate_type": "cart", "id": "$.id", "event_type": "was_expired"},
                    "cancel_on": ["was_checked_out"]}}]},
            "was_flagged": {
                "schema": {"type": "object"}, "handler": [],
                "implications": [{"schedule": {
                    "delay": "10m",
                    "emit": {"aggregate_type": "notification", "id": "$.metadata.actor.id",
                             "event_type": "strict_note", "data": {"cart": "$.id"}}}}]},
            "was_checked_out": {"schema": {"type": "object"},
                                "handler": [{"set": {"target": "checked_out", "value": True}}]},
            "was_expired": {"schema": {"type": "object"},
                            "handler": [{"set": {"target": "expired", "value": True}}]},
        }},
        "notification": {"events": {
            "cart_abandonment_reminder": {
                "schema": {"type": "object", "required": ["cart_id"],
                           "properties": {"cart_id": {"type": "string"}}},
                "handler": [{"increment": {"target": "reminders"}},
                            {"set": {"target": "last_cart", "value": "$.data.cart_id"}}]},
            # refuses what was_flagged schedules (no `note`): a dead letter
            "strict_note": {"schema": {"type": "object", "required": ["note"]},
                            "handler": [{"increment": {"target": "notes"}}]},
        }},
    },
    "agent_types": ["user"],
}


class World:
    def __init__(self, stack):
        self.stack = stack
        self.token = stack.operator_token()
        self.inst = stack.call("POST", "/api/instances", self.token,
                               body={"name": "acme"}).json["id"]
        self.deploy(SPEC)
        self.key = stack.call("POST", f"/api/instances/{self.inst}/keys", self.token,
                              body={"name": "w", "scope": "write",
                                    "environment": "prod"}).json["key"]
        self.ops = f"/api/instances/{self.inst}/ops/prod/scheduled"
        self.internal = f"/internal/instances/{self.inst}/prod/scheduled"

    def deploy(self, spec):
        answer = self.stack.call("POST", f"/api/instances/{self.inst}/spec", self.token,
                                 body={"environment": "prod", "spec": spec})
        assert answer.status == 201, answer
        from chalicelib.store import specs
        specs.clear_cache()

    def append(self, agg, agg_id, event, data=None):
        answer = self.stack.call("POST", f"/data/{agg}/{agg_id}/{event}",
                                 headers={"Authorization": f"Bearer {self.key}"},
                                 body={"data": data or {}, "metadata": ACTOR})
        assert answer.status == 201, answer
        return answer.json

    def data(self, path):
        return self.stack.call("GET", f"/data/{path}",
                               headers={"Authorization": f"Bearer {self.key}"})

    def call(self, method, path="", body=None, token=None):
        return self.stack.call(method, self.ops + path, token or self.token, body=body)

    def node(self, method, path="", body=None):
        return self.stack.node(method, self.internal + path, body=body)

    def listed(self, query=""):
        answer = self.call("GET", query)
        assert answer.status == 200, answer
        return answer.json["scheduled"]

    def one(self, schedule_id):
        answer = self.call("GET", f"/{schedule_id}")
        assert answer.status == 200, answer
        return answer.json


def later(w, seconds):
    """Move the clock; the operator logs in again (tokens expire)."""
    clock.advance(seconds)
    if seconds >= 600:
        w.token = w.stack.operator_token()


def due_now():
    """The job, then the timers queue: what is due is emitted."""
    ran = features.run("scheduled_events")
    return ran, consumer.drain(queue="timers")


def audits(action):
    return [e for e in AuditEntry.scan() if e.action == action]


@pytest.fixture
def w(stack, frozen_clock):
    return World(stack)


# --- scheduled, then emitted -------------------------------------------------------------

def test_an_append_schedules_and_the_job_emits_it_when_due(w):
    start = clock.now()
    appended = w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    [item] = w.listed()
    assert item["status"] == "pending" and item["id"].startswith("se_")
    assert item["due_at"] == clock.iso(start + DAY) and item["delay_ms"] == DAY * 1000
    assert item["aggregate_type"] == "cart" and item["aggregate_id"] == CART
    assert item["event_type"] == "had_item_added"
    assert item["source_stream_id"] == appended["stream_id"] == f"cart/{CART}@0"
    assert item["emit"] == {"aggregate_type": "notification",
                            "event_type": "cart_abandonment_reminder"}
    assert item["cancel_on"] == [{"aggregate_type": "cart", "id": CART,   # "$.key" -> the id
                                  "event_type": "was_checked_out"}]
    stored = ScheduledEvent.get(f"{w.inst}#prod", item["id"])
    assert stored.due_key == "due" and stored.source_position == 0
    assert "P1" not in str(stored.attribute_values)          # a reference, not the data
    # not due yet: the job queues nothing
    assert due_now() == ({"queued": 0, "resent": 0, "skipped": 0}, 0)
    assert w.data("notification/AGENT0001").status == 404
    later(w, DAY + 1)
    ran, handled = due_now()
    assert ran["queued"] == 1 and handled == 1
    state = w.data("notification/AGENT0001")
    assert state.status == 200 and state.json["data"] == {"reminders": 1,
                                                          "last_cart": f"cart:{CART}"}
    events = w.data("notification/AGENT0001/events").json["events"]
    assert [e["type"] for e in events] == ["cart_abandonment_reminder"]
    assert events[0]["data"] == {"cart_id": f"cart:{CART}", "product": "P1"}
    assert events[0]["metadata"]["actor"] == ACTOR["actor"]
    assert events[0]["metadata"]["scheduled_by"] == item["id"]
    chain = w.stack.call("GET", f"/api/instances/{w.inst}/ops/prod/audit/verify-chain/"
                                "notification/AGENT0001", w.token)
    assert chain.json["valid"] is True, chain
    done = w.one(item["id"])
    assert done["status"] == "emitted" and done["emitted_stream_id"] == "notification/AGENT0001@0"
    assert done["emitted_at"] == clock.iso(clock.now()) and done["attempts"] == []
    [entry] = audits("scheduled_event_emitted")
    assert entry.admin == "system:scheduler"
    assert entry.details["scheduled_event_id"] == item["id"]
    assert entry.details["stream_id"] == "notification/AGENT0001@0"
    assert ScheduledEvent.get(f"{w.inst}#prod", item["id"]).due_key is None
    # nothing more to do
    assert due_now() == ({"queued": 0, "resent": 0, "skipped": 0}, 0)
    assert len(w.data("notification/AGENT0001/events").json["events"]) == 1


def test_delay_ms_and_the_bare_id(w):
    w.append("cart", CART, "was_opened")
    [item] = w.listed()
    assert item["delay_ms"] == 600_000
    later(w, 600)
    assert due_now()[1] == 1
    assert w.data(f"cart/{CART}").json["data"]["expired"] is True
    assert w.one(item["id"])["emitted_stream_id"] == f"cart/{CART}@1"


def test_queued_ahead_of_time_with_the_delay_left(w, monkeypatch):
    w.append("cart", CART, "was_opened")
    sent = []
    monkeypatch.setattr("chalicelib.store.queues.offer",
                        lambda q, m, delay_seconds=0: sent.append((q, m, delay_seconds)) or True)
    later(w, 600 - 45)
    assert features.run("scheduled_events")["queued"] == 1
    [(queue, message, delay)] = sent
    assert queue == "timers" and message["task"] == "scheduled_event" and delay == 45
    # a second run does not send it again
    assert features.run("scheduled_events")["queued"] == 0 and len(sent) == 1
    # a message that arrives early is put back with the time left
    resent = []
    monkeypatch.setattr("chalicelib.store.queues.send",
                        lambda q, m, delay_seconds=0: resent.append(delay_seconds))
    assert svc.run_task(message) == "early" and resent == [45]


def test_a_lost_message_is_sent_again(w):
    w.append("cart", CART, "was_opened")
    later(w, 600)
    assert features.run("scheduled_events")["queued"] == 1
    from chalicelib.store import aws, queues
    sqs = aws.client("sqs")
    url = queues.queue_url(queues.queue_name("timers"))
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])   # lost
    later(w, 60)
    assert due_now() == ({"queued": 0, "resent": 0, "skipped": 0}, 0)   # not yet
    later(w, svc.REQUEUE_SECONDS)
    ran, handled = due_now()
    assert ran["resent"] == 1 and handled == 1
    assert w.data(f"cart/{CART}").json["data"]["expired"] is True


def test_job_and_task_twice_emit_once(w):
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    [item] = w.listed()
    later(w, DAY + 5)
    assert features.run("scheduled_events")["queued"] == 1
    assert features.run("scheduled_events")["queued"] == 0
    message = {"task": "scheduled_event", "scope": f"{w.inst}#prod", "id": item["id"]}
    from chalicelib.store import queues
    queues.send("timers", message)            # a duplicated message
    assert consumer.drain(queue="timers") == 2
    assert svc.run_task(message) == "done"    # and once more, by hand
    events = w.data("notification/AGENT0001/events").json["events"]
    assert len(events) == 1
    assert len(audits("scheduled_event_emitted")) == 1


def test_two_copies_at_once_emit_once(w):
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    [item] = w.listed()
    later(w, DAY + 5)
    stored = ScheduledEvent.get(f"{w.inst}#prod", item["id"])
    outcomes = []
    barrier = threading.Barrier(2)

    def copy_of_task():
        barrier.wait()
        outcomes.append(svc.emit(ScheduledEvent.get(stored.scope, stored.id)))
    threads = [threading.Thread(target=copy_of_task) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["emitted", "taken"]
    # also both copies holding the same (stale) pending item, one after the other
    assert svc.emit(stored) == "taken"
    assert len(w.data("notification/AGENT0001/events").json["events"]) == 1
    assert len(audits("scheduled_event_emitted")) == 1


def test_two_jobs_at_once_queue_once(w):
    for cart in (CART, CART2):
        w.append("cart", cart, "was_opened")
    later(w, 601)
    results = []
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        results.append(features.run("scheduled_events"))
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["queued"] for r in results) == 2
    assert consumer.drain(queue="timers") == 2
    for cart in (CART, CART2):
        assert w.data(f"cart/{cart}/length").json["length"] == 2


# --- cancelled -----------------------------------------------------------------------------

def test_cancel_on_cancels_it(w):
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    w.append("cart", CART2, "had_item_added", {"product_id": "P2"})
    later(w, 3600)
    checked_out = w.append("cart", CART, "was_checked_out")
    items = {i["aggregate_id"]: i for i in w.listed()}
    cancelled = items[CART]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_by"] == checked_out["stream_id"]
    assert cancelled["cancel_reason"] == "cancel_on cart.was_checked_out"
    assert cancelled["cancelled_at"] == clock.iso(clock.now())
    assert items[CART2]["status"] == "pending"                 # another cart: untouched
    [reg] = CancelRegistration.query(f"{w.inst}#prod#cart#{CART}#was_checked_out")
    assert reg.closed_at is not None
    assert [i["id"] for i in w.listed("?status=cancelled")] == [cancelled["id"]]
    assert [i["aggregate_id"] for i in w.listed("?status=pending")] == [CART2]
    later(w, DAY)
    ran, handled = due_now()
    assert ran["queued"] == 1 and handled == 1                  # only CART2's
    events = w.data("notification/AGENT0001/events").json["events"]
    assert [e["data"]["cart_id"] for e in events] == [f"cart:{CART2}"]
    # checking out again later touches nothing
    w.append("cart", CART, "was_checked_out")
    assert w.one(cancelled["id"])["status"] == "cancelled"


def test_the_older_cancel_on_form_and_one_append(w):
    # the older form: an event type of the same aggregate
    w.append("cart", CART, "was_opened")
    w.append("cart", CART, "was_checked_out")
    [item] = w.listed()
    assert item["status"] == "cancelled" and item["cancel_on"] == [
        {"aggregate_type": "cart", "id": CART, "event_type": "was_checked_out"}]
    # scheduled and cancelled by one batch append: written cancelled
    answer = w.stack.call("POST", f"/data/cart/{CART2}",
                          headers={"Authorization": f"Bearer {w.key}"},
                          body={"events": [
                              {"type": "was_opened", "data": {}, "metadata": ACTOR},
                              {"type": "was_checked_out", "data": {}, "metadata": ACTOR}]})
    assert answer.status == 201, answer
    [batch] = w.listed(f"?aggregate_id={CART2}")
    assert batch["status"] == "cancelled" and batch["cancelled_by"] == f"cart/{CART2}@1"
    later(w, DAY)
    assert due_now() == ({"queued": 0, "resent": 0, "skipped": 0}, 0)


def test_an_emit_does_not_overwrite_a_cancel_nor_a_cancel_an_emit(w):
    w.append("cart", CART, "was_opened")
    [item] = w.listed()
    later(w, 601)
    features.run("scheduled_events")
    w.append("cart", CART, "was_checked_out")     # cancelled while its message waits
    assert consumer.drain(queue="timers") == 1
    assert w.one(item["id"])["status"] == "cancelled"
    assert w.data(f"cart/{CART}").json["data"].get("expired") is None
    # emitted first: a later cancel_on leaves it emitted
    w.append("cart", CART2, "was_opened")
    [other] = w.listed(f"?aggregate_id={CART2}")
    later(w, 601)
    due_now()
    w.append("cart", CART2, "was_checked_out")
    assert w.one(other["id"])["status"] == "emitted"


def test_operator_cancel_and_its_refusals(w):
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    [item] = w.listed()
    answer = w.call("POST", f"/{item['id']}/cancel", body={"reason": "customer asked"})
    assert answer.status == 200, answer
    assert answer.json["status"] == "cancelled" and answer.json["cancelled_by"] == "admin@example.com"
    assert answer.json["cancel_reason"] == "customer asked"
    [entry] = audits("scheduled_event_cancelled")
    assert entry.target == f"{w.inst}/prod/scheduled/{item['id']}"
    assert entry.details["reason"] == "customer asked"
    again = w.call("POST", f"/{item['id']}/cancel")
    assert again.status == 409 and again.json["error"] == "SCHEDULED_EVENT_NOT_PENDING"
    later(w, DAY + 1)
    assert due_now()[1] == 0
    # an emitted one cannot be cancelled
    w.append("cart", CART2, "was_opened")
    [emitted] = w.listed(f"?aggregate_id={CART2}")
    later(w, 601)
    due_now()
    refused = w.call("POST", f"/{emitted['id']}/cancel")
    assert refused.status == 409 and refused.json["error"] == "SCHEDULED_EVENT_NOT_PENDING"
    assert w.one(emitted["id"])["status"] == "emitted"
    assert len(audits("scheduled_event_cancelled")) == 1


# --- refused emits, dead letters, retry -------------------------------------------------------

def test_three_refused_attempts_make_a_dead_letter_and_retry_emits_it(w):
    w.append("cart", CART, "was_flagged")
    [item] = w.listed()
    later(w, 600)
    assert due_now()[1] == 1
    first = w.one(item["id"])
    assert first["status"] == "pending" and len(first["attempts"]) == 1
    assert first["attempts"][0]["error"].startswith("SCHEMA_VIOLATION")
    assert first["due_at"] == clock.iso(clock.now() + 60)          # again after 1 minute
    later(w, 60)
    assert due_now()[1] == 1
    second = w.one(item["id"])
    assert len(second["attempts"]) == 2 and second["due_at"] == clock.iso(clock.now() + 300)
    later(w, 300)
    assert due_now()[1] == 1
    dead = w.one(item["id"])
    assert dead["status"] == "failed" and len(dead["attempts"]) == 3
    assert all(a["error"].startswith("SCHEMA_VIOLATION") for a in dead["attempts"])
    later(w, 3600)
    assert due_now() == ({"queued": 0, "resent": 0, "skipped": 0}, 0)   # no 4th attempt
    letters = w.call("GET", "/dead").json["dead_letters"]
    assert [d["id"] for d in letters] == [item["id"]] and len(letters[0]["attempts"]) == 3
    assert w.node("GET", "/dead").json["dead_letters"] == letters
    # a dead letter cannot be cancelled; a pending one cannot be retried
    assert w.call("POST", f"/{item['id']}/cancel").json["error"] == "SCHEDULED_EVENT_NOT_PENDING"
    w.append("cart", CART2, "was_opened")
    [pending] = w.listed("?status=pending")
    refused = w.call("POST", f"/{pending['id']}/retry")
    assert refused.status == 409 and refused.json["error"] == "SCHEDULED_EVENT_NOT_FAILED"
    # the spec is put right, then the operator retries
    fixed = copy.deepcopy(SPEC)
    fixed["aggregate_types"]["notification"]["events"]["strict_note"]["schema"] = {
        "type": "object"}
    w.deploy(fixed)
    retried = w.call("POST", f"/{item['id']}/retry")
    assert retried.status == 200, retried
    assert retried.json["status"] == "pending" and retried.json["due_at"] == clock.iso(clock.now())
    [entry] = audits("scheduled_event_retried")
    assert entry.details["attempts"] == 3
    assert consumer.drain(queue="timers") == 1                  # sent at once
    done = w.one(item["id"])
    assert done["status"] == "emitted" and len(done["attempts"]) == 3
    assert w.data("notification/AGENT0001").json["data"] == {"notes": 1}
    assert w.call("GET", "/dead").json["dead_letters"] == []
    again = w.call("POST", f"/{item['id']}/retry")
    assert again.status == 409 and again.json["error"] == "SCHEDULED_EVENT_NOT_FAILED"


def test_a_tombstoned_source_cancels_it(w):
    from chalicelib.store.tables import StoredEvent
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    [item] = w.listed()
    stored = ScheduledEvent.get(f"{w.inst}#prod", item["id"])
    event = StoredEvent.get(stored.source_stream, 0)
    event.update(actions=[StoredEvent.tombstoned.set({"_was_tombstoned": True})])
    later(w, DAY + 1)
    assert due_now()[1] == 1
    done = w.one(item["id"])
    assert done["status"] == "cancelled" and done["cancel_reason"] == "source event was tombstoned"
    assert w.data("notification/AGENT0001").status == 404


# --- the routes ----------------------------------------------------------------------------

def test_every_route_on_both_surfaces(w):
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    later(w, 1)
    w.append("cart", CART2, "was_opened")
    later(w, 1)
    w.append("cart", CART2, "was_flagged")
    ops = w.call("GET").json
    internal = w.node("GET").json
    assert ops == internal and len(ops["scheduled"]) == 3
    assert [i["event_type"] for i in ops["scheduled"]] == ["was_flagged", "was_opened",
                                                          "had_item_added"]   # newest first
    assert [i["aggregate_id"] for i in w.listed(f"?aggregate_id={CART2}")] == [CART2, CART2]
    assert w.listed("?aggregate_type=notification") == []
    # paging
    page1 = w.call("GET", "?limit=2").json
    assert len(page1["scheduled"]) == 2 and page1["next_cursor"] == page1["scheduled"][1]["id"]
    page2 = w.call("GET", f"?limit=2&cursor={page1['next_cursor']}").json
    assert len(page2["scheduled"]) == 1 and page2["next_cursor"] is None
    bad = w.call("GET", "?cursor=nope")
    assert bad.status == 400
    assert w.call("GET", "?status=later").status == 400
    misspelt = w.call("GET", "?staus=pending")
    assert misspelt.status == 400 and misspelt.json["details"][0]["path"] == "staus"
    assert w.node("GET", "/dead?status=pending").status == 400
    first = ops["scheduled"][0]["id"]
    assert w.node("GET", f"/{first}").json == w.call("GET", f"/{first}").json
    assert w.node("GET", "/dead").json == {"dead_letters": [], "next_cursor": None}
    for surface in (w.call, w.node):
        missing = surface("GET", "/se_0000000000000000000000000")
        assert missing.status == 404 and missing.json["error"] == "SCHEDULED_EVENT_NOT_FOUND"
        assert surface("GET", "/nope").status == 404
        assert surface("POST", "/se_0000000000000000000000000/cancel").status == 404
        assert surface("POST", "/se_0000000000000000000000000/retry").status == 404
    cancelled = w.node("POST", f"/{first}/cancel", body={})
    assert cancelled.status == 200 and cancelled.json["cancelled_by"] == "node"
    refused = w.node("POST", f"/{first}/retry")
    assert refused.status == 409 and refused.json["error"] == "SCHEDULED_EVENT_NOT_FAILED"
    # another environment and another instance see none of them
    assert w.stack.call("GET", f"/api/instances/{w.inst}/ops/staging/scheduled",
                        w.token).json["scheduled"] == []
    assert w.stack.call("GET", f"/api/instances/{w.inst}/ops/prod/scheduled/{first}/x",
                        w.token).status in (403, 404)


def test_a_viewer_without_manage_ops_is_refused(w):
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    [item] = w.listed()
    viewer = w.stack.token_with(["view_instances"])
    for method, path in (("GET", ""), ("GET", "/dead"), ("GET", f"/{item['id']}"),
                         ("POST", f"/{item['id']}/cancel"), ("POST", f"/{item['id']}/retry")):
        answer = w.call(method, path, token=viewer)
        assert answer.status == 403, (method, path, answer)
    assert w.one(item["id"])["status"] == "pending"
    assert w.stack.node("GET", w.internal, secret="wrong").status in (401, 403)


def test_an_erased_target_cancels_it(w, monkeypatch):
    from chalicelib.core.errors import AppError
    from chalicelib.store import reactions
    w.append("cart", CART, "had_item_added", {"product_id": "P1"})
    [item] = w.listed()

    def erased(*args, **kwargs):
        raise AppError("AGGREGATE_TOMBSTONED")
    monkeypatch.setattr(reactions, "emit", erased)
    later(w, DAY + 1)
    assert due_now()[1] == 1
    done = w.one(item["id"])
    assert done["status"] == "cancelled" and done["attempts"] == []
    assert done["cancel_reason"] == "target aggregate was tombstoned"



def test_more_cancellations_than_one_transaction_holds(w, monkeypatch):
    monkeypatch.setattr(svc, "MAX_CANCELS_PER_APPEND", 1)
    for product in ("P1", "P2", "P3"):
        w.append("cart", CART, "had_item_added", {"product_id": product})
        later(w, 1)
    w.append("cart", CART, "was_checked_out")     # one in its transaction, two right after
    assert [i["status"] for i in w.listed()] == ["cancelled"] * 3
    later(w, DAY)
    assert due_now() == ({"queued": 0, "resent": 0, "skipped": 0}, 0)


def test_a_delay_under_five_minutes_is_refused_at_deploy(w):
    for schedule, where in (({"delay": "4m"}, "delay"), ({"delay_ms": 299_999}, "delay_ms")):
        bad = copy.deepcopy(SPEC)
        implication = bad["aggregate_types"]["cart"]["events"]["was_opened"]["implications"][0]
        implication["schedule"].pop("delay_ms")
        implication["schedule"].update(schedule)
        answer = w.stack.call("POST", f"/api/instances/{w.inst}/spec", w.token,
                              body={"environment": "prod", "spec": bad})
        assert answer.status == 422 and answer.json["error"] == "INVALID_SPEC"
        assert [d["path"] for d in answer.json["details"]] == [
            f"$.aggregate_types.cart.events.was_opened.implications[0].schedule.{where}"]
    served = w.stack.call("GET", f"/api/instances/{w.inst}/spec?environment=prod", w.token)
    assert served.json["version"] == 1                   # nothing deployed
