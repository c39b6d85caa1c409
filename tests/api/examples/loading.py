"""Example calls for data loading and backup restore."""
from testing.specs import ORDER_SPEC
from tests.api.examples.foundation import instance

LINE = {"aggregate_type": "order", "aggregate_id": "0RDER0001", "event_type": "created",
        "data": {"customer": "C00000001", "total": 1},
        "metadata": {"actor": {"type": "user", "id": "AGENT0001"}}}


def staging(stack, token):
    """An instance whose staging environment has the spec (and no events)."""
    inst = instance(stack, token)
    stack.call("POST", f"/api/instances/{inst}/spec", token,
               body={"environment": "staging", "spec": ORDER_SPEC})
    return {"instance_id": inst, "env": "staging"}


def completed_backup(stack, token):
    from local import consumer
    where = staging(stack, token)
    answer = stack.call("POST", f"/api/instances/{where['instance_id']}/ops/staging/backups",
                        token)
    consumer.drain()
    return {**where, "backup_id": answer.json["job_id"]}


EXAMPLES = {}
for surface in ("/api/instances/{instance_id}/ops/{env}",
                "/internal/instances/{instance_id}/{env}"):
    EXAMPLES.update({
        ("POST", surface + "/inject"): (staging, {"events": [LINE]}),
        ("POST", surface + "/import"): (staging, {"events": [{**LINE, "position": 0}]}),
        ("POST", surface + "/import_jsonl"): (staging, {"events": [LINE]}),
        ("POST", surface + "/import_jsonl/uploads"): (staging, None),
        ("POST", surface + "/cold_start"): (staging, {"events": [LINE]}),
    })
EXAMPLES[("POST", "/api/instances/{instance_id}/ops/{env}/backups/{backup_id}/restore")] = (
    completed_backup, {"target_environment": "test"})
