"""Example calls for backups and backup settings."""
from tests.api.examples.foundation import instance


def backup(stack, token):
    inst = instance(stack, token)
    answer = stack.call("POST", f"/api/instances/{inst}/ops/test/backups", token)
    return {"instance_id": inst, "env": "test", "backup_id": answer.json["job_id"]}


EXAMPLES = {
    ("POST", "/api/instances/{instance_id}/ops/{env}/backups"): (
        lambda s, t: {"instance_id": instance(s, t), "env": "prod"}, None),
    ("DELETE", "/api/instances/{instance_id}/ops/{env}/backups/{backup_id}"): (backup, None),
    ("PUT", "/api/instances/{instance_id}/backup_settings"): (
        lambda s, t: {"instance_id": instance(s, t)}, {"enabled": True, "retain": 3}),
}
