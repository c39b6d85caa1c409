"""Listener delivery routes on both surfaces (list with filters and paging, one, retry),
their refusals, and the listener secret: moved out of the spec at deploy, never shown
back, never logged, kept across a redeploy of the redacted spec."""
import base64
import copy
import json
import logging

import pytest
from standardwebhooks import Webhook

from chalicelib.core import clock, settings
from chalicelib.core.observability import logger
from chalicelib.domain import webhooks as wh
from chalicelib.store import aws
from chalicelib.store.tables import TABLES, AuditEntry, ListenerSecret, SpecVersion
from tests.api.test_webhooks import (  # noqa: F401  (fixtures)
    ORDER,
    SECRET,
    Answer,
    Hooks,
    drain,
    hooks,
    receiver,
    sqs_on_the_clock,
)

KEY_B64 = SECRET.removeprefix("whsec_")


def _events(h, n=3):
    h.append()                                          # order.created
    clock.advance(1)
    h.append("item_added", {"sku": "A", "qty": 1})
    clock.advance(1)
    h.append("closed", {})
    drain()


# --- the routes ----------------------------------------------------------------------------

def test_list_and_get_on_both_surfaces(hooks):
    h = hooks
    _events(h)
    ops = h.ops("GET")
    internal = h.internal("GET")
    assert ops.status == internal.status == 200
    assert ops.json == internal.json
    listed = ops.json["deliveries"]
    assert [d["event_type"] for d in listed] == ["closed", "item_added", "created"]  # newest first
    assert ops.json["next_cursor"] is None
    one = listed[0]
    for answer in (h.ops("GET", f"/{one['id']}"), h.internal("GET", f"/{one['id']}")):
        assert answer.status == 200 and answer.json == one
    assert one["attempts"][0]["status_code"] == 200


def test_filters_and_paging(hooks):
    h = hooks
    spec = h.spec()
    spec["listeners"].append({"name": "crm", "url": h.receiver.url, "secret": SECRET,
                              "events": ["customer.ordered"]})
    h.deploy(spec)
    h.receiver.script = [Answer(200), Answer(200), Answer(500)]
    start = clock.now()
    h.append()                              # order.created + customer.ordered (crm)
    drain()
    clock.advance(10)
    middle = clock.now()
    h.append("closed", {})
    drain()
    everything = h.deliveries()
    assert len(everything) == 3
    assert {d["listener"] for d in h.deliveries(listener="crm")} == {"crm"}
    assert [d["event_type"] for d in h.deliveries(event_type="closed")] == ["closed"]
    assert [d["aggregate_type"] for d in h.deliveries(aggregate_type="customer")] == ["customer"]
    assert [d["status"] for d in h.deliveries(status="pending")] == ["pending"]
    assert len(h.deliveries(status="delivered")) == 2
    since = wh.iso_ms(middle).replace(".000Z", "Z")
    assert [d["event_type"] for d in h.deliveries(since=since)] == ["closed"]
    until = wh.iso_ms(start).replace(".000Z", "Z")
    assert {d["event_type"] for d in h.deliveries(until=until)} == {"created", "ordered"}
    # paging: limit 1 three times, then the end
    seen, cursor = [], None
    for _ in range(3):
        page = h.internal("GET", "?limit=1" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [d["id"] for d in page["deliveries"]]
        cursor = page["next_cursor"]
    assert seen == [d["id"] for d in everything] and cursor is None
    page = h.internal("GET", f"?limit=2&since={since}").json
    assert len(page["deliveries"]) == 1 and page["next_cursor"] is None


@pytest.mark.parametrize("query, path", [
    ("status=lost", "status"), ("limit=0", "limit"), ("limit=501", "limit"),
    ("since=yesterday", "since"), ("cursor=abc", "cursor"),
    ("since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "since"),
    ("listener=Bad-Name", "listener"),
])
def test_bad_queries_are_400(hooks, query, path):
    answer = hooks.ops("GET", f"?{query}")
    assert answer.status == 400, answer
    assert answer.json["error"] == "VALIDATION_ERROR"
    assert path in json.dumps(answer.json)


def test_unknown_delivery_is_404(hooks):
    for answer in (hooks.ops("GET", "/dl_1700000000000abcdef012345"),
                   hooks.internal("GET", "/dl_1700000000000abcdef012345"),
                   hooks.ops("POST", "/dl_1700000000000abcdef012345/retry")):
        assert answer.status == 404 and answer.json["error"] == "DELIVERY_NOT_FOUND"


def test_another_environment_or_instance_sees_nothing(hooks):
    h = hooks
    h.append()
    drain()
    d = h.only()
    assert h.ops("GET", env="staging").json["deliveries"] == []
    assert h.ops("GET", f"/{d['id']}", env="staging").status == 404


def test_manage_ops_is_required(hooks):
    h = hooks
    h.append()
    drain()
    d = h.only()
    token = h.stack.token_with(["view_instances", "deploy_spec"])
    for method, tail in (("GET", ""), ("GET", f"/{d['id']}"), ("POST", f"/{d['id']}/retry")):
        answer = h.ops(method, tail, token=token)
        assert answer.status == 403 and answer.json["error"] == "INSUFFICIENT_PERMISSIONS"


def test_retry_of_a_failed_delivery_starts_a_new_round(hooks):
    h = hooks
    h.receiver.default = Answer(500)
    h.append()
    for wait in (0, 5, 25):
        clock.advance(wait)
        drain()
    failed = h.only()
    assert failed["status"] == "failed"
    # not retryable unless failed
    h.receiver.default = Answer(204)
    answer = h.ops("POST", f"/{failed['id']}/retry")
    assert answer.status == 200, answer
    again = answer.json
    assert again["status"] == "pending" and again["round"] == 2 and not again["dead_letter"]
    [entry] = [e for e in AuditEntry.scan() if e.action == "delivery_retried"]
    assert entry.target == f"{h.inst}/prod/{failed['id']}"
    assert entry.details["round"] == 2 and entry.details["attempts_before"] == 3
    assert "C00000001" not in json.dumps(entry.details)          # no event data
    drain()
    done = h.only()
    assert done["status"] == "delivered" and done["attempt_count"] == 4
    assert [(a["round"], a["status_code"]) for a in done["attempts"]] == [
        (1, 500), (1, 500), (1, 500), (2, 204)]
    assert len(h.receiver.requests) == 4
    assert len({r.headers["webhook-id"] for r in h.receiver.requests}) == 1  # one id
    conflict = h.internal("POST", f"/{failed['id']}/retry")
    assert conflict.status == 409 and conflict.json["error"] == "DELIVERY_NOT_RETRYABLE"


def test_retry_on_the_internal_surface_fails_again_after_three(hooks):
    h = hooks
    h.receiver.default = Answer(500)
    h.append()
    for wait in (0, 5, 25):
        clock.advance(wait)
        drain()
    d = h.only()
    assert h.internal("POST", f"/{d['id']}/retry").status == 200
    for wait in (0, 5, 25):
        clock.advance(wait)
        drain()
    d = h.only()
    assert d["status"] == "failed" and d["attempt_count"] == 6 and d["round"] == 2
    assert len(h.receiver.requests) == 6


def test_pending_and_delivered_are_not_retryable(hooks):
    h = hooks
    h.receiver.default = Answer(500)
    h.append()
    drain()
    d = h.only()
    answer = h.ops("POST", f"/{d['id']}/retry")
    assert answer.status == 409 and "pending" in answer.json["message"]


# --- the secret --------------------------------------------------------------------------

def _every_item_text():
    out = []
    for model in TABLES:
        for item in model.scan():
            out.append(json.dumps(item.attribute_values, default=str))
    return "\n".join(out)


class _Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logger.registered_formatter)    # JSON, extras included
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


def _timers_through_the_lambda_handler(stack):
    """Each message of the timers queue handed to app.timers_queue, as Lambda would."""
    from chalicelib.store import queues
    sqs = aws.client("sqs")
    url = queues.queue_url(queues.queue_name("timers"))
    handled = 0
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            event = stack.client.events.generate_sqs_event(
                queue_name=queues.queue_name("timers"), message_bodies=[message["Body"]])
            stack.client.lambda_.invoke("timers_queue", event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            handled += 1
    return handled


def test_the_secret_is_never_shown_stored_or_logged(hooks, monkeypatch):
    from chalicelib.store import queues
    h = hooks
    captured = _Captured()
    logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(captured)
    logger._logger.addHandler(captured)
    try:
        answers = [h.stack.call("GET", f"/api/instances/{h.inst}/spec", h.token),
                   h.stack.node("GET", f"/internal/instances/{h.inst}/prod/spec")]
        bad = h.spec()
        bad["listeners"][0]["secret"] = SECRET[:-4] + "!!!="    # a typo: refused, not echoed
        answers.append(h.stack.call("POST", f"/api/instances/{h.inst}/spec", h.token,
                                    body={"environment": "prod", "spec": bad}))
        h.receiver.script = [Answer(500)]
        h.append()
        assert _timers_through_the_lambda_handler(h.stack) == 1      # attempt 1 fails
        real_send = queues.send
        monkeypatch.setattr(queues, "send", lambda *a, **k: (_ for _ in ()).throw(
            RuntimeError("queue down")))
        h.append("closed", {})                                      # its message is lost
        monkeypatch.setattr(queues, "send", real_send)
        clock.advance(61)
        from chalicelib import features
        assert features.run("webhook_sweeper")["requeued"] == 1     # the lost one
        assert _timers_through_the_lambda_handler(h.stack) == 2
        answers += [h.ops("GET"), h.internal("GET")]
    finally:
        logger.setLevel(logging.CRITICAL)
        logging.getLogger().removeHandler(captured)
        logger._logger.removeHandler(captured)
    assert answers[2].status == 422
    for answer in answers:
        assert KEY_B64[:20] not in answer.text, answer
    served = answers[0].json["spec"]["listeners"][0]
    assert served["secret"] == "whsec_redacted" and wh.is_secret_ref(served["secret_ref"])
    assert answers[1].json["spec"] == answers[0].json["spec"]
    logged = "\n".join(captured.lines)
    assert "timer done" in logged and "could not queue work" in logged   # the logs ran
    assert KEY_B64[:20] not in logged and base64.b64decode(KEY_B64).hex() not in logged
    # no table holds it (the sealed copy is AES-GCM ciphertext), nor does any secret value
    assert KEY_B64[:20] not in _every_item_text()
    raw_key = base64.b64decode(KEY_B64)
    for item in ListenerSecret.scan():
        assert raw_key.hex() not in item.sealed and KEY_B64 not in item.sealed
    sm = aws.client("secretsmanager")
    for entry in sm.list_secrets()["SecretList"]:
        value = sm.get_secret_value(SecretId=entry["Name"])["SecretString"]
        assert KEY_B64[:20] not in value and raw_key.hex() not in value
    # but deliveries are signed with it
    assert len(h.receiver.requests) == 3
    for got in h.receiver.requests:
        assert Webhook(SECRET).verify(got.body, got.headers)


def test_a_redeploy_of_the_redacted_spec_keeps_the_secret(hooks):
    h = hooks
    served = h.stack.call("GET", f"/api/instances/{h.inst}/spec", h.token).json["spec"]
    edited = copy.deepcopy(served)
    edited["listeners"][0]["timeout_ms"] = 5000              # an operator's edit
    h.deploy(edited)
    again = h.stack.call("GET", f"/api/instances/{h.inst}/spec", h.token).json["spec"]
    assert again["listeners"][0]["secret_ref"] == served["listeners"][0]["secret_ref"]
    assert again["listeners"][0]["timeout_ms"] == 5000
    # without the ref: the listener of the same name in the spec in force
    no_ref = copy.deepcopy(served)
    del no_ref["listeners"][0]["secret_ref"]
    h.deploy(no_ref)
    # the same spec in another environment of the instance: the ref is found there too
    h.deploy(served, env="staging")
    h.append()
    h.append(env="staging")
    drain()
    assert len(h.receiver.requests) == 2
    for got in h.receiver.requests:
        assert Webhook(SECRET).verify(got.body, got.headers)
    assert ListenerSecret.count() == 1                        # sealed once


def test_a_placeholder_without_a_stored_secret_is_refused(hooks):
    h = hooks
    spec = h.spec()
    spec["listeners"][0]["secret"] = "whsec_redacted"
    spec["listeners"][0]["name"] = "newcomer"
    answer = h.deploy(spec, status=422)
    [problem] = answer.json["details"]
    assert problem["path"] == "$.listeners[0].secret"
    assert "give the secret itself" in problem["message"]
    spec["listeners"][0]["secret_ref"] = "lsk_1700000000000abcdef012345"
    answer = h.deploy(spec, status=422)
    assert "no stored secret has secret_ref" in answer.json["details"][0]["message"]
    # another instance's ref does not open here
    other = Hooks(h.stack, h.receiver)
    other.deploy(other.spec())
    ref = SpecVersion.query(f"{other.inst}#prod").next().spec["listeners"][0]["secret_ref"]
    spec["listeners"][0]["secret_ref"] = ref
    assert h.deploy(spec, status=422).json["error"] == "INVALID_SPEC"


def test_a_new_secret_rotates_it(hooks):
    h = hooks
    fresh = wh.new_secret()
    served = h.stack.call("GET", f"/api/instances/{h.inst}/spec", h.token).json["spec"]
    served["listeners"][0]["secret"] = fresh                   # a new secret wins over the ref
    h.deploy(served)
    h.append()
    drain()
    [got] = h.receiver.requests
    assert Webhook(fresh).verify(got.body, got.headers)
    assert wh.verify_j17(fresh, got.headers["X-J17-Signature"], got.body, clock.now())
    assert not wh.verify_j17(SECRET, got.headers["X-J17-Signature"], got.body, clock.now())


def test_settings_defaults():
    s = settings.Settings()
    assert s.webhook_timeout_ms == 10000 and s.webhook_max_attempts == 3
    assert s.webhook_time_scale == 1.0 and s.webhook_allow_loopback is False
