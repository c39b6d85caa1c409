"""Example calls for sagas (ops and internal surfaces alike)."""
from tests.api.examples.foundation import instance

OPS = "/api/instances/{instance_id}/ops/{env}"
INTERNAL = "/internal/instances/{instance_id}/{env}"
ORDER = "0RDER0001"

_EVENT = {"schema": {"type": "object"}, "handler": []}
SAGA_SPEC = {
    "aggregate_types": {"order": {"events": {
        "placed": _EVENT, "hold_requested": _EVENT, "was_held": _EVENT,
        "hold_released": _EVENT}}},
    "agent_types": ["user"],
    "modules": {"sagas": {"hold": {
        "trigger": {"aggregate_type": "order", "event_type": "placed"},
        "steps": [{"name": "hold",
                   "emit": {"aggregate_type": "order", "id": "$.id",
                            "event_type": "hold_requested"},
                   "await": {"aggregate_type": "order", "event_types": ["was_held"]},
                   "timeout_ms": 1000}]}}},
}


def compensated_saga(stack, token):
    """A saga whose only step timed out: compensated, so it may be retried."""
    from chalicelib import features
    from chalicelib.core import clock
    from chalicelib.store.tables import SagaInstance
    from local import consumer
    inst = instance(stack, token)
    stack.call("POST", f"/api/instances/{inst}/spec", token,
               body={"environment": "test", "spec": SAGA_SPEC})
    key = stack.call("POST", f"/api/instances/{inst}/keys", token,
                     body={"name": "w", "scope": "write", "environment": "test"}).json["key"]
    answer = stack.call("POST", f"/data/order/{ORDER}/placed",
                        headers={"Authorization": f"Bearer {key}"},
                        body={"data": {}, "metadata": {"actor": {"type": "user",
                                                                 "id": "AGENT0001"}}})
    assert answer.status == 201, answer
    consumer.drain(queue="timers")
    clock.advance(2)
    features.run("saga_sweep")
    consumer.drain(queue="timers")
    [saga] = [s for s in SagaInstance.scan() if s.scope == f"{inst}#test"]
    assert saga.status == "compensated", saga.status
    return {"instance_id": inst, "env": "test", "saga_id": saga.id}


EXAMPLES = {}
for _base in (OPS, INTERNAL):
    EXAMPLES[("POST", _base + "/sagas/{saga_id}/retry")] = (compensated_saga, None)
