"""Example calls for tombstones (ops and internal surfaces alike)."""
from tests.api.examples.checkpoints import ORDER, with_order

OPS = "/api/instances/{instance_id}/ops/{env}"
INTERNAL = "/internal/instances/{instance_id}/{env}"
REQUEST = {"reason": "erasure request", "legal_basis": "GDPR Art. 17(1)(a)",
           "requested_by": "dpo-ticket-1"}


def with_order_id(stack, token):
    return {**with_order(stack, token), "aggregate_type": "order", "aggregate_id": ORDER}


def pending(stack, token):
    where = with_order(stack, token)
    answer = stack.call("POST", f"/api/instances/{where['instance_id']}/ops/test/tombstone/"
                                f"order/{ORDER}", token, body=REQUEST)
    assert answer.status == 201, answer
    return {**where, "tombstone_id": answer.json["id"]}


def due(stack, token):
    """A pending tombstone whose grace period has passed (its due time moved back)."""
    from chalicelib.core import clock
    from chalicelib.store.tables import Tombstone
    where = pending(stack, token)
    item = Tombstone.get(f"{where['instance_id']}#test", where["tombstone_id"])
    item.update(actions=[Tombstone.executable_at.set(clock.now() - 1)])
    return where


EXAMPLES = {}
for _base in (OPS, INTERNAL):
    EXAMPLES.update({
        ("POST", _base + "/tombstone/{aggregate_type}/{aggregate_id}"): (with_order_id, REQUEST),
        ("DELETE", _base + "/tombstones/{tombstone_id}"): (pending, None),
        ("POST", _base + "/tombstones/{tombstone_id}/execute"): (due, None),
    })
