"""Example calls for checkpoints and root checkpoints (ops and internal surfaces alike)."""
from testing.specs import ORDER_SPEC
from tests.api.examples.foundation import instance

ORDER = "0RDER0001"
OPS = "/api/instances/{instance_id}/ops/{env}"
INTERNAL = "/internal/instances/{instance_id}/{env}"


def with_order(stack, token):
    """An instance whose test environment holds one order."""
    inst = instance(stack, token)
    stack.call("POST", f"/api/instances/{inst}/spec", token,
               body={"environment": "test", "spec": ORDER_SPEC})
    key = stack.call("POST", f"/api/instances/{inst}/keys", token,
                     body={"name": "w", "scope": "write", "environment": "test"}).json["key"]
    answer = stack.call("POST", f"/data/order/{ORDER}/created",
                        headers={"Authorization": f"Bearer {key}"},
                        body={"data": {"customer": "C00000001", "total": 1},
                              "metadata": {"actor": {"type": "user", "id": "AGENT0001"}}})
    assert answer.status == 201, answer
    return {"instance_id": inst, "env": "test"}


def checkpoint(stack, token):
    where = with_order(stack, token)
    answer = stack.call("POST", f"/api/instances/{where['instance_id']}/ops/test/checkpoints",
                        token, body={"aggregate_type": "order", "aggregate_id": ORDER})
    assert answer.status == 201, answer
    return {**where, "checkpoint_id": answer.json["id"]}


def root_checkpoint(stack, token):
    """A written root checkpoint (its job run by the queue's consumer)."""
    from local import consumer
    where = with_order(stack, token)
    answer = stack.call("POST", f"/api/instances/{where['instance_id']}/ops/test/"
                                "root-checkpoints", token, body={"aggregate_type": "order"})
    assert answer.status == 202, answer
    consumer.drain()
    return {**where, "root_checkpoint_id": answer.json["root_checkpoint"]["id"]}


EXAMPLES = {}
for _base in (OPS, INTERNAL):
    EXAMPLES.update({
        ("POST", _base + "/checkpoints"): (
            with_order, {"aggregate_type": "order", "aggregate_id": ORDER}),
        ("POST", _base + "/checkpoints/{checkpoint_id}/restore"): (checkpoint, {}),
        ("DELETE", _base + "/checkpoints/{checkpoint_id}"): (checkpoint, None),
        ("POST", _base + "/root-checkpoints"): (with_order, {"aggregate_type": "order"}),
        ("DELETE", _base + "/root-checkpoints/{root_checkpoint_id}"): (root_checkpoint, None),
        ("PUT", _base + "/root-checkpoint-settings"): (
            with_order, {"enabled": True, "interval_hours": 6, "aggregate_types": ["order"],
                         "retain": 3}),
    })
