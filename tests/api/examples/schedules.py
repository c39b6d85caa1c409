"""Example calls for scheduled events (ops and internal surfaces alike)."""
from tests.api.examples.foundation import instance

OPS = "/api/instances/{instance_id}/ops/{env}"
INTERNAL = "/internal/instances/{instance_id}/{env}"
ORDER = "0RDER0001"

_EVENT = {"schema": {"type": "object"}, "handler": []}
SCHEDULE_SPEC = {
    "aggregate_types": {"order": {"events": {
        "placed": {**_EVENT, "implications": [{"schedule": {
            "delay": "1h", "emit": {"aggregate_type": "order", "id": "$.id",
                                    "event_type": "expired"}}}]},
        "expired": _EVENT}}},
    "agent_types": ["user"],
}


def pending(stack, token):
    """An order placed in the test environment: one pending scheduled event."""
    from chalicelib.store.tables import ScheduledEvent
    inst = instance(stack, token)
    stack.call("POST", f"/api/instances/{inst}/spec", token,
               body={"environment": "test", "spec": SCHEDULE_SPEC})
    key = stack.call("POST", f"/api/instances/{inst}/keys", token,
                     body={"name": "w", "scope": "write", "environment": "test"}).json["key"]
    answer = stack.call("POST", f"/data/order/{ORDER}/placed",
                        headers={"Authorization": f"Bearer {key}"},
                        body={"data": {}, "metadata": {"actor": {"type": "user",
                                                                 "id": "AGENT0001"}}})
    assert answer.status == 201, answer
    [item] = ScheduledEvent.query(f"{inst}#test")
    return {"instance_id": inst, "env": "test", "event_id": item.id}


def failed(stack, token):
    """A scheduled event whose attempts all failed (a dead letter)."""
    from chalicelib.store.tables import ScheduledEvent
    where = pending(stack, token)
    item = ScheduledEvent.get(f"{where['instance_id']}#test", where["event_id"])
    item.update(actions=[ScheduledEvent.status.set("failed"), ScheduledEvent.due_key.remove(),
                         ScheduledEvent.attempts.set([{"at": 1, "error": "X"}] * 3)])
    return where


EXAMPLES = {}
for _base in (OPS, INTERNAL):
    EXAMPLES[("POST", _base + "/scheduled/{event_id}/cancel")] = (pending, None)
    EXAMPLES[("POST", _base + "/scheduled/{event_id}/retry")] = (failed, None)
