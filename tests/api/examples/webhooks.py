"""Example calls for listener deliveries (ops and internal surfaces alike)."""
from tests.api.examples.foundation import instance

OPS = "/api/instances/{instance_id}/ops/{env}"
INTERNAL = "/internal/instances/{instance_id}/{env}"
SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
_EVENT = {"schema": {"type": "object"}, "handler": []}
HOOK_SPEC = {
    "aggregate_types": {"order": {"events": {"placed": _EVENT}}},
    "agent_types": ["user"],
    # loopback is refused where WEBHOOK_ALLOW_LOOPBACK is off (tests): no request is made
    "listeners": [{"name": "billing", "url": "http://127.0.0.1:9/hook", "secret": SECRET,
                   "events": [{"aggregate_type": "order", "event_type": "*"}]}],
}


def failed_delivery(stack, token):
    """A delivery whose only attempt (the maximum set to 1) was refused: failed."""
    from unittest import mock

    from chalicelib.core import settings
    from chalicelib.store.tables import Delivery
    from local import consumer
    inst = instance(stack, token)
    stack.call("POST", f"/api/instances/{inst}/spec", token,
               body={"environment": "test", "spec": HOOK_SPEC})
    key = stack.call("POST", f"/api/instances/{inst}/keys", token,
                     body={"name": "w", "scope": "write", "environment": "test"}).json["key"]
    answer = stack.call("POST", "/data/order/0RDER0001/placed",
                        headers={"Authorization": f"Bearer {key}"},
                        body={"data": {}, "metadata": {"actor": {"type": "user",
                                                                 "id": "AGENT0001"}}})
    assert answer.status == 201, answer
    with mock.patch.object(settings.get(), "webhook_max_attempts", 1), \
            mock.patch.object(settings.get(), "webhook_allow_loopback", False):
        consumer.drain(queue="timers")
    [delivery] = [d for d in Delivery.scan() if d.scope == f"{inst}#test"]
    assert delivery.status == "failed", delivery.status
    return {"instance_id": inst, "env": "test", "delivery_id": delivery.id}


EXAMPLES = {}
for _base in (OPS, INTERNAL):
    EXAMPLES[("POST", _base + "/deliveries/{delivery_id}/retry")] = (failed_delivery, None)
